#include "services/iam/wire.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "base/strings.h"
#include "net/protocol.h"
#include "services/iam/limits.h"

namespace nubo::iam::wire {

std::string param(const Params& p, const std::string& key) {
  auto it = p.find(key);
  return it == p.end() ? std::string() : it->second;
}

bool has(const Params& p, const std::string& key) {
  return p.count(key) > 0;
}

Error validation(const std::string& value, const std::string& field, const std::string& what) {
  return Error{"ValidationError", 400,
               "1 validation error detected: Value '" + value + "' at '" + field +
                   "' failed to satisfy constraint: " + what};
}

Error missing(const std::string& field) {
  return Error{"ValidationError", 400,
               "1 validation error detected: Value null at '" + field +
                   "' failed to satisfy constraint: Member must not be null"};
}

Status check_name(const Params& p, const char* key, const char* field, size_t max) {
  auto it = p.find(key);
  if (it == p.end()) return missing(field);
  const std::string& v = it->second;
  if (v.empty()) {
    return validation(v, field, "Member must have length greater than or equal to 1");
  }
  if (v.size() > max) {
    return validation(v, field,
                      "Member must have length less than or equal to " + std::to_string(max));
  }
  bool ok = std::all_of(v.begin(), v.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("_+=,.@-").find(c) != std::string_view::npos;
  });
  if (!ok) {
    return validation(v, field, "Member must satisfy regular expression pattern: [\\w+=,.@-]+");
  }
  return Ok{};
}

