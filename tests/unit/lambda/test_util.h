// Helpers shared by the Lambda unit tests: real zips (libzip), temp dirs, a fake Invoker, and a
// harness that runs LambdaService::handle on an io_context with a real SqliteStore.
#pragma once

// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (GCC bug 109224).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <sys/stat.h>
#include <zip.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "base/clock.h"
#include "base/config.h"
#include "base/crypto.h"
#include "base/ids.h"
#include "base/json.h"
#include "net/http.h"
#include "runtime/invoker.h"
#include "services/lambda/lambda_service.h"
#include "storage/store.h"

namespace nubo::lambda::testing {

namespace asio = boost::asio;

struct ZipEntry {
  std::string name;
  std::string data;
  mode_t mode = 0644;    // unix permission bits
  bool symlink = false;  // store as a symbolic link (data = target)
};

// Builds a zip in memory with unix external attributes.
inline std::string make_zip(const std::vector<ZipEntry>& entries) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(nullptr, 0, 0, &err);
  zip_source_keep(src);
  zip_t* za = zip_open_from_source(src, ZIP_TRUNCATE, &err);
  for (const auto& e : entries) {
    zip_source_t* fs = zip_source_buffer(za, e.data.data(), e.data.size(), 0);
    zip_int64_t idx = zip_file_add(za, e.name.c_str(), fs, ZIP_FL_OVERWRITE);
    mode_t type = e.symlink ? S_IFLNK : S_IFREG;
    zip_file_set_external_attributes(za, static_cast<zip_uint64_t>(idx), 0, ZIP_OPSYS_UNIX,
                                     static_cast<zip_uint32_t>((type | e.mode) << 16));
  }
  zip_close(za);
  zip_source_open(src);
  zip_source_seek(src, 0, SEEK_END);
  zip_int64_t size = zip_source_tell(src);
  zip_source_seek(src, 0, SEEK_SET);
  std::string out(static_cast<size_t>(size), '\0');
  zip_source_read(src, out.data(), static_cast<zip_uint64_t>(size));
  zip_source_close(src);
  zip_source_free(src);
  zip_error_fini(&err);
  return out;
}

inline std::string bootstrap_zip(std::string marker = "v1") {
  return make_zip({{"bootstrap", "#!/bin/sh\necho " + marker + "\n", 0755},
                   {"lib/data.txt", "data " + marker, 0644}});
}

// The execution role the tests' functions name.
inline constexpr const char* kTestRole = "arn:aws:iam::000000000000:role/lambda-role";

// A CreateFunction body: a provided.al2023 function `name` whose code is `zip`.
inline json::object create_function_body(const std::string& name,
                                         const std::string& zip = bootstrap_zip()) {
  json::object o;
  o["FunctionName"] = name;
  o["Runtime"] = "provided.al2023";
  o["Role"] = kTestRole;
  o["Handler"] = "bootstrap";
  o["Code"] = json::object{{"ZipFile", base64_encode(zip)}};
  return o;
}

