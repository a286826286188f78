// SparePool: processes started before a function needs them ("spares"), so that a cold start of
// a python or nodejs function does not wait for the interpreter to start (tens of milliseconds
// for python, a hundred for node on a small VM), and one of a provided function finds its sandbox
// made, its cgroups joined and only the bootstrap's exec left to do (nubo-spare-exec,
// spare_exec.c). DESIGN.md: millisecond cold starts come from work done ahead of the request.
//
// A spare is launched with the function runtime's command line and only the environment a process
// reads when it starts (startup_key(): LD_*, PYTHON*, NODE_*, LANG, LC_*, TZ, PATH), plus
// NUBO_SPARE_FD=3. The runtime client (runtimes/README.md "Spares") does everything that does not
// depend on the function, then blocks reading fd 3. take() hands the spare its function (in an
// isolating sandbox it first mounts the code at /var/task: SandboxProcess::attach_code): the whole
// environment and the working directory, in one message, then EOF:
//
//     "nubo-spare-1" NUL <cwd> NUL <KEY=value> NUL <KEY=value> NUL ...
//
// A spare serves only a launch whose command line and start-up environment are equal to its own
// (the key); anything else starts a process as before. A spare that died is dropped, never used.
//
// Threads: take() and replenish() run on the invoker's launcher thread (the spares' parent thread
// for PR_SET_PDEATHSIG); expire(), clear() and size() from any thread. Thread-safe (one mutex).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/sandbox.h"

namespace nubo::runtime {

class SparePool {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  struct Options {
    size_t max_spares = 2;  // processes kept in total (one per key); 0 disables the pool
    // A key neither taken nor replenished for this long loses its spare.
    std::chrono::nanoseconds idle_timeout = std::chrono::minutes(5);
  };

  // sandbox is borrowed and outlives the pool.
  SparePool(Sandbox* sandbox, Options options);
  ~SparePool();  // kills the spares
  SparePool(const SparePool&) = delete;
  SparePool& operator=(const SparePool&) = delete;

  // The part of spec a spare must match: its command line, its start-up environment and the
  // limits and network its sandbox was made with.
  static std::string startup_key(const LaunchSpec& spec);
  // Its command line and start-up environment alone, and its zygote group (what a zygote must
  // match; a spare forked from a zygote serves only that group).
  static std::string command_key(const LaunchSpec& spec);
  // False when the environment makes the interpreter run the function's code as it starts
  // (LD_PRELOAD, LD_AUDIT, NODE_OPTIONS): such a launch is never served by, nor refills, a spare.
  static bool eligible(const LaunchSpec& spec);
  // True for the variables a process reads when it starts (and a spare therefore must start with).
  static bool startup_variable(std::string_view name);
  // Those of env, sorted.
  static std::vector<std::string> startup_environment(const std::vector<std::string>& env);
  // What a spare reads on fd 3 to become spec's process (the header comment's message).
  static std::string assignment_message(const LaunchSpec& spec);

  // If a live spare has spec's key, assigns it spec's environment and working directory and
  // returns its process (the caller owns it from then on); null otherwise. Blocking (a write to a
  // pipe); on the launcher thread.
  std::unique_ptr<SandboxProcess> take(const LaunchSpec& spec);

  // Makes sure a spare of spec's key exists (starting one, and dropping the least recently used
  // key's spare when max_spares are kept). Blocking (a launch); on the launcher thread. No-op
  // after clear().
  void replenish(const LaunchSpec& spec);

  // Kills the spares of keys unused since before now - idle_timeout.
  void expire(SteadyTime now);

  // Kills every spare; later replenish() calls do nothing.
  void clear();

  size_t size() const;
  std::vector<pid_t> pids() const;  // of the spares kept now
  // Launches that found a spare / found none (metrics, tests).
  size_t hits() const;
  size_t misses() const;

 private:
  struct Spare {
    std::string key;
    std::unique_ptr<SandboxProcess> process;
    int control_fd = -1;  // the write end of the spare's fd 3
    SteadyTime last_used{};
  };
  static void kill(Spare& s);

  Sandbox* const sandbox_;
  const Options options_;
  mutable std::mutex mu_;
  std::vector<Spare> spares_;  // GUARDED_BY(mu_)
  bool closed_ = false;        // GUARDED_BY(mu_)
  size_t hits_ = 0;            // GUARDED_BY(mu_)
  size_t misses_ = 0;          // GUARDED_BY(mu_)
};

}  // namespace nubo::runtime
