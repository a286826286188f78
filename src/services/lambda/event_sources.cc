#include "services/lambda/event_sources.h"

// GCC 12 reports a false -Wmismatched-new-delete on the frames of some Asio coroutines here (the
// frame's operator new/delete pair is Asio's own); see GCC bug 109224.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <condition_variable>
#include <mutex>
#include <set>

#include "base/ids.h"
#include "base/log.h"
#include "base/strings.h"
#include "services/lambda/limits.h"

namespace nubo::lambda {

namespace asio = boost::asio;

namespace {

std::vector<std::string> schema() {
  return {
      "CREATE TABLE lambda_event_source_mappings (uuid TEXT PRIMARY KEY, source_arn TEXT NOT "
      "NULL, function_arn TEXT NOT NULL, config TEXT NOT NULL, last_modified_ms INTEGER NOT "
      "NULL)",
  };
}

struct Mapping {
  std::string uuid;
  std::string source_arn;
  std::string function_arn;
  int64_t batch_size = kSqsBatchSizeDefault;
  int64_t window_s = 0;
  bool enabled = true;
  bool report_failures = false;
  int64_t max_concurrency = 0;  // 0: none set
  int64_t last_modified_ms = 0;
};

std::string config_json(const Mapping& m) {
  json::object o;
  o["BatchSize"] = m.batch_size;
  o["MaximumBatchingWindowInSeconds"] = m.window_s;
  o["Enabled"] = m.enabled;
  o["ReportBatchItemFailures"] = m.report_failures;
  o["MaximumConcurrency"] = m.max_concurrency;
  return json::serialize(o);
}

Mapping mapping_of(const storage::Row& r) {
  Mapping m;
  m.uuid = r.text(0);
  m.source_arn = r.text(1);
  m.function_arn = r.text(2);
  auto v = parse_json(r.text(3));
  if (v.ok() && v->is_object()) {
    const json::object& o = v->as_object();
    m.batch_size = get_int(o, "BatchSize").value_or(kSqsBatchSizeDefault);
    m.window_s = get_int(o, "MaximumBatchingWindowInSeconds").value_or(0);
    m.enabled = get_bool(o, "Enabled").value_or(true);
    m.report_failures = get_bool(o, "ReportBatchItemFailures").value_or(false);
    m.max_concurrency = get_int(o, "MaximumConcurrency").value_or(0);
  }
  m.last_modified_ms = r.integer(4);
  return m;
}

Error not_found() {
  return Error{"ResourceNotFoundException", 404, "The resource you requested does not exist."};
}

Error invalid(const std::string& message) {
  return Error{"InvalidParameterValueException", 400, message};
}

bool is_sqs_arn(const std::string& arn) {
  auto parts = split(arn, ':');
  return parts.size() == 6 && parts[0] == "arn" && parts[2] == "sqs" && !parts[5].empty();
}

}  // namespace

std::string sqs_event(const std::vector<SourceMessage>& batch, const std::string& queue_arn,
                      const std::string& region) {
  json::array records;
  for (const auto& m : batch) {
    json::object r;
    r["messageId"] = m.message_id;
    r["receiptHandle"] = m.receipt_handle;
    r["body"] = m.body;
    json::object attrs;
    for (const auto& [k, v] : m.attributes) attrs[k] = v;
    r["attributes"] = std::move(attrs);
    json::object mattrs;
    for (const auto& [k, a] : m.message_attributes) {
      json::object e;
      if (!a.binary_value_base64.empty()) {
        e["binaryValue"] = a.binary_value_base64;
      } else {
        e["stringValue"] = a.string_value;
      }
      e["stringListValues"] = json::array();
      e["binaryListValues"] = json::array();
      e["dataType"] = a.data_type;
      mattrs[k] = std::move(e);
    }
    r["messageAttributes"] = std::move(mattrs);
    r["md5OfBody"] = m.md5_of_body;
    r["eventSource"] = "aws:sqs";
    r["eventSourceARN"] = queue_arn;
    r["awsRegion"] = region;
    records.push_back(std::move(r));
  }
  json::object event;
  event["Records"] = std::move(records);
  return json::serialize(event);
}

// One enabled mapping's pollers.
struct Runner {
  Mapping mapping;
  std::atomic<bool> stopping{false};
  std::atomic<int> active{0};
};

struct EventSources::Impl : std::enable_shared_from_this<EventSources::Impl> {
  EventSourceDeps deps;
  std::mutex mu;
  std::condition_variable idle;
  std::map<std::string, std::shared_ptr<Runner>> runners;  // GUARDED_BY(mu), by UUID
  size_t next_worker = 0;                                  // GUARDED_BY(mu)
  bool stopped = false;                                    // GUARDED_BY(mu)
  std::atomic<int> loops{0};
  std::atomic<uint64_t> batches{0};

