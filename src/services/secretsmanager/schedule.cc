#include "services/secretsmanager/schedule.h"

#include <array>
#include <cctype>
#include <chrono>
#include <string_view>
#include <vector>

#include "base/strings.h"
#include "services/secretsmanager/limits.h"

namespace nubo::secretsmanager {

namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;

constexpr int64_t kMsPerDay = 86400000;
constexpr int kFirstYear = 1970;
constexpr int kLastYear = 2199;

Error invalid(std::string message) {
  return Error{"InvalidParameterException", 400, std::move(message)};
}

// Days since 1970-01-01 of a civil date, and back (H. Hinnant's algorithms).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t y;
  unsigned m, d;
};

Civil civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30,
                                                     31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// 1 = Sunday .. 7 = Saturday (1970-01-01 was a Thursday).
int weekday(int64_t days) {
  int64_t w = (days + 4) % 7;  // 0 = Sunday
  if (w < 0) w += 7;
  return static_cast<int>(w) + 1;
}

int64_t ms_of(SystemTime t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}
SystemTime at_ms(int64_t ms) {
  return SystemTime(std::chrono::duration_cast<SystemTime::duration>(milliseconds(ms)));
}
int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// "10" → 10; nullopt for anything else (no sign, no spaces, at most 9 digits).
std::optional<int64_t> number(std::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

// One cron field's value: a number or a name (JAN..DEC, SUN..SAT).
std::optional<int64_t> cron_value(std::string_view s, const std::vector<std::string_view>& names,
                                  int64_t first_name_value) {
  if (auto n = number(s)) return n;
  std::string upper;
  for (char c : s) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  for (size_t i = 0; i < names.size(); ++i) {
    if (upper == names[i]) return first_name_value + static_cast<int64_t>(i);
  }
  return std::nullopt;
}

// Parses a list of items ("*", "5", "1-5", "*/4", "3/4", "1-10/2") over lo..hi into `set`
// (indices lo..hi). False when an item is malformed or out of range.
template <size_t N>
bool cron_list(std::string_view field, int64_t lo, int64_t hi, std::bitset<N>& set,
               const std::vector<std::string_view>& names = {}, int64_t first_name_value = 0) {
  for (const std::string& item : split(field, ',')) {
    std::string_view it = item;
    int64_t step = 1;
    if (size_t slash = it.find('/'); slash != std::string_view::npos) {
      auto s = number(it.substr(slash + 1));
      if (!s || *s < 1) return false;
      step = *s;
      it = it.substr(0, slash);
    }
    int64_t a = lo, b = hi;
    if (it == "*") {
    } else if (size_t dash = it.find('-'); dash != std::string_view::npos) {
      auto x = cron_value(it.substr(0, dash), names, first_name_value);
      auto y = cron_value(it.substr(dash + 1), names, first_name_value);
      if (!x || !y || *x > *y) return false;
      a = *x;
      b = *y;
    } else {
      auto x = cron_value(it, names, first_name_value);
      if (!x) return false;
      a = *x;
      b = step > 1 ? hi : *x;  // "3/4": from 3 every 4
    }
    if (a < lo || b > hi) return false;
    for (int64_t v = a; v <= b; v += step) set.set(static_cast<size_t>(v));
  }
  return true;
}

}  // namespace

