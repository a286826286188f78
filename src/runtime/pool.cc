#include "runtime/pool.h"

namespace nubo::runtime {

Pool::Member Pool::take_idle(std::string_view qualified_arn, std::string_view revision_id,
                             std::vector<Member>* retired, const void* home) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(qualified_arn);
  if (it == entries_.end()) {
    it = entries_.emplace(std::string(qualified_arn), Entry{}).first;
    it->second.revision_id = std::string(revision_id);
    return nullptr;
  }
  Entry& e = it->second;
  if (e.revision_id != revision_id) {
    // An update: nothing of the old revision may serve again.
    for (auto& idle : e.idle) retired->push_back(std::move(idle.member));
    e.idle.clear();
    e.revision_id = std::string(revision_id);
    return nullptr;
  }
  // Most recently used first; the dead are retired on the way.
  for (size_t i = e.idle.size(); i-- > 0;) {
    if (!e.idle[i].member->usable()) {
      retired->push_back(std::move(e.idle[i].member));
      e.idle.erase(e.idle.begin() + static_cast<std::ptrdiff_t>(i));
      continue;
    }
    if (home != nullptr && e.idle[i].member->home() == home) {
      Member m = std::move(e.idle[i].member);
      e.idle.erase(e.idle.begin() + static_cast<std::ptrdiff_t>(i));
      return m;
    }
  }
  if (e.idle.empty()) return nullptr;
  Member m = std::move(e.idle.back().member);
  e.idle.pop_back();
  return m;
}

void Pool::put_idle(std::string_view qualified_arn, std::string_view revision_id, Member m,
                    SteadyTime now, std::vector<Member>* retired) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(qualified_arn);
  if (it == entries_.end() || it->second.revision_id != revision_id || !m->usable()) {
    retired->push_back(std::move(m));
    return;
  }
  it->second.idle.push_back(Idle{std::move(m), now});
}

void Pool::add_idle(std::string_view qualified_arn, std::string_view revision_id, Member m,
                    SteadyTime now, std::vector<Member>* retired) {
  std::lock_guard lock(mu_);
  if (!m->usable()) {
    retired->push_back(std::move(m));
    return;
  }
  auto it = entries_.find(qualified_arn);
  if (it == entries_.end()) {
    it = entries_.emplace(std::string(qualified_arn), Entry{}).first;
    it->second.revision_id = std::string(revision_id);
  } else if (it->second.revision_id != revision_id) {
    for (auto& idle : it->second.idle) retired->push_back(std::move(idle.member));
    it->second.idle.clear();
    it->second.revision_id = std::string(revision_id);
  }
  // Least recently used position: an instance that has served goes first (warmer caches).
  it->second.idle.insert(it->second.idle.begin(), Idle{std::move(m), now});
}

std::vector<Pool::Member> Pool::take_expired(SteadyTime now,
                                             std::chrono::nanoseconds idle_timeout) {
  std::vector<Member> out;
  std::lock_guard lock(mu_);
  for (auto& [arn, e] : entries_) {
    // Dead and expired ones may be anywhere (pinned ones are never expired).
    std::erase_if(e.idle, [&](Idle& idle) {
      bool expired = now - idle.since >= idle_timeout && !idle.member->pinned();
      if (expired || !idle.member->usable()) {
        out.push_back(std::move(idle.member));
        return true;
      }
      return false;
    });
  }
  return out;
}

Pool::Member Pool::take_member(std::string_view qualified_arn, const PoolMember* m) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(qualified_arn);
  if (it == entries_.end()) return nullptr;
  auto& idle = it->second.idle;
  for (auto i = idle.begin(); i != idle.end(); ++i) {
    if (i->member.get() == m) {
      Member out = std::move(i->member);
      idle.erase(i);
      return out;
    }
  }
  return nullptr;
}

std::vector<Pool::Member> Pool::take_function(std::string_view function_arn) {
  std::vector<Member> out;
  std::lock_guard lock(mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    std::string_view arn = it->first;
    bool match = arn.size() > function_arn.size() &&
                 arn.substr(0, function_arn.size()) == function_arn &&
                 arn[function_arn.size()] == ':';
    if (match || arn == function_arn) {
      for (auto& idle : it->second.idle) out.push_back(std::move(idle.member));
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<Pool::Member> Pool::take_version(std::string_view qualified_arn) {
  std::vector<Member> out;
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(qualified_arn));
  if (it == entries_.end()) return out;
  for (auto& idle : it->second.idle) out.push_back(std::move(idle.member));
  entries_.erase(it);
  return out;
}

std::vector<Pool::Member> Pool::take_all() {
  std::vector<Member> out;
  std::lock_guard lock(mu_);
  for (auto& [arn, e] : entries_) {
    for (auto& idle : e.idle) out.push_back(std::move(idle.member));
  }
  entries_.clear();
  return out;
}

size_t Pool::idle_count() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [arn, e] : entries_) n += e.idle.size();
  return n;
}

bool ConcurrencyLimiter::try_acquire() {
  int cur = in_use_.load(std::memory_order_relaxed);
  while (cur < limit_.load(std::memory_order_relaxed)) {
    if (in_use_.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel)) return true;
  }
  return false;
}

void ConcurrencyLimiter::release() {
  in_use_.fetch_sub(1, std::memory_order_acq_rel);
}

}  // namespace nubo::runtime
