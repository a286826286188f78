// JSON through Boost.JSON, plus the few helpers every wire layer needs.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace nubo {

namespace json = boost::json;

// Parses text as JSON; a parse failure becomes `code` with status 400 and a message naming it.
Result<json::value> parse_json(std::string_view text,
                               std::string_view code = "InvalidRequestContentException");

// Member lookup helpers on an object; a missing member or one of another type yields nullopt.
std::optional<std::string> get_string(const json::object& o, std::string_view key);
std::optional<int64_t> get_int(const json::object& o, std::string_view key);
std::optional<bool> get_bool(const json::object& o, std::string_view key);
const json::object* get_object(const json::object& o, std::string_view key);
const json::array* get_array(const json::object& o, std::string_view key);

}  // namespace nubo
