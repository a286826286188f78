// HTTP types shared by the front door, the Runtime API endpoints and the service wire layers.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nubo::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

template <typename T>
using Task = asio::awaitable<T>;

// A request target split into its parts.
struct Target {
  std::string raw_path;                                    // still percent-encoded, as on the wire
  std::string raw_query;                                   // without '?'
  std::string path;                                        // percent-decoded
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order ('+' is a space)

  // The first value of a query parameter, if present.
  std::optional<std::string> param(std::string_view name) const;
};
Target parse_target(std::string_view target);

// What the server knows of the connection a request came on.
struct Peer {
  std::string remote_ip;
  uint16_t remote_port = 0;
  uint16_t local_port = 0;
};

// A request handler. Called on an io thread; may co_await. Exceptions that escape it become a
// 500 answer, and never take the server down.
using Handler = std::function<Task<Response>(Request&, const Peer&)>;

// A response with a body and a content type; keep-alive follows the request's.
Response make_response(const Request& req, http::status status, std::string body,
                       std::string_view content_type = "application/json");

// Header value or empty.
std::string_view header(const Request& req, std::string_view name);

}  // namespace nubo::net
