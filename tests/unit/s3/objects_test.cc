#include "services/s3/objects.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "base/crypto.h"
#include "base/ids.h"
#include "services/s3/limits.h"
#include "storage/files.h"
#include "storage/sqlite_store.h"

namespace nubo::s3 {
namespace {

class ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("nubo-s3-test-" + random_hex(6))).string();
    std::filesystem::create_directories(dir_);
    open();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void open() {
    objects_.reset();
    store_.reset();
    auto st = storage::open_sqlite_store({.path = dir_ + "/nubo.db"});
    ASSERT_TRUE(st.ok());
    store_ = std::move(st).value();
    objects_ = std::make_unique<ObjectStore>(store_.get(), dir_ + "/s3", &clock_, "us-east-1");
    ASSERT_TRUE(objects_->start().ok());
  }
  // Writes an object through an Upload, as the wire layer does.
  Result<ObjectInfo> put(const std::string& bucket, const std::string& key,
                         const std::string& bytes) {
    NUBO_ASSIGN_OR_RETURN(auto up, objects_->begin_upload());
    NUBO_TRY(objects_->append(*up, bytes.substr(0, bytes.size() / 2)));
    NUBO_TRY(objects_->append(*up, bytes.substr(bytes.size() / 2)));
    auto d = objects_->finish(*up);
    ObjectInfo meta;
    meta.bucket = bucket;
    meta.key = key;
    return objects_->commit(*up, meta, hex_encode(d.md5));
  }
  // Writes a part through an Upload.
  Result<PartInfo> part(const std::string& bucket, const std::string& key, const std::string& id,
                        int number, const std::string& bytes) {
    NUBO_ASSIGN_OR_RETURN(auto up, objects_->begin_upload());
    NUBO_TRY(objects_->append(*up, bytes));
    auto d = objects_->finish(*up);
    return objects_->commit_part(*up, bucket, key, id, number, hex_encode(d.md5));
  }
  // Reads an object whole through a Reader, in steps of `step` bytes.
  std::string read_all(const std::string& bucket, const std::string& key, size_t step = 7) {
    auto opened = objects_->open(bucket, key);
    EXPECT_TRUE(opened.ok() && opened->has_value());
    if (!opened.ok() || !opened->has_value()) return "";
    auto& reader = *(*opened)->reader;
    std::string out;
    std::vector<char> buf(step);
    while (true) {
      auto got = reader.read_at(static_cast<int64_t>(out.size()), buf.data(), buf.size());
      EXPECT_TRUE(got.ok());
      if (!got.ok() || *got == 0) break;
      out.append(buf.data(), *got);
    }
    return out;
  }
  static MultipartUpload upload_meta(const std::string& bucket, const std::string& key) {
    MultipartUpload m;
    m.bucket = bucket;
    m.key = key;
    return m;
  }
  size_t files() const {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_ + "/s3/objects")) {
      (void)e;
      ++n;
    }
    return n;
  }

  std::string dir_;
  FakeClock clock_{SystemTime(std::chrono::seconds(1700000000))};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<ObjectStore> objects_;
};

TEST_F(ObjectStoreTest, BucketNamesFollowS3sRules) {
  for (const char* ok : {"abc", "my-bucket.logs", "a1b2c3", "0bucket9"}) {
    EXPECT_TRUE(check_bucket_name(ok).ok()) << ok;
  }
  for (const char* bad :
       {"ab", "Upper", "under_score", "-start", "end-", "two..dots", "192.168.1.1", ""}) {
    auto st = check_bucket_name(bad);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.error().code, "InvalidBucketName");
  }
  EXPECT_FALSE(check_bucket_name(std::string(64, 'a')).ok());
}

TEST_F(ObjectStoreTest, BucketsAndTheirErrors) {
  ASSERT_TRUE(objects_->create_bucket("photos").ok());
  auto again = objects_->create_bucket("photos");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "BucketAlreadyOwnedByYou");
  EXPECT_EQ(again.error().status, 409);
  ASSERT_TRUE(put("photos", "a.jpg", "jpeg").ok());
  auto busy = objects_->delete_bucket("photos");
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code, "BucketNotEmpty");
  ASSERT_TRUE(objects_->remove("photos", "a.jpg").value());
  EXPECT_FALSE(objects_->remove("photos", "a.jpg").value());
  EXPECT_TRUE(objects_->delete_bucket("photos").ok());
  auto gone = objects_->delete_bucket("photos");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, "NoSuchBucket");
  auto missing = put("photos", "b", "x");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "NoSuchBucket");
  EXPECT_EQ(files(), 0u);  // the refused upload left no file behind
}