class TempDir {
 public:
  TempDir() {
    path_ =
        (std::filesystem::temp_directory_path() / ("nubo-lambda-test-" + random_hex(6))).string();
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// An in-test Invoker: records calls and answers from `behavior` (an echo by default).
class FakeInvoker final : public runtime::Invoker {
 public:
  using Behavior = std::function<Result<runtime::InvokeResult>(const runtime::FunctionSpec&,
                                                               const runtime::InvokeRequest&)>;

  net::Task<Result<runtime::InvokeResult>> invoke(runtime::FunctionSpec spec,
                                                  runtime::InvokeRequest request) override {
    Behavior b;
    {
      std::lock_guard lock(mu_);
      calls_.emplace_back(spec, request);
      b = behavior_;
    }
    if (b) co_return b(spec, request);
    runtime::InvokeResult r;
    r.payload = request.payload;
    r.executed_version = spec.version;
    co_return r;
  }
  void retire_function(const std::string& function_arn) override {
    std::lock_guard lock(mu_);
    retired_.push_back(function_arn);
  }
  void shutdown(std::chrono::milliseconds) override {}
  void set_reserved_concurrency(const std::string& function_arn,
                                std::optional<int> limit) override {
    std::lock_guard lock(mu_);
    if (limit) {
      reserved_[function_arn] = *limit;
    } else {
      reserved_.erase(function_arn);
    }
  }
  // The reservations the service told the invoker about.
  std::map<std::string, int> reserved() const {
    std::lock_guard lock(mu_);
    return reserved_;
  }
  void set_provisioned_concurrency(const std::string& function_arn,
                                   std::vector<ProvisionedTarget> targets) override {
    std::lock_guard lock(mu_);
    std::erase_if(provisioned_, [&](const auto& kv) {
      return kv.first.compare(0, function_arn.size() + 1, function_arn + ":") == 0;
    });
    for (const auto& t : targets) provisioned_[t.spec.qualified_arn] = t.count;
  }
  ProvisionedStatus provisioned_status(const std::string& qualified_arn) const override {
    std::lock_guard lock(mu_);
    auto it = status_.find(qualified_arn);
    return it == status_.end() ? ProvisionedStatus{} : it->second;
  }
  // The provisioned targets the service asked for, by qualified ARN.
  std::map<std::string, int> provisioned() const {
    std::lock_guard lock(mu_);
    return provisioned_;
  }
  // What provisioned_status() reports for a version (as a LocalInvoker would once it started).
  void set_provisioned_status(const std::string& qualified_arn, ProvisionedStatus s) {
    std::lock_guard lock(mu_);
    status_[qualified_arn] = std::move(s);
  }

  void set_behavior(Behavior b) {
    std::lock_guard lock(mu_);
    behavior_ = std::move(b);
  }
  size_t call_count() const {
    std::lock_guard lock(mu_);
    return calls_.size();
  }
  std::pair<runtime::FunctionSpec, runtime::InvokeRequest> call(size_t i) const {
    std::lock_guard lock(mu_);
    return calls_.at(i);
  }
  std::vector<std::string> retired() const {
    std::lock_guard lock(mu_);
    return retired_;
  }

 private:
  mutable std::mutex mu_;
  Behavior behavior_;
  std::vector<std::pair<runtime::FunctionSpec, runtime::InvokeRequest>> calls_;
  std::map<std::string, int> reserved_;
  std::map<std::string, int> provisioned_;
  std::map<std::string, ProvisionedStatus> status_;
  std::vector<std::string> retired_;
};

struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  json::value json() const {
    auto v = parse_json(body);
    return v.ok() ? *v : json::value();
  }
  json::object obj() const {
    json::value v = json();
    return v.is_object() ? v.get_object() : json::object();
  }
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
  // Lambda error fields.
  std::string error_type() const { return header("x-amzn-errortype"); }
  std::string message() const {
    json::object o = obj();
    if (auto m = get_string(o, "message")) return *m;
    return get_string(o, "Message").value_or("");
  }
};

// One node's Lambda service over a data dir. The io_context runs on a background thread.
class Harness {
 public:
  // workers: LambdaDeps::workers (empty: async invocations run on the harness's io thread).
  explicit Harness(std::string data_dir, FakeInvoker* invoker, AsyncQueueOptions async = {},
                   bool start = true, std::vector<asio::io_context*> workers = {})
      : invoker_(invoker), work_(asio::make_work_guard(io_)) {
    config_.data_dir = std::move(data_dir);
    config_.endpoint_url = "http://127.0.0.1:4566";
    storage::SqliteOptions so;
    so.path = config_.data_dir + "/nubo.db";
    std::filesystem::create_directories(config_.data_dir);
    auto st = storage::open_sqlite_store(so);
    NUBO_CHECK(st.ok());
    store_ = std::move(st).value();
    thread_ = std::thread([this] { io_.run(); });
    LambdaDeps deps;
    deps.config = &config_;
    deps.store = store_.get();
    deps.invoker = invoker_;
    deps.clock = &clock_;
    deps.io = &io_;
    deps.blocking = &pool_;
    deps.async = async;
    deps.workers = std::move(workers);
    service_ = std::make_unique<LambdaService>(deps);
    if (start) start_status_ = service_->start();
  }
  ~Harness() {
    service_->stop();
    service_.reset();
    work_.reset();
    io_.stop();
    thread_.join();
    pool_.join();
  }

  // Runs make() (a coroutine of the service's) on the io thread and waits for its result.
  template <typename T>
  T run(std::function<net::Task<T>()> make) {
    std::promise<T> done;
    asio::co_spawn(
        io_,
        [&]() -> net::Task<void> {
          auto task = make();
          T r = co_await std::move(task);
          done.set_value(std::move(r));
        },
        asio::detached);
    return done.get_future().get();
  }

  const Status& start_status() const { return start_status_; }
  storage::Store& store() { return *store_; }
  const NodeConfig& config() const { return config_; }
  LambdaService& service() { return *service_; }

  HttpResult call(net::http::verb method, const std::string& target, const std::string& body = "",
                  const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return call_as(auth::root_caller("000000000000"), method, target, body, headers);
  }

  // The same request made by `caller` (a principal that is not root, with its own policies).
  HttpResult call_as(const auth::Caller& caller, net::http::verb method, const std::string& target,
                     const std::string& body = "",
                     const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    net::Request req{method, target, 11};
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    net::Target t = net::parse_target(target);
    std::promise<net::Response> done;
    asio::co_spawn(
        io_,
        [&]() -> net::Task<void> { done.set_value(co_await service_->handle(req, t, caller)); },
        asio::detached);
    net::Response res = done.get_future().get();
    HttpResult r;
    r.status = static_cast<int>(res.result_int());
    r.body = res.body();
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(f.value());
    }
    return r;
  }

 private:
  NodeConfig config_;
  SystemClock clock_;
  FakeInvoker* invoker_;
  std::unique_ptr<storage::Store> store_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::thread_pool pool_{2};
  std::thread thread_;
  std::unique_ptr<LambdaService> service_;
  Status start_status_;
};

// Polls cond every 10 ms until it holds or the timeout passes.
inline bool eventually(const std::function<bool()>& cond,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

}  // namespace nubo::lambda::testing
