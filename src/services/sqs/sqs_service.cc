#include "services/sqs/sqs_service.h"

// GCC 12 reports a false -Wmismatched-new-delete on the frames of some Asio coroutines here (the
// frame's operator new/delete pair is Asio's own); see GCC bug 109224.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <mutex>
#include <set>
#include <unordered_map>

#include "auth/policy.h"
#include "base/crypto.h"
#include "base/ids.h"
#include "base/strings.h"
#include "net/async.h"
#include "net/protocol.h"
#include "services/sqs/limits.h"
#include "services/sqs/wire.h"

namespace nubo::sqs {

namespace asio = boost::asio;
using net::Request;
using net::Response;

namespace {

const auth::DenialShape kDenied{"AccessDenied", 403};

Error missing(const std::string& name) {
  return Error{"MissingParameter", 400, "The request must contain the parameter " + name + "."};
}

Error invalid(const std::string& message) {
  return Error{"InvalidParameterValue", 400, message};
}

std::optional<std::string> str(const json::object& o, std::string_view k) {
  return get_string(o, k);
}

Result<std::optional<int64_t>> opt_int(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  if (!v || v->is_null()) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->as_int64());
  if (v->is_uint64()) return std::optional<int64_t>(static_cast<int64_t>(v->as_uint64()));
  return invalid("Value for parameter " + std::string(k) +
                 " is invalid. Reason: must be an "
                 "integer.");
}

Result<std::map<std::string, std::string>> string_map(const json::object& o, std::string_view k) {
  std::map<std::string, std::string> out;
  const json::value* v = o.if_contains(k);
  if (!v || v->is_null()) return out;
  if (!v->is_object()) return invalid("Parameter " + std::string(k) + " must be a map.");
  for (const auto& [name, val] : v->as_object()) {
    if (!val.is_string()) {
      return invalid("Value for " + std::string(k) + "." + std::string(name) +
                     " must be a string.");
    }
    out[std::string(name)] = std::string(val.as_string());
  }
  return out;
}

std::vector<std::string> string_list(const json::object& o, std::string_view k) {
  std::vector<std::string> out;
  if (const json::array* a = get_array(o, k)) {
    for (const auto& v : *a) {
      if (v.is_string()) out.emplace_back(v.as_string());
    }
  }
  return out;
}

// MessageAttributes / MessageSystemAttributes of a request.
Result<MessageAttributes> message_attributes(const json::object& o, std::string_view k) {
  MessageAttributes out;
  const json::object* m = get_object(o, k);
  if (!m) return out;
  for (const auto& [name, val] : *m) {
    if (!val.is_object()) return invalid("Message attribute " + std::string(name) + " is invalid.");
    const json::object& a = val.as_object();
    MessageAttribute attr;
    attr.data_type = get_string(a, "DataType").value_or("");
    if (attr.binary()) {
      std::string b64 = get_string(a, "BinaryValue").value_or("");
      auto bytes = base64_decode(b64);
      if (!bytes) {
        return invalid("The message attribute '" + std::string(name) +
                       "' has an invalid binary value.");
      }
      attr.value = std::move(*bytes);
    } else {
      attr.value = get_string(a, "StringValue").value_or("");
    }
    out[std::string(name)] = std::move(attr);
  }
  return out;
}

json::object attributes_out(const MessageAttributes& attrs) {
  json::object o;
  for (const auto& [name, a] : attrs) {
    json::object e;
    if (a.binary()) {
      e["BinaryValue"] = base64_encode(a.value);
    } else {
      e["StringValue"] = a.value;
    }
    e["DataType"] = a.data_type;
    o[name] = std::move(e);
  }
  return o;
}

bool valid_batch_id(const std::string& id) {
  if (id.empty() || id.size() > kBatchIdMax) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

// The batch's entries after SQS's checks of the batch as a whole.
Result<std::vector<json::object>> batch_entries(const json::object& body,
                                                const std::string& entry_name) {
  std::vector<json::object> out;
  const json::array* a = get_array(body, "Entries");
  if (!a || a->empty()) {
    return Error{"AWS.SimpleQueueService.EmptyBatchRequest", 400,
                 "There should be at least one " + entry_name + " in the request."};
  }
  if (a->size() > kBatchEntriesMax) {
    return Error{"AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400,
                 "Maximum number of entries per request are " + std::to_string(kBatchEntriesMax) +
                     ". You have sent " + std::to_string(a->size()) + "."};
  }
  std::set<std::string> ids;
  for (const auto& v : *a) {
    if (!v.is_object()) return invalid("Each batch entry must be an object.");
    std::string id = get_string(v.as_object(), "Id").value_or("");
    if (!valid_batch_id(id)) {
      return Error{"AWS.SimpleQueueService.InvalidBatchEntryId", 400,
                   "A batch entry id can only contain alphanumeric characters, hyphens and "
                   "underscores. It can be at most 80 letters long."};
    }
    if (!ids.insert(id).second) {
      return Error{"AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400,
                   "Id " + id + " repeated."};
    }
    out.push_back(v.as_object());
  }
  return out;
}

json::object failed_entry(const std::string& id, const Error& e) {
  json::object f;
  f["Id"] = id;
  f["SenderFault"] = e.status < 500;
  f["Code"] = e.code;
  f["Message"] = e.message;
  return f;
}

// Whether a message attribute name is asked for (All, .*, a name, or a "prefix.*").
bool wanted(const std::vector<std::string>& names, const std::string& name) {
  for (const auto& n : names) {
    if (n == "All" || n == ".*" || n == name) return true;
    if (ends_with(n, ".*") && starts_with(name, n.substr(0, n.size() - 1))) return true;
  }
  return false;
}

}  // namespace

struct SqsService::Impl {
  SqsDeps deps;
  std::unique_ptr<Queues> queues;

