// IoShards: the node's io threads, one io_context per thread (a "shard", as in Seastar).
//
// A connection lives on one shard for its life, and so does an instance's Runtime API endpoint:
// an invoke whose connection and instance share a shard runs on one thread from the request to
// the response, with no wake-up of another thread (on a small VM each one costs more than the
// rest of a warm invoke). Work crosses shards only through posts (net::OneShot and the like).
//
// Threads: construct and run() from main; stop() from any thread; current() from any thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <memory>
#include <vector>

namespace nubo::net {

class IoShards {
 public:
  explicit IoShards(int count);
  ~IoShards();
  IoShards(const IoShards&) = delete;
  IoShards& operator=(const IoShards&) = delete;

  size_t size() const { return shards_.size(); }
  boost::asio::io_context& shard(size_t i) { return *shards_[i]; }
  // Every shard, for servers that spread their connections over them.
  std::vector<boost::asio::io_context*> all();

  // Runs every shard until stop(): shards 1..n-1 on threads of their own, shard 0 on the caller.
  void run();
  void stop();

  // The io_context whose thread is calling, or null off the io threads (of every IoShards).
  static boost::asio::io_context* current();

 private:
  std::vector<std::unique_ptr<boost::asio::io_context>> shards_;
};

}  // namespace nubo::net
