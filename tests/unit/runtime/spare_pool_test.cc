#include "runtime/spare_pool.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "runtime/process_sandbox.h"
#include "test_util.h"

namespace nubo::runtime {
namespace {

using testing::process_exists;
using testing::TempDir;

// A stand-in interpreter: prints the environment it started with, then what arrives on fd 3
// (NULs as newlines) until EOF, then exits.
LaunchSpec interpreter(const std::string& cwd, std::vector<std::string> env) {
  LaunchSpec s;
  s.executable = "/bin/sh";
  s.argv = {"sh", "-c", "env | sort; echo ---; tr '\\0' '\\n' <&3; echo ---; pwd"};
  s.env = std::move(env);
  s.cwd = cwd;
  return s;
}

std::string read_until_eof(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    struct pollfd pfd = {fd, POLLIN, 0};
    if (::poll(&pfd, 1, 5000) <= 0) break;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EAGAIN) continue;
    break;
  }
  ::close(fd);
  return out;
}

class SparePoolTest : public ::testing::Test {
 protected:
  std::unique_ptr<Sandbox> sandbox_ = make_process_sandbox();
  TempDir dir_;
};

TEST_F(SparePoolTest, KeyIsTheCommandLineAndTheStartupEnvironment) {
  LaunchSpec a = interpreter("/", {"PATH=/bin", "LD_LIBRARY_PATH=/x", "SECRET=1", "_HANDLER=a"});
  LaunchSpec b = a;
  b.env = {"_HANDLER=b", "SECRET=2", "LD_LIBRARY_PATH=/x", "PATH=/bin"};  // order does not matter
  b.cwd = "/tmp";
  EXPECT_EQ(SparePool::startup_key(a), SparePool::startup_key(b));
  LaunchSpec c = a;
  c.env[1] = "LD_LIBRARY_PATH=/y";
  EXPECT_NE(SparePool::startup_key(a), SparePool::startup_key(c));
  LaunchSpec d = a;
  d.argv.push_back("extra");
  EXPECT_NE(SparePool::startup_key(a), SparePool::startup_key(d));
  for (const char* v :
       {"PYTHONPATH", "NODE_OPTIONS", "LD_PRELOAD", "LANG", "LC_ALL", "TZ", "PATH"}) {
    EXPECT_TRUE(SparePool::startup_variable(v)) << v;
  }
  for (const char* v : {"AWS_SECRET_ACCESS_KEY", "_HANDLER", "AWS_LAMBDA_RUNTIME_API", "MY_VAR"}) {
    EXPECT_FALSE(SparePool::startup_variable(v)) << v;
  }
}

TEST_F(SparePoolTest, SpareStartsWithoutTheFunctionEnvironmentAndReceivesItOnTake) {
  SparePool pool(sandbox_.get(), {});
  LaunchSpec first = interpreter(dir_.path(), {"PATH=/usr/bin:/bin", "SECRET=one", "LANG=C"});
  EXPECT_EQ(pool.take(first), nullptr);  // nothing started yet
  EXPECT_EQ(pool.misses(), 1u);
  pool.replenish(first);
  ASSERT_EQ(pool.size(), 1u);

  LaunchSpec second = interpreter(dir_.path(), {"PATH=/usr/bin:/bin", "SECRET=two", "LANG=C"});
  auto proc = pool.take(second);
  ASSERT_NE(proc, nullptr);
  EXPECT_EQ(pool.hits(), 1u);
  EXPECT_EQ(pool.size(), 0u);
  std::string out = read_until_eof(proc->take_output_fd());
  size_t sep = out.find("---\n");
  ASSERT_NE(sep, std::string::npos) << out;
  std::string started_with = out.substr(0, sep);
  std::string assigned = out.substr(sep + 4);
  // Started with the start-up variables only: no secret in a process no function owns yet.
  EXPECT_NE(started_with.find("NUBO_SPARE_FD=3\n"), std::string::npos) << started_with;
  EXPECT_NE(started_with.find("LANG=C\n"), std::string::npos) << started_with;
  EXPECT_EQ(started_with.find("SECRET"), std::string::npos) << started_with;
  // Then the whole environment of the launch it was taken for, and its working directory.
  EXPECT_EQ(assigned.rfind("nubo-spare-1\n" + dir_.path() + "\n", 0), 0u) << assigned;
  EXPECT_NE(assigned.find("SECRET=two\n"), std::string::npos) << assigned;
  EXPECT_EQ(assigned.find("SECRET=one"), std::string::npos) << assigned;
  // The spare itself starts in / (it is not any function's yet).
  EXPECT_NE(assigned.find("---\n/\n"), std::string::npos) << assigned;
}