  std::string mapping_arn(const std::string& uuid) const {
    return "arn:aws:lambda:" + deps.region + ":" + deps.account_id +
           ":event-source-mapping:" + uuid;
  }

  json::object to_json(const Mapping& m, const char* state) const {
    json::object o;
    o["UUID"] = m.uuid;
    o["BatchSize"] = m.batch_size;
    o["MaximumBatchingWindowInSeconds"] = m.window_s;
    o["EventSourceArn"] = m.source_arn;
    o["FunctionArn"] = m.function_arn;
    o["LastModified"] = static_cast<double>(m.last_modified_ms) / 1000.0;
    o["State"] = state;
    o["StateTransitionReason"] = "USER_INITIATED";
    json::array types;
    if (m.report_failures) types.push_back("ReportBatchItemFailures");
    o["FunctionResponseTypes"] = std::move(types);
    if (m.max_concurrency > 0) {
      json::object sc;
      sc["MaximumConcurrency"] = m.max_concurrency;
      o["ScalingConfig"] = std::move(sc);
    }
    o["EventSourceMappingArn"] = mapping_arn(m.uuid);
    return o;
  }

  asio::io_context* worker() {
    std::lock_guard lock(mu);
    if (deps.workers.empty()) return deps.io;
    return deps.workers[next_worker++ % deps.workers.size()];
  }

  // Starts (or restarts, after an update) the pollers of m; stops them when m is disabled.
  void run(const Mapping& m) {
    std::shared_ptr<Runner> old, fresh;
    {
      std::lock_guard lock(mu);
      auto it = runners.find(m.uuid);
      if (it != runners.end()) {
        old = it->second;
        runners.erase(it);
      }
      if (m.enabled && !stopped) {
        fresh = std::make_shared<Runner>();
        fresh->mapping = m;
        runners[m.uuid] = fresh;
      }
    }
    if (old) old->stopping = true;
    if (fresh) spawn(fresh);
  }

  void spawn(const std::shared_ptr<Runner>& r) {
    r->active.fetch_add(1);
    loops.fetch_add(1);
    asio::co_spawn(*worker(), poll(shared_from_this(), r), asio::detached);
  }

