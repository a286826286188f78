#include "services/s3/objects.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "base/ids.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
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
    // A multipart object's segments: a JSON array of [file, size] (its `file` is then ''); ''
    // for an object of one file.
    "ALTER TABLE s3_objects ADD COLUMN segments TEXT NOT NULL DEFAULT ''",
    // Object tagging: a JSON array of [key, value] pairs.
    "ALTER TABLE s3_objects ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'",
    "CREATE TABLE s3_uploads (upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT "
    "NULL, initiated_ms INTEGER NOT NULL, content_type TEXT NOT NULL, headers TEXT NOT NULL, tags "
    "TEXT NOT NULL)",
    "CREATE INDEX s3_uploads_by_key ON s3_uploads (bucket, key, initiated_ms)",
    "CREATE TABLE s3_parts (upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, size INTEGER "
    "NOT NULL, etag TEXT NOT NULL, last_modified_ms INTEGER NOT NULL, file TEXT NOT NULL, "
    "PRIMARY KEY (upload_id, part_number))",
    // The bucket's notification configuration (notifications.h's JSON), '' for none.
    "ALTER TABLE s3_buckets ADD COLUMN notification TEXT NOT NULL DEFAULT ''",
    // The bucket policy document as put, '' for none.
    "ALTER TABLE s3_buckets ADD COLUMN policy TEXT NOT NULL DEFAULT ''",
};

Error no_such_bucket() {
  return Error{"NoSuchBucket", 404, "The specified bucket does not exist"};
}

Error io_error(const std::string& what) {
  return internal_error(what + ": " + std::strerror(errno));
}

Error no_such_upload() {
  return Error{"NoSuchUpload", 404,
               "The specified upload does not exist. The upload ID may be invalid, or the upload "
               "may have been aborted or completed."};
}

std::string headers_json(const Pairs& headers) {
  json::array a;
  for (const auto& [k, v] : headers) a.push_back(json::array{json::value(k), json::value(v)});
  return json::serialize(a);
}

std::string segments_json(const std::vector<Segment>& segments) {
  json::array a;
  for (const Segment& s : segments) a.push_back(json::array{json::value(s.file), s.size});
  return json::serialize(a);
}

std::vector<Segment> segments_of(const std::string& text) {
  std::vector<Segment> out;
  auto parsed = parse_json(text);
  if (!parsed.ok() || !parsed->is_array()) return out;
  for (const auto& e : parsed->as_array()) {
    if (!e.is_array() || e.as_array().size() != 2) continue;
    const auto& pair = e.as_array();
    if (!pair[0].is_string() || !pair[1].is_int64()) continue;
    out.push_back(Segment{std::string(pair[0].as_string()), pair[1].as_int64()});
  }
  return out;
}

