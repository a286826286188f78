// The Lambda limits and fixed values the runtime enforces, in one place (STYLE.md #12).
#pragma once

#include <chrono>
#include <cstddef>

namespace nubo::runtime {

// Largest response (or error) body a runtime may post for a synchronous invocation: 6 MB
// (Lambda quotas; the runtime interface emulator's interop.MaxPayloadSize = 6 * 1024 * 1024).
inline constexpr size_t kMaxResponseBytes = 6 * 1024 * 1024;

// The init phase (process start to the runtime's first /next) may take this long
// ("Lambda execution environment lifecycle": the Init phase is limited to 10 seconds).
inline constexpr std::chrono::seconds kInitTimeout{10};

// A provisioned instance whose init failed is started again after this long (nubo's choice:
// AWS retries provisioning without saying how often).
inline constexpr std::chrono::seconds kProvisionedRetry{5};

// InvokeResult::log_tail keeps the last 4 KB of the invocation's log (Invoke LogType=Tail).
inline constexpr size_t kLogTailBytes = 4 * 1024;

// RLIMIT_NOFILE of an instance (Lambda quotas: 1,024 file descriptors).
inline constexpr int kMaxOpenFiles = 1024;
// An instance whose credentials expire within this margin takes no new invocation (its last one
// can run for Lambda's longest timeout, 15 minutes, on credentials that are still valid).
inline constexpr std::chrono::seconds kCredentialRefreshMargin{15 * 60};
// Processes and threads of one instance ("Lambda quotas": 1,024 execution processes/threads).
inline constexpr int kMaxInstanceProcesses = 1024;

// CPU in proportion to memory, as Lambda allocates it ("Lambda allocates CPU power in proportion
// to the amount of memory configured. At 1,769 MB, a function has the equivalent of one vCPU",
// Lambda developer guide, "Configure Lambda function memory"). nubo gives an instance that share
// of the CPU as a cgroup weight, relative to the other instances: a floor under contention, not
// a cap when the machine is idle.
inline constexpr int kMemoryMbPerVcpu = 1769;

// nubo's own (not an AWS limit): an instance runs on its io thread's CPU (InstanceDeps::cpu)
// until one of its invocations keeps it busy, and then on any CPU. Busy: after this long since
// the delivery, the process used at least half of the next window of this length. A warm invoke
// of a no-op function takes ~0.1 ms of CPU, and sharing the CPU saves it a cross-CPU wake-up or
// two (tens of microseconds on a VM); past a couple of milliseconds of work that saving is
// noise, and a busy function must not be kept off an idle CPU. Waiting for the CPU does not
// count: under load a short invocation may wait longer than the window.
inline constexpr std::chrono::milliseconds kPinnedCpuWindow{2};

// On shutdown an instance gets SIGTERM, then SIGKILL after this long.
inline constexpr std::chrono::milliseconds kTerminateGrace{300};

// Runtime API version served to instances ("/2018-06-01/runtime/...").
inline constexpr const char* kRuntimeApiPrefix = "/2018-06-01/runtime/";

}  // namespace nubo::runtime
