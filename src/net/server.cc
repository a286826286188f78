#include "net/server.h"

#include <sys/socket.h>
#include <unistd.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <exception>
#include <list>
#include <mutex>

#include "base/log.h"

namespace nubo::net {

using tcp = asio::ip::tcp;

namespace {

// A connection's operations are sequential (one coroutine), so it needs no strand; other threads
// never touch its Asio objects (stop() uses shutdown(2) on the descriptor, which the kernel makes
// safe). The executor is named by its concrete type: with Boost 1.81 and GCC 12 a strand held in
// the type-erased executor of Beast's timeout handler was released twice (seen under ASan).
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Stream = beast::basic_stream<tcp, Executor>;

// One open connection, shared by its coroutine and the server's list (for stop()).
struct Conn {
  explicit Conn(Socket s) : native_fd(s.native_handle()), stream(std::move(s)) {}
  const int native_fd;  // valid until the session closes it, which removes the Conn from the
                        // list under the server's mutex first
  Stream stream;
  std::atomic<bool> idle{true};
};

// The Exchange of one streamed request on a connection: reads go through the request's
// buffer_body parser, writes straight to the socket.
class ConnExchange final : public Exchange {
 public:
  ConnExchange(Stream& stream, beast::flat_buffer& buffer,
               http::request_parser<http::buffer_body>& parser)
      : stream_(stream), buffer_(buffer), parser_(parser), head_(parser.get().base()) {}

  const Request& request() const override { return head_; }
  bool body_done() const override { return parser_.is_done(); }
  bool head_written() const override { return head_written_; }
  bool keep_alive() const { return keep_alive_; }
  void abandon() override { keep_alive_ = false; }

  Task<Result<size_t>> read(std::span<char> buf) override {
    while (!parser_.is_done() && !buf.empty()) {
      parser_.get().body().data = buf.data();
      parser_.get().body().size = buf.size();
      parser_.get().body().more = true;
      stream_.expires_after(std::chrono::seconds(120));
      auto [ec, n] = co_await http::async_read_some(stream_, buffer_, parser_,
                                                    asio::as_tuple(asio::use_awaitable));
      stream_.expires_never();
      if (ec && ec != http::error::need_buffer) {
        co_return Error{"IncompleteBody", 400,
                        "You did not provide the number of bytes specified by the "
                        "Content-Length HTTP header"};
      }
      size_t got = buf.size() - parser_.get().body().size;
      if (got > 0) co_return got;
    }
    co_return size_t{0};
  }

  Task<Status> write_head(http::response_header<> head) override {
    head_written_ = true;
    std::string_view connection = head[http::field::connection];
    keep_alive_ = head.version() >= 11 ? !beast::iequals(connection, "close")
                                       : beast::iequals(connection, "keep-alive");
    std::string out;
    out += head.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    out += std::to_string(head.result_int());
    out += ' ';
    out += head.reason();
    out += "\r\n";
    for (const auto& f : head) {
      out += f.name_string();
      out += ": ";
      out += f.value();
      out += "\r\n";
    }
    out += "\r\n";
    co_return co_await write(out);
  }

  Task<Status> write(std::string_view bytes) override {
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()),
                                              asio::as_tuple(asio::use_awaitable));
    if (ec) co_return Error{"RequestTimeout", 400, "the connection closed: " + ec.message()};
    co_return Ok{};
  }

 private:
  Stream& stream_;
  beast::flat_buffer& buffer_;
  http::request_parser<http::buffer_body>& parser_;
  Request head_;
  bool head_written_ = false;
  bool keep_alive_ = false;
};

}  // namespace

struct HttpServer::State : std::enable_shared_from_this<HttpServer::State> {
  asio::io_context& io;                   // the acceptors'
  std::vector<asio::io_context*> shards;  // the connections', in turn
  std::atomic<size_t> next_shard{0};
  Handler handler;
  ServerLimits limits;
  // Set before the first connection (stream_bodies), read-only after.
  std::function<bool(const http::request_header<>&)> wants_exchange;
  ExchangeHandler exchange;
  std::atomic<bool> stopped{false};

  std::mutex mu;
  std::condition_variable cv;
  std::list<std::shared_ptr<Conn>> conns;                 // GUARDED_BY(mu)
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors;  // GUARDED_BY(mu)
  int accept_loops = 0;                                   // GUARDED_BY(mu)