Pairs headers_of(const std::string& text) {
  Pairs out;
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
    "bucket, key, size, etag, last_modified_ms, content_type, headers, file, segments, tags";

ObjectInfo object_of(const storage::Row& r) {
  ObjectInfo o;
  o.bucket = r.text(0);
  o.key = r.text(1);
  o.size = r.integer(2);
  o.etag = r.text(3);
  o.last_modified_ms = r.integer(4);
  o.content_type = r.text(5);
  o.headers = headers_of(r.text(6));
  std::string segments = r.text(8);
  if (segments.empty()) {
    o.segments.push_back(Segment{r.text(7), o.size});
  } else {
    o.segments = segments_of(segments);
  }
  o.tags = headers_of(r.text(9));
  return o;
}

// The ETag as a client lists it in CompleteMultipartUpload: quotes optional, case ignored.
std::string bare_etag(std::string_view e) {
  e = trim(e);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return to_lower(e);
}

MultipartUpload upload_of(const storage::Row& r) {
  MultipartUpload u;
  u.upload_id = r.text(0);
  u.bucket = r.text(1);
  u.key = r.text(2);
  u.initiated_ms = r.integer(3);
  u.content_type = r.text(4);
  u.headers = headers_of(r.text(5));
  u.tags = headers_of(r.text(6));
  return u;
}

constexpr const char* kUploadColumns =
    "upload_id, bucket, key, initiated_ms, content_type, headers, tags";

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
                         std::string region, bool sync_files)
    : store_(store),
      root_(std::move(root)),
      clock_(clock),
      region_(std::move(region)),
      sync_files_(sync_files) {}

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
  NUBO_ASSIGN_OR_RETURN(auto rows, store_->query("SELECT file, segments FROM s3_objects"));
  std::set<std::string> named;
  for (const auto& r : rows) {
    named.insert(r.text(0));
    for (const Segment& seg : segments_of(r.text(1))) named.insert(seg.file);
  }
  NUBO_ASSIGN_OR_RETURN(auto parts, store_->query("SELECT file FROM s3_parts"));
  for (const auto& r : parts) named.insert(r.text(0));
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
  std::vector<std::string> orphans;
  Status st = store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(ensure_bucket(txn, name));
    NUBO_ASSIGN_OR_RETURN(auto rows,
                          txn.query("SELECT 1 FROM s3_objects WHERE bucket = ? LIMIT 1", {name}));
    if (!rows.empty()) {
      return Error{"BucketNotEmpty", 409, "The bucket you tried to delete is not empty"};
    }
    // Uploads in progress go with the bucket.
    NUBO_ASSIGN_OR_RETURN(auto parts,
                          txn.query("SELECT p.file FROM s3_parts p JOIN s3_uploads u ON "
                                    "p.upload_id = u.upload_id WHERE u.bucket = ?",
                                    {name}));
    for (const auto& r : parts) orphans.push_back(r.text(0));
    NUBO_TRY(
        txn.exec("DELETE FROM s3_parts WHERE upload_id IN (SELECT upload_id FROM s3_uploads "
                 "WHERE bucket = ?)",
                 {name}));
    NUBO_TRY(txn.exec("DELETE FROM s3_uploads WHERE bucket = ?", {name}));
    NUBO_TRY(txn.exec("DELETE FROM s3_buckets WHERE name = ?", {name}));
    return Ok{};
  });
  if (st.ok()) unlink_files(orphans);
  return st;
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

Result<std::string> ObjectStore::place(Upload& up) {
  if (sync_files_ && ::fsync(up.fd_) != 0) return io_error("cannot fsync an object");
  ::close(up.fd_);
  up.fd_ = -1;
  std::string file = random_hex(16);
  std::string final_path = root_ + "/objects/" + file;
  if (::rename(up.tmp_path_.c_str(), final_path.c_str()) != 0) {
    return io_error("cannot place an object");
  }
  up.committed_ = true;  // the file is no longer the upload's: from here it is a row's or junk
  if (sync_files_) {
    NUBO_TRY(storage::fsync_dir(root_ + "/objects"));
  }
  return file;
}

void ObjectStore::unlink_files(const std::vector<std::string>& files) const {
  for (const std::string& f : files) {
    if (!f.empty()) ::unlink((root_ + "/objects/" + f).c_str());
  }
}

namespace {

// Writes an object's row (replacing the one there) and returns the files the replaced one had.
Result<std::vector<std::string>> upsert_object(storage::Txn& txn, const ObjectInfo& meta) {
  std::vector<std::string> replaced;
  NUBO_ASSIGN_OR_RETURN(auto old, txn.query("SELECT file, segments FROM s3_objects WHERE bucket "
                                            "= ? AND key = ?",
                                            {meta.bucket, meta.key}));
  if (!old.empty()) {
    replaced.push_back(old[0].text(0));
    for (const Segment& s : segments_of(old[0].text(1))) replaced.push_back(s.file);
  }
  bool single = meta.segments.size() == 1;
  NUBO_TRY(txn.exec(
      "INSERT INTO s3_objects (bucket, key, size, etag, last_modified_ms, content_type, "
      "headers, file, segments, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (bucket, "
      "key) DO UPDATE SET size = excluded.size, etag = excluded.etag, last_modified_ms = "
      "excluded.last_modified_ms, content_type = excluded.content_type, headers = "
      "excluded.headers, file = excluded.file, segments = excluded.segments, tags = "
      "excluded.tags",
      {meta.bucket, meta.key, meta.size, meta.etag, meta.last_modified_ms, meta.content_type,
       headers_json(meta.headers), single ? meta.segments[0].file : std::string(),
       single ? std::string() : segments_json(meta.segments), headers_json(meta.tags)}));
  return replaced;
}

}  // namespace