TEST_F(ObjectStoreTest, ObjectsAreReplacedWholeAndTheirFilesFollow) {
  ASSERT_TRUE(objects_->create_bucket("docs").ok());
  auto first = put("docs", "k", "first version");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->etag, md5_hex("first version"));
  EXPECT_EQ(first->size, 13);
  auto second = put("docs", "k", "second");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(files(), 1u);  // the replaced bytes are gone
  auto head = objects_->head("docs", "k");
  ASSERT_TRUE(head.ok() && head->has_value());
  EXPECT_EQ((*head)->etag, md5_hex("second"));
  std::ifstream in(objects_->path_of((*head)->segments.at(0)));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes, "second");
  EXPECT_FALSE(objects_->head("docs", "other").value().has_value());
  auto nobucket = objects_->head("nope", "k");
  ASSERT_FALSE(nobucket.ok());
  EXPECT_EQ(nobucket.error().code, "NoSuchBucket");
}

TEST_F(ObjectStoreTest, ListingOrdersByBytesGroupsPrefixesAndPages) {
  ASSERT_TRUE(objects_->create_bucket("list").ok());
  for (const char* k : {"b", "a/2", "a/1", "a/x/3", "c/4", "B", "a%"}) {
    ASSERT_TRUE(put("list", k, k).ok());
  }
  auto all = objects_->list("list", ListQuery{});
  ASSERT_TRUE(all.ok());
  std::vector<std::string> keys;
  for (const auto& o : all->objects) keys.push_back(o.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"B", "a%", "a/1", "a/2", "a/x/3", "b", "c/4"}));
  ListQuery grouped;
  grouped.delimiter = "/";
  auto g = objects_->list("list", grouped);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->common_prefixes, (std::vector<std::string>{"a/", "c/"}));
  ASSERT_EQ(g->objects.size(), 3u);  // B, a%, b
  ListQuery in_a;
  in_a.prefix = "a/";
  in_a.delimiter = "/";
  auto a = objects_->list("list", in_a);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->objects.size(), 2u);
  EXPECT_EQ(a->common_prefixes, (std::vector<std::string>{"a/x/"}));
  // Pages of two, each starting after the last one's marker, cover every key once.
  ListQuery page;
  page.max_keys = 2;
  std::vector<std::string> paged;
  while (true) {
    auto p = objects_->list("list", page);
    ASSERT_TRUE(p.ok());
    for (const auto& o : p->objects) paged.push_back(o.key);
    if (!p->truncated) break;
    page.start_after = p->next_marker;
  }
  EXPECT_EQ(paged, keys);
}

TEST_F(ObjectStoreTest, StartRemovesUnfinishedUploadsAndFilesNoObjectNames) {
  ASSERT_TRUE(objects_->create_bucket("keep").ok());
  ASSERT_TRUE(put("keep", "k", "kept").ok());
  // A crash mid-upload, and one between placing a file and committing its row.
  ASSERT_TRUE(storage::write_file_atomic(dir_ + "/s3/tmp/partial", "half").ok());
  ASSERT_TRUE(storage::write_file_atomic(dir_ + "/s3/objects/orphan", "never committed").ok());
  open();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/s3/tmp/partial"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/s3/objects/orphan"));
  auto head = objects_->head("keep", "k");
  ASSERT_TRUE(head.ok() && head->has_value());
  EXPECT_TRUE(std::filesystem::exists(objects_->path_of((*head)->segments.at(0))));
}