TEST_F(SparePoolTest, AnotherStartupEnvironmentDoesNotTakeTheSpare) {
  SparePool pool(sandbox_.get(), {});
  pool.replenish(interpreter("/", {"PATH=/bin", "PYTHONPATH=/a"}));
  EXPECT_EQ(pool.take(interpreter("/", {"PATH=/bin", "PYTHONPATH=/b"})), nullptr);
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_NE(pool.take(interpreter("/", {"PATH=/bin", "PYTHONPATH=/a"})), nullptr);
}

TEST_F(SparePoolTest, DeadSpareIsNeverHandedOut) {
  SparePool pool(sandbox_.get(), {});
  LaunchSpec s;
  s.executable = "/bin/sh";
  s.argv = {"sh", "-c", "exit 3"};
  s.env = {"PATH=/bin"};
  s.cwd = "/";
  pool.replenish(s);
  ASSERT_EQ(pool.size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // it has exited by now
  EXPECT_EQ(pool.take(s), nullptr);
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(pool.hits(), 0u);
}

TEST_F(SparePoolTest, KeepsAtMostMaxSparesDroppingTheLeastRecentlyUsed) {
  SparePool::Options o;
  o.max_spares = 1;
  SparePool pool(sandbox_.get(), o);
  LaunchSpec a = interpreter("/", {"PATH=/bin", "LANG=a"});
  LaunchSpec b = interpreter("/", {"PATH=/bin", "LANG=b"});
  pool.replenish(a);
  pool.replenish(b);
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(pool.take(a), nullptr);
  EXPECT_NE(pool.take(b), nullptr);
}

TEST_F(SparePoolTest, ExpireAndClearKillTheSpares) {
  SparePool::Options o;
  o.idle_timeout = std::chrono::milliseconds(0);
  SparePool pool(sandbox_.get(), o);
  LaunchSpec a = interpreter("/", {"PATH=/bin"});
  pool.replenish(a);
  ASSERT_EQ(pool.size(), 1u);
  pid_t expired = pool.pids().at(0);
  pool.expire(std::chrono::steady_clock::now());
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_FALSE(process_exists(expired));

  pool.replenish(a);
  auto taken = pool.take(a);
  ASSERT_NE(taken, nullptr);
  pid_t pid = taken->pid();
  taken.reset();  // kills and reaps
  EXPECT_FALSE(process_exists(pid));

  pool.replenish(a);
  ASSERT_EQ(pool.size(), 1u);
  pool.clear();
  EXPECT_EQ(pool.size(), 0u);
  pool.replenish(a);  // closed: no new spare
  EXPECT_EQ(pool.size(), 0u);
}

TEST_F(SparePoolTest, CodeThatRunsAtStartupNeverGoesThroughASpare) {
  SparePool pool(sandbox_.get(), {});
  for (const char* v : {"NODE_OPTIONS=--require ./pre.js", "LD_PRELOAD=/var/task/hook.so",
                        "LD_AUDIT=/var/task/audit.so"}) {
    LaunchSpec s = interpreter("/", {"PATH=/bin", v});
    EXPECT_FALSE(SparePool::eligible(s)) << v;
    pool.replenish(s);
    EXPECT_EQ(pool.size(), 0u) << v;
    EXPECT_EQ(pool.take(s), nullptr) << v;
  }
  LaunchSpec plain = interpreter("/", {"PATH=/bin", "NODE_PATH=/opt", "LD_LIBRARY_PATH=/x"});
  EXPECT_TRUE(SparePool::eligible(plain));
  pool.replenish(plain);
  EXPECT_EQ(pool.size(), 1u);
}

TEST_F(SparePoolTest, ClearKillsTheProcesses) {
  SparePool pool(sandbox_.get(), {});
  LaunchSpec s;
  s.executable = "/bin/sh";
  s.argv = {"sh", "-c", "exec sleep 30"};  // sleep ignores fd 3: only a kill ends it
  s.env = {"PATH=/bin:/usr/bin"};
  s.cwd = "/";
  pool.replenish(s);
  std::vector<pid_t> pids = pool.pids();
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_TRUE(process_exists(pids[0]));
  pool.clear();
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_FALSE(process_exists(pids[0]));
}

}  // namespace
}  // namespace nubo::runtime
