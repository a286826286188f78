#include "net/exchange.h"

#include <algorithm>
#include <cstring>

namespace nubo::net {

Task<Status> Exchange::respond(Response res) {
  if (res.find(http::field::content_length) == res.end()) res.prepare_payload();
  std::string body = std::move(res.body());
  http::response_header<> head = std::move(res.base());
  // Named: GCC 12 destroys a by-value argument of a co_awaited call twice (ARCHITECTURE.md).
  auto heading = write_head(std::move(head));
  Status st = co_await std::move(heading);
  if (!st.ok() || body.empty()) co_return st;
  co_return co_await write(body);
}

Task<Result<size_t>> BufferedExchange::read(std::span<char> buf) {
  size_t n = std::min(buf.size(), req_.body().size() - std::min(pos_, req_.body().size()));
  std::memcpy(buf.data(), req_.body().data() + pos_, n);
  pos_ += n;
  co_return n;
}

Task<Status> BufferedExchange::write_head(http::response_header<> head) {
  written_ = true;
  static_cast<http::response_header<>&>(res_) = std::move(head);
  co_return Ok{};
}

Task<Status> BufferedExchange::write(std::string_view bytes) {
  res_.body().append(bytes);
  co_return Ok{};
}

}  // namespace nubo::net
