#include "runtime/templates.h"

#include <signal.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <chrono>

#include "base/log.h"
#include "runtime/limits.h"

namespace nubo::runtime {

namespace asio = boost::asio;

namespace {

// Templates kept at most (each holds its function's initialised memory).
constexpr size_t kMaxTemplates = 16;

// How long a template's init and before-snapshot hooks may take: Lambda gives a snapshot's init
// 130 seconds or the function's timeout, whichever is longer (Lambda developer guide,
// "SnapStart runtime hooks for Python").
std::chrono::seconds snapshot_init_limit(const FunctionSpec& spec) {
  return std::chrono::seconds(std::max(130, spec.timeout_s));
}

// Makes one template: starts its instance (which initialises, runs its before-snapshot hooks and
// says so on its control socket), then hands it to its Templates, if they still exist.
net::Task<void> make_template(std::weak_ptr<Templates::Maker> weak, InstanceDeps deps,
                              std::shared_ptr<const FunctionSpec> spec, std::string key) {
  std::shared_ptr<void> owner;  // what deps' pointers belong to, alive until this is done
  if (auto m = weak.lock()) owner = m->keep_owner ? m->keep_owner() : nullptr;
  if (!owner) co_return;
  auto deadline = std::chrono::steady_clock::now() + snapshot_init_limit(*spec);
  auto starting = Instance::start(std::move(deps), spec);
  auto started = co_await std::move(starting);
  if (!started.ok()) {
    if (auto m = weak.lock()) m->finish(key, nullptr, false, started.error().message);
    co_return;
  }
  std::shared_ptr<Instance> inst = std::move(started).value();
  auto taking = inst->snapshot_taken(deadline);
  Status taken = co_await std::move(taking);
  auto m = weak.lock();
  if (!m || !taken.ok()) inst->stop(SIGKILL);
  if (m) {
    m->finish(key, taken.ok() ? inst : nullptr, true,
              taken.ok() ? std::string() : taken.error().message);
  }
}

}  // namespace

Templates::Lease::~Lease() {
  instance->stop(SIGKILL);
}

Templates::Templates(InstanceDeps deps, std::function<std::shared_ptr<void>()> keep_owner)
    : maker_(std::make_shared<Maker>(std::move(deps), std::move(keep_owner))) {}

Templates::~Templates() {
  clear();
}

std::string Templates::key_of(const FunctionSpec& spec) {
  return spec.qualified_arn + "\n" + spec.revision_id;
}

std::optional<Templates::Ready> Templates::ready(const FunctionSpec& spec) {
  Maker& m = *maker_;
  std::string key = key_of(spec);
  std::shared_ptr<Lease> dead;  // released outside the lock
  std::lock_guard lock(m.mu);
  auto it = m.entries.find(key);
  if (it != m.entries.end() && it->second.state == Entry::State::kReady) {
    // A snapshot whose credentials expire soon is made again: its restores would inherit them.
    if (it->second.lease->instance->usable()) {
      it->second.last_used = ++m.clock;
      return Ready{it->second.lease, it->second.lease->instance->template_control()};
    }
    log_warn(
        "snapstart: the snapshot of " + spec.qualified_arn +
        (it->second.lease->instance->alive() ? " has credentials about to expire" : " is gone") +
        "; making it again");
    dead = std::move(it->second.lease);
    m.entries.erase(it);
    it = m.entries.end();
  }
  if (it == m.entries.end()) m.make_locked(spec, maker_);
  return std::nullopt;
}

void Templates::prepare(const FunctionSpec& spec) {
  Maker& m = *maker_;
  std::lock_guard lock(m.mu);
  if (m.entries.count(key_of(spec)) == 0) m.make_locked(spec, maker_);
}

uint16_t Templates::next_port(const FunctionSpec& spec, uint16_t avoid) {
  Maker& m = *maker_;
  std::lock_guard lock(m.mu);
  auto it = m.entries.find(key_of(spec));
  if (it == m.entries.end()) return kFirstPort;
  uint16_t& next = it->second.next_port;
  for (;;) {
    uint16_t port = next;
    next = next >= kLastPort ? kFirstPort : static_cast<uint16_t>(next + 1);
    if (port != avoid) return port;
  }
}

void Templates::forget(const FunctionSpec& spec) {
  Maker& m = *maker_;
  std::shared_ptr<Lease> gone;  // released outside the lock
  std::lock_guard lock(m.mu);
  auto it = m.entries.find(key_of(spec));
  if (it == m.entries.end() || it->second.state != Entry::State::kReady) return;
  log_warn("snapstart: the snapshot of " + spec.qualified_arn + " does not answer; giving it up");
  gone = std::move(it->second.lease);
  m.entries.erase(it);
}

void Templates::drop_function(const std::string& function_arn) {
  drop_matching(function_arn + ":");
}

void Templates::drop_version(const std::string& qualified_arn) {
  drop_matching(qualified_arn + "\n");
}

void Templates::drop_matching(const std::string& prefix) {
  Maker& m = *maker_;
  std::vector<std::shared_ptr<Lease>> gone;
  {
    std::lock_guard lock(m.mu);
    for (auto it = m.entries.begin(); it != m.entries.end();) {
      if (it->first.rfind(prefix, 0) == 0) {
        if (it->second.lease) gone.push_back(std::move(it->second.lease));
        it = m.entries.erase(it);
      } else {
        ++it;
      }
    }
  }
  // The function or version is gone: so are the instances restored from its templates.
  for (auto& lease : gone) lease->instance->stop(SIGKILL);
}

void Templates::clear() {
  Maker& m = *maker_;
  std::vector<std::shared_ptr<Lease>> gone;  // released outside the lock
  std::lock_guard lock(m.mu);
  m.closed = true;
  for (auto& [key, e] : m.entries) {
    if (e.lease) gone.push_back(std::move(e.lease));
  }
  m.entries.clear();
}

size_t Templates::size() const {
  std::lock_guard lock(maker_->mu);
  size_t n = 0;
  for (const auto& [key, e] : maker_->entries) n += e.state == Entry::State::kReady ? 1 : 0;
  return n;
}

void Templates::Maker::make_locked(const FunctionSpec& spec, const std::shared_ptr<Maker>& self) {
  if (closed) return;
  if (entries.size() >= kMaxTemplates) {
    // The least recently used that is not being made is given up.
    auto lru = entries.end();
    for (auto it = entries.begin(); it != entries.end(); ++it) {
      if (it->second.state == Entry::State::kMaking) continue;
      if (lru == entries.end() || it->second.last_used < lru->second.last_used) lru = it;
    }
    if (lru == entries.end()) return;
    entries.erase(lru);  // its lease ends it once no restored instance holds it
  }
  Entry& e = entries[key_of(spec)];
  e.state = Entry::State::kMaking;
  e.last_used = ++clock;
  InstanceDeps d = deps;
  d.template_role = true;
  d.spares = nullptr;
  asio::co_spawn(
      *deps.io,
      make_template(self, std::move(d), std::make_shared<const FunctionSpec>(spec), key_of(spec)),
      asio::detached);
}

void Templates::Maker::finish(const std::string& key, std::shared_ptr<Instance> instance,
                              bool init_failed, const std::string& why) {
  std::lock_guard lock(mu);
  auto it = entries.find(key);
  if (it == entries.end() || closed) {
    if (instance) instance->stop(SIGKILL);
    return;
  }
  const std::string arn = key.substr(0, key.find('\n'));
  if (instance) {
    it->second.state = Entry::State::kReady;
    it->second.lease = std::make_shared<Lease>(std::move(instance));
    log_info("snapstart: snapshot of " + arn + " taken");
  } else if (init_failed) {
    it->second.state = Entry::State::kFailed;
    log_warn("snapstart: no snapshot of " + arn + " (its cold starts initialise as usual): " + why);
  } else {
    entries.erase(it);  // tried again at the next cold start
    log_warn("snapstart: cannot make the snapshot of " + arn + " now: " + why);
  }
}

}  // namespace nubo::runtime
