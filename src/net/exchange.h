// Exchange: one request whose body its handler reads, and whose answer it writes, a piece at a
// time — S3 objects of up to 5 GiB go through nubo without ever being whole in memory.
//
// The server hands an Exchange to its exchange handler for the requests its decider picks (the
// S3 API); every other request is read whole and answered whole (net::Handler). A
// BufferedExchange adapts a request that was read whole (an unsigned S3 request, a test) to the
// same interface.
//
// Threads: an Exchange belongs to its connection's coroutine, on that connection's io thread;
// its calls are sequential (no read or write overlaps another).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "net/http.h"

namespace nubo::net {

class Exchange {
 public:
  virtual ~Exchange() = default;

  // The request's method, target and header fields; its body is empty (read it with read()).
  virtual const Request& request() const = 0;
  // Reads the next bytes of the body into buf (up to buf.size()); 0 once the body is done.
  // Error: the client went away or stalled (the answer cannot be written either).
  virtual Task<Result<size_t>> read(std::span<char> buf) = 0;
  // Whether the whole body has been read.
  virtual bool body_done() const = 0;

  // Writes the status line and header fields. REQUIRES: Content-Length is set (the body then
  // follows in write() calls that add up to it), or the response has no body.
  virtual Task<Status> write_head(http::response_header<> head) = 0;
  virtual Task<Status> write(std::string_view bytes) = 0;
  // Whether write_head() has been called.
  virtual bool head_written() const = 0;
  // The answer could not be finished (fewer body bytes than its Content-Length): the connection
  // must close after it rather than carry another request.
  virtual void abandon() = 0;

  // A whole answer at once.
  Task<Status> respond(Response res);
};

// A handler of exchanges, on the connection's io thread.
using ExchangeHandler = std::function<Task<void>(Exchange&, const Peer&)>;

// An exchange over a request already read whole, whose answer is collected into response().
class BufferedExchange final : public Exchange {
 public:
  explicit BufferedExchange(const Request& req) : req_(req) {}

  const Request& request() const override { return req_; }
  Task<Result<size_t>> read(std::span<char> buf) override;
  bool body_done() const override { return pos_ >= req_.body().size(); }
  Task<Status> write_head(http::response_header<> head) override;
  Task<Status> write(std::string_view bytes) override;
  bool head_written() const override { return written_; }
  void abandon() override { res_.keep_alive(false); }

  // The answer written so far.
  Response& response() { return res_; }

 private:
  const Request& req_;
  size_t pos_ = 0;
  bool written_ = false;
  Response res_;
};

}  // namespace nubo::net
