#include "services/cloudtrail/cloudtrail_service.h"

// GCC 12 reports a false -Wmismatched-new-delete on the frames of some Asio coroutines here (the
// frame's operator new/delete pair is Asio's own); see GCC bug 109224.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <cmath>

#include "base/clock.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/strings.h"
#include "net/async.h"
#include "net/protocol.h"

namespace nubo::cloudtrail {

namespace {

Error invalid(std::string code, std::string message) {
  return Error{std::move(code), 400, std::move(message)};
}

// The read-only actions: CloudTrail's ReadOnly attribute.
bool read_only(const std::string& event_name) {
  return starts_with(event_name, "Get") || starts_with(event_name, "List") ||
         starts_with(event_name, "Describe") || starts_with(event_name, "Lookup") ||
         starts_with(event_name, "BatchGet");
}

std::string user_name_of(const std::string& arn) {
  if (ends_with(arn, ":root")) return "root";
  auto slash = arn.rfind('/');
  return slash == std::string::npos ? arn : arn.substr(slash + 1);
}

std::string identity_type(const std::string& arn) {
  if (ends_with(arn, ":root")) return "Root";
  if (arn.find(":assumed-role/") != std::string::npos) return "AssumedRole";
  if (arn.find(":user/") != std::string::npos) return "IAMUser";
  return "AWSService";
}

// Epoch seconds from a JSON number (the SDKs send timestamps as epoch seconds).
std::optional<int64_t> time_ms(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return std::nullopt;
  if (it->value().is_int64()) return it->value().as_int64() * 1000;
  if (it->value().is_double())
    return static_cast<int64_t>(std::llround(it->value().as_double() * 1000));
  return std::nullopt;
}

struct Query {
  std::string column;  // "" for none
  std::string value;
  std::optional<int64_t> start_ms, end_ms;
  int max = kLookupMaxResults;
  int64_t before_seq = 0;  // NextToken: events older than this sequence number
};

Result<Query> parse_query(const std::string& body) {
  Query q;
  auto parsed = parse_json(body.empty() ? "{}" : body, "SerializationException");
  if (!parsed.ok()) return parsed.error();
  if (!parsed->is_object()) return invalid("SerializationException", "Expected an object");
  const json::object& o = parsed->as_object();
  if (const json::array* attrs = get_array(o, "LookupAttributes")) {
    if (attrs->size() > 1) {
      return invalid("InvalidLookupAttributesException",
                     "You cannot specify more than one lookup attribute.");
    }
    if (!attrs->empty()) {
      if (!(*attrs)[0].is_object()) {
        return invalid("InvalidLookupAttributesException", "Invalid lookup attribute.");
      }
      const json::object& a = (*attrs)[0].as_object();
      std::string key = get_string(a, "AttributeKey").value_or("");
      q.value = get_string(a, "AttributeValue").value_or("");
      static const std::pair<const char*, const char*> kColumns[] = {
          {"EventId", "event_id"},         {"EventName", "event_name"},
          {"Username", "principal_arn"},   {"ResourceName", "resource"},
          {"EventSource", "event_source"}, {"AccessKeyId", "access_key_id"},
          {"ReadOnly", "read_only"},
      };
      for (const auto& [k, c] : kColumns) {
        if (key == k) q.column = c;
      }
      if (q.column.empty()) {
        return invalid("InvalidLookupAttributesException",
                       "Lookup attribute key " + key + " is not supported.");
      }
    }
  }
  q.start_ms = time_ms(o, "StartTime");
  q.end_ms = time_ms(o, "EndTime");
  if (q.start_ms && q.end_ms && *q.start_ms > *q.end_ms) {
    return invalid("InvalidTimeRangeException",
                   "Start time cannot be after end time for the time range.");
  }
  if (auto m = get_int(o, "MaxResults")) {
    if (*m < 1 || *m > kLookupMaxResults) {
      return invalid("InvalidMaxResultsException", "MaxResults must be between 1 and 50.");
    }
    q.max = static_cast<int>(*m);
  }
  if (auto t = get_string(o, "NextToken")) {
    char* end = nullptr;
    long long v = std::strtoll(t->c_str(), &end, 10);
    if (t->empty() || *end != '\0' || v <= 0) {
      return invalid("InvalidNextTokenException", "Invalid NextToken.");
    }
    q.before_seq = v;
  }
  return q;
}

Result<std::string> lookup(storage::Store& store, const Query& q, const std::string& account) {
  std::string sql =
      "SELECT seq, event_id, time_ms, event_source, event_name, principal_arn, access_key_id,"
      " action, resource, allowed, source_ip, user_agent, request_id, region FROM audit_events"
      " WHERE 1 = 1";
  storage::Params params;
  if (q.column == "principal_arn") {
    // Username: the user, role session or "root" the ARN ends with.
    // The value is matched literally: LIKE's own wildcards in it are escaped.
    std::string literal;
    for (char ch : q.value) {
      if (ch == '%' || ch == '_' || ch == '\\') literal += '\\';
      literal += ch;
    }
    sql +=
        " AND (principal_arn = ? OR principal_arn LIKE ? ESCAPE '\\' OR (? = 'root' AND "
        "principal_arn LIKE '%:root'))";
    params.emplace_back(q.value);
    params.emplace_back("%/" + literal);
    params.emplace_back(q.value);
  } else if (q.column == "read_only") {
    sql += q.value == "true" ? " AND (event_name LIKE 'Get%' OR event_name LIKE 'List%' OR "
                               "event_name LIKE 'Describe%' OR event_name LIKE 'Lookup%' OR "
                               "event_name LIKE 'BatchGet%')"
                             : " AND NOT (event_name LIKE 'Get%' OR event_name LIKE 'List%' OR "
                               "event_name LIKE 'Describe%' OR event_name LIKE 'Lookup%' OR "
                               "event_name LIKE 'BatchGet%')";
  } else if (!q.column.empty()) {
    sql += " AND " + q.column + " = ?";
    params.emplace_back(q.value);
  }
  if (q.start_ms) {
    sql += " AND time_ms >= ?";
    params.emplace_back(*q.start_ms);
  }
  if (q.end_ms) {
    sql += " AND time_ms <= ?";
    params.emplace_back(*q.end_ms);
  }
  if (q.before_seq > 0) {
    sql += " AND seq < ?";
    params.emplace_back(q.before_seq);
  }
  sql += " ORDER BY seq DESC LIMIT ?";
  params.emplace_back(int64_t{q.max + 1});
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows, store.query(sql, params));
  json::array events;
  std::string next;
  for (size_t i = 0; i < rows.size(); ++i) {
    const storage::Row& r = rows[i];
    if (static_cast<int>(i) == q.max) {
      next = std::to_string(rows[i - 1].integer(0));
      break;
    }
    std::string event_id = r.text(1), source = r.text(3), name = r.text(4), arn = r.text(5);
    std::string key = r.text(6), resource = r.text(8);
    bool allowed = r.integer(9) != 0;
    double seconds = static_cast<double>(r.integer(2)) / 1000.0;
    SystemTime when{std::chrono::milliseconds(r.integer(2))};
    json::object identity{
        {"type", identity_type(arn)},
        {"arn", arn},
        {"accountId", account},
        {"principalId", identity_type(arn) == "Root" ? account : user_name_of(arn)}};
    if (!key.empty()) identity["accessKeyId"] = key;
    json::object record{{"eventVersion", "1.08"},
                        {"userIdentity", std::move(identity)},
                        {"eventTime", format_iso8601(when)},
                        {"eventSource", source},
                        {"eventName", name},
                        {"awsRegion", r.text(13)},
                        {"sourceIPAddress", r.text(10)},
                        {"userAgent", r.text(11)},
                        {"requestID", r.text(12)},
                        {"eventID", event_id},
                        {"readOnly", read_only(name)},
                        {"eventType", "AwsApiCall"},
                        {"managementEvent", true},
                        {"recipientAccountId", account}};
    if (!allowed) {
      record["errorCode"] = "AccessDenied";
      record["errorMessage"] = "User: " + arn + " is not authorized to perform: " + r.text(7) +
                               " on resource: " + resource;
    }
    if (resource != "*") {
      record["resources"] = json::array{json::object{{"ARN", resource}, {"accountId", account}}};
    }
    json::object ev{{"EventId", event_id},
                    {"EventName", name},
                    {"ReadOnly", read_only(name) ? "true" : "false"},
                    {"EventTime", seconds},
                    {"EventSource", source},
                    {"Username", user_name_of(arn)},
                    {"CloudTrailEvent", json::serialize(record)}};
    if (!key.empty()) ev["AccessKeyId"] = key;
    if (resource != "*") {
      ev["Resources"] = json::array{json::object{{"ResourceName", resource}}};
    } else {
      ev["Resources"] = json::array{};
    }
    events.push_back(std::move(ev));
  }
  json::object out{{"Events", std::move(events)}};
  if (!next.empty()) out["NextToken"] = next;
  return json::serialize(out);
}

}  // namespace

