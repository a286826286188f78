#include "app/node.h"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "app/front_door.h"
#include "auth/credentials.h"
#include "base/log.h"
#include "net/io_shards.h"
#include "net/server.h"
#include "runtime/local_invoker.h"
#include "runtime/process_sandbox.h"
#include "services/iam/iam_service.h"
#include "services/lambda/lambda_service.h"
#include "services/sts/sts_service.h"
#include "storage/files.h"
#include "storage/store.h"

namespace nubo::app {

namespace asio = boost::asio;

struct Node::Impl {
  NodeConfig config;
  SystemClock clock;
  std::unique_ptr<net::IoShards> shards;  // shard 0 also runs the node's own timers and signals
  std::unique_ptr<asio::thread_pool> blocking;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<auth::StaticCredentialProvider> credentials;
  std::unique_ptr<runtime::Sandbox> sandbox;  // outlives the invoker, which launches into it
  std::unique_ptr<runtime::Invoker> invoker;
  std::unique_ptr<lambda::LambdaService> lambda;
  sts::StsService sts;
  std::unique_ptr<iam::IamService> iam;
  std::unique_ptr<FrontDoor> front_door;
  std::unique_ptr<net::HttpServer> server;
  std::once_flag stop_once;
  std::thread stopper;
};

namespace {

// ES modules ignore NODE_PATH: a function's `import '@aws-sdk/client-s3'` resolves by walking up
// from its code folder. A node_modules link above the unpacked code folders makes the bundled SDK
// v3 importable from ES modules as on Lambda, at no cost to start-up (runtimes/README.md).
void link_sdk_for_esm(const NodeConfig& config) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path sdk = fs::path(config.runtimes_dir) / "nodejs" / "node_modules";
  if (config.runtimes_dir.empty() || !fs::is_directory(sdk, ec)) return;
  fs::path link = fs::path(config.data_dir) / "lambda" / "unpacked" / "node_modules";
  fs::create_directories(link.parent_path(), ec);
  if (fs::read_symlink(link, ec) == sdk) return;
  fs::remove(link, ec);
  fs::create_directory_symlink(sdk, link, ec);
  if (ec) log_warn("cannot link the Node.js SDK for ES modules: " + ec.message());
}

}  // namespace

Node::Node() : impl_(std::make_unique<Impl>()) {}

Node::~Node() {
  if (impl_->stopper.joinable()) impl_->stopper.join();
}

const NodeConfig& Node::config() const {
  return impl_->config;
}

