#include "services/s3/objects.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/ids.h"
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
  std::ifstream in(objects_->path_of(**head));
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
  EXPECT_TRUE(std::filesystem::exists(objects_->path_of(**head)));
}

}  // namespace
}  // namespace nubo::s3
