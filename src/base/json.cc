#include "base/json.h"

namespace nubo {

Result<json::value> parse_json(std::string_view text, std::string_view code) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) {
    return Error{std::string(code), 400, "Could not parse request body into json: " + ec.message()};
  }
  return v;
}

std::optional<std::string> get_string(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return std::nullopt;
  return std::string(it->value().get_string());
}

std::optional<int64_t> get_int(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return std::nullopt;
  const auto& v = it->value();
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) return static_cast<int64_t>(v.get_uint64());
  if (v.is_double()) {
    double d = v.get_double();
    // Out of int64's range the cast is undefined: such a number is no integer here.
    if (!(d >= -9.2e18 && d <= 9.2e18)) return std::nullopt;
    if (d == static_cast<double>(static_cast<int64_t>(d))) return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

std::optional<bool> get_bool(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_bool()) return std::nullopt;
  return it->value().get_bool();
}

const json::object* get_object(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_object()) return nullptr;
  return &it->value().get_object();
}

const json::array* get_array(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_array()) return nullptr;
  return &it->value().get_array();
}

}  // namespace nubo