Result<ObjectInfo> ObjectStore::commit(Upload& up, ObjectInfo meta, const std::string& etag_hex) {
  NUBO_ASSIGN_OR_RETURN(std::string file, place(up));
  meta.size = up.size_;
  meta.etag = etag_hex;
  meta.last_modified_ms = epoch_ms(clock_->now());
  meta.segments = {Segment{file, up.size_}};
  std::vector<std::string> replaced;
  Status st = store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(ensure_bucket(txn, meta.bucket));
    NUBO_ASSIGN_OR_RETURN(replaced, upsert_object(txn, meta));
    return Ok{};
  });
  if (!st.ok()) {
    unlink_files({file});
    return st.error();
  }
  unlink_files(replaced);
  return meta;
}

ObjectStore::Reader::~Reader() {
  for (int fd : fds_) {
    if (fd >= 0) ::close(fd);
  }
}

Result<size_t> ObjectStore::Reader::read_at(int64_t offset, char* buf, size_t n) {
  if (offset >= size_ || n == 0) return size_t{0};
  // The segment holding offset: the last one that starts at or before it.
  size_t i = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), offset) -
                                 starts_.begin() - 1);
  int64_t within = offset - starts_[i];
  size_t want =
      static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(n), segments_[i].size - within));
  while (true) {
    ssize_t got = ::pread(fds_[i], buf, want, static_cast<off_t>(within));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return io_error("cannot read an object");
    if (got == 0) return internal_error("an object's file is shorter than its size");
    return static_cast<size_t>(got);
  }
}

Result<std::optional<ObjectStore::Opened>> ObjectStore::open(const std::string& bucket,
                                                             const std::string& key) {
  // A file can vanish between the row's read and its open (the object was replaced): read the
  // row again then.
  for (int attempt = 0;; ++attempt) {
    NUBO_ASSIGN_OR_RETURN(auto info, head(bucket, key));
    if (!info) return std::optional<Opened>();
    auto reader = std::make_unique<Reader>();
    bool vanished = false;
    for (const Segment& s : info->segments) {
      int fd = ::open(path_of(s).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        if (errno != ENOENT) return io_error("cannot open an object");
        vanished = true;
        break;
      }
      reader->fds_.push_back(fd);
      reader->starts_.push_back(reader->size_);
      reader->segments_.push_back(s);
      reader->size_ += s.size;
    }
    if (vanished) {
      if (attempt < 3) continue;
      return internal_error("an object's file is missing");
    }
    return std::optional<Opened>(Opened{std::move(*info), std::move(reader)});
  }
}

Status ObjectStore::copy_into(Upload& up, Reader& from, int64_t first, int64_t length) {
  std::vector<char> buf(std::min<int64_t>(length, static_cast<int64_t>(kIoChunkBytes)));
  int64_t at = first, end = first + length;
  while (at < end) {
    size_t want = static_cast<size_t>(std::min<int64_t>(end - at, buf.size()));
    NUBO_ASSIGN_OR_RETURN(size_t got, from.read_at(at, buf.data(), want));
    if (got == 0) return internal_error("an object's file is shorter than its size");
    NUBO_TRY(append(up, std::string_view(buf.data(), got)));
    at += static_cast<int64_t>(got);
  }
  return Ok{};
}

Result<std::string> ObjectStore::notification(const std::string& bucket) {
  NUBO_ASSIGN_OR_RETURN(
      auto rows, store_->query("SELECT notification FROM s3_buckets WHERE name = ?", {bucket}));
  if (rows.empty()) return no_such_bucket();
  return rows[0].text(0);
}

Status ObjectStore::set_notification(const std::string& bucket, const std::string& config_json) {
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(
        int64_t changed,
        txn.exec("UPDATE s3_buckets SET notification = ? WHERE name = ?", {config_json, bucket}));
    if (changed == 0) return no_such_bucket();
    return Ok{};
  });
}

Result<std::string> ObjectStore::policy(const std::string& bucket) {
  NUBO_ASSIGN_OR_RETURN(auto rows,
                        store_->query("SELECT policy FROM s3_buckets WHERE name = ?", {bucket}));
  if (rows.empty()) return no_such_bucket();
  return rows[0].text(0);
}

