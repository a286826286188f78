#include "runtime/cgroups.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "runtime/limits.h"

namespace nubo::runtime {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool write_file(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = ::write(fd, value.data(), value.size());
  ::close(fd);
  return n == static_cast<ssize_t>(value.size());
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// The path of this process's cgroup in a hierarchy, from /proc/self/cgroup: the line whose
// controller list contains `controller` (v1), or the "0::" line when controller is empty (v2).
std::string own_cgroup(const std::string& controller) {
  std::istringstream in(read_file("/proc/self/cgroup"));
  std::string line;
  while (std::getline(in, line)) {
    size_t a = line.find(':');
    size_t b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string ctrls = line.substr(a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    if (controller.empty()) {
      if (line.compare(0, 3, "0::") == 0) return path;
      continue;
    }
    std::istringstream cs(ctrls);
    std::string c;
    while (std::getline(cs, c, ',')) {
      if (c == controller) return path;
    }
  }
  return {};
}

// A value "key N" out of a flat keyed file (memory.oom_control, memory.events).
int64_t keyed_value(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  int64_t v;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return 0;
}

int64_t read_int(const std::string& path) {
  std::string s = read_file(path);
  return s.empty() ? 0 : std::strtoll(s.c_str(), nullptr, 10);
}

void kill_procs(const std::string& procs_file, int sig) {
  std::istringstream in(read_file(procs_file));
  pid_t pid;
  while (in >> pid) {
    if (pid > 0) ::kill(pid, sig);
  }
}

// Folders that still had processes when their instance went (a killed process leaves its cgroup
// only once it is reaped, and a descendant may have forked after the kill): killed again and
// removed later, never waited for on the thread that dropped the instance. Shared by the root
// and its instances.
class Graveyard {
 public:
  // Kills what is in dir and removes it, or keeps it for later. Never blocks.
  void bury(const std::string& dir) {
    kill_procs(dir + "/cgroup.procs", SIGKILL);
    if (::rmdir(dir.c_str()) == 0 || errno != EBUSY) return;
    std::lock_guard lock(mu_);
    dirs_.push_back(dir);
  }
  // One more try for each kept folder. Returns true when none is left.
  bool retry() {
    std::vector<std::string> dirs;
    {
      std::lock_guard lock(mu_);
      dirs.swap(dirs_);
    }
    for (const std::string& d : dirs) bury(d);
    std::lock_guard lock(mu_);
    return dirs_.empty();
  }

 private:
  std::mutex mu_;
  std::vector<std::string> dirs_;  // GUARDED_BY(mu_)
};

class InstanceCgroupImpl final : public InstanceCgroup {
 public:
  // dirs: the instance's folder in each hierarchy; v2: one folder with both controllers.
  // cpu_dir: empty without the cpu controller.
  InstanceCgroupImpl(bool v2, std::string memory_dir, std::string pids_dir, std::string cpu_dir,
                     std::shared_ptr<Graveyard> graveyard)
      : v2_(v2),
        memory_dir_(std::move(memory_dir)),
        pids_dir_(std::move(pids_dir)),
        cpu_dir_(std::move(cpu_dir)),
        graveyard_(std::move(graveyard)) {}

  // Never blocks: what cannot be removed yet is left to the graveyard.
  ~InstanceCgroupImpl() override {
    for (int fd : fds_) ::close(fd);
    for (const std::string& d : dirs()) graveyard_->bury(d);
  }

  Status init(int memory_mb, int max_processes) {
    int64_t bytes = static_cast<int64_t>(memory_mb) * 1024 * 1024;
    for (const std::string& d : dirs()) {
      if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) {
        return internal_error("cgroup: mkdir " + d + ": " + std::strerror(errno));
      }
    }
    bool ok;
    if (v2_) {
      ok = write_file(memory_dir_ + "/memory.max", std::to_string(bytes)) &&
           (write_file(memory_dir_ + "/memory.swap.max", "0") ||
            !exists(memory_dir_ + "/memory.swap.max")) &&
           write_file(pids_dir_ + "/pids.max", std::to_string(max_processes));
    } else {
      ok = write_file(memory_dir_ + "/memory.limit_in_bytes", std::to_string(bytes)) &&
           (!exists(memory_dir_ + "/memory.memsw.limit_in_bytes") ||
            write_file(memory_dir_ + "/memory.memsw.limit_in_bytes", std::to_string(bytes))) &&
           write_file(pids_dir_ + "/pids.max", std::to_string(max_processes));
      write_file(memory_dir_ + "/memory.swappiness", "0");  // best effort
    }
    if (!ok) return internal_error("cgroup: cannot set the limits in " + memory_dir_);
    if (!cpu_dir_.empty()) {
      // One vCPU's share per kMemoryMbPerVcpu of memory (limits.h).
      int64_t shares = static_cast<int64_t>(memory_mb) * (v2_ ? 100 : 1024) / kMemoryMbPerVcpu;
      shares = std::clamp<int64_t>(shares, v2_ ? 1 : 2, v2_ ? 10000 : 262144);
      if (!write_file(cpu_dir_ + (v2_ ? "/cpu.weight" : "/cpu.shares"), std::to_string(shares))) {
        return internal_error("cgroup: cannot set the CPU weight in " + cpu_dir_);
      }
    }
    for (const std::string& d : dirs()) {
      int fd = ::open((d + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) return internal_error("cgroup: open " + d + "/cgroup.procs");
      fds_.push_back(fd);
    }
    return Ok{};
  }

  const std::vector<int>& procs_fds() const override { return fds_; }

  bool oom_killed() const override {
    if (v2_) return keyed_value(read_file(memory_dir_ + "/memory.events"), "oom_kill") > 0;
    return keyed_value(read_file(memory_dir_ + "/memory.oom_control"), "oom_kill") > 0;
  }

  int64_t peak_bytes() const override {
    return read_int(memory_dir_ + (v2_ ? "/memory.peak" : "/memory.max_usage_in_bytes"));
  }

  void kill_all(int sig) override {
    for (const std::string& d : dirs()) kill_procs(d + "/cgroup.procs", sig);
  }

  std::vector<pid_t> pids() const override {
    std::vector<pid_t> out;
    std::ifstream f(memory_dir_ + "/cgroup.procs");
    pid_t pid;
    while (f >> pid) out.push_back(pid);
    return out;
  }

 private:
  // The instance's folders, one per hierarchy (one on v2).
  std::vector<std::string> dirs() const {
    std::vector<std::string> out = {memory_dir_};
    for (const std::string* d : {&pids_dir_, &cpu_dir_}) {
      if (!d->empty() && std::find(out.begin(), out.end(), *d) == out.end()) out.push_back(*d);
    }
    return out;
  }

  const bool v2_;
  const std::string memory_dir_;
  const std::string pids_dir_;
  const std::string cpu_dir_;
  const std::shared_ptr<Graveyard> graveyard_;
  std::vector<int> fds_;
};

class CgroupRootImpl final : public CgroupRoot {
 public:
  // cpu_root: empty without the cpu controller.
  CgroupRootImpl(bool v2, std::string memory_root, std::string pids_root, std::string cpu_root)
      : v2_(v2),
        memory_root_(std::move(memory_root)),
        pids_root_(std::move(pids_root)),
        cpu_root_(std::move(cpu_root)) {}

  ~CgroupRootImpl() override {
    // At node shutdown (not an io thread): give the last instances' folders a moment.
    for (int i = 0; i < 100 && !graveyard_->retry(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::rmdir(memory_root_.c_str());
    if (pids_root_ != memory_root_) ::rmdir(pids_root_.c_str());
    if (!cpu_root_.empty() && cpu_root_ != memory_root_) ::rmdir(cpu_root_.c_str());
  }

  std::string describe() const override {
    if (v2_) return "cgroup v2 (" + memory_root_ + ")";
    std::string out = "cgroup v1 (" + memory_root_ + ", " + pids_root_;
    if (!cpu_root_.empty()) out += ", " + cpu_root_;
    return out + ")";
  }

  bool cpu_weight() const override { return !cpu_root_.empty(); }

  Result<std::unique_ptr<InstanceCgroup>> create(int memory_mb, int max_processes) override {
    // (Appended piecewise: GCC 12 -O3 reports a false -Wrestrict on "i" + std::to_string(n).)
    std::string name = "/i";
    name += std::to_string(next_.fetch_add(1));
    std::string memory_dir = memory_root_ + name;
    std::string pids_dir = v2_ ? memory_dir : pids_root_ + name;
    std::string cpu_dir = cpu_root_.empty() ? std::string() : (v2_ ? memory_dir : cpu_root_ + name);
    graveyard_->retry();
    auto cg = std::make_unique<InstanceCgroupImpl>(v2_, memory_dir, pids_dir, cpu_dir, graveyard_);
    NUBO_TRY(cg->init(memory_mb, max_processes));
    return std::unique_ptr<InstanceCgroup>(std::move(cg));
  }

 private:
  const bool v2_;
  const std::string memory_root_;
  const std::string pids_root_;
  const std::string cpu_root_;
  const std::shared_ptr<Graveyard> graveyard_ = std::make_shared<Graveyard>();
  std::atomic<uint64_t> next_{1};
};

// Folders of nodes that are gone (killed before they could clean up): their instances died with
// them (PR_SET_PDEATHSIG), so the folders are empty and can go.
void remove_stale(const std::string& parent) {
  DIR* d = ::opendir(parent.c_str());
  if (!d) return;
  std::vector<std::string> stale;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind("nubo-", 0) != 0) continue;
    pid_t pid = static_cast<pid_t>(std::strtol(name.c_str() + 5, nullptr, 10));
    if (pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM)) continue;  // still running
    stale.push_back(parent + "/" + name);
  }
  ::closedir(d);
  for (const std::string& dir : stale) {
    if (DIR* sd = ::opendir(dir.c_str())) {
      std::vector<std::string> kids;
      while (struct dirent* e = ::readdir(sd)) {
        if (e->d_type == DT_DIR && e->d_name[0] == 'i') kids.push_back(dir + "/" + e->d_name);
      }
      ::closedir(sd);
      for (const std::string& k : kids) ::rmdir(k.c_str());
    }
    ::rmdir(dir.c_str());
  }
}

bool make_dir(const std::string& dir) {
  return ::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST;
}

}  // namespace

std::unique_ptr<CgroupRoot> open_cgroup_root(std::string* why_not, const std::string& fs) {
  static std::atomic<int> serial{0};
  std::string node = "nubo-" + std::to_string(::getpid()) + "-" + std::to_string(serial++);
  // v1: separate memory and pids hierarchies.
  if (exists(fs + "/memory/memory.limit_in_bytes") || exists(fs + "/memory/cgroup.procs")) {
    if (!exists(fs + "/pids/cgroup.procs")) {
      *why_not = "cgroup v1 has no pids hierarchy at " + fs + "/pids";
      return nullptr;
    }
    std::string mem_parent = fs + "/memory" + own_cgroup("memory");
    std::string pids_parent = fs + "/pids" + own_cgroup("pids");
    while (!mem_parent.empty() && mem_parent.back() == '/') mem_parent.pop_back();
    while (!pids_parent.empty() && pids_parent.back() == '/') pids_parent.pop_back();
    remove_stale(mem_parent);
    remove_stale(pids_parent);
    std::string mem = mem_parent + "/" + node;
    std::string pids = pids_parent + "/" + node;
    if (!make_dir(mem) || !make_dir(pids)) {
      *why_not =
          std::string("cannot create a cgroup under ") + mem_parent + ": " + std::strerror(errno);
      ::rmdir(mem.c_str());
      return nullptr;
    }
    // The cpu hierarchy, where it is mounted (alone or as "cpu,cpuacct"): optional.
    std::string cpu;
    if (exists(fs + "/cpu/cpu.shares")) {
      std::string cpu_parent = fs + "/cpu" + own_cgroup("cpu");
      while (!cpu_parent.empty() && cpu_parent.back() == '/') cpu_parent.pop_back();
      remove_stale(cpu_parent);
      cpu = cpu_parent + "/" + node;
      if (!make_dir(cpu)) cpu.clear();
    }
    return std::make_unique<CgroupRootImpl>(false, mem, pids, cpu);
  }
  // v2: one hierarchy; the node's folder must offer memory and pids to its children.
  if (exists(fs + "/cgroup.controllers")) {
    std::string parent = fs + own_cgroup("");
    while (!parent.empty() && parent.back() == '/') parent.pop_back();
    remove_stale(parent);
    std::string dir = parent + "/" + node;
    if (!make_dir(dir)) {
      *why_not = "cannot create a cgroup under " + parent + ": " + std::strerror(errno);
      return nullptr;
    }
    // The node's folder holds no process, so it may hand both controllers to its children; the
    // parent must have delegated them to it.
    std::string controllers = read_file(dir + "/cgroup.controllers");
    if (controllers.find("memory") == std::string::npos ||
        controllers.find("pids") == std::string::npos ||
        !write_file(dir + "/cgroup.subtree_control", "+memory +pids")) {
      *why_not = "the memory and pids controllers are not delegated to " + parent;
      ::rmdir(dir.c_str());
      return nullptr;
    }
    // The cpu controller is optional.
    std::istringstream words(controllers);
    std::string word;
    bool cpu = false;
    while (words >> word) cpu |= word == "cpu";  // not "cpuset"
    cpu = cpu && write_file(dir + "/cgroup.subtree_control", "+cpu");
    return std::make_unique<CgroupRootImpl>(true, dir, dir, cpu ? dir : std::string());
  }
  *why_not = "no cgroup memory controller mounted at " + fs;
  return nullptr;
}

namespace {

class FastCgroupMovesImpl final : public FastCgroupMoves {
 public:
  explicit FastCgroupMovesImpl(std::string dir) : dir_(std::move(dir)) {}
  ~FastCgroupMovesImpl() override {
    ::umount2(dir_.c_str(), MNT_DETACH);
    ::rmdir(dir_.c_str());
  }

 private:
  const std::string dir_;
};

}  // namespace

std::unique_ptr<FastCgroupMoves> keep_cgroup_moves_fast(const std::string& dir,
                                                        std::string* why_not) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    *why_not = "mkdir " + dir + ": " + std::strerror(errno);
    return nullptr;
  }
  // A node killed before it unmounted left the folder (its mount went with its namespace).
  if (::mount("cgroup", dir.c_str(), "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "none,name=nubo,favordynmods") != 0) {
    *why_not =
        std::string("mounting a cgroup hierarchy with favordynmods: ") + std::strerror(errno);
    ::rmdir(dir.c_str());
    return nullptr;
  }
  return std::make_unique<FastCgroupMovesImpl>(dir);
}

}  // namespace nubo::runtime
