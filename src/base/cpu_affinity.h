// CPU affinity: which CPUs a thread or a whole process may run on (sched_setaffinity).
//
// The node keeps each io thread on a CPU of its own, and an instance on its io thread's CPU
// while its invocations stay short (runtime/instance.h): an invoke then wakes nothing on another
// CPU, and on a small VM each such wake-up (an inter-processor interrupt, a VM exit) costs more
// than the node's own work for the invoke.
//
// Threads: every function may be called from any thread; none blocks beyond reading /proc.
#pragma once

#include <sys/types.h>

#include <vector>

namespace nubo {

// The CPUs the calling thread may run on, ascending; empty if the kernel does not say.
std::vector<int> allowed_cpus();

// Restricts the calling thread to `cpus`. False if the kernel refuses (a CPU not allowed to
// this process, or none given).
bool set_thread_cpus(const std::vector<int>& cpus);

// The CPUs one thread (or process leader) may run on; empty if it is gone.
std::vector<int> cpus_of(pid_t tid);

// Restricts every thread of each process in `pids` (/proc/<pid>/task) to `cpus`. Threads and
// processes that exit meanwhile are skipped; returns how many threads were set. Threads a
// process starts later inherit the affinity of the thread that starts them.
int set_process_cpus(const std::vector<pid_t>& pids, const std::vector<int>& cpus);

}  // namespace nubo