  // Long polls: per queue key, a change counter and the waiters to wake.
  std::mutex mu;
  struct Waiting {
    uint64_t version = 0;
    std::vector<std::shared_ptr<net::OneShot<bool>>> waiters;
  };
  std::unordered_map<std::string, Waiting> waiting;  // GUARDED_BY(mu)
  bool stopping = false;                             // GUARDED_BY(mu)
  // PurgeQueue: once per queue every 60 s (PurgeQueueInProgress).
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> purged;  // GUARDED_BY(mu)

  static std::string key(const QueueRef& q) { return q.account + "/" + q.name; }

  uint64_t version(const QueueRef& q) {
    std::lock_guard lock(mu);
    return waiting[key(q)].version;
  }

  void notify(const QueueRef& q) {
    std::vector<std::shared_ptr<net::OneShot<bool>>> wake;
    {
      std::lock_guard lock(mu);
      Waiting& w = waiting[key(q)];
      ++w.version;
      wake.swap(w.waiters);
    }
    for (auto& s : wake) s->set(true);
  }

  void stop() {
    std::vector<std::shared_ptr<net::OneShot<bool>>> wake;
    {
      std::lock_guard lock(mu);
      stopping = true;
      for (auto& [k, w] : waiting) {
        for (auto& s : w.waiters) wake.push_back(std::move(s));
        w.waiters.clear();
      }
    }
    for (auto& s : wake) s->set(true);
  }

  bool is_stopping() {
    std::lock_guard lock(mu);
    return stopping;
  }

  // Registers a waiter unless the queue changed since `seen` (or the service is stopping); null
  // when it did.
  std::shared_ptr<net::OneShot<bool>> wait_after(const QueueRef& q, uint64_t seen) {
    std::lock_guard lock(mu);
    Waiting& w = waiting[key(q)];
    if (w.version != seen || stopping) return nullptr;
    auto shot = net::OneShot<bool>::make();
    w.waiters.push_back(shot);
    return shot;
  }

  std::string queue_url(const Request& req, const QueueRef& q) const {
    std::string host(net::header(req, "host"));
    if (host.empty()) host = "sqs." + deps.region + ".amazonaws.com";
    return "http://" + host + "/" + q.account + "/" + q.name;
  }

  // The queue a request names: QueueUrl (any host; the path's /<account>/<name>), or for
  // clients that post to the queue's URL, the request path.
  Result<QueueRef> queue_of(const Request& req, const json::object& body,
                            const auth::Caller& caller) const {
    std::string url = str(body, "QueueUrl").value_or("");
    std::string path;
    if (!url.empty()) {
      size_t scheme = url.find("://");
      size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
      path = slash == std::string::npos ? "" : url.substr(slash);
    } else {
      path = net::parse_target(req.target()).path;
      if (path == "/" || path.empty()) return missing("QueueUrl");
    }
    auto parts = split(path, '/');
    std::vector<std::string> segs;
    for (auto& p : parts) {
      if (!p.empty()) segs.push_back(p);
    }
    if (segs.size() == 1) return QueueRef{caller.account_id, segs[0]};
    if (segs.size() == 2) return QueueRef{segs[0], segs[1]};
    return Error{"InvalidAddress", 404, "The address " + url + " is not valid for this endpoint."};
  }

