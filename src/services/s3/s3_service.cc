#include "services/s3/s3_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <pugixml.hpp>
#include <set>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "auth/policy.h"
#include "base/crypto.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "net/async.h"
#include "net/protocol.h"
#include "services/s3/aws_chunked.h"
#include "services/s3/limits.h"
#include "services/s3/notifications.h"

namespace nubo::s3 {

namespace http = net::http;
using net::xml_escape;

std::string virtual_host_bucket(std::string_view host_header) {
  std::string host(host_header);
  if (!host.empty() && host.front() == '[') {
    return "";  // an IPv6 literal: no bucket in it
  }
  if (size_t colon = host.rfind(':'); colon != std::string::npos) host = host.substr(0, colon);
  if (size_t at = host.find(".s3."); at != std::string::npos && at > 0) return host.substr(0, at);
  if (ends_with(host, ".localhost") && host.find(".lambda-url.") == std::string::npos &&
      host.find(".execute-api.") == std::string::npos && host != "s3.localhost") {
    return host.substr(0, host.size() - std::string_view(".localhost").size());
  }
  return "";
}

namespace {

// What a request names: the bucket and key (path style "/bucket/key", or virtual-host style
// "bucket.s3.<anything>" / "bucket.localhost"), and its subresource parameters.
struct Named {
  std::string bucket;
  std::string key;
  net::Target target;
};

Named name_of(const net::Request& req) {
  Named n;
  n.target = net::parse_target(req.target());
  std::string host_bucket = virtual_host_bucket(net::header(req, "host"));
  std::string_view path = n.target.path;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!host_bucket.empty()) {
    n.bucket = host_bucket;
    n.key = std::string(path);
  } else {
    size_t slash = path.find('/');
    n.bucket = std::string(path.substr(0, slash));
    if (slash != std::string_view::npos) n.key = std::string(path.substr(slash + 1));
  }
  return n;
}

}  // namespace

struct S3Service::Impl {
  explicit Impl(S3Deps d)
      : deps(std::move(d)),
        objects(deps.store, deps.root, deps.clock, deps.region, deps.sync_files) {}

  S3Deps deps;
  ObjectStore objects;

  template <typename Fn>
  auto blocking(Fn fn) {
    return net::run_blocking(*deps.blocking, std::move(fn));
  }

  // ------------------------------------------------------------------ answers

  static net::Response base_response(const net::Request& req, http::status status,
                                     const std::string& request_id) {
    net::Response res{status, req.version()};
    res.set(http::field::server, "nubo");
    res.set("x-amz-request-id", request_id);
    res.set("x-amz-id-2", request_id);
    res.keep_alive(req.keep_alive());
    return res;
  }

  static net::Response xml(const net::Request& req, const std::string& request_id, std::string body,
                           http::status status = http::status::ok) {
    net::Response res = base_response(req, status, request_id);
    res.set(http::field::content_type, "application/xml");
    res.body() = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + body;
    res.prepare_payload();
    return res;
  }

  static net::Response empty(const net::Request& req, const std::string& request_id,
                             http::status status = http::status::ok) {
    net::Response res = base_response(req, status, request_id);
    res.content_length(0);
    return res;
  }

  static net::Response error(const net::Request& req, const Error& e, const std::string& request_id,
                             const Named* n = nullptr) {
    if (req.method() == http::verb::head) {
      // HEAD answers carry no body: the status (and S3's error code header) say it.
      net::Response res = base_response(req, static_cast<http::status>(e.status), request_id);
      res.content_length(0);
      return res;
    }
    std::string body = "<Error><Code>" + xml_escape(e.code) + "</Code><Message>" +
                       xml_escape(e.message) + "</Message>";
    if (n != nullptr && !n->bucket.empty() &&
        (e.code == "NoSuchBucket" || e.code == "BucketNotEmpty" ||
         e.code == "BucketAlreadyOwnedByYou")) {
      body += "<BucketName>" + xml_escape(n->bucket) + "</BucketName>";
    }
    if (n != nullptr && e.code == "NoSuchKey") body += "<Key>" + xml_escape(n->key) + "</Key>";
    body += "<RequestId>" + xml_escape(request_id) + "</RequestId><HostId>" +
            xml_escape(request_id) + "</HostId></Error>";
    net::Response res = xml(req, request_id, body, static_cast<http::status>(e.status));
    return res;
  }

  static Error not_implemented() {
    return Error{"NotImplemented", 501,
                 "A header or query you provided requested a function that is not implemented."};
  }

  static std::string etag_header(const std::string& etag) { return "\"" + etag + "\""; }

  // Whether an If-Match / If-None-Match list ("*", or ETags quoted or not) names o's ETag.
  static bool etag_listed(std::string_view list, const ObjectInfo& o) {
    std::string quoted = etag_header(o.etag);
    for (const std::string& e : split(list, ',')) {
      std::string_view v = trim(e);
      if (v == "*" || v == quoted || v == o.etag) return true;
    }
    return false;
  }

  static std::string iso(int64_t ms) {
    return format_iso8601(SystemTime(std::chrono::milliseconds(ms)));
  }

  // ------------------------------------------------------------------ authorisation

  // The IAM decision for s3:<action> on resource, with the bucket's policy (from the cache,
  // which load_policy() filled for the request's buckets) as the resource policy.
  Status authorize(const auth::Caller& caller, const std::string& action,
                   const std::string& resource) {
    std::shared_ptr<const auth::Policy> policy;
    constexpr std::string_view kPrefix = "arn:aws:s3:::";
    if (!caller.is_root && starts_with(resource, kPrefix)) {
      std::string_view rest = std::string_view(resource).substr(kPrefix.size());
      std::string bucket(rest.substr(0, rest.find('/')));
      policy = cached_policy(bucket).value_or(nullptr);
    }
    return auth::authorize(caller, auth::Access("s3:" + action, resource, policy.get()),
                           auth::DenialShape{"AccessDenied", 403});
  }
  static std::string bucket_arn(const std::string& b) { return "arn:aws:s3:::" + b; }
  static std::string object_arn(const std::string& b, const std::string& k) {
    return "arn:aws:s3:::" + b + "/" + k;
  }

  // ------------------------------------------------------------------ dispatch

  net::Task<void> handle(net::Exchange& ex, const auth::Caller& caller, std::string payload_hash) {
    const net::Request& req = ex.request();
    std::string rid = new_request_id();
    Named n = name_of(req);
    // An aws-chunked body (the SDKs' streamed uploads) is decoded as it is read.
    std::optional<AwsChunkedExchange> chunked;
    if (is_aws_chunked(req, payload_hash)) chunked.emplace(ex);
    net::Exchange& body = chunked ? static_cast<net::Exchange&>(*chunked) : ex;
    auto routing = route(body, caller, n, payload_hash, rid);
    Result<net::Response> r = co_await std::move(routing);
    if (ex.head_written()) co_return;  // streamed its own answer (GetObject)
    net::Response res = r.ok() ? std::move(r).value() : error(req, r.error(), rid, &n);
    auto responding = ex.respond(std::move(res));
    co_await std::move(responding);
  }

