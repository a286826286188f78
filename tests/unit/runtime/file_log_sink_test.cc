#include "runtime/file_log_sink.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "test_util.h"

namespace nubo::runtime {
namespace {

using testing::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "s<t>" (built with +=: GCC 12 at -O3 warns falsely on stream_name(t)).
std::string stream_name(int t) {
  std::string s = "s";
  s += std::to_string(t);
  return s;
}

TEST(FileLogSinkTest, PathsEscapeSlashesReversibly) {
  EXPECT_EQ(log_file_path("/d/logs", "/aws/lambda/my-fn", "2024/01/31/[$LATEST]abc"),
            "/d/logs/%2Faws%2Flambda%2Fmy-fn/2024%2F01%2F31%2F[$LATEST]abc.log");
  EXPECT_EQ(log_file_path("/d", "a%b", "s"), "/d/a%25b/s.log");
}

TEST(FileLogSinkTest, AppendsOneLinePerEventInOrder) {
  TempDir dir;
  SystemTime t = SystemTime(std::chrono::milliseconds(1706659200123));
  {
    auto sink = make_file_log_sink({dir.path(), std::chrono::milliseconds(5)});
    sink->append("/aws/lambda/f", "s1", t, "first");
    sink->append("/aws/lambda/f", "s2", t, "other stream");
    sink->append("/aws/lambda/f", "s1", t + std::chrono::milliseconds(1), "second\twith tab");
    sink->flush();
    EXPECT_EQ(slurp(log_file_path(dir.path(), "/aws/lambda/f", "s1")),
              "2024-01-31T00:00:00.123Z\tfirst\n2024-01-31T00:00:00.124Z\tsecond\twith tab\n");
    sink->append("/aws/lambda/f", "s1", t, "third");
  }  // the destructor writes what is left
  EXPECT_EQ(slurp(log_file_path(dir.path(), "/aws/lambda/f", "s1")),
            "2024-01-31T00:00:00.123Z\tfirst\n2024-01-31T00:00:00.124Z\tsecond\twith tab\n"
            "2024-01-31T00:00:00.123Z\tthird\n");
  EXPECT_EQ(slurp(log_file_path(dir.path(), "/aws/lambda/f", "s2")),
            "2024-01-31T00:00:00.123Z\tother stream\n");
}

TEST(FileLogSinkTest, TheBackgroundThreadWritesWithoutAFlush) {
  TempDir dir;
  auto sink = make_file_log_sink({dir.path(), std::chrono::milliseconds(5)});
  sink->append("g", "s", SystemTime(), "line");
  EXPECT_TRUE(testing::eventually([&] {
    return slurp(log_file_path(dir.path(), "g", "s")) == "1970-01-01T00:00:00.000Z\tline\n";
  }));
}

TEST(FileLogSinkTest, DropsLinesInsteadOfGrowingWithoutBound) {
  TempDir dir;
  FileLogSinkOptions o{dir.path(), std::chrono::hours(1), 100};
  auto sink = make_file_log_sink(o);
  for (int i = 0; i < 50; ++i) sink->append("g", "s", SystemTime(), "0123456789");
  sink->flush();
  std::string text = slurp(log_file_path(dir.path(), "g", "s"));
  size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  EXPECT_GT(lines, 0u);
  EXPECT_LT(lines, 50u);
}

TEST(FileLogSinkTest, ConcurrentAppendsKeepEachStreamsOrder) {
  TempDir dir;
  auto sink = make_file_log_sink({dir.path(), std::chrono::milliseconds(1)});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        sink->append("g", stream_name(t), SystemTime(), std::to_string(i));
      }
    });
  }
  for (auto& th : threads) th.join();
  sink->flush();
  for (int t = 0; t < 4; ++t) {
    std::istringstream in(slurp(log_file_path(dir.path(), "g", stream_name(t))));
    std::string line;
    int expect = 0;
    while (std::getline(in, line)) {
      ASSERT_EQ(line.substr(line.find('\t') + 1), std::to_string(expect));
      ++expect;
    }
    EXPECT_EQ(expect, 500);
  }
}

}  // namespace
}  // namespace nubo::runtime
