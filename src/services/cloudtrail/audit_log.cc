#include "services/cloudtrail/audit_log.h"

#include <utility>

#include "base/ids.h"
#include "base/log.h"

namespace nubo::cloudtrail {

namespace {

int64_t epoch_ms(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

Status migrate_audit_schema(storage::Store& store) {
  return store.migrate("cloudtrail", {
                                         "CREATE TABLE audit_events ("
                                         " seq INTEGER PRIMARY KEY,"
                                         " event_id TEXT NOT NULL,"
                                         " time_ms INTEGER NOT NULL,"
                                         " event_source TEXT NOT NULL,"
                                         " event_name TEXT NOT NULL,"
                                         " principal_arn TEXT NOT NULL,"
                                         " access_key_id TEXT NOT NULL,"
                                         " action TEXT NOT NULL,"
                                         " resource TEXT NOT NULL,"
                                         " allowed INTEGER NOT NULL,"
                                         " source_ip TEXT NOT NULL,"
                                         " user_agent TEXT NOT NULL,"
                                         " request_id TEXT NOT NULL,"
                                         " region TEXT NOT NULL)",
                                         "CREATE INDEX audit_events_time ON audit_events (time_ms)",
                                     });
}

AuditLog::AuditLog(storage::Store* store, const Clock* clock, std::string region, bool data_events)
    : store_(store), clock_(clock), region_(std::move(region)), data_events_(data_events) {}

AuditLog::~AuditLog() {
  stop();
}

Status AuditLog::start() {
  NUBO_TRY(migrate_audit_schema(*store_));
  {
    std::lock_guard lock(mu_);
    running_ = true;
    stopping_ = false;
  }
  writer_ = std::thread([this] { run(); });
  return Ok{};
}

void AuditLog::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
  std::lock_guard lock(mu_);
  running_ = false;
}

void AuditLog::record(auth::AuditEvent event) {
  {
    std::lock_guard lock(mu_);
    ++recorded_;
    if (pending_.size() >= kMaxPending) {
      ++dropped_;
      ++written_;
      return;
    }
    pending_.push_back(std::move(event));
  }
  // The writer wakes on its interval; a wake-up per event would cost more than the write.
}

void AuditLog::flush() {
  std::unique_lock lock(mu_);
  if (!running_ || stopping_) return;
  uint64_t target = recorded_;
  flush_wanted_ = true;
  wake_.notify_all();
  flushed_.wait(lock, [&] { return written_ >= target || stopping_; });
}

void AuditLog::run() {
  auto next_trim = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait_for(lock, kFlushInterval, [&] { return stopping_ || flush_wanted_; });
    flush_wanted_ = false;
    if (pending_.empty()) {
      flushed_.notify_all();
      if (stopping_) break;
      continue;
    }
    std::vector<auth::AuditEvent> batch;
    batch.swap(pending_);
    uint64_t dropped = std::exchange(dropped_, 0);
    lock.unlock();
    if (dropped > 0)
      log_warn("audit: " + std::to_string(dropped) + " events dropped (disk behind)");
    Status st = write(batch);
    if (!st.ok())
      log_warn("audit: cannot store " + std::to_string(batch.size()) +
               " events: " + st.error().message);
    if (std::chrono::steady_clock::now() >= next_trim) {
      next_trim = std::chrono::steady_clock::now() + std::chrono::hours(1);
      int64_t cutoff = epoch_ms(clock_->now() - kRetention);
      (void)store_->transaction([&](storage::Txn& txn) -> Status {
        NUBO_TRY(txn.exec("DELETE FROM audit_events WHERE time_ms < ?", {cutoff}));
        return Ok{};
      });
    }
    lock.lock();
    written_ += batch.size();
    flushed_.notify_all();
  }
}

Status AuditLog::write(std::vector<auth::AuditEvent>& batch) {
  return store_->transaction([&](storage::Txn& txn) -> Status {
    for (auto& e : batch) {
      NUBO_TRY(txn.exec(
          "INSERT INTO audit_events (event_id, time_ms, event_source, event_name, principal_arn,"
          " access_key_id, action, resource, allowed, source_ip, user_agent, request_id, region)"
          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {new_uuid(), epoch_ms(e.time), e.event_source, e.event_name, e.principal_arn,
           e.access_key_id, e.action, e.resource, int64_t{e.allowed ? 1 : 0}, e.source_ip,
           e.user_agent, e.request_id, region_}));
    }
    return Ok{};
  });
}

}  // namespace nubo::cloudtrail
