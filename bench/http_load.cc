// http_load: a keep-alive HTTP load generator and a trivial HTTP server, for the benchmarks.
//
//   http_load serve                       a trivial server on 127.0.0.1:<free port>; prints
//                                         "listening <port>" and answers every request with
//                                         200 "{}" (the loopback floor)
//   http_load run --port P --request-file F [--concurrency N] [--seconds S] [--warmup S]
//                 [--reconnect 1]  (a new connection per request)
//                                         sends the raw request in F over N keep-alive
//                                         connections for S seconds; prints one JSON line with
//                                         requests, errors, rps, p50_us, p90_us, p99_us, max_us
//   http_load burst --port P --request-file F --count N
//                                         opens N connections, then sends the request once on
//                                         each of them at the same moment; prints one JSON line
//                                         with count, ok (200), throttled (429), errors, wall_ms
//                                         (until the last answer), p50_ms, p99_ms
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// Reads one HTTP response from s into buf (keeping any bytes past it); returns its status.
asio::awaitable<int> read_response(tcp::socket& s, std::string& buf) {
  size_t header_end;
  while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
    char tmp[65536];
    size_t n = co_await s.async_read_some(asio::buffer(tmp), asio::use_awaitable);
    buf.append(tmp, n);
  }
  int status = std::atoi(buf.c_str() + 9);
  size_t body = 0;
  std::string head = buf.substr(0, header_end);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (auto p = head.find("content-length:"); p != std::string::npos) {
    body = std::strtoul(head.c_str() + p + 15, nullptr, 10);
  }
  size_t total = header_end + 4 + body;
  while (buf.size() < total) {
    char tmp[65536];
    size_t n = co_await s.async_read_some(asio::buffer(tmp), asio::use_awaitable);
    buf.append(tmp, n);
  }
  buf.erase(0, total);
  co_return status;
}

struct Stats {
  std::vector<double> lat_us;
  long errors = 0;
};

// reconnect: a new connection for every request (its connect counted in the latency), for
// servers without keep-alive (moto's werkzeug server answers HTTP/1.0 and closes).
asio::awaitable<void> client(tcp::endpoint ep, const std::string& request, Clock::time_point start,
                             Clock::time_point stop, Stats& stats, bool reconnect) {
  tcp::socket s(co_await asio::this_coro::executor);
  if (!reconnect) {
    co_await s.async_connect(ep, asio::use_awaitable);
    s.set_option(tcp::no_delay(true));
  }
  std::string buf;
  while (true) {
    auto t0 = Clock::now();
    if (t0 >= stop) break;
    if (reconnect) {
      boost::system::error_code ignored;
      s.close(ignored);
      buf.clear();
      co_await s.async_connect(ep, asio::use_awaitable);
      s.set_option(tcp::no_delay(true));
    }
    co_await asio::async_write(s, asio::buffer(request), asio::use_awaitable);
    int status = co_await read_response(s, buf);
    auto t1 = Clock::now();
    if (t0 >= start) {
      if (status != 200) ++stats.errors;
      stats.lat_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
  }
}

asio::awaitable<void> serve_conn(tcp::socket s) {
  static const std::string kResponse =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
  std::string buf;
  try {
    s.set_option(tcp::no_delay(true));
    while (true) {
      size_t header_end;
      while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
        char tmp[65536];
        size_t n = co_await s.async_read_some(asio::buffer(tmp), asio::use_awaitable);
        buf.append(tmp, n);
      }
      size_t body = 0;
      std::string head = buf.substr(0, header_end);
      for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (auto p = head.find("content-length:"); p != std::string::npos) {
        body = std::strtoul(head.c_str() + p + 15, nullptr, 10);
      }
      while (buf.size() < header_end + 4 + body) {
        char tmp[65536];
        size_t n = co_await s.async_read_some(asio::buffer(tmp), asio::use_awaitable);
        buf.append(tmp, n);
      }
      buf.erase(0, header_end + 4 + body);
      co_await asio::async_write(s, asio::buffer(kResponse), asio::use_awaitable);
    }
  } catch (const std::exception&) {
  }
}

int serve() {
  asio::io_context io(1);
  tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::printf("listening %u\n", static_cast<unsigned>(acc.local_endpoint().port()));
  std::fflush(stdout);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        while (true) {
          tcp::socket s = co_await acc.async_accept(asio::use_awaitable);
          asio::co_spawn(io, serve_conn(std::move(s)), asio::detached);
        }
      },
      asio::detached);
  io.run();
  return 0;
}