  State(std::vector<asio::io_context*> shards_, Handler h, ServerLimits l)
      : io(*shards_.at(0)),
        shards(std::move(shards_)),
        handler(std::move(h)),
        limits(std::move(l)) {}

  asio::io_context& pick_shard() {
    return *shards[next_shard.fetch_add(1, std::memory_order_relaxed) % shards.size()];
  }

  void done_one() {
    std::lock_guard lock(mu);
    cv.notify_all();
  }
};

namespace {

Response too_large_default(const Request& req) {
  Response res = make_response(req, http::status::payload_too_large,
                               R"({"message":"Request entity too large"})");
  res.keep_alive(false);
  return res;
}

// Answers a request whose body is over the limit, then drains what the client is still sending
// (for at most a few seconds and a bounded amount) so that closing does not reset the connection
// before the client has read the answer.
asio::awaitable<void> refuse_too_large(HttpServer::State& st, Conn& conn, const Request& req) {
  Response res = st.limits.too_large ? st.limits.too_large(req) : too_large_default(req);
  res.keep_alive(false);
  co_await http::async_write(conn.stream, res, asio::use_awaitable);
  boost::system::error_code ec;
  conn.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  conn.stream.expires_after(std::chrono::seconds(5));
  static constexpr size_t kMaxDrain = 256ull * 1024 * 1024;
  std::vector<char> sink(64 * 1024);
  size_t drained = 0;
  while (drained < kMaxDrain) {
    auto [rec, n] = co_await conn.stream.async_read_some(asio::buffer(sink),
                                                         asio::as_tuple(asio::use_awaitable));
    if (rec) break;
    drained += n;
  }
}

// The status line and header fields of res, as Beast's serializer writes them, into out (reused
// from one response to the next). One pass over the fields instead of the serializer's generic
// buffer-sequence walk, which was ~4% of the node's CPU per warm invoke. Sets Content-Length if
// the handler did not. REQUIRES: !res.chunked().
void serialize_head(Response& res, std::string& out) {
  if (res.find(http::field::content_length) == res.end()) res.prepare_payload();
  out.clear();
  out += res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(res.result_int());
  out += ' ';
  out += res.reason();
  out += "\r\n";
  for (const auto& f : res) {
    out += f.name_string();
    out += ": ";
    out += f.value();
    out += "\r\n";
  }
  out += "\r\n";
}

// A body larger than this gets a read buffer of up to kBodyReadBytes.
constexpr uint64_t kSmallBodyBytes = 16 * 1024;
constexpr uint64_t kBodyReadBytes = 256 * 1024;

asio::awaitable<void> session(std::shared_ptr<HttpServer::State> st, std::shared_ptr<Conn> conn,
                              std::list<std::shared_ptr<Conn>>::iterator self_it) {
  beast::flat_buffer buffer;
  std::string head;  // the serialized header of the response being written
  Peer peer;
  {
    boost::system::error_code ec;
    auto rep = conn->stream.socket().remote_endpoint(ec);
    if (!ec) {
      peer.remote_ip = rep.address().to_string();
      peer.remote_port = rep.port();
    }
    auto lep = conn->stream.socket().local_endpoint(ec);
    if (!ec) peer.local_port = lep.port();
  }
  try {
    while (!st->stopped.load()) {
      // An idle connection does not keep a large body's read buffer.
      if (buffer.capacity() > kSmallBodyBytes && buffer.size() == 0) buffer.shrink_to_fit();
      // The header first: it says whether the body is read here or by an exchange handler.
      http::request_parser<http::empty_body> header_parser;
      header_parser.header_limit(st->limits.max_header_bytes);
      header_parser.body_limit(boost::none);
      conn->idle = true;
      conn->stream.expires_after(st->limits.idle_timeout);
      auto [ec, n] = co_await http::async_read_header(conn->stream, buffer, header_parser,
                                                      asio::as_tuple(asio::use_awaitable));
      if (ec) break;  // closed, timed out, cancelled by stop(), or a malformed header
      conn->idle = false;
      conn->stream.expires_never();
      // Beast reads as much as the buffer has room for, and the buffer has only what the header
      // needed (512 bytes a read): room for large reads before a large body.
      if (auto cl = header_parser.content_length(); cl && *cl > kSmallBodyBytes) {
        buffer.reserve(static_cast<size_t>(std::min<uint64_t>(*cl, kBodyReadBytes)));
      } else if (header_parser.chunked()) {
        buffer.reserve(kBodyReadBytes);
      }
      if (header_parser.get()[http::field::expect] == "100-continue") {
        http::response<http::empty_body> cont{http::status::continue_,
                                              header_parser.get().version()};
        co_await http::async_write(conn->stream, cont, asio::use_awaitable);
      }
      if (st->wants_exchange && st->wants_exchange(header_parser.get())) {
        http::request_parser<http::buffer_body> body_parser{std::move(header_parser)};
        body_parser.body_limit(boost::none);
        ConnExchange ex(conn->stream, buffer, body_parser);
        bool failed = false;
        try {
          co_await st->exchange(ex, peer);
        } catch (const std::exception& e) {
          log_error(std::string("exchange handler failed: ") + e.what());
          failed = true;
        }
        if (!ex.head_written()) {
          Response res =
              make_response(ex.request(), http::status::internal_server_error,
                            R"({"__type":"InternalFailure","message":"internal error"})");
          res.keep_alive(false);
          auto responding = ex.respond(std::move(res));
          co_await std::move(responding);
          break;
        }
        // A body left unread (an early error answer): read and drop a bounded amount of it, so
        // the client is not reset before it reads the answer and the connection can go on.
        static constexpr size_t kMaxDrain = 16 * 1024 * 1024;
        std::vector<char> sink;
        size_t drained = 0;
        while (!failed && !ex.body_done() && drained < kMaxDrain) {
          sink.resize(64 * 1024);
          auto reading = ex.read(std::span<char>(sink.data(), sink.size()));
          auto got = co_await std::move(reading);
          if (!got.ok() || *got == 0) break;
          drained += *got;
        }
        if (failed || !ex.keep_alive() || !ex.body_done() || st->stopped.load()) break;
        continue;
      }
      http::request_parser<http::string_body> parser{std::move(header_parser)};
      parser.body_limit(st->limits.max_body_bytes);
      if (auto cl = parser.content_length(); cl && *cl > st->limits.max_body_bytes) {
        co_await refuse_too_large(*st, *conn, parser.get());
        break;
      }
      if (!parser.is_done()) {
        conn->stream.expires_after(std::chrono::seconds(120));
        auto [ec2, n2] = co_await http::async_read(conn->stream, buffer, parser,
                                                   asio::as_tuple(asio::use_awaitable));
        conn->stream.expires_never();
        if (ec2 == http::error::body_limit) {
          co_await refuse_too_large(*st, *conn, parser.get());
          break;
        }
        if (ec2) break;
      }
      Request req = parser.release();
      Response res;
      bool ok = true;
      try {
        res = co_await st->handler(req, peer);
      } catch (const std::exception& e) {
        log_error(std::string("request handler failed: ") + e.what());
        ok = false;
      }
      if (!ok) {
        res = make_response(req, http::status::internal_server_error,
                            R"({"__type":"InternalFailure","message":"internal error"})");
      }
      if (st->stopped.load()) res.keep_alive(false);
      bool keep = res.keep_alive();
      if (res.chunked()) {
        co_await http::async_write(conn->stream, res, asio::use_awaitable);
      } else {
        serialize_head(res, head);
        std::array<asio::const_buffer, 2> out = {asio::buffer(head), asio::buffer(res.body())};
        co_await asio::async_write(conn->stream, out, asio::use_awaitable);
      }
      if (!keep) break;
    }
  } catch (const std::exception&) {
    // A write failed (peer went away): the connection ends here.
  }
  {
    // Leave the list before closing, so stop() never shuts down a descriptor that was reused.
    std::lock_guard lock(st->mu);
    st->conns.erase(self_it);
  }
  boost::system::error_code ignored;
  conn->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  conn->stream.socket().close(ignored);
  {
    std::lock_guard lock(st->mu);
    st->cv.notify_all();
  }
}

asio::awaitable<void> accept_loop(std::shared_ptr<HttpServer::State> st,
                                  std::shared_ptr<tcp::acceptor> acceptor) {
  while (!st->stopped.load()) {
    asio::io_context& home = st->pick_shard();
    Socket socket(home.get_executor());
    auto [ec] = co_await acceptor->async_accept(socket, asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (st->stopped.load() || ec == asio::error::operation_aborted) break;
      // Out of fds and the like: keep serving the connections we have, try again shortly.
      log_warn("accept failed: " + ec.message());
      asio::steady_timer t(st->io, std::chrono::milliseconds(50));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto conn = std::make_shared<Conn>(std::move(socket));
    std::list<std::shared_ptr<Conn>>::iterator it;
    {
      std::lock_guard lock(st->mu);
      if (st->stopped.load()) break;
      it = st->conns.insert(st->conns.end(), conn);
    }
    asio::co_spawn(home.get_executor(), session(st, conn, it), asio::detached);
  }
  std::lock_guard lock(st->mu);
  --st->accept_loops;
  st->cv.notify_all();
}

}  // namespace

HttpServer::HttpServer(asio::io_context& io, Handler handler, ServerLimits limits)
    : HttpServer(std::vector<asio::io_context*>{&io}, std::move(handler), std::move(limits)) {}

HttpServer::HttpServer(std::vector<asio::io_context*> shards, Handler handler, ServerLimits limits)
    : state_(std::make_shared<State>(std::move(shards), std::move(handler), std::move(limits))) {}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::stream_bodies(std::function<bool(const http::request_header<>&)> wants,
                               ExchangeHandler handler) {
  state_->wants_exchange = std::move(wants);
  state_->exchange = std::move(handler);
}

Result<uint16_t> HttpServer::listen(const std::string& host, uint16_t port) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return Error{"InvalidArgument", 400, "bad listen address " + host + ": " + ec.message()};
  auto acceptor = std::make_shared<tcp::acceptor>(state_->io);
  tcp::endpoint ep(addr, port);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error{"AddressInUse", 500,
                 "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message()};
  }
  uint16_t bound = acceptor->local_endpoint().port();
  {
    std::lock_guard lock(state_->mu);
    state_->acceptors.push_back(acceptor);
    ++state_->accept_loops;
  }
  asio::co_spawn(state_->io, accept_loop(state_, acceptor), asio::detached);
  return bound;
}

