#include "services/lambda/actions.h"

#include <vector>

#include "base/strings.h"
#include "services/lambda/limits.h"
#include "services/lambda/model.h"

namespace nubo::lambda {

namespace http = boost::beast::http;

namespace {

std::vector<std::string> segments(std::string_view rest) {
  std::vector<std::string> seg;
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  if (rest.empty()) return seg;
  seg = split(rest, '/');
  while (!seg.empty() && seg.back().empty()) seg.pop_back();
  return seg;
}

LambdaAction act(std::string name, std::string resource) {
  return LambdaAction{"lambda:" + std::move(name), std::move(resource)};
}

}  // namespace

std::string function_resource(std::string_view ref, std::string_view region,
                              std::string_view account,
                              const std::optional<std::string>& qualifier) {
  // The function as the service itself resolves the name (every accepted form: a name,
  // "ACCOUNT:NAME", "REGION:ACCOUNT:function:NAME", ARNs of any partition), so that the ARN
  // authorised is the ARN acted on: an explicit Deny on a function cannot be dodged by
  // spelling its name another way.
  ArnContext ctx{std::string(region), std::string(account)};
  auto parsed = parse_function_ref(ref, NameUse::kGetOrInvoke, ctx);
  if (!parsed.ok()) {
    // The service will refuse the name; authorise what it says, verbatim.
    return ctx.function_arn(ref);
  }
  std::string q = parsed->qualifier;
  if (q.empty() && qualifier) q = *qualifier;
  return q.empty() ? ctx.function_arn(parsed->name) : ctx.qualified_arn(parsed->name, q);
}

std::optional<LambdaAction> lambda_action(http::verb method, const net::Target& t,
                                          std::string_view region, std::string_view account) {
  const std::string& path = t.path;
  auto fn = [&](const std::string& name) {
    return function_resource(name, region, account, t.param("Qualifier"));
  };
  auto unqualified = [&](const std::string& name) {
    return function_resource(name, region, account, std::nullopt);
  };
  if (starts_with(path, kRecursionConfigPrefix)) {
    std::vector<std::string> seg =
        segments(std::string_view(path).substr(kRecursionConfigPrefix.size()));
    if (seg.size() == 2 && seg[1] == "recursion-config") {
      if (method == http::verb::get) return act("GetFunctionRecursionConfig", unqualified(seg[0]));
      if (method == http::verb::put) return act("PutFunctionRecursionConfig", unqualified(seg[0]));
    }
    if (seg.size() < 2 || seg[1] != "event-invoke-config") return std::nullopt;
  }
  if (starts_with(path, kEventInvokeConfigPrefix)) {
    std::vector<std::string> seg =
        segments(std::string_view(path).substr(kEventInvokeConfigPrefix.size()));
    if (seg.size() < 2 || seg[1] != "event-invoke-config") return std::nullopt;
    if (seg.size() == 3 && seg[2] == "list" && method == http::verb::get) {
      return act("ListFunctionEventInvokeConfigs", unqualified(seg[0]));
    }
    if (seg.size() != 2) return std::nullopt;
    if (method == http::verb::get) return act("GetFunctionEventInvokeConfig", fn(seg[0]));
    if (method == http::verb::put) return act("PutFunctionEventInvokeConfig", fn(seg[0]));
    if (method == http::verb::post) return act("UpdateFunctionEventInvokeConfig", fn(seg[0]));
    if (method == http::verb::delete_) return act("DeleteFunctionEventInvokeConfig", fn(seg[0]));
    return std::nullopt;
  }
  if (starts_with(path, kEventSourceMappingsPrefix)) {
    std::vector<std::string> seg =
        segments(std::string_view(path).substr(kEventSourceMappingsPrefix.size()));
    if (seg.empty()) {
      if (method == http::verb::post) return act("CreateEventSourceMapping", "*");
      if (method == http::verb::get) return act("ListEventSourceMappings", "*");
      return std::nullopt;
    }
    if (seg.size() != 1) return std::nullopt;
    std::string resource = "arn:aws:lambda:" + std::string(region) + ":" + std::string(account) +
                           ":event-source-mapping:" + seg[0];
    if (method == http::verb::get) return act("GetEventSourceMapping", resource);
    if (method == http::verb::put) return act("UpdateEventSourceMapping", resource);
    if (method == http::verb::delete_) return act("DeleteEventSourceMapping", resource);
    return std::nullopt;
  }
  if (starts_with(path, kFunctionsPrefix)) {
    std::vector<std::string> seg = segments(std::string_view(path).substr(kFunctionsPrefix.size()));
    if (seg.empty()) {
      if (method == http::verb::post) return act("CreateFunction", "*");
      if (method == http::verb::get) return act("ListFunctions", "*");
      return std::nullopt;
    }
    const std::string& name = seg[0];
    if (seg.size() == 1) {
      if (method == http::verb::get) return act("GetFunction", fn(name));
      if (method == http::verb::delete_) return act("DeleteFunction", fn(name));
      return std::nullopt;
    }
    const std::string& sub = seg[1];
    if (seg.size() == 2) {
      if (sub == "invocations" && method == http::verb::post) {
        return act("InvokeFunction", fn(name));
      }
      if (sub == "configuration") {
        if (method == http::verb::get) return act("GetFunctionConfiguration", fn(name));
        if (method == http::verb::put) {
          return act("UpdateFunctionConfiguration", unqualified(name));
        }
      }
      if (sub == "code" && method == http::verb::put) {
        return act("UpdateFunctionCode", unqualified(name));
      }
      if (sub == "versions") {
        if (method == http::verb::post) return act("PublishVersion", unqualified(name));
        if (method == http::verb::get) return act("ListVersionsByFunction", unqualified(name));
      }
      if (sub == "aliases") {
        if (method == http::verb::post) return act("CreateAlias", unqualified(name));
        if (method == http::verb::get) return act("ListAliases", unqualified(name));
      }
      if (sub == "policy") {
        if (method == http::verb::post) return act("AddPermission", fn(name));
        if (method == http::verb::get) return act("GetPolicy", fn(name));
      }
      return std::nullopt;
    }
    if (seg.size() == 3 && sub == "policy" && method == http::verb::delete_) {
      return act("RemovePermission", fn(name));
    }
    if (seg.size() == 3 && sub == "aliases") {
      std::string alias_arn = unqualified(name) + ":" + seg[2];
      if (method == http::verb::get) return act("GetAlias", alias_arn);
      if (method == http::verb::put) return act("UpdateAlias", alias_arn);
      if (method == http::verb::delete_) return act("DeleteAlias", alias_arn);
    }
    return std::nullopt;
  }
  if (starts_with(path, kFunctionUrlsPrefix)) {
    std::vector<std::string> seg =
        segments(std::string_view(path).substr(kFunctionUrlsPrefix.size()));
    if (seg.size() == 2 && seg[1] == "url") {
      if (method == http::verb::post) return act("CreateFunctionUrlConfig", fn(seg[0]));
      if (method == http::verb::get) return act("GetFunctionUrlConfig", fn(seg[0]));
      if (method == http::verb::put) return act("UpdateFunctionUrlConfig", fn(seg[0]));
      if (method == http::verb::delete_) return act("DeleteFunctionUrlConfig", fn(seg[0]));
    }
    if (seg.size() == 2 && seg[1] == "urls" && method == http::verb::get) {
      return act("ListFunctionUrlConfigs", unqualified(seg[0]));
    }
    return std::nullopt;
  }
  if (starts_with(path, kInvokeAsyncPrefix)) {
    std::vector<std::string> seg =
        segments(std::string_view(path).substr(kInvokeAsyncPrefix.size()));
    if (seg.size() == 2 && seg[1] == "invoke-async" && method == http::verb::post) {
      return act("InvokeAsync", unqualified(seg[0]));
    }
  }
  for (std::string_view prefix : {kConcurrencyPutPrefix, kConcurrencyGetPrefix}) {
    if (!starts_with(path, prefix)) continue;
    std::vector<std::string> seg = segments(std::string_view(path).substr(prefix.size()));
    if (seg.size() != 2) continue;
    if (seg[1] == "concurrency") {
      if (method == http::verb::put) return act("PutFunctionConcurrency", unqualified(seg[0]));
      if (method == http::verb::get) return act("GetFunctionConcurrency", unqualified(seg[0]));
      if (method == http::verb::delete_) {
        return act("DeleteFunctionConcurrency", unqualified(seg[0]));
      }
    }
    if (seg[1] == "provisioned-concurrency" && prefix == kConcurrencyGetPrefix) {
      std::optional<std::string> q = t.param("Qualifier");
      if (method == http::verb::get && t.param("List") == std::optional<std::string>("ALL")) {
        return act("ListProvisionedConcurrencyConfigs", unqualified(seg[0]));
      }
      if (method == http::verb::get && !q) {
        return act("ListProvisionedConcurrencyConfigs", unqualified(seg[0]));
      }
      if (method == http::verb::get) return act("GetProvisionedConcurrencyConfig", fn(seg[0]));
      if (method == http::verb::put) return act("PutProvisionedConcurrencyConfig", fn(seg[0]));
      if (method == http::verb::delete_) {
        return act("DeleteProvisionedConcurrencyConfig", fn(seg[0]));
      }
    }
  }
  if (starts_with(path, kAccountSettingsPrefix) && method == http::verb::get) {
    return act("GetAccountSettings", "*");
  }
  if (starts_with(path, kTagsPrefix)) {
    std::string arn = path.substr(kTagsPrefix.size());
    if (arn.find(":function:") != std::string::npos) arn = unqualified(arn);
    if (method == http::verb::get) return act("ListTags", arn);
    if (method == http::verb::post) return act("TagResource", arn);
    if (method == http::verb::delete_) return act("UntagResource", arn);
    return std::nullopt;
  }
  if (starts_with(path, kLayersPrefix)) {
    std::vector<std::string> seg = segments(std::string_view(path).substr(kLayersPrefix.size()));
    std::string base = "arn:aws:lambda:" + std::string(region) + ":" + std::string(account);
    if (seg.empty()) {
      if (method == http::verb::get) {
        // GetLayerVersionByArn: GET /layers?find=LayerVersion&Arn=...
        if (auto arn = t.param("Arn"); arn && t.param("find")) {
          return act("GetLayerVersion", *arn);
        }
        return act("ListLayers", "*");
      }
      return std::nullopt;
    }
    std::string layer = starts_with(seg[0], "arn:") ? seg[0] : base + ":layer:" + seg[0];
    if (seg.size() == 2 && seg[1] == "versions") {
      if (method == http::verb::post) return act("PublishLayerVersion", layer);
      if (method == http::verb::get) return act("ListLayerVersions", "*");
    }
    if (seg.size() == 3 && seg[1] == "versions") {
      if (method == http::verb::get) return act("GetLayerVersion", layer + ":" + seg[2]);
      if (method == http::verb::delete_) return act("DeleteLayerVersion", layer + ":" + seg[2]);
    }
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace nubo::lambda
