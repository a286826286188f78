// The clock is injected (STYLE.md #3): main builds a SystemClock, tests use a FakeClock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nubo {

using SystemTime = std::chrono::system_clock::time_point;

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time (timestamps, SigV4 dates, ARNs' LastModified).
  virtual SystemTime now() const = 0;
};

class SystemClock final : public Clock {
 public:
  SystemTime now() const override { return std::chrono::system_clock::now(); }
};

// A clock that only moves when told. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(SystemTime start) : ns_(start.time_since_epoch().count()) {}
  SystemTime now() const override { return SystemTime(SystemTime::duration(ns_.load())); }
  void advance(std::chrono::nanoseconds d) {
    ns_ += std::chrono::duration_cast<SystemTime::duration>(d).count();
  }
  void set(SystemTime t) { ns_ = t.time_since_epoch().count(); }

 private:
  std::atomic<int64_t> ns_;
};

// "2015-03-31T12:34:56.789+0000", the form Lambda uses for LastModified.
std::string format_lambda_time(SystemTime t);
// "20150830T123600Z", the SigV4 / ISO 8601 basic form.
std::string format_iso8601_basic(SystemTime t);
// "2015-08-30T12:36:00.000Z".
std::string format_iso8601(SystemTime t);
// Milliseconds since the Unix epoch.
int64_t epoch_ms(SystemTime t);
// "Wed, 21 Oct 2015 07:28:00 GMT", the HTTP date (RFC 7231 IMF-fixdate).
std::string format_http_date(SystemTime t);
// An IMF-fixdate (or the obsolete RFC 850 / asctime forms) as seconds since the epoch.
std::optional<int64_t> parse_http_date(std::string_view text);

}  // namespace nubo
