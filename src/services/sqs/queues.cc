#include "services/sqs/queues.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>

#include "base/crypto.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/strings.h"
#include "services/sqs/limits.h"

namespace nubo::sqs {

namespace {

using storage::Params;
using storage::Row;
using storage::Txn;

std::vector<std::string> schema() {
  return {
      "CREATE TABLE sqs_queues (account TEXT NOT NULL, name TEXT NOT NULL, attributes TEXT NOT "
      "NULL, tags TEXT NOT NULL, created_s INTEGER NOT NULL, modified_s INTEGER NOT NULL, "
      "next_seq INTEGER NOT NULL, PRIMARY KEY (account, name))",
      // One row per message; qkey is "<account>/<name>". visible_ms: when it may be received
      // (its delay's end, or its visibility timeout's); receipt: its latest receipt handle's
      // secret part (empty until received).
      "CREATE TABLE sqs_messages (qkey TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, "
      "body BLOB NOT NULL, attributes TEXT NOT NULL, system_attributes TEXT NOT NULL, "
      "md5_body TEXT NOT NULL, md5_attributes TEXT NOT NULL, sent_ms INTEGER NOT NULL, "
      "visible_ms INTEGER NOT NULL, receive_count INTEGER NOT NULL, first_receive_ms INTEGER "
      "NOT NULL, receipt TEXT NOT NULL, group_id TEXT NOT NULL, dedup_id TEXT NOT NULL, sender "
      "TEXT NOT NULL, PRIMARY KEY (qkey, seq))",
      "CREATE INDEX sqs_messages_visible ON sqs_messages (qkey, visible_ms)",
      "CREATE TABLE sqs_dedup (qkey TEXT NOT NULL, dedup_id TEXT NOT NULL, message_id TEXT NOT "
      "NULL, seq INTEGER NOT NULL, expires_ms INTEGER NOT NULL, PRIMARY KEY (qkey, dedup_id))",
  };
}

std::string qkey(const QueueRef& q) {
  return q.account + "/" + q.name;
}

bool is_fifo_name(const std::string& name) {
  return ends_with(name, kFifoSuffix);
}

Error no_queue() {
  return Error{"AWS.SimpleQueueService.NonExistentQueue", 400,
               "The specified queue does not exist for this wsdl version."};
}

Error invalid_attribute_value(const std::string& name, const std::string& why = "") {
  return Error{"InvalidAttributeValue", 400,
               "Invalid value for the parameter " + name + "." + (why.empty() ? "" : " " + why)};
}

Error invalid_parameter(const std::string& message) {
  return Error{"InvalidParameterValue", 400, message};
}

std::string to_json(const std::map<std::string, std::string>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return json::serialize(o);
}

std::map<std::string, std::string> map_of(const std::string& text) {
  std::map<std::string, std::string> out;
  auto v = parse_json(text);
  if (!v.ok() || !v->is_object()) return out;
  for (const auto& [k, val] : v->as_object()) {
    if (val.is_string()) out[std::string(k)] = std::string(val.as_string());
  }
  return out;
}

std::string attributes_json(const MessageAttributes& attrs) {
  json::object o;
  for (const auto& [name, a] : attrs) {
    json::object e;
    e["t"] = a.data_type;
    if (a.binary()) {
      e["b"] = base64_encode(a.value);
    } else {
      e["s"] = a.value;
    }
    o[name] = std::move(e);
  }
  return json::serialize(o);
}

MessageAttributes attributes_of(const std::string& text) {
  MessageAttributes out;
  auto v = parse_json(text);
  if (!v.ok() || !v->is_object()) return out;
  for (const auto& [k, val] : v->as_object()) {
    if (!val.is_object()) continue;
    const json::object& e = val.as_object();
    MessageAttribute a;
    a.data_type = get_string(e, "t").value_or("");
    if (auto b = get_string(e, "b")) {
      a.value = base64_decode(*b).value_or("");
    } else {
      a.value = get_string(e, "s").value_or("");
    }
    out[std::string(k)] = std::move(a);
  }
  return out;
}

bool parse_int(const std::string& v, int64_t* out) {
  if (v.empty() || v.size() > 18) return false;
  size_t i = v[0] == '-' ? 1 : 0;
  if (i == v.size()) return false;
  for (size_t j = i; j < v.size(); ++j) {
    if (!std::isdigit(static_cast<unsigned char>(v[j]))) return false;
  }
  *out = std::stoll(v);
  return true;
}

Status int_in(const std::string& name, const std::string& value, int64_t lo, int64_t hi) {
  int64_t n;
  if (!parse_int(value, &n) || n < lo || n > hi) return invalid_attribute_value(name);
  return Ok{};
}

// The settable attributes and their defaults ("" : none). FIFO-only ones are marked.
struct AttributeSpec {
  const char* name;
  const char* standard_default;
  bool fifo_only;
};
constexpr AttributeSpec kAttributes[] = {
    {"DelaySeconds", "0", false},
    {"MaximumMessageSize", "1048576", false},
    {"MessageRetentionPeriod", "345600", false},
    {"ReceiveMessageWaitTimeSeconds", "0", false},
    {"VisibilityTimeout", "30", false},
    {"Policy", "", false},
    {"RedrivePolicy", "", false},
    {"RedriveAllowPolicy", "", false},
    {"KmsMasterKeyId", "", false},
    {"KmsDataKeyReusePeriodSeconds", "", false},
    {"SqsManagedSseEnabled", "true", false},
    {"FifoQueue", "", true},
    {"ContentBasedDeduplication", "false", true},
    {"DeduplicationScope", "queue", true},
    {"FifoThroughputLimit", "perQueue", true},
};

const AttributeSpec* spec_of(const std::string& name) {
  for (const auto& s : kAttributes) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

// Parses a RedrivePolicy: the DLQ's ARN and maxReceiveCount.
struct Redrive {
  std::string dlq_arn;
  int64_t max_receive = 0;
};
std::optional<Redrive> redrive_of(const std::string& text) {
  if (text.empty()) return std::nullopt;
  auto v = parse_json(text);
  if (!v.ok() || !v->is_object()) return std::nullopt;
  const json::object& o = v->as_object();
  Redrive r;
  r.dlq_arn = get_string(o, "deadLetterTargetArn").value_or("");
  if (auto n = get_int(o, "maxReceiveCount")) {
    r.max_receive = *n;
  } else if (auto s = get_string(o, "maxReceiveCount")) {
    if (!parse_int(*s, &r.max_receive)) return std::nullopt;
  }
  if (r.dlq_arn.empty() || r.max_receive < 1) return std::nullopt;
  return r;
}

// arn:aws:sqs:<region>:<account>:<name>
std::optional<QueueRef> ref_of_arn(const std::string& arn) {
  auto parts = split(arn, ':');
  if (parts.size() != 6 || parts[0] != "arn" || parts[2] != "sqs") return std::nullopt;
  return QueueRef{parts[4], parts[5]};
}

struct QueueRow {
  QueueInfo info;
  int64_t next_seq = 0;
};

Result<std::optional<QueueRow>> load(Txn& t, const QueueRef& q, const std::string& arn) {
  NUBO_ASSIGN_OR_RETURN(
      auto rows,
      t.query("SELECT attributes, tags, created_s, modified_s, next_seq FROM sqs_queues WHERE "
              "account = ? AND name = ?",
              {q.account, q.name}));
  if (rows.empty()) return std::optional<QueueRow>();
  QueueRow r;
  r.info.account = q.account;
  r.info.name = q.name;
  r.info.arn = arn;
  r.info.fifo = is_fifo_name(q.name);
  r.info.attributes = map_of(rows[0].text(0));
  r.info.tags = map_of(rows[0].text(1));
  r.info.created_s = rows[0].integer(2);
  r.info.modified_s = rows[0].integer(3);
  r.next_seq = rows[0].integer(4);
  return std::optional<QueueRow>(std::move(r));
}

std::string encode_receipt(const std::string& key, int64_t seq, const std::string& secret) {
  return base64_encode(key + "\t" + std::to_string(seq) + "\t" + secret);
}

struct Receipt {
  std::string key;
  int64_t seq = 0;
  std::string secret;
};
std::optional<Receipt> decode_receipt(const std::string& handle) {
  auto raw = base64_decode(handle);
  if (!raw) return std::nullopt;
  auto parts = split(*raw, '\t');
  if (parts.size() != 3) return std::nullopt;
  Receipt r;
  r.key = parts[0];
  if (!parse_int(parts[1], &r.seq)) return std::nullopt;
  r.secret = parts[2];
  return r;
}

Error bad_receipt(const std::string& handle) {
  return Error{"ReceiptHandleIsInvalid", 400,
               "The input receipt handle \"" + handle + "\" is not a valid receipt handle."};
}

std::string sequence_string(int64_t seq) {
  std::string s = std::to_string(seq);
  return std::string(20 - std::min<size_t>(20, s.size()), '0') + s;
}

}  // namespace

std::string QueueInfo::attribute(const std::string& name) const {
  auto it = attributes.find(name);
  if (it != attributes.end()) return it->second;
  if (name == "FifoQueue") return fifo ? "true" : "";
  const AttributeSpec* s = spec_of(name);
  if (!s || (s->fifo_only && !fifo)) return "";
  return s->standard_default;
}

int64_t QueueInfo::int_attribute(const std::string& name) const {
  int64_t n = 0;
  parse_int(attribute(name), &n);
  return n;
}

Queues::Queues(Deps deps) : deps_(std::move(deps)) {}

Result<std::unique_ptr<Queues>> Queues::open(Deps deps) {
  NUBO_TRY(deps.store->migrate("sqs", schema()));
  return std::make_unique<Queues>(std::move(deps));
}

std::string Queues::arn(const QueueRef& q) const {
  return "arn:aws:sqs:" + deps_.region + ":" + q.account + ":" + q.name;
}

Status Queues::validate_attribute(const std::string& name, const std::string& value, bool fifo) {
  const AttributeSpec* s = spec_of(name);
  if (!s) return Error{"InvalidAttributeName", 400, "Unknown Attribute " + name + "."};
  if (s->fifo_only && !fifo)
    return Error{"InvalidAttributeName", 400, "Unknown Attribute " + name + "."};
  if (name == "DelaySeconds") return int_in(name, value, 0, kDelaySecondsMax);
  if (name == "MaximumMessageSize") {
    return int_in(name, value, kMessageSizeMin, kMessageSizeMax);
  }
  if (name == "MessageRetentionPeriod") return int_in(name, value, kRetentionMin, kRetentionMax);
  if (name == "ReceiveMessageWaitTimeSeconds") return int_in(name, value, 0, kReceiveWaitMax);
  if (name == "VisibilityTimeout") return int_in(name, value, 0, kVisibilityTimeoutMax);
  if (name == "KmsDataKeyReusePeriodSeconds") return int_in(name, value, 60, 86400);
  if (name == "SqsManagedSseEnabled" || name == "ContentBasedDeduplication" ||
      name == "FifoQueue") {
    if (value != "true" && value != "false") return invalid_attribute_value(name);
    if (name == "FifoQueue" && value != (fifo ? "true" : "false")) {
      return invalid_attribute_value(name);
    }
    return Ok{};
  }
  if (name == "DeduplicationScope") {
    if (value != "queue" && value != "messageGroup") return invalid_attribute_value(name);
    return Ok{};
  }
  if (name == "FifoThroughputLimit") {
    if (value != "perQueue" && value != "perMessageGroupId") return invalid_attribute_value(name);
    return Ok{};
  }
  if (name == "Policy") {
    if (value.empty()) return Ok{};
    if (value.size() > kPolicyMax) return invalid_attribute_value(name);
    auto v = parse_json(value);
    if (!v.ok() || !v->is_object()) return invalid_attribute_value(name);
    return Ok{};
  }
  if (name == "RedrivePolicy") {
    if (value.empty()) return Ok{};
    auto v = parse_json(value);
    if (!v.ok() || !v->is_object()) {
      return invalid_parameter("Value " + value +
                               " for parameter RedrivePolicy is invalid. Reason: Invalid value "
                               "for the parameter RedrivePolicy.");
    }
    auto r = redrive_of(value);
    if (!r || !ref_of_arn(r->dlq_arn)) {
      return invalid_parameter("Value " + value +
                               " for parameter RedrivePolicy is invalid. Reason: Redrive policy "
                               "does not contain mandatory attribute: deadLetterTargetArn or "
                               "maxReceiveCount.");
    }
    if (r->max_receive > kMaxReceiveCountMax) {
      return invalid_parameter("Value " + value +
                               " for parameter RedrivePolicy is invalid. Reason: Invalid value "
                               "for maxReceiveCount: " +
                               std::to_string(r->max_receive) +
                               ", valid values are from 1 to 1000 both inclusive.");
    }
    return Ok{};
  }
  if (name == "RedriveAllowPolicy") {
    if (value.empty()) return Ok{};
    auto v = parse_json(value);
    if (!v.ok() || !v->is_object()) return invalid_attribute_value(name);
    std::string p = get_string(v->as_object(), "redrivePermission").value_or("");
    if (p != "allowAll" && p != "denyAll" && p != "byQueue") return invalid_attribute_value(name);
    return Ok{};
  }
  return Ok{};  // KmsMasterKeyId: any alias or key id
}

Result<QueueInfo> Queues::create(const QueueRef& q,
                                 const std::map<std::string, std::string>& attributes,
                                 const std::map<std::string, std::string>& tags) {
  bool fifo = is_fifo_name(q.name);
  std::string base = fifo ? q.name.substr(0, q.name.size() - kFifoSuffix.size()) : q.name;
  bool name_ok = !base.empty() && q.name.size() <= kQueueNameMax;
  for (char c : base) {
    name_ok = name_ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
  }
  if (!name_ok) {
    return invalid_parameter(
        "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length");
  }
  auto fq = attributes.find("FifoQueue");
  if (fq != attributes.end() && fq->second == "true" && !fifo) {
    return invalid_parameter(
        "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
        "underscores, must end with .fifo suffix and be 1 to 80 in length.");
  }
  if (fifo && (fq == attributes.end() || fq->second != "true")) {
    return invalid_parameter("The name of a standard queue cannot end with .fifo");
  }
  std::map<std::string, std::string> stored;
  for (const auto& [k, v] : attributes) {
    NUBO_TRY(validate_attribute(k, v, fifo));
    if (k != "FifoQueue") stored[k] = v;
  }
  if (tags.size() > kTagsMax) {
    return invalid_parameter("Too many tags added for queue " + q.name + ".");
  }
  const std::string a = arn(q);
  const int64_t now_s = epoch_ms(deps_.clock->now()) / 1000;
  QueueInfo out;
  NUBO_TRY(deps_.store->transaction([&](Txn& t) -> Status {
    NUBO_ASSIGN_OR_RETURN(auto existing, load(t, q, a));
    if (existing) {
      // The attributes asked for are the queue's (as moto and localstack compare, and
      // clients that create-if-missing with fewer attributes expect): the same queue.
      for (const auto& [k, v] : stored) {
        if (existing->info.attribute(k) != v) {
          return Error{"QueueAlreadyExists", 400,
                       "A queue already exists with the same name and a different value for "
                       "attribute " +
                           k};
        }
      }
      out = std::move(existing->info);
      return Ok{};
    }
    NUBO_TRY(
        t.exec("INSERT INTO sqs_queues (account, name, attributes, tags, created_s, modified_s, "
               "next_seq) VALUES (?, ?, ?, ?, ?, ?, 1)",
               {q.account, q.name, to_json(stored), to_json(tags), now_s, now_s}));
    out.account = q.account;
    out.name = q.name;
    out.arn = a;
    out.fifo = fifo;
    out.attributes = stored;
    out.tags = tags;
    out.created_s = out.modified_s = now_s;
    return Ok{};
  }));
  return out;
}

Result<QueueInfo> Queues::get(const QueueRef& q) {
  std::optional<QueueRow> row;
  NUBO_TRY(deps_.store->transaction([&](Txn& t) -> Status {
    NUBO_ASSIGN_OR_RETURN(row, load(t, q, arn(q)));
    return Ok{};
  }));
  if (!row) return no_queue();
  return std::move(row->info);
}

Result<std::vector<std::string>> Queues::list(const std::string& account, const std::string& prefix,
                                              const std::string& after, size_t max) {
  NUBO_ASSIGN_OR_RETURN(
      auto rows, deps_.store->query("SELECT name FROM sqs_queues WHERE account = ? AND name > ? "
                                    "ORDER BY name",
                                    {account, after}));
  std::vector<std::string> out;
  for (const Row& r : rows) {
    std::string n = r.text(0);
    if (!starts_with(n, prefix)) continue;
    if (out.size() >= max) break;
    out.push_back(std::move(n));
  }
  return out;
}

Status Queues::remove(const QueueRef& q) {
  return deps_.store->transaction([&](Txn& t) -> Status {
    NUBO_ASSIGN_OR_RETURN(int64_t n, t.exec("DELETE FROM sqs_queues WHERE account = ? AND name = ?",
                                            {q.account, q.name}));
    if (n == 0) return no_queue();
    NUBO_TRY(t.exec("DELETE FROM sqs_messages WHERE qkey = ?", {qkey(q)}));
    NUBO_TRY(t.exec("DELETE FROM sqs_dedup WHERE qkey = ?", {qkey(q)}));
    return Ok{};
  });
}

Status Queues::set_attributes(const QueueRef& q,
                              const std::map<std::string, std::string>& attributes) {
  bool fifo = is_fifo_name(q.name);
  for (const auto& [k, v] : attributes) NUBO_TRY(validate_attribute(k, v, fifo));
  const int64_t now_s = epoch_ms(deps_.clock->now()) / 1000;
  return deps_.store->transaction([&](Txn& t) -> Status {
    NUBO_ASSIGN_OR_RETURN(auto row, load(t, q, arn(q)));
    if (!row) return no_queue();
    for (const auto& [k, v] : attributes) {
      if (k == "FifoQueue") continue;  // fixed at creation (validated to be the same)
      if (v.empty() && (k == "Policy" || k == "RedrivePolicy" || k == "RedriveAllowPolicy")) {
        row->info.attributes.erase(k);
      } else {
        row->info.attributes[k] = v;
      }
    }
    NUBO_TRY(t.exec(
        "UPDATE sqs_queues SET attributes = ?, modified_s = ? WHERE account = ? AND name = ?",
        {to_json(row->info.attributes), now_s, q.account, q.name}));
    return Ok{};
  });
}

Status Queues::tag(const QueueRef& q, const std::map<std::string, std::string>& tags) {
  return deps_.store->transaction([&](Txn& t) -> Status {
    NUBO_ASSIGN_OR_RETURN(auto row, load(t, q, arn(q)));
    if (!row) return no_queue();
    for (const auto& [k, v] : tags) row->info.tags[k] = v;
    if (row->info.tags.size() > kTagsMax) {
      return invalid_parameter("Too many tags added for queue " + q.name + ".");
    }
    NUBO_TRY(t.exec("UPDATE sqs_queues SET tags = ? WHERE account = ? AND name = ?",
                    {to_json(row->info.tags), q.account, q.name}));
    return Ok{};
  });
}

Status Queues::untag(const QueueRef& q, const std::vector<std::string>& keys) {
  return deps_.store->transaction([&](Txn& t) -> Status {
    NUBO_ASSIGN_OR_RETURN(auto row, load(t, q, arn(q)));
    if (!row) return no_queue();
    for (const auto& k : keys) row->info.tags.erase(k);
    NUBO_TRY(t.exec("UPDATE sqs_queues SET tags = ? WHERE account = ? AND name = ?",
                    {to_json(row->info.tags), q.account, q.name}));
    return Ok{};
  });
}

Status Queues::purge(const QueueRef& q) {
  return deps_.store->transaction([&](Txn& t) -> Status {
    NUBO_ASSIGN_OR_RETURN(auto row, load(t, q, arn(q)));
    if (!row) return no_queue();
    NUBO_TRY(t.exec("DELETE FROM sqs_messages WHERE qkey = ?", {qkey(q)}));
    return Ok{};
  });
}

Result<QueueCounts> Queues::counts(const QueueRef& q) {
  NUBO_ASSIGN_OR_RETURN(QueueInfo info, get(q));
  const int64_t now = epoch_ms(deps_.clock->now());
  const int64_t cutoff = now - info.int_attribute("MessageRetentionPeriod") * 1000;
  NUBO_ASSIGN_OR_RETURN(
      auto rows,
      deps_.store->query(
          "SELECT SUM(CASE WHEN visible_ms <= ? THEN 1 ELSE 0 END), SUM(CASE WHEN visible_ms > ? "
          "AND receive_count > 0 THEN 1 ELSE 0 END), SUM(CASE WHEN visible_ms > ? AND "
          "receive_count = 0 THEN 1 ELSE 0 END) FROM sqs_messages WHERE qkey = ? AND sent_ms >= ?",
          {now, now, now, qkey(q), cutoff}));
  QueueCounts c;
  if (!rows.empty()) {
    c.visible = rows[0].integer(0);
    c.in_flight = rows[0].integer(1);
    c.delayed = rows[0].integer(2);
  }
  return c;
}

Result<std::vector<std::string>> Queues::dead_letter_sources(const QueueRef& q) {
  NUBO_ASSIGN_OR_RETURN(QueueInfo target, get(q));
  NUBO_ASSIGN_OR_RETURN(auto rows,
                        deps_.store->query("SELECT name, attributes FROM sqs_queues WHERE account "
                                           "= ? ORDER BY name",
                                           {q.account}));
  std::vector<std::string> out;
  for (const Row& r : rows) {
    auto attrs = map_of(r.text(1));
    auto it = attrs.find("RedrivePolicy");
    if (it == attrs.end()) continue;
    auto rd = redrive_of(it->second);
    if (rd && rd->dlq_arn == target.arn) out.push_back(r.text(0));
  }
  return out;
}

Result<SendResult> Queues::send(const QueueRef& q, NewMessage m) {
  NUBO_TRY(validate_attributes(m.attributes));
  if (m.body.empty()) {
    return Error{"MissingParameter", 400, "The request must contain the parameter MessageBody."};
  }
  if (auto bad = invalid_character(m.body)) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "%X", *bad);
    return Error{"InvalidMessageContents", 400,
                 std::string("Invalid binary character '#x") + hex +
                     "' was found in the message body, the set of allowed characters is #x9 | "
                     "#xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]."};
  }
  const std::string key = qkey(q);
  const int64_t now = epoch_ms(deps_.clock->now());
  SendResult out;
  out.md5_body = md5_hex(m.body);
  out.md5_attributes = md5_of_attributes(m.attributes);
  out.md5_system_attributes = md5_of_attributes(m.system_attributes);
  NUBO_TRY(deps_.store->transaction([&](Txn& t) -> Status {
    NUBO_ASSIGN_OR_RETURN(auto row, load(t, q, arn(q)));
    if (!row) return no_queue();
    const QueueInfo& info = row->info;
    int64_t max_size = info.int_attribute("MaximumMessageSize");
    if (static_cast<int64_t>(message_size(m.body, m.attributes)) > max_size) {
      return invalid_parameter(
          "One or more parameters are invalid. Reason: Message must be "
          "shorter than " +
          std::to_string(max_size) + " bytes.");
    }
    int64_t delay = info.int_attribute("DelaySeconds");
    if (m.delay_seconds) {
      if (*m.delay_seconds < 0 || *m.delay_seconds > kDelaySecondsMax) {
        return invalid_parameter("Value " + std::to_string(*m.delay_seconds) +
                                 " for parameter DelaySeconds is invalid. Reason: DelaySeconds "
                                 "must be >= 0 and <= 900.");
      }
      if (info.fifo) {
        return invalid_parameter("Value " + std::to_string(*m.delay_seconds) +
                                 " for parameter DelaySeconds is invalid. Reason: The request "
                                 "include parameter that is not valid for this queue type.");
      }
      delay = *m.delay_seconds;
    }
    int64_t seq = row->next_seq;
    if (info.fifo) {
      if (m.group_id.empty()) {
        return Error{"MissingParameter", 400,
                     "The request must contain the parameter MessageGroupId."};
      }
      if (m.dedup_id.empty()) {
        if (info.attribute("ContentBasedDeduplication") != "true") {
          return invalid_parameter(
              "The queue should either have ContentBasedDeduplication enabled or "
              "MessageDeduplicationId provided explicitly");
        }
        m.dedup_id = sha256_hex(m.body);
      }
      std::string scope = info.attribute("DeduplicationScope") == "messageGroup"
                              ? m.group_id + "\n" + m.dedup_id
                              : m.dedup_id;
      NUBO_TRY(t.exec("DELETE FROM sqs_dedup WHERE qkey = ? AND expires_ms <= ?", {key, now}));
      NUBO_ASSIGN_OR_RETURN(
          auto dup, t.query("SELECT message_id, seq FROM sqs_dedup WHERE qkey = ? AND dedup_id = ?",
                            {key, scope}));
      if (!dup.empty()) {  // accepted again, not enqueued again
        out.message_id = dup[0].text(0);
        out.sequence_number = sequence_string(dup[0].integer(1));
        return Ok{};
      }
      out.message_id = new_uuid();
      NUBO_TRY(t.exec(
          "INSERT INTO sqs_dedup (qkey, dedup_id, message_id, seq, expires_ms) VALUES (?, ?, ?, "
          "?, ?)",
          {key, scope, out.message_id, seq,
           now + std::chrono::duration_cast<std::chrono::milliseconds>(kDeduplicationInterval)
                     .count()}));
      out.sequence_number = sequence_string(seq);
    }
    if (!info.fifo) out.message_id = new_uuid();
    NUBO_TRY(t.exec("UPDATE sqs_queues SET next_seq = ? WHERE account = ? AND name = ?",
                    {seq + 1, q.account, q.name}));
    NUBO_TRY(t.exec(
        "INSERT INTO sqs_messages (qkey, seq, id, body, attributes, system_attributes, md5_body, "
        "md5_attributes, sent_ms, visible_ms, receive_count, first_receive_ms, receipt, "
        "group_id, dedup_id, sender) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, '', ?, ?, ?)",
        {key, seq, out.message_id, storage::Blob{m.body}, attributes_json(m.attributes),
         attributes_json(m.system_attributes), out.md5_body, out.md5_attributes, now,
         now + delay * 1000, m.group_id, m.dedup_id, m.sender_id}));
    return Ok{};
  }));
  return out;
}