  static net::Task<void> pause(std::chrono::milliseconds d) {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer t(ex);
    t.expires_after(d);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  // One poller of r: receive a batch, invoke, delete what was processed; until r stops.
  static net::Task<void> poll(std::shared_ptr<Impl> self, std::shared_ptr<Runner> r) {
    const Mapping& m = r->mapping;
    int empty_polls = 0;
    std::chrono::milliseconds backoff{0};
    while (!r->stopping) {
      if (backoff.count() > 0) {
        auto pausing = pause(backoff);
        co_await std::move(pausing);
        if (r->stopping) break;
      }
      std::vector<SourceMessage> batch;
      const auto window_end = std::chrono::steady_clock::now() + std::chrono::seconds(m.window_s);
      // A batch: up to BatchSize messages, gathered for at most the batching window.
      while (static_cast<int64_t>(batch.size()) < m.batch_size && !r->stopping) {
        int want = static_cast<int>(std::min<int64_t>(m.batch_size - batch.size(), 10));
        int wait_s = batch.empty() ? 1 : 0;
        if (!batch.empty()) {
          auto left = window_end - std::chrono::steady_clock::now();
          if (left <= std::chrono::milliseconds(0)) break;
          wait_s = static_cast<int>(
              std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(left).count()));
        }
        const auto asked = std::chrono::steady_clock::now();
        auto receiving = self->deps.receive(m.source_arn, want, wait_s);
        Result<std::vector<SourceMessage>> got = co_await std::move(receiving);
        if (!got.ok()) {
          log_warn("event source mapping " + m.uuid + ": " + got.error().message);
          backoff = std::chrono::milliseconds(1000);
          break;
        }
        if (got->empty()) {
          // A receive that should have waited and did not (the queue service is stopping):
          // do not poll in a tight loop.
          bool quick = wait_s > 0 &&
                       std::chrono::steady_clock::now() - asked < std::chrono::milliseconds(100);
          backoff = std::chrono::milliseconds(quick ? 200 : 0);
          if (batch.empty() || m.window_s == 0) break;
          continue;
        }
        for (auto& msg : *got) {
          // Received again while the batch gathers (its visibility timeout is shorter than the
          // batching window): once in the batch, with its latest receipt handle.
          auto same = std::find_if(batch.begin(), batch.end(), [&](const SourceMessage& b) {
            return b.message_id == msg.message_id;
          });
          if (same != batch.end()) {
            same->receipt_handle = std::move(msg.receipt_handle);
          } else {
            batch.push_back(std::move(msg));
          }
        }
        if (m.window_s == 0) break;
      }
      if (batch.empty()) {
        // Idle: a poller beyond the first ends; the first polls on (its receive waits).
        if (++empty_polls >= 2 && r->active.load() > 1) break;
        continue;
      }
      empty_polls = 0;
      if (r->stopping) {  // disabled or deleted meanwhile: hand the batch back untouched
        std::vector<std::string> receipts;
        for (const auto& msg : batch) receipts.push_back(msg.receipt_handle);
        auto releasing = self->deps.release(m.source_arn, std::move(receipts));
        (void)co_await std::move(releasing);
        break;
      }
      // A full batch: the queue has more; another poller, up to the mapping's limit.
      int64_t limit = m.max_concurrency > 0 ? m.max_concurrency : kSqsMaxPollers;
      if (static_cast<int64_t>(batch.size()) >= std::min<int64_t>(m.batch_size, 10) &&
          r->active.load() < limit) {
        self->spawn(r);
      }
      auto invoking =
          self->deps.invoke(m.function_arn, sqs_event(batch, m.source_arn, self->deps.region));
      Result<std::string> out = co_await std::move(invoking);
      self->batches.fetch_add(1);
      std::vector<std::string> done;
      if (out.ok()) {
        backoff = std::chrono::milliseconds(0);
        std::set<std::string> failed;
        bool whole_batch_failed = false;
        if (m.report_failures && !out->empty()) {
          auto v = parse_json(*out);
          if (v.ok() && v->is_object()) {
            if (const json::array* f = get_array(v->as_object(), "batchItemFailures")) {
              for (const auto& item : *f) {
                std::string id = item.is_object()
                                     ? get_string(item.as_object(), "itemIdentifier").value_or("")
                                     : "";
                // A failure that names no message of the batch fails the whole batch (Lambda
                // developer guide, "Implementing partial batch responses").
                bool known = false;
                for (const auto& msg : batch) known = known || msg.message_id == id;
                if (!known) whole_batch_failed = true;
                failed.insert(id);
              }
            }
          }
        }
        if (!whole_batch_failed) {
          for (const auto& msg : batch) {
            if (!failed.count(msg.message_id)) done.push_back(msg.receipt_handle);
          }
        }
      } else if (out.error().code == "TooManyRequestsException") {
        backoff = std::min(std::chrono::milliseconds(1000),
                           std::max(std::chrono::milliseconds(50), backoff * 2));
      }
      // A failed invocation deletes nothing: the messages come back after their visibility
      // timeout, and the queue's redrive policy takes them after maxReceiveCount.
      if (!done.empty()) {
        auto deleting = self->deps.delete_messages(m.source_arn, std::move(done));
        Status st = co_await std::move(deleting);
        if (!st.ok()) log_warn("event source mapping " + m.uuid + ": " + st.error().message);
      }
    }
    r->active.fetch_sub(1);
    if (self->loops.fetch_sub(1) == 1) {
      std::lock_guard lock(self->mu);
      self->idle.notify_all();
    }
  }

