// ProcessSandbox: the plain-process Sandbox (no namespaces yet; issue 3 adds them behind the same
// interface).
//
// A launch is one clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD): the child borrows the parent's
// memory until it execs, so the cost does not grow with the size of the node (a fork() of an
// ASan-instrumented node copies page tables for gigabytes of shadow memory). The child code
// between clone and exec only makes raw system calls. The same function later becomes the
// clone(CLONE_NEW*) + pivot_root path of the isolating sandbox.
//
// Threads: launch() blocks for the clone/exec; see Sandbox::launch for which thread must call it.
// Everything else is thread-safe.
#pragma once

#include <memory>

#include "runtime/sandbox.h"

namespace nubo::runtime {

struct ProcessSandboxOptions {
  // kFork exists to measure the difference (process_sandbox_test); production uses kCloneVfork.
  enum class Method { kCloneVfork, kFork };
  Method method = Method::kCloneVfork;
  // Each instance in its own cgroup (memory = LaunchSpec::memory_mb, kMaxInstanceProcesses
  // tasks; cgroups.h) and under no_new_privs. Without the privileges for cgroups the sandbox
  // still starts and protections() says the limits are off.
  bool limits = true;
};

std::unique_ptr<Sandbox> make_process_sandbox(ProcessSandboxOptions options = {});

}  // namespace nubo::runtime
