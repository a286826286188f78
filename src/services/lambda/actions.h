// Which IAM action and resource a Lambda API request is (issue 4: every call authorised before
// it acts). Mirrors LambdaService's routing; the action names and resource ARNs are the ones the
// Service Authorization Reference lists for Lambda ("Actions defined by AWS Lambda"): the
// function's ARN as the caller named it (qualified by the Qualifier parameter or the name's own
// suffix), the layer's or layer version's ARN, "*" for account-wide actions.
//
// Pure; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "net/http.h"

namespace nubo::lambda {

struct LambdaAction {
  std::string action;    // "lambda:GetFunction"
  std::string resource;  // an ARN, or "*"
};

// nullopt for a request that is no Lambda operation (the service answers it as unknown) and for
// the node's own signed code downloads.
std::optional<LambdaAction> lambda_action(boost::beast::http::verb method, const net::Target& t,
                                          std::string_view region, std::string_view account);

// The ARN a function reference names: a name, "ACCOUNT:function:NAME" or a full ARN, each
// optionally with ":QUALIFIER"; `qualifier` (the Qualifier parameter) is appended when the
// reference has none.
std::string function_resource(std::string_view ref, std::string_view region,
                              std::string_view account,
                              const std::optional<std::string>& qualifier);

}  // namespace nubo::lambda
