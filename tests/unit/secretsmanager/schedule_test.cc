#include "services/secretsmanager/schedule.h"

#include <gtest/gtest.h>

namespace nubo::secretsmanager {
namespace {

// Seconds since the epoch of a UTC time, for readable expectations.
SystemTime utc(int64_t days_since_epoch, int h = 0, int m = 0, int s = 0) {
  return SystemTime(std::chrono::seconds(days_since_epoch * 86400 + h * 3600 + m * 60 + s));
}
constexpr int64_t kNov14 = 19675;  // 2023-11-14, a Tuesday

RotationSchedule parse(std::optional<int64_t> days, std::string expression,
                       std::string duration = "") {
  RotationRules r;
  r.automatically_after_days = days;
  r.schedule_expression = std::move(expression);
  r.duration = std::move(duration);
  auto s = RotationSchedule::parse(r);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return s.ok() ? *s : RotationSchedule{};
}

std::string refusal(std::optional<int64_t> days, std::string expression,
                    std::string duration = "") {
  RotationRules r;
  r.automatically_after_days = days;
  r.schedule_expression = std::move(expression);
  r.duration = std::move(duration);
  auto s = RotationSchedule::parse(r);
  if (s.ok()) return "accepted";
  EXPECT_EQ(s.error().code, "InvalidParameterException");
  return s.error().message;
}

TEST(ScheduleTest, DaysOpenAtMidnightAfterTheLastRotation) {
  RotationSchedule s = parse(30, "");
  EXPECT_EQ(s.next_window(utc(kNov14, 22, 13)), utc(kNov14 + 30));
  EXPECT_EQ(s.window_end(utc(kNov14 + 30)), utc(kNov14 + 31));
  EXPECT_EQ(s.days(), 30);
  RotationSchedule rate = parse(std::nullopt, "rate(10 days)", "3h");
  EXPECT_EQ(rate.next_window(utc(kNov14, 0, 0, 1)), utc(kNov14 + 10));
  EXPECT_EQ(rate.window_end(utc(kNov14 + 10)), utc(kNov14 + 10, 3));
  EXPECT_EQ(rate.days(), 10);
}

TEST(ScheduleTest, HoursRepeatFromMidnightWithinTheDay) {
  RotationSchedule s = parse(std::nullopt, "rate(5 hours)");
  EXPECT_EQ(s.next_window(utc(kNov14, 0, 0)), utc(kNov14, 5));
  EXPECT_EQ(s.next_window(utc(kNov14, 5, 10)), utc(kNov14, 10));
  EXPECT_EQ(s.next_window(utc(kNov14, 20, 30)), utc(kNov14 + 1));  // 25:00 would be tomorrow
  EXPECT_EQ(s.window_end(utc(kNov14, 10)), utc(kNov14, 11));
  EXPECT_FALSE(s.days().has_value());
}

TEST(ScheduleTest, CronExpressions) {
  // 16:00 on the 1st and 15th of every month.
  RotationSchedule s = parse(std::nullopt, "cron(0 16 1,15 * ? *)");
  EXPECT_EQ(s.next_window(utc(kNov14, 22)), utc(kNov14 + 1, 16));       // 2023-11-15
  EXPECT_EQ(s.next_window(utc(kNov14 + 1, 16)), utc(kNov14 + 17, 16));  // 2023-12-01
  EXPECT_EQ(s.window_end(utc(kNov14 + 1, 16)), utc(kNov14 + 2));        // the end of the day
  // The first Monday of the month at 08:30, a two hour window.
  RotationSchedule m = parse(std::nullopt, "cron(30 8 ? * MON#1 *)", "2h");
  EXPECT_EQ(m.next_window(utc(kNov14)), utc(kNov14 + 20, 8, 30));  // 2023-12-04
  EXPECT_EQ(m.window_end(utc(kNov14 + 20, 8, 30)), utc(kNov14 + 20, 10, 30));
  // Every six hours: a schedule in hours, one hour windows.
  RotationSchedule h = parse(std::nullopt, "cron(0 */6 * * ? *)");
  EXPECT_EQ(h.next_window(utc(kNov14, 13)), utc(kNov14, 18));
  EXPECT_EQ(h.window_end(utc(kNov14, 18)), utc(kNov14, 19));
  // The last day of the month, only in 2024.
  RotationSchedule l = parse(std::nullopt, "cron(0 0 L * ? 2024)");
  EXPECT_EQ(l.next_window(utc(kNov14)), utc(19753));  // 2024-01-31
  EXPECT_EQ(l.next_window(utc(19753)), utc(19782));   // 2024-02-29
  // A year already past: never.
  RotationSchedule past = parse(std::nullopt, "cron(0 0 1 1 ? 2020)");
  EXPECT_GT(past.next_window(utc(kNov14)), utc(kNov14 + 365 * 100));
}

TEST(ScheduleTest, WhatAwsRefuses) {
  EXPECT_EQ(refusal(10, "rate(10 days)"),
            "You can't specify both AutomaticallyAfterDays and ScheduleExpression.");
  EXPECT_NE(refusal(0, "").find("1-1000"), std::string::npos);
  EXPECT_NE(refusal(1001, "").find("1-1000"), std::string::npos);
  EXPECT_NE(refusal(std::nullopt, "rate(3 hours)").find("between 4 and 23 hours"),
            std::string::npos);
  EXPECT_EQ(refusal(std::nullopt, "rate(4 hours)"), "accepted");
  EXPECT_NE(refusal(std::nullopt, "rate(1001 days)").find("isn't valid"), std::string::npos);
  EXPECT_NE(refusal(std::nullopt, "rate(ten days)").find("isn't valid"), std::string::npos);
  EXPECT_NE(refusal(std::nullopt, "every day").find("isn't valid"), std::string::npos);
  EXPECT_NE(refusal(std::nullopt, "cron(0 16 1 * * *)").find("isn't valid"), std::string::npos);
  EXPECT_NE(refusal(std::nullopt, "cron(0 16 1 *)").find("isn't valid"), std::string::npos);
  EXPECT_NE(refusal(std::nullopt, "cron(0 */2 * * ? *)").find("four hours"), std::string::npos);
  EXPECT_NE(refusal(std::nullopt, "cron(*/30 4 * * ? *)").find("four hours"), std::string::npos);
  EXPECT_NE(refusal(std::nullopt, "cron(0 0,22 * * ? *)").find("four hours"), std::string::npos);
  EXPECT_NE(refusal(std::nullopt, "cron(0 61 * * ? *)").find("isn't valid"), std::string::npos);
  EXPECT_NE(refusal(30, "", "25h").find("between 1h and 24h"), std::string::npos);
  EXPECT_NE(refusal(30, "", "3d").find("isn't valid"), std::string::npos);
  EXPECT_NE(refusal(std::nullopt, "rate(4 hours)", "5h").find("next rotation window"),
            std::string::npos);
  EXPECT_NE(refusal(std::nullopt, "cron(0 22 * * ? *)", "3h").find("next UTC day"),
            std::string::npos);
  EXPECT_NE(refusal(std::nullopt, "", "3h").find("AutomaticallyAfterDays or ScheduleExpression"),
            std::string::npos);
}

}  // namespace
}  // namespace nubo::secretsmanager