  static std::string new_request_id() {
    std::string id = random_hex(8);
    for (char& c : id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return id;
  }

  net::Task<Result<net::Response>> route(net::Exchange& ex, const auth::Caller& caller,
                                         const Named& n, const std::string& payload_hash,
                                         const std::string& rid) {
    const net::Request& req = ex.request();
    auto method = req.method();
    const net::Target& t = n.target;
    auto has = [&](std::string_view p) {
      for (const auto& [k, v] : t.query) {
        if (k == p) return true;
      }
      return false;
    };
    if (!n.bucket.empty() && !caller.is_root) {
      auto loading = load_policy(n.bucket);
      co_await std::move(loading);
    }
    if (n.bucket.empty()) {
      if (method == http::verb::get) co_return co_await list_buckets(req, caller, rid);
      co_return Error{"MethodNotAllowed", 405,
                      "The specified method is not allowed against this resource."};
    }
    if (n.key.empty()) {
      if (method == http::verb::put && t.query.empty()) {
        co_return co_await create_bucket(ex, caller, n, rid);
      }
      if (method == http::verb::delete_ && t.query.empty()) {
        co_return co_await delete_bucket(req, caller, n, rid);
      }
      if (method == http::verb::head && t.query.empty()) {
        co_return co_await head_bucket(req, caller, n, rid);
      }
      if (method == http::verb::get && has("location")) {
        co_return co_await bucket_location(req, caller, n, rid);
      }
      if (method == http::verb::post && has("delete")) {
        co_return co_await delete_objects(ex, caller, n, rid);
      }
      if (method == http::verb::get && has("uploads")) {
        co_return co_await list_uploads(req, caller, n, rid);
      }
      if (method == http::verb::get && has("versions")) {
        co_return co_await list_versions(req, caller, n, rid);
      }
      if (has("notification")) co_return co_await bucket_notification(ex, caller, n, rid);
      if (has("policy")) co_return co_await bucket_policy(ex, caller, n, rid);
      if (method == http::verb::get && has("versioning")) {
        co_return co_await get_versioning(req, caller, n, rid);
      }
      if (method == http::verb::get && (t.query.empty() || !has_subresource(t))) {
        bool v2 = t.param("list-type") == "2";
        co_return co_await list_objects(req, caller, n, rid, v2);
      }
      co_return not_implemented();
    }
    // An unversioned bucket has one version of each object, "null".
    if (auto v = t.param("versionId"); v && *v != "null") {
      co_return Error{"InvalidArgument", 400, "Invalid version id specified"};
    }
    if (has("tagging")) co_return co_await object_tagging(ex, caller, n, rid);
    if (has("uploads") && method == http::verb::post) {
      co_return co_await create_multipart(ex, caller, n, rid);
    }
    if (has("uploadId")) {
      if (method == http::verb::put && has("partNumber")) {
        auto uploading = upload_part(ex, caller, n, payload_hash, rid);
        co_return co_await std::move(uploading);
      }
      if (method == http::verb::post) co_return co_await complete_multipart(ex, caller, n, rid);
      if (method == http::verb::delete_) co_return co_await abort_multipart(req, caller, n, rid);
      if (method == http::verb::get) co_return co_await list_parts(req, caller, n, rid);
    }
    if (has_subresource(t)) co_return not_implemented();
    if (method == http::verb::put) {
      if (!net::header(req, "x-amz-copy-source").empty()) {
        co_return co_await copy_object(ex, caller, n, rid);
      }
      auto putting = put_object(ex, caller, n, payload_hash, rid);
      co_return co_await std::move(putting);
    }
    if (method == http::verb::get || method == http::verb::head) {
      co_return co_await get_object(ex, caller, n, rid);
    }
    if (method == http::verb::delete_) co_return co_await delete_object(req, caller, n, rid);
    co_return Error{"MethodNotAllowed", 405,
                    "The specified method is not allowed against this resource."};
  }

  // Query parameters that name a subresource (?acl, ?tagging, ?uploads, ...), as opposed to a
  // listing's parameters or a presigned URL's signature.
  static bool has_subresource(const net::Target& t) {
    static const char* kListing[] = {
        "list-type",          "prefix",      "delimiter",   "marker", "max-keys", "encoding-type",
        "continuation-token", "start-after", "fetch-owner", "x-id",   "versionId"};
    for (const auto& [k, v] : t.query) {
      // Signature parameters (SigV4's X-Amz-*, SigV2's AWSAccessKeyId / Signature / Expires
      // and the headers botocore moves into a SigV2 URL) and GetObject's overrides.
      if (starts_with(to_lower(k), "x-amz-") || starts_with(k, "response-")) continue;
      if (k == "AWSAccessKeyId" || k == "Signature" || k == "Expires" || k == "Content-Type" ||
          k == "Content-MD5") {
        continue;
      }
      if (std::find(std::begin(kListing), std::end(kListing), k) != std::end(kListing)) continue;
      return true;
    }
    return false;
  }

  // ------------------------------------------------------------------ buckets

  net::Task<Result<net::Response>> list_buckets(const net::Request& req, const auth::Caller& caller,
                                                const std::string& rid) {
    NUBO_CO_TRY(authorize(caller, "ListAllMyBuckets", "*"));
    auto job1 = blocking([this] { return objects.buckets(); });
    auto all = co_await std::move(job1);
    if (!all.ok()) co_return all.error();
    std::string body = "<ListAllMyBucketsResult xmlns=\"" + std::string(kXmlns) + "\"><Owner><ID>" +
                       caller.account_id + "</ID><DisplayName>" + caller.account_id +
                       "</DisplayName></Owner><Buckets>";
    for (const auto& b : *all) {
      body += "<Bucket><Name>" + xml_escape(b.name) + "</Name><CreationDate>" + iso(b.created_ms) +
              "</CreationDate></Bucket>";
    }
    body += "</Buckets></ListAllMyBucketsResult>";
    co_return xml(req, rid, body);
  }

  net::Task<Result<net::Response>> create_bucket(net::Exchange& ex, const auth::Caller& caller,
                                                 const Named& n, const std::string& rid) {
    NUBO_CO_TRY(authorize(caller, "CreateBucket", bucket_arn(n.bucket)));
    // The body, if any, is a small CreateBucketConfiguration.
    auto reading = read_small(ex, 64 * 1024);
    auto read = co_await std::move(reading);
    if (!read.ok()) co_return read.error();
    std::string body = std::move(read).value();
    if (!body.empty()) {
      pugi::xml_document doc;
      if (!doc.load_buffer(body.data(), body.size())) {
        co_return Error{"MalformedXML", 400,
                        "The XML you provided was not well-formed or did not validate against "
                        "our published schema"};
      }
      std::string location =
          doc.child("CreateBucketConfiguration").child("LocationConstraint").child_value();
      if (!location.empty() && location != deps.region) {
        co_return Error{"IllegalLocationConstraintException", 400,
                        "The " + location +
                            " location constraint is incompatible for the region specific "
                            "endpoint this request was sent to."};
      }
    }
    std::string bucket = n.bucket;
    auto job2 = blocking([this, bucket] { return objects.create_bucket(bucket); });
    auto made = co_await std::move(job2);
    if (!made.ok()) co_return made.error();
    forget_config(bucket);
    forget_policy(bucket);
    net::Response res = empty(ex.request(), rid);
    res.set(http::field::location, "/" + n.bucket);
    co_return res;
  }

  net::Task<Result<net::Response>> delete_bucket(const net::Request& req,
                                                 const auth::Caller& caller, const Named& n,
                                                 const std::string& rid) {
    NUBO_CO_TRY(authorize(caller, "DeleteBucket", bucket_arn(n.bucket)));
    std::string bucket = n.bucket;
    auto job3 = blocking([this, bucket] { return objects.delete_bucket(bucket); });
    auto st = co_await std::move(job3);
    if (!st.ok()) co_return st.error();
    forget_config(bucket);
    forget_policy(bucket);
    co_return empty(req, rid, http::status::no_content);
  }

  net::Task<Result<net::Response>> head_bucket(const net::Request& req, const auth::Caller& caller,
                                               const Named& n, const std::string& rid) {
    NUBO_CO_TRY(authorize(caller, "ListBucket", bucket_arn(n.bucket)));
    std::string bucket = n.bucket;
    auto job4 = blocking([this, bucket] { return objects.bucket(bucket); });
    auto b = co_await std::move(job4);
    if (!b.ok()) co_return b.error();
    if (!*b) co_return Error{"NoSuchBucket", 404, "The specified bucket does not exist"};
    net::Response res = empty(req, rid);
    res.set("x-amz-bucket-region", (*b)->region);
    co_return res;
  }

  net::Task<Result<net::Response>> bucket_location(const net::Request& req,
                                                   const auth::Caller& caller, const Named& n,
                                                   const std::string& rid) {
    NUBO_CO_TRY(authorize(caller, "GetBucketLocation", bucket_arn(n.bucket)));
    std::string bucket = n.bucket;
    auto job5 = blocking([this, bucket] { return objects.bucket(bucket); });
    auto b = co_await std::move(job5);
    if (!b.ok()) co_return b.error();
    if (!*b) co_return Error{"NoSuchBucket", 404, "The specified bucket does not exist"};
    // us-east-1 is the empty constraint, as S3 answers.
    std::string region = (*b)->region == "us-east-1" ? "" : (*b)->region;
    co_return xml(req, rid,
                  "<LocationConstraint xmlns=\"" + std::string(kXmlns) + "\">" + region +
                      "</LocationConstraint>");
  }

  net::Task<Result<net::Response>> list_objects(const net::Request& req, const auth::Caller& caller,
                                                const Named& n, const std::string& rid, bool v2) {
    NUBO_CO_TRY(authorize(caller, "ListBucket", bucket_arn(n.bucket)));
    const net::Target& t = n.target;
    ListQuery q;
    q.prefix = t.param("prefix").value_or("");
    q.delimiter = t.param("delimiter").value_or("");
    if (auto mk = t.param("max-keys")) {
      char* end = nullptr;
      long v = std::strtol(mk->c_str(), &end, 10);
      if (mk->empty() || *end != '\0' || v < 0) {
        co_return Error{"InvalidArgument", 400,
                        "Provided max-keys not an integer or within "
                        "integer range"};
      }
      q.max_keys = static_cast<int>(std::min<long>(v, kMaxKeys));
    }
    std::string token = t.param("continuation-token").value_or("");
    if (v2) {
      if (!token.empty()) {
        auto decoded = base64_decode(token);
        if (!decoded) {
          co_return Error{"InvalidArgument", 400, "The continuation token provided is incorrect"};
        }
        q.start_after = *decoded;
      } else {
        q.start_after = t.param("start-after").value_or("");
      }
    } else {
      q.start_after = t.param("marker").value_or("");
    }
    bool url_encode_keys = t.param("encoding-type") == "url";
    auto enc = [&](const std::string& s) {
      return xml_escape(url_encode_keys ? url_encode(s, /*keep_slash=*/true) : s);
    };
    std::string bucket = n.bucket;
    auto job6 = blocking([this, bucket, q] { return objects.list(bucket, q); });
    auto page = co_await std::move(job6);
    if (!page.ok()) co_return page.error();
    std::string body = "<ListBucketResult xmlns=\"" + std::string(kXmlns) + "\"><Name>" +
                       xml_escape(n.bucket) + "</Name><Prefix>" + enc(q.prefix) + "</Prefix>";
    if (v2) {
      if (!token.empty()) {
        body += "<ContinuationToken>" + xml_escape(token) + "</ContinuationToken>";
      }
      if (auto sa = t.param("start-after")) body += "<StartAfter>" + enc(*sa) + "</StartAfter>";
      body += "<KeyCount>" + std::to_string(page->objects.size() + page->common_prefixes.size()) +
              "</KeyCount>";
    } else {
      body += "<Marker>" + enc(q.start_after) + "</Marker>";
      if (page->truncated && !q.delimiter.empty()) {
        body += "<NextMarker>" + enc(page->next_marker) + "</NextMarker>";
      }
    }
    body += "<MaxKeys>" + std::to_string(q.max_keys) + "</MaxKeys>";
    if (!q.delimiter.empty()) body += "<Delimiter>" + enc(q.delimiter) + "</Delimiter>";
    if (url_encode_keys) body += "<EncodingType>url</EncodingType>";
    body += std::string("<IsTruncated>") + (page->truncated ? "true" : "false") + "</IsTruncated>";
    if (v2 && page->truncated) {
      body += "<NextContinuationToken>" + xml_escape(base64_encode(page->next_marker)) +
              "</NextContinuationToken>";
    }
    for (const auto& o : page->objects) {
      body += "<Contents><Key>" + enc(o.key) + "</Key><LastModified>" + iso(o.last_modified_ms) +
              "</LastModified><ETag>&quot;" + o.etag + "&quot;</ETag><Size>" +
              std::to_string(o.size) + "</Size>";
      if (!v2 || t.param("fetch-owner") == "true") {
        body += "<Owner><ID>" + caller.account_id + "</ID><DisplayName>" + caller.account_id +
                "</DisplayName></Owner>";
      }
      body += "<StorageClass>STANDARD</StorageClass></Contents>";
    }
    for (const auto& p : page->common_prefixes) {
      body += "<CommonPrefixes><Prefix>" + enc(p) + "</Prefix></CommonPrefixes>";
    }
    body += "</ListBucketResult>";
    co_return xml(req, rid, body);
  }

  // ------------------------------------------------------------------ objects

  // The headers a PUT stores with the object (returned by GET and HEAD).
  static Result<ObjectInfo> meta_of(const net::Request& req, const Named& n) {
    ObjectInfo meta;
    meta.bucket = n.bucket;
    meta.key = n.key;
    if (auto ct = net::header(req, "content-type"); !ct.empty()) meta.content_type = ct;
    size_t user_bytes = 0;
    for (const auto& f : req) {
      std::string name = to_lower(f.name_string());
      if (name == "content-encoding") {
        // aws-chunked is how the body came, not what the object is.
        std::string kept;
        for (const std::string& coding : split(f.value(), ',')) {
          std::string_view c = trim(coding);
          if (c.empty() || iequals(c, "aws-chunked")) continue;
          if (!kept.empty()) kept += ",";
          kept += c;
        }
        if (!kept.empty()) meta.headers.emplace_back(name, kept);
        continue;
      }
      if (name == "content-disposition" || name == "content-language" || name == "cache-control" ||
          name == "expires" || starts_with(name, "x-amz-meta-")) {
        if (starts_with(name, "x-amz-meta-")) user_bytes += name.size() - 11 + f.value().size();
        meta.headers.emplace_back(name, std::string(f.value()));
      }
    }
    if (user_bytes > kUserMetadataMaxBytes) {
      return Error{"MetadataTooLarge", 400,
                   "Your metadata headers exceed the maximum allowed metadata size"};
    }
    return meta;
  }

  // A PUT whose body fits one chunk: read whole, then written, checked and committed in one
  // trip to the blocking pool (the bucket's existence is checked by the commit).
  net::Task<Result<ObjectInfo>> put_small(net::Exchange& ex, ObjectInfo meta,
                                          std::string payload_hash, uint64_t declared) {
    NUBO_CO_ASSIGN_OR_RETURN(std::optional<std::string> want_md5, content_md5_of(ex.request()));
    auto body = std::make_shared<std::string>();
    body->resize(declared);
    size_t filled = 0;
    while (filled < body->size()) {
      auto got = co_await ex.read(std::span<char>(body->data() + filled, body->size() - filled));
      if (!got.ok()) co_return got.error();
      if (*got == 0) break;
      filled += *got;
    }
    body->resize(filled);
    auto storing =
        blocking([this, body, meta, want_md5, payload_hash]() mutable -> Result<ObjectInfo> {
          NUBO_ASSIGN_OR_RETURN(auto up, objects.begin_upload());
          NUBO_TRY(objects.append(*up, *body));
          ObjectStore::Digests d = objects.finish(*up);
          NUBO_TRY(check_digests(d, want_md5, payload_hash));
          return objects.commit(*up, std::move(meta), hex_encode(d.md5));
        });
    co_return co_await std::move(storing);
  }

  net::Task<Result<net::Response>> put_object(net::Exchange& ex, const auth::Caller& caller,
                                              const Named& n, std::string payload_hash,
                                              const std::string& rid) {
    const net::Request& req = ex.request();
    NUBO_CO_TRY(authorize(caller, "PutObject", object_arn(n.bucket, n.key)));
    if (n.key.size() > kKeyMaxBytes) {
      co_return Error{"KeyTooLongError", 400, "Your key is too long"};
    }
    NUBO_CO_ASSIGN_OR_RETURN(ObjectInfo meta, meta_of(req, n));
    NUBO_CO_ASSIGN_OR_RETURN(meta.tags, tags_of_header(req));
    if (auto length = req.find(http::field::content_length);
        length != req.end() && !req.chunked()) {
      uint64_t declared = std::strtoull(std::string(length->value()).c_str(), nullptr, 10);
      if (declared <= kSmallObjectBytes) {
        auto storing = put_small(ex, meta, payload_hash, declared);
        auto stored = co_await std::move(storing);
        if (!stored.ok()) co_return stored.error();
        auto notifying = notify("ObjectCreated:Put", n.bucket, n.key, stored->size, stored->etag,
                                actor_of(caller), rid);
        co_await std::move(notifying);
        net::Response res = empty(req, rid);
        res.set(http::field::etag, etag_header(stored->etag));
        co_return res;
      }
    }
    std::string bucket = n.bucket;
    auto finding = blocking([this, bucket] { return objects.bucket(bucket); });
    auto exists = co_await std::move(finding);
    if (!exists.ok()) co_return exists.error();
    if (!*exists) co_return Error{"NoSuchBucket", 404, "The specified bucket does not exist"};
    auto receiving = receive(ex, payload_hash, kMaxPutBytes);
    auto got = co_await std::move(receiving);
    if (!got.ok()) co_return got.error();
    std::shared_ptr<ObjectStore::Upload> up = got->up;
    std::string etag = got->etag;
    auto committing = blocking(
        [this, up, meta, etag]() mutable { return objects.commit(*up, std::move(meta), etag); });
    auto committed = co_await std::move(committing);
    if (!committed.ok()) co_return committed.error();
    auto notifying =
        notify("ObjectCreated:Put", n.bucket, n.key, committed->size, etag, actor_of(caller), rid);
    co_await std::move(notifying);
    net::Response res = empty(req, rid);
    res.set(http::field::etag, etag_header(etag));
    co_return res;
  }

  net::Task<Result<net::Response>> get_object(net::Exchange& ex, const auth::Caller& caller,
                                              const Named& n, const std::string& rid) {
    const net::Request& req = ex.request();
    bool head = req.method() == http::verb::head;
    NUBO_CO_TRY(authorize(caller, "GetObject", object_arn(n.bucket, n.key)));
    std::string bucket = n.bucket, key = n.key;
    // HEAD needs only the row; GET opens the bytes with it, so that what it sends is the object
    // its headers describe even if the object is replaced meanwhile.
    auto inline_body = std::make_shared<std::optional<std::string>>();
    auto finding = blocking([this, bucket, key, head,
                             inline_body]() -> Result<std::optional<ObjectStore::Opened>> {
      if (!head) {
        // A small object's bytes come back with its row: one trip for the whole answer.
        NUBO_ASSIGN_OR_RETURN(auto opened, objects.open(bucket, key));
        if (opened && opened->info.size <= static_cast<int64_t>(kInlineGetBytes)) {
          std::string bytes(static_cast<size_t>(opened->info.size), '\0');
          size_t filled = 0;
          while (filled < bytes.size()) {
            NUBO_ASSIGN_OR_RETURN(
                size_t got, opened->reader->read_at(static_cast<int64_t>(filled),
                                                    bytes.data() + filled, bytes.size() - filled));
            if (got == 0) return internal_error("an object's file is shorter than its size");
            filled += got;
          }
          *inline_body = std::move(bytes);
        }
        return opened;
      }
      NUBO_ASSIGN_OR_RETURN(auto info, objects.head(bucket, key));
      if (!info) return std::optional<ObjectStore::Opened>();
      return std::optional<ObjectStore::Opened>(ObjectStore::Opened{std::move(*info), nullptr});
    });
    auto found = co_await std::move(finding);
    if (!found.ok()) co_return found.error();
    if (!*found) {
      if (head) co_return Error{"NotFound", 404, "Not Found"};
      co_return Error{"NoSuchKey", 404, "The specified key does not exist."};
    }
    ObjectInfo o = std::move((*found)->info);
    std::shared_ptr<ObjectStore::Reader> reader = std::move((*found)->reader);
    int64_t modified_s = o.last_modified_ms / 1000;
    std::string etag = etag_header(o.etag);
    // Conditional requests [RFC 7232 order, as S3 applies it].
    auto if_match = net::header(req, "if-match");
    auto if_none = net::header(req, "if-none-match");
    auto if_unmod = net::header(req, "if-unmodified-since");
    auto if_mod = net::header(req, "if-modified-since");
    auto etag_in = [&](std::string_view list) { return etag_listed(list, o); };
    if (!if_match.empty() && !etag_in(if_match)) {
      co_return Error{"PreconditionFailed", 412,
                      "At least one of the pre-conditions you specified did not hold"};
    }
    if (if_match.empty() && !if_unmod.empty()) {
      auto t = parse_http_date(if_unmod);
      if (t && modified_s > *t) {
        co_return Error{"PreconditionFailed", 412,
                        "At least one of the pre-conditions you specified did not hold"};
      }
    }
    bool not_modified = false;
    if (!if_none.empty()) {
      not_modified = etag_in(if_none);
    } else if (!if_mod.empty()) {
      auto t = parse_http_date(if_mod);
      not_modified = t && modified_s <= *t;
    }
    net::Response res = base_response(req, http::status::ok, rid);
    res.set(http::field::etag, etag);
    res.set(http::field::last_modified,
            format_http_date(SystemTime(std::chrono::milliseconds(o.last_modified_ms))));
    if (not_modified) {
      res.result(http::status::not_modified);
      res.content_length(0);
      co_return res;
    }
    res.set(http::field::content_type, o.content_type);
    res.set(http::field::accept_ranges, "bytes");
    for (const auto& [k, v] : o.headers) res.set(k, v);
    if (!o.tags.empty()) res.set("x-amz-tagging-count", std::to_string(o.tags.size()));
    // response-* parameters override the stored headers (S3 GetObject).
    static const std::pair<const char*, http::field> kOverrides[] = {
        {"response-content-type", http::field::content_type},
        {"response-content-language", http::field::content_language},
        {"response-expires", http::field::expires},
        {"response-cache-control", http::field::cache_control},
        {"response-content-disposition", http::field::content_disposition},
        {"response-content-encoding", http::field::content_encoding}};
    for (const auto& [param, field] : kOverrides) {
      if (auto v = n.target.param(param)) res.set(field, *v);
    }
    int64_t first = 0, last = o.size - 1;
    if (auto range = net::header(req, "range"); !range.empty() && o.size >= 0) {
      // bytes=a-b, bytes=a-, bytes=-n (one range; S3 ignores multi-range requests' extra ranges).
      std::string r(range);
      bool ok = starts_with(r, "bytes=");
      int64_t a = -1, b = -1;
      if (ok) {
        std::string spec = r.substr(6);
        if (size_t comma = spec.find(','); comma != std::string::npos) spec = spec.substr(0, comma);
        size_t dash = spec.find('-');
        ok = dash != std::string::npos;
        if (ok) {
          std::string sa = spec.substr(0, dash), sb = spec.substr(dash + 1);
          if (!sa.empty()) a = std::strtoll(sa.c_str(), nullptr, 10);
          if (!sb.empty()) b = std::strtoll(sb.c_str(), nullptr, 10);
          if (sa.empty() && sb.empty()) ok = false;
        }
      }
      if (ok) {
        if (a < 0) {  // the last b bytes
          first = std::max<int64_t>(0, o.size - b);
        } else {
          first = a;
          if (b >= 0) last = std::min(b, o.size - 1);
        }
        if (first >= o.size || (b >= 0 && a >= 0 && b < a)) {
          Error e{"InvalidRange", 416, "The requested range is not satisfiable"};
          net::Response bad = error(req, e, rid, &n);
          bad.set(http::field::content_range, "bytes */" + std::to_string(o.size));
          co_return bad;
        }
        res.result(http::status::partial_content);
        res.set(http::field::content_range, "bytes " + std::to_string(first) + "-" +
                                                std::to_string(last) + "/" +
                                                std::to_string(o.size));
      }
    }
    int64_t length = o.size == 0 ? 0 : last - first + 1;
    res.content_length(static_cast<uint64_t>(length));
    if (head) co_return res;
    if (inline_body->has_value()) {
      res.body() = (*inline_body)->substr(static_cast<size_t>(first), static_cast<size_t>(length));
      co_return res;
    }
    // The body, a chunk at a time from the files.
    auto heading = ex.write_head(std::move(res.base()));
    Status st = co_await std::move(heading);
    if (!st.ok()) co_return res;  // the client went away: nothing more to say
    // Not zero-filled: every byte sent is read into it first.
    auto buf = std::make_shared_for_overwrite<char[]>(
        static_cast<size_t>(std::min<int64_t>(length, kIoChunkBytes)));
    int64_t at = first, left = length;
    while (left > 0) {
      size_t want = static_cast<size_t>(std::min<int64_t>(left, kIoChunkBytes));
      auto reading = blocking([reader, buf, want, at]() -> Result<size_t> {
        // Fill the buffer across segment ends.
        size_t filled = 0;
        while (filled < want) {
          NUBO_ASSIGN_OR_RETURN(size_t got, reader->read_at(at + static_cast<int64_t>(filled),
                                                            buf.get() + filled, want - filled));
          if (got == 0) break;
          filled += got;
        }
        return filled;
      });
      auto got = co_await std::move(reading);
      if (!got.ok() || *got == 0) {
        log_error("s3: cannot read " + n.bucket + "/" + n.key + ": " +
                  (got.ok() ? std::string("short file") : got.error().message));
        ex.abandon();  // the connection closes short: the client sees an incomplete body
        break;
      }
      st = co_await ex.write(std::string_view(buf.get(), *got));
      if (!st.ok()) {
        ex.abandon();
        break;
      }
      at += static_cast<int64_t>(*got);
      left -= static_cast<int64_t>(*got);
    }
    co_return res;
  }

  // ------------------------------------------------------------------ shared steps

  static Error malformed_xml() {
    return Error{"MalformedXML", 400,
                 "The XML you provided was not well-formed or did not validate against our "
                 "published schema"};
  }

  // A small XML request body (tagging, CompleteMultipartUpload, ...), read whole up to `max`.
  static net::Task<Result<std::string>> read_small(net::Exchange& ex, size_t max) {
    std::string body;
    char buf[16384];
    while (true) {
      auto got = co_await ex.read(std::span<char>(buf, sizeof buf));
      if (!got.ok()) co_return got.error();
      if (*got == 0) break;
      body.append(buf, *got);
      if (body.size() > max) co_return malformed_xml();
    }
    co_return body;
  }

  // Content-MD5 as 16 raw bytes (nullopt when absent); InvalidDigest when malformed.
  static Result<std::optional<std::string>> content_md5_of(const net::Request& req) {
    auto md5 = net::header(req, "content-md5");
    if (md5.empty()) return std::optional<std::string>();
    auto raw = base64_decode(md5);
    if (!raw || raw->size() != 16) {
      return Error{"InvalidDigest", 400, "The Content-MD5 you specified was invalid."};
    }
    return std::optional<std::string>(std::move(*raw));
  }

  // What arrived against what the client said it sent.
  static Status check_digests(const ObjectStore::Digests& d,
                              const std::optional<std::string>& want_md5,
                              const std::string& payload_hash) {
    if (want_md5 && *want_md5 != d.md5) {
      return Error{"BadDigest", 400,
                   "The Content-MD5 you specified did not match what we received."};
    }
    if (payload_hash.size() == 64 && !iequals(payload_hash, d.sha256_hex)) {
      return Error{"XAmzContentSHA256Mismatch", 400,
                   "The provided 'x-amz-content-sha256' header does not match what was "
                   "computed."};
    }
    return Ok{};
  }

  struct Received {
    std::shared_ptr<ObjectStore::Upload> up;
    std::string etag;  // hex MD5 of what arrived
  };

  // Reads the request body into a new Upload, a chunk at a time, checking Content-Length
  // (MissingContentLength, EntityTooLarge past max), Content-MD5 (InvalidDigest, BadDigest)
  // and the signed x-amz-content-sha256 (XAmzContentSHA256Mismatch).
  net::Task<Result<Received>> receive(net::Exchange& ex, std::string payload_hash, uint64_t max) {
    const net::Request& req = ex.request();
    auto length = req.find(http::field::content_length);
    if (length == req.end() && !req.chunked()) {
      co_return Error{"MissingContentLength", 411,
                      "You must provide the Content-Length HTTP header."};
    }
    Error too_large{"EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size"};
    if (length != req.end()) {
      uint64_t declared = std::strtoull(std::string(length->value()).c_str(), nullptr, 10);
      if (declared > max) co_return too_large;
    }
    NUBO_CO_ASSIGN_OR_RETURN(std::optional<std::string> want_md5, content_md5_of(req));
    auto opening = blocking([this] { return objects.begin_upload(); });
    auto opened = co_await std::move(opening);
    if (!opened.ok()) co_return opened.error();
    std::shared_ptr<ObjectStore::Upload> up = std::move(opened).value();
    std::vector<char> buf(kIoChunkBytes);
    while (true) {
      // Fill the buffer from the socket, then hand it to the disk.
      size_t filled = 0;
      bool done = false;
      while (filled < buf.size()) {
        auto got = co_await ex.read(std::span<char>(buf.data() + filled, buf.size() - filled));
        if (!got.ok()) co_return got.error();
        if (*got == 0) {
          done = true;
          break;
        }
        filled += *got;
      }
      if (static_cast<uint64_t>(up->size()) + filled > max) co_return too_large;
      if (filled > 0) {
        std::string_view piece(buf.data(), filled);
        auto writing = blocking([this, up, piece] { return objects.append(*up, piece); });
        auto st = co_await std::move(writing);
        if (!st.ok()) co_return st.error();
      }
      if (done) break;
    }
    auto finishing = blocking([this, up] { return objects.finish(*up); });
    auto digests = co_await std::move(finishing);
    NUBO_CO_TRY(check_digests(digests, want_md5, payload_hash));
    co_return Received{up, hex_encode(digests.md5)};
  }

  // Tags from the x-amz-tagging header ("k1=v1&k2=v2", URL-encoded) or a Tagging document.
  static Status check_tags(const Pairs& tags) {
    if (tags.size() > kMaxObjectTags) {
      return Error{"BadRequest", 400, "Object tags cannot be greater than 10"};
    }
    std::set<std::string> seen;
    for (const auto& [k, v] : tags) {
      if (k.empty() || utf8_length(k) > kMaxTagKeyChars) {
        return Error{"InvalidTag", 400, "The TagKey you have provided is invalid"};
      }
      if (utf8_length(v) > kMaxTagValueChars) {
        return Error{"InvalidTag", 400, "The TagValue you have provided is invalid"};
      }
      if (!seen.insert(k).second) {
        return Error{"InvalidTag", 400, "Cannot provide multiple Tags with the same key"};
      }
    }
    return Ok{};
  }

  static size_t utf8_length(std::string_view s) {
    size_t n = 0;
    for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
  }

  static Result<Pairs> tags_of_header(const net::Request& req) {
    Pairs tags;
    std::string_view h = net::header(req, "x-amz-tagging");
    if (h.empty()) return tags;
    for (const std::string& pair : split(h, '&')) {
      if (pair.empty()) continue;
      size_t eq = pair.find('=');
      std::string k = url_decode(pair.substr(0, eq), /*plus_as_space=*/true);
      std::string v =
          eq == std::string::npos ? "" : url_decode(pair.substr(eq + 1), /*plus_as_space=*/true);
      tags.emplace_back(std::move(k), std::move(v));
    }
    NUBO_TRY(check_tags(tags));
    return tags;
  }

  // The source an x-amz-copy-source header names: "bucket/key" or "/bucket/key", URL-encoded,
  // with an optional "?versionId=" (only "null" exists on an unversioned bucket).
  struct CopySource {
    std::string bucket;
    std::string key;
  };
  static Result<CopySource> copy_source_of(std::string_view header) {
    std::string h(header);
    std::string version;
    if (size_t q = h.find('?'); q != std::string::npos) {
      std::string query = h.substr(q + 1);
      h = h.substr(0, q);
      if (starts_with(query, "versionId=")) version = url_decode(query.substr(10));
    }
    std::string path = url_decode(h);
    if (!path.empty() && path.front() == '/') path.erase(0, 1);
    size_t slash = path.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == path.size()) {
      return Error{"InvalidArgument", 400,
                   "Copy Source must mention the source bucket and key: "
                   "sourcebucket/sourcekey"};
    }
    if (!version.empty() && version != "null") {
      return Error{"InvalidArgument", 400, "Invalid version id specified"};
    }
    return CopySource{path.substr(0, slash), path.substr(slash + 1)};
  }