Result<std::function<void()>> HttpServer::adopt(int fd) {
  auto acceptor = std::make_shared<tcp::acceptor>(state_->io);
  boost::system::error_code ec;
  acceptor->assign(tcp::v4(), fd, ec);
  if (ec) {
    ::close(fd);
    return Error{"ServiceException", 500, "cannot accept on an adopted socket: " + ec.message()};
  }
  {
    std::lock_guard lock(state_->mu);
    if (state_->stopped.load()) {
      acceptor->close(ec);
      return Error{"ServiceException", 500, "the server is stopping"};
    }
    state_->acceptors.push_back(acceptor);
    ++state_->accept_loops;
  }
  asio::co_spawn(state_->io, accept_loop(state_, acceptor), asio::detached);
  // Holds the state, not the server: callable after the server is destroyed.
  std::weak_ptr<State> weak = state_;
  return std::function<void()>([weak, acceptor] {
    auto st = weak.lock();
    if (!st) return;
    std::lock_guard lock(st->mu);
    st->acceptors.erase(std::remove(st->acceptors.begin(), st->acceptors.end(), acceptor),
                        st->acceptors.end());
    // As in stop(): the close runs on the acceptors' io_context.
    asio::post(st->io, [acceptor] {
      boost::system::error_code ignored;
      acceptor->close(ignored);
    });
  });
}

void HttpServer::stop() {
  auto st = state_;
  if (st->stopped.exchange(true)) return;
  std::lock_guard lock(st->mu);
  for (auto& a : st->acceptors) {
    // Closing from another thread races with async_accept; post the close to the io_context.
    asio::post(st->io, [a] {
      boost::system::error_code ignored;
      a->close(ignored);
    });
  }
  for (auto& c : st->conns) {
    // Idle connections are woken now (their read sees end of stream); busy ones close after
    // their response is written. SHUT_RD leaves a response being written intact.
    if (c->idle.load()) ::shutdown(c->native_fd, SHUT_RD);
  }
}

bool HttpServer::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mu);
  return state_->cv.wait_for(lock, timeout,
                             [&] { return state_->conns.empty() && state_->accept_loops == 0; });
}

size_t HttpServer::open_connections() const {
  std::lock_guard lock(state_->mu);
  return state_->conns.size();
}

}  // namespace nubo::net
