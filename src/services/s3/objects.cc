#include "services/s3/objects.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "base/ids.h"
#include "base/json.h"
#include "base/log.h"
#include "services/s3/limits.h"
#include "storage/files.h"

namespace nubo::s3 {

namespace {

const std::vector<std::string> kSchema = {
    "CREATE TABLE s3_buckets (name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, region TEXT "
    "NOT NULL)",
    // One row per object; `headers` is a JSON array of [name, value] pairs.
    "CREATE TABLE s3_objects (bucket TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, "
    "etag TEXT NOT NULL, last_modified_ms INTEGER NOT NULL, content_type TEXT NOT NULL, headers "
    "TEXT NOT NULL, file TEXT NOT NULL, PRIMARY KEY (bucket, key))",
};

Error no_such_bucket() {
  return Error{"NoSuchBucket", 404, "The specified bucket does not exist"};
}

Error io_error(const std::string& what) {
  return internal_error(what + ": " + std::strerror(errno));
}

std::string headers_json(const std::vector<std::pair<std::string, std::string>>& headers) {
  json::array a;
  for (const auto& [k, v] : headers) a.push_back(json::array{json::value(k), json::value(v)});
  return json::serialize(a);
}

std::vector<std::pair<std::string, std::string>> headers_of(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  auto parsed = parse_json(text);
  if (!parsed.ok() || !parsed->is_array()) return out;
  for (const auto& e : parsed->as_array()) {
    if (!e.is_array() || e.as_array().size() != 2) continue;
    const auto& pair = e.as_array();
    if (!pair[0].is_string() || !pair[1].is_string()) continue;
    out.emplace_back(std::string(pair[0].as_string()), std::string(pair[1].as_string()));
  }
  return out;
}

constexpr const char* kObjectColumns =
    "bucket, key, size, etag, last_modified_ms, content_type, headers, file";

ObjectInfo object_of(const storage::Row& r) {
  ObjectInfo o;
  o.bucket = r.text(0);
  o.key = r.text(1);
  o.size = r.integer(2);
  o.etag = r.text(3);
  o.last_modified_ms = r.integer(4);
  o.content_type = r.text(5);
  o.headers = headers_of(r.text(6));
  o.file = r.text(7);
  return o;
}

bool is_ip_address(const std::string& s) {
  int dots = 0;
  for (char c : s) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

}  // namespace

Status check_bucket_name(const std::string& name) {
  auto bad = [&] { return Error{"InvalidBucketName", 400, "The specified bucket is not valid."}; };
  if (name.size() < kBucketNameMin || name.size() > kBucketNameMax) return bad();
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return bad();
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return bad();
  if (name.find("..") != std::string::npos || is_ip_address(name)) return bad();
  return Ok{};
}

ObjectStore::ObjectStore(storage::Store* store, std::string root, const Clock* clock,
                         std::string region)
    : store_(store), root_(std::move(root)), clock_(clock), region_(std::move(region)) {}

Status ObjectStore::start() {
  NUBO_TRY(store_->migrate("s3", kSchema));
  NUBO_TRY(storage::make_dirs(root_ + "/objects"));
  NUBO_TRY(storage::make_dirs(root_ + "/tmp"));
  // Temporary files are uploads that never finished; files no row names were renamed into
  // place by a commit that did not happen (a crash in between).
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(root_ + "/tmp", ec)) {
    std::filesystem::remove(e.path(), ec);
  }
  NUBO_ASSIGN_OR_RETURN(auto rows, store_->query("SELECT file FROM s3_objects"));
  std::set<std::string> named;
  for (const auto& r : rows) named.insert(r.text(0));
  for (const auto& e : std::filesystem::directory_iterator(root_ + "/objects", ec)) {
    if (!named.count(e.path().filename().string())) {
      log_info("s3: removing an object file no object names: " + e.path().string());
      std::filesystem::remove(e.path(), ec);
    }
  }
  return Ok{};
}

Result<BucketInfo> ObjectStore::create_bucket(const std::string& name) {
  NUBO_TRY(check_bucket_name(name));
  BucketInfo b{name, epoch_ms(clock_->now()), region_};
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(auto rows, txn.query("SELECT 1 FROM s3_buckets WHERE name = ?", {name}));
    if (!rows.empty()) {
      return Error{"BucketAlreadyOwnedByYou", 409,
                   "Your previous request to create the named bucket succeeded and you already "
                   "own it."};
    }
    NUBO_TRY(txn.exec("INSERT INTO s3_buckets (name, created_ms, region) VALUES (?, ?, ?)",
                      {name, b.created_ms, region_}));
    return Ok{};
  }));
  return b;
}

