#include "services/lambda/actions.h"

#include <vector>

#include "base/strings.h"
#include "services/lambda/limits.h"

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
  std::string arn;
  if (starts_with(ref, "arn:")) {
    arn = std::string(ref);
  } else if (ref.find(":function:") != std::string_view::npos) {
    arn = "arn:aws:lambda:" + std::string(region) + ":" + std::string(ref);
  } else {
    arn = "arn:aws:lambda:" + std::string(region) + ":" + std::string(account) + ":function:" +
          std::string(ref);
  }
  // arn:aws:lambda:R:A:function:NAME has 7 components; an 8th is the qualifier.
  size_t colons = 0;
  for (char c : arn) colons += c == ':';
  if (colons == 6 && qualifier && !qualifier->empty()) arn += ":" + *qualifier;
  return arn;
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
  if (starts_with(path, kFunctionsPrefix)) {
    std::vector<std::string> seg =
        segments(std::string_view(path).substr(kFunctionsPrefix.size()));
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
      return std::nullopt;
    }
    if (seg.size() == 3 && sub == "aliases") {
      std::string alias_arn = unqualified(name) + ":" + seg[2];
      if (method == http::verb::get) return act("GetAlias", alias_arn);
      if (method == http::verb::put) return act("UpdateAlias", alias_arn);
      if (method == http::verb::delete_) return act("DeleteAlias", alias_arn);
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
