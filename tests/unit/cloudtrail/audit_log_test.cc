#include "services/cloudtrail/audit_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "base/ids.h"

namespace nubo::cloudtrail {
namespace {

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("nubo-audit-" + random_hex(6))).string();
    std::filesystem::create_directories(dir_);
    store_ = storage::open_sqlite_store({.path = dir_ + "/nubo.db", .strict = false}).value();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  auth::AuditEvent event(const std::string& name, bool allowed) {
    auth::AuditEvent e;
    e.time = clock_.now();
    e.event_source = "lambda.amazonaws.com";
    e.event_name = name;
    e.action = "lambda:" + name;
    e.principal_arn = "arn:aws:iam::000000000000:user/alice";
    e.access_key_id = "AKIAALICE";
    e.resource = "*";
    e.allowed = allowed;
    e.source_ip = "127.0.0.1";
    return e;
  }

  int64_t count(const std::string& where = "1 = 1") {
    return store_->query("SELECT COUNT(*) FROM audit_events WHERE " + where)->at(0).integer(0);
  }

  std::string dir_;
  FakeClock clock_{SystemTime(std::chrono::seconds(1700000000))};
  std::unique_ptr<storage::Store> store_;
};

TEST_F(AuditLogTest, StoresEveryDecisionInBatchesAndOnStop) {
  AuditLog log(store_.get(), &clock_, "us-east-1");
  ASSERT_TRUE(log.start().ok());
  for (int i = 0; i < 500; ++i) log.record(event("ListFunctions", true));
  log.record(event("DeleteFunction", false));
  log.flush();
  EXPECT_EQ(count(), 501);
  EXPECT_EQ(count("allowed = 0 AND event_name = 'DeleteFunction'"), 1);
  // Recorded from several threads at once, then stop(): nothing is lost.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 250; ++i) log.record(event("GetFunction", true));
    });
  }
  for (auto& t : threads) t.join();
  log.stop();
  EXPECT_EQ(count("event_name = 'GetFunction'"), 1000);
  // A second start (after a restart) appends to the same table.
  AuditLog again(store_.get(), &clock_, "us-east-1");
  ASSERT_TRUE(again.start().ok());
  again.record(event("GetAccountSettings", true));
  again.flush();
  EXPECT_EQ(count(), 1502);
}

}  // namespace
}  // namespace nubo::cloudtrail
