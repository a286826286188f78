#include "runtime/cgroups.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace nubo::runtime {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// The memory hierarchy folder this process runs in (v1), or "" where there is none.
std::string own_memory_cgroup() {
  std::ifstream f("/proc/self/cgroup");
  std::string line;
  while (std::getline(f, line)) {
    auto b = line.find(':', line.find(':') + 1);
    std::string ctrls = line.substr(line.find(':') + 1, b - line.find(':') - 1);
    if (ctrls == "memory") return "/sys/fs/cgroup/memory" + line.substr(b + 1);
  }
  return {};
}

// The folders this process's cgroup roots made ("nubo-<our pid>-<n>") in dir.
int our_folders(const std::string& dir) {
  std::string prefix = "nubo-" + std::to_string(::getpid()) + "-";
  int n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    n += e.path().filename().string().rfind(prefix, 0) == 0 ? 1 : 0;
  }
  return n;
}

// The mount options of the mount at dir in this process's namespace, or "" where there is none.
std::string mount_options(const std::string& dir) {
  std::ifstream f("/proc/self/mounts");
  std::string source, target, type, options;
  while (f >> source >> target >> type >> options) {
    f.ignore(1024, '\n');
    if (target == dir) return type + " " + options;
  }
  return {};
}

TEST(CgroupsTest, FastMovesHoldAHierarchyWithFavordynmodsWhileTheyLive) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a cgroup hierarchy needs root";
  TempDir work;
  std::string dir = work.path() + "/moves";
  std::string why;
  {
    auto fast = keep_cgroup_moves_fast(dir, &why);
    if (!fast && why.find("Invalid argument") != std::string::npos) {
      GTEST_SKIP() << "this kernel has no favordynmods: " << why;
    }
    ASSERT_NE(fast, nullptr) << why;
    std::string options = mount_options(dir);
    EXPECT_EQ(options.rfind("cgroup ", 0), 0u) << options;
    EXPECT_NE(options.find("favordynmods"), std::string::npos) << options;
    EXPECT_NE(options.find("name=nubo"), std::string::npos) << options;
  }
  EXPECT_EQ(mount_options(dir), "");  // unmounted, and the folder removed
  EXPECT_FALSE(fs::exists(dir));
}

TEST(CgroupsTest, WithoutAControllerTheRootSaysWhy) {
  TempDir empty;
  std::string why;
  EXPECT_EQ(open_cgroup_root(&why, empty.path()), nullptr);
  EXPECT_NE(why.find("no cgroup memory controller"), std::string::npos) << why;
}

TEST(CgroupsTest, FoldersComeAndGoWithTheirOwners) {
  std::string why;
  std::string parent = own_memory_cgroup();
  if (parent.empty()) GTEST_SKIP() << "no cgroup v1 memory hierarchy here";
  while (!parent.empty() && parent.back() == '/') parent.pop_back();
  // A folder left by a node that was killed (its pid is not running) goes at the next start.
  std::string stale = parent + "/nubo-999999999-0";
  ::mkdir(stale.c_str(), 0755);
  ::mkdir((stale + "/i1").c_str(), 0755);
  int before = our_folders(parent);
  {
    auto root = open_cgroup_root(&why);
    if (!root) GTEST_SKIP() << why;
    EXPECT_FALSE(fs::exists(stale));
    EXPECT_EQ(our_folders(parent), before + 1);
    EXPECT_NE(root->describe().find("cgroup v1"), std::string::npos);
    {
      auto cg = root->create(64, 16);
      ASSERT_TRUE(cg.ok()) << cg.error().message;
      // memory and pids, and cpu where that hierarchy is mounted
      EXPECT_EQ((*cg)->procs_fds().size(), root->cpu_weight() ? 3u : 2u);
      EXPECT_FALSE((*cg)->oom_killed());
      if (root->cpu_weight()) {
        // A share of the CPU in proportion to memory: 1,769 MB is one vCPU (1024 shares).
        auto big = root->create(1769, 16);
        ASSERT_TRUE(big.ok());
        std::string cpu_root = root->describe();
        cpu_root = cpu_root.substr(cpu_root.rfind(", ") + 2);
        cpu_root.pop_back();  // ")"
        std::vector<std::string> shares;
        for (const auto& e : fs::directory_iterator(cpu_root)) {
          std::ifstream f(e.path() / "cpu.shares");
          std::string v;
          if (e.is_directory() && f >> v) shares.push_back(v);
        }
        std::sort(shares.begin(), shares.end());
        EXPECT_EQ(shares, (std::vector<std::string>{"1024", "37"}));  // 64 MB: 37
      }
    }
  }
  EXPECT_EQ(our_folders(parent), before);  // nothing of this root is left
}

}  // namespace
}  // namespace nubo::runtime