  Status authorize(const auth::Caller& caller, const std::string& action, const std::string& arn,
                   const QueueInfo* info) const {
    if (caller.identity == nullptr && caller.account_id == (info ? info->account : "")) {
      // Root of the queue's own account: allowed everything (authorize() says so too; this
      // skips parsing the queue's policy).
      return auth::authorize(caller, {std::string(kActionPrefix) + action, arn}, kDenied);
    }
    std::optional<auth::Policy> policy;
    if (info) {
      auto it = info->attributes.find("Policy");
      if (it != info->attributes.end()) {
        auto parsed = auth::parse_policy(it->second);
        if (parsed.ok()) policy = std::move(parsed).value();
      }
    }
    auth::Access access(std::string(kActionPrefix) + action, arn, policy ? &*policy : nullptr);
    return auth::authorize(caller, access, kDenied);
  }

  template <typename Fn>
  auto blocking(Fn fn) {
    return net::run_blocking(*deps.blocking, std::move(fn));
  }

  // Loads the queue and authorises `action` on it.
  net::Task<Result<QueueInfo>> authorized_queue(QueueRef q, std::string action,
                                                const auth::Caller& caller) {
    auto loading = blocking([this, q] { return queues->get(q); });
    Result<QueueInfo> info = co_await std::move(loading);
    if (!info.ok()) {
      // Unknown queues are refused as inaccessible to callers not allowed the action anyway.
      Status st = authorize(caller, action, queues->arn(q), nullptr);
      if (!st.ok()) co_return st.error();
      co_return info.error();
    }
    Status st = authorize(caller, action, info->arn, &*info);
    if (!st.ok()) co_return st.error();
    co_return info;
  }

  net::Task<Result<json::object>> run(std::string action, json::object body, const Request& req,
                                      const auth::Caller& caller);
  net::Task<Result<json::object>> receive(QueueRef q, QueueInfo info, json::object body);
  net::Task<Result<ReceiveResult>> long_poll(QueueRef q, int n, std::optional<int64_t> vt,
                                             int64_t wait_s);
};

SqsService::SqsService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqsService::~SqsService() = default;

Result<std::unique_ptr<SqsService>> SqsService::make(SqsDeps deps) {
  auto impl = std::make_unique<Impl>();
  impl->deps = deps;
  NUBO_ASSIGN_OR_RETURN(impl->queues, Queues::open({deps.store, deps.clock, deps.region}));
  return std::make_unique<SqsService>(std::move(impl));
}

Queues& SqsService::queues() {
  return *impl_->queues;
}

void SqsService::stop() {
  impl_->stop();
}

std::optional<QueueRef> SqsService::queue_of_arn(const std::string& arn) {
  auto parts = split(arn, ':');
  if (parts.size() != 6 || parts[0] != "arn" || parts[2] != "sqs" || parts[5].empty()) {
    return std::nullopt;
  }
  return QueueRef{parts[4], parts[5]};
}

net::Task<Result<ReceiveResult>> SqsService::receive_for_service(QueueRef q, int max, int wait_s) {
  auto polling = impl_->long_poll(std::move(q), max, std::nullopt, wait_s);
  co_return co_await std::move(polling);
}

net::Task<Status> SqsService::delete_for_service(QueueRef q, std::vector<std::string> receipts) {
  Impl* impl = impl_.get();
  auto deleting = impl->blocking([impl, q, receipts]() -> Status {
    for (const auto& r : receipts) NUBO_TRY(impl->queues->delete_message(q, r));
    return Ok{};
  });
  co_return co_await std::move(deleting);
}

Result<bool> SqsService::service_may_send(const std::string& queue_arn,
                                          const std::string& service_principal,
                                          const std::string& source_arn,
                                          const std::string& source_account) {
  auto ref = queue_of_arn(queue_arn);
  if (!ref) return Error{"InvalidParameterValue", 400, "Not a queue ARN: " + queue_arn};
  NUBO_ASSIGN_OR_RETURN(QueueInfo info, impl_->queues->get(*ref));
  auto it = info.attributes.find("Policy");
  if (it == info.attributes.end()) return false;
  auto policy = auth::parse_policy(it->second);
  if (!policy.ok()) return false;
  auth::RequestContext ctx;
  ctx.action = "sqs:SendMessage";
  ctx.resource = info.arn;
  ctx.service = service_principal;
  if (!source_arn.empty()) ctx.set("aws:SourceArn", source_arn);
  if (!source_account.empty()) ctx.set("aws:SourceAccount", source_account);
  return auth::evaluate(*policy, ctx, /*check_principal=*/true) == auth::Decision::kAllow;
}

net::Task<Status> SqsService::send_for_service(std::string queue_arn, std::string body,
                                               std::string sender_id,
                                               std::map<std::string, std::string> attributes) {
  auto ref = queue_of_arn(queue_arn);
  if (!ref) co_return Error{"InvalidParameterValue", 400, "Not a queue ARN: " + queue_arn};
  Impl* impl = impl_.get();
  QueueRef q = *ref;
  NewMessage m;
  m.body = std::move(body);
  m.sender_id = std::move(sender_id);
  for (auto& [k, v] : attributes) m.attributes[k] = MessageAttribute{"String", std::move(v)};
  auto sending = impl->blocking([impl, q, m = std::move(m)]() mutable -> Status {
    NUBO_TRY(impl->queues->send(q, std::move(m)));
    return Ok{};
  });
  Status st = co_await std::move(sending);
  if (st.ok()) impl->notify(q);
  co_return st;
}

net::Task<Status> SqsService::release_for_service(QueueRef q, std::vector<std::string> receipts) {
  Impl* impl = impl_.get();
  auto releasing = impl->blocking([impl, q, receipts]() -> Status {
    for (const auto& r : receipts) (void)impl->queues->change_visibility(q, r, 0);
    return Ok{};
  });
  Status st = co_await std::move(releasing);
  impl->notify(q);
  co_return st;
}

void SqsService::notify(const QueueRef& q) {
  impl_->notify(q);
}

net::Task<Result<ReceiveResult>> SqsService::Impl::long_poll(QueueRef q, int n,
                                                             std::optional<int64_t> vt,
                                                             int64_t wait_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
  ReceiveResult got;
  for (;;) {
    uint64_t seen = version(q);
    auto receiving = blocking([this, q, n, vt] {
      return queues->receive(q, n, vt, [this](const QueueRef& to) { notify(to); });
    });
    Result<ReceiveResult> r = co_await std::move(receiving);
    if (!r.ok()) co_return r.error();
    got = std::move(r).value();
    if (!got.messages.empty() || std::chrono::steady_clock::now() >= deadline || is_stopping()) {
      break;
    }
    auto shot = wait_after(q, seen);
    if (!shot) continue;  // changed meanwhile (or stopping: the check above ends it)
    auto until = deadline;
    if (got.next_visible_ms) {
      int64_t in_ms = *got.next_visible_ms - epoch_ms(deps.clock->now());
      auto at =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max<int64_t>(in_ms, 0));
      until = std::min(until, at);
    }
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex);
    timer.expires_at(until);
    timer.async_wait([shot](const boost::system::error_code&) { shot->set(false); });
    co_await shot->async_wait(asio::use_awaitable);
    timer.cancel();
  }
  co_return got;
}