  // x-amz-copy-source-if-* against the source [S3 API Reference, CopyObject].
  static Status copy_conditions(const net::Request& req, const ObjectInfo& src) {
    Error failed{"PreconditionFailed", 412,
                 "At least one of the pre-conditions you specified did not hold"};
    int64_t modified_s = src.last_modified_ms / 1000;
    auto etag_in = [&](std::string_view list) { return etag_listed(list, src); };
    auto if_match = net::header(req, "x-amz-copy-source-if-match");
    auto if_none = net::header(req, "x-amz-copy-source-if-none-match");
    auto if_unmod = net::header(req, "x-amz-copy-source-if-unmodified-since");
    auto if_mod = net::header(req, "x-amz-copy-source-if-modified-since");
    if (!if_match.empty() && !etag_in(if_match)) return failed;
    if (!if_none.empty() && etag_in(if_none)) return failed;
    if (if_match.empty() && !if_unmod.empty()) {
      auto t = parse_http_date(if_unmod);
      if (t && modified_s > *t) return failed;
    }
    if (if_none.empty() && !if_mod.empty()) {
      auto t = parse_http_date(if_mod);
      if (t && modified_s <= *t) return failed;
    }
    return Ok{};
  }

  // Opens the copy source for reading, authorised as s3:GetObject on it.
  net::Task<Result<ObjectStore::Opened>> open_source(const net::Request& req,
                                                     const auth::Caller& caller, CopySource src) {
    if (!caller.is_root) {
      auto loading = load_policy(src.bucket);
      co_await std::move(loading);
    }
    NUBO_CO_TRY(authorize(caller, "GetObject", object_arn(src.bucket, src.key)));
    auto opening = blocking([this, src] { return objects.open(src.bucket, src.key); });
    auto opened = co_await std::move(opening);
    if (!opened.ok()) co_return opened.error();
    if (!*opened) co_return Error{"NoSuchKey", 404, "The specified key does not exist."};
    NUBO_CO_TRY(copy_conditions(req, (*opened)->info));
    co_return std::move(**opened);
  }

