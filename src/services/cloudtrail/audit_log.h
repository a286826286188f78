// AuditLog: the audit trail (issue 4). Every authorisation decision (auth::authorize) becomes an
// event: principal, action, resource, decision, source address, user agent, request id, kept in
// the Store and read back by CloudTrail's LookupEvents (cloudtrail_service.h).
//
// record() never blocks an io thread on the disk: events queue in memory and one writer thread
// stores them in batches (one transaction per batch, at most kFlushInterval after they were
// recorded). So the trail is written behind the answers it describes: a kill -9 loses at most
// the last interval's events, never an acknowledged write of any service. When more than
// kMaxPending events wait (the disk cannot keep up), new ones are counted and dropped, and the
// count is logged, rather than letting memory grow.
//
// Events older than kRetention are deleted (CloudTrail's event history keeps 90 days).
//
// Threads: record() from any thread; start()/stop() from the main thread. The writer thread is
// owned here and joined by stop().
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "auth/authorize.h"
#include "base/clock.h"
#include "base/result.h"
#include "storage/store.h"

namespace nubo::cloudtrail {

inline constexpr std::chrono::milliseconds kFlushInterval{50};
inline constexpr size_t kMaxPending = 100000;
inline constexpr std::chrono::hours kRetention{24 * 90};

// The schema (also applied by start()); exposed for tests that read the table.
Status migrate_audit_schema(storage::Store& store);

class AuditLog final : public auth::AuditSink {
 public:
  // data_events: keep allowed invocations too (`--audit-data-events`); denied ones always are.
  AuditLog(storage::Store* store, const Clock* clock, std::string region, bool data_events = false);
  ~AuditLog() override;

  Status start();  // schema, then the writer thread
  void stop();     // writes what is queued, then joins the writer
  void record(auth::AuditEvent event) override;
  // Writes everything recorded so far before returning (tests, and LookupEvents so that a
  // caller sees its own earlier calls).
  void flush();
  bool wants_data_events() const override { return data_events_; }

 private:
  void run();
  Status write(std::vector<auth::AuditEvent>& batch);

  storage::Store* store_;
  const Clock* clock_;
  std::string region_;
  const bool data_events_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable flushed_;
  std::vector<auth::AuditEvent> pending_;  // GUARDED_BY(mu_)
  uint64_t recorded_ = 0;                  // GUARDED_BY(mu_)
  uint64_t written_ = 0;                   // GUARDED_BY(mu_): recorded events stored or dropped
  uint64_t dropped_ = 0;                   // GUARDED_BY(mu_)
  bool stopping_ = false;                  // GUARDED_BY(mu_)
  bool flush_wanted_ = false;              // GUARDED_BY(mu_)
  bool running_ = false;                   // GUARDED_BY(mu_): the writer thread was started
  std::thread writer_;
};

}  // namespace nubo::cloudtrail