net::Task<Result<json::object>> SqsService::Impl::receive(QueueRef q, QueueInfo info,
                                                          json::object body) {
  NUBO_CO_ASSIGN_OR_RETURN(std::optional<int64_t> max, opt_int(body, "MaxNumberOfMessages"));
  NUBO_CO_ASSIGN_OR_RETURN(std::optional<int64_t> vt, opt_int(body, "VisibilityTimeout"));
  NUBO_CO_ASSIGN_OR_RETURN(std::optional<int64_t> wait, opt_int(body, "WaitTimeSeconds"));
  if (max && (*max < 1 || *max > kReceiveMax)) {
    co_return invalid("Value " + std::to_string(*max) +
                      " for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 "
                      "and 10, if provided.");
  }
  if (vt && (*vt < 0 || *vt > kVisibilityTimeoutMax)) {
    co_return invalid("Value " + std::to_string(*vt) +
                      " for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= "
                      "43200, if provided.");
  }
  if (wait && (*wait < 0 || *wait > kReceiveWaitMax)) {
    co_return invalid("Value " + std::to_string(*wait) +
                      " for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= "
                      "20, if provided.");
  }
  const int64_t wait_s = wait.value_or(info.int_attribute("ReceiveMessageWaitTimeSeconds"));
  auto polling = long_poll(q, static_cast<int>(max.value_or(1)), vt, wait_s);
  NUBO_CO_ASSIGN_OR_RETURN(ReceiveResult got, co_await std::move(polling));
  std::vector<std::string> system_names = string_list(body, "AttributeNames");
  for (auto& s : string_list(body, "MessageSystemAttributeNames")) system_names.push_back(s);
  std::vector<std::string> attr_names = string_list(body, "MessageAttributeNames");
  auto want_system = [&](const std::string& name) {
    for (const auto& s : system_names) {
      if (s == "All" || s == name) return true;
    }
    return false;
  };
  json::array messages;
  for (auto& m : got.messages) {
    json::object o;
    o["MessageId"] = m.message_id;
    o["ReceiptHandle"] = m.receipt_handle;
    o["MD5OfBody"] = m.md5_body;
    o["Body"] = m.body;
    json::object sys;
    auto put = [&](const char* name, const std::string& value) {
      if (want_system(name) && !value.empty()) sys[name] = value;
    };
    put("SenderId", m.sender_id);
    put("SentTimestamp", std::to_string(m.sent_ms));
    put("ApproximateReceiveCount", std::to_string(m.receive_count));
    put("ApproximateFirstReceiveTimestamp", std::to_string(m.first_receive_ms));
    put("SequenceNumber", m.sequence_number);
    put("MessageDeduplicationId", m.dedup_id);
    put("MessageGroupId", m.group_id);
    auto trace = m.system_attributes.find("AWSTraceHeader");
    if (trace != m.system_attributes.end()) put("AWSTraceHeader", trace->second.value);
    if (!sys.empty()) o["Attributes"] = std::move(sys);
    MessageAttributes selected;
    for (auto& [name, a] : m.attributes) {
      if (wanted(attr_names, name)) selected[name] = a;
    }
    if (!selected.empty()) {
      o["MD5OfMessageAttributes"] = md5_of_attributes(selected);
      o["MessageAttributes"] = attributes_out(selected);
    }
    messages.push_back(std::move(o));
  }
  json::object out;
  if (!messages.empty()) out["Messages"] = std::move(messages);
  co_return out;
}