  Result<std::vector<Mapping>> load(const std::string& where, const storage::Params& params) {
    NUBO_ASSIGN_OR_RETURN(auto rows,
                          deps.store->query("SELECT uuid, source_arn, function_arn, config, "
                                            "last_modified_ms FROM lambda_event_source_mappings " +
                                                where + " ORDER BY uuid",
                                            params));
    std::vector<Mapping> out;
    for (const auto& r : rows) out.push_back(mapping_of(r));
    return out;
  }

  Result<Mapping> get(const std::string& uuid) {
    NUBO_ASSIGN_OR_RETURN(auto found, load("WHERE uuid = ?", {uuid}));
    if (found.empty()) return not_found();
    return found[0];
  }

  // Reads and checks the settable fields of a Create or Update body into m.
  Status apply(const json::object& o, Mapping& m, bool create) {
    // What nubo does for an SQS mapping; anything else (FilterCriteria, Tags: not built yet) is
    // refused rather than accepted and ignored.
    for (const auto& [k, v] : o) {
      static const std::set<std::string> kKnown = {"EventSourceArn",
                                                   "FunctionName",
                                                   "Enabled",
                                                   "BatchSize",
                                                   "MaximumBatchingWindowInSeconds",
                                                   "FunctionResponseTypes",
                                                   "ScalingConfig"};
      if (!kKnown.count(std::string(k))) {
        return invalid("Unsupported parameter for an SQS event source: " + std::string(k));
      }
    }
    if (const json::value* v = o.if_contains("Enabled")) {
      if (!v->is_bool()) return invalid("Enabled must be a boolean.");
      m.enabled = v->as_bool();
    }
    if (const json::value* v = o.if_contains("BatchSize")) {
      if (!v->is_int64()) return invalid("BatchSize must be an integer.");
      m.batch_size = v->as_int64();
    }
    if (const json::value* v = o.if_contains("MaximumBatchingWindowInSeconds")) {
      if (!v->is_int64()) return invalid("MaximumBatchingWindowInSeconds must be an integer.");
      m.window_s = v->as_int64();
    }
    if (const json::value* v = o.if_contains("FunctionResponseTypes")) {
      if (!v->is_array()) return invalid("FunctionResponseTypes must be a list.");
      m.report_failures = false;
      for (const auto& t : v->as_array()) {
        if (!t.is_string() || t.as_string() != "ReportBatchItemFailures") {
          return invalid("Unsupported FunctionResponseType: " + json::serialize(t));
        }
        m.report_failures = true;
      }
    }
    if (const json::object* sc = get_object(o, "ScalingConfig")) {
      auto n = get_int(*sc, "MaximumConcurrency");
      if (n && (*n < kSqsMaxConcurrencyMin || *n > kSqsMaxConcurrencyMax)) {
        return invalid("MaximumConcurrency must be between " +
                       std::to_string(kSqsMaxConcurrencyMin) + " and " +
                       std::to_string(kSqsMaxConcurrencyMax) + ".");
      }
      m.max_concurrency = n.value_or(0);
    }
    const bool fifo = ends_with(m.source_arn, ".fifo");
    const int64_t max_batch = fifo ? kSqsFifoBatchSizeMax : kSqsBatchSizeMax;
    if (m.batch_size < 1 || m.batch_size > max_batch) {
      return invalid("BatchSize must be between 1 and " + std::to_string(max_batch) +
                     " for this event source.");
    }
    if (m.window_s < 0 || m.window_s > kSqsBatchingWindowMax || (fifo && m.window_s > 0)) {
      return invalid(fifo ? "Batching window is not supported for FIFO queues."
                          : "MaximumBatchingWindowInSeconds must be between 0 and 300.");
    }
    if (m.batch_size > 10 && m.window_s < 1) {
      return invalid(
          "Maximum batch window in seconds must be greater than 0 if maximum batch "
          "size is greater than 10");
    }
    (void)create;
    return Ok{};
  }
};

EventSources::EventSources(EventSourceDeps deps) : impl_(std::make_shared<Impl>()) {
  impl_->deps = std::move(deps);
}

EventSources::~EventSources() {
  stop();
}

Status EventSources::start() {
  NUBO_TRY(impl_->deps.store->migrate("lambda-event-sources", schema()));
  NUBO_ASSIGN_OR_RETURN(auto all, impl_->load("", {}));
  for (const auto& m : all) impl_->run(m);
  return Ok{};
}

void EventSources::stop() {
  std::vector<std::shared_ptr<Runner>> all;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopped = true;
    for (auto& [k, r] : impl_->runners) all.push_back(r);
    impl_->runners.clear();
  }
  for (auto& r : all) r->stopping = true;
  // Pollers notice within one receive's wait (1 s) plus a batch in flight.
  std::unique_lock lock(impl_->mu);
  impl_->idle.wait_for(lock, std::chrono::seconds(10), [&] { return impl_->loops.load() == 0; });
}

