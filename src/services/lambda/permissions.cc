#include "services/lambda/permissions.h"

#include <cctype>

#include "base/strings.h"
#include "services/lambda/limits.h"
#include "services/lambda/model.h"

namespace nubo::lambda {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}
bool is_alpha(char c) {
  return is_lower(c) || (c >= 'A' && c <= 'Z');
}
bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}

bool all_digits(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// ([a-zA-Z0-9-_]+), anchored (Lambda matches whole values).
bool statement_id_ok(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_alnum(c) && c != '-' && c != '_') return false;
  }
  return true;
}

// (lambda:[*]|lambda:[a-zA-Z]+|[*])
bool action_ok(std::string_view s) {
  if (s == "*" || s == "lambda:*") return true;
  if (!starts_with(s, "lambda:") || s.size() == 7) return false;
  for (char c : s.substr(7)) {
    if (!is_alpha(c)) return false;
  }
  return true;
}

// [^\s]+
bool principal_ok(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// ([a-z]{2}(-gov)?-[a-z]+-\d{1})? : a region or nothing.
bool region_ok(std::string_view s) {
  if (s.empty()) return true;
  if (s.size() < 2 || !is_lower(s[0]) || !is_lower(s[1])) return false;
  s.remove_prefix(2);
  if (starts_with(s, "-gov-")) s.remove_prefix(4);
  if (s.empty() || s[0] != '-') return false;
  s.remove_prefix(1);
  size_t dash = s.rfind('-');
  if (dash == std::string_view::npos || dash == 0) return false;
  for (char c : s.substr(0, dash)) {
    if (!is_lower(c)) return false;
  }
  return all_digits(s.substr(dash + 1), 1);
}

// arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:(REGION)?:(\d{12})?:(.*)
bool source_arn_ok(std::string_view s) {
  std::vector<std::string> parts = split(s, ':');
  if (parts.size() < 6 || parts[0] != "arn") return false;
  if (!starts_with(parts[1], "aws")) return false;
  for (char c : parts[1]) {
    if (!is_alnum(c) && c != '-') return false;
  }
  if (parts[2].empty()) return false;
  for (char c : parts[2]) {
    if (!is_alnum(c) && c != '-') return false;
  }
  if (!region_ok(parts[3])) return false;
  return parts[4].empty() || all_digits(parts[4], 12);
}

// ^o-[a-z0-9]{10,32}$
bool org_id_ok(std::string_view s) {
  if (!starts_with(s, "o-") || s.size() < 12 || s.size() > 34) return false;
  for (char c : s.substr(2)) {
    if (!is_lower(c) && !is_digit(c)) return false;
  }
  return true;
}

// [a-zA-Z0-9._\-]+
bool token_ok(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_alnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

std::string pattern(std::string_view p) {
  return "Member must satisfy regular expression pattern: " + std::string(p);
}

Error invalid_principal() {
  return invalid_parameter(
      "The provided principal was invalid. Please check the principal and try again.");
}

// The Principal element Lambda writes for AddPermission's Principal.
Result<json::value> principal_element(const std::string& p) {
  if (p == "*") return json::value("*");
  if (all_digits(p, 12)) {
    return json::value(json::object{{"AWS", "arn:aws:iam::" + p + ":root"}});
  }
  if (starts_with(p, "arn:")) {
    // An IAM principal's ARN: arn:PARTITION:iam::ACCOUNT:... (or STS's assumed-role ARNs).
    std::vector<std::string> parts = split(p, ':');
    if (parts.size() < 6 || (parts[2] != "iam" && parts[2] != "sts") || !all_digits(parts[4], 12) ||
        parts[5].empty()) {
      return invalid_principal();
    }
    return json::value(json::object{{"AWS", p}});
  }
  // A service principal: a domain ("s3.amazonaws.com", "events.amazonaws.com").
  size_t dot = p.find('.');
  if (dot == std::string::npos || dot == 0 || p.back() == '.') return invalid_principal();
  for (char c : p) {
    if (!is_lower(c) && !is_digit(c) && c != '.' && c != '-') return invalid_principal();
  }
  return json::value(json::object{{"Service", p}});
}

}  // namespace

Result<json::object> permission_statement(const PermissionInput& in,
                                          std::string_view resource_arn) {
  Validation v;
  auto required = [&](const std::optional<std::string>& value, std::string_view field) {
    if (!value) {
      v.add("Value null at '" + std::string(field) +
            "' failed to satisfy constraint: Member must not be null");
    }
    return value.has_value();
  };
  if (required(in.statement_id, "statementId")) {
    const std::string& sid = *in.statement_id;
    if (sid.size() > kStatementIdMax) {
      v.add(sid, "statementId", "Member must have length less than or equal to 100");
    }
    if (!statement_id_ok(sid)) v.add(sid, "statementId", pattern(kStatementIdPattern));
  }
  if (required(in.action, "action") && !action_ok(*in.action)) {
    v.add(*in.action, "action", pattern(kPermissionActionPattern));
  }
  if (required(in.principal, "principal") && !principal_ok(*in.principal)) {
    v.add(*in.principal, "principal", pattern(kPrincipalPattern));
  }
  if (in.source_arn && !source_arn_ok(*in.source_arn)) {
    v.add(*in.source_arn, "sourceArn", pattern(kSourceArnPattern));
  }
  if (in.source_account) {
    if (in.source_account->size() > 12) {
      v.add(*in.source_account, "sourceAccount",
            "Member must have length less than or equal to 12");
    }
    if (!all_digits(*in.source_account, 12)) {
      v.add(*in.source_account, "sourceAccount", pattern(kSourceAccountPattern));
    }
  }
  if (in.principal_org_id) {
    const std::string& org = *in.principal_org_id;
    if (org.size() < 12) {
      v.add(org, "principalOrgID", "Member must have length greater than or equal to 12");
    } else if (org.size() > 34) {
      v.add(org, "principalOrgID", "Member must have length less than or equal to 34");
    }
    if (!org_id_ok(org)) v.add(org, "principalOrgID", pattern(kPrincipalOrgIdPattern));
  }
  if (in.event_source_token) {
    const std::string& t = *in.event_source_token;
    if (t.size() > kEventSourceTokenMax) {
      v.add(t, "eventSourceToken", "Member must have length less than or equal to 256");
    }
    if (!token_ok(t)) v.add(t, "eventSourceToken", pattern(kEventSourceTokenPattern));
  }
  if (in.function_url_auth_type && *in.function_url_auth_type != "NONE" &&
      *in.function_url_auth_type != "AWS_IAM") {
    v.add(*in.function_url_auth_type, "functionUrlAuthType",
          "Member must satisfy enum value set: [NONE, AWS_IAM]");
  }
  NUBO_TRY(v.status());

  NUBO_ASSIGN_OR_RETURN(json::value principal, principal_element(*in.principal));
  json::object s;
  s["Sid"] = *in.statement_id;
  s["Effect"] = "Allow";
  s["Principal"] = std::move(principal);
  s["Action"] = *in.action;
  s["Resource"] = std::string(resource_arn);
  json::object equals;
  if (in.source_account) equals["AWS:SourceAccount"] = *in.source_account;
  if (in.principal_org_id) equals["aws:PrincipalOrgID"] = *in.principal_org_id;
  if (in.event_source_token) equals["lambda:EventSourceToken"] = *in.event_source_token;
  if (in.function_url_auth_type) equals["lambda:FunctionUrlAuthType"] = *in.function_url_auth_type;
  json::object condition;
  if (!equals.empty()) condition["StringEquals"] = std::move(equals);
  if (in.source_arn) condition["ArnLike"] = json::object{{"AWS:SourceArn", *in.source_arn}};
  if (!condition.empty()) s["Condition"] = std::move(condition);
  return s;
}

std::string statement_sid(const json::object& statement) {
  return get_string(statement, "Sid").value_or("");
}

std::string policy_document(const json::array& statements) {
  json::object doc;
  doc["Version"] = "2012-10-17";
  doc["Id"] = "default";
  doc["Statement"] = statements;
  return json::serialize(doc);
}

json::array policy_statements(std::string_view document) {
  auto v = parse_json(document, "ServiceException");
  if (!v.ok() || !v->is_object()) return {};
  const json::array* a = get_array(v->as_object(), "Statement");
  return a ? *a : json::array{};
}

Status check_policy_size(std::string_view document) {
  if (document.size() <= kMaxFunctionPolicyBytes) return Ok{};
  return Error{"PolicyLengthExceededException", 400,
               "The final policy size (" + std::to_string(document.size()) +
                   ") is bigger than the limit (" + std::to_string(kMaxFunctionPolicyBytes) + ")."};
}

}  // namespace nubo::lambda
