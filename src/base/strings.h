// String helpers the wire layers share.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace nubo {

// Hash maps keyed by std::string that are looked up by std::string_view without a copy.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

std::string to_lower(std::string_view s);
// a == b, ASCII letters compared without case.
bool iequals(std::string_view a, std::string_view b);
// s with its first letter lower-cased (strerror's "No such file" inside a sentence).
std::string lower_first(std::string s);
std::string_view trim(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);
std::vector<std::string> split(std::string_view s, char sep);

// RFC 3986 percent-decoding; '+' stays '+' unless plus_as_space.
std::string url_decode(std::string_view s, bool plus_as_space = false);
// Percent-encodes everything but the unreserved set (A-Z a-z 0-9 - _ . ~); '/' kept if keep_slash.
std::string url_encode(std::string_view s, bool keep_slash = false);

}  // namespace nubo
