#include "services/sqs/wire.h"

#include <cctype>
#include <cstdlib>
#include <set>
#include <vector>

#include "base/strings.h"
#include "net/protocol.h"
#include "services/sqs/limits.h"

namespace nubo::sqs {

namespace {

using Form = std::map<std::string, std::string>;

// Query parameters that are numbers in the JSON protocol's shapes.
const std::set<std::string>& number_members() {
  static const std::set<std::string> k = {"DelaySeconds", "MaxNumberOfMessages",
                                          "VisibilityTimeout", "WaitTimeSeconds", "MaxResults"};
  return k;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// "Attribute.2.Name" -> index 2, rest "Name". False when the key is not <root>.<N>[.<rest>].
bool indexed(const std::string& key, const std::string& root, int* index, std::string* rest) {
  if (key.size() <= root.size() + 1 || key.compare(0, root.size(), root) != 0 ||
      key[root.size()] != '.') {
    return false;
  }
  size_t start = root.size() + 1;
  size_t dot = key.find('.', start);
  std::string n = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
  if (!all_digits(n) || n.size() > 6) return false;
  *index = std::atoi(n.c_str());
  *rest = dot == std::string::npos ? "" : key.substr(dot + 1);
  return true;
}

Result<json::value> scalar(const std::string& name, const std::string& value) {
  if (number_members().count(name)) {
    std::string_view v = value;
    bool neg = !v.empty() && v[0] == '-';
    if (!all_digits(neg ? v.substr(1) : v) || v.size() > 12) {
      return Error{"InvalidParameterValue", 400,
                   "Value " + value + " for parameter " + name + " is invalid. Reason: must be " +
                       "an integer."};
    }
    return json::value(std::stoll(value));
  }
  return json::value(value);
}

// One level of a Query form (keys relative to it) as a JSON object.
Result<json::object> build(const Form& form, const std::string& action) {
  json::object out;
  // Grouped by root and index: maps, lists and entries.
  std::map<std::string, std::map<int, Form>> groups;
  const std::vector<std::pair<std::string, std::string>> kGroups = {
      {"Attribute", "Attributes"},
      {"Tag", action == "CreateQueue" ? "tags" : "Tags"},
      {"AttributeName", "AttributeNames"},
      {"MessageAttributeName", "MessageAttributeNames"},
      {"MessageSystemAttributeName", "MessageSystemAttributeNames"},
      {"TagKey", "TagKeys"},
      {"MessageAttribute", "MessageAttributes"},
      {"MessageSystemAttribute", "MessageSystemAttributes"},
      {"AWSAccountId", "AWSAccountIds"},
      {"ActionName", "Actions"},
  };
  const std::string entry_root = action + "RequestEntry";
  for (const auto& [key, value] : form) {
    if (key == "Action" || key == "Version") continue;
    int n = 0;
    std::string rest;
    bool grouped = false;
    if (indexed(key, entry_root, &n, &rest) && !rest.empty()) {
      groups["Entries"][n][rest] = value;
      continue;
    }
    for (const auto& [root, member] : kGroups) {
      if (indexed(key, root, &n, &rest)) {
        groups[member][n][rest] = value;
        grouped = true;
        break;
      }
    }
    if (grouped) continue;
    NUBO_ASSIGN_OR_RETURN(json::value v, scalar(key, value));
    out[key] = std::move(v);
  }
  for (auto& [member, items] : groups) {
    if (member == "Attributes" || member == "Tags" || member == "tags") {
      json::object m;
      const char* k = member == "Attributes" ? "Name" : "Key";
      for (auto& [n, f] : items) m[f[k]] = f["Value"];
      out[member] = std::move(m);
    } else if (member == "MessageAttributes" || member == "MessageSystemAttributes") {
      json::object m;
      for (auto& [n, f] : items) {
        json::object a;
        for (const char* field : {"StringValue", "BinaryValue", "DataType"}) {
          auto it = f.find(std::string("Value.") + field);
          if (it != f.end()) a[field] = it->second;
        }
        m[f["Name"]] = std::move(a);
      }
      out[member] = std::move(m);
    } else if (member == "Entries") {
      json::array entries;
      for (auto& [n, f] : items) {
        NUBO_ASSIGN_OR_RETURN(json::object e, build(f, action));
        entries.push_back(std::move(e));
      }
      out[member] = std::move(entries);
    } else {  // a plain list
      json::array list;
      for (auto& [n, f] : items) list.push_back(json::value(f[""]));
      out[member] = std::move(list);
    }
  }
  return out;
}

// XML-escaped, with carriage returns as character references: an XML parser reads a raw CR
// (or CRLF) as LF, and the body's MD5 would then not match.
std::string escape(std::string_view text) {
  std::string e = net::xml_escape(text);
  if (e.find('\r') == std::string::npos) return e;
  std::string out;
  for (char c : e) {
    if (c == '\r') {
      out += "&#xD;";
    } else {
      out += c;
    }
  }
  return out;
}

void element(std::string& out, const std::string& name, const std::string& text) {
  out += "<" + name + ">" + escape(text) + "</" + name + ">";
}

std::string text_of(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_bool()) return v.as_bool() ? "true" : "false";
  if (v.is_int64()) return std::to_string(v.as_int64());
  if (v.is_uint64()) return std::to_string(v.as_uint64());
  if (v.is_double()) return json::serialize(v);
  return "";
}

void render(std::string& out, const json::object& o, const std::string& action);

void render_member(std::string& out, const std::string& key, const json::value& v,
                   const std::string& action) {
  if (key == "Attributes" && v.is_object()) {
    for (const auto& [k, val] : v.as_object()) {
      out += "<Attribute>";
      element(out, "Name", std::string(k));
      element(out, "Value", text_of(val));
      out += "</Attribute>";
    }
  } else if (key == "Tags" && v.is_object()) {
    for (const auto& [k, val] : v.as_object()) {
      out += "<Tag>";
      element(out, "Key", std::string(k));
      element(out, "Value", text_of(val));
      out += "</Tag>";
    }
  } else if (key == "MessageAttributes" && v.is_object()) {
    for (const auto& [k, val] : v.as_object()) {
      out += "<MessageAttribute>";
      element(out, "Name", std::string(k));
      out += "<Value>";
      if (val.is_object()) {
        for (const char* f : {"StringValue", "BinaryValue", "DataType"}) {
          if (const json::value* x = val.as_object().if_contains(f)) element(out, f, text_of(*x));
        }
      }
      out += "</Value></MessageAttribute>";
    }
  } else if (v.is_array()) {
    std::string item = key == "QueueUrls" || key == "queueUrls" ? "QueueUrl"
                       : key == "Messages"                      ? "Message"
                       : key == "Successful"                    ? action + "ResultEntry"
                       : key == "Failed"                        ? "BatchResultErrorEntry"
                                                                : key;
    for (const auto& x : v.as_array()) {
      out += "<" + item + ">";
      if (x.is_object()) {
        render(out, x.as_object(), action);
      } else {
        out += escape(text_of(x));
      }
      out += "</" + item + ">";
    }
  } else if (v.is_object()) {
    out += "<" + key + ">";
    render(out, v.as_object(), action);
    out += "</" + key + ">";
  } else {
    element(out, key, text_of(v));
  }
}

void render(std::string& out, const json::object& o, const std::string& action) {
  for (const auto& [k, v] : o) render_member(out, std::string(k), v, action);
}

// Query error code -> the JSON protocol's error shape (botocore's sqs model, "error" traits
// with awsQueryError codes).
std::string json_shape(const std::string& code) {
  static const std::map<std::string, std::string> k = {
      {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"},
      {"QueueAlreadyExists", "QueueNameExists"},
      {"AWS.SimpleQueueService.MessageNotInflight", "MessageNotInflight"},
      {"ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid"},
      {"AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "BatchEntryIdsNotDistinct"},
      {"AWS.SimpleQueueService.EmptyBatchRequest", "EmptyBatchRequest"},
      {"AWS.SimpleQueueService.InvalidBatchEntryId", "InvalidBatchEntryId"},
      {"AWS.SimpleQueueService.TooManyEntriesInBatchRequest", "TooManyEntriesInBatchRequest"},
      {"AWS.SimpleQueueService.BatchRequestTooLong", "BatchRequestTooLong"},
      {"AWS.SimpleQueueService.PurgeQueueInProgress", "PurgeQueueInProgress"},
      {"AWS.SimpleQueueService.QueueDeletedRecently", "QueueDeletedRecently"},
      {"AWS.SimpleQueueService.UnsupportedOperation", "UnsupportedOperation"},
      {"InvalidAttributeName", "InvalidAttributeName"},
      {"InvalidAttributeValue", "InvalidAttributeValue"},
      {"InvalidMessageContents", "InvalidMessageContents"},
      {"InvalidAddress", "InvalidAddress"},
      {"InvalidSecurity", "InvalidSecurity"},
      {"OverLimit", "OverLimit"},
      {"RequestThrottled", "RequestThrottled"},
      {"InvalidAction", "UnsupportedOperation"},
  };
  auto it = k.find(code);
  return it == k.end() ? code : it->second;
}

}  // namespace

Result<json::object> query_to_json(const std::string& action, const Form& form) {
  return build(form, action);
}

std::string json_to_query_xml(const std::string& action, const json::object& result,
                              const std::string& request_id) {
  // Actions with an output shape answer with their Result element even when it is empty
  // (botocore's Query parser looks it up by name).
  static const std::set<std::string> kWithResult = {"CreateQueue",
                                                    "GetQueueUrl",
                                                    "ListQueues",
                                                    "GetQueueAttributes",
                                                    "SendMessage",
                                                    "SendMessageBatch",
                                                    "ReceiveMessage",
                                                    "DeleteMessageBatch",
                                                    "ChangeMessageVisibilityBatch",
                                                    "ListQueueTags",
                                                    "ListDeadLetterSourceQueues"};
  std::string out =
      "<?xml version=\"1.0\"?><" + action + "Response xmlns=\"" + std::string(kXmlns) + "\">";
  if (!result.empty() || kWithResult.count(action)) {
    out += "<" + action + "Result>";
    render(out, result, action);
    out += "</" + action + "Result>";
  }
  out += "<ResponseMetadata><RequestId>" + net::xml_escape(request_id) +
         "</RequestId></ResponseMetadata></" + action + "Response>";
  return out;
}

net::Response json_error(const net::Request& req, const Error& e, const std::string& request_id) {
  json::object o;
  o["__type"] = "com.amazonaws.sqs#" + json_shape(e.code);
  // The JSON protocol's wording for the one message that differs from the Query protocol's.
  o["message"] = e.code == "AWS.SimpleQueueService.NonExistentQueue"
                     ? std::string("The specified queue does not exist.")
                     : e.message;
  net::Response res = net::make_response(req, static_cast<net::http::status>(e.status),
                                         json::serialize(o), "application/x-amz-json-1.0");
  res.set("x-amzn-RequestId", request_id);
  res.set("x-amzn-query-error", e.code + (e.status >= 500 ? ";Receiver" : ";Sender"));
  return res;
}

net::Response query_error(const net::Request& req, const Error& e, const std::string& request_id) {
  return net::error_response(req, net::Protocol::kQuery, e, request_id);
}

}  // namespace nubo::sqs
