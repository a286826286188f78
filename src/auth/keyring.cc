#include "auth/keyring.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "base/check.h"
#include "base/crypto.h"

namespace nubo::auth {

namespace {

std::optional<std::string> parse_key_text(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  if (text.size() == 2 * kMasterKeySize) {
    std::string out;
    for (size_t i = 0; i < text.size(); i += 2) {
      auto nib = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      int hi = nib(text[i]), lo = nib(text[i + 1]);
      if (hi < 0 || lo < 0) {
        out.clear();
        break;
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
    }
    if (out.size() == kMasterKeySize) return out;
  }
  auto decoded = base64_decode(text);
  if (decoded && decoded->size() == kMasterKeySize) return decoded;
  return std::nullopt;
}

}  // namespace

Keyring::Keyring(std::string master) : master_(std::move(master)) {
  NUBO_CHECK(master_.size() == kMasterKeySize);
  wrap_key_ = subkey("wrap");
}

Result<Keyring> Keyring::open(const std::string& key_file, std::string_view env_value) {
  if (!env_value.empty()) {
    auto key = parse_key_text(env_value);
    if (!key) return internal_error("NUBO_MASTER_KEY must be 64 hex digits or base64 of 32 bytes");
    return Keyring(std::move(*key));
  }
  int fd = ::open(key_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    // First start: a new key, written whole under a temporary name and renamed, so a crash
    // leaves either no key file or a complete one.
    std::string tmp = key_file + ".tmp";
    ::unlink(tmp.c_str());  // a leftover of a crash; O_EXCL below refuses anything else there
    int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) return internal_error("cannot create " + tmp + ": " + std::strerror(errno));
    std::string text = hex_encode(random_bytes(kMasterKeySize)) + "\n";
    bool ok = ::write(out, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
              ::fsync(out) == 0;
    ::close(out);
    if (!ok || ::rename(tmp.c_str(), key_file.c_str()) != 0) {
      return internal_error("cannot write " + key_file + ": " + std::strerror(errno));
    }
    // The rename itself is durable only once the directory is.
    std::string dir = key_file.substr(0, key_file.find_last_of('/') + 1);
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
    fd = ::open(key_file.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) return internal_error("cannot open " + key_file + ": " + std::strerror(errno));
  char buf[256];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n <= 0) return internal_error("cannot read " + key_file);
  auto key = parse_key_text(std::string_view(buf, static_cast<size_t>(n)));
  if (!key) return internal_error(key_file + " does not hold a 32-byte key");
  return Keyring(std::move(*key));
}

std::string Keyring::subkey(std::string_view purpose) const {
  return hmac_sha256(master_, "nubo/" + std::string(purpose));
}

std::string Keyring::new_data_key() {
  return random_bytes(kAeadKeySize);
}

std::string Keyring::wrap(std::string_view data_key, std::string_view context) const {
  return aes256gcm_seal(wrap_key_, data_key, context);
}

Result<std::string> Keyring::unwrap(std::string_view wrapped, std::string_view context) const {
  auto key = aes256gcm_open(wrap_key_, wrapped, context);
  if (!key || key->size() != kAeadKeySize) {
    return internal_error("a data key does not open with this node's master key");
  }
  return std::move(*key);
}

std::string Keyring::seal(std::string_view plaintext, std::string_view context) const {
  std::string data_key = new_data_key();
  std::string wrapped = wrap(data_key, context);
  std::string out;
  out.push_back(static_cast<char>((wrapped.size() >> 8) & 0xff));
  out.push_back(static_cast<char>(wrapped.size() & 0xff));
  out += wrapped;
  out += aes256gcm_seal(data_key, plaintext, context);
  return out;
}

Result<std::string> Keyring::open_sealed(std::string_view sealed, std::string_view context) const {
  if (sealed.size() < 2) return internal_error("a sealed value is truncated");
  size_t n = (static_cast<unsigned char>(sealed[0]) << 8) | static_cast<unsigned char>(sealed[1]);
  if (sealed.size() < 2 + n) return internal_error("a sealed value is truncated");
  NUBO_ASSIGN_OR_RETURN(std::string data_key, unwrap(sealed.substr(2, n), context));
  auto plain = aes256gcm_open(data_key, sealed.substr(2 + n), context);
  if (!plain) return internal_error("a sealed value does not open with its data key");
  return std::move(*plain);
}

}  // namespace nubo::auth