Result<ReceiveResult> Queues::receive(const QueueRef& q, int max,
                                      std::optional<int64_t> visibility_timeout,
                                      const MovedTo& moved_to) {
  const std::string key = qkey(q);
  const int64_t now = epoch_ms(deps_.clock->now());
  ReceiveResult out;
  std::vector<QueueRef> moved;
  NUBO_TRY(deps_.store->transaction([&](Txn& t) -> Status {
    out = ReceiveResult{};
    moved.clear();
    NUBO_ASSIGN_OR_RETURN(auto row, load(t, q, arn(q)));
    if (!row) return no_queue();
    const QueueInfo& info = row->info;
    const int64_t vt = visibility_timeout.value_or(info.int_attribute("VisibilityTimeout"));
    const int64_t cutoff = now - info.int_attribute("MessageRetentionPeriod") * 1000;
    std::optional<Redrive> redrive = redrive_of(info.attribute("RedrivePolicy"));
    std::optional<QueueRow> dlq;
    if (redrive) {
      if (auto ref = ref_of_arn(redrive->dlq_arn)) {
        NUBO_ASSIGN_OR_RETURN(dlq, load(t, *ref, redrive->dlq_arn));
      }
    }
    // FIFO: a group with a message in flight gives nothing until that one is done.
    std::set<std::string> held;
    if (info.fifo) {
      NUBO_ASSIGN_OR_RETURN(auto groups,
                            t.query("SELECT DISTINCT group_id FROM sqs_messages WHERE qkey = ? AND "
                                    "visible_ms > ? AND receive_count > 0",
                                    {key, now}));
      for (const Row& g : groups) held.insert(g.text(0));
    }
    const char* order = info.fifo ? "seq" : "visible_ms, seq";
    // Rows past the retention period are dropped as they are met; when that left the batch
    // short, read again (the next rows may be receivable).
    for (bool dropped = true; dropped && static_cast<int>(out.messages.size()) < max;) {
      dropped = false;
      NUBO_ASSIGN_OR_RETURN(
          auto rows,
          t.query(std::string("SELECT seq, id, body, attributes, system_attributes, md5_body, "
                              "md5_attributes, sent_ms, receive_count, first_receive_ms, group_id, "
                              "dedup_id, sender FROM sqs_messages WHERE qkey = ? AND visible_ms <= "
                              "? ORDER BY ") +
                      order + " LIMIT ?",
                  {key, now, static_cast<int64_t>(info.fifo ? 1000 : max + 100)}));
      for (const Row& r : rows) {
        if (static_cast<int>(out.messages.size()) >= max) break;
        const int64_t seq = r.integer(0);
        if (r.integer(7) < cutoff) {  // past the retention period
          NUBO_TRY(t.exec("DELETE FROM sqs_messages WHERE qkey = ? AND seq = ?", {key, seq}));
          dropped = true;
          continue;
        }
        std::string group = r.text(10);
        if (info.fifo && held.count(group)) continue;
        if (redrive && r.integer(8) >= redrive->max_receive) {
          if (dlq) {  // moved, keeping its id, body, attributes and first enqueue time
            QueueRef to{dlq->info.account, dlq->info.name};
            int64_t dseq = dlq->next_seq++;
            NUBO_TRY(t.exec("UPDATE sqs_queues SET next_seq = ? WHERE account = ? AND name = ?",
                            {dlq->next_seq, to.account, to.name}));
            NUBO_TRY(t.exec(
                "INSERT INTO sqs_messages (qkey, seq, id, body, attributes, system_attributes, "
                "md5_body, md5_attributes, sent_ms, visible_ms, receive_count, first_receive_ms, "
                "receipt, group_id, dedup_id, sender) SELECT ?, ?, id, body, attributes, "
                "system_attributes, md5_body, md5_attributes, sent_ms, ?, 0, 0, '', group_id, "
                "dedup_id, sender FROM sqs_messages WHERE qkey = ? AND seq = ?",
                {qkey(to), dseq, now, key, seq}));
            NUBO_TRY(t.exec("DELETE FROM sqs_messages WHERE qkey = ? AND seq = ?", {key, seq}));
            moved.push_back(to);
            continue;
          }
          // The dead-letter queue is gone: the message stays, as on AWS.
        }
        ReceivedMessage m;
        m.message_id = r.text(1);
        std::string secret = random_hex(16);
        m.receipt_handle = encode_receipt(key, seq, secret);
        m.body = r.text(2);
        m.attributes = attributes_of(r.text(3));
        m.system_attributes = attributes_of(r.text(4));
        m.md5_body = r.text(5);
        m.md5_attributes = r.text(6);
        m.sent_ms = r.integer(7);
        m.receive_count = r.integer(8) + 1;
        m.first_receive_ms = r.integer(9) == 0 ? now : r.integer(9);
        m.group_id = group;
        m.dedup_id = r.text(11);
        m.sender_id = r.text(12);
        if (info.fifo) m.sequence_number = sequence_string(seq);
        NUBO_TRY(
            t.exec("UPDATE sqs_messages SET visible_ms = ?, receive_count = ?, "
                   "first_receive_ms = ?, receipt = ? WHERE qkey = ? AND seq = ?",
                   {now + vt * 1000, m.receive_count, m.first_receive_ms, secret, key, seq}));
        out.messages.push_back(std::move(m));
      }
    }
    NUBO_ASSIGN_OR_RETURN(
        auto next,
        t.query("SELECT MIN(visible_ms) FROM sqs_messages WHERE qkey = ? AND visible_ms > ?",
                {key, now}));
    if (!next.empty() && !next[0].is_null(0)) out.next_visible_ms = next[0].integer(0);
    return Ok{};
  }));
  if (moved_to) {
    for (const auto& to : moved) moved_to(to);
  }
  return out;
}