net::Task<Result<json::object>> SqsService::Impl::run(std::string action, json::object body,
                                                      const Request& req,
                                                      const auth::Caller& caller) {
  json::object out;
  if (action == "ListQueues") {
    NUBO_CO_TRY(authorize(caller, action,
                          "arn:aws:sqs:" + deps.region + ":" + caller.account_id + ":*", nullptr));
    std::string prefix = str(body, "QueueNamePrefix").value_or("");
    NUBO_CO_ASSIGN_OR_RETURN(std::optional<int64_t> max_results, opt_int(body, "MaxResults"));
    if (max_results && (*max_results < 1 || *max_results > 1000)) {
      co_return invalid("Value " + std::to_string(*max_results) +
                        " for parameter MaxResults is invalid. Reason: MaxResults must be an "
                        "integer between 1 and 1000.");
    }
    std::string after;
    if (auto token = str(body, "NextToken")) {
      auto raw = base64_decode(*token);
      if (!raw) co_return invalid("Invalid NextToken value.");
      after = *raw;
    }
    size_t limit = max_results ? static_cast<size_t>(*max_results) : kListQueuesMax;
    std::string account = caller.account_id;
    auto listing = blocking([this, account, prefix, after, limit] {
      return queues->list(account, prefix, after, limit + 1);
    });
    NUBO_CO_ASSIGN_OR_RETURN(std::vector<std::string> names, co_await std::move(listing));
    json::array urls;
    for (size_t i = 0; i < names.size() && i < limit; ++i) {
      urls.push_back(json::value(queue_url(req, {account, names[i]})));
    }
    if (!urls.empty()) out["QueueUrls"] = std::move(urls);
    if (max_results && names.size() > limit) out["NextToken"] = base64_encode(names[limit - 1]);
    co_return out;
  }
  if (action == "CreateQueue") {
    std::string name = str(body, "QueueName").value_or("");
    if (name.empty()) co_return missing("QueueName");
    QueueRef q{caller.account_id, name};
    NUBO_CO_TRY(authorize(caller, action, queues->arn(q), nullptr));
    NUBO_CO_ASSIGN_OR_RETURN(auto attributes, string_map(body, "Attributes"));
    NUBO_CO_ASSIGN_OR_RETURN(auto tags, string_map(body, "tags"));
    if (tags.empty()) {
      NUBO_CO_ASSIGN_OR_RETURN(tags, string_map(body, "Tags"));
    }
    auto creating =
        blocking([this, q, attributes, tags] { return queues->create(q, attributes, tags); });
    NUBO_CO_ASSIGN_OR_RETURN(QueueInfo info, co_await std::move(creating));
    out["QueueUrl"] = queue_url(req, q);
    co_return out;
  }
  if (action == "GetQueueUrl") {
    std::string name = str(body, "QueueName").value_or("");
    if (name.empty()) co_return missing("QueueName");
    QueueRef q{str(body, "QueueOwnerAWSAccountId").value_or(caller.account_id), name};
    auto getting = authorized_queue(q, action, caller);
    NUBO_CO_ASSIGN_OR_RETURN(QueueInfo info, co_await std::move(getting));
    out["QueueUrl"] = queue_url(req, q);
    co_return out;
  }

  // Every other action names a queue by its URL.
  NUBO_CO_ASSIGN_OR_RETURN(QueueRef q, queue_of(req, body, caller));
  auto getting = authorized_queue(q, action, caller);
  NUBO_CO_ASSIGN_OR_RETURN(QueueInfo info, co_await std::move(getting));

  if (action == "DeleteQueue") {
    auto removing = blocking([this, q] { return queues->remove(q); });
    NUBO_CO_TRY(co_await std::move(removing));
    notify(q);  // long polls on it end (with the error)
    co_return out;
  }
  if (action == "GetQueueAttributes") {
    std::vector<std::string> names = string_list(body, "AttributeNames");
    static const char* kReadOnly[] = {"QueueArn",
                                      "ApproximateNumberOfMessages",
                                      "ApproximateNumberOfMessagesNotVisible",
                                      "ApproximateNumberOfMessagesDelayed",
                                      "CreatedTimestamp",
                                      "LastModifiedTimestamp"};
    std::set<std::string> known;
    for (const char* n : kReadOnly) known.insert(n);
    static const char* kSettable[] = {"DelaySeconds",
                                      "MaximumMessageSize",
                                      "MessageRetentionPeriod",
                                      "ReceiveMessageWaitTimeSeconds",
                                      "VisibilityTimeout",
                                      "Policy",
                                      "RedrivePolicy",
                                      "RedriveAllowPolicy",
                                      "KmsMasterKeyId",
                                      "KmsDataKeyReusePeriodSeconds",
                                      "SqsManagedSseEnabled",
                                      "FifoQueue",
                                      "ContentBasedDeduplication",
                                      "DeduplicationScope",
                                      "FifoThroughputLimit"};
    for (const char* n : kSettable) known.insert(n);
    bool all = false;
    for (const auto& n : names) {
      if (n == "All") {
        all = true;
      } else if (!known.count(n)) {
        co_return Error{"InvalidAttributeName", 400, "Unknown Attribute " + n + "."};
      }
    }
    auto asked = [&](const std::string& n) {
      return all || std::find(names.begin(), names.end(), n) != names.end();
    };
    QueueCounts counts;
    if (all || asked("ApproximateNumberOfMessages") ||
        asked("ApproximateNumberOfMessagesNotVisible") ||
        asked("ApproximateNumberOfMessagesDelayed")) {
      auto counting = blocking([this, q] { return queues->counts(q); });
      NUBO_CO_ASSIGN_OR_RETURN(counts, co_await std::move(counting));
    }
    json::object attrs;
    for (const char* n : kSettable) {
      std::string v = info.attribute(n);
      if (asked(n) && !v.empty()) attrs[n] = v;
    }
    if (asked("QueueArn")) attrs["QueueArn"] = info.arn;
    if (asked("ApproximateNumberOfMessages")) {
      attrs["ApproximateNumberOfMessages"] = std::to_string(counts.visible);
    }
    if (asked("ApproximateNumberOfMessagesNotVisible")) {
      attrs["ApproximateNumberOfMessagesNotVisible"] = std::to_string(counts.in_flight);
    }
    if (asked("ApproximateNumberOfMessagesDelayed")) {
      attrs["ApproximateNumberOfMessagesDelayed"] = std::to_string(counts.delayed);
    }
    if (asked("CreatedTimestamp")) attrs["CreatedTimestamp"] = std::to_string(info.created_s);
    if (asked("LastModifiedTimestamp")) {
      attrs["LastModifiedTimestamp"] = std::to_string(info.modified_s);
    }
    if (!attrs.empty()) out["Attributes"] = std::move(attrs);
    co_return out;
  }
  if (action == "SetQueueAttributes") {
    NUBO_CO_ASSIGN_OR_RETURN(auto attributes, string_map(body, "Attributes"));
    auto setting =
        blocking([this, q, attributes] { return queues->set_attributes(q, attributes); });
    NUBO_CO_TRY(co_await std::move(setting));
    co_return out;
  }
  if (action == "PurgeQueue") {
    {
      std::lock_guard lock(mu);
      auto now = std::chrono::steady_clock::now();
      auto it = purged.find(key(q));
      if (it != purged.end() && now - it->second < std::chrono::seconds(60)) {
        co_return Error{
            "AWS.SimpleQueueService.PurgeQueueInProgress", 403,
            "Only one PurgeQueue operation on " + q.name + " is allowed every 60 seconds."};
      }
      purged[key(q)] = now;
    }
    auto purging = blocking([this, q] { return queues->purge(q); });
    NUBO_CO_TRY(co_await std::move(purging));
    co_return out;
  }
  if (action == "TagQueue") {
    NUBO_CO_ASSIGN_OR_RETURN(auto tags, string_map(body, "Tags"));
    auto tagging = blocking([this, q, tags] { return queues->tag(q, tags); });
    NUBO_CO_TRY(co_await std::move(tagging));
    co_return out;
  }
  if (action == "UntagQueue") {
    std::vector<std::string> keys = string_list(body, "TagKeys");
    auto untagging = blocking([this, q, keys] { return queues->untag(q, keys); });
    NUBO_CO_TRY(co_await std::move(untagging));
    co_return out;
  }
  if (action == "ListQueueTags") {
    json::object tags;
    for (const auto& [k, v] : info.tags) tags[k] = v;
    if (!tags.empty()) out["Tags"] = std::move(tags);
    co_return out;
  }
  if (action == "ListDeadLetterSourceQueues") {
    auto listing = blocking([this, q] { return queues->dead_letter_sources(q); });
    NUBO_CO_ASSIGN_OR_RETURN(std::vector<std::string> names, co_await std::move(listing));
    json::array urls;
    for (const auto& n : names) urls.push_back(json::value(queue_url(req, {q.account, n})));
    out["queueUrls"] = std::move(urls);
    co_return out;
  }
  auto new_message = [&](const json::object& e) -> Result<NewMessage> {
    NewMessage m;
    m.body = str(e, "MessageBody").value_or("");
    NUBO_ASSIGN_OR_RETURN(m.attributes, message_attributes(e, "MessageAttributes"));
    NUBO_ASSIGN_OR_RETURN(m.system_attributes, message_attributes(e, "MessageSystemAttributes"));
    for (const auto& [name, a] : m.system_attributes) {
      if (name != "AWSTraceHeader") {
        return invalid("Message system attribute name '" + name + "' is invalid.");
      }
    }
    NUBO_ASSIGN_OR_RETURN(m.delay_seconds, opt_int(e, "DelaySeconds"));
    m.group_id = str(e, "MessageGroupId").value_or("");
    m.dedup_id = str(e, "MessageDeduplicationId").value_or("");
    // SenderId: the IAM user id or role id (with the session), the account for root.
    m.sender_id = caller.identity && !caller.identity->user_id.empty() ? caller.identity->user_id
                                                                       : caller.account_id;
    return m;
  };
  auto sent_json = [](const SendResult& r) {
    json::object o;
    o["MD5OfMessageBody"] = r.md5_body;
    if (!r.md5_attributes.empty()) o["MD5OfMessageAttributes"] = r.md5_attributes;
    if (!r.md5_system_attributes.empty()) {
      o["MD5OfMessageSystemAttributes"] = r.md5_system_attributes;
    }
    o["MessageId"] = r.message_id;
    if (!r.sequence_number.empty()) o["SequenceNumber"] = r.sequence_number;
    return o;
  };
  if (action == "SendMessage") {
    if (!str(body, "MessageBody")) co_return missing("MessageBody");
    NUBO_CO_ASSIGN_OR_RETURN(NewMessage m, new_message(body));
    auto sending =
        blocking([this, q, m = std::move(m)]() mutable { return queues->send(q, std::move(m)); });
    NUBO_CO_ASSIGN_OR_RETURN(SendResult r, co_await std::move(sending));
    notify(q);
    co_return sent_json(r);
  }
  if (action == "SendMessageBatch") {
    NUBO_CO_ASSIGN_OR_RETURN(auto entries, batch_entries(body, "SendMessageBatchRequestEntry"));
    size_t total = 0;
    for (const auto& e : entries) {
      NUBO_CO_ASSIGN_OR_RETURN(NewMessage m, new_message(e));
      total += message_size(m.body, m.attributes);
    }
    // The batch as a whole: at most 1 MiB, whatever the queue's MaximumMessageSize (which each
    // message is held to on its own).
    const int64_t max_size = kMessageSizeMax;
    if (static_cast<int64_t>(total) > max_size) {
      co_return Error{"AWS.SimpleQueueService.BatchRequestTooLong", 400,
                      "Batch requests cannot be longer than " + std::to_string(max_size) +
                          " bytes. You have sent " + std::to_string(total) + " bytes."};
    }
    json::array ok, failed;
    for (const auto& e : entries) {
      std::string id = str(e, "Id").value_or("");
      auto m = new_message(e);
      if (m.ok() && m->body.empty()) m = missing("MessageBody");
      if (!m.ok()) {
        failed.push_back(failed_entry(id, m.error()));
        continue;
      }
      auto sending = blocking(
          [this, q, m = std::move(m).value()]() mutable { return queues->send(q, std::move(m)); });
      Result<SendResult> r = co_await std::move(sending);
      if (!r.ok()) {
        failed.push_back(failed_entry(id, r.error()));
        continue;
      }
      json::object o;
      o["Id"] = id;
      for (auto& [k, v] : sent_json(*r)) o[k] = v;
      ok.push_back(std::move(o));
    }
    if (!ok.empty()) notify(q);
    out["Successful"] = std::move(ok);
    out["Failed"] = std::move(failed);
    co_return out;
  }
  if (action == "ReceiveMessage") {
    auto receiving = receive(q, std::move(info), std::move(body));
    co_return co_await std::move(receiving);
  }
  if (action == "DeleteMessage") {
    std::string handle = str(body, "ReceiptHandle").value_or("");
    if (handle.empty()) co_return missing("ReceiptHandle");
    auto deleting = blocking([this, q, handle] { return queues->delete_message(q, handle); });
    NUBO_CO_TRY(co_await std::move(deleting));
    co_return out;
  }
  if (action == "ChangeMessageVisibility") {
    std::string handle = str(body, "ReceiptHandle").value_or("");
    if (handle.empty()) co_return missing("ReceiptHandle");
    NUBO_CO_ASSIGN_OR_RETURN(std::optional<int64_t> vt, opt_int(body, "VisibilityTimeout"));
    if (!vt) co_return missing("VisibilityTimeout");
    int64_t t = *vt;
    auto changing =
        blocking([this, q, handle, t] { return queues->change_visibility(q, handle, t); });
    NUBO_CO_TRY(co_await std::move(changing));
    if (t == 0) notify(q);
    co_return out;
  }
  if (action == "DeleteMessageBatch" || action == "ChangeMessageVisibilityBatch") {
    bool del = action == "DeleteMessageBatch";
    NUBO_CO_ASSIGN_OR_RETURN(auto entries,
                             batch_entries(body, del ? "DeleteMessageBatchRequestEntry"
                                                     : "ChangeMessageVisibilityBatchRequestEntry"));
    json::array ok, failed;
    bool visible_now = false;
    for (const auto& e : entries) {
      std::string id = str(e, "Id").value_or("");
      std::string handle = str(e, "ReceiptHandle").value_or("");
      if (handle.empty()) {
        failed.push_back(failed_entry(id, missing("ReceiptHandle")));
        continue;
      }
      Status st = Ok{};
      if (del) {
        auto deleting = blocking([this, q, handle] { return queues->delete_message(q, handle); });
        st = co_await std::move(deleting);
      } else {
        auto vt = opt_int(e, "VisibilityTimeout");
        if (!vt.ok() || !*vt) {
          failed.push_back(failed_entry(id, vt.ok() ? missing("VisibilityTimeout") : vt.error()));
          continue;
        }
        int64_t t = **vt;
        visible_now = visible_now || t == 0;
        auto changing =
            blocking([this, q, handle, t] { return queues->change_visibility(q, handle, t); });
        st = co_await std::move(changing);
      }
      if (!st.ok()) {
        failed.push_back(failed_entry(id, st.error()));
        continue;
      }
      json::object o;
      o["Id"] = id;
      ok.push_back(std::move(o));
    }
    if (visible_now) notify(q);
    out["Successful"] = std::move(ok);
    out["Failed"] = std::move(failed);
    co_return out;
  }
  co_return Error{"InvalidAction", 400,
                  "The action " + action + " is not valid for this web service."};
}

