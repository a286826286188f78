#include "net/io_shards.h"

#include <boost/asio/executor_work_guard.hpp>
#include <thread>

namespace nubo::net {

namespace {
thread_local boost::asio::io_context* t_current = nullptr;

void run_shard(boost::asio::io_context& io) {
  t_current = &io;
  auto guard = boost::asio::make_work_guard(io);
  io.run();
  t_current = nullptr;
}
}  // namespace

IoShards::IoShards(int count) {
  if (count < 1) count = 1;
  for (int i = 0; i < count; ++i) {
    // Concurrency hint 1: each context is run by exactly one thread.
    shards_.push_back(std::make_unique<boost::asio::io_context>(1));
  }
}

IoShards::~IoShards() = default;

std::vector<boost::asio::io_context*> IoShards::all() {
  std::vector<boost::asio::io_context*> out;
  for (auto& s : shards_) out.push_back(s.get());
  return out;
}

void IoShards::run() {
  std::vector<std::thread> threads;
  for (size_t i = 1; i < shards_.size(); ++i) {
    threads.emplace_back([this, i] { run_shard(*shards_[i]); });
  }
  run_shard(*shards_[0]);
  for (auto& t : threads) t.join();
}

void IoShards::stop() {
  for (auto& s : shards_) s->stop();
}

boost::asio::io_context* IoShards::current() {
  return t_current;
}

}  // namespace nubo::net
