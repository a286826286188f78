#include "net/async.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>

namespace nubo::net {
namespace {

TEST(OneShotTest, ValueSetBeforeOrAfterWaitIsDelivered) {
  asio::io_context io;
  auto early = OneShot<int>::make();
  EXPECT_TRUE(early->set(1));
  EXPECT_FALSE(early->set(2));  // first set wins
  auto late = OneShot<std::string>::make();
  int got_early = 0;
  std::string got_late;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        got_early = co_await early->async_wait();
        got_late = co_await late->async_wait();
      },
      asio::detached);
  std::thread setter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    late->set("from another thread");
  });
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  setter.join();
  for (int i = 0; i < 200 && got_late.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  guard.reset();
  io.stop();
  runner.join();
  EXPECT_EQ(got_early, 1);
  EXPECT_EQ(got_late, "from another thread");
}

TEST(RunBlockingTest, RunsOnPoolAndResumesCaller) {
  asio::io_context io;
  asio::thread_pool pool(1);
  std::thread::id io_thread = std::this_thread::get_id(), pool_thread, resumed_thread;
  int result = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        result = co_await run_blocking(pool, [&] {
          pool_thread = std::this_thread::get_id();
          return 42;
        });
        resumed_thread = std::this_thread::get_id();
      },
      asio::detached);
  io.run();
  pool.join();
  EXPECT_EQ(result, 42);
  EXPECT_NE(pool_thread, io_thread);
  EXPECT_EQ(resumed_thread, io_thread);
}

}  // namespace
}  // namespace nubo::net
