#include "services/s3/notifications.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <pugixml.hpp>
#include <sstream>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/strings.h"
#include "services/s3/limits.h"

namespace nubo::s3 {

namespace {

Error malformed_xml() {
  return Error{"MalformedXML", 400,
               "The XML you provided was not well-formed or did not validate against our "
               "published schema"};
}

Error invalid_argument(std::string message) {
  return Error{"InvalidArgument", 400, std::move(message)};
}

Error corrupt(const std::string& why) {
  return Error{"InternalError", 500, "Stored notification configuration is corrupt: " + why};
}

bool is_supported_event(std::string_view e) {
  return std::find(kNotificationEvents.begin(), kNotificationEvents.end(), e) !=
         kNotificationEvents.end();
}

// Whether `pattern` (an event of a configuration, maybe "s3:X:*") covers the event `name`.
bool covers(std::string_view pattern, std::string_view name) {
  if (pattern == name) return true;
  if (!ends_with(pattern, ":*")) return false;
  return starts_with(name, pattern.substr(0, pattern.size() - 1));
}

bool events_overlap(const NotificationTarget& a, const NotificationTarget& b) {
  for (const auto& x : a.events) {
    for (const auto& y : b.events) {
      if (covers(x, y) || covers(y, x)) return true;
    }
  }
  return false;
}

// The value of t's rule named `name` (without case), or "" when it has none.
std::string_view rule_value(const NotificationTarget& t, std::string_view name) {
  for (const auto& r : t.rules) {
    if (iequals(r.name, name)) return r.value;
  }
  return {};
}

bool filters_overlap(const NotificationTarget& a, const NotificationTarget& b) {
  std::string_view pa = rule_value(a, "prefix"), pb = rule_value(b, "prefix");
  std::string_view sa = rule_value(a, "suffix"), sb = rule_value(b, "suffix");
  bool prefixes = starts_with(pa, pb) || starts_with(pb, pa);
  bool suffixes = ends_with(sa, sb) || ends_with(sb, sa);
  return prefixes && suffixes;
}

// The key as the event message carries it: percent-encoded, '/' kept, a space as '+'.
std::string event_key(std::string_view key) {
  std::string enc = url_encode(key, /*keep_slash=*/true);
  std::string out;
  out.reserve(enc.size());
  for (size_t i = 0; i < enc.size(); ++i) {
    if (enc.compare(i, 3, "%20") == 0) {
      out += '+';
      i += 2;
    } else {
      out += enc[i];
    }
  }
  return out;
}

bool key_matches(const NotificationTarget& t, std::string_view key) {
  std::string_view prefix = rule_value(t, "prefix");
  std::string_view suffix = rule_value(t, "suffix");
  if (starts_with(key, prefix) && ends_with(key, suffix)) return true;
  std::string encoded = event_key(key);
  return starts_with(encoded, prefix) && ends_with(encoded, suffix);
}

struct KindNames {
  const char* config;  // the configuration element
  const char* arn;     // the ARN element inside it
};

KindNames names_of(TargetKind k) {
  switch (k) {
    case TargetKind::kTopic:
      return {"TopicConfiguration", "Topic"};
    case TargetKind::kQueue:
      return {"QueueConfiguration", "Queue"};
    case TargetKind::kLambda:
      break;
  }
  return {"CloudFunctionConfiguration", "CloudFunction"};
}

const char* kind_json(TargetKind k) {
  switch (k) {
    case TargetKind::kTopic:
      return "topic";
    case TargetKind::kQueue:
      return "queue";
    case TargetKind::kLambda:
      break;
  }
  return "lambda";
}

// Parses one Topic/Queue/CloudFunction configuration element.
Result<NotificationTarget> parse_target(pugi::xml_node node, TargetKind kind) {
  NotificationTarget t;
  t.kind = kind;
  t.id = node.child_value("Id");
  if (t.id.empty()) t.id = base64_encode(new_uuid());

  pugi::xml_node arn;
  if (kind == TargetKind::kLambda) {
    arn = node.child("CloudFunction");
    if (!arn) arn = node.child("Function");
  } else {
    arn = node.child(names_of(kind).arn);
  }
  t.arn = std::string(trim(arn.child_value()));

  for (pugi::xml_node e : node.children("Event")) {
    std::string name(trim(e.child_value()));
    if (!is_supported_event(name)) {
      return invalid_argument("The event is not supported for notifications");
    }
    t.events.push_back(std::move(name));
  }
  if (t.events.empty()) return malformed_xml();
  if (t.arn.empty() || !starts_with(t.arn, "arn:")) {
    return invalid_argument("The ARN is not well formed");
  }

  bool has_prefix = false, has_suffix = false;
  for (pugi::xml_node r : node.child("Filter").child("S3Key").children("FilterRule")) {
    FilterRule rule{r.child_value("Name"), r.child_value("Value")};
    bool* seen = nullptr;
    const char* which = nullptr;
    if (iequals(rule.name, "prefix")) {
      seen = &has_prefix;
      which = "prefix";
    } else if (iequals(rule.name, "suffix")) {
      seen = &has_suffix;
      which = "suffix";
    } else {
      return invalid_argument("filter rule name must be either prefix or suffix");
    }
    if (*seen) {
      return invalid_argument(std::string("Cannot specify more than one ") + which +
                              " rule in a filter.");
    }
    *seen = true;
    t.rules.push_back(std::move(rule));
  }
  return t;
}

Result<NotificationTarget> target_from_json(const json::value& v) {
  if (!v.is_object()) return corrupt("a target is not an object");
  const json::object& o = v.as_object();
  NotificationTarget t;
  auto id = get_string(o, "id");
  auto kind = get_string(o, "kind");
  auto arn = get_string(o, "arn");
  const json::array* events = get_array(o, "events");
  const json::array* rules = get_array(o, "rules");
  if (!id || !kind || !arn || events == nullptr || rules == nullptr) {
    return corrupt("a target lacks a member");
  }
  t.id = *id;
  t.arn = *arn;
  if (*kind == "lambda") {
    t.kind = TargetKind::kLambda;
  } else if (*kind == "queue") {
    t.kind = TargetKind::kQueue;
  } else if (*kind == "topic") {
    t.kind = TargetKind::kTopic;
  } else {
    return corrupt("unknown target kind " + *kind);
  }
  for (const auto& e : *events) {
    if (!e.is_string()) return corrupt("an event is not a string");
    t.events.emplace_back(e.get_string());
  }
  for (const auto& r : *rules) {
    if (!r.is_object()) return corrupt("a rule is not an object");
    auto name = get_string(r.as_object(), "name");
    auto value = get_string(r.as_object(), "value");
    if (!name || !value) return corrupt("a rule lacks a member");
    t.rules.push_back(FilterRule{*name, *value});
  }
  return t;
}

}  // namespace

Result<NotificationConfig> parse_notification_config(std::string_view xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) return malformed_xml();
  pugi::xml_node root = doc.document_element();
  if (std::string_view(root.name()) != "NotificationConfiguration") return malformed_xml();