Status ObjectStore::set_policy(const std::string& bucket, const std::string& document) {
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(
        int64_t changed,
        txn.exec("UPDATE s3_buckets SET policy = ? WHERE name = ?", {document, bucket}));
    if (changed == 0) return no_such_bucket();
    return Ok{};
  });
}

Status ObjectStore::set_tags(const std::string& bucket, const std::string& key, const Pairs& tags) {
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(ensure_bucket(txn, bucket));
    NUBO_ASSIGN_OR_RETURN(int64_t changed,
                          txn.exec("UPDATE s3_objects SET tags = ? WHERE bucket = ? AND key = ?",
                                   {headers_json(tags), bucket, key}));
    if (changed == 0) {
      return Error{"NoSuchKey", 404, "The specified key does not exist."};
    }
    return Ok{};
  });
}

// ------------------------------------------------------------------ multipart uploads

Result<MultipartUpload> ObjectStore::create_multipart(MultipartUpload meta) {
  // Upload ids: long, URL-safe, unguessable (S3's are opaque strings of this kind).
  meta.upload_id = random_hex(32);
  meta.initiated_ms = epoch_ms(clock_->now());
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(ensure_bucket(txn, meta.bucket));
    NUBO_TRY(txn.exec(
        std::string("INSERT INTO s3_uploads (") + kUploadColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?)",
        {meta.upload_id, meta.bucket, meta.key, meta.initiated_ms, meta.content_type,
         headers_json(meta.headers), headers_json(meta.tags)}));
    return Ok{};
  }));
  return meta;
}

Result<MultipartUpload> ObjectStore::multipart(const std::string& bucket, const std::string& key,
                                               const std::string& upload_id) {
  NUBO_ASSIGN_OR_RETURN(auto rows, store_->query(std::string("SELECT ") + kUploadColumns +
                                                     " FROM s3_uploads WHERE upload_id = ? AND "
                                                     "bucket = ? AND key = ?",
                                                 {upload_id, bucket, key}));
  if (rows.empty()) {
    NUBO_ASSIGN_OR_RETURN(auto b, this->bucket(bucket));
    if (!b) return no_such_bucket();
    return no_such_upload();
  }
  return upload_of(rows[0]);
}

namespace {

Status ensure_upload(storage::Txn& txn, const std::string& bucket, const std::string& key,
                     const std::string& upload_id) {
  NUBO_ASSIGN_OR_RETURN(auto rows, txn.query("SELECT 1 FROM s3_uploads WHERE upload_id = ? AND "
                                             "bucket = ? AND key = ?",
                                             {upload_id, bucket, key}));
  if (rows.empty()) return no_such_upload();
  return Ok{};
}

PartInfo part_of(const storage::Row& r) {
  return PartInfo{static_cast<int>(r.integer(0)), r.integer(1), r.text(2), r.integer(3), r.text(4)};
}

}  // namespace

Result<PartInfo> ObjectStore::commit_part(Upload& up, const std::string& bucket,
                                          const std::string& key, const std::string& upload_id,
                                          int part_number, const std::string& etag_hex) {
  NUBO_ASSIGN_OR_RETURN(std::string file, place(up));
  PartInfo part{part_number, up.size_, etag_hex, epoch_ms(clock_->now()), file};
  std::string replaced;
  Status st = store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(ensure_upload(txn, bucket, key, upload_id));
    NUBO_ASSIGN_OR_RETURN(
        auto old, txn.query("SELECT file FROM s3_parts WHERE upload_id = ? AND part_number = ?",
                            {upload_id, int64_t{part_number}}));
    if (!old.empty()) replaced = old[0].text(0);
    NUBO_TRY(txn.exec(
        "INSERT INTO s3_parts (upload_id, part_number, size, etag, last_modified_ms, file) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (upload_id, part_number) DO UPDATE SET size = "
        "excluded.size, etag = excluded.etag, last_modified_ms = excluded.last_modified_ms, "
        "file = excluded.file",
        {upload_id, int64_t{part_number}, part.size, part.etag, part.last_modified_ms, file}));
    return Ok{};
  });
  if (!st.ok()) {
    unlink_files({file});
    return st.error();
  }
  unlink_files({replaced});
  return part;
}

