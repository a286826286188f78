// Route keys of HTTP APIs and how a request picks its route ("Create routes for HTTP APIs":
// "Routing API requests").
//
// Pure functions over plain values. Thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace nubo::apigateway {

struct PathSegment {
  enum class Kind { kLiteral, kParam, kGreedy };
  Kind kind = Kind::kLiteral;
  std::string text;  // the literal, or the variable's name (without braces and '+')
};

// A parsed route key: "$default", or "<METHOD> <path>" whose path segments are literals,
// variables ("{id}") or, last only, a greedy variable ("{proxy+}").
struct RouteKey {
  bool is_default = false;
  std::string method;  // "GET", ..., "ANY"; empty for $default
  std::vector<PathSegment> segments;
  std::string path;  // "/pets/{id}" as written; "$default" for the default route
};

// BadRequestException (400) with what is wrong: an unknown method, a path that does not start
// with '/', an empty or repeated variable name, a greedy variable that is not last, braces
// inside a literal.
Result<RouteKey> parse_route_key(std::string_view key);

struct RouteMatch {
  size_t index = 0;                                    // into the routes given
  std::map<std::string, std::string> path_parameters;  // decoded values
};

// The route of `routes` that serves `method` on `raw_path` (percent-encoded, from '/'; each
// segment is decoded before it is compared). Precedence, AWS's "best match":
//   1. the most specific path: compared segment by segment from the left, a literal beats a
//      variable, which beats a greedy variable ({proxy+} matches one or more segments), so an
//      exact path beats "{id}", which beats "{proxy+}", and "/pets/{proxy+}" beats
//      "/{proxy+}";
//   2. for that path, the route of the request's method beats ANY;
//   3. the $default route, when no other route matched.
// nullopt when nothing matches.
std::optional<RouteMatch> match_route(const std::vector<RouteKey>& routes, std::string_view method,
                                      std::string_view raw_path);

}  // namespace nubo::apigateway
