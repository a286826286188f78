#include "billing/meter.h"

#include <gtest/gtest.h>

namespace nubo::billing {
namespace {

TEST(MeterTest, RoundsUpToWholeMillisecond) {
  EXPECT_EQ(billed_duration_ms(0.01), 1);
  EXPECT_EQ(billed_duration_ms(1.0), 1);
  EXPECT_EQ(billed_duration_ms(1.001), 2);
  EXPECT_EQ(billed_duration_ms(99.5), 100);
  EXPECT_EQ(billed_duration_ms(0), 1);
}

TEST(MeterTest, GbSeconds) {
  EXPECT_DOUBLE_EQ(gb_seconds(1024, 1000), 1.0);
  EXPECT_DOUBLE_EQ(gb_seconds(128, 100), 0.0125);
}

TEST(MeterTest, CostIncludesRequestPrice) {
  EXPECT_NEAR(invocation_cost(1024, 1000, false), 0.0000002 + 0.0000166667, 1e-12);
  EXPECT_LT(invocation_cost(1024, 1000, true), invocation_cost(1024, 1000, false));
}

}  // namespace
}  // namespace nubo::billing
