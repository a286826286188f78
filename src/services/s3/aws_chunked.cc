#include "services/s3/aws_chunked.h"

#include "base/strings.h"

namespace nubo::s3 {

namespace {

Error malformed() {
  return Error{"IncompleteBody", 400, "The request body is not valid aws-chunked encoding"};
}

// A chunk header line has at most a 16-digit size and a signature (64 hex digits) with its
// name; anything longer is not one.
constexpr size_t kMaxHeaderLine = 256;

}  // namespace

bool is_aws_chunked(const net::Request& req, std::string_view payload_hash) {
  if (starts_with(payload_hash, "STREAMING-")) return true;
  for (const std::string& coding : split(net::header(req, "content-encoding"), ',')) {
    if (iequals(trim(coding), "aws-chunked")) return true;
  }
  return false;
}

net::Task<Result<bool>> AwsChunkedExchange::fill() {
  char buf[16384];
  auto got = co_await inner_.read(std::span<char>(buf, sizeof buf));
  if (!got.ok()) co_return got.error();
  pending_.append(buf, *got);
  co_return *got > 0;
}

net::Task<Result<size_t>> AwsChunkedExchange::read(std::span<char> buf) {
  while (!buf.empty()) {
    switch (state_) {
      case State::kDone:
        co_return size_t{0};
      case State::kData: {
        size_t want = static_cast<size_t>(std::min<uint64_t>(left_, buf.size()));
        size_t n = 0;
        if (!pending_.empty()) {
          n = std::min(want, pending_.size());
          pending_.copy(buf.data(), n);
          pending_.erase(0, n);
        } else {
          auto got = co_await inner_.read(buf.first(want));
          if (!got.ok()) co_return got.error();
          if (*got == 0) co_return malformed();
          n = *got;
        }
        left_ -= n;
        if (left_ == 0) state_ = State::kDataEnd;
        co_return n;
      }
      case State::kDataEnd: {
        while (pending_.size() < 2) {
          auto more = co_await fill();
          if (!more.ok()) co_return more.error();
          if (!*more) co_return malformed();
        }
        if (pending_.compare(0, 2, "\r\n") != 0) co_return malformed();
        pending_.erase(0, 2);
        state_ = State::kSize;
        break;
      }
      case State::kSize: {
        size_t eol;
        while ((eol = pending_.find("\r\n")) == std::string::npos) {
          if (pending_.size() > kMaxHeaderLine) co_return malformed();
          auto more = co_await fill();
          if (!more.ok()) co_return more.error();
          if (!*more) co_return malformed();
        }
        std::string line = pending_.substr(0, eol);
        pending_.erase(0, eol + 2);
        std::string hex = line.substr(0, line.find(';'));
        if (hex.empty() || hex.size() > 16) co_return malformed();
        uint64_t size = 0;
        for (char c : hex) {
          int d = (c >= '0' && c <= '9')   ? c - '0'
                  : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                  : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                           : -1;
          if (d < 0) co_return malformed();
          size = size * 16 + static_cast<uint64_t>(d);
        }
        if (size == 0) {
          state_ = State::kTrailer;
        } else {
          left_ = size;
          state_ = State::kData;
        }
        break;
      }
      case State::kTrailer: {
        // Trailer lines (checksums, the trailer signature) up to the end of the body.
        pending_.clear();
        while (true) {
          auto more = co_await fill();
          if (!more.ok()) co_return more.error();
          pending_.clear();
          if (!*more) break;
        }
        state_ = State::kDone;
        co_return size_t{0};
      }
    }
  }
  co_return size_t{0};
}

}  // namespace nubo::s3