Result<std::string> path_param(const Params& p, const char* key, const char* field) {
  if (!has(p, key)) return std::string("/");
  std::string path = param(p, key);
  bool printable =
      std::all_of(path.begin(), path.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
  if (path.empty() || path.size() > kPathMax || path.front() != '/' || path.back() != '/' ||
      !printable) {
    return validation(path, field,
                      "Member must satisfy regular expression pattern: "
                      "(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)");
  }
  return path;
}

Result<std::string> policy_path_param(const Params& p) {
  if (!has(p, "Path")) return std::string("/");
  std::string path = param(p, "Path");
  bool ok = !path.empty() && path.size() <= kPathMax && path.front() == '/' && path.back() == '/' &&
            path.find("//") == std::string::npos;
  ok = ok && std::all_of(path.begin(), path.end(), [](char c) {
         return std::isalnum(static_cast<unsigned char>(c)) ||
                std::string_view("/.,+@=_-").find(c) != std::string_view::npos;
       });
  if (!ok) {
    return validation(path, "path",
                      "Member must satisfy regular expression pattern: "
                      "((/[A-Za-z0-9\\.,\\+@=_-]+)*)/");
  }
  return path;
}

Result<std::string> path_prefix_param(const Params& p) {
  if (!has(p, "PathPrefix")) return std::string("/");
  std::string prefix = param(p, "PathPrefix");
  bool ok = !prefix.empty() && prefix.size() <= kPathMax && prefix.front() == '/' &&
            std::all_of(prefix.begin(), prefix.end(), [](char c) { return c >= 0x21; });
  if (!ok) {
    return validation(prefix, "pathPrefix",
                      "Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*");
  }
  return prefix;
}

Result<int> max_items(const Params& p) {
  std::string v = param(p, "MaxItems");
  if (v.empty()) return kMaxItemsDefault;
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (*end != '\0' || n < 1 || n > kMaxItemsMax) {
    return validation(v, "maxItems", "Member must have value between 1 and 1000");
  }
  return static_cast<int>(n);
}

Result<bool> bool_param(const Params& p, const char* key, const char* field, bool dflt) {
  if (!has(p, key)) return dflt;
  std::string v = to_lower(param(p, key));
  if (v == "true") return true;
  if (v == "false") return false;
  return validation(param(p, key), field, "Member must be a boolean");
}

Result<std::string> document_param(const Params& p, const char* key, const char* field) {
  if (!has(p, key)) return missing(field);
  std::string doc = param(p, key);
  if (doc.empty()) {
    return validation(doc, field, "Member must have length greater than or equal to 1");
  }
  if (doc.size() > 131072) {
    return validation(doc, field, "Member must have length less than or equal to 131072");
  }
  return doc;
}

Result<std::string> arn_param(const Params& p, const char* key, const char* field) {
  if (!has(p, key)) return missing(field);
  std::string arn = param(p, key);
  if (arn.size() < kArnMin) {
    return validation(arn, field, "Member must have length greater than or equal to 20");
  }
  if (arn.size() > kArnMax) {
    return validation(arn, field, "Member must have length less than or equal to 2048");
  }
  return arn;
}

std::vector<std::string> member_list(const Params& p, const std::string& key) {
  std::vector<std::string> out;
  for (int i = 1;; ++i) {
    auto it = p.find(key + ".member." + std::to_string(i));
    if (it == p.end()) break;
    out.push_back(it->second);
  }
  return out;
}

Tags tags_param(const Params& p, const std::string& key) {
  Tags out;
  for (int i = 1;; ++i) {
    std::string at = key + ".member." + std::to_string(i) + ".";
    if (!has(p, at + "Key") && !has(p, at + "Value")) break;
    out.push_back(Tag{param(p, at + "Key"), param(p, at + "Value")});
  }
  return out;
}

std::string x(const std::string& tag, const std::string& text) {
  return "<" + tag + ">" + net::xml_escape(text) + "</" + tag + ">";
}

std::string doc_xml(const std::string& tag, const std::string& document) {
  // IAM returns policy documents URL-encoded (the SDKs decode them).
  return x(tag, url_encode(document));
}

std::string tags_xml(const Tags& tags, const std::string& tag) {
  std::string s = "<" + tag + ">";
  for (const Tag& t : tags) s += "<member>" + x("Key", t.key) + x("Value", t.value) + "</member>";
  return s + "</" + tag + ">";
}

std::string user_xml(const User& u, const std::string& tag, bool with_tags) {
  std::string s = "<" + tag + ">" + x("Path", u.path) + x("UserName", u.name) +
                  x("UserId", u.user_id) + x("Arn", u.arn) + x("CreateDate", u.create_date);
  if (with_tags && !u.tags.empty()) s += tags_xml(u.tags);
  return s + "</" + tag + ">";
}

std::string group_xml(const Group& g, const std::string& tag) {
  return "<" + tag + ">" + x("Path", g.path) + x("GroupName", g.name) + x("GroupId", g.group_id) +
         x("Arn", g.arn) + x("CreateDate", g.create_date) + "</" + tag + ">";
}

std::string role_xml(const Role& r, const std::string& tag, bool full) {
  std::string s = "<" + tag + ">" + x("Path", r.path) + x("RoleName", r.name) +
                  x("RoleId", r.role_id) + x("Arn", r.arn) + x("CreateDate", r.create_date) +
                  doc_xml("AssumeRolePolicyDocument", r.trust_policy);
  if (!r.description.empty()) s += x("Description", r.description);
  s += x("MaxSessionDuration", std::to_string(r.max_session_duration));
  if (full) {
    if (!r.tags.empty()) s += tags_xml(r.tags);
    s += "<RoleLastUsed/>";
  }
  return s + "</" + tag + ">";
}

std::string policy_xml(const ManagedPolicy& p, const std::string& tag, bool full) {
  std::string s = "<" + tag + ">" + x("PolicyName", p.name) + x("PolicyId", p.policy_id) +
                  x("Arn", p.arn) + x("Path", p.path) + x("DefaultVersionId", p.default_version) +
                  x("AttachmentCount", std::to_string(p.attachment_count)) +
                  "<PermissionsBoundaryUsageCount>0</PermissionsBoundaryUsageCount>"
                  "<IsAttachable>true</IsAttachable>";
  if (full && !p.description.empty()) s += x("Description", p.description);
  s += x("CreateDate", p.create_date) + x("UpdateDate", p.update_date);
  if (full && !p.tags.empty()) s += tags_xml(p.tags);
  return s + "</" + tag + ">";
}

std::string version_xml(const PolicyVersion& v, const std::string& tag, bool with_document) {
  std::string s = "<" + tag + ">";
  if (with_document) s += doc_xml("Document", v.document);
  s += x("VersionId", v.version_id) +
       x("IsDefaultVersion", v.is_default ? std::string("true") : std::string("false")) +
       x("CreateDate", v.create_date);
  return s + "</" + tag + ">";
}

std::string attached_xml(const std::vector<AttachedPolicy>& a, const std::string& tag) {
  std::string s = "<" + tag + ">";
  for (const auto& p : a) {
    s += "<member>" + x("PolicyName", p.name) + x("PolicyArn", p.arn) + "</member>";
  }
  return s + "</" + tag + ">";
}

std::string truncation(const std::string& marker) {
  std::string s =
      std::string("<IsTruncated>") + (marker.empty() ? "false" : "true") + "</IsTruncated>";
  if (!marker.empty()) s += x("Marker", marker);
  return s;
}

Status Call::allow(const std::string& resource,
                   std::vector<std::pair<std::string, std::string>> keys) const {
  auth::Access access;
  access.action = "iam:" + action;
  access.resource = resource;
  access.keys = std::move(keys);
  return auth::authorize(caller, access, auth::DenialShape{"AccessDenied", 403});
}

Result<std::string> Call::user_arn(const std::string& name) const {
  NUBO_ASSIGN_OR_RETURN(std::optional<User> u, logic.users.find(name));
  return u ? u->arn : iam_arn(logic.account_id, "user", "/", name);
}

Result<std::string> Call::group_arn(const std::string& name) const {
  NUBO_ASSIGN_OR_RETURN(std::optional<Group> g, logic.groups.find(name));
  return g ? g->arn : iam_arn(logic.account_id, "group", "/", name);
}

Result<std::string> Call::role_arn(const std::string& name) const {
  auto r = logic.roles.get(name);
  if (r.ok()) return r->arn;
  if (r.error().code != "NoSuchEntity") return r.error();
  return iam_arn(logic.account_id, "role", "/", name);
}

std::optional<std::string> Call::caller_user() const {
  if (caller.is_root) return std::nullopt;
  if (caller.identity && !caller.identity->user_name.empty()) return caller.identity->user_name;
  // arn:aws:iam::<account>:user/<path>/<name>
  auto at = caller.arn.find(":user/");
  if (at == std::string::npos) return std::nullopt;
  return caller.arn.substr(caller.arn.rfind('/') + 1);
}

}  // namespace nubo::iam::wire
