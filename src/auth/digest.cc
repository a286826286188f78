#include "auth/digest.h"

#include <openssl/evp.h>

#include <array>
#include <cstring>

#include "base/check.h"

namespace nubo::auth {

namespace {

// The SHA-256 implementation, fetched from the default provider once for the process. Immutable
// and shared by all threads (OpenSSL allows concurrent use of a fetched EVP_MD); never freed.
const EVP_MD* sha256_md() {
  static const EVP_MD* md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    NUBO_CHECK(m != nullptr);
    return m;
  }();
  return md;
}

// One digest context per thread, reused by every call on that thread.
class ThreadContext {
 public:
  ThreadContext() : ctx_(EVP_MD_CTX_new()) { NUBO_CHECK(ctx_ != nullptr); }
  ~ThreadContext() { EVP_MD_CTX_free(ctx_); }
  ThreadContext(const ThreadContext&) = delete;
  ThreadContext& operator=(const ThreadContext&) = delete;

  void init() { NUBO_CHECK(EVP_DigestInit_ex2(ctx_, sha256_md(), nullptr) == 1); }
  void update(const void* data, size_t n) { NUBO_CHECK(EVP_DigestUpdate(ctx_, data, n) == 1); }
  Sha256Digest finish() {
    Sha256Digest out{};
    unsigned int len = 0;
    NUBO_CHECK(EVP_DigestFinal_ex(ctx_, out.data(), &len) == 1 && len == out.size());
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

ThreadContext& context() {
  thread_local ThreadContext ctx;
  return ctx;
}

constexpr size_t kBlockSize = 64;  // SHA-256's block size, as HMAC pads the key to it

}  // namespace

Sha256Digest fast_sha256(std::string_view data) {
  ThreadContext& ctx = context();
  ctx.init();
  ctx.update(data.data(), data.size());
  return ctx.finish();
}

void append_sha256_hex(std::string& out, std::string_view data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  Sha256Digest d = fast_sha256(data);
  for (uint8_t b : d) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
}

Sha256Digest fast_hmac_sha256(std::string_view key, std::string_view data) {
  std::array<uint8_t, kBlockSize> k{};
  if (key.size() > kBlockSize) {
    Sha256Digest hashed = fast_sha256(key);
    std::memcpy(k.data(), hashed.data(), hashed.size());
  } else {
    std::memcpy(k.data(), key.data(), key.size());
  }
  std::array<uint8_t, kBlockSize> pad;
  for (size_t i = 0; i < kBlockSize; ++i) pad[i] = k[i] ^ 0x36;
  ThreadContext& ctx = context();
  ctx.init();
  ctx.update(pad.data(), pad.size());
  ctx.update(data.data(), data.size());
  Sha256Digest inner = ctx.finish();
  for (size_t i = 0; i < kBlockSize; ++i) pad[i] = k[i] ^ 0x5c;
  ctx.init();
  ctx.update(pad.data(), pad.size());
  ctx.update(inner.data(), inner.size());
  return ctx.finish();
}

}  // namespace nubo::auth