Status Queues::delete_message(const QueueRef& q, const std::string& receipt_handle) {
  auto r = decode_receipt(receipt_handle);
  if (!r || r->key != qkey(q)) return bad_receipt(receipt_handle);
  return deps_.store->transaction([&](Txn& t) -> Status {
    NUBO_ASSIGN_OR_RETURN(auto row, load(t, q, arn(q)));
    if (!row) return no_queue();
    NUBO_TRY(t.exec("DELETE FROM sqs_messages WHERE qkey = ? AND seq = ? AND receipt = ?",
                    {r->key, r->seq, r->secret}));
    return Ok{};
  });
}

Status Queues::change_visibility(const QueueRef& q, const std::string& receipt_handle,
                                 int64_t visibility_timeout) {
  auto r = decode_receipt(receipt_handle);
  if (!r || r->key != qkey(q)) return bad_receipt(receipt_handle);
  if (visibility_timeout < 0 || visibility_timeout > kVisibilityTimeoutMax) {
    return invalid_parameter("Value " + std::to_string(visibility_timeout) +
                             " for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 "
                             "and <= 43200, if provided.");
  }
  const int64_t now = epoch_ms(deps_.clock->now());
  return deps_.store->transaction([&](Txn& t) -> Status {
    NUBO_ASSIGN_OR_RETURN(auto row, load(t, q, arn(q)));
    if (!row) return no_queue();
    NUBO_ASSIGN_OR_RETURN(
        auto rows, t.query("SELECT visible_ms FROM sqs_messages WHERE qkey = ? AND seq = ? AND "
                           "receipt = ?",
                           {r->key, r->seq, r->secret}));
    if (rows.empty()) {  // deleted, or received again since: this handle is stale
      return invalid_parameter("Value " + receipt_handle +
                               " for parameter ReceiptHandle is invalid. Reason: Message does not "
                               "exist or is not available for visibility timeout change.");
    }
    if (rows[0].integer(0) <= now) {
      return Error{"AWS.SimpleQueueService.MessageNotInflight", 400,
                   "The specified message isn't in flight."};
    }
    NUBO_TRY(t.exec("UPDATE sqs_messages SET visible_ms = ? WHERE qkey = ? AND seq = ?",
                    {now + visibility_timeout * 1000, r->key, r->seq}));
    return Ok{};
  });
}

}  // namespace nubo::sqs
