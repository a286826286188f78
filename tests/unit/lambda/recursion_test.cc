#include "services/lambda/recursion.h"

// GCC 12 false positive: -Wmaybe-uninitialized inside std::regex.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <gtest/gtest.h>

#include <regex>

namespace nubo::lambda {
namespace {

TEST(RecursionTest, LineageCountsTheHopsOfAChain) {
  EXPECT_EQ(lineage_depth(""), 0);
  EXPECT_EQ(lineage_depth("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"), 0);
  EXPECT_EQ(lineage_depth("Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=a87bd80c:7"), 7);
  EXPECT_EQ(lineage_depth("Lineage=a87bd80c:x"), 0);  // not a count
  EXPECT_EQ(lineage_depth("Lineage=a87bd80c"), 0);
}

TEST(RecursionTest, TheNextHopKeepsTheRootAndCountsOneMore) {
  const std::string fn = "arn:aws:lambda:us-east-1:000000000000:function:f";
  std::string first = next_hop("", fn);  // a new chain
  EXPECT_TRUE(std::regex_match(
      first, std::regex("Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0;"
                        "Lineage=[0-9a-f]{8}:1")))
      << first;
  std::string second = next_hop(first, fn);
  EXPECT_EQ(lineage_depth(second), 2);
  EXPECT_EQ(first.substr(0, first.find(';')), second.substr(0, second.find(';')));  // same Root
  EXPECT_NE(first, second);                                                         // a new Parent
  // A header from an SDK call (URL-quoted by botocore, spaces around fields) is read too.
  EXPECT_EQ(lineage_depth(next_hop("Root=1-00000000-000000000000000000000000; Lineage=ab:15", fn)),
            16);
}

}  // namespace
}  // namespace nubo::lambda
