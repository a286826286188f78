#include "services/lambda/code_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "base/ids.h"
#include "services/lambda/limits.h"
#include "storage/files.h"

namespace nubo::lambda {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kUnzipMessage =
    "Could not unzip uploaded file. Please check your file, then try to upload again.";

Error unzip_error() {
  return invalid_parameter(std::string(kUnzipMessage));
}

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
using ZipPtr = std::unique_ptr<zip_t, ZipCloser>;

Result<ZipPtr> open_zip(std::string_view data) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* src = zip_source_buffer_create(data.data(), data.size(), 0, &error);
  if (src == nullptr) {
    zip_error_fini(&error);
    return unzip_error();
  }
  zip_t* za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  zip_error_fini(&error);
  if (za == nullptr) {
    zip_source_free(src);
    return unzip_error();
  }
  return ZipPtr(za);
}

// A relative path without "." / ".." components (after dropping a trailing '/').
bool safe_entry_name(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.find('\0') != std::string_view::npos) {
    return false;
  }
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(start, end - start);
    if (part == "..") return false;
    start = end + 1;
  }
  return true;
}

Error io_error(const std::string& what, const std::string& path) {
  return internal_error(what + " " + path + ": " + std::strerror(errno));
}

Status write_entry(zip_t* za, zip_uint64_t index, uint64_t size, const std::string& path,
                   mode_t mode) {
  zip_file_t* zf = zip_fopen_index(za, index, 0);
  if (zf == nullptr) return unzip_error();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    zip_fclose(zf);
    return io_error("create", path);
  }
  std::vector<char> buf(64 * 1024);
  uint64_t total = 0;
  Status st;
  while (true) {
    zip_int64_t n = zip_fread(zf, buf.data(), buf.size());
    if (n < 0) {
      st = unzip_error();
      break;
    }
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
    if (total > size) {  // more data than the header declared
      st = unzip_error();
      break;
    }
    size_t off = 0;
    while (off < static_cast<size_t>(n)) {
      ssize_t w = ::write(fd, buf.data() + off, static_cast<size_t>(n) - off);
      if (w < 0) {
        if (errno == EINTR) continue;
        st = io_error("write", path);
        break;
      }
      off += static_cast<size_t>(w);
    }
    if (!st.ok()) break;
  }
  zip_fclose(zf);
  if (st.ok() && ::fchmod(fd, mode) != 0) st = io_error("chmod", path);
  ::close(fd);
  return st;
}

}  // namespace

Result<ZipInfo> inspect_zip(std::string_view data) {
  NUBO_ASSIGN_OR_RETURN(ZipPtr za, open_zip(data));
  ZipInfo info;
  zip_int64_t n = zip_get_num_entries(za.get(), 0);
  if (n < 0) return unzip_error();
  info.entries = n;
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za.get(), static_cast<zip_uint64_t>(i), 0, &st) != 0) return unzip_error();
    if (!(st.valid & ZIP_STAT_NAME) || !safe_entry_name(st.name)) return unzip_error();
    if (st.valid & ZIP_STAT_SIZE) info.unzipped_size += static_cast<int64_t>(st.size);
  }
  if (info.unzipped_size >= kCodeSizeUnzipped) {
    return invalid_parameter("Unzipped size must be smaller than " +
                             std::to_string(kCodeSizeUnzipped) + " bytes");
  }
  return info;
}

