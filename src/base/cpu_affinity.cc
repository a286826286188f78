#include "base/cpu_affinity.h"

#include <dirent.h>
#include <sched.h>

#include <cstdlib>
#include <string>

namespace nubo {

namespace {

bool to_set(const std::vector<int>& cpus, cpu_set_t* set) {
  CPU_ZERO(set);
  bool any = false;
  for (int c : cpus) {
    if (c < 0 || c >= CPU_SETSIZE) continue;
    CPU_SET(c, set);
    any = true;
  }
  return any;
}

std::vector<int> from_set(const cpu_set_t& set) {
  std::vector<int> out;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) out.push_back(c);
  }
  return out;
}

}  // namespace

std::vector<int> allowed_cpus() {
  return cpus_of(0);
}

bool set_thread_cpus(const std::vector<int>& cpus) {
  cpu_set_t set;
  if (!to_set(cpus, &set)) return false;
  return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

std::vector<int> cpus_of(pid_t tid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(tid, sizeof set, &set) != 0) return {};
  return from_set(set);
}

int set_process_cpus(const std::vector<pid_t>& pids, const std::vector<int>& cpus) {
  cpu_set_t set;
  if (!to_set(cpus, &set)) return 0;
  int done = 0;
  for (pid_t pid : pids) {
    std::string dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;  // gone
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      pid_t tid = static_cast<pid_t>(std::strtol(e->d_name, nullptr, 10));
      if (::sched_setaffinity(tid, sizeof set, &set) == 0) ++done;
    }
    ::closedir(d);
  }
  return done;
}

}  // namespace nubo
