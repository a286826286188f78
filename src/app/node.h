// Node: one nubo node — the store, the services, the invoker and the front door, wired together.
//
// Threads: the node owns one io_context run by config.io_threads threads (one per core by
// default) and a small blocking pool for disk and process work. create() and start() run on the
// main thread; stop() from any thread that is not an io thread.
#pragma once

#include <memory>

#include "base/config.h"
#include "base/result.h"

namespace nubo::app {

class Node {
 public:
  // Opens the data directory and the store, builds the services. Nothing listens yet.
  static Result<std::unique_ptr<Node>> create(NodeConfig config);
  ~Node();

  // Binds the front door and starts the services; returns the bound port.
  Result<uint16_t> start();

  // Runs the io threads until stop() completes. Installs SIGTERM/SIGINT handlers that call
  // stop(). Returns the process exit code.
  int run();

  // Graceful stop: stops accepting, lets requests in flight finish, stops every instance.
  void stop();

  const NodeConfig& config() const;

 private:
  Node();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nubo::app