TEST_F(ObjectStoreTest, MultipartPartsBecomeTheObjectsSegmentsWithoutCopying) {
  ASSERT_TRUE(objects_->create_bucket("mpu").ok());
  MultipartUpload meta;
  meta.bucket = "mpu";
  meta.key = "big";
  meta.content_type = "video/mp4";
  meta.tags = {{"t", "1"}};
  auto up = objects_->create_multipart(meta);
  ASSERT_TRUE(up.ok());
  const std::string id = up->upload_id;
  std::string a(kMinPartBytes, 'a'), b = "tail bytes";
  auto p1 = part("mpu", "big", id, 1, a);
  ASSERT_TRUE(p1.ok());
  auto p2 = part("mpu", "big", id, 2, "to be replaced");
  ASSERT_TRUE(p2.ok());
  ASSERT_TRUE(part("mpu", "big", id, 2, b).ok());  // a part uploaded again replaces the first
  ASSERT_TRUE(part("mpu", "big", id, 3, "never listed").ok());
  EXPECT_EQ(files(), 3u);
  auto listed = objects_->parts("mpu", "big", id, 0, 2);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->first.size(), 2u);
  EXPECT_TRUE(listed->second);
  EXPECT_EQ(listed->first[1].etag, md5_hex(b));
  auto rest = objects_->parts("mpu", "big", id, 2, 2);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->first.size(), 1u);
  EXPECT_FALSE(rest->second);

  auto done = objects_->complete_multipart("mpu", "big", id,
                                           {{1, "\"" + p1->etag + "\""}, {2, md5_hex(b)}});
  ASSERT_TRUE(done.ok()) << done.error().message;
  // The ETag is the MD5 of the parts' MD5s with the part count.
  std::string md5s = *hex_decode(md5_hex(a)) + *hex_decode(md5_hex(b));
  EXPECT_EQ(done->etag, md5_hex(md5s) + "-2");
  EXPECT_EQ(done->size, static_cast<int64_t>(a.size() + b.size()));
  EXPECT_EQ(files(), 2u);  // part 3's file went with the upload
  auto head = objects_->head("mpu", "big");
  ASSERT_TRUE(head.ok() && head->has_value());
  EXPECT_EQ((*head)->segments.size(), 2u);
  EXPECT_EQ((*head)->content_type, "video/mp4");
  EXPECT_EQ((*head)->tags, (Pairs{{"t", "1"}}));
  // A read across the segment boundary.
  auto opened = objects_->open("mpu", "big");
  ASSERT_TRUE(opened.ok() && opened->has_value());
  std::vector<char> buf(8);
  auto got = (*opened)->reader->read_at(static_cast<int64_t>(a.size()) - 3, buf.data(), 8);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(std::string(buf.data(), *got), "aaa");  // a read stops at a segment's end
  EXPECT_EQ(read_all("mpu", "big", 1 << 20), a + b);
  // The upload is gone; deleting the object removes every segment.
  auto again = objects_->complete_multipart("mpu", "big", id, {{1, p1->etag}});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "NoSuchUpload");
  EXPECT_EQ(again.error().status, 404);
  ASSERT_TRUE(objects_->remove("mpu", "big").value());
  EXPECT_EQ(files(), 0u);
}

TEST_F(ObjectStoreTest, CompleteRefusesBadPartListsAndChangesNothing) {
  ASSERT_TRUE(objects_->create_bucket("mpu").ok());
  auto up = objects_->create_multipart(upload_meta("mpu", "k"));
  ASSERT_TRUE(up.ok());
  const std::string id = up->upload_id;
  auto p1 = part("mpu", "k", id, 1, "small");
  auto p2 = part("mpu", "k", id, 2, "also small");
  ASSERT_TRUE(p1.ok() && p2.ok());
  auto code_of = [&](std::vector<std::pair<int, std::string>> listed) {
    auto r = objects_->complete_multipart("mpu", "k", id, listed);
    return r.ok() ? std::string("ok") : r.error().code;
  };
  EXPECT_EQ(code_of({{2, p2->etag}, {1, p1->etag}}), "InvalidPartOrder");
  EXPECT_EQ(code_of({{1, p1->etag}, {1, p1->etag}}), "InvalidPartOrder");
  EXPECT_EQ(code_of({{1, p2->etag}}), "InvalidPart");  // the wrong ETag for the number
  EXPECT_EQ(code_of({{4, p1->etag}}), "InvalidPart");  // never uploaded
  EXPECT_EQ(code_of({{1, p1->etag}, {2, p2->etag}}), "EntityTooSmall");
  EXPECT_EQ(code_of({}), "MalformedXML");
  EXPECT_FALSE(objects_->head("mpu", "k").value().has_value());
  EXPECT_EQ(objects_->parts("mpu", "k", id, 0, 100).value().first.size(), 2u);
  // A single small part is a whole object (the last part may be any size).
  auto one = objects_->complete_multipart("mpu", "k", id, {{2, p2->etag}});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(read_all("mpu", "k"), "also small");
  EXPECT_EQ(files(), 1u);
}

