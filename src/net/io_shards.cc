#include "net/io_shards.h"

#include <boost/asio/executor_work_guard.hpp>
#include <thread>

#include "base/cpu_affinity.h"

namespace nubo::net {

namespace {
thread_local boost::asio::io_context* t_current = nullptr;

void run_shard(boost::asio::io_context& io, int cpu) {
  t_current = &io;
  if (cpu >= 0) set_thread_cpus({cpu});  // best effort: unpinned if refused
  auto guard = boost::asio::make_work_guard(io);
  io.run();
  t_current = nullptr;
}
}  // namespace

IoShards::IoShards(int count, std::vector<int> cpus) {
  if (count < 1) count = 1;
  for (int i = 0; i < count; ++i) {
    // Concurrency hint 1: each context is run by exactly one thread.
    shards_.push_back(std::make_unique<boost::asio::io_context>(1));
    cpus_.push_back(static_cast<size_t>(i) < cpus.size() && cpus[i] >= 0 ? cpus[i] : -1);
  }
}

int IoShards::cpu_of(const boost::asio::io_context* io) const {
  for (size_t i = 0; i < shards_.size(); ++i) {
    if (shards_[i].get() == io) return cpus_[i];
  }
  return -1;
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
    threads.emplace_back([this, i] { run_shard(*shards_[i], cpus_[i]); });
  }
  std::vector<int> before = allowed_cpus();
  run_shard(*shards_[0], cpus_[0]);
  if (cpus_[0] >= 0 && !before.empty()) set_thread_cpus(before);
  for (auto& t : threads) t.join();
}

void IoShards::stop() {
  for (auto& s : shards_) s->stop();
}

boost::asio::io_context* IoShards::current() {
  return t_current;
}

}  // namespace nubo::net
