#include "net/io_shards.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <set>
#include <thread>

#include "base/cpu_affinity.h"
#include "net/server.h"

namespace nubo::net {
namespace {

using tcp = asio::ip::tcp;

TEST(IoShardsTest, EachShardRunsOnItsOwnThread) {
  IoShards shards(3);
  ASSERT_EQ(shards.size(), 3u);
  EXPECT_EQ(IoShards::current(), nullptr);  // not an io thread
  std::thread runner([&] { shards.run(); });
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::promise<void> all_done;
  int left = 3;
  for (size_t i = 0; i < shards.size(); ++i) {
    asio::post(shards.shard(i), [&, i] {
      EXPECT_EQ(IoShards::current(), &shards.shard(i));
      std::lock_guard lock(mu);
      threads.insert(std::this_thread::get_id());
      if (--left == 0) all_done.set_value();
    });
  }
  all_done.get_future().wait();
  shards.stop();
  runner.join();
  EXPECT_EQ(threads.size(), 3u);
}

// A shard given a CPU runs only there; run() gives the calling thread its CPUs back.
TEST(IoShardsTest, AShardGivenACpuRunsThere) {
  std::vector<int> all = allowed_cpus();
  ASSERT_FALSE(all.empty());
  IoShards shards(2, {all.back(), -1});
  EXPECT_EQ(shards.cpu_of(&shards.shard(0)), all.back());
  EXPECT_EQ(shards.cpu_of(&shards.shard(1)), -1);
  asio::io_context other;
  EXPECT_EQ(shards.cpu_of(&other), -1);
  std::vector<int> on0, on1;
  int cpu0 = -2;
  std::thread runner([&] {
    shards.run();
    EXPECT_EQ(allowed_cpus(), all);  // restored
  });
  std::promise<void> done0, done1;
  asio::post(shards.shard(0), [&] {
    on0 = allowed_cpus();
    cpu0 = sched_getcpu();
    done0.set_value();
  });
  asio::post(shards.shard(1), [&] {
    on1 = allowed_cpus();
    done1.set_value();
  });
  done0.get_future().wait();
  done1.get_future().wait();
  shards.stop();
  runner.join();
  EXPECT_EQ(on0, std::vector<int>{all.back()});
  EXPECT_EQ(cpu0, all.back());
  EXPECT_EQ(on1, all);
}

// The server hands connections to the shards in turn; each connection stays on its shard.
TEST(IoShardsTest, ServerKeepsEachConnectionOnOneShard) {
  IoShards shards(2);
  auto all = shards.all();
  HttpServer server(all, [all](Request& req, const Peer&) -> Task<Response> {
    size_t index = 99;
    for (size_t i = 0; i < all.size(); ++i) {
      if (IoShards::current() == all[i]) index = i;
    }
    co_return make_response(req, http::status::ok, std::to_string(index), "text/plain");
  });
  auto port = server.listen("127.0.0.1", 0);
  ASSERT_TRUE(port.ok());
  std::thread runner([&] { shards.run(); });

  asio::io_context cio;
  auto shard_of_requests = [&](beast::tcp_stream& s) {
    std::set<std::string> seen;
    for (int i = 0; i < 3; ++i) {
      Request req{http::verb::get, "/", 11};
      req.set(http::field::host, "x");
      http::write(s, req);
      beast::flat_buffer buf;
      http::response<http::string_body> res;
      http::read(s, buf, res);
      seen.insert(res.body());
    }
    return seen;
  };
  beast::tcp_stream a(cio), b(cio);
  a.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), *port));
  b.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), *port));
  auto on_a = shard_of_requests(a);
  auto on_b = shard_of_requests(b);
  ASSERT_EQ(on_a.size(), 1u);  // every request of a connection on the same shard
  ASSERT_EQ(on_b.size(), 1u);
  EXPECT_NE(*on_a.begin(), *on_b.begin());  // consecutive connections on different shards
  EXPECT_NE(*on_a.begin(), "99");
  EXPECT_NE(*on_b.begin(), "99");

  a.close();
  b.close();
  server.stop();
  EXPECT_TRUE(server.wait_idle(std::chrono::seconds(5)));
  shards.stop();
  runner.join();
}

}  // namespace
}  // namespace nubo::net
