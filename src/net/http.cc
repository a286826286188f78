#include "net/http.h"

#include "base/strings.h"

namespace nubo::net {

std::optional<std::string> Target::param(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return std::nullopt;
}

Target parse_target(std::string_view target) {
  Target t;
  size_t q = target.find('?');
  t.raw_path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) t.raw_query = std::string(target.substr(q + 1));
  t.path = url_decode(t.raw_path);
  if (!t.raw_query.empty()) {
    for (const std::string& part : split(t.raw_query, '&')) {
      if (part.empty()) continue;
      size_t eq = part.find('=');
      std::string k = url_decode(std::string_view(part).substr(0, eq), true);
      std::string v =
          eq == std::string::npos ? "" : url_decode(std::string_view(part).substr(eq + 1), true);
      t.query.emplace_back(std::move(k), std::move(v));
    }
  }
  return t;
}

Response make_response(const Request& req, http::status status, std::string body,
                       std::string_view content_type) {
  Response res{status, req.version()};
  res.set(http::field::server, "nubo");
  if (!content_type.empty()) res.set(http::field::content_type, content_type);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

std::string_view header(const Request& req, std::string_view name) {
  auto it = req.find(name);
  if (it == req.end()) return {};
  return it->value();
}

}  // namespace nubo::net
