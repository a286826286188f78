#include "runtime/sandbox.h"

namespace nubo::runtime {

namespace {

// Go's names for the Linux signals (syscall/zerrors_linux_amd64.go), which Lambda's
// "Runtime exited with error: signal: ..." messages use.
const char* go_signal_name(int sig) {
  static const char* const kNames[] = {
      nullptr,
      "hangup",
      "interrupt",
      "quit",
      "illegal instruction",
      "trace/breakpoint trap",
      "aborted",
      "bus error",
      "floating point exception",
      "killed",
      "user defined signal 1",
      "segmentation fault",
      "user defined signal 2",
      "broken pipe",
      "alarm clock",
      "terminated",
      "stack fault",
      "child exited",
      "continued",
      "stopped (signal)",
      "stopped",
      "stopped (tty input)",
      "stopped (tty output)",
      "urgent I/O condition",
      "CPU time limit exceeded",
      "file size limit exceeded",
      "virtual timer expired",
      "profiling timer expired",
      "window changed",
      "I/O possible",
      "power failure",
      "bad system call",
  };
  if (sig > 0 && sig < static_cast<int>(sizeof kNames / sizeof kNames[0])) return kNames[sig];
  return nullptr;
}

}  // namespace

std::string ExitStatus::describe() const {
  if (!signaled) return "exit status " + std::to_string(code);
  const char* name = go_signal_name(signal);
  std::string s = "signal: ";
  s += name ? name : "signal " + std::to_string(signal);
  if (core_dumped) s += " (core dumped)";
  return s;
}

}  // namespace nubo::runtime
