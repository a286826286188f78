#include "net/server.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

namespace nubo::net {
namespace {

using tcp = asio::ip::tcp;

// A server on port 0 with its io_context run by two threads, as the node runs it.
class ServerTest : public ::testing::Test {
 protected:
  void start(Handler h, ServerLimits limits = {}) {
    server_ = std::make_unique<HttpServer>(io_, std::move(h), std::move(limits));
    auto port = server_->listen("127.0.0.1", 0);
    ASSERT_TRUE(port.ok());
    port_ = *port;
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    if (server_) {
      server_->stop();
      server_->wait_idle(std::chrono::seconds(5));
    }
    guard_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }

  // Sends raw bytes on a fresh blocking socket and reads until the peer closes or n responses.
  http::response<http::string_body> roundtrip(beast::tcp_stream& s, Request req) {
    req.prepare_payload();
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    return res;
  }
  beast::tcp_stream connect() {
    asio::io_context& cio = client_io_;
    beast::tcp_stream s(cio);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
    return s;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  asio::io_context client_io_;
  std::unique_ptr<HttpServer> server_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
};

Task<Response> echo(Request& req, const Peer& peer) {
  co_return make_response(req, http::status::ok,
                          std::string(req.target()) + "|" + req.body() + "|" + peer.remote_ip,
                          "text/plain");
}

TEST_F(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  start(echo);
  auto s = connect();
  for (int i = 0; i < 20; ++i) {
    Request req{http::verb::post, "/p?i=" + std::to_string(i), 11};
    req.set(http::field::host, "x");
    req.body() = "body";
    auto res = roundtrip(s, req);
    EXPECT_EQ(res.result(), http::status::ok);
    EXPECT_EQ(res.body(), "/p?i=" + std::to_string(i) + "|body|127.0.0.1");
    EXPECT_TRUE(res.keep_alive());
  }
  EXPECT_EQ(server_->open_connections(), 1u);
}

// A socket listening elsewhere (in a function instance's network namespace, in the node) is
// served like the server's own; its closer stops it alone.
TEST_F(ServerTest, AdoptedListenersServeUntilClosed) {
  start(echo);
  tcp::acceptor made(client_io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  uint16_t adopted_port = made.local_endpoint().port();
  auto closer = server_->adopt(made.release());
  ASSERT_TRUE(closer.ok()) << closer.error().message;
  beast::tcp_stream s(client_io_);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), adopted_port));
  Request req{http::verb::get, "/adopted", 11};
  req.set(http::field::host, "x");
  EXPECT_EQ(roundtrip(s, req).body(), "/adopted||127.0.0.1");
  closer.value()();
  // New connections are refused once the close has run; the accepted one goes on.
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    tcp::socket probe(client_io_);
    boost::system::error_code ec;
    probe.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), adopted_port), ec);
    refused = ec == asio::error::connection_refused;
    if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(refused);
  EXPECT_EQ(roundtrip(s, req).body(), "/adopted||127.0.0.1");
  auto again = connect();  // the server's own listener is untouched
  EXPECT_EQ(roundtrip(again, req).body(), "/adopted||127.0.0.1");
}

TEST_F(ServerTest, BodyOverLimitGets413) {
  ServerLimits limits;
  limits.max_body_bytes = 1024;
  start(echo, limits);
  auto s = connect();
  Request req{http::verb::post, "/big", 11};
  req.set(http::field::host, "x");
  req.body() = std::string(4096, 'x');
  auto res = roundtrip(s, req);
  EXPECT_EQ(res.result(), http::status::payload_too_large);
  EXPECT_FALSE(res.keep_alive());
}

TEST_F(ServerTest, ExpectContinueIsAnswered) {
  start(echo);
  auto s = connect();
  std::string raw =
      "PUT /c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
  asio::write(s.socket(), asio::buffer(raw));
  beast::flat_buffer buf;
  http::response<http::empty_body> cont;
  http::response_parser<http::empty_body> p;
  http::read_header(s, buf, p);
  EXPECT_EQ(p.get().result(), http::status::continue_);
  asio::write(s.socket(), asio::buffer(std::string("abc")));
  http::response<http::string_body> res;
  http::read(s, buf, res);
  EXPECT_EQ(res.body(), "/c|abc|127.0.0.1");
}

TEST_F(ServerTest, HandlerExceptionBecomes500AndServerLives) {
  start([](Request& req, const Peer&) -> Task<Response> {
    if (req.target() == "/throw") throw std::runtime_error("boom");
    co_return make_response(req, http::status::ok, "fine");
  });
  auto s = connect();
  Request bad{http::verb::get, "/throw", 11};
  bad.set(http::field::host, "x");
  EXPECT_EQ(roundtrip(s, bad).result(), http::status::internal_server_error);
  Request good{http::verb::get, "/ok", 11};
  good.set(http::field::host, "x");
  EXPECT_EQ(roundtrip(s, good).body(), "fine");
}

TEST_F(ServerTest, StopLetsInFlightRequestFinish) {
  start([this](Request& req, const Peer&) -> Task<Response> {
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(300));
    co_await t.async_wait(asio::use_awaitable);
    co_return make_response(req, http::status::ok, "late");
  });
  auto s = connect();
  Request req{http::verb::get, "/slow", 11};
  req.set(http::field::host, "x");
  http::write(s, req);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server_->stop();
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  EXPECT_EQ(res.body(), "late");
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(server_->wait_idle(std::chrono::seconds(5)));
  // No new connections are accepted.
  beast::tcp_stream s2(client_io_);
  boost::system::error_code ec;
  s2.socket().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
  EXPECT_TRUE(ec);
}

// The bytes on the wire, as Beast's own serializer would write them: status line with the reason,
// the handler's fields in order, Content-Length added when the handler left it out, the body.
TEST_F(ServerTest, ResponseBytesOnTheWire) {
  start([](Request& req, const Peer&) -> Task<Response> {
    Response res{http::status::created, req.version()};
    res.set("X-One", "1");
    res.set(http::field::content_type, "text/plain");
    res.body() = req.target() == "/close" ? "bye" : "abc";
    if (req.target() == "/close") res.keep_alive(false);
    co_return res;
  });
  auto s = connect();
  auto exchange = [&](const std::string& raw, size_t expect) {
    asio::write(s.socket(), asio::buffer(raw));
    std::string got(expect, '\0');
    asio::read(s.socket(), asio::buffer(got));
    return got;
  };
  std::string a =
      "HTTP/1.1 201 Created\r\nX-One: 1\r\nContent-Type: text/plain\r\n"
      "Content-Length: 3\r\n\r\nabc";
  EXPECT_EQ(exchange("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", a.size()), a);
  std::string b =
      "HTTP/1.1 201 Created\r\nX-One: 1\r\nContent-Type: text/plain\r\n"
      "Connection: close\r\nContent-Length: 3\r\n\r\nbye";
  EXPECT_EQ(exchange("GET /close HTTP/1.1\r\nHost: x\r\n\r\n", b.size()), b);
  char extra;
  boost::system::error_code ec;
  asio::read(s.socket(), asio::buffer(&extra, 1), ec);
  EXPECT_EQ(ec, asio::error::eof);  // closed after the keep-alive: false answer
}

}  // namespace
}  // namespace nubo::net