net::Task<Response> SqsService::handle(Request& req, const auth::Caller& caller) {
  const std::string rid = caller.request_id.empty() ? new_uuid() : caller.request_id;
  std::string target(net::header(req, "x-amz-target"));
  const bool json_protocol = !target.empty();
  std::string action;
  json::object body;
  if (json_protocol) {
    if (!starts_with(target, kTargetPrefix)) {
      co_return json_error(
          req, Error{"UnknownOperationException", 400, "Unknown operation " + target}, rid);
    }
    action = target.substr(kTargetPrefix.size());
    std::string_view text = req.body();
    if (text.empty()) text = "{}";
    auto parsed = parse_json(text, "InvalidParameterValue");
    if (!parsed.ok() || !parsed->is_object()) {
      co_return json_error(req,
                           Error{"InvalidParameterValue", 400,
                                 "The request body is not a "
                                 "JSON object."},
                           rid);
    }
    body = std::move(parsed->as_object());
  } else {
    auto form = net::form_params(req);
    action = form.count("Action") ? form["Action"] : "";
    if (action.empty()) co_return query_error(req, missing("Action"), rid);
    auto converted = query_to_json(action, form);
    if (!converted.ok()) co_return query_error(req, converted.error(), rid);
    body = std::move(converted).value();
  }
  auto running = impl_->run(action, std::move(body), req, caller);
  Result<json::object> result = co_await std::move(running);
  if (!result.ok()) {
    co_return json_protocol ? json_error(req, result.error(), rid)
                            : query_error(req, result.error(), rid);
  }
  Response res;
  if (json_protocol) {
    res = net::make_response(req, net::http::status::ok, json::serialize(*result),
                             "application/x-amz-json-1.0");
  } else {
    res = net::make_response(req, net::http::status::ok, json_to_query_xml(action, *result, rid),
                             "text/xml");
  }
  res.set("x-amzn-RequestId", rid);
  co_return res;
}

}  // namespace nubo::sqs