Result<std::pair<std::vector<PartInfo>, bool>> ObjectStore::parts(const std::string& bucket,
                                                                  const std::string& key,
                                                                  const std::string& upload_id,
                                                                  int after, int max_parts) {
  NUBO_TRY(multipart(bucket, key, upload_id));
  NUBO_ASSIGN_OR_RETURN(auto rows,
                        store_->query("SELECT part_number, size, etag, last_modified_ms, file FROM "
                                      "s3_parts WHERE upload_id = ? AND part_number > ? ORDER BY "
                                      "part_number LIMIT ?",
                                      {upload_id, int64_t{after}, int64_t{max_parts} + 1}));
  std::pair<std::vector<PartInfo>, bool> out;
  for (const auto& r : rows) out.first.push_back(part_of(r));
  if (out.first.size() > static_cast<size_t>(max_parts)) {
    out.first.pop_back();
    out.second = true;
  }
  return out;
}

Result<ObjectInfo> ObjectStore::complete_multipart(
    const std::string& bucket, const std::string& key, const std::string& upload_id,
    const std::vector<std::pair<int, std::string>>& listed) {
  if (listed.empty()) {
    return Error{"MalformedXML", 400,
                 "The XML you provided was not well-formed or did not validate against our "
                 "published schema"};
  }
  ObjectInfo meta;
  std::vector<std::string> replaced, unused;
  Status st = store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(ensure_bucket(txn, bucket));
    NUBO_ASSIGN_OR_RETURN(auto up, txn.query(std::string("SELECT ") + kUploadColumns +
                                                 " FROM s3_uploads WHERE upload_id = ? AND "
                                                 "bucket = ? AND key = ?",
                                             {upload_id, bucket, key}));
    if (up.empty()) return no_such_upload();
    MultipartUpload u = upload_of(up[0]);
    NUBO_ASSIGN_OR_RETURN(auto rows, txn.query("SELECT part_number, size, etag, "
                                               "last_modified_ms, file FROM s3_parts WHERE "
                                               "upload_id = ? ORDER BY part_number",
                                               {upload_id}));
    std::map<int, PartInfo> have;
    for (const auto& r : rows) {
      PartInfo p = part_of(r);
      have.emplace(p.part_number, std::move(p));
    }
    Md5Stream md5s;
    std::set<int> used;
    // The order first, then each part (S3 answers InvalidPartOrder for any list out of order).
    int previous = 0;
    for (const auto& [number, etag] : listed) {
      if (number <= previous) {
        return Error{"InvalidPartOrder", 400,
                     "The list of parts was not in ascending order. Parts must be ordered by "
                     "part number."};
      }
      previous = number;
    }
    for (size_t i = 0; i < listed.size(); ++i) {
      const auto& [number, etag] = listed[i];
      auto it = have.find(number);
      if (it == have.end() || bare_etag(etag) != it->second.etag) {
        return Error{"InvalidPart", 400,
                     "One or more of the specified parts could not be found.  The part may not "
                     "have been uploaded, or the specified entity tag may not match the part's "
                     "entity tag."};
      }
      if (i + 1 < listed.size() && it->second.size < static_cast<int64_t>(kMinPartBytes)) {
        return Error{"EntityTooSmall", 400,
                     "Your proposed upload is smaller than the minimum allowed object size."};
      }
      md5s.update(hex_decode(it->second.etag).value_or(""));
      meta.segments.push_back(Segment{it->second.file, it->second.size});
      meta.size += it->second.size;
      used.insert(number);
    }
    for (const auto& [number, p] : have) {
      if (!used.count(number)) unused.push_back(p.file);
    }
    meta.bucket = bucket;
    meta.key = key;
    meta.etag = hex_encode(md5s.finish()) + "-" + std::to_string(listed.size());
    meta.last_modified_ms = epoch_ms(clock_->now());
    meta.content_type = u.content_type;
    meta.headers = u.headers;
    meta.tags = u.tags;
    NUBO_ASSIGN_OR_RETURN(replaced, upsert_object(txn, meta));
    NUBO_TRY(txn.exec("DELETE FROM s3_parts WHERE upload_id = ?", {upload_id}));
    NUBO_TRY(txn.exec("DELETE FROM s3_uploads WHERE upload_id = ?", {upload_id}));
    return Ok{};
  });
  if (!st.ok()) return st.error();
  unlink_files(replaced);
  unlink_files(unused);
  return meta;
}

