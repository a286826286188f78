// Pool: the idle (warm) instances of every function version, and the account's concurrency count.
//
// Instances are keyed by (qualified_arn, revision_id): only one revision of a qualified ARN is
// current; asking for a newer one retires the idle instances of the older, and an instance of an
// older revision handed back after its invocation is retired instead of kept. Idle instances
// are reused most-recently-used first (warm caches, and the least used ones age out).
//
// The pool never stops an instance itself: what leaves it (retired, expired) is returned to the
// caller to stop. Thread-safe: one mutex, held only inside these calls.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/strings.h"

namespace nubo::runtime {

// What the pool needs to know of an instance.
class PoolMember {
 public:
  virtual ~PoolMember() = default;
  // False once it cannot serve any more (its process exited, or it was stopped).
  virtual bool alive() const = 0;
  // False once it should take no new invocation although it still runs (its credentials are
  // about to expire): the pool retires it as it would a dead one, and a new one takes its place.
  virtual bool fresh() const { return true; }
  bool usable() const { return alive() && fresh(); }
  // Where it lives (an instance: the io_context of its Runtime API endpoint); compared only.
  virtual const void* home() const { return nullptr; }
  // True while it is kept regardless of idleness (provisioned concurrency): never expired.
  virtual bool pinned() const { return false; }
};

class Pool {
 public:
  using Member = std::shared_ptr<PoolMember>;
  using SteadyTime = std::chrono::steady_clock::time_point;

  // Takes the most recently used live idle instance of (qualified_arn, revision_id) whose home()
  // is `home` if there is one, else the most recently used live one, else returns null. Idle
  // instances of another revision of qualified_arn, and dead ones, are appended to *retired.
  Member take_idle(std::string_view qualified_arn, std::string_view revision_id,
                   std::vector<Member>* retired, const void* home = nullptr);

  // Puts an instance back after its invocation. If (qualified_arn, revision_id) is no longer
  // current (updated, or the function was retired meanwhile) or it is dead, it is appended to
  // *retired instead.
  void put_idle(std::string_view qualified_arn, std::string_view revision_id, Member m,
                SteadyTime now, std::vector<Member>* retired);

  // Adds an instance that was started ahead of any invocation (provisioned concurrency). If
  // revision_id is not current for qualified_arn it becomes current (the idle instances of the
  // old one are appended to *retired); a dead m is appended to *retired.
  void add_idle(std::string_view qualified_arn, std::string_view revision_id, Member m,
                SteadyTime now, std::vector<Member>* retired);

  // Removes and returns the idle instances unused since before now - idle_timeout (and dead
  // ones); pinned ones are kept however long they idle.
  std::vector<Member> take_expired(SteadyTime now, std::chrono::nanoseconds idle_timeout);

  // Removes and returns m if it is idle under qualified_arn; null if it is not there (in use).
  Member take_member(std::string_view qualified_arn, const PoolMember* m);

  // Removes and returns every idle instance of the function (all its versions) and forgets it.
  std::vector<Member> take_function(std::string_view function_arn);

  // Removes and returns every idle instance of one version (its qualified ARN) and forgets it.
  std::vector<Member> take_version(std::string_view qualified_arn);

  // Removes and returns every idle instance and forgets every function.
  std::vector<Member> take_all();

  size_t idle_count() const;

 private:
  struct Idle {
    Member member;
    SteadyTime since;
  };
  struct Entry {
    std::string revision_id;
    std::vector<Idle> idle;  // most recently used last
  };
  mutable std::mutex mu_;
  StringMap<Entry> entries_;  // GUARDED_BY(mu_)
};

// A count of concurrent executions under a limit: the account's unreserved pool, or one
// function's reserved concurrency (an instance starting for an invocation counts). Lock-free.
class ConcurrencyLimiter {
 public:
  explicit ConcurrencyLimiter(int limit) : limit_(limit) {}
  // Takes a slot; false (nothing taken) when limit slots are in use.
  bool try_acquire();
  void release();
  int in_use() const { return in_use_.load(std::memory_order_relaxed); }
  int limit() const { return limit_.load(std::memory_order_relaxed); }
  // A lower limit leaves the slots already taken alone; new ones wait until use drops below it.
  void set_limit(int limit) { limit_.store(limit, std::memory_order_relaxed); }

 private:
  std::atomic<int> limit_;
  std::atomic<int> in_use_{0};
};

}  // namespace nubo::runtime
