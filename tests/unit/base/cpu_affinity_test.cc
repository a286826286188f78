#include "base/cpu_affinity.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>
#include <chrono>
#include <string>
#include <thread>

namespace nubo {
namespace {

TEST(CpuAffinityTest, AThreadRestrictedToOneCpuRunsThereAndCanBeReleased) {
  std::vector<int> all = allowed_cpus();
  ASSERT_FALSE(all.empty());
  std::thread t([&] {
    ASSERT_TRUE(set_thread_cpus({all.back()}));
    EXPECT_EQ(allowed_cpus(), std::vector<int>{all.back()});
    EXPECT_EQ(sched_getcpu(), all.back());
    ASSERT_TRUE(set_thread_cpus(all));
    EXPECT_EQ(allowed_cpus(), all);
  });
  t.join();
  EXPECT_EQ(allowed_cpus(), all);  // the thread's own: the caller's is untouched
  EXPECT_FALSE(set_thread_cpus({}));
  EXPECT_FALSE(set_thread_cpus({-1}));
}

// A child with two threads: every thread of it moves, and a thread it starts later inherits.
TEST(CpuAffinityTest, EveryThreadOfAProcessMoves) {
  std::vector<int> all = allowed_cpus();
  ASSERT_FALSE(all.empty());
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::thread([] { pause(); }).detach();
    char c;
    if (read(go[0], &c, 1) != 1) _exit(1);
    // Started after the move: inherits the affinity of the thread that starts it.
    std::thread([] { pause(); }).detach();
    pause();
    _exit(0);
  }
  auto task_count = [&] {
    int n = 0;
    std::string dir = "/proc/" + std::to_string(child) + "/task";
    DIR* d = opendir(dir.c_str());
    while (dirent* e = d ? readdir(d) : nullptr) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
  };
  for (int i = 0; i < 200 && task_count() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(task_count(), 2);
  EXPECT_EQ(set_process_cpus({child, 999999999}, {all.front()}), 2);  // the gone pid skipped
  ASSERT_EQ(write(go[1], "x", 1), 1);
  for (int i = 0; i < 200 && task_count() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(task_count(), 3);
  std::string dir = "/proc/" + std::to_string(child) + "/task";
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr);
  int checked = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    EXPECT_EQ(cpus_of(std::stoi(e->d_name)), std::vector<int>{all.front()}) << e->d_name;
    ++checked;
  }
  closedir(d);
  EXPECT_EQ(checked, 3);
  EXPECT_EQ(set_process_cpus({child}, all), 3);
  EXPECT_EQ(cpus_of(child), all);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_TRUE(cpus_of(child).empty());  // gone
  close(go[0]);
  close(go[1]);
}

}  // namespace
}  // namespace nubo
