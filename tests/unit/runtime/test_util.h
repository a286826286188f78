// Helpers shared by the runtime tests: an io_context on worker threads, a blocking HTTP client,
// temp folders and bootstrap scripts.
#pragma once

// GCC 12 at -O3 warns falsely (-Wrestrict) on std::string concatenations (GCC bug 105329).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace nubo::runtime::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

// An io_context run by `threads` threads for the life of the object.
class IoThreads {
 public:
  explicit IoThreads(int threads = 2) : guard_(asio::make_work_guard(io)) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io.run(); });
  }
  ~IoThreads() {
    guard_.reset();
    io.stop();
    for (auto& t : threads_) t.join();
  }
  // The result of a task spawned on the io_context (T need not be default-constructible).
  template <typename T>
  class Pending {
   public:
    explicit Pending(std::future<std::optional<T>> f) : f_(std::move(f)) {}
    T get() { return std::move(*f_.get()); }
    template <typename D>
    std::future_status wait_for(D d) const {
      return f_.wait_for(d);
    }

   private:
    std::future<std::optional<T>> f_;
  };

  // Runs an awaitable on the io_context and waits for its result.
  template <typename T>
  T run(asio::awaitable<T> task) {
    return spawn(std::move(task)).get();
  }
  template <typename T>
  Pending<T> spawn(asio::awaitable<T> task) {
    return Pending<T>(asio::co_spawn(io, wrap(std::move(task)), asio::use_future));
  }
  std::future<void> spawn(asio::awaitable<void> task) {
    return asio::co_spawn(io, std::move(task), asio::use_future);
  }

  asio::io_context io;

 private:
  template <typename T>
  static asio::awaitable<std::optional<T>> wrap(asio::awaitable<T> task) {
    co_return std::optional<T>(co_await std::move(task));
  }

  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
};

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};

// One blocking HTTP/1.1 connection to 127.0.0.1:port.
class HttpClient {
 public:
  explicit HttpClient(uint16_t port) : stream_(io_) {
    stream_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  HttpReply call(http::verb method, const std::string& target, const std::string& body = "",
                 const std::map<std::string, std::string>& headers = {}) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http::write(stream_, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    http::read(stream_, buffer_, parser);
    auto res = parser.release();
    HttpReply r;
    r.status = res.result_int();
    for (const auto& f : res) r.headers[std::string(f.name_string())] = std::string(f.value());
    r.body = res.body();
    return r;
  }
  HttpReply get(const std::string& target) { return call(http::verb::get, target); }
  HttpReply post(const std::string& target, const std::string& body,
                 const std::map<std::string, std::string>& headers = {}) {
    return call(http::verb::post, target, body, headers);
  }

 private:
  asio::io_context io_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

// A fresh folder under /tmp, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "nubo-rt-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

  // Writes an executable file.
  std::string write_executable(const std::string& name, const std::string& text) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << text;
    chmod(p.c_str(), 0755);
    return p;
  }

 private:
  std::string path_;
};

// A live process (a zombie, waiting for a parent that may never reap it, is not one).
inline bool process_exists(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

// Polls until cond() or the timeout.
template <typename Cond>
bool eventually(Cond cond, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

}  // namespace nubo::runtime::testing
