#include "runtime/pool.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <thread>

namespace nubo::runtime {
namespace {

using namespace std::chrono_literals;

struct FakeMember : PoolMember {
  explicit FakeMember(int id_) : id(id_) {}
  bool alive() const override { return live; }
  const void* home() const override { return where; }
  bool pinned() const override { return pin; }
  bool fresh() const override { return is_fresh; }
  int id;
  bool live = true;
  bool is_fresh = true;
  bool pin = false;
  const void* where = nullptr;
};

std::shared_ptr<FakeMember> member(int id) {
  return std::make_shared<FakeMember>(id);
}
int id_of(const Pool::Member& m) {
  return m ? static_cast<FakeMember*>(m.get())->id : -1;
}

constexpr const char* kArn = "arn:aws:lambda:us-east-1:000000000000:function:f";

class PoolTest : public ::testing::Test {
 protected:
  Pool pool_;
  std::vector<Pool::Member> retired_;
  Pool::SteadyTime t0_ = std::chrono::steady_clock::now();
  std::string latest_ = std::string(kArn) + ":$LATEST";
};

TEST_F(PoolTest, EmptyPoolHasNothingIdle) {
  EXPECT_EQ(pool_.take_idle(latest_, "r1", &retired_), nullptr);
  EXPECT_TRUE(retired_.empty());
}

TEST_F(PoolTest, MostRecentlyUsedFirst) {
  EXPECT_EQ(pool_.take_idle(latest_, "r1", &retired_), nullptr);
  pool_.put_idle(latest_, "r1", member(1), t0_, &retired_);
  pool_.put_idle(latest_, "r1", member(2), t0_ + 1ms, &retired_);
  pool_.put_idle(latest_, "r1", member(3), t0_ + 2ms, &retired_);
  EXPECT_EQ(pool_.idle_count(), 3u);
  EXPECT_EQ(id_of(pool_.take_idle(latest_, "r1", &retired_)), 3);
  EXPECT_EQ(id_of(pool_.take_idle(latest_, "r1", &retired_)), 2);
  EXPECT_EQ(id_of(pool_.take_idle(latest_, "r1", &retired_)), 1);
  EXPECT_EQ(pool_.take_idle(latest_, "r1", &retired_), nullptr);
  EXPECT_TRUE(retired_.empty());
}

TEST_F(PoolTest, AMemberWhoseCredentialsAreAboutToExpireIsRetiredNotServed) {
  EXPECT_EQ(pool_.take_idle(latest_, "r1", &retired_), nullptr);  // the version is current
  auto stale = member(1);
  pool_.put_idle(latest_, "r1", stale, t0_, &retired_);
  pool_.put_idle(latest_, "r1", member(2), t0_ + 1ms, &retired_);
  stale->is_fresh = false;  // still running, but its credentials run out soon
  EXPECT_EQ(id_of(pool_.take_idle(latest_, "r1", &retired_)), 2);
  EXPECT_EQ(pool_.take_idle(latest_, "r1", &retired_), nullptr);
  ASSERT_EQ(retired_.size(), 1u);  // handed back to be stopped, not dropped running
  EXPECT_EQ(id_of(retired_[0]), 1);
  // Back from an invocation, a stale one is retired too.
  retired_.clear();
  pool_.put_idle(latest_, "r1", stale, t0_ + 2ms, &retired_);
  ASSERT_EQ(retired_.size(), 1u);
  EXPECT_EQ(pool_.idle_count(), 0u);
  // And the reaper takes a pinned (provisioned) stale one as well.
  retired_.clear();
  auto pinned = member(3);
  pinned->pin = true;
  pool_.put_idle(latest_, "r1", pinned, t0_ + 3ms, &retired_);
  pinned->is_fresh = false;
  EXPECT_EQ(pool_.take_expired(t0_ + 4ms, std::chrono::hours(1)).size(), 1u);
}

TEST_F(PoolTest, VersionsAreSeparate) {
  std::string v1 = std::string(kArn) + ":1";
  pool_.take_idle(latest_, "r1", &retired_);
  pool_.take_idle(v1, "r1", &retired_);
  pool_.put_idle(latest_, "r1", member(1), t0_, &retired_);
  EXPECT_EQ(pool_.take_idle(v1, "r1", &retired_), nullptr);
  EXPECT_EQ(id_of(pool_.take_idle(latest_, "r1", &retired_)), 1);
}

TEST_F(PoolTest, ANewRevisionRetiresTheOldInstances) {
  pool_.take_idle(latest_, "r1", &retired_);
  pool_.put_idle(latest_, "r1", member(1), t0_, &retired_);
  pool_.put_idle(latest_, "r1", member(2), t0_, &retired_);
  EXPECT_EQ(pool_.take_idle(latest_, "r2", &retired_), nullptr);
  ASSERT_EQ(retired_.size(), 2u);
  retired_.clear();
  // An invocation of r1 that was in flight hands its instance back: it is retired too.
  pool_.put_idle(latest_, "r1", member(3), t0_, &retired_);
  ASSERT_EQ(retired_.size(), 1u);
  EXPECT_EQ(id_of(retired_[0]), 3);
  EXPECT_EQ(pool_.idle_count(), 0u);
}

TEST_F(PoolTest, DeadInstancesAreNeverHandedOut) {
  pool_.take_idle(latest_, "r1", &retired_);
  auto live = member(1);
  auto dead = member(2);
  pool_.put_idle(latest_, "r1", live, t0_, &retired_);
  pool_.put_idle(latest_, "r1", dead, t0_, &retired_);
  dead->live = false;
  EXPECT_EQ(id_of(pool_.take_idle(latest_, "r1", &retired_)), 1);
  ASSERT_EQ(retired_.size(), 1u);
  EXPECT_EQ(id_of(retired_[0]), 2);
  retired_.clear();
  pool_.put_idle(latest_, "r1", dead, t0_, &retired_);
  EXPECT_EQ(retired_.size(), 1u);
}

TEST_F(PoolTest, IdleInstancesExpire) {
  pool_.take_idle(latest_, "r1", &retired_);
  pool_.put_idle(latest_, "r1", member(1), t0_, &retired_);
  pool_.put_idle(latest_, "r1", member(2), t0_ + 5s, &retired_);
  EXPECT_TRUE(pool_.take_expired(t0_ + 9s, 10s).empty());
  auto expired = pool_.take_expired(t0_ + 10s, 10s);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(id_of(expired[0]), 1);
  EXPECT_EQ(pool_.idle_count(), 1u);
  EXPECT_EQ(pool_.take_expired(t0_ + 15s, 10s).size(), 1u);
  EXPECT_EQ(pool_.idle_count(), 0u);
}

TEST_F(PoolTest, RetiringAFunctionTakesAllItsVersionsAndOnlyThem) {
  std::string v1 = std::string(kArn) + ":1";
  std::string other = std::string(kArn) + "2:$LATEST";  // function "f2" shares the prefix
  for (const auto& arn : {latest_, v1, other}) {
    pool_.take_idle(arn, "r1", &retired_);
    pool_.put_idle(arn, "r1", member(1), t0_, &retired_);
  }
  EXPECT_EQ(pool_.take_function(kArn).size(), 2u);
  EXPECT_EQ(pool_.idle_count(), 1u);
  // A busy instance handed back after the delete is retired.
  pool_.put_idle(latest_, "r1", member(9), t0_, &retired_);
  EXPECT_EQ(retired_.size(), 1u);
  EXPECT_EQ(pool_.take_all().size(), 1u);
  EXPECT_EQ(pool_.idle_count(), 0u);
}

TEST(ConcurrencyLimiterTest, CountsUpToTheLimit) {
  ConcurrencyLimiter limiter(2);
  EXPECT_TRUE(limiter.try_acquire());
  EXPECT_TRUE(limiter.try_acquire());
  EXPECT_FALSE(limiter.try_acquire());
  EXPECT_EQ(limiter.in_use(), 2);
  limiter.release();
  EXPECT_TRUE(limiter.try_acquire());
  EXPECT_FALSE(limiter.try_acquire());
}

TEST(ConcurrencyLimiterTest, NeverExceedsTheLimitUnderContention) {
  ConcurrencyLimiter limiter(3);
  std::atomic<int> inside{0}, peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (!limiter.try_acquire()) continue;
        int now = inside.fetch_add(1) + 1;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        inside.fetch_sub(1);
        limiter.release();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(peak.load(), 3);
  EXPECT_EQ(limiter.in_use(), 0);
}

TEST_F(PoolTest, PrefersAnIdleInstanceFromTheCallersHome) {
  int shard_a = 0, shard_b = 0;
  auto a1 = member(1), b2 = member(2), a3 = member(3), dead_b = member(4);
  a1->where = a3->where = &shard_a;
  b2->where = dead_b->where = &shard_b;
  pool_.take_idle(latest_, "r1", &retired_);
  // Most recently used last: a3, then dead_b (it dies while idle), then b2, then a1.
  for (auto& m : {a1, b2, dead_b, a3}) pool_.put_idle(latest_, "r1", m, t0_, &retired_);
  ASSERT_TRUE(retired_.empty());
  dead_b->live = false;
  // From shard b: the live one there, although it is not the most recently used; the dead one
  // on the way is retired.
  EXPECT_EQ(id_of(pool_.take_idle(latest_, "r1", &retired_, &shard_b)), 2);
  ASSERT_EQ(retired_.size(), 1u);
  EXPECT_EQ(id_of(retired_[0]), 4);
  // None left on b: the most recently used one elsewhere rather than a cold start.
  EXPECT_EQ(id_of(pool_.take_idle(latest_, "r1", &retired_, &shard_b)), 3);
  EXPECT_EQ(id_of(pool_.take_idle(latest_, "r1", &retired_, &shard_a)), 1);
  EXPECT_EQ(pool_.take_idle(latest_, "r1", &retired_, &shard_a), nullptr);
}

TEST_F(PoolTest, AddedAheadPinnedOnesNeverExpireButDeadOnesGo) {
  std::string v1 = std::string(kArn) + ":1";
  auto pinned = member(1), plain = member(2), dead = member(3);
  pinned->pin = dead->pin = true;
  // No invocation has asked for v1 yet: add_idle makes the entry.
  pool_.add_idle(v1, "r1", pinned, t0_, &retired_);
  pool_.add_idle(v1, "r1", plain, t0_, &retired_);
  pool_.add_idle(v1, "r1", dead, t0_, &retired_);
  ASSERT_TRUE(retired_.empty());
  EXPECT_EQ(pool_.idle_count(), 3u);
  dead->live = false;
  auto out = pool_.take_expired(t0_ + 1h, 10min);
  std::vector<int> ids;
  for (auto& m : out) ids.push_back(id_of(m));
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<int>{2, 3}));
  EXPECT_EQ(id_of(pool_.take_idle(v1, "r1", &retired_)), 1);
  // Once unpinned it ages out like any other.
  pinned->pin = false;
  pool_.put_idle(v1, "r1", pinned, t0_, &retired_);
  EXPECT_EQ(pool_.take_expired(t0_ + 1h, 10min).size(), 1u);
  // A dead instance is never added.
  pool_.add_idle(v1, "r1", dead, t0_, &retired_);
  ASSERT_EQ(retired_.size(), 1u);
  EXPECT_EQ(pool_.idle_count(), 0u);
}

TEST_F(PoolTest, TakeMemberTakesThatOneIfItIsIdle) {
  auto a = member(1), b = member(2);
  pool_.add_idle(latest_, "r1", a, t0_, &retired_);
  pool_.add_idle(latest_, "r1", b, t0_, &retired_);
  EXPECT_EQ(id_of(pool_.take_member(latest_, a.get())), 1);
  EXPECT_EQ(pool_.take_member(latest_, a.get()), nullptr);  // not there any more
  EXPECT_EQ(pool_.take_member("other", b.get()), nullptr);
  EXPECT_EQ(pool_.idle_count(), 1u);
}

}  // namespace
}  // namespace nubo::runtime
