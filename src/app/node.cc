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
#include "auth/keyring.h"
#include "base/cpu_affinity.h"
#include "base/crypto.h"
#include "base/log.h"
#include "base/strings.h"
#include "net/io_shards.h"
#include "net/server.h"
#include "runtime/local_invoker.h"
#include "runtime/process_sandbox.h"
#include "services/cloudtrail/audit_log.h"
#include "services/cloudtrail/cloudtrail_service.h"
#include "services/iam/iam_service.h"
#include "services/lambda/lambda_service.h"
#include "services/secretsmanager/secretsmanager_service.h"
#include "services/sts/directory.h"
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
  std::unique_ptr<auth::Keyring> keyring;
  std::unique_ptr<sts::Directory> directory;
  std::unique_ptr<runtime::Sandbox> sandbox;  // outlives the invoker, which launches into it
  std::unique_ptr<runtime::Invoker> invoker;
  std::unique_ptr<lambda::LambdaService> lambda;
  std::unique_ptr<sts::StsService> sts;
  std::unique_ptr<iam::IamService> iam;
  std::unique_ptr<secretsmanager::SecretsManagerService> secrets;
  std::unique_ptr<sqs::SqsService> sqs;
  std::unique_ptr<s3::S3Service> s3;
  std::unique_ptr<apigateway::ApiGatewayService> apigateway;
  std::unique_ptr<cloudtrail::AuditLog> audit;
  std::unique_ptr<cloudtrail::CloudTrailService> cloudtrail;
  std::unique_ptr<FrontDoor> front_door;
  std::unique_ptr<net::HttpServer> server;
  std::once_flag stop_once;
  std::thread stopper;
};

namespace {

// The service principal that assumes execution roles, and how long an instance's credentials
// last (an instance older than that is replaced before they run out; runtime/pool.h).
constexpr const char* kLambdaPrincipal = "lambda.amazonaws.com";
constexpr int kInstanceCredentialSeconds = 12 * 3600;

// The master key must be the one the data directory's secrets were sealed with: a key file
// lost (and made anew) or a wrong NUBO_MASTER_KEY would leave every stored secret and access key
// unreadable, so the node refuses to start instead. The first start records a check value
// (an HMAC under a key derived for this purpose, which says nothing of the key itself).
Status check_master_key(storage::Store& store, const auth::Keyring& keyring) {
  NUBO_TRY(store.migrate("keyring", {"CREATE TABLE keyring_check (id INTEGER PRIMARY KEY, "
                                     "check_mac TEXT NOT NULL)"}));
  std::string mac = hex_encode(hmac_sha256(keyring.subkey("key-check"), "nubo master key"));
  return store.transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                          txn.query("SELECT check_mac FROM keyring_check WHERE id = 1"));
    if (rows.empty()) {
      NUBO_TRY(txn.exec("INSERT INTO keyring_check (id, check_mac) VALUES (1, ?)", {mac}));
      return Ok{};
    }
    if (rows[0].text(0) != mac) {
      return internal_error(
          "the master key (NUBO_MASTER_KEY or <data-dir>/master.key) is not the one this data "
          "directory's secrets were sealed with; restore the original key to start");
    }
    return Ok{};
  });
}

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

namespace {

// Lambda's event source mappings on SQS (LambdaDeps::event_sources): plain coroutines, their
// arguments by value.
net::Task<Result<std::vector<lambda::SourceMessage>>> sqs_receive(sqs::SqsService* svc,
                                                                  std::string arn, int max,
                                                                  int wait_s) {
  auto ref = sqs::SqsService::queue_of_arn(arn);
  if (!ref || !svc) co_return Error{"InvalidParameterValueException", 400, "not a queue: " + arn};
  auto receiving = svc->receive_for_service(*ref, max, wait_s);
  Result<sqs::ReceiveResult> got = co_await std::move(receiving);
  if (!got.ok()) co_return got.error();
  std::vector<lambda::SourceMessage> out;
  for (auto& m : got->messages) {
    lambda::SourceMessage s;
    s.message_id = m.message_id;
    s.receipt_handle = m.receipt_handle;
    s.body = std::move(m.body);
    s.md5_of_body = m.md5_body;
    s.attributes["ApproximateReceiveCount"] = std::to_string(m.receive_count);
    s.attributes["SentTimestamp"] = std::to_string(m.sent_ms);
    s.attributes["SenderId"] = m.sender_id;
    s.attributes["ApproximateFirstReceiveTimestamp"] = std::to_string(m.first_receive_ms);
    if (!m.sequence_number.empty()) s.attributes["SequenceNumber"] = m.sequence_number;
    if (!m.group_id.empty()) s.attributes["MessageGroupId"] = m.group_id;
    if (!m.dedup_id.empty()) s.attributes["MessageDeduplicationId"] = m.dedup_id;
    auto trace = m.system_attributes.find("AWSTraceHeader");
    if (trace != m.system_attributes.end()) s.attributes["AWSTraceHeader"] = trace->second.value;
    for (const auto& [name, a] : m.attributes) {
      lambda::SourceMessage::Attribute x;
      x.data_type = a.data_type;
      if (a.binary()) {
        x.binary_value_base64 = base64_encode(a.value);
      } else {
        x.string_value = a.value;
      }
      s.message_attributes[name] = std::move(x);
    }
    out.push_back(std::move(s));
  }
  co_return out;
}

// Deletes (release false) or makes visible again (release true) the messages of receipts.
net::Task<Status> sqs_settle(sqs::SqsService* svc, std::string arn,
                             std::vector<std::string> receipts, bool release) {
  auto ref = sqs::SqsService::queue_of_arn(arn);
  if (!ref || !svc) co_return Ok{};
  if (release) {
    auto releasing = svc->release_for_service(*ref, std::move(receipts));
    co_return co_await std::move(releasing);
  }
  auto deleting = svc->delete_for_service(*ref, std::move(receipts));
  co_return co_await std::move(deleting);
}

}  // namespace

