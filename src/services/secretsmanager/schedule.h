// Rotation schedules (the logic; no HTTP types): RotationRules as RotateSecret takes them —
// AutomaticallyAfterDays, or a ScheduleExpression rate(N days|hours) / cron(6 fields), and a
// Duration — checked as AWS checks them, and the rotation windows they define, in UTC
// (Secrets Manager user guide, "Rotation schedules" and "Schedule expressions").
//
//   - N days (AutomaticallyAfterDays or rate(N days)): the window opens at midnight UTC of the
//     day N days after the last rotation and closes at the end of that day.
//   - rate(N hours): windows open at midnight and every N hours after it, each day; they close
//     after one hour.
//   - cron(): windows open at each match; a schedule in hours (more than one hour matches) closes
//     after one hour, a schedule in days at the end of the day.
//   - Duration ("3h") replaces the default length; a window never reaches into the next UTC day
//     or the next window.
//
// Plain values, thread-safe.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/result.h"

namespace nubo::secretsmanager {

struct RotationRules {
  std::optional<int64_t> automatically_after_days;
  std::string duration;             // "3h", or empty
  std::string schedule_expression;  // "rate(10 days)", "cron(0 16 1,15 * ? *)", or empty
  bool empty() const {
    return !automatically_after_days && duration.empty() && schedule_expression.empty();
  }
};

class RotationSchedule {
 public:
  // The schedule of `rules`; InvalidParameterException naming what AWS refuses: both
  // AutomaticallyAfterDays and ScheduleExpression, a bad expression, a rate of fewer than four
  // hours, a Duration that is not 1h..24h or reaches past the window's day or the next window.
  // REQUIRES: !rules.empty().
  static Result<RotationSchedule> parse(const RotationRules& rules);

  // The opening of the first window after `last` (the last rotation, or when rotation was
  // turned on). Far in the future when a cron's year field allows no later match.
  SystemTime next_window(SystemTime last) const;
  // When the window that opens at `start` closes.
  SystemTime window_end(SystemTime start) const;
  // AutomaticallyAfterDays as DescribeSecret shows it: the days between rotations for a
  // schedule in days (rate or AutomaticallyAfterDays), else none.
  std::optional<int64_t> days() const;

 private:
  struct Cron {
    std::bitset<60> minutes;
    std::bitset<24> hours;
    std::bitset<32> days_of_month;  // 1..31
    bool last_day_of_month = false;
    bool any_day_of_month = false;  // '?'
    std::bitset<13> months;         // 1..12
    std::bitset<8> days_of_week;    // 1..7, 1 = Sunday
    int nth_weekday = 0;            // "d#n": the n-th weekday d of the month (days_of_week = d)
    bool last_weekday = false;      // "dL": the last weekday d of the month
    bool any_day_of_week = false;   // '?'
    std::bitset<2200> years;        // 1970..2199 (indexed by the year)
  };
  enum class Kind { kDays, kHours, kCron };

  static Result<Cron> parse_cron(const std::string& fields);
  bool day_matches(int64_t days_since_epoch) const;

  Kind kind_ = Kind::kDays;
  int64_t every_ = 1;  // days or hours
  Cron cron_;
  std::optional<int64_t> duration_hours_;
};

}  // namespace nubo::secretsmanager
