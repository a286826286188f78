// IoShards: the node's io threads, one io_context per thread (a "shard", as in Seastar).
//
// A connection lives on one shard for its life, and so does an instance's Runtime API endpoint:
// an invoke whose connection and instance share a shard runs on one thread from the request to
// the response, with no wake-up of another thread (on a small VM each one costs more than the
// rest of a warm invoke). Work crosses shards only through posts (net::OneShot and the like).
//
// Each shard may be given a CPU: its thread runs only there (base/cpu_affinity.h), and cpu_of()
// tells the instances started for it where to run (runtime/instance.h).
//
// Threads: construct and run() from main; stop(), current() and cpu_of() from any thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <memory>
#include <vector>

namespace nubo::net {

class IoShards {
 public:
  // cpus: the CPU of each shard, in order (shard i on cpus[i]); a shard past its end, or given
  // a negative CPU, runs wherever the kernel puts it.
  explicit IoShards(int count, std::vector<int> cpus = {});
  ~IoShards();
  IoShards(const IoShards&) = delete;
  IoShards& operator=(const IoShards&) = delete;

  size_t size() const { return shards_.size(); }
  boost::asio::io_context& shard(size_t i) { return *shards_[i]; }
  // Every shard, for servers that spread their connections over them.
  std::vector<boost::asio::io_context*> all();

  // The CPU of the shard that runs io, or -1 (not one of these shards, or a shard without one).
  int cpu_of(const boost::asio::io_context* io) const;

  // Runs every shard until stop(): shards 1..n-1 on threads of their own, shard 0 on the caller
  // (restricted to shard 0's CPU until run() returns; threads it starts meanwhile inherit that).
  void run();
  void stop();

  // The io_context whose thread is calling, or null off the io threads (of every IoShards).
  static boost::asio::io_context* current();

 private:
  std::vector<std::unique_ptr<boost::asio::io_context>> shards_;
  std::vector<int> cpus_;  // one per shard, -1: none
};

}  // namespace nubo::net
