#include "services/s3/aws_chunked.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace nubo::s3 {
namespace {

namespace asio = boost::asio;

// Reads the whole decoded body of `encoded` through an AwsChunkedExchange, `step` bytes at a
// time; the error's code when decoding fails.
Result<std::string> decode(const std::string& encoded, size_t step) {
  net::Request req;
  req.set("content-encoding", "aws-chunked");
  req.body() = encoded;
  net::BufferedExchange inner(req);
  AwsChunkedExchange ex(inner);
  Result<std::string> out = std::string();
  asio::io_context io;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        std::string got;
        std::vector<char> buf(step);
        while (true) {
          auto n = co_await ex.read(std::span<char>(buf.data(), buf.size()));
          if (!n.ok()) {
            out = n.error();
            co_return;
          }
          if (*n == 0) break;
          got.append(buf.data(), *n);
        }
        EXPECT_TRUE(ex.body_done());
        out = got;
      },
      asio::detached);
  io.run();
  return out;
}

const std::string kSig = ";chunk-signature=" + std::string(64, 'a');

TEST(AwsChunkedTest, SignedChunksDecodeToTheirDataAtAnyReadSize) {
  std::string a(70000, 'x'), b = "tail";
  std::string encoded = "11170" + kSig + "\r\n" + a + "\r\n" + "4" + kSig + "\r\n" + b + "\r\n" +
                        "0" + kSig + "\r\n\r\n";
  for (size_t step : {1, 7, 4096, 1 << 20}) {
    auto got = decode(encoded, step);
    ASSERT_TRUE(got.ok()) << step << " " << got.error().message;
    EXPECT_EQ(*got, a + b) << step;
  }
}

TEST(AwsChunkedTest, UnsignedChunksWithATrailingChecksum) {
  std::string encoded = "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
  auto got = decode(encoded, 3);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "hello world");
  auto empty = decode("0\r\n\r\n", 16);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

TEST(AwsChunkedTest, MalformedOrCutShortEncodingsAreRefused) {
  for (const std::string& bad : {
           std::string("5\r\nhel"),                  // cut inside a chunk
           std::string("5\r\nhelloXX0\r\n\r\n"),     // no CRLF after the data
           std::string("zz\r\nhello\r\n0\r\n\r\n"),  // not a hex size
           std::string("5\r\nhello\r\n"),            // no final chunk
           std::string(300, '1'),                    // a size line that never ends
       }) {
    auto got = decode(bad, 4096);
    ASSERT_FALSE(got.ok()) << bad.substr(0, 40);
    EXPECT_EQ(got.error().code, "IncompleteBody");
    EXPECT_EQ(got.error().status, 400);
  }
}

TEST(AwsChunkedTest, RecognisedByPayloadHashOrContentEncoding) {
  net::Request req;
  EXPECT_TRUE(is_aws_chunked(req, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"));
  EXPECT_TRUE(is_aws_chunked(req, "STREAMING-UNSIGNED-PAYLOAD-TRAILER"));
  EXPECT_FALSE(is_aws_chunked(req, "UNSIGNED-PAYLOAD"));
  EXPECT_FALSE(is_aws_chunked(req, std::string(64, 'a')));
  req.set("content-encoding", "gzip, aws-chunked");
  EXPECT_TRUE(is_aws_chunked(req, "UNSIGNED-PAYLOAD"));
}

}  // namespace
}  // namespace nubo::s3