  NotificationConfig c;
  for (pugi::xml_node child : root.children()) {
    if (child.type() != pugi::node_element) continue;
    std::string_view name = child.name();
    TargetKind kind;
    if (name == "TopicConfiguration") {
      kind = TargetKind::kTopic;
    } else if (name == "QueueConfiguration") {
      kind = TargetKind::kQueue;
    } else if (name == "CloudFunctionConfiguration" || name == "LambdaFunctionConfiguration") {
      kind = TargetKind::kLambda;
    } else if (name == "EventBridgeConfiguration") {
      if (c.event_bridge) return malformed_xml();
      c.event_bridge = true;
      continue;
    } else {
      return malformed_xml();
    }
    NUBO_ASSIGN_OR_RETURN(NotificationTarget t, parse_target(child, kind));
    c.targets.push_back(std::move(t));
  }

  for (size_t i = 0; i < c.targets.size(); ++i) {
    for (size_t j = i + 1; j < c.targets.size(); ++j) {
      if (c.targets[i].id == c.targets[j].id) {
        return invalid_argument("Configuration Ids must be unique");
      }
    }
  }
  for (size_t i = 0; i < c.targets.size(); ++i) {
    for (size_t j = i + 1; j < c.targets.size(); ++j) {
      if (events_overlap(c.targets[i], c.targets[j]) &&
          filters_overlap(c.targets[i], c.targets[j])) {
        return invalid_argument(
            "Configuration is ambiguous or Configurations are overlapping. Events and Rules "
            "overlap.");
      }
    }
  }
  return c;
}

