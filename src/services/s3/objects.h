// ObjectStore: S3's logic layer (issue 5) — buckets and objects in the Store, object bytes in
// files under <root>/ (no HTTP types).
//
// Durability: an object's bytes go to a temporary file, are fsynced and renamed into
// <root>/objects/, and only then is its row committed; the answer follows the commit, so an
// acknowledged object survives kill -9. A crash between the rename and the commit leaves a file
// no row names, which start() removes; a replaced or deleted object's file is removed after
// its row's commit.
//
// Threads: every method blocks on the Store and the disk; call them on the blocking pool. An
// Upload is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/result.h"
#include "storage/store.h"

namespace nubo::s3 {

struct BucketInfo {
  std::string name;
  int64_t created_ms = 0;
  std::string region;
};

struct ObjectInfo {
  std::string bucket;
  std::string key;
  int64_t size = 0;
  std::string etag;  // lower-case hex MD5 (no quotes)
  int64_t last_modified_ms = 0;
  std::string content_type = "binary/octet-stream";
  // Headers stored with the object and returned by GET/HEAD: Content-Encoding,
  // Content-Disposition, Content-Language, Cache-Control, Expires and x-amz-meta-* (names
  // lower-cased).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string file;  // the bytes' file name under <root>/objects/
};

struct ListQuery {
  std::string prefix;
  std::string delimiter;
  std::string start_after;  // keys after this one (marker, StartAfter, a continuation token)
  int max_keys = 1000;
};

struct ListPage {
  std::vector<ObjectInfo> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_marker;  // the last key or common prefix of the page, when truncated
};

// S3's name rules; InvalidBucketName (400) when broken.
Status check_bucket_name(const std::string& name);

class ObjectStore {
 public:
  // root: the folder of object files (created by start()).
  ObjectStore(storage::Store* store, std::string root, const Clock* clock, std::string region);

  // Applies the schema, makes the folders, removes temporary files and files no row names.
  Status start();

  // BucketAlreadyOwnedByYou (409) when it exists (every bucket of a node is its account's).
  Result<BucketInfo> create_bucket(const std::string& name);
  // NoSuchBucket (404); BucketNotEmpty (409).
  Status delete_bucket(const std::string& name);
  Result<std::optional<BucketInfo>> bucket(const std::string& name);
  Result<std::vector<BucketInfo>> buckets();

  // An object being written: bytes appended to a temporary file, hashed as they come.
  class Upload {
   public:
    ~Upload();  // removes the temporary file unless it was committed
    int64_t size() const { return size_; }

   private:
    friend class ObjectStore;
    int fd_ = -1;
    std::string tmp_path_;
    Md5Stream md5_;
    Sha256Stream sha256_;
    int64_t size_ = 0;
    bool committed_ = false;
  };
  Result<std::unique_ptr<Upload>> begin_upload();
  Status append(Upload& up, std::string_view bytes);
  // The digests of what was appended (call once, before commit).
  struct Digests {
    std::string md5;         // raw 16 bytes
    std::string sha256_hex;  // lower-case hex
  };
  Digests finish(Upload& up);
  // Makes the upload the object meta.bucket/meta.key (replacing one there): fills size, etag,
  // last_modified and file. NoSuchBucket when the bucket is gone.
  Result<ObjectInfo> commit(Upload& up, ObjectInfo meta, const std::string& etag_hex);

  Result<std::optional<ObjectInfo>> head(const std::string& bucket, const std::string& key);
  // Whether it was there. NoSuchBucket for a missing bucket.
  Result<bool> remove(const std::string& bucket, const std::string& key);
  Result<ListPage> list(const std::string& bucket, const ListQuery& q);

  // The path of an object's bytes.
  std::string path_of(const ObjectInfo& o) const;

 private:
  Status ensure_bucket(storage::Txn& txn, const std::string& bucket);

  storage::Store* store_;
  std::string root_;
  const Clock* clock_;
  std::string region_;
};

}  // namespace nubo::s3