  net::Task<Result<net::Response>> copy_object(net::Exchange& ex, const auth::Caller& caller,
                                               const Named& n, const std::string& rid) {
    const net::Request& req = ex.request();
    NUBO_CO_TRY(authorize(caller, "PutObject", object_arn(n.bucket, n.key)));
    if (n.key.size() > kKeyMaxBytes)
      co_return Error{"KeyTooLongError", 400, "Your key is too long"};
    NUBO_CO_ASSIGN_OR_RETURN(CopySource src, copy_source_of(net::header(req, "x-amz-copy-source")));
    std::string directive(net::header(req, "x-amz-metadata-directive"));
    std::string tagging(net::header(req, "x-amz-tagging-directive"));
    if (!directive.empty() && directive != "COPY" && directive != "REPLACE") {
      co_return Error{"InvalidArgument", 400, "Unknown metadata directive."};
    }
    if (!tagging.empty() && tagging != "COPY" && tagging != "REPLACE") {
      co_return Error{"InvalidArgument", 400, "Unknown tagging directive."};
    }
    if (src.bucket == n.bucket && src.key == n.key && directive != "REPLACE") {
      co_return Error{"InvalidRequest", 400,
                      "This copy request is illegal because it is trying to copy an object to "
                      "itself without changing the object's metadata, storage class, website "
                      "redirect location or encryption attributes."};
    }
    auto opening = open_source(req, caller, src);
    auto source = co_await std::move(opening);
    if (!source.ok()) co_return source.error();
    if (static_cast<uint64_t>(source->info.size) > kMaxCopyBytes) {
      co_return Error{"InvalidRequest", 400,
                      "The specified copy source is larger than the maximum allowable size for a "
                      "copy source: " +
                          std::to_string(kMaxCopyBytes)};
    }
    ObjectInfo meta;
    if (directive == "REPLACE") {
      NUBO_CO_ASSIGN_OR_RETURN(meta, meta_of(req, n));
    } else {
      meta = source->info;
      meta.bucket = n.bucket;
      meta.key = n.key;
    }
    if (tagging == "REPLACE") {
      NUBO_CO_ASSIGN_OR_RETURN(meta.tags, tags_of_header(req));
    } else {
      meta.tags = source->info.tags;
    }
    std::shared_ptr<ObjectStore::Reader> reader = std::move(source->reader);
    int64_t size = source->info.size;
    auto copying = blocking([this, reader, size, meta]() mutable -> Result<ObjectInfo> {
      NUBO_ASSIGN_OR_RETURN(auto up, objects.begin_upload());
      NUBO_TRY(objects.copy_into(*up, *reader, 0, size));
      std::string etag = hex_encode(objects.finish(*up).md5);
      return objects.commit(*up, std::move(meta), etag);
    });
    auto copied = co_await std::move(copying);
    if (!copied.ok()) co_return copied.error();
    auto notifying = notify("ObjectCreated:Copy", n.bucket, n.key, copied->size, copied->etag,
                            actor_of(caller), rid);
    co_await std::move(notifying);
    co_return xml(req, rid,
                  "<CopyObjectResult xmlns=\"" + std::string(kXmlns) + "\"><LastModified>" +
                      iso(copied->last_modified_ms) + "</LastModified><ETag>&quot;" + copied->etag +
                      "&quot;</ETag></CopyObjectResult>");
  }

