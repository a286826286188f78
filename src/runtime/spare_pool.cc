#include "runtime/spare_pool.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/log.h"

namespace nubo::runtime {

namespace {

constexpr std::string_view kMessageTag = "nubo-spare-1";

std::string_view name_of(std::string_view entry) {
  size_t eq = entry.find('=');
  return eq == std::string_view::npos ? entry : entry.substr(0, eq);
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

SparePool::SparePool(Sandbox* sandbox, Options options) : sandbox_(sandbox), options_(options) {}

SparePool::~SparePool() {
  clear();
}

bool SparePool::startup_variable(std::string_view name) {
  // The dynamic loader (LD_LIBRARY_PATH, LD_PRELOAD), the interpreters (PYTHONPATH, PYTHONHOME,
  // PYTHONUTF8, ...; NODE_OPTIONS, NODE_EXTRA_CA_CERTS, NODE_PATH, ...), the locale and the time
  // zone are read once, when the process starts; PATH decides what the interpreter finds.
  for (std::string_view prefix : {"LD_", "PYTHON", "NODE_", "LC_"}) {
    if (name.substr(0, prefix.size()) == prefix) return true;
  }
  return name == "LANG" || name == "LANGUAGE" || name == "TZ" || name == "PATH";
}

std::vector<std::string> SparePool::startup_environment(const std::vector<std::string>& env) {
  std::vector<std::string> out;
  for (const std::string& e : env) {
    if (startup_variable(name_of(e))) out.push_back(e);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string SparePool::assignment_message(const LaunchSpec& spec) {
  std::string msg(kMessageTag);
  msg.push_back('\0');
  msg += spec.cwd;
  msg.push_back('\0');
  for (const std::string& e : spec.env) {
    msg += e;
    msg.push_back('\0');
  }
  return msg;
}

bool SparePool::eligible(const LaunchSpec& spec) {
  // These run the function's own code when the interpreter starts (a preloaded library, a
  // --require/--import module). In a spare it would run before the function's environment is
  // there, so such functions always start fresh.
  for (const std::string& e : spec.env) {
    std::string_view name = std::string_view(e).substr(0, e.find('='));
    if (name == "LD_PRELOAD" || name == "LD_AUDIT" || name == "NODE_OPTIONS") {
      return false;
    }
  }
  return true;
}

std::string SparePool::command_key(const LaunchSpec& spec) {
  std::string key = spec.zygote_group;
  key.push_back('\n');
  key += spec.executable;
  key.push_back('\n');
  for (const std::string& a : spec.argv) {
    key += a;
    key.push_back('\0');
  }
  key.push_back('\n');
  for (const std::string& e : startup_environment(spec.env)) {
    key += e;
    key.push_back('\0');
  }
  return key;
}

std::string SparePool::startup_key(const LaunchSpec& spec) {
  std::string key = command_key(spec);
  key.push_back('\n');
  key += std::to_string(spec.max_open_files);
  key.push_back('\n');
  key += std::to_string(spec.memory_mb);  // the cgroup's memory limit is set at launch
  key.push_back('\n');
  key += std::to_string(spec.ephemeral_storage_mb);  // so is an isolated instance's /tmp
  key.push_back('\n');
  for (uint16_t port : spec.listen_ports) {  // and the listeners in its network
    key += std::to_string(port);
    key.push_back(',');
  }
  key += spec.egress ? "\negress" : "\nloopback";  // and its network's outbound connection
  return key;
}

void SparePool::kill(Spare& s) {
  if (s.control_fd >= 0) {
    ::close(s.control_fd);  // the spare reads EOF without a message and exits
    s.control_fd = -1;
  }
  if (s.process) s.process->kill(SIGKILL);
  s.process.reset();  // reaps
}

std::unique_ptr<SandboxProcess> SparePool::take(const LaunchSpec& spec) {
  if (!eligible(spec)) return nullptr;
  std::string key = startup_key(spec);
  Spare s;
  {
    std::lock_guard lock(mu_);
    auto it = std::find_if(spares_.begin(), spares_.end(),
                           [&](const Spare& sp) { return sp.key == key; });
    if (it == spares_.end()) {
      ++misses_;
      return nullptr;
    }
    s = std::move(*it);
    spares_.erase(it);
  }
  std::string msg = assignment_message(spec);
  // A spare that died while it waited is not used (its exit is the spare's, not the function's).
  // An isolated spare gets its code mounted at /var/task first.
  bool ok = !s.process->try_reap();
  if (ok) {
    Status attached = s.process->attach_code(spec.code_dir, spec.layer_dirs);
    if (!attached.ok()) {
      log_warn("runtime: a spare could not be given its code: " + attached.error().message);
      ok = false;
    }
  }
  ok = ok && write_all(s.control_fd, msg);
  if (!ok) {
    kill(s);
    std::lock_guard lock(mu_);
    ++misses_;
    return nullptr;
  }
  ::close(s.control_fd);
  s.control_fd = -1;
  std::lock_guard lock(mu_);
  ++hits_;
  return std::move(s.process);
}

void SparePool::replenish(const LaunchSpec& spec) {
  if (!eligible(spec)) return;
  std::string key = startup_key(spec);
  Spare victim;
  {
    std::lock_guard lock(mu_);
    if (closed_ || options_.max_spares == 0) return;
    auto now = std::chrono::steady_clock::now();
    for (Spare& s : spares_) {
      if (s.key == key) {
        s.last_used = now;
        return;
      }
    }
    if (spares_.size() >= options_.max_spares) {
      auto lru = std::min_element(
          spares_.begin(), spares_.end(),
          [](const Spare& a, const Spare& b) { return a.last_used < b.last_used; });
      victim = std::move(*lru);
      spares_.erase(lru);
    }
  }
  kill(victim);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return;
  LaunchSpec ls = spec;
  ls.env = startup_environment(spec.env);
  ls.env.push_back("NUBO_SPARE_FD=3");
  ls.cwd = std::string(1, '/');  // (not = "/": GCC 12 -Wrestrict false positive)
  ls.code_dir.clear();           // an isolated spare gets its code in take()
  ls.layer_dirs.clear();
  ls.control_fd = fds[0];
  ls.prefault = true;
  auto launched = sandbox_->launch(ls);
  ::close(fds[0]);
  if (!launched.ok()) {
    ::close(fds[1]);
    log_warn("runtime: could not start a spare " + spec.executable + ": " +
             launched.error().message);
    return;
  }
  Spare s;
  s.key = std::move(key);
  s.process = std::move(launched).value();
  s.control_fd = fds[1];
  s.last_used = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    if (!closed_) {
      spares_.push_back(std::move(s));
      return;
    }
  }
  kill(s);
}

void SparePool::expire(SteadyTime now) {
  std::vector<Spare> old;
  {
    std::lock_guard lock(mu_);
    for (auto it = spares_.begin(); it != spares_.end();) {
      if (now - it->last_used >= options_.idle_timeout) {
        old.push_back(std::move(*it));
        it = spares_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Spare& s : old) kill(s);
}

void SparePool::clear() {
  std::vector<Spare> all;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    all.swap(spares_);
  }
  for (Spare& s : all) kill(s);
}

size_t SparePool::size() const {
  std::lock_guard lock(mu_);
  return spares_.size();
}

std::vector<pid_t> SparePool::pids() const {
  std::lock_guard lock(mu_);
  std::vector<pid_t> out;
  for (const Spare& s : spares_) out.push_back(s.process->pid());
  return out;
}

size_t SparePool::hits() const {
  std::lock_guard lock(mu_);
  return hits_;
}

size_t SparePool::misses() const {
  std::lock_guard lock(mu_);
  return misses_;
}

}  // namespace nubo::runtime
