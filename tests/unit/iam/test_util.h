// Helpers shared by the IAM unit tests: a real SqliteStore in a temp dir with IAM's schema, a
// keyring, and a harness that runs IamService::handle on an io_context (form-encoded Query
// requests in, status and XML out).
#pragma once

// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (GCC bug 109224).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "auth/authorize.h"
#include "auth/keyring.h"
#include "auth/policy.h"
#include "base/clock.h"
#include "base/ids.h"
#include "base/strings.h"
#include "services/iam/iam_service.h"
#include "services/iam/schema.h"
#include "storage/store.h"

namespace nubo::iam::testing {

namespace asio = boost::asio;

inline constexpr const char* kAccount = "000000000000";

inline constexpr const char* kTrust = R"({"Version": "2012-10-17", "Statement": [{"Effect":
    "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})";
inline constexpr const char* kReadSecrets = R"({"Version": "2012-10-17", "Statement": [{"Effect":
    "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})";
inline constexpr const char* kReadQueues = R"({"Version": "2012-10-17", "Statement": [{"Effect":
    "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}]})";

// A temp directory with a SQLite store that has IAM's schema.
class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("nubo-iam-test-" + random_hex(6))).string();
    std::filesystem::create_directories(dir_);
    storage::SqliteOptions o;
    o.path = dir_ + "/nubo.db";
    auto st = storage::open_sqlite_store(o);
    ASSERT_TRUE(st.ok());
    store_ = std::move(st).value();
    ASSERT_TRUE(migrate_iam_schema(*store_).ok());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Every byte of the data directory's files (the database, its WAL and anything else).
  std::string data_dir_bytes() const {
    std::string all;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_)) {
      if (!e.is_regular_file()) continue;
      std::ifstream f(e.path(), std::ios::binary);
      std::stringstream ss;
      ss << f.rdbuf();
      all += ss.str();
    }
    return all;
  }

  std::string dir_;
  FakeClock clock_{SystemTime(std::chrono::seconds(1700000000))};
  std::unique_ptr<storage::Store> store_;
  auth::Keyring keyring_{std::string(32, '\x42')};
};

// A non-root caller (an IAM user of kAccount) whose identity policies are `documents`.
inline auth::Caller user_caller(const std::string& name,
                                const std::vector<std::string>& documents) {
  auth::Caller c;
  c.arn = std::string("arn:aws:iam::") + kAccount + ":user/" + name;
  c.account_id = kAccount;
  c.access_key_id = "AKIAEXAMPLEEXAMPLE00";
  auto id = std::make_shared<auth::Identity>();
  for (const auto& d : documents) {
    auto p = auth::parse_policy(d);
    NUBO_CHECK(p.ok());
    id->policies.push_back(std::make_shared<const auth::Policy>(std::move(p).value()));
  }
  id->principal_type = "User";
  id->user_name = name;
  c.identity = std::move(id);
  return c;
}

struct Answer {
  int status = 0;
  std::string body;

  // The text of the first <tag>...</tag>, XML entities decoded (empty when absent).
  std::string text(const std::string& tag) const {
    auto open = body.find("<" + tag + ">");
    if (open == std::string::npos) return "";
    auto start = open + tag.size() + 2;
    auto close = body.find("</" + tag + ">", start);
    if (close == std::string::npos) return "";
    std::string raw = body.substr(start, close - start), out;
    static const std::pair<const char*, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    for (size_t i = 0; i < raw.size();) {
      bool matched = false;
      for (const auto& [name, ch] : kEntities) {
        if (raw.compare(i, std::strlen(name), name) == 0) {
          out += ch;
          i += std::strlen(name);
          matched = true;
          break;
        }
      }
      if (!matched) out += raw[i++];
    }
    return out;
  }
  std::string code() const { return text("Code"); }
  std::string message() const { return text("Message"); }
  // How many times <tag> occurs.
  int count(const std::string& tag) const {
    int n = 0;
    for (auto at = body.find("<" + tag + ">"); at != std::string::npos;
         at = body.find("<" + tag + ">", at + 1)) {
      ++n;
    }
    return n;
  }
};

// IamService over the fixture's store, its requests run on an io_context thread.
class ServiceHarness {
 public:
  ServiceHarness(storage::Store* store, const Clock* clock, const auth::Keyring* keyring)
      : work_(asio::make_work_guard(io_)) {
    thread_ = std::thread([this] { io_.run(); });
    IamDeps deps;
    deps.store = store;
    deps.clock = clock;
    deps.blocking = &pool_;
    deps.account_id = kAccount;
    deps.keyring = keyring;
    deps.on_change = [this] { ++changes; };
    service_ = std::make_unique<IamService>(std::move(deps));
    start_status_ = service_->start();
  }
  ~ServiceHarness() {
    service_.reset();
    work_.reset();
    io_.stop();
    thread_.join();
    pool_.join();
  }

  const Status& start_status() const { return start_status_; }

  // Action=<action>&Version=2010-05-08&params..., as root unless a caller is given.
  Answer call(const std::string& action,
              const std::vector<std::pair<std::string, std::string>>& params = {},
              const auth::Caller* as = nullptr) {
    std::string body = "Action=" + action + "&Version=2010-05-08";
    for (const auto& [k, v] : params) body += "&" + url_encode(k) + "=" + url_encode(v);
    net::Request req{net::http::verb::post, "/", 11};
    req.set(net::http::field::content_type, "application/x-www-form-urlencoded; charset=utf-8");
    req.body() = body;
    req.prepare_payload();
    auth::Caller caller = as ? *as : auth::root_caller(kAccount);
    std::promise<net::Response> done;
    asio::co_spawn(
        io_, [&]() -> net::Task<void> { done.set_value(co_await service_->handle(req, caller)); },
        asio::detached);
    net::Response res = done.get_future().get();
    return Answer{static_cast<int>(res.result_int()), res.body()};
  }

  std::atomic<int> changes{0};

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::thread_pool pool_{2};
  std::thread thread_;
  std::unique_ptr<IamService> service_;
  Status start_status_;
};

}  // namespace nubo::iam::testing