Status ObjectStore::abort_multipart(const std::string& bucket, const std::string& key,
                                    const std::string& upload_id) {
  std::vector<std::string> files;
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(ensure_bucket(txn, bucket));
    NUBO_TRY(ensure_upload(txn, bucket, key, upload_id));
    NUBO_ASSIGN_OR_RETURN(auto rows,
                          txn.query("SELECT file FROM s3_parts WHERE upload_id = ?", {upload_id}));
    for (const auto& r : rows) files.push_back(r.text(0));
    NUBO_TRY(txn.exec("DELETE FROM s3_parts WHERE upload_id = ?", {upload_id}));
    NUBO_TRY(txn.exec("DELETE FROM s3_uploads WHERE upload_id = ?", {upload_id}));
    return Ok{};
  }));
  unlink_files(files);
  return Ok{};
}

Result<UploadsPage> ObjectStore::uploads(const std::string& bucket, const UploadsQuery& q) {
  NUBO_ASSIGN_OR_RETURN(auto b, this->bucket(bucket));
  if (!b) return no_such_bucket();
  UploadsPage page;
  int max = std::max(0, std::min(q.max_uploads, kMaxKeys));
  // Uploads ordered by key, then by initiation (S3's order); a key marker with an upload id
  // marker resumes after that upload of the key, without one after every upload of the key.
  NUBO_ASSIGN_OR_RETURN(auto rows,
                        store_->query(std::string("SELECT ") + kUploadColumns +
                                          " FROM s3_uploads WHERE bucket = ? AND substr(key, 1, "
                                          "length(?)) = ? AND key >= ? ORDER BY key, initiated_ms, "
                                          "upload_id",
                                      {bucket, q.prefix, q.prefix, q.key_marker}));
  bool resuming = !q.upload_id_marker.empty();
  bool past_marker_upload = false;
  int count = 0;
  for (const auto& r : rows) {
    MultipartUpload u = upload_of(r);
    if (!q.key_marker.empty() && u.key == q.key_marker) {
      if (!resuming) continue;
      if (!past_marker_upload) {
        if (u.upload_id == q.upload_id_marker) past_marker_upload = true;
        continue;
      }
    }
    std::string_view rest = std::string_view(u.key).substr(q.prefix.size());
    size_t d = q.delimiter.empty() ? std::string_view::npos : rest.find(q.delimiter);
    std::string common;
    if (d != std::string_view::npos) {
      common = q.prefix + std::string(rest.substr(0, d + q.delimiter.size()));
      if (!page.common_prefixes.empty() && page.common_prefixes.back() == common) continue;
    }
    if (count == max) {
      page.truncated = true;
      break;
    }
    ++count;
    if (d != std::string_view::npos) {
      page.common_prefixes.push_back(common);
      page.next_key_marker = common;
      page.next_upload_id_marker.clear();
    } else {
      page.next_key_marker = u.key;
      page.next_upload_id_marker = u.upload_id;
      page.uploads.push_back(std::move(u));
    }
  }
  return page;
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
  std::vector<std::string> files;
  bool found = false;
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(ensure_bucket(txn, bucket));
    NUBO_ASSIGN_OR_RETURN(auto rows, txn.query("SELECT file, segments FROM s3_objects WHERE "
                                               "bucket = ? AND key = ?",
                                               {bucket, key}));
    if (rows.empty()) return Ok{};
    found = true;
    files.push_back(rows[0].text(0));
    for (const Segment& s : segments_of(rows[0].text(1))) files.push_back(s.file);
    NUBO_TRY(txn.exec("DELETE FROM s3_objects WHERE bucket = ? AND key = ?", {bucket, key}));
    return Ok{};
  }));
  unlink_files(files);
  return found;
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

std::string ObjectStore::path_of(const Segment& s) const {
  return root_ + "/objects/" + s.file;
}

}  // namespace nubo::s3