Result<std::unique_ptr<Node>> Node::create(NodeConfig config) {
  std::unique_ptr<Node> node(new Node());
  Impl& m = *node->impl_;
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return internal_error("cannot create data dir " + config.data_dir + ": " + ec.message());
  config.data_dir = std::filesystem::canonical(config.data_dir).string();
  if (config.io_threads <= 0) {
    // One per CPU this node may use (a container's cpuset may allow fewer than the machine has).
    size_t usable = allowed_cpus().size();
    if (usable == 0) usable = std::max(1u, std::thread::hardware_concurrency());
    config.io_threads = static_cast<int>(usable);
  }
  m.config = std::move(config);
  // One CPU per io thread, and instances beside their io thread's (base/cpu_affinity.h), when
  // there are as many CPUs as io threads.
  std::vector<int> shard_cpus;
  std::vector<int> cpus = allowed_cpus();
  if (m.config.cpu_affinity && static_cast<size_t>(m.config.io_threads) <= cpus.size()) {
    shard_cpus.assign(cpus.begin(), cpus.begin() + m.config.io_threads);
  }
  m.shards = std::make_unique<net::IoShards>(m.config.io_threads, shard_cpus);
  m.blocking = std::make_unique<asio::thread_pool>(4);

  NUBO_ASSIGN_OR_RETURN(m.store, storage::open_sqlite_store(
                                     {.path = m.config.data_dir + "/nubo.db", .strict = false}));
  NUBO_ASSIGN_OR_RETURN(
      auto keyring,
      auth::Keyring::open(m.config.data_dir + "/" + auth::kMasterKeyFile, m.config.master_key));
  m.keyring = std::make_unique<auth::Keyring>(std::move(keyring));
  NUBO_TRY(check_master_key(*m.store, *m.keyring));
  m.config.master_key.clear();  // nothing else needs it, and a config may be logged
  sts::DirectoryDeps dir_deps;
  dir_deps.store = m.store.get();
  dir_deps.keyring = m.keyring.get();
  dir_deps.clock = &m.clock;
  dir_deps.account_id = m.config.account_id;
  dir_deps.root_access_key_id = m.config.root_access_key_id;
  dir_deps.root_secret_access_key = m.config.root_secret_access_key;
  m.directory = std::make_unique<sts::Directory>(std::move(dir_deps));
  sts::StsDeps sts_deps;
  sts_deps.directory = m.directory.get();
  sts_deps.store = m.store.get();
  sts_deps.clock = &m.clock;
  sts_deps.blocking = m.blocking.get();
  sts_deps.account_id = m.config.account_id;
  m.sts = std::make_unique<sts::StsService>(std::move(sts_deps));

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
  // A function runs as its execution role (issue 4): Lambda's service principal assumes it for
  // each instance, on the launcher thread.
  const sts::StsService* sts_service = m.sts.get();
  rdeps.credentials = [sts_service](const runtime::FunctionSpec& spec) {
    runtime::InstanceCredentials out;
    auto creds = sts_service->assume_role_as_service(spec.role, spec.name, kLambdaPrincipal,
                                                     kInstanceCredentialSeconds, /*reuse=*/true);
    if (!creds.ok()) {
      log_warn("lambda: " + spec.name + " runs without credentials: " + creds.error().message);
      return out;
    }
    out.access_key_id = creds->access_key_id;
    out.secret_access_key = creds->secret_access_key;
    out.session_token = creds->session_token;
    out.expires_epoch = creds->expires_epoch;
    return out;
  };
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
  if (!shard_cpus.empty()) {
    rdeps.cpu_of = [shards = m.shards.get()](const asio::io_context* io) {
      return shards->cpu_of(io);
    };
  }
  m.invoker = runtime::make_local_invoker(rdeps);

  lambda::LambdaDeps ldeps;
  ldeps.config = &m.config;
  ldeps.store = m.store.get();
  ldeps.invoker = m.invoker.get();
  ldeps.clock = &m.clock;
  ldeps.io = &m.shards->shard(0);
  ldeps.workers = m.shards->all();
  // Event source mappings reach SQS through these (the SQS service is made below; they run only
  // after start()).
  {
    std::unique_ptr<sqs::SqsService>* q = &m.sqs;
    ldeps.event_sources.queue_visibility = [q](const std::string& arn) -> std::optional<int64_t> {
      auto ref = sqs::SqsService::queue_of_arn(arn);
      if (!ref || !*q) return std::nullopt;
      auto info = (*q)->queues().get(*ref);
      if (!info.ok()) return std::nullopt;
      return info->int_attribute("VisibilityTimeout");
    };
    ldeps.send_message = [q](std::string arn, std::string body,
                             std::map<std::string, std::string> attributes) {
      return (*q)->send_for_service(std::move(arn), std::move(body), "lambda.amazonaws.com",
                                    std::move(attributes));
    };
    ldeps.event_sources.receive = [q](std::string arn, int max, int wait_s) {
      return sqs_receive(q->get(), std::move(arn), max, wait_s);
    };
    ldeps.event_sources.delete_messages = [q](std::string arn, std::vector<std::string> rs) {
      return sqs_settle(q->get(), std::move(arn), std::move(rs), false);
    };
    ldeps.event_sources.release = [q](std::string arn, std::vector<std::string> rs) {
      return sqs_settle(q->get(), std::move(arn), std::move(rs), true);
    };
  }
  ldeps.blocking = m.blocking.get();
  ldeps.async.retry_base = m.config.async_retry_base;
  // As Lambda answers a role it cannot assume (Lambda API reference, CreateFunction errors).
  ldeps.check_role = [sts_service](const std::string& role_arn) -> Status {
    auto creds =
        sts_service->assume_role_as_service(role_arn, "nubo-role-check", kLambdaPrincipal, 900);
    if (creds.ok()) return Ok{};
    if (creds.error().status >= 500) return creds.error();
    return Error{"InvalidParameterValueException", 400,
                 "The role defined for the function cannot be assumed by Lambda."};
  };
  m.lambda = std::make_unique<lambda::LambdaService>(ldeps);

  Services services;
  services.lambda = m.lambda.get();
  services.sts = m.sts.get();
  iam::IamDeps ideps;
  ideps.store = m.store.get();
  ideps.clock = &m.clock;
  ideps.blocking = m.blocking.get();
  ideps.account_id = m.config.account_id;
  ideps.keyring = m.keyring.get();
  sts::Directory* directory = m.directory.get();
  ideps.on_change = [directory] { directory->invalidate(); };
  m.iam = std::make_unique<iam::IamService>(std::move(ideps));
  services.iam = m.iam.get();

  secretsmanager::SecretsDeps sdeps;
  sdeps.store = m.store.get();
  sdeps.clock = &m.clock;
  sdeps.blocking = m.blocking.get();
  sdeps.io = &m.shards->shard(0);
  sdeps.keyring = m.keyring.get();
  sdeps.account_id = m.config.account_id;
  sdeps.region = m.config.region;
  lambda::LambdaService* lambda_service = m.lambda.get();
  sdeps.invoke = [lambda_service](std::string function_arn,
                                  std::string payload) -> net::Task<Result<std::string>> {
    return lambda_service->invoke_for_service(std::move(function_arn), std::move(payload));
  };
  m.secrets = std::make_unique<secretsmanager::SecretsManagerService>(std::move(sdeps));
  services.secrets = m.secrets.get();

  sqs::SqsDeps qdeps;
  qdeps.store = m.store.get();
  qdeps.clock = &m.clock;
  qdeps.blocking = m.blocking.get();
  qdeps.region = m.config.region;
  NUBO_ASSIGN_OR_RETURN(m.sqs, sqs::SqsService::make(qdeps));
  services.sqs = m.sqs.get();
  m.audit = std::make_unique<cloudtrail::AuditLog>(m.store.get(), &m.clock, m.config.region,
                                                   m.config.audit_data_events);
  cloudtrail::CloudTrailDeps cdeps;
  cdeps.store = m.store.get();
  cdeps.log = m.audit.get();
  cdeps.blocking = m.blocking.get();
  cdeps.account_id = m.config.account_id;
  m.cloudtrail = std::make_unique<cloudtrail::CloudTrailService>(std::move(cdeps));
  services.cloudtrail = m.cloudtrail.get();
  s3::S3Deps s3deps;
  s3deps.store = m.store.get();
  s3deps.clock = &m.clock;
  s3deps.blocking = m.blocking.get();
  s3deps.root = m.config.data_dir + "/s3";
  s3deps.region = m.config.region;
  // Bucket notifications invoke functions asynchronously, through the Lambda async queue, when
  // the function's policy lets S3 do so for the bucket.
  s3deps.may_invoke = [lambda_service](const std::string& function_arn,
                                       const std::string& bucket_arn,
                                       const std::string& account_id) {
    return lambda_service->service_may_invoke(function_arn, "lambda:InvokeFunction",
                                              "s3.amazonaws.com", bucket_arn, account_id);
  };
  s3deps.invoke_async = [lambda_service](std::string function_arn, std::string event,
                                         std::string trace) -> net::Task<Status> {
    return lambda_service->invoke_async_for_service(std::move(function_arn), std::move(event),
                                                    std::move(trace));
  };
  // And send messages to queues whose policy lets S3 send for the bucket.
  sqs::SqsService* sqs_service = m.sqs.get();
  s3deps.may_send = [sqs_service](const std::string& queue_arn, const std::string& bucket_arn,
                                  const std::string& account_id) {
    return sqs_service->service_may_send(queue_arn, "s3.amazonaws.com", bucket_arn, account_id);
  };
  s3deps.send = [sqs_service](std::string queue_arn, std::string event) -> net::Task<Status> {
    return sqs_service->send_for_service(std::move(queue_arn), std::move(event),
                                         "s3.amazonaws.com");
  };
  m.s3 = std::make_unique<s3::S3Service>(std::move(s3deps));
  services.s3 = m.s3.get();
  apigateway::ApiGatewayDeps gdeps;
  gdeps.config = &m.config;
  gdeps.store = m.store.get();
  gdeps.clock = &m.clock;
  gdeps.blocking = m.blocking.get();
  // Lambda proxy integrations go through the same invoke path as function URLs (limits,
  // throttling, metering): the integration's ARN names the function and its qualifier.
  gdeps.invoke = [lambda_service](std::string function_arn,
                                  std::string payload) -> net::Task<Result<runtime::InvokeResult>> {
    lambda::FunctionUrlTarget target;
    std::vector<std::string> parts = split(function_arn, ':');
    if (parts.size() >= 7 && parts[5] == "function") {
      target.function_name = parts[6];
      if (parts.size() > 7) target.qualifier = parts[7];
    } else {
      target.function_name = function_arn;
    }
    return lambda_service->invoke_url_target(std::move(target), std::move(payload), "");
  };
  m.apigateway = std::make_unique<apigateway::ApiGatewayService>(std::move(gdeps));
  services.apigateway = m.apigateway.get();
  m.front_door =
      std::make_unique<FrontDoor>(m.config, *m.directory, m.clock, services, m.audit.get());
  return node;
}