Status unpack_zip(std::string_view data, const std::string& dest) {
  NUBO_ASSIGN_OR_RETURN(ZipPtr za, open_zip(data));
  std::string tmp = dest + ".tmp-" + random_hex(6);
  NUBO_TRY(storage::make_dirs(tmp));
  ::chmod(tmp.c_str(), 0755);
  auto fail = [&](Error e) -> Status {
    (void)storage::remove_all(tmp);
    return e;
  };
  zip_int64_t n = zip_get_num_entries(za.get(), 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_uint64_t idx = static_cast<zip_uint64_t>(i);
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za.get(), idx, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME)) {
      return fail(unzip_error());
    }
    std::string_view name = st.name;
    if (!safe_entry_name(name)) return fail(unzip_error());
    zip_uint8_t opsys = 0;
    zip_uint32_t attr = 0;
    zip_file_get_external_attributes(za.get(), idx, 0, &opsys, &attr);
    mode_t unix_mode = opsys == ZIP_OPSYS_UNIX ? static_cast<mode_t>(attr >> 16) : 0;
    bool is_dir = name.back() == '/' || S_ISDIR(unix_mode);
    std::string path = tmp + "/" + std::string(name);
    if (is_dir) {
      if (auto s = storage::make_dirs(path); !s.ok()) return fail(std::move(s).error());
      ::chmod(path.c_str(), 0755);
      continue;
    }
    if (S_ISLNK(unix_mode)) continue;  // links could point outside the package
    std::string parent = fs::path(path).parent_path().string();
    if (auto s = storage::make_dirs(parent); !s.ok()) return fail(std::move(s).error());
    mode_t mode = unix_mode & 0777;
    if (mode == 0) {
      mode = fs::path(path).filename() == "bootstrap" ? 0755 : 0644;
    }
    mode |= 0444;
    if (mode & 0111) mode |= 0555;
    mode &= ~static_cast<mode_t>(0022);
    uint64_t size = (st.valid & ZIP_STAT_SIZE) ? st.size : 0;
    if (auto s = write_entry(za.get(), idx, size, path, mode); !s.ok()) {
      return fail(std::move(s).error());
    }
  }
  if (::rename(tmp.c_str(), dest.c_str()) != 0) {
    if (errno == EEXIST || errno == ENOTEMPTY) {  // unpacked meanwhile: same content
      (void)storage::remove_all(tmp);
      return Ok{};
    }
    Error e = io_error("rename", tmp);
    (void)storage::remove_all(tmp);
    return e;
  }
  return Ok{};
}

std::string CodeStore::zip_path(std::string_view hex) const {
  return root_ + "/code/" + std::string(hex) + ".zip";
}

std::string CodeStore::unpacked_dir(std::string_view hex) const {
  return root_ + "/unpacked/" + std::string(hex);
}

Status CodeStore::put(std::string_view hex, std::string_view data) const {
  std::error_code ec;
  std::string zip = zip_path(hex);
  if (!fs::exists(zip, ec)) NUBO_TRY(storage::write_file_atomic(zip, data));
  std::string dir = unpacked_dir(hex);
  if (!fs::exists(dir, ec)) {
    NUBO_TRY(storage::make_dirs(root_ + "/unpacked"));
    NUBO_TRY(unpack_zip(data, dir));
  }
  return Ok{};
}

Status CodeStore::ensure_unpacked(std::string_view hex) const {
  std::error_code ec;
  std::string dir = unpacked_dir(hex);
  if (fs::exists(dir, ec)) return Ok{};
  NUBO_ASSIGN_OR_RETURN(std::string data, storage::read_file(zip_path(hex)));
  NUBO_TRY(storage::make_dirs(root_ + "/unpacked"));
  return unpack_zip(data, dir);
}

Status CodeStore::remove(std::string_view hex) const {
  NUBO_TRY(storage::remove_all(unpacked_dir(hex)));
  return storage::remove_all(zip_path(hex));
}

void CodeStore::clean_temporaries() const {
  std::error_code ec;
  for (const char* sub : {"/unpacked", "/code"}) {
    fs::directory_iterator it(root_ + sub, ec);
    if (ec) continue;
    for (const auto& entry : it) {
      if (entry.path().filename().string().find(".tmp-") != std::string::npos) {
        (void)storage::remove_all(entry.path().string());
      }
    }
  }
}

}  // namespace nubo::lambda