  // ------------------------------------------------------------------ multipart uploads

  net::Task<Result<net::Response>> create_multipart(net::Exchange& ex, const auth::Caller& caller,
                                                    const Named& n, const std::string& rid) {
    const net::Request& req = ex.request();
    NUBO_CO_TRY(authorize(caller, "PutObject", object_arn(n.bucket, n.key)));
    if (n.key.size() > kKeyMaxBytes)
      co_return Error{"KeyTooLongError", 400, "Your key is too long"};
    NUBO_CO_ASSIGN_OR_RETURN(ObjectInfo meta, meta_of(req, n));
    MultipartUpload u;
    u.bucket = n.bucket;
    u.key = n.key;
    u.content_type = meta.content_type;
    u.headers = meta.headers;
    NUBO_CO_ASSIGN_OR_RETURN(u.tags, tags_of_header(req));
    auto creating = blocking([this, u] { return objects.create_multipart(u); });
    auto made = co_await std::move(creating);
    if (!made.ok()) co_return made.error();
    co_return xml(req, rid,
                  "<InitiateMultipartUploadResult xmlns=\"" + std::string(kXmlns) + "\"><Bucket>" +
                      xml_escape(n.bucket) + "</Bucket><Key>" + xml_escape(n.key) +
                      "</Key><UploadId>" + made->upload_id +
                      "</UploadId></InitiateMultipartUploadResult>");
  }

