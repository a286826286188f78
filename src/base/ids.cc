#include "base/ids.h"

#include <array>
#include <cstdint>
#include <random>

#include "base/crypto.h"

namespace nubo {

namespace {
// Request ids need uniqueness, not secrecy: a per-thread generator seeded from the OS avoids a
// syscall per id on the hot invoke path.
std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng([] {
    std::string seed = random_bytes(8);
    uint64_t s = 0;
    for (char c : seed) s = (s << 8) | static_cast<unsigned char>(c);
    return s;
  }());
  return rng;
}
}  // namespace

std::string new_uuid() {
  auto& rng = thread_rng();
  uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  std::array<uint8_t, 16> b{};
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
  for (int i = 0; i < 8; ++i) b[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  std::string hex = hex_encode(std::string_view(reinterpret_cast<const char*>(b.data()), 16));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

std::string random_hex(size_t n_bytes) {
  return hex_encode(random_bytes(n_bytes));
}

}  // namespace nubo
