#include "services/sts/sts_service.h"

#include <map>

#include "base/ids.h"
#include "base/strings.h"
#include "net/protocol.h"

namespace nubo::sts {

namespace {

net::Response xml(const net::Request& req, const std::string& body, const std::string& rid) {
  net::Response res = net::make_response(req, net::http::status::ok, body, "text/xml");
  res.set("x-amzn-RequestId", rid);
  return res;
}

}  // namespace

net::Response StsService::handle(const net::Request& req, const Principal& caller) const {
  std::string rid = new_uuid();
  std::map<std::string, std::string> form = net::form_params(req);
  auto param = [&](const char* k) {
    auto it = form.find(k);
    return it == form.end() ? std::string() : it->second;
  };
  std::string action = param("Action");
  std::string version = param("Version");
  if (action.empty()) {
    return net::error_response(req, net::Protocol::kQuery,
                               Error{"MissingAction", 400, "Missing Action"}, rid);
  }
  if (version != kVersion) {
    return net::error_response(
        req, net::Protocol::kQuery,
        Error{"InvalidAction", 400,
              "Could not find operation " + action + " for version " +
                  (version.empty() ? std::string("NO_VERSION_SPECIFIED") : version)},
        rid);
  }
  if (action == "GetCallerIdentity") {
    // The root key pair is the account's root user, whose UserId is the account id.
    std::string user_id = caller.is_root ? caller.account_id : caller.access_key_id;
    std::string body =
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
        "  <GetCallerIdentityResult>\n"
        "    <Arn>" +
        net::xml_escape(caller.arn) +
        "</Arn>\n"
        "    <UserId>" +
        net::xml_escape(user_id) +
        "</UserId>\n"
        "    <Account>" +
        net::xml_escape(caller.account_id) +
        "</Account>\n"
        "  </GetCallerIdentityResult>\n"
        "  <ResponseMetadata>\n"
        "    <RequestId>" +
        rid +
        "</RequestId>\n"
        "  </ResponseMetadata>\n"
        "</GetCallerIdentityResponse>\n";
    return xml(req, body, rid);
  }
  return net::error_response(
      req, net::Protocol::kQuery,
      Error{"InvalidAction", 400,
            "Could not find operation " + action + " for version " + version +
                (action == "AssumeRole" || action == "GetSessionToken" ||
                         action == "AssumeRoleWithWebIdentity" || action == "GetAccessKeyInfo"
                     ? " (nubo does not implement it yet)"
                     : "")},
      rid);
}

}  // namespace nubo::sts