  static Result<int> part_number_of(const net::Target& t) {
    std::string s = t.param("partNumber").value_or("");
    char* end = nullptr;
    long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || v < 1 || v > kMaxPartNumber) {
      return Error{"InvalidArgument", 400,
                   "Part number must be an integer between 1 and 10000, inclusive"};
    }
    return static_cast<int>(v);
  }

  net::Task<Result<net::Response>> upload_part(net::Exchange& ex, const auth::Caller& caller,
                                               const Named& n, std::string payload_hash,
                                               const std::string& rid) {
    const net::Request& req = ex.request();
    NUBO_CO_TRY(authorize(caller, "PutObject", object_arn(n.bucket, n.key)));
    NUBO_CO_ASSIGN_OR_RETURN(int number, part_number_of(n.target));
    std::string bucket = n.bucket, key = n.key, upload_id = n.target.param("uploadId").value_or("");
    // The upload must exist before any byte is taken.
    auto checking = blocking(
        [this, bucket, key, upload_id] { return objects.multipart(bucket, key, upload_id); });
    auto upload = co_await std::move(checking);
    if (!upload.ok()) co_return upload.error();
    std::string copy_header(net::header(req, "x-amz-copy-source"));
    std::shared_ptr<ObjectStore::Upload> up;
    std::string etag;
    if (!copy_header.empty()) {
      NUBO_CO_ASSIGN_OR_RETURN(CopySource src, copy_source_of(copy_header));
      auto opening = open_source(req, caller, src);
      auto source = co_await std::move(opening);
      if (!source.ok()) co_return source.error();
      int64_t size = source->info.size, first = 0, last = size - 1;
      if (auto range = net::header(req, "x-amz-copy-source-range"); !range.empty()) {
        std::string r(range);
        size_t dash = r.find('-');
        char* end1 = nullptr;
        char* end2 = nullptr;
        bool ok = starts_with(r, "bytes=") && dash != std::string::npos && dash > 6;
        if (ok) {
          std::string a = r.substr(6, dash - 6), b = r.substr(dash + 1);
          first = std::strtoll(a.c_str(), &end1, 10);
          last = std::strtoll(b.c_str(), &end2, 10);
          ok = !b.empty() && *end1 == '\0' && *end2 == '\0' && first >= 0 && last >= first;
        }
        if (!ok) {
          co_return Error{"InvalidArgument", 400,
                          "The x-amz-copy-source-range value must be of the form bytes=first-last "
                          "where first and last are the zero-based offsets of the first and last "
                          "bytes to copy"};
        }
        if (last >= size) {
          co_return Error{"InvalidRange", 416, "The requested range is not satisfiable"};
        }
      }
      int64_t length = size == 0 ? 0 : last - first + 1;
      if (static_cast<uint64_t>(length) > kMaxPartBytes) {
        co_return Error{"InvalidRequest", 400,
                        "The specified copy range is larger than the maximum part size"};
      }
      std::shared_ptr<ObjectStore::Reader> reader = std::move(source->reader);
      auto copying =
          blocking([this, reader, first, length]() -> Result<std::shared_ptr<ObjectStore::Upload>> {
            NUBO_ASSIGN_OR_RETURN(auto u, objects.begin_upload());
            NUBO_TRY(objects.copy_into(*u, *reader, first, length));
            return std::shared_ptr<ObjectStore::Upload>(std::move(u));
          });
      auto copied = co_await std::move(copying);
      if (!copied.ok()) co_return copied.error();
      up = std::move(copied).value();
      auto finishing = blocking([this, up] { return objects.finish(*up); });
      etag = hex_encode((co_await std::move(finishing)).md5);
    } else {
      auto receiving = receive(ex, payload_hash, kMaxPartBytes);
      auto got = co_await std::move(receiving);
      if (!got.ok()) co_return got.error();
      up = got->up;
      etag = got->etag;
    }
    auto committing = blocking([this, up, bucket, key, upload_id, number, etag] {
      return objects.commit_part(*up, bucket, key, upload_id, number, etag);
    });
    auto part = co_await std::move(committing);
    if (!part.ok()) co_return part.error();
    if (!copy_header.empty()) {
      co_return xml(req, rid,
                    "<CopyPartResult xmlns=\"" + std::string(kXmlns) + "\"><LastModified>" +
                        iso(part->last_modified_ms) + "</LastModified><ETag>&quot;" + part->etag +
                        "&quot;</ETag></CopyPartResult>");
    }
    net::Response res = empty(req, rid);
    res.set(http::field::etag, etag_header(part->etag));
    co_return res;
  }

  net::Task<Result<net::Response>> complete_multipart(net::Exchange& ex, const auth::Caller& caller,
                                                      const Named& n, const std::string& rid) {
    const net::Request& req = ex.request();
    NUBO_CO_TRY(authorize(caller, "PutObject", object_arn(n.bucket, n.key)));
    auto reading = read_small(ex, 4 * 1024 * 1024);
    auto body = co_await std::move(reading);
    if (!body.ok()) co_return body.error();
    pugi::xml_document doc;
    if (!doc.load_buffer(body->data(), body->size())) co_return malformed_xml();
    pugi::xml_node root = doc.child("CompleteMultipartUpload");
    if (!root) co_return malformed_xml();
    std::vector<std::pair<int, std::string>> listed;
    for (pugi::xml_node p : root.children("Part")) {
      std::string number = p.child_value("PartNumber");
      char* end = nullptr;
      long v = std::strtol(number.c_str(), &end, 10);
      if (number.empty() || *end != '\0') co_return malformed_xml();
      if (v < 1 || v > kMaxPartNumber) {
        co_return Error{"InvalidArgument", 400,
                        "Part number must be an integer between 1 and 10000, inclusive"};
      }
      listed.emplace_back(static_cast<int>(v), p.child_value("ETag"));
    }
    std::string bucket = n.bucket, key = n.key, upload_id = n.target.param("uploadId").value_or("");
    auto completing = blocking([this, bucket, key, upload_id, listed] {
      return objects.complete_multipart(bucket, key, upload_id, listed);
    });
    auto done = co_await std::move(completing);
    if (!done.ok()) co_return done.error();
    auto notifying = notify("ObjectCreated:CompleteMultipartUpload", n.bucket, n.key, done->size,
                            done->etag, actor_of(caller), rid);
    co_await std::move(notifying);
    std::string host(net::header(req, "host"));
    co_return xml(req, rid,
                  "<CompleteMultipartUploadResult xmlns=\"" + std::string(kXmlns) +
                      "\"><Location>http://" + xml_escape(host) + "/" + xml_escape(n.bucket) + "/" +
                      xml_escape(url_encode(n.key, /*keep_slash=*/true)) + "</Location><Bucket>" +
                      xml_escape(n.bucket) + "</Bucket><Key>" + xml_escape(n.key) +
                      "</Key><ETag>&quot;" + done->etag +
                      "&quot;</ETag></CompleteMultipartUploadResult>");
  }

  net::Task<Result<net::Response>> abort_multipart(const net::Request& req,
                                                   const auth::Caller& caller, const Named& n,
                                                   const std::string& rid) {
    NUBO_CO_TRY(authorize(caller, "AbortMultipartUpload", object_arn(n.bucket, n.key)));
    std::string bucket = n.bucket, key = n.key, upload_id = n.target.param("uploadId").value_or("");
    auto aborting = blocking(
        [this, bucket, key, upload_id] { return objects.abort_multipart(bucket, key, upload_id); });
    auto st = co_await std::move(aborting);
    if (!st.ok()) co_return st.error();
    co_return empty(req, rid, http::status::no_content);
  }

  static Result<int> page_size(const net::Target& t, const char* param, int max) {
    auto v = t.param(param);
    if (!v) return max;
    char* end = nullptr;
    long n = std::strtol(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0' || n < 0) {
      return Error{"InvalidArgument", 400,
                   std::string("Provided ") + param + " not an integer or within integer range"};
    }
    return static_cast<int>(std::min<long>(n, max));
  }

  std::string owner_xml(const auth::Caller& caller, const char* element) const {
    return std::string("<") + element + "><ID>" + caller.account_id + "</ID><DisplayName>" +
           caller.account_id + "</DisplayName></" + element + ">";
  }

  net::Task<Result<net::Response>> list_parts(const net::Request& req, const auth::Caller& caller,
                                              const Named& n, const std::string& rid) {
    NUBO_CO_TRY(authorize(caller, "ListMultipartUploadParts", object_arn(n.bucket, n.key)));
    NUBO_CO_ASSIGN_OR_RETURN(int max, page_size(n.target, "max-parts", kMaxParts));
    std::string marker = n.target.param("part-number-marker").value_or("0");
    int after = std::atoi(marker.c_str());
    std::string bucket = n.bucket, key = n.key, upload_id = n.target.param("uploadId").value_or("");
    auto listing = blocking([this, bucket, key, upload_id, after, max] {
      return objects.parts(bucket, key, upload_id, after, max);
    });
    auto page = co_await std::move(listing);
    if (!page.ok()) co_return page.error();
    const auto& [parts, truncated] = *page;
    std::string body = "<ListPartsResult xmlns=\"" + std::string(kXmlns) + "\"><Bucket>" +
                       xml_escape(n.bucket) + "</Bucket><Key>" + xml_escape(n.key) +
                       "</Key><UploadId>" + xml_escape(upload_id) + "</UploadId>" +
                       owner_xml(caller, "Initiator") + owner_xml(caller, "Owner") +
                       "<StorageClass>STANDARD</StorageClass><PartNumberMarker>" +
                       std::to_string(after) + "</PartNumberMarker>";
    if (!parts.empty()) {
      body += "<NextPartNumberMarker>" + std::to_string(parts.back().part_number) +
              "</NextPartNumberMarker>";
    }
    body += "<MaxParts>" + std::to_string(max) + "</MaxParts><IsTruncated>" +
            (truncated ? "true" : "false") + "</IsTruncated>";
    for (const PartInfo& p : parts) {
      body += "<Part><PartNumber>" + std::to_string(p.part_number) + "</PartNumber><LastModified>" +
              iso(p.last_modified_ms) + "</LastModified><ETag>&quot;" + p.etag +
              "&quot;</ETag><Size>" + std::to_string(p.size) + "</Size></Part>";
    }
    body += "</ListPartsResult>";
    co_return xml(req, rid, body);
  }

  net::Task<Result<net::Response>> list_uploads(const net::Request& req, const auth::Caller& caller,
                                                const Named& n, const std::string& rid) {
    NUBO_CO_TRY(authorize(caller, "ListBucketMultipartUploads", bucket_arn(n.bucket)));
    const net::Target& t = n.target;
    UploadsQuery q;
    q.prefix = t.param("prefix").value_or("");
    q.delimiter = t.param("delimiter").value_or("");
    q.key_marker = t.param("key-marker").value_or("");
    q.upload_id_marker = t.param("upload-id-marker").value_or("");
    NUBO_CO_ASSIGN_OR_RETURN(q.max_uploads, page_size(t, "max-uploads", kMaxKeys));
    bool url_encode_keys = t.param("encoding-type") == "url";
    auto enc = [&](const std::string& s) {
      return xml_escape(url_encode_keys ? url_encode(s, /*keep_slash=*/true) : s);
    };
    std::string bucket = n.bucket;
    auto listing = blocking([this, bucket, q] { return objects.uploads(bucket, q); });
    auto page = co_await std::move(listing);
    if (!page.ok()) co_return page.error();
    std::string body = "<ListMultipartUploadsResult xmlns=\"" + std::string(kXmlns) +
                       "\"><Bucket>" + xml_escape(n.bucket) + "</Bucket><KeyMarker>" +
                       enc(q.key_marker) + "</KeyMarker><UploadIdMarker>" +
                       xml_escape(q.upload_id_marker) + "</UploadIdMarker><NextKeyMarker>" +
                       enc(page->next_key_marker) + "</NextKeyMarker><NextUploadIdMarker>" +
                       xml_escape(page->next_upload_id_marker) + "</NextUploadIdMarker>";
    if (!q.prefix.empty()) body += "<Prefix>" + enc(q.prefix) + "</Prefix>";
    if (!q.delimiter.empty()) body += "<Delimiter>" + enc(q.delimiter) + "</Delimiter>";
    if (url_encode_keys) body += "<EncodingType>url</EncodingType>";
    body += "<MaxUploads>" + std::to_string(q.max_uploads) + "</MaxUploads><IsTruncated>" +
            (page->truncated ? "true" : "false") + "</IsTruncated>";
    for (const MultipartUpload& u : page->uploads) {
      body += "<Upload><Key>" + enc(u.key) + "</Key><UploadId>" + u.upload_id + "</UploadId>" +
              owner_xml(caller, "Initiator") + owner_xml(caller, "Owner") +
              "<StorageClass>STANDARD</StorageClass><Initiated>" + iso(u.initiated_ms) +
              "</Initiated></Upload>";
    }
    for (const auto& p : page->common_prefixes) {
      body += "<CommonPrefixes><Prefix>" + enc(p) + "</Prefix></CommonPrefixes>";
    }
    body += "</ListMultipartUploadsResult>";
    co_return xml(req, rid, body);
  }

  // ------------------------------------------------------------------ versions (unversioned)

  net::Task<Result<net::Response>> get_versioning(const net::Request& req,
                                                  const auth::Caller& caller, const Named& n,
                                                  const std::string& rid) {
    NUBO_CO_TRY(authorize(caller, "GetBucketVersioning", bucket_arn(n.bucket)));
    std::string bucket = n.bucket;
    auto finding = blocking([this, bucket] { return objects.bucket(bucket); });
    auto b = co_await std::move(finding);
    if (!b.ok()) co_return b.error();
    if (!*b) co_return Error{"NoSuchBucket", 404, "The specified bucket does not exist"};
    // A bucket that never had versioning enabled answers an empty configuration.
    co_return xml(req, rid, "<VersioningConfiguration xmlns=\"" + std::string(kXmlns) + "\"/>");
  }

  // ListObjectVersions on a bucket without versioning: every object is its only version,
  // "null", and the latest.
  net::Task<Result<net::Response>> list_versions(const net::Request& req,
                                                 const auth::Caller& caller, const Named& n,
                                                 const std::string& rid) {
    NUBO_CO_TRY(authorize(caller, "ListBucketVersions", bucket_arn(n.bucket)));
    const net::Target& t = n.target;
    ListQuery q;
    q.prefix = t.param("prefix").value_or("");
    q.delimiter = t.param("delimiter").value_or("");
    q.start_after = t.param("key-marker").value_or("");
    NUBO_CO_ASSIGN_OR_RETURN(q.max_keys, page_size(t, "max-keys", kMaxKeys));
    std::string version_marker = t.param("version-id-marker").value_or("");
    if (!version_marker.empty() && q.start_after.empty()) {
      co_return Error{"InvalidArgument", 400,
                      "A version-id marker cannot be specified without a key marker."};
    }
    bool url_encode_keys = t.param("encoding-type") == "url";
    auto enc = [&](const std::string& s) {
      return xml_escape(url_encode_keys ? url_encode(s, /*keep_slash=*/true) : s);
    };
    std::string bucket = n.bucket;
    auto listing = blocking([this, bucket, q] { return objects.list(bucket, q); });
    auto page = co_await std::move(listing);
    if (!page.ok()) co_return page.error();
    std::string body =
        "<ListVersionsResult xmlns=\"" + std::string(kXmlns) + "\"><Name>" + xml_escape(n.bucket) +
        "</Name><Prefix>" + enc(q.prefix) + "</Prefix><KeyMarker>" + enc(q.start_after) +
        "</KeyMarker><VersionIdMarker>" + xml_escape(version_marker) + "</VersionIdMarker>";
    if (page->truncated) {
      body += "<NextKeyMarker>" + enc(page->next_marker) +
              "</NextKeyMarker><NextVersionIdMarker>null</NextVersionIdMarker>";
    }
    body += "<MaxKeys>" + std::to_string(q.max_keys) + "</MaxKeys>";
    if (!q.delimiter.empty()) body += "<Delimiter>" + enc(q.delimiter) + "</Delimiter>";
    if (url_encode_keys) body += "<EncodingType>url</EncodingType>";
    body += std::string("<IsTruncated>") + (page->truncated ? "true" : "false") + "</IsTruncated>";
    for (const auto& o : page->objects) {
      body += "<Version><Key>" + enc(o.key) +
              "</Key><VersionId>null</VersionId><IsLatest>true</IsLatest><LastModified>" +
              iso(o.last_modified_ms) + "</LastModified><ETag>&quot;" + o.etag +
              "&quot;</ETag><Size>" + std::to_string(o.size) +
              "</Size><StorageClass>STANDARD</StorageClass>" + owner_xml(caller, "Owner") +
              "</Version>";
    }
    for (const auto& p : page->common_prefixes) {
      body += "<CommonPrefixes><Prefix>" + enc(p) + "</Prefix></CommonPrefixes>";
    }
    body += "</ListVersionsResult>";
    co_return xml(req, rid, body);
  }

  // ------------------------------------------------------------------ object tagging

  net::Task<Result<net::Response>> object_tagging(net::Exchange& ex, const auth::Caller& caller,
                                                  const Named& n, const std::string& rid) {
    const net::Request& req = ex.request();
    auto method = req.method();
    std::string bucket = n.bucket, key = n.key;
    if (method == http::verb::get) {
      NUBO_CO_TRY(authorize(caller, "GetObjectTagging", object_arn(n.bucket, n.key)));
      auto finding = blocking([this, bucket, key] { return objects.head(bucket, key); });
      auto found = co_await std::move(finding);
      if (!found.ok()) co_return found.error();
      if (!*found) co_return Error{"NoSuchKey", 404, "The specified key does not exist."};
      std::string body = "<Tagging xmlns=\"" + std::string(kXmlns) + "\"><TagSet>";
      for (const auto& [k, v] : (*found)->tags) {
        body += "<Tag><Key>" + xml_escape(k) + "</Key><Value>" + xml_escape(v) + "</Value></Tag>";
      }
      body += "</TagSet></Tagging>";
      co_return xml(req, rid, body);
    }
    Pairs tags;
    if (method == http::verb::put) {
      NUBO_CO_TRY(authorize(caller, "PutObjectTagging", object_arn(n.bucket, n.key)));
      auto reading = read_small(ex, 64 * 1024);
      auto body = co_await std::move(reading);
      if (!body.ok()) co_return body.error();
      pugi::xml_document doc;
      if (!doc.load_buffer(body->data(), body->size())) co_return malformed_xml();
      pugi::xml_node set = doc.child("Tagging").child("TagSet");
      if (!set) co_return malformed_xml();
      for (pugi::xml_node tag : set.children("Tag")) {
        if (!tag.child("Key")) co_return malformed_xml();
        tags.emplace_back(tag.child_value("Key"), tag.child_value("Value"));
      }
      NUBO_CO_TRY(check_tags(tags));
    } else if (method == http::verb::delete_) {
      NUBO_CO_TRY(authorize(caller, "DeleteObjectTagging", object_arn(n.bucket, n.key)));
    } else {
      co_return Error{"MethodNotAllowed", 405,
                      "The specified method is not allowed against this resource."};
    }
    auto setting =
        blocking([this, bucket, key, tags] { return objects.set_tags(bucket, key, tags); });
    auto st = co_await std::move(setting);
    if (!st.ok()) co_return st.error();
    co_return empty(req, rid,
                    method == http::verb::delete_ ? http::status::no_content : http::status::ok);
  }

  // ------------------------------------------------------------------ notifications

  std::mutex notif_mu;
  // bucket -> its notification configuration (null: none or no targets), filled on first use,
  // replaced by PutBucketNotificationConfiguration, dropped with the bucket. GUARDED_BY(notif_mu)
  std::unordered_map<std::string, std::shared_ptr<const NotificationConfig>> notif_cache;
  std::atomic<uint64_t> last_sequence{0};

  // Who caused an event, as its record names them.
  struct Actor {
    std::string principal_id;
    std::string source_ip;
    std::string account_id;
    std::string trace;  // the request's X-Amzn-Trace-Id: the invocations it causes carry it on
  };
  static Actor actor_of(const auth::Caller& c) {
    return Actor{c.is_root ? c.account_id : "AWS:" + c.access_key_id, c.source_ip, c.account_id,
                 c.trace_header};
  }

  struct Delivery {
    std::string arn;  // the function's or the queue's
    std::string message;
    TargetKind kind = TargetKind::kLambda;
  };

  // Cheap, on any thread: false only when the bucket is known to have no configuration.
  bool may_notify(const std::string& bucket) {
    std::lock_guard lock(notif_mu);
    auto it = notif_cache.find(bucket);
    return it == notif_cache.end() || it->second != nullptr;
  }

  // Blocking. The bucket's configuration, from the cache or the Store.
  Result<std::shared_ptr<const NotificationConfig>> config_of(const std::string& bucket) {
    {
      std::lock_guard lock(notif_mu);
      if (auto it = notif_cache.find(bucket); it != notif_cache.end()) return it->second;
    }
    NUBO_ASSIGN_OR_RETURN(std::string text, objects.notification(bucket));
    std::shared_ptr<const NotificationConfig> config;
    if (!text.empty()) {
      NUBO_ASSIGN_OR_RETURN(NotificationConfig parsed, notification_config_from_json(text));
      if (!parsed.targets.empty()) config = std::make_shared<NotificationConfig>(std::move(parsed));
    }
    // emplace, not assign: a configuration put meanwhile has set the newer value already.
    std::lock_guard lock(notif_mu);
    return notif_cache.emplace(bucket, config).first->second;
  }

  void forget_config(const std::string& bucket) {
    std::lock_guard lock(notif_mu);
    notif_cache.erase(bucket);
  }

  // Increasing across the node's life and its restarts: the clock's nanoseconds, or one more
  // than the last sequencer when the clock has not moved on.
  uint64_t next_sequence() {
    uint64_t now = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(deps.clock->now().time_since_epoch())
            .count());
    uint64_t last = last_sequence.load();
    uint64_t next;
    do {
      next = std::max(now, last + 1);
    } while (!last_sequence.compare_exchange_weak(last, next));
    return next;
  }

  // Blocking. The deliveries an event calls for: the bucket's Lambda targets that match it and
  // that the function's policy lets S3 invoke.
  std::vector<Delivery> deliveries(std::string_view event, const std::string& bucket,
                                   const std::string& key, int64_t size, const std::string& etag,
                                   const Actor& actor, const std::string& rid) {
    std::vector<Delivery> out;
    auto config = config_of(bucket);
    if (!config.ok()) {
      log_error("s3: cannot read the notification configuration of " + bucket + ": " +
                config.error().message);
      return out;
    }
    if (*config == nullptr) return out;
    for (const NotificationTarget& t : (*config)->targets) {
      if (t.kind == TargetKind::kTopic || !matches(t, event, key)) continue;
      Result<bool> allowed(false);
      if (t.kind == TargetKind::kLambda && deps.may_invoke) {
        allowed = deps.may_invoke(t.arn, bucket_arn(bucket), actor.account_id);
      } else if (t.kind == TargetKind::kQueue && deps.may_send) {
        allowed = deps.may_send(t.arn, bucket_arn(bucket), actor.account_id);
      }
      if (!allowed.ok() || !*allowed) {
        log_info("s3: " + std::string(event) + " on " + bucket + "/" + key + " not sent to " +
                 t.arn + ": " +
                 (allowed.ok() ? std::string("its policy does not allow s3.amazonaws.com")
                               : allowed.error().message));
        continue;
      }
      EventObject e;
      e.event_name = std::string(event);
      e.bucket = bucket;
      e.key = key;
      e.size = size;
      e.etag = etag;
      e.sequencer = make_sequencer(next_sequence());
      e.time_ms = epoch_ms(deps.clock->now());
      e.region = deps.region;
      e.account_id = actor.account_id;
      e.principal_id = actor.principal_id;
      e.source_ip = actor.source_ip;
      e.request_id = rid;
      e.configuration_id = t.id;
      out.push_back(Delivery{t.arn, event_message_json(e), t.kind});
    }
    return out;
  }

  // After a committed change: queues the invocations it calls for, before the request that
  // caused it is answered (so an acknowledged write has its events stored).
  net::Task<void> notify(std::string event, std::string bucket, std::string key, int64_t size,
                         std::string etag, Actor actor, std::string rid) {
    if (!may_notify(bucket)) co_return;
    auto finding = blocking([this, event, bucket, key, size, etag, actor, rid] {
      return deliveries(event, bucket, key, size, etag, actor, rid);
    });
    std::vector<Delivery> ds = co_await std::move(finding);
    for (Delivery& d : ds) {
      Status st = Ok{};
      if (d.kind == TargetKind::kQueue) {
        auto sending = deps.send(d.arn, std::move(d.message));
        st = co_await std::move(sending);
      } else {
        auto queueing = deps.invoke_async(d.arn, std::move(d.message), actor.trace);
        st = co_await std::move(queueing);
      }
      if (!st.ok()) {
        log_error("s3: cannot queue the notification of " + bucket + "/" + key + " to " + d.arn +
                  ": " + st.error().message);
      }
    }
  }

  net::Task<Result<net::Response>> bucket_notification(net::Exchange& ex,
                                                       const auth::Caller& caller, const Named& n,
                                                       const std::string& rid) {
    const net::Request& req = ex.request();
    std::string bucket = n.bucket;
    if (req.method() == http::verb::get) {
      NUBO_CO_TRY(authorize(caller, "GetBucketNotification", bucket_arn(n.bucket)));
      auto finding = blocking([this, bucket] { return config_of(bucket); });
      auto config = co_await std::move(finding);
      if (!config.ok()) co_return config.error();
      co_return xml(req, rid, notification_config_xml(*config ? **config : NotificationConfig{}));
    }
    if (req.method() != http::verb::put) {
      co_return Error{"MethodNotAllowed", 405,
                      "The specified method is not allowed against this resource."};
    }
    NUBO_CO_TRY(authorize(caller, "PutBucketNotification", bucket_arn(n.bucket)));
    auto reading = read_small(ex, 256 * 1024);
    auto body = co_await std::move(reading);
    if (!body.ok()) co_return body.error();
    NUBO_CO_ASSIGN_OR_RETURN(NotificationConfig config, parse_notification_config(*body));
    bool validate = !iequals(net::header(req, "x-amz-skip-destination-validation"), "true");
    std::string account = caller.account_id;
    auto storing = blocking([this, bucket, config, validate, account]() -> Status {
      NUBO_ASSIGN_OR_RETURN(auto b, objects.bucket(bucket));
      if (!b) return Error{"NoSuchBucket", 404, "The specified bucket does not exist"};
      if (validate) {
        // As S3 does: each destination must exist and let S3 deliver to it. Topics are not
        // served by this node yet, so no configuration may name one.
        for (const NotificationTarget& t : config.targets) {
          bool ok = false;
          if (t.kind == TargetKind::kLambda && deps.may_invoke) {
            auto allowed = deps.may_invoke(t.arn, bucket_arn(bucket), account);
            ok = allowed.ok() && *allowed;
          } else if (t.kind == TargetKind::kQueue && deps.may_send) {
            auto allowed = deps.may_send(t.arn, bucket_arn(bucket), account);
            ok = allowed.ok() && *allowed;
          }
          if (!ok) {
            return Error{"InvalidArgument", 400,
                         "Unable to validate the following destination configurations"};
          }
        }
      }
      NUBO_TRY(objects.set_notification(bucket, notification_config_json(config)));
      std::lock_guard lock(notif_mu);
      notif_cache[bucket] =
          config.targets.empty() ? nullptr : std::make_shared<NotificationConfig>(config);
      return Ok{};
    });
    auto st = co_await std::move(storing);
    if (!st.ok()) co_return st.error();
    // S3 tells each queue it now delivers to with an s3:TestEvent message (S3 user guide,
    // "Event message structure": "When you configure an event notification, Amazon S3 sends a
    // test message").
    for (const NotificationTarget& t : config.targets) {
      if (t.kind != TargetKind::kQueue || !deps.send) continue;
      json::object test;
      test["Service"] = "Amazon S3";
      test["Event"] = "s3:TestEvent";
      test["Time"] = format_iso8601(deps.clock->now());
      test["Bucket"] = bucket;
      test["RequestId"] = rid;
      test["HostId"] = rid;
      auto sending = deps.send(t.arn, json::serialize(test));
      Status sent = co_await std::move(sending);
      if (!sent.ok()) log_warn("s3: test event to " + t.arn + ": " + sent.error().message);
    }
    co_return empty(req, rid);
  }

  // ------------------------------------------------------------------ bucket policies

  std::mutex policy_mu;
  // bucket -> its parsed policy (null: none), filled on a request's first need, replaced by
  // PutBucketPolicy / DeleteBucketPolicy, dropped with the bucket. GUARDED_BY(policy_mu)
  std::unordered_map<std::string, std::shared_ptr<const auth::Policy>> policy_cache;

  std::optional<std::shared_ptr<const auth::Policy>> cached_policy(const std::string& bucket) {
    std::lock_guard lock(policy_mu);
    auto it = policy_cache.find(bucket);
    if (it == policy_cache.end()) return std::nullopt;
    return it->second;
  }

  // Makes sure the bucket's policy is in the cache (a missing bucket leaves none), so that
  // authorize() can consult it without blocking. Root callers never need it.
  net::Task<void> load_policy(std::string bucket) {
    if (cached_policy(bucket)) co_return;
    auto loading = blocking([this, bucket]() -> bool {
      auto text = objects.policy(bucket);
      if (!text.ok()) return false;  // no such bucket: the handler answers that
      std::shared_ptr<const auth::Policy> policy;
      if (!text->empty()) {
        auto parsed = auth::parse_policy(*text);
        if (!parsed.ok()) {
          log_error("s3: the stored policy of " + bucket +
                    " does not parse: " + parsed.error().message);
          return false;
        }
        policy = std::make_shared<auth::Policy>(std::move(parsed).value());
      }
      std::lock_guard lock(policy_mu);
      policy_cache.emplace(bucket, std::move(policy));  // a newer put has assigned already
      return true;
    });
    co_await std::move(loading);
  }

  void forget_policy(const std::string& bucket) {
    std::lock_guard lock(policy_mu);
    policy_cache.erase(bucket);
  }

  net::Task<Result<net::Response>> bucket_policy(net::Exchange& ex, const auth::Caller& caller,
                                                 const Named& n, const std::string& rid) {
    const net::Request& req = ex.request();
    std::string bucket = n.bucket;
    auto method = req.method();
    if (method == http::verb::get) {
      NUBO_CO_TRY(authorize(caller, "GetBucketPolicy", bucket_arn(n.bucket)));
      auto reading = blocking([this, bucket] { return objects.policy(bucket); });
      auto text = co_await std::move(reading);
      if (!text.ok()) co_return text.error();
      if (text->empty()) {
        co_return Error{"NoSuchBucketPolicy", 404, "The bucket policy does not exist"};
      }
      net::Response res = base_response(req, http::status::ok, rid);
      res.set(http::field::content_type, "application/json");
      res.body() = *text;
      res.prepare_payload();
      co_return res;
    }
    std::string document;
    if (method == http::verb::put) {
      NUBO_CO_TRY(authorize(caller, "PutBucketPolicy", bucket_arn(n.bucket)));
      auto reading = read_small(ex, kMaxBucketPolicyBytes);
      auto body = co_await std::move(reading);
      if (!body.ok()) {
        co_return Error{"MalformedPolicy", 400, "Policies must be no larger than 20 KB"};
      }
      document = std::move(body).value();
      std::string_view t = trim(document);
      if (t.empty() || t.front() != '{') {
        co_return Error{"MalformedPolicy", 400,
                        "Policies must be valid JSON and the first byte must be '{'"};
      }
      auto parsed = auth::parse_policy(document);
      if (!parsed.ok()) co_return Error{"MalformedPolicy", 400, parsed.error().message};
      // Every statement must be about this bucket or its objects [S3: "Policy has invalid
      // resource"].
      auto json = parse_json(document);
      if (json.ok() && json->is_object()) {
        const json::value* statements = json->as_object().if_contains("Statement");
        std::vector<const json::value*> list;
        if (statements != nullptr && statements->is_array()) {
          for (const auto& s : statements->as_array()) list.push_back(&s);
        } else if (statements != nullptr) {
          list.push_back(statements);
        }
        for (const json::value* s : list) {
          if (!s->is_object()) continue;
          const json::value* r = s->as_object().if_contains("Resource");
          std::vector<std::string> resources;
          if (r != nullptr && r->is_string()) resources.emplace_back(r->as_string());
          if (r != nullptr && r->is_array()) {
            for (const auto& e : r->as_array()) {
              if (e.is_string()) resources.emplace_back(e.as_string());
            }
          }
          for (const std::string& res : resources) {
            std::string arn = bucket_arn(n.bucket);
            if (res != arn && !starts_with(res, arn + "/")) {
              co_return Error{"MalformedPolicy", 400, "Policy has invalid resource"};
            }
          }
        }
      }
    } else if (method == http::verb::delete_) {
      NUBO_CO_TRY(authorize(caller, "DeleteBucketPolicy", bucket_arn(n.bucket)));
    } else {
      co_return Error{"MethodNotAllowed", 405,
                      "The specified method is not allowed against this resource."};
    }
    auto storing = blocking([this, bucket, document]() -> Status {
      NUBO_TRY(objects.set_policy(bucket, document));
      std::shared_ptr<const auth::Policy> policy;
      if (!document.empty()) {
        NUBO_ASSIGN_OR_RETURN(auth::Policy parsed, auth::parse_policy(document));
        policy = std::make_shared<auth::Policy>(std::move(parsed));
      }
      std::lock_guard lock(policy_mu);
      policy_cache[bucket] = std::move(policy);
      return Ok{};
    });
    auto st = co_await std::move(storing);
    if (!st.ok()) co_return st.error();
    co_return empty(req, rid, http::status::no_content);
  }

  net::Task<Result<net::Response>> delete_object(const net::Request& req,
                                                 const auth::Caller& caller, const Named& n,
                                                 const std::string& rid) {
    NUBO_CO_TRY(authorize(caller, "DeleteObject", object_arn(n.bucket, n.key)));
    std::string bucket = n.bucket, key = n.key;
    auto job15 = blocking([this, bucket, key] { return objects.remove(bucket, key); });
    auto gone = co_await std::move(job15);
    if (!gone.ok()) co_return gone.error();
    if (*gone) {
      auto notifying =
          notify("ObjectRemoved:Delete", n.bucket, n.key, 0, "", actor_of(caller), rid);
      co_await std::move(notifying);
    }
    co_return empty(req, rid, http::status::no_content);
  }

  net::Task<Result<net::Response>> delete_objects(net::Exchange& ex, const auth::Caller& caller,
                                                  const Named& n, const std::string& rid) {
    auto reading = read_small(ex, 2 * 1024 * 1024);
    auto read = co_await std::move(reading);
    if (!read.ok()) co_return read.error();
    const std::string& body = *read;
    pugi::xml_document doc;
    Error malformed = malformed_xml();
    if (!doc.load_buffer(body.data(), body.size())) co_return malformed;
    pugi::xml_node del = doc.child("Delete");
    if (!del) co_return malformed;
    bool quiet = std::string(del.child_value("Quiet")) == "true";
    std::vector<std::string> keys;
    for (pugi::xml_node o : del.children("Object")) keys.emplace_back(o.child_value("Key"));
    if (keys.empty() || keys.size() > kMaxDeleteKeys) co_return malformed;
    std::string out = "<DeleteResult xmlns=\"" + std::string(kXmlns) + "\">";
    for (const std::string& key : keys) {
      Status allowed = authorize(caller, "DeleteObject", object_arn(n.bucket, key));
      Result<bool> r = allowed.ok() ? Result<bool>(false) : Result<bool>(allowed.error());
      if (allowed.ok()) {
        std::string bucket = n.bucket;
        auto job16 = blocking([this, bucket, key] { return objects.remove(bucket, key); });
        r = co_await std::move(job16);
      }
      if (r.ok() && *r) {
        auto notifying =
            notify("ObjectRemoved:Delete", n.bucket, key, 0, "", actor_of(caller), rid);
        co_await std::move(notifying);
      }
      if (r.ok()) {
        if (!quiet) out += "<Deleted><Key>" + xml_escape(key) + "</Key></Deleted>";
      } else if (r.error().code == "NoSuchBucket") {
        co_return r.error();
      } else {
        out += "<Error><Key>" + xml_escape(key) + "</Key><Code>" + xml_escape(r.error().code) +
               "</Code><Message>" + xml_escape(r.error().message) + "</Message></Error>";
      }
    }
    out += "</DeleteResult>";
    co_return xml(ex.request(), rid, out);
  }
};

S3Service::S3Service(S3Deps deps) : impl_(std::make_unique<Impl>(std::move(deps))) {}
S3Service::~S3Service() = default;

Status S3Service::start() {
  return impl_->objects.start();
}

net::Task<void> S3Service::handle(net::Exchange& ex, const auth::Caller& caller,
                                  std::string payload_hash) {
  auto handling = impl_->handle(ex, caller, std::move(payload_hash));
  co_await std::move(handling);
}

}  // namespace nubo::s3
