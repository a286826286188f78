// S3Service: the S3 API (REST-XML, path style and virtual-host style) over an Exchange, so that
// object bodies stream between the socket and the disk a chunk at a time (issue 5).
//
// Served: ListBuckets, CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation,
// GetBucketVersioning; PutObject (Content-MD5 and x-amz-content-sha256 checked as the bytes
// arrive), GetObject (Range, If-Match / If-None-Match / If-Modified-Since /
// If-Unmodified-Since), HeadObject, DeleteObject, DeleteObjects, CopyObject (metadata and
// tagging directives, x-amz-copy-source-if-*), ListObjects, ListObjectsV2, ListObjectVersions
// (unversioned buckets: one "null" version per object); multipart uploads (Create, UploadPart,
// UploadPartCopy, Complete, Abort, ListParts, ListMultipartUploads); object tagging (Put, Get,
// Delete, x-amz-tagging on PUT); Put/GetBucketNotificationConfiguration, with ObjectCreated
// (Put, Copy, CompleteMultipartUpload) and ObjectRemoved:Delete events delivered to Lambda
// functions as asynchronous invocations, queued before the request that caused them is
// answered. Every action is authorised with its IAM name (s3:PutObject on
// arn:aws:s3:::bucket/key, ...). Anything else answers NotImplemented.
//
// Threads: handle() runs on the connection's io thread; Store and disk work goes to the
// blocking pool.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <string>

#include "auth/authorize.h"
#include "base/clock.h"
#include "net/exchange.h"
#include "services/s3/objects.h"
#include "storage/store.h"

namespace nubo::s3 {

struct S3Deps {
  storage::Store* store = nullptr;
  const Clock* clock = nullptr;
  boost::asio::thread_pool* blocking = nullptr;
  std::string root;  // <data_dir>/s3
  std::string region = "us-east-1";
  bool sync_files = false;  // fsync object files before their commit (ObjectStore)

  // Bucket notifications to Lambda functions. may_invoke: whether the function's resource
  // policy lets s3.amazonaws.com invoke it for this bucket (aws:SourceArn the bucket's ARN,
  // aws:SourceAccount the account), or ResourceNotFoundException; it may block, and is called
  // on the blocking pool. invoke_async: queues an asynchronous invocation durably (Ok once it
  // is stored); called on an io thread. Unset: a configuration naming a function is refused.
  std::function<Result<bool>(const std::string& function_arn, const std::string& bucket_arn,
                             const std::string& account_id)>
      may_invoke;
  // `trace`: the X-Amzn-Trace-Id of the request that caused the event (recursion detection).
  std::function<net::Task<Status>(std::string function_arn, std::string event, std::string trace)>
      invoke_async;
  // Bucket notifications to SQS queues. may_send: whether the queue exists and its policy lets
  // s3.amazonaws.com send to it for this bucket (the same keys), or QueueDoesNotExist; blocking,
  // called on the blocking pool. send: sends the event as a message (Ok once it is stored);
  // called on an io thread. Unset: a configuration naming a queue is refused.
  std::function<Result<bool>(const std::string& queue_arn, const std::string& bucket_arn,
                             const std::string& account_id)>
      may_send;
  std::function<net::Task<Status>(std::string queue_arn, std::string event)> send;
};

// The bucket a Host header names in virtual-host style ("bucket.s3.<anything>",
// "bucket.localhost"), or "" for path style.
std::string virtual_host_bucket(std::string_view host_header);

class S3Service {
 public:
  explicit S3Service(S3Deps deps);
  ~S3Service();

  Status start();  // the schema and the object folder (ObjectStore::start)

  // Answers one S3 request. payload_hash: the x-amz-content-sha256 the signature covered (a
  // hex digest is checked against the body as it is read), or "" / UNSIGNED-PAYLOAD.
  net::Task<void> handle(net::Exchange& ex, const auth::Caller& caller, std::string payload_hash);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nubo::s3