uint64_t EventSources::batches() const {
  return impl_->batches.load();
}

Result<std::pair<int, json::value>> EventSources::handle(
    net::http::verb method, const std::string& rest,
    const std::map<std::string, std::string>& query, const std::string& body) {
  Impl& m = *impl_;
  std::string uuid = rest;
  while (!uuid.empty() && uuid.front() == '/') uuid.erase(0, 1);
  while (!uuid.empty() && uuid.back() == '/') uuid.pop_back();
  json::object in;
  if (method == net::http::verb::post || method == net::http::verb::put) {
    auto v = parse_json(body.empty() ? "{}" : body, "InvalidRequestContentException");
    if (!v.ok()) return v.error();
    if (!v->is_object()) return invalid("The request body must be a JSON object.");
    in = std::move(v->as_object());
  }
  const int64_t now_ms = epoch_ms(m.deps.clock->now());
  if (uuid.empty() && method == net::http::verb::post) {
    Mapping map;
    map.source_arn = get_string(in, "EventSourceArn").value_or("");
    std::string fn = get_string(in, "FunctionName").value_or("");
    if (fn.empty()) return invalid("FunctionName is required.");
    if (map.source_arn.empty()) return invalid("EventSourceArn is required.");
    if (!is_sqs_arn(map.source_arn)) {
      return invalid(
          "Unrecognized event source, must be kinesis, dynamodb stream or sqs. "
          "Unsupported source arn : " +
          map.source_arn);
    }
    NUBO_ASSIGN_OR_RETURN(map.function_arn, m.deps.resolve_function(fn));
    NUBO_TRY(m.apply(in, map, true));
    if (!m.deps.queue_visibility || !m.deps.queue_visibility(map.source_arn)) {
      return invalid(
          "Error occurred while ReceiveMessage. SQS Error Code: "
          "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified "
          "queue does not exist or you do not have access to it.");
    }
    NUBO_ASSIGN_OR_RETURN(auto same, m.load("WHERE source_arn = ? AND function_arn = ?",
                                            {map.source_arn, map.function_arn}));
    if (!same.empty()) {
      return Error{"ResourceConflictException", 409,
                   "An event source mapping with SQS arn (\" " + map.source_arn +
                       " \") and function (\" " + map.function_arn +
                       " \") already exists. Please update or delete the existing mapping with "
                       "UUID " +
                       same[0].uuid};
    }
    map.uuid = new_uuid();
    map.last_modified_ms = now_ms;
    NUBO_TRY(m.deps.store->transaction([&](storage::Txn& t) -> Status {
      NUBO_TRY(
          t.exec("INSERT INTO lambda_event_source_mappings (uuid, source_arn, function_arn, "
                 "config, last_modified_ms) VALUES (?, ?, ?, ?, ?)",
                 {map.uuid, map.source_arn, map.function_arn, config_json(map), now_ms}));
      return Ok{};
    }));
    m.run(map);
    return std::pair<int, json::value>(202, m.to_json(map, "Creating"));
  }
  if (uuid.empty() && method == net::http::verb::get) {
    std::string where = "WHERE 1 = 1";
    storage::Params params;
    auto source = query.find("EventSourceArn");
    if (source != query.end()) {
      where += " AND source_arn = ?";
      params.push_back(source->second);
    }
    auto fn = query.find("FunctionName");
    std::string function_arn;
    if (fn != query.end()) {
      NUBO_ASSIGN_OR_RETURN(function_arn, m.deps.resolve_function(fn->second));
    }
    size_t max_items = kSqsListMappingsMax;
    if (auto it = query.find("MaxItems"); it != query.end()) {
      char* end = nullptr;
      long n = std::strtol(it->second.c_str(), &end, 10);
      if (end == it->second.c_str() || *end || n < 1 || n > 10000) {
        return invalid("MaxItems must be between 1 and 10000.");
      }
      max_items = static_cast<size_t>(n);
    }
    std::string marker = query.count("Marker") ? query.at("Marker") : "";
    if (!marker.empty()) {
      where += " AND uuid > ?";
      params.push_back(marker);
    }
    NUBO_ASSIGN_OR_RETURN(auto all, m.load(where, params));
    json::array items;
    std::string next;
    for (const auto& x : all) {
      // An unqualified FunctionName lists the function's mappings of every qualifier.
      if (!function_arn.empty() && x.function_arn != function_arn &&
          !starts_with(x.function_arn, function_arn + ":")) {
        continue;
      }
      if (items.size() == max_items) {
        next = items.back().as_object().at("UUID").as_string().c_str();
        break;
      }
      items.push_back(m.to_json(x, x.enabled ? "Enabled" : "Disabled"));
    }
    json::object out;
    out["EventSourceMappings"] = std::move(items);
    if (!next.empty()) out["NextMarker"] = next;
    return std::pair<int, json::value>(200, std::move(out));
  }
  if (uuid.empty() || uuid.find('/') != std::string::npos) {
    return Error{"UnknownOperationException", 400, "Unknown operation"};
  }
  NUBO_ASSIGN_OR_RETURN(Mapping map, m.get(uuid));
  if (method == net::http::verb::get) {
    return std::pair<int, json::value>(200, m.to_json(map, map.enabled ? "Enabled" : "Disabled"));
  }
  if (method == net::http::verb::put) {
    if (in.if_contains("EventSourceArn")) {
      return invalid("EventSourceArn cannot be updated.");
    }
    if (auto fn = get_string(in, "FunctionName")) {
      NUBO_ASSIGN_OR_RETURN(map.function_arn, m.deps.resolve_function(*fn));
      in.erase("FunctionName");
    }
    NUBO_TRY(m.apply(in, map, false));
    map.last_modified_ms = now_ms;
    NUBO_TRY(m.deps.store->transaction([&](storage::Txn& t) -> Status {
      NUBO_TRY(
          t.exec("UPDATE lambda_event_source_mappings SET function_arn = ?, config = ?, "
                 "last_modified_ms = ? WHERE uuid = ?",
                 {map.function_arn, config_json(map), now_ms, uuid}));
      return Ok{};
    }));
    m.run(map);
    return std::pair<int, json::value>(202, m.to_json(map, "Updating"));
  }
  if (method == net::http::verb::delete_) {
    NUBO_TRY(m.deps.store->transaction([&](storage::Txn& t) -> Status {
      NUBO_TRY(t.exec("DELETE FROM lambda_event_source_mappings WHERE uuid = ?", {uuid}));
      return Ok{};
    }));
    map.enabled = false;
    m.run(map);  // stops its pollers
    return std::pair<int, json::value>(202, m.to_json(map, "Deleting"));
  }
  return Error{"UnknownOperationException", 400, "Unknown operation"};
}

}  // namespace nubo::lambda