// One request on a connection opened beforehand; the latency and status land in out.
asio::awaitable<void> burst_one(tcp::socket& s, const std::string& request, double& ms,
                                int& status) {
  std::string buf;
  auto t0 = Clock::now();
  co_await asio::async_write(s, asio::buffer(request), asio::use_awaitable);
  status = co_await read_response(s, buf);
  ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

int burst(tcp::endpoint ep, const std::string& request, int count) {
  // A socket per request, and the node's answers to all of them at once.
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  asio::io_context io(1);
  std::vector<tcp::socket> sockets;
  for (int i = 0; i < count; ++i) {
    sockets.emplace_back(io);
    sockets.back().connect(ep);
    sockets.back().set_option(tcp::no_delay(true));
  }
  std::vector<double> ms(count, 0);
  std::vector<int> status(count, 0);
  auto t0 = Clock::now();
  for (int i = 0; i < count; ++i) {
    asio::co_spawn(io, burst_one(sockets[i], request, ms[i], status[i]),
                   [&status, i](std::exception_ptr e) {
                     if (e) status[i] = -1;
                   });
  }
  io.run();
  double wall = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  long ok = 0, throttled = 0, errors = 0;
  for (int st : status) {
    if (st == 200) {
      ++ok;
    } else if (st == 429) {
      ++throttled;
    } else {
      ++errors;
    }
  }
  std::sort(ms.begin(), ms.end());
  auto at = [&](double p) { return ms[static_cast<size_t>(p / 100.0 * (ms.size() - 1))]; };
  std::printf(
      "{\"count\": %d, \"ok\": %ld, \"throttled\": %ld, \"errors\": %ld, \"wall_ms\": %.1f, "
      "\"p50_ms\": %.1f, \"p99_ms\": %.1f}\n",
      count, ok, throttled, errors, wall, at(50), at(99));
  return errors == 0 ? 0 : 1;
}

double pct(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "serve") return serve();
  const std::string mode = argc >= 2 ? argv[1] : "";
  if (mode != "run" && mode != "burst") {
    std::fprintf(stderr, "usage: http_load serve | run|burst --port P --request-file F [...]\n");
    return 2;
  }
  int port = 0, concurrency = 1, count = 1;
  bool reconnect = false;
  double seconds = 5, warmup = 1;
  std::string file;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string f = argv[i], v = argv[i + 1];
    if (f == "--port")
      port = std::atoi(v.c_str());
    else if (f == "--request-file")
      file = v;
    else if (f == "--concurrency")
      concurrency = std::atoi(v.c_str());
    else if (f == "--seconds")
      seconds = std::atof(v.c_str());
    else if (f == "--warmup")
      warmup = std::atof(v.c_str());
    else if (f == "--count")
      count = std::atoi(v.c_str());
    else if (f == "--reconnect")
      reconnect = v == "1";
  }
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string request = ss.str();
  if (request.empty() || port == 0) {
    std::fprintf(stderr, "http_load: need --port and a non-empty --request-file\n");
    return 2;
  }
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port));
  if (mode == "burst") return burst(ep, request, std::max(1, count));
  asio::io_context io(1);
  auto start = Clock::now() +
               std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
  auto stop =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<Stats> stats(concurrency);
  for (int i = 0; i < concurrency; ++i) {
    asio::co_spawn(io, client(ep, request, start, stop, stats[i], reconnect),
                   [](std::exception_ptr e) {
                     if (e) {
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         std::fprintf(stderr, "http_load: connection failed: %s\n", ex.what());
                       }
                     }
                   });
  }
  io.run();
  std::vector<double> all;
  long errors = 0;
  for (auto& s : stats) {
    all.insert(all.end(), s.lat_us.begin(), s.lat_us.end());
    errors += s.errors;
  }
  std::sort(all.begin(), all.end());
  std::printf(
      "{\"requests\": %zu, \"errors\": %ld, \"rps\": %.0f, \"p50_us\": %.1f, \"p90_us\": %.1f, "
      "\"p99_us\": %.1f, \"max_us\": %.1f}\n",
      all.size(), errors, static_cast<double>(all.size()) / seconds, pct(all, 50), pct(all, 90),
      pct(all, 99), all.empty() ? 0 : all.back());
  return errors == 0 && !all.empty() ? 0 : 1;
}