Result<uint16_t> Node::start() {
  Impl& m = *impl_;
  NUBO_TRY(m.iam->start());  // its schema, before the first request can reach it
  NUBO_TRY(m.secrets->start());
  NUBO_TRY(m.s3->start());
  NUBO_TRY(m.apigateway->start());
  NUBO_TRY(m.audit->start());
  net::ServerLimits limits;
  FrontDoor* fd = m.front_door.get();
  limits.too_large = [fd](const net::Request& req) { return fd->too_large(req); };
  m.server = std::make_unique<net::HttpServer>(
      m.shards->all(),
      [fd](net::Request& req, const net::Peer& peer) { return fd->handle(req, peer); }, limits);
  // S3 requests stream their bodies (objects of up to 5 GiB) instead of being read whole.
  m.server->stream_bodies(&FrontDoor::streams_body,
                          [fd](net::Exchange& ex, const net::Peer& peer) -> net::Task<void> {
                            return fd->handle_exchange(ex, peer);
                          });
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
    if (m.sqs) m.sqs->stop();  // long polls answer now instead of at their wait's end
    if (m.server && !m.server->wait_idle(std::chrono::seconds(30))) {
      log_warn("stopping: some connections did not finish in 30 s");
    }
    if (m.lambda) m.lambda->stop();
    if (m.invoker) m.invoker->shutdown(std::chrono::seconds(5));
    // After the invoker: a rotation waiting on its function's instance ends when that instance
    // is stopped, and then records its outcome (the io threads and the Store still run).
    if (m.secrets) m.secrets->stop();
    if (m.audit) m.audit->stop();  // after the last request, so its decisions are kept
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
