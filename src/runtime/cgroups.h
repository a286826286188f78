// Cgroups: the memory and process limits and the CPU weight of each instance (issue 3, "Limits"),
// on cgroup v1 (the memory, pids and, where mounted, cpu hierarchies) or v2 (one unified
// hierarchy with those controllers).
//
// The node makes one folder of its own under the cgroup it runs in (delegation: it never touches
// its parents) and one folder per instance below it. An instance's processes are moved in by the
// child itself before it execs (it writes "0" to the descriptors of procs_fds()), so nothing the
// function runs is ever outside its limits. Per instance: memory.limit = MemorySize with no swap
// on top, at most kMaxInstanceProcesses tasks, and a CPU weight of MemorySize / kMemoryMbPerVcpu
// of one default share (v1 cpu.shares 1024, v2 cpu.weight 100) where the cpu controller is there.
//
// Threads: CgroupRoot::create() blocks briefly (mkdir and a few small writes): on the launcher
// thread. InstanceCgroup is thread-safe; its destructor kills what is left and removes the folder,
// or, if a process has not left it yet, leaves it to be removed by a later create() (never
// blocks: instances are dropped on io threads).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"

namespace nubo::runtime {

class InstanceCgroup {
 public:
  virtual ~InstanceCgroup() = default;
  // Write-only descriptors of the cgroup.procs files (one per hierarchy), O_CLOEXEC. Valid
  // until the object is destroyed.
  virtual const std::vector<int>& procs_fds() const = 0;
  // True if the kernel's OOM killer killed a process of this cgroup.
  virtual bool oom_killed() const = 0;
  // Peak memory use of the whole cgroup, in bytes (0 if unknown).
  virtual int64_t peak_bytes() const = 0;
  // Sends sig to every process in the cgroup (those that left the process group too).
  virtual void kill_all(int sig) = 0;
  // The processes in it, as the node's PID namespace numbers them.
  virtual std::vector<pid_t> pids() const = 0;
};

class CgroupRoot {
 public:
  virtual ~CgroupRoot() = default;
  // "cgroup v1 (/sys/fs/cgroup/memory/..., /sys/fs/cgroup/pids/...)" or "cgroup v2 (...)".
  virtual std::string describe() const = 0;
  // Whether instances get a CPU weight proportional to their memory (the cpu controller: v1's
  // cpu hierarchy or v2's cpu controller); without it they share the CPU equally.
  virtual bool cpu_weight() const = 0;
  virtual Result<std::unique_ptr<InstanceCgroup>> create(int memory_mb, int max_processes) = 0;
};

// Keeps the kernel's cgroup moves fast for as long as it lives: every move of a process into a
// cgroup (each instance makes one per hierarchy) takes the kernel's cgroup_threadgroup_rwsem for
// writing, which by default waits for an RCU grace period: ~11 ms per move measured here on an
// idle machine, 0.13 ms with the rwsem in its "favor dynamic modifications" mode. That mode is
// on while any cgroup hierarchy is mounted with `favordynmods` (Linux 6.0+), so this mounts a
// named cgroup v1 hierarchy (name=nubo, no controllers) with it at `dir` (made if missing), in
// the node's own mount namespace: it goes when the node does, even after kill -9. The cost is
// the kernel's: forks and exits take the rwsem's slower reader path. Null with *why_not set
// where that cannot be mounted (not root, an older kernel, v1 hierarchies disabled).
class FastCgroupMoves {
 public:
  virtual ~FastCgroupMoves() = default;
};
std::unique_ptr<FastCgroupMoves> keep_cgroup_moves_fast(const std::string& dir,
                                                        std::string* why_not);

// The node's cgroup folders, made now; null with *why_not set when this node may not use
// cgroups (no controller, not writable). `cgroup_fs` is /sys/fs/cgroup except in tests.
std::unique_ptr<CgroupRoot> open_cgroup_root(std::string* why_not,
                                             const std::string& cgroup_fs = "/sys/fs/cgroup");

}  // namespace nubo::runtime
