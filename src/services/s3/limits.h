// S3's limits and fixed values, with their sources.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nubo::s3 {

// Bucket names: 3–63 characters of lower-case letters, digits, '.' and '-', beginning and ending
// with a letter or digit, not an IP address [S3 User Guide, "Bucket naming rules"].
inline constexpr size_t kBucketNameMin = 3;
inline constexpr size_t kBucketNameMax = 63;
// Object keys: up to 1,024 bytes of UTF-8 [S3 User Guide, "Naming Amazon S3 objects"].
inline constexpr size_t kKeyMaxBytes = 1024;
// A single PUT: up to 5 GiB [S3 API Reference, PutObject].
inline constexpr uint64_t kMaxPutBytes = 5ull * 1024 * 1024 * 1024;
// User metadata (x-amz-meta-*): names and values together at most 2 KB [S3 User Guide,
// "Working with object metadata"].
inline constexpr size_t kUserMetadataMaxBytes = 2 * 1024;
// ListObjects / ListObjectsV2: at most 1,000 keys per page, the default too.
inline constexpr int kMaxKeys = 1000;
// DeleteObjects: at most 1,000 keys per request.
inline constexpr size_t kMaxDeleteKeys = 1000;
// Multipart upload: part numbers 1–10,000, each part 5 MiB to 5 GiB except the last, which may
// be smaller [S3 User Guide, "Amazon S3 multipart upload limits"].
inline constexpr int kMaxPartNumber = 10000;
inline constexpr uint64_t kMinPartBytes = 5ull * 1024 * 1024;
inline constexpr uint64_t kMaxPartBytes = 5ull * 1024 * 1024 * 1024;
// ListParts / ListMultipartUploads: at most 1,000 per page, the default too.
inline constexpr int kMaxParts = 1000;
// CopyObject: a source of up to 5 GiB in one request [S3 API Reference, CopyObject].
inline constexpr uint64_t kMaxCopyBytes = 5ull * 1024 * 1024 * 1024;
// Object tagging: up to 10 tags, keys up to 128 and values up to 256 Unicode characters
// [S3 User Guide, "Categorizing your storage using tags"].
inline constexpr size_t kMaxObjectTags = 10;
inline constexpr size_t kMaxTagKeyChars = 128;
inline constexpr size_t kMaxTagValueChars = 256;
// Bucket policies: at most 20 KB [S3 API Reference, PutBucketPolicy].
inline constexpr size_t kMaxBucketPolicyBytes = 20 * 1024;
// A PUT of at most this many bytes is read whole before it is written (one trip to the disk);
// a GET of an object this small reads it with its row and answers in one write.
inline constexpr uint64_t kSmallObjectBytes = 1024 * 1024;
inline constexpr uint64_t kInlineGetBytes = 64 * 1024;
// Bytes read from the client or a file per step of a streamed body.
inline constexpr size_t kIoChunkBytes = 1024 * 1024;

inline constexpr std::string_view kXmlns = "http://s3.amazonaws.com/doc/2006-03-01/";

}  // namespace nubo::s3