Result<RotationSchedule::Cron> RotationSchedule::parse_cron(const std::string& text) {
  std::vector<std::string> f;
  for (const std::string& part : split(text, ' ')) {
    if (!part.empty()) f.push_back(part);
  }
  auto bad = [&] { return invalid("The schedule expression cron(" + text + ") isn't valid."); };
  if (f.size() != 6) return bad();
  Cron c;
  static const std::vector<std::string_view> kMonths = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                        "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
  static const std::vector<std::string_view> kWeekdays = {"SUN", "MON", "TUE", "WED",
                                                          "THU", "FRI", "SAT"};
  if (!cron_list(f[0], 0, 59, c.minutes) || !cron_list(f[1], 0, 23, c.hours) ||
      !cron_list(f[3], 1, 12, c.months, kMonths, 1)) {
    return bad();
  }
  if (f[2] == "?") {
    c.any_day_of_month = true;
  } else if (f[2] == "L") {
    c.last_day_of_month = true;
  } else if (!cron_list(f[2], 1, 31, c.days_of_month)) {
    return bad();
  }
  std::string dow = f[4];
  if (dow == "?") {
    c.any_day_of_week = true;
  } else if (size_t hash = dow.find('#'); hash != std::string::npos) {
    auto d = cron_value(std::string_view(dow).substr(0, hash), kWeekdays, 1);
    auto n = number(std::string_view(dow).substr(hash + 1));
    if (!d || !n || *d < 1 || *d > 7 || *n < 1 || *n > 5) return bad();
    c.days_of_week.set(static_cast<size_t>(*d));
    c.nth_weekday = static_cast<int>(*n);
  } else if (dow.size() > 1 && dow.back() == 'L') {
    auto d = cron_value(std::string_view(dow).substr(0, dow.size() - 1), kWeekdays, 1);
    if (!d || *d < 1 || *d > 7) return bad();
    c.days_of_week.set(static_cast<size_t>(*d));
    c.last_weekday = true;
  } else if (!cron_list(dow, 1, 7, c.days_of_week, kWeekdays, 1)) {
    return bad();
  }
  // As in every AWS cron: one of day-of-month and day-of-week is '?'.
  if (c.any_day_of_month == c.any_day_of_week) return bad();
  if (!cron_list(f[5], kFirstYear, kLastYear, c.years)) return bad();
  // "You can rotate a secret as often as every four hours": one minute an hour, and hours at
  // least four apart (around midnight too).
  if (c.minutes.count() != 1) {
    return invalid("The schedule expression cron(" + text +
                   ") isn't valid: rotation can't be more frequent than every four hours.");
  }
  int prev = -1, first = -1;
  for (int h = 0; h < 24; ++h) {
    if (!c.hours.test(static_cast<size_t>(h))) continue;
    if (first < 0) first = h;
    if (prev >= 0 && h - prev < kRotationHoursMin) {
      return invalid("The schedule expression cron(" + text +
                     ") isn't valid: rotation can't be more frequent than every four hours.");
    }
    prev = h;
  }
  if (first >= 0 && prev != first && first + 24 - prev < kRotationHoursMin) {
    return invalid("The schedule expression cron(" + text +
                   ") isn't valid: rotation can't be more frequent than every four hours.");
  }
  return c;
}

Result<RotationSchedule> RotationSchedule::parse(const RotationRules& rules) {
  RotationSchedule s;
  const std::string& e = rules.schedule_expression;
  if (rules.automatically_after_days && !e.empty()) {
    return invalid("You can't specify both AutomaticallyAfterDays and ScheduleExpression.");
  }
  if (rules.automatically_after_days) {
    int64_t d = *rules.automatically_after_days;
    if (d < kRotationDaysMin || d > kRotationDaysMax) {
      return invalid("RotationRules.AutomaticallyAfterDays must be within 1-1000.");
    }
    s.kind_ = Kind::kDays;
    s.every_ = d;
  } else if (starts_with(e, "rate(") && ends_with(e, ")")) {
    std::string_view body = std::string_view(e).substr(5, e.size() - 6);
    size_t sp = body.find(' ');
    auto n = sp == std::string_view::npos ? std::nullopt : number(body.substr(0, sp));
    std::string_view unit = sp == std::string_view::npos ? "" : body.substr(sp + 1);
    if (!n || (unit != "days" && unit != "day" && unit != "hours" && unit != "hour")) {
      return invalid("The schedule expression " + e + " isn't valid.");
    }
    if (unit[0] == 'd') {
      if (*n < kRotationDaysMin || *n > kRotationDaysMax) {
        return invalid("The schedule expression " + e +
                       " isn't valid: a rate in days must be between 1 and 1000 days.");
      }
      s.kind_ = Kind::kDays;
    } else {
      if (*n < kRotationHoursMin || *n > 23) {
        return invalid("The schedule expression " + e +
                       " isn't valid: a rate in hours must be between 4 and 23 hours.");
      }
      s.kind_ = Kind::kHours;
    }
    s.every_ = *n;
  } else if (starts_with(e, "cron(") && ends_with(e, ")")) {
    NUBO_ASSIGN_OR_RETURN(s.cron_, parse_cron(e.substr(5, e.size() - 6)));
    s.kind_ = Kind::kCron;
  } else if (!e.empty()) {
    return invalid("The schedule expression " + e + " isn't valid.");
  } else {
    return invalid("RotationRules must contain AutomaticallyAfterDays or ScheduleExpression.");
  }
  if (!rules.duration.empty()) {
    const std::string& d = rules.duration;
    auto h = d.size() >= 2 && d.back() == 'h' ? number(std::string_view(d).substr(0, d.size() - 1))
                                              : std::nullopt;
    if (!h || *h < 1 || *h > kDurationHoursMax) {
      return invalid("The Duration " + d + " isn't valid: it must be between 1h and 24h.");
    }
    if (s.kind_ == Kind::kHours && *h > s.every_) {
      return invalid("The rotation window (Duration " + d +
                     ") can't extend into the next rotation window.");
    }
    if (s.kind_ == Kind::kCron) {
      for (int hr = 0; hr < 24; ++hr) {
        if (s.cron_.hours.test(static_cast<size_t>(hr)) && hr + *h > 24) {
          return invalid("The rotation window (Duration " + d +
                         ") can't extend into the next UTC day.");
        }
      }
    }
    s.duration_hours_ = h;
  }
  return s;
}

