// HttpServer: an HTTP/1.1 keep-alive server on Beast with one coroutine per connection.
//
// Threads: the server accepts on the (first) io_context it is given; each connection runs on one
// io_context for its life (main gives one per core, each run by one thread). listen() and stop()
// may be called from any thread. Each connection's coroutine is sequential, so a connection's
// socket is touched by one operation at a time.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "net/exchange.h"
#include "net/http.h"

namespace nubo::net {

struct ServerLimits {
  uint64_t max_body_bytes = 70ull * 1024 * 1024;  // largest body read; beyond it a 413 answer
  uint32_t max_header_bytes = 64 * 1024;
  // A connection idle this long between requests is closed.
  std::chrono::seconds idle_timeout{300};
  // Answer for a body over max_body_bytes (protocol-specific shape is the caller's choice).
  std::function<Response(const Request&)> too_large;
};

class HttpServer {
 public:
  HttpServer(asio::io_context& io, Handler handler, ServerLimits limits = {});
  // Accepts on shards[0] and gives each new connection to the next shard in turn: the
  // connection's reads, writes and handler run on that shard's thread (net/io_shards.h).
  HttpServer(std::vector<asio::io_context*> shards, Handler handler, ServerLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Requests for which wants(header) is true are given to `handler` as an Exchange, which reads
  // their bodies and writes their answers itself, with no size limit of the server's (S3
  // objects); every other request is read whole (up to max_body_bytes) and given to the
  // Handler. REQUIRES: called before listen() / adopt().
  void stream_bodies(std::function<bool(const http::request_header<>&)> wants,
                     ExchangeHandler handler);

  // Binds and starts accepting. port 0 picks a free port; the bound port is returned.
  Result<uint16_t> listen(const std::string& host, uint16_t port);

  // Starts accepting on fd, a TCP socket that already listens (made elsewhere: inside a function
  // instance's network namespace). Takes ownership of fd, also on error. Returns what stops
  // accepting on it and closes it (connections it accepted go on); that may be called from any
  // thread, also after the server is gone. Any thread.
  Result<std::function<void()>> adopt(int fd);

  // Stops accepting and closes idle connections; requests in flight finish, then their
  // connections close. Returns at once; wait_idle() waits for the connections to end.
  void stop();
  // Blocks until no connection is open or the timeout passes. Must not run on an io thread.
  bool wait_idle(std::chrono::milliseconds timeout);

  size_t open_connections() const;

 public:
  struct State;  // shared with the connection coroutines; defined in server.cc

 private:
  std::shared_ptr<State> state_;
};

}  // namespace nubo::net
