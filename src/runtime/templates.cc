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
net::Task<void> make_template(std::weak_ptr<Templates::Maker> maker, InstanceDeps deps,
                              std::shared_ptr<const FunctionSpec> spec, std::string key) {
  auto deadline = std::chrono::steady_clock::now() + snapshot_init_limit(*spec);
  auto starting = Instance::start(std::move(deps), spec);
  auto started = co_await std::move(starting);
  if (!started.ok()) {
    if (auto m = maker.lock()) m->finish(key, nullptr, started.error().message);
    co_return;
  }
  std::shared_ptr<Instance> inst = std::move(started).value();
  auto taking = inst->snapshot_taken(deadline);
  Status taken = co_await std::move(taking);
  auto m = maker.lock();
  if (!m) {
    inst->stop(SIGKILL);
    co_return;
  }
  m->finish(key, taken.ok() ? inst : nullptr, taken.ok() ? std::string() : taken.error().message);
  if (!taken.ok()) inst->stop(SIGKILL);
}

}  // namespace

Templates::Templates(InstanceDeps deps) : maker_(std::make_shared<Maker>(std::move(deps))) {}

Templates::~Templates() {
  clear();
}

std::string Templates::key_of(const FunctionSpec& spec) {
  return spec.qualified_arn + "\n" + spec.revision_id;
}

std::optional<Templates::Ready> Templates::ready(const FunctionSpec& spec) {
  Maker& m = *maker_;
  std::string key = key_of(spec);
  std::shared_ptr<Instance> dead;  // stopped outside the lock
  std::lock_guard lock(m.mu);
  auto it = m.entries.find(key);
  if (it != m.entries.end() && it->second.state == Entry::State::kReady) {
    if (it->second.instance->alive()) {
      it->second.last_used = ++m.clock;
      return Ready{it->second.instance, it->second.instance->template_control()};
    }
    log_warn("snapstart: the snapshot of " + spec.qualified_arn + " is gone; making it again");
    dead = std::move(it->second.instance);
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
  if (it == m.entries.end()) return 9002;
  uint16_t& next = it->second.next_port;
  for (;;) {
    uint16_t port = next;
    next = next >= 60999 ? 9002 : static_cast<uint16_t>(next + 1);
    if (port != avoid) return port;
  }
}

void Templates::drop_function(const std::string& function_arn) {
  Maker& m = *maker_;
  std::vector<std::shared_ptr<Instance>> gone;
  {
    std::lock_guard lock(m.mu);
    for (auto it = m.entries.begin(); it != m.entries.end();) {
      if (it->first.rfind(function_arn + ":", 0) == 0) {
        if (it->second.instance) gone.push_back(std::move(it->second.instance));
        it = m.entries.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& inst : gone) inst->stop(SIGKILL);
}

void Templates::clear() {
  Maker& m = *maker_;
  std::vector<std::shared_ptr<Instance>> gone;
  {
    std::lock_guard lock(m.mu);
    m.closed = true;
    for (auto& [key, e] : m.entries) {
      if (e.instance) gone.push_back(std::move(e.instance));
    }
    m.entries.clear();
  }
  for (auto& inst : gone) inst->stop(SIGKILL);
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
    // The least recently used that is not being made goes.
    auto lru = entries.end();
    for (auto it = entries.begin(); it != entries.end(); ++it) {
      if (it->second.state == Entry::State::kMaking) continue;
      if (lru == entries.end() || it->second.last_used < lru->second.last_used) lru = it;
    }
    if (lru == entries.end()) return;
    if (lru->second.instance) lru->second.instance->stop(SIGKILL);
    entries.erase(lru);
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
                              const std::string& why) {
  std::lock_guard lock(mu);
  auto it = entries.find(key);
  if (it == entries.end() || closed) {
    if (instance) instance->stop(SIGKILL);
    return;
  }
  if (instance) {
    it->second.state = Entry::State::kReady;
    it->second.instance = std::move(instance);
    log_info("snapstart: snapshot of " + key.substr(0, key.find('\n')) + " taken");
  } else {
    it->second.state = Entry::State::kFailed;
    log_warn("snapstart: no snapshot of " + key.substr(0, key.find('\n')) +
             " (its cold starts initialise as usual): " + why);
  }
}

}  // namespace nubo::runtime