bool RotationSchedule::day_matches(int64_t days) const {
  Civil c = civil_from_days(days);
  if (c.y < kFirstYear || c.y > kLastYear || !cron_.years.test(static_cast<size_t>(c.y))) {
    return false;
  }
  if (!cron_.months.test(c.m)) return false;
  if (!cron_.any_day_of_month) {
    if (cron_.last_day_of_month) return c.d == days_in_month(c.y, c.m);
    return cron_.days_of_month.test(c.d);
  }
  int wd = weekday(days);
  if (!cron_.days_of_week.test(static_cast<size_t>(wd))) return false;
  if (cron_.nth_weekday > 0) return static_cast<int>((c.d - 1) / 7 + 1) == cron_.nth_weekday;
  if (cron_.last_weekday) return c.d + 7 > days_in_month(c.y, c.m);
  return true;
}

SystemTime RotationSchedule::next_window(SystemTime last) const {
  const int64_t ms = ms_of(last);
  const int64_t day = floor_div(ms, kMsPerDay);
  if (kind_ == Kind::kDays) return at_ms((day + every_) * kMsPerDay);
  if (kind_ == Kind::kHours) {
    const int64_t hour_ms = 3600000;
    for (int64_t d = day;; ++d) {
      for (int64_t h = 0; h < 24; h += every_) {
        int64_t start = d * kMsPerDay + h * hour_ms;
        if (start > ms) return at_ms(start);
      }
    }
  }
  // cron: the first match after `last`, to the minute; day by day up to the last year.
  const int64_t last_day = days_from_civil(kLastYear, 12, 31);
  for (int64_t d = day; d <= last_day; ++d) {
    if (!day_matches(d)) continue;
    for (int h = 0; h < 24; ++h) {
      if (!cron_.hours.test(static_cast<size_t>(h))) continue;
      for (int m = 0; m < 60; ++m) {
        if (!cron_.minutes.test(static_cast<size_t>(m))) continue;
        int64_t start = d * kMsPerDay + (h * 60 + m) * 60000LL;
        if (start > ms) return at_ms(start);
      }
    }
  }
  return at_ms((last_day + 1) * kMsPerDay);
}

SystemTime RotationSchedule::window_end(SystemTime start) const {
  const int64_t ms = ms_of(start);
  const int64_t end_of_day = (floor_div(ms, kMsPerDay) + 1) * kMsPerDay;
  int64_t len;
  if (duration_hours_) {
    len = *duration_hours_ * 3600000;
  } else if (kind_ == Kind::kHours || (kind_ == Kind::kCron && cron_.hours.count() > 1)) {
    len = 3600000;
  } else {
    len = end_of_day - ms;
  }
  return at_ms(std::min(ms + len, end_of_day));
}

std::optional<int64_t> RotationSchedule::days() const {
  if (kind_ == Kind::kDays) return every_;
  return std::nullopt;
}

}  // namespace nubo::secretsmanager