std::string notification_config_xml(const NotificationConfig& c) {
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child("NotificationConfiguration");
  root.append_attribute("xmlns") = std::string(kXmlns).c_str();
  for (const NotificationTarget& t : c.targets) {
    KindNames names = names_of(t.kind);
    pugi::xml_node n = root.append_child(names.config);
    n.append_child("Id").text() = t.id.c_str();
    n.append_child(names.arn).text() = t.arn.c_str();
    for (const auto& e : t.events) n.append_child("Event").text() = e.c_str();
    if (!t.rules.empty()) {
      pugi::xml_node key = n.append_child("Filter").append_child("S3Key");
      for (const auto& r : t.rules) {
        pugi::xml_node rule = key.append_child("FilterRule");
        rule.append_child("Name").text() = iequals(r.name, "prefix") ? "Prefix" : "Suffix";
        rule.append_child("Value").text() = r.value.c_str();
      }
    }
  }
  if (c.event_bridge) root.append_child("EventBridgeConfiguration");
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw | pugi::format_no_declaration);
  return out.str();
}

std::string notification_config_json(const NotificationConfig& c) {
  json::array targets;
  for (const NotificationTarget& t : c.targets) {
    json::array events;
    for (const auto& e : t.events) events.emplace_back(e);
    json::array rules;
    for (const auto& r : t.rules)
      rules.push_back(json::object{{"name", r.name}, {"value", r.value}});
    targets.push_back(json::object{{"id", t.id},
                                   {"kind", kind_json(t.kind)},
                                   {"arn", t.arn},
                                   {"events", std::move(events)},
                                   {"rules", std::move(rules)}});
  }
  return json::serialize(
      json::object{{"event_bridge", c.event_bridge}, {"targets", std::move(targets)}});
}

Result<NotificationConfig> notification_config_from_json(std::string_view text) {
  auto parsed = parse_json(text);
  if (!parsed.ok()) return corrupt(parsed.error().message);
  if (!parsed->is_object()) return corrupt("not an object");
  const json::object& o = parsed->as_object();
  auto event_bridge = get_bool(o, "event_bridge");
  const json::array* targets = get_array(o, "targets");
  if (!event_bridge || targets == nullptr) return corrupt("missing members");
  NotificationConfig c;
  c.event_bridge = *event_bridge;
  for (const auto& v : *targets) {
    NUBO_ASSIGN_OR_RETURN(NotificationTarget t, target_from_json(v));
    c.targets.push_back(std::move(t));
  }
  return c;
}

bool matches(const NotificationTarget& t, std::string_view event_name, std::string_view key) {
  std::string name =
      starts_with(event_name, "s3:") ? std::string(event_name) : "s3:" + std::string(event_name);
  bool event = std::any_of(t.events.begin(), t.events.end(),
                           [&](const std::string& e) { return covers(e, name); });
  return event && key_matches(t, key);
}

std::string event_message_json(const EventObject& e) {
  std::string_view name = e.event_name;
  if (starts_with(name, "s3:")) name.remove_prefix(3);
  bool removal = starts_with(name, "ObjectRemoved:") || starts_with(name, "LifecycleExpiration:");

  json::object object{{"key", event_key(e.key)}};
  if (!removal) {
    object["size"] = e.size;
    object["eTag"] = e.etag;
  }
  if (!e.version_id.empty()) object["versionId"] = e.version_id;
  object["sequencer"] = e.sequencer;

  SystemTime when{std::chrono::milliseconds(e.time_ms)};
  json::object record{
      {"eventVersion", kEventVersion},
      {"eventSource", "aws:s3"},
      {"awsRegion", e.region},
      {"eventTime", format_iso8601(when)},
      {"eventName", name},
      {"userIdentity", json::object{{"principalId", e.principal_id}}},
      {"requestParameters", json::object{{"sourceIPAddress", e.source_ip}}},
      {"responseElements",
       json::object{{"x-amz-request-id", e.request_id}, {"x-amz-id-2", e.request_id}}},
      {"s3", json::object{{"s3SchemaVersion", kS3SchemaVersion},
                          {"configurationId", e.configuration_id},
                          {"bucket", json::object{{"name", e.bucket},
                                                  {"ownerIdentity",
                                                   json::object{{"principalId", e.account_id}}},
                                                  {"arn", "arn:aws:s3:::" + e.bucket}}},
                          {"object", std::move(object)}}},
  };
  return json::serialize(json::object{{"Records", json::array{std::move(record)}}});
}

std::string make_sequencer(uint64_t n) {
  char buf[kSequencerDigits + 1];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(n));
  return buf;
}

}  // namespace nubo::s3
