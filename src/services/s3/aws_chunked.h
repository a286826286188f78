// AwsChunkedExchange: the body of an upload sent with `Content-Encoding: aws-chunked` (the
// x-amz-content-sha256 values STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] and
// STREAMING-UNSIGNED-PAYLOAD-TRAILER, which the AWS SDKs use for streamed bodies and
// trailing checksums), decoded as it is read [S3 API Reference, "Signature Calculations for the
// Authorization Header: Transferring Payload in Multiple Chunks"]:
//
//   <hex size>[;chunk-signature=<sig>]\r\n<size bytes>\r\n ... 0[;chunk-signature=<sig>]\r\n
//   [trailer lines]\r\n
//
// read() answers the chunks' data only; the final chunk's trailers are read and dropped. The
// chunk signatures are not verified (the request's seed signature is, by the front door).
//
// Threads: as the wrapped Exchange (one connection's io thread, sequential calls).
#pragma once

#include <string>

#include "net/exchange.h"

namespace nubo::s3 {

// Whether a request's body is aws-chunked (its signed payload hash, or its Content-Encoding).
bool is_aws_chunked(const net::Request& req, std::string_view payload_hash);

class AwsChunkedExchange final : public net::Exchange {
 public:
  // inner: borrowed; must outlive this.
  explicit AwsChunkedExchange(net::Exchange& inner) : inner_(inner) {}

  const net::Request& request() const override { return inner_.request(); }
  // The decoded bytes. IncompleteBody (400) for a malformed or cut-short encoding.
  net::Task<Result<size_t>> read(std::span<char> buf) override;
  bool body_done() const override { return state_ == State::kDone; }
  net::Task<Status> write_head(net::http::response_header<> head) override {
    return inner_.write_head(std::move(head));
  }
  net::Task<Status> write(std::string_view bytes) override { return inner_.write(bytes); }
  bool head_written() const override { return inner_.head_written(); }
  void abandon() override { inner_.abandon(); }

 private:
  enum class State { kSize, kData, kDataEnd, kTrailer, kDone };
  // Reads more raw bytes into pending_; false at the end of the raw body.
  net::Task<Result<bool>> fill();

  net::Exchange& inner_;
  State state_ = State::kSize;
  std::string pending_;  // raw bytes read but not yet decoded
  uint64_t left_ = 0;    // bytes of the current chunk's data still to come
};

}  // namespace nubo::s3