CloudTrailService::CloudTrailService(CloudTrailDeps deps) : deps_(std::move(deps)) {}

net::Task<net::Response> CloudTrailService::handle(net::Request& req, const auth::Caller& caller) {
  std::string rid = new_uuid();
  std::string_view target = net::header(req, "x-amz-target");
  std::string action(target.substr(target.rfind('.') + 1));
  auto fail = [&](const Error& e) {
    return net::error_response(req, net::Protocol::kJson, e, rid);
  };
  if (action != "LookupEvents") {
    co_return fail(
        Error{"UnknownOperationException", 400, "nubo's CloudTrail implements LookupEvents only"});
  }
  Status allowed =
      auth::authorize(caller, {"cloudtrail:LookupEvents", "*"}, {"AccessDeniedException", 400});
  if (!allowed.ok()) co_return fail(allowed.error());
  auto q = parse_query(req.body());
  if (!q.ok()) co_return fail(q.error());
  CloudTrailDeps deps = deps_;
  Query query = *q;
  auto work = [deps, query]() -> Result<std::string> {
    if (deps.log) deps.log->flush();
    return lookup(*deps.store, query, deps.account_id);
  };
  auto running = net::run_blocking(*deps_.blocking, std::move(work));
  Result<std::string> body = co_await std::move(running);
  if (!body.ok()) co_return fail(body.error());
  net::Response res = net::make_response(req, net::http::status::ok, std::move(*body),
                                         "application/x-amz-json-1.1");
  res.set("x-amzn-RequestId", rid);
  co_return res;
}

}  // namespace nubo::cloudtrail