Result<std::unique_ptr<Node>> Node::create(NodeConfig config) {
  std::unique_ptr<Node> node(new Node());
  Impl& m = *node->impl_;
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return internal_error("cannot create data dir " + config.data_dir + ": " + ec.message());
  config.data_dir = std::filesystem::canonical(config.data_dir).string();
  if (config.io_threads <= 0) {
    config.io_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  m.config = std::move(config);
  m.shards = std::make_unique<net::IoShards>(m.config.io_threads);
  m.blocking = std::make_unique<asio::thread_pool>(4);

  NUBO_ASSIGN_OR_RETURN(m.store, storage::open_sqlite_store(
                                     {.path = m.config.data_dir + "/nubo.db", .strict = false}));
  m.credentials = std::make_unique<auth::StaticCredentialProvider>(
      m.config.root_access_key_id, m.config.root_secret_access_key, m.config.account_id);

  runtime::LocalInvokerDeps rdeps;
  rdeps.config = &m.config;
  rdeps.clock = &m.clock;
  rdeps.io = &m.shards->shard(0);
  rdeps.blocking = m.blocking.get();
  // Which protections hold on this machine, said before anything runs (issue 3: a node without
  // the privileges one needs starts anyway and says which are off).
  runtime::ProcessSandboxOptions sandbox_options;
  sandbox_options.isolate = m.config.sandbox_isolation;
  sandbox_options.work_dir = m.config.data_dir + "/sandboxes";
  sandbox_options.runtimes_dir = m.config.runtimes_dir;
  sandbox_options.spare_exec = m.config.spare_exec;
  if (m.config.zygotes) sandbox_options.zygote_lib = m.config.zygote_lib;
  sandbox_options.egress = m.config.egress;
  m.sandbox = runtime::make_process_sandbox(sandbox_options);
  for (const std::string& line : m.sandbox->protections()) {
    if (line.rfind("off", 0) == 0) {
      log_warn("sandbox: " + line);
    } else {
      log_info("sandbox: " + line);
    }
  }
  rdeps.sandbox = m.sandbox.get();
  // An isolated instance reaches nubo through a listener in its own network that the front
  // door accepts on (the server exists once start() runs, before any instance does).
  Impl* mp = &m;
  rdeps.serve_api_on = [mp](int fd) -> std::function<void()> {
    if (!mp->server) {
      ::close(fd);
      return [] {};
    }
    auto closer = mp->server->adopt(fd);
    if (!closer.ok()) {
      log_warn("sandbox: an instance cannot reach nubo: " + closer.error().message);
      return [] {};
    }
    return std::move(closer).value();
  };
  m.invoker = runtime::make_local_invoker(rdeps);

  lambda::LambdaDeps ldeps;
  ldeps.config = &m.config;
  ldeps.store = m.store.get();
  ldeps.invoker = m.invoker.get();
  ldeps.clock = &m.clock;
  ldeps.io = &m.shards->shard(0);
  ldeps.blocking = m.blocking.get();
  ldeps.async.retry_base = m.config.async_retry_base;
  m.lambda = std::make_unique<lambda::LambdaService>(ldeps);

  Services services;
  services.lambda = m.lambda.get();
  services.sts = &m.sts;
  iam::IamDeps ideps;
  ideps.store = m.store.get();
  ideps.clock = &m.clock;
  ideps.blocking = m.blocking.get();
  ideps.account_id = m.config.account_id;
  m.iam = std::make_unique<iam::IamService>(std::move(ideps));
  services.iam = m.iam.get();
  m.front_door = std::make_unique<FrontDoor>(m.config, *m.credentials, m.clock, services);
  return node;
}

Result<uint16_t> Node::start() {
  Impl& m = *impl_;
  NUBO_TRY(m.iam->start());  // its schema, before the first request can reach it
  net::ServerLimits limits;
  FrontDoor* fd = m.front_door.get();
  limits.too_large = [fd](const net::Request& req) { return fd->too_large(req); };
  m.server = std::make_unique<net::HttpServer>(
      m.shards->all(),
      [fd](net::Request& req, const net::Peer& peer) { return fd->handle(req, peer); }, limits);
  NUBO_ASSIGN_OR_RETURN(uint16_t port, m.server->listen(m.config.host, m.config.port));
  m.config.port = port;
  std::string host = m.config.host == "0.0.0.0" ? "127.0.0.1" : m.config.host;
  m.config.endpoint_url = "http://" + host + ":" + std::to_string(port);
  NUBO_TRY(m.lambda->start());
  link_sdk_for_esm(m.config);
  return port;
}

void Node::stop() {
  Impl& m = *impl_;
  std::call_once(m.stop_once, [&] {
    log_info("stopping: finishing requests in flight");
    if (m.server) m.server->stop();
    if (m.server && !m.server->wait_idle(std::chrono::seconds(30))) {
      log_warn("stopping: some connections did not finish in 30 s");
    }
    if (m.lambda) m.lambda->stop();
    if (m.invoker) m.invoker->shutdown(std::chrono::seconds(5));
    m.shards->stop();
    log_info("stopped");
  });
}

int Node::run() {
  Impl& m = *impl_;
  asio::signal_set signals(m.shards->shard(0), SIGINT, SIGTERM);
  signals.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    // stop() waits for requests in flight, which need the io threads: run it on its own thread.
    impl_->stopper = std::thread([this] { stop(); });
  });
  m.shards->run();
  if (m.stopper.joinable()) m.stopper.join();
  return 0;
}

}  // namespace nubo::app