Status ObjectStore::delete_bucket(const std::string& name) {
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(ensure_bucket(txn, name));
    NUBO_ASSIGN_OR_RETURN(auto rows,
                          txn.query("SELECT 1 FROM s3_objects WHERE bucket = ? LIMIT 1", {name}));
    if (!rows.empty()) {
      return Error{"BucketNotEmpty", 409, "The bucket you tried to delete is not empty"};
    }
    NUBO_TRY(txn.exec("DELETE FROM s3_buckets WHERE name = ?", {name}));
    return Ok{};
  });
}

Result<std::optional<BucketInfo>> ObjectStore::bucket(const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(
      auto rows,
      store_->query("SELECT name, created_ms, region FROM s3_buckets WHERE name = ?", {name}));
  if (rows.empty()) return std::optional<BucketInfo>();
  return std::optional<BucketInfo>(
      BucketInfo{rows[0].text(0), rows[0].integer(1), rows[0].text(2)});
}

Result<std::vector<BucketInfo>> ObjectStore::buckets() {
  NUBO_ASSIGN_OR_RETURN(
      auto rows, store_->query("SELECT name, created_ms, region FROM s3_buckets ORDER BY name"));
  std::vector<BucketInfo> out;
  for (const auto& r : rows) out.push_back(BucketInfo{r.text(0), r.integer(1), r.text(2)});
  return out;
}

Status ObjectStore::ensure_bucket(storage::Txn& txn, const std::string& bucket) {
  NUBO_ASSIGN_OR_RETURN(auto rows, txn.query("SELECT 1 FROM s3_buckets WHERE name = ?", {bucket}));
  if (rows.empty()) return no_such_bucket();
  return Ok{};
}

ObjectStore::Upload::~Upload() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !tmp_path_.empty()) ::unlink(tmp_path_.c_str());
}

Result<std::unique_ptr<ObjectStore::Upload>> ObjectStore::begin_upload() {
  auto up = std::make_unique<Upload>();
  up->tmp_path_ = root_ + "/tmp/" + random_hex(16);
  up->fd_ = ::open(up->tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (up->fd_ < 0) return io_error("cannot create " + up->tmp_path_);
  return up;
}

Status ObjectStore::append(Upload& up, std::string_view bytes) {
  up.md5_.update(bytes);
  up.sha256_.update(bytes);
  while (!bytes.empty()) {
    ssize_t n = ::write(up.fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write an object");
    }
    bytes.remove_prefix(static_cast<size_t>(n));
    up.size_ += n;
  }
  return Ok{};
}

ObjectStore::Digests ObjectStore::finish(Upload& up) {
  Digests d;
  d.md5 = up.md5_.finish();
  d.sha256_hex = hex_encode(up.sha256_.finish());
  return d;
}

Result<ObjectInfo> ObjectStore::commit(Upload& up, ObjectInfo meta, const std::string& etag_hex) {
  if (::fsync(up.fd_) != 0) return io_error("cannot fsync an object");
  ::close(up.fd_);
  up.fd_ = -1;
  meta.size = up.size_;
  meta.etag = etag_hex;
  meta.last_modified_ms = epoch_ms(clock_->now());
  meta.file = random_hex(16);
  std::string final_path = root_ + "/objects/" + meta.file;
  if (::rename(up.tmp_path_.c_str(), final_path.c_str()) != 0) {
    return io_error("cannot place an object");
  }
  up.committed_ = true;  // the file is no longer the upload's: from here it is the row's or junk
  NUBO_TRY(storage::fsync_dir(root_ + "/objects"));
  std::string replaced;
  Status st = store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(ensure_bucket(txn, meta.bucket));
    NUBO_ASSIGN_OR_RETURN(auto old, txn.query("SELECT file FROM s3_objects WHERE bucket = ? AND "
                                              "key = ?",
                                              {meta.bucket, meta.key}));
    if (!old.empty()) replaced = old[0].text(0);
    NUBO_TRY(txn.exec(
        "INSERT INTO s3_objects (bucket, key, size, etag, last_modified_ms, content_type, "
        "headers, file) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (bucket, key) DO UPDATE SET "
        "size = excluded.size, etag = excluded.etag, last_modified_ms = excluded.last_modified_ms, "
        "content_type = excluded.content_type, headers = excluded.headers, file = excluded.file",
        {meta.bucket, meta.key, meta.size, meta.etag, meta.last_modified_ms, meta.content_type,
         headers_json(meta.headers), meta.file}));
    return Ok{};
  });
  if (!st.ok()) {
    ::unlink(final_path.c_str());
    return st.error();
  }
  if (!replaced.empty()) ::unlink((root_ + "/objects/" + replaced).c_str());
  return meta;
}

