#include "services/apigateway/routes.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "base/strings.h"
#include "services/apigateway/limits.h"

namespace nubo::apigateway {

namespace {

Error bad_key(std::string_view key, const std::string& why) {
  return Error{"BadRequestException", 400,
               "Invalid route key \"" + std::string(key) + "\": " + why +
                   ". A route key is $default or \"<METHOD> <path>\", for example "
                   "\"GET /pets/{petId}\"."};
}

bool name_ok(std::string_view n) {
  return !n.empty() && std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

// The request's path segments, decoded ("/a/b%2Fc" → "a", "b/c").
std::vector<std::string> request_segments(std::string_view raw_path) {
  std::vector<std::string> out;
  if (raw_path.empty() || raw_path == "/") return out;
  for (const std::string& s : split(raw_path.substr(1), '/')) out.push_back(url_decode(s));
  return out;
}

// Whether `route` matches the segments; fills the parameters.
bool matches(const RouteKey& route, const std::vector<std::string>& segs,
             std::map<std::string, std::string>& params) {
  params.clear();
  const auto& rs = route.segments;
  for (size_t i = 0; i < rs.size(); ++i) {
    const PathSegment& s = rs[i];
    if (s.kind == PathSegment::Kind::kGreedy) {
      if (i >= segs.size()) return false;  // one segment at least
      std::string rest;
      for (size_t k = i; k < segs.size(); ++k) {
        if (k > i) rest += '/';
        rest += segs[k];
      }
      params[s.text] = rest;
      return true;
    }
    if (i >= segs.size()) return false;
    if (s.kind == PathSegment::Kind::kLiteral) {
      if (segs[i] != s.text) return false;
    } else {
      if (segs[i].empty()) return false;
      params[s.text] = segs[i];
    }
  }
  return rs.size() == segs.size();
}

// <0: a is more specific than b; >0: b is; 0: the same shape.
int compare_specificity(const RouteKey& a, const RouteKey& b) {
  const size_t n = std::max(a.segments.size(), b.segments.size());
  for (size_t i = 0; i < n; ++i) {
    // Both matched the same request: past the end of one, the other has a greedy segment
    // there or ended too (a greedy one always ends its route).
    if (i >= a.segments.size() || i >= b.segments.size()) break;
    auto ka = static_cast<int>(a.segments[i].kind), kb = static_cast<int>(b.segments[i].kind);
    if (ka != kb) return ka - kb;  // kLiteral < kParam < kGreedy
  }
  // The same kinds along the common part: the longer one matched more literally.
  return static_cast<int>(b.segments.size()) - static_cast<int>(a.segments.size());
}

}  // namespace

Result<RouteKey> parse_route_key(std::string_view key) {
  RouteKey r;
  if (key == kDefault) {
    r.is_default = true;
    r.path = std::string(kDefault);
    return r;
  }
  size_t sp = key.find(' ');
  if (sp == std::string_view::npos) return bad_key(key, "no method and path");
  std::string method(key.substr(0, sp));
  std::string_view path = key.substr(sp + 1);
  if (std::find(std::begin(kRouteMethods), std::end(kRouteMethods), method) ==
      std::end(kRouteMethods)) {
    return bad_key(key, "unknown method " + method);
  }
  if (path.empty() || path[0] != '/') return bad_key(key, "the path must start with '/'");
  if (path.find(' ') != std::string_view::npos) return bad_key(key, "the path has a space");
  r.method = std::move(method);
  r.path = std::string(path);
  std::set<std::string> names;
  if (path != "/") {
    std::vector<std::string> parts = split(path.substr(1), '/');
    for (size_t i = 0; i < parts.size(); ++i) {
      const std::string& p = parts[i];
      PathSegment seg;
      if (!p.empty() && p.front() == '{' && p.back() == '}' && p.size() >= 2) {
        std::string name = p.substr(1, p.size() - 2);
        if (!name.empty() && name.back() == '+') {
          if (i + 1 != parts.size()) {
            return bad_key(key, "a greedy path variable must be the last segment");
          }
          name.pop_back();
          seg.kind = PathSegment::Kind::kGreedy;
        } else {
          seg.kind = PathSegment::Kind::kParam;
        }
        if (!name_ok(name)) return bad_key(key, "invalid path variable {" + name + "}");
        if (!names.insert(name).second) return bad_key(key, "path variable " + name + " repeats");
        seg.text = std::move(name);
      } else {
        if (p.find_first_of("{}") != std::string::npos) {
          return bad_key(key, "a path variable must be a whole segment");
        }
        seg.text = p;
      }
      r.segments.push_back(std::move(seg));
    }
  }
  return r;
}

std::optional<RouteMatch> match_route(const std::vector<RouteKey>& routes, std::string_view method,
                                      std::string_view raw_path) {
  const std::vector<std::string> segs = request_segments(raw_path);
  std::optional<RouteMatch> best;
  std::optional<size_t> fallback;
  std::map<std::string, std::string> params;
  for (size_t i = 0; i < routes.size(); ++i) {
    const RouteKey& r = routes[i];
    if (r.is_default) {
      fallback = i;
      continue;
    }
    if (r.method != "ANY" && r.method != method) continue;
    if (!matches(r, segs, params)) continue;
    bool better = !best;
    if (best) {
      const RouteKey& b = routes[best->index];
      int c = compare_specificity(r, b);
      better = c < 0 || (c == 0 && b.method == "ANY" && r.method != "ANY");
    }
    if (better) best = RouteMatch{i, params};
  }
  if (best) return best;
  if (fallback) return RouteMatch{*fallback, {}};
  return std::nullopt;
}

}  // namespace nubo::apigateway
