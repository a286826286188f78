// ObjectStore: S3's logic layer (issue 5) — buckets and objects in the Store, object bytes in
// files under <root>/ (no HTTP types).
//
// Durability: an object's bytes go to a temporary file and are renamed into <root>/objects/,
// and only then is its row committed; the answer follows the commit, so an acknowledged object
// survives kill -9 (the bytes are in the OS before the row that names them). With sync_files
// (the node's strict mode) the file and the folder are fsynced before the commit too, so that
// a power loss does not lose them either; by default they are not, as the Store's WAL
// (synchronous=NORMAL) does not fsync each commit (DESIGN.md, "Rules that hold everywhere"). A
// crash between the rename and the commit leaves a file no row names, which start() removes; a
// replaced or deleted object's file is removed after its row's commit.
//
// Multipart uploads (CreateMultipartUpload ... CompleteMultipartUpload): each part is a file of
// its own, placed and committed as an object is, so a restart loses no completed part. Completing
// an upload is one transaction that turns the named parts' files into the object's segments (no
// byte is copied); the parts it does not name are removed after it.
//
// Threads: every method blocks on the Store and the disk; call them on the blocking pool. An
// Upload or a Reader is used by one thread at a time.
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

// A run of an object's bytes: one file (a PUT's whole object, or one part of a multipart one).
struct Segment {
  std::string file;  // under <root>/objects/
  int64_t size = 0;
};

using Pairs = std::vector<std::pair<std::string, std::string>>;

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
  Pairs headers;
  Pairs tags;                     // object tagging, in the order they were given
  std::vector<Segment> segments;  // the bytes, in order (one for a PUT, one per part)
};

struct MultipartUpload {
  std::string upload_id;
  std::string bucket;
  std::string key;
  int64_t initiated_ms = 0;
  std::string content_type = "binary/octet-stream";
  Pairs headers;
  Pairs tags;
};

struct PartInfo {
  int part_number = 0;
  int64_t size = 0;
  std::string etag;  // lower-case hex MD5 (no quotes)
  int64_t last_modified_ms = 0;
  std::string file;
};

struct UploadsQuery {
  std::string prefix;
  std::string delimiter;
  std::string key_marker;
  std::string upload_id_marker;
  int max_uploads = 1000;
};

struct UploadsPage {
  std::vector<MultipartUpload> uploads;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_key_marker;
  std::string next_upload_id_marker;
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
  ObjectStore(storage::Store* store, std::string root, const Clock* clock, std::string region,
              bool sync_files = false);

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
  // last_modified and segments. NoSuchBucket when the bucket is gone.
  Result<ObjectInfo> commit(Upload& up, ObjectInfo meta, const std::string& etag_hex);

  // An object's bytes, read at any offset. The files are opened when the Reader is made, so a
  // read goes on unharmed when the object is replaced or deleted meanwhile.
  class Reader {
   public:
    ~Reader();
    int64_t size() const { return size_; }
    // Up to n bytes from offset (fewer only at the end of a segment or the object; 0 at the end).
    Result<size_t> read_at(int64_t offset, char* buf, size_t n);

   private:
    friend class ObjectStore;
    std::vector<Segment> segments_;
    std::vector<int64_t> starts_;  // each segment's first offset
    std::vector<int> fds_;
    int64_t size_ = 0;
  };
  struct Opened {
    ObjectInfo info;
    std::unique_ptr<Reader> reader;
  };
  // The object and a Reader of its bytes as they are now; nullopt when there is none;
  // NoSuchBucket.
  Result<std::optional<Opened>> open(const std::string& bucket, const std::string& key);

  // Appends bytes [first, first + length) of `from` to an upload (CopyObject, UploadPartCopy).
  Status copy_into(Upload& up, Reader& from, int64_t first, int64_t length);

  // The bucket's notification configuration as stored (notification_config_json; "" when it
  // has none), and its replacement. NoSuchBucket.
  Result<std::string> notification(const std::string& bucket);
  Status set_notification(const std::string& bucket, const std::string& config_json);

  // The bucket's policy document as it was put ("" when it has none), and its replacement ("":
  // delete). NoSuchBucket.
  Result<std::string> policy(const std::string& bucket);
  Status set_policy(const std::string& bucket, const std::string& document);

  // Replaces an object's tags; NoSuchKey / NoSuchBucket.
  Status set_tags(const std::string& bucket, const std::string& key, const Pairs& tags);

  // ------------------------------------------------------------------ multipart uploads

  // NoSuchBucket. Fills upload_id and initiated_ms.
  Result<MultipartUpload> create_multipart(MultipartUpload meta);
  // NoSuchUpload (404) unless upload_id is an upload of bucket/key in progress.
  Result<MultipartUpload> multipart(const std::string& bucket, const std::string& key,
                                    const std::string& upload_id);
  // Makes the upload part `part_number` of upload_id (replacing one there). NoSuchUpload.
  Result<PartInfo> commit_part(Upload& up, const std::string& bucket, const std::string& key,
                               const std::string& upload_id, int part_number,
                               const std::string& etag_hex);
  // Parts in part-number order, after `after`; at most max_parts (plus whether more remain).
  Result<std::pair<std::vector<PartInfo>, bool>> parts(const std::string& bucket,
                                                       const std::string& key,
                                                       const std::string& upload_id, int after,
                                                       int max_parts);
  // Builds the object from the listed parts (part number, ETag as the client sent it, quotes
  // or not): InvalidPart, InvalidPartOrder, EntityTooSmall (a part but the last under 5 MiB),
  // NoSuchUpload, MalformedXML (no parts). The object's ETag is the MD5 of the parts' MD5s,
  // "-N".
  Result<ObjectInfo> complete_multipart(const std::string& bucket, const std::string& key,
                                        const std::string& upload_id,
                                        const std::vector<std::pair<int, std::string>>& listed);
  // NoSuchUpload.
  Status abort_multipart(const std::string& bucket, const std::string& key,
                         const std::string& upload_id);
  Result<UploadsPage> uploads(const std::string& bucket, const UploadsQuery& q);

  Result<std::optional<ObjectInfo>> head(const std::string& bucket, const std::string& key);
  // Whether it was there. NoSuchBucket for a missing bucket.
  Result<bool> remove(const std::string& bucket, const std::string& key);
  Result<ListPage> list(const std::string& bucket, const ListQuery& q);

  // The path of a segment's file.
  std::string path_of(const Segment& s) const;

 private:
  Status ensure_bucket(storage::Txn& txn, const std::string& bucket);
  // fsyncs the upload's file and renames it into objects/ under a new name, which it returns.
  Result<std::string> place(Upload& up);
  void unlink_files(const std::vector<std::string>& files) const;

  storage::Store* store_;
  std::string root_;
  const Clock* clock_;
  std::string region_;
  bool sync_files_;
};

}  // namespace nubo::s3