Result<std::optional<ObjectInfo>> ObjectStore::head(const std::string& bucket,
                                                    const std::string& key) {
  NUBO_ASSIGN_OR_RETURN(auto rows,
                        store_->query(std::string("SELECT ") + kObjectColumns +
                                          " FROM s3_objects WHERE bucket = ? AND key = ?",
                                      {bucket, key}));
  if (rows.empty()) {
    NUBO_ASSIGN_OR_RETURN(auto b, this->bucket(bucket));
    if (!b) return no_such_bucket();
    return std::optional<ObjectInfo>();
  }
  return std::optional<ObjectInfo>(object_of(rows[0]));
}

Result<bool> ObjectStore::remove(const std::string& bucket, const std::string& key) {
  std::string file;
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(ensure_bucket(txn, bucket));
    NUBO_ASSIGN_OR_RETURN(
        auto rows,
        txn.query("SELECT file FROM s3_objects WHERE bucket = ? AND key = ?", {bucket, key}));
    if (rows.empty()) return Ok{};
    file = rows[0].text(0);
    NUBO_TRY(txn.exec("DELETE FROM s3_objects WHERE bucket = ? AND key = ?", {bucket, key}));
    return Ok{};
  }));
  if (file.empty()) return false;
  ::unlink((root_ + "/objects/" + file).c_str());
  return true;
}

Result<ListPage> ObjectStore::list(const std::string& bucket, const ListQuery& q) {
  NUBO_ASSIGN_OR_RETURN(auto b, this->bucket(bucket));
  if (!b) return no_such_bucket();
  ListPage page;
  int max_keys = std::max(0, std::min(q.max_keys, kMaxKeys));
  // Keys in byte order (SQLite's BINARY collation is memcmp, as S3 orders UTF-8 keys), read in
  // batches; a run of keys under one common prefix counts once.
  std::string after = q.start_after;
  if (!q.prefix.empty() && after < q.prefix) after = "";
  int count = 0;
  constexpr int kBatch = 1000;
  while (true) {
    NUBO_ASSIGN_OR_RETURN(
        auto rows,
        store_->query(std::string("SELECT ") + kObjectColumns +
                          " FROM s3_objects WHERE bucket = ? AND key > ? AND key >= ? AND "
                          "substr(key, 1, length(?)) = ? ORDER BY key LIMIT ?",
                      {bucket, after, q.prefix, q.prefix, q.prefix, int64_t{kBatch}}));
    for (const auto& r : rows) {
      ObjectInfo o = object_of(r);
      after = o.key;
      std::string_view rest = std::string_view(o.key).substr(q.prefix.size());
      size_t d = q.delimiter.empty() ? std::string_view::npos : rest.find(q.delimiter);
      std::string common;
      if (d != std::string_view::npos) {
        common = q.prefix + std::string(rest.substr(0, d + q.delimiter.size()));
        if (!page.common_prefixes.empty() && page.common_prefixes.back() == common) continue;
        if (!q.start_after.empty() && common <= q.start_after) continue;
      }
      if (count == max_keys) {
        page.truncated = true;
        return page;
      }
      ++count;
      if (d != std::string_view::npos) {
        page.common_prefixes.push_back(common);
        page.next_marker = common;
      } else {
        page.next_marker = o.key;
        page.objects.push_back(std::move(o));
      }
    }
    if (rows.size() < static_cast<size_t>(kBatch)) break;
  }
  return page;
}

std::string ObjectStore::path_of(const ObjectInfo& o) const {
  return root_ + "/objects/" + o.file;
}

}  // namespace nubo::s3
