#include "storage/sqlite_store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "storage/files.h"

namespace nubo::storage {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("nubo-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<Store> open() {
    auto r = open_sqlite_store({.path = (dir_ / "t.db").string()});
    EXPECT_TRUE(r.ok());
    return std::move(r).value();
  }
  std::filesystem::path dir_;
};

TEST_F(StoreTest, MigrateAppliesEachStatementOnce) {
  auto s = open();
  ASSERT_TRUE(s->migrate("c", {"CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)"}).ok());
  // Re-running with one more statement applies only the new one.
  ASSERT_TRUE(s->migrate("c", {"CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)",
                               "CREATE INDEX t_v ON t(v)"})
                  .ok());
  auto rows = s->query("SELECT name FROM sqlite_master WHERE name = 't_v'");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 1u);
}

TEST_F(StoreTest, TransactionCommitsOrRollsBack) {
  auto s = open();
  ASSERT_TRUE(s->migrate("c", {"CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)"}).ok());
  ASSERT_TRUE(s->transaction([](Txn& t) -> Status {
                 NUBO_TRY(t.exec("INSERT INTO t VALUES (?, ?)", {std::string("a"), int64_t{1}}));
                 return Ok{};
               }).ok());
  Status failed = s->transaction([](Txn& t) -> Status {
    NUBO_TRY(t.exec("INSERT INTO t VALUES (?, ?)", {std::string("b"), int64_t{2}}));
    return Error{"ConditionalCheckFailedException", 400, "no"};
  });
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, "ConditionalCheckFailedException");
  auto rows = s->query("SELECT k, v FROM t ORDER BY k");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].text(0), "a");
  EXPECT_EQ((*rows)[0].integer(1), 1);
}

TEST_F(StoreTest, SqlErrorIsServiceError) {
  auto s = open();
  Status st = s->transaction([](Txn& t) -> Status {
    NUBO_TRY(t.exec("INSERT INTO missing VALUES (1)"));
    return Ok{};
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().status, 500);
}

TEST_F(StoreTest, PreparedStatementsAreReusedAndFollowTheSchema) {
  auto s = open();
  ASSERT_TRUE(s->migrate("c", {"CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)"}).ok());
  // The same statement again and again, with other parameters each time: nothing of one run
  // (bindings, a half-read result) leaks into the next.
  for (int64_t i = 0; i < 50; ++i) {
    ASSERT_TRUE(
        s->transaction([&](Txn& t) -> Status {
           NUBO_TRY(t.exec("INSERT INTO t(k, v) VALUES(?, ?)", {"k" + std::to_string(i), i}));
           return Ok{};
         }).ok());
  }
  auto one = s->query("SELECT v FROM t WHERE k = ?", {std::string("k7")});
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].integer(0), 7);
  one = s->query("SELECT v FROM t WHERE k = ?", {std::string("k8")});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ((*one)[0].integer(0), 8);
  // A statement stopped after its first row (LIMIT) and one whose step fails both leave the
  // connection usable: the writer can still commit.
  ASSERT_TRUE(s->query("SELECT k FROM t LIMIT 1").ok());
  EXPECT_FALSE(s->transaction([](Txn& t) -> Status {
                  NUBO_TRY(t.exec("INSERT INTO t(k, v) VALUES('k1', 1)"));  // a duplicate key
                  return Ok{};
                }).ok());
  EXPECT_TRUE(s->transaction([](Txn& t) -> Status {
                 NUBO_TRY(t.exec("UPDATE t SET v = v + 1 WHERE k = 'k1'"));
                 return Ok{};
               }).ok());
  // More distinct statements than a connection keeps: every one still runs.
  for (int i = 0; i < 300; ++i) {
    auto r = s->query("SELECT " + std::to_string(i) + " + v FROM t WHERE k = 'k0'");
    ASSERT_TRUE(r.ok());
    ASSERT_EQ((*r)[0].integer(0), i);
  }
  // A cached statement sees a schema change made through another connection.
  auto star = s->query("SELECT * FROM t WHERE k = 'k2'");
  ASSERT_TRUE(star.ok());
  EXPECT_EQ((*star)[0].size(), 2u);
  ASSERT_TRUE(s->migrate("c", {"CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)",
                               "ALTER TABLE t ADD COLUMN w TEXT DEFAULT 'x'"})
                  .ok());
  star = s->query("SELECT * FROM t WHERE k = 'k2'");
  ASSERT_TRUE(star.ok());
  ASSERT_EQ((*star)[0].size(), 3u);
  EXPECT_EQ((*star)[0].text(2), "x");
}

TEST_F(StoreTest, BlobsAndNullsRoundTrip) {
  auto s = open();
  ASSERT_TRUE(s->migrate("c", {"CREATE TABLE b (k INTEGER, v BLOB, n TEXT)"}).ok());
  std::string bytes("\0\1\2xyz", 6);
  ASSERT_TRUE(
      s->transaction([&](Txn& t) -> Status {
         NUBO_TRY(t.exec("INSERT INTO b VALUES (?, ?, ?)", {int64_t{1}, Blob{bytes}, Null{}}));
         return Ok{};
       }).ok());
  auto rows = s->query("SELECT v, n FROM b");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0].text(0), bytes);
  EXPECT_TRUE((*rows)[0].is_null(1));
  EXPECT_FALSE((*rows)[0].opt_text(1).has_value());
}

// An acknowledged write survives a kill -9 of the writing process.
TEST_F(StoreTest, CommittedWriteSurvivesKill9) {
  std::string path = (dir_ / "t.db").string();
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto s = open_sqlite_store({.path = path});
    if (!s.ok()) ::_exit(1);
    if (!(*s)->migrate("c", {"CREATE TABLE t (k TEXT)"}).ok()) ::_exit(1);
    for (int i = 0; i < 100; ++i) {
      if (!(*s)->transaction([&](Txn& t) -> Status {
                 NUBO_TRY(t.exec("INSERT INTO t VALUES (?)", {std::to_string(i)}));
                 return Ok{};
               })
               .ok())
        ::_exit(1);
    }
    char ack = 'y';
    (void)!::write(pipefd[1], &ack, 1);  // "acknowledged"
    ::pause();
    ::_exit(0);
  }
  char ack = 0;
  ASSERT_EQ(::read(pipefd[0], &ack, 1), 1);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  auto s = open_sqlite_store({.path = path});
  ASSERT_TRUE(s.ok());
  auto rows = (*s)->query("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0].integer(0), 100);
  ::close(pipefd[0]);
  ::close(pipefd[1]);
}

TEST_F(StoreTest, WriteFileAtomicReplacesWholeFile) {
  std::string p = (dir_ / "sub" / "f.bin").string();
  ASSERT_TRUE(write_file_atomic(p, "first").ok());
  ASSERT_TRUE(write_file_atomic(p, "second").ok());
  auto r = read_file(p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "second");
  // No temporary files left behind.
  int n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir_ / "sub")) ++n;
  EXPECT_EQ(n, 1);
  EXPECT_FALSE(read_file((dir_ / "nope").string()).ok());
}

}  // namespace
}  // namespace nubo::storage