TEST_F(ObjectStoreTest, UploadsAbortListAndSurviveARestart) {
  ASSERT_TRUE(objects_->create_bucket("mpu").ok());
  auto u1 = objects_->create_multipart(upload_meta("mpu", "dir/a"));
  auto u2 = objects_->create_multipart(upload_meta("mpu", "dir/a"));
  auto u3 = objects_->create_multipart(upload_meta("mpu", "top"));
  ASSERT_TRUE(u1.ok() && u2.ok() && u3.ok());
  ASSERT_TRUE(part("mpu", "dir/a", u1->upload_id, 1, "kept across a restart").ok());
  // Another key's upload id names no upload of this key.
  auto wrong = part("mpu", "top", u1->upload_id, 1, "x");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, "NoSuchUpload");
  open();  // a restart: the committed part and the uploads are still there
  auto parts = objects_->parts("mpu", "dir/a", u1->upload_id, 0, 10);
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->first.size(), 1u);
  EXPECT_EQ(files(), 1u);

  auto all = objects_->uploads("mpu", UploadsQuery{});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->uploads.size(), 3u);
  EXPECT_EQ(all->uploads[0].key, "dir/a");
  EXPECT_EQ(all->uploads[2].key, "top");
  UploadsQuery grouped;
  grouped.delimiter = "/";
  auto g = objects_->uploads("mpu", grouped);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->common_prefixes, (std::vector<std::string>{"dir/"}));
  ASSERT_EQ(g->uploads.size(), 1u);
  // Pages of one, resumed with both markers, visit every upload once.
  UploadsQuery page;
  page.max_uploads = 1;
  std::vector<std::string> seen;
  while (true) {
    auto p = objects_->uploads("mpu", page);
    ASSERT_TRUE(p.ok());
    for (const auto& u : p->uploads) seen.push_back(u.upload_id);
    if (!p->truncated) break;
    page.key_marker = p->next_key_marker;
    page.upload_id_marker = p->next_upload_id_marker;
  }
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 3u);

  ASSERT_TRUE(objects_->abort_multipart("mpu", "dir/a", u1->upload_id).ok());
  EXPECT_EQ(files(), 0u);
  auto gone = objects_->abort_multipart("mpu", "dir/a", u1->upload_id);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, "NoSuchUpload");
  // A bucket's deletion takes its uploads in progress with it.
  ASSERT_TRUE(part("mpu", "top", u3->upload_id, 1, "x").ok());
  ASSERT_TRUE(objects_->delete_bucket("mpu").ok());
  EXPECT_EQ(files(), 0u);
}

TEST_F(ObjectStoreTest, ReadersKeepTheirBytesWhenTheObjectIsReplaced) {
  ASSERT_TRUE(objects_->create_bucket("rdr").ok());
  ASSERT_TRUE(put("rdr", "k", "old bytes").ok());
  auto opened = objects_->open("rdr", "k");
  ASSERT_TRUE(opened.ok() && opened->has_value());
  ASSERT_TRUE(put("rdr", "k", "new").ok());  // unlinks the old file
  std::vector<char> buf(64);
  auto got = (*opened)->reader->read_at(0, buf.data(), buf.size());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(std::string(buf.data(), *got), "old bytes");
  EXPECT_EQ(read_all("rdr", "k"), "new");
  // Copying through a Reader, and tags.
  auto src = objects_->open("rdr", "k");
  ASSERT_TRUE(src.ok() && src->has_value());
  auto up = objects_->begin_upload();
  ASSERT_TRUE(up.ok());
  ASSERT_TRUE(objects_->copy_into(**up, *(*src)->reader, 1, 2).ok());
  auto d = objects_->finish(**up);
  ObjectInfo target;
  target.bucket = "rdr";
  target.key = "c";
  ASSERT_TRUE(objects_->commit(**up, target, hex_encode(d.md5)).ok());
  EXPECT_EQ(read_all("rdr", "c"), "ew");
  ASSERT_TRUE(objects_->set_tags("rdr", "c", {{"a", "b"}}).ok());
  EXPECT_EQ(objects_->head("rdr", "c").value()->tags, (Pairs{{"a", "b"}}));
  auto missing = objects_->set_tags("rdr", "nope", {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "NoSuchKey");
}

}  // namespace
}  // namespace nubo::s3
