#include "services/lambda/model.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "services/lambda/code_store.h"
#include "storage/files.h"
#include "test_util.h"

namespace nubo::lambda {
namespace {

using testing::make_zip;
using testing::TempDir;

const ArnContext kCtx{"us-east-1", "000000000000"};

TEST(FunctionRefTest, AcceptsNamesAndArnForms) {
  auto r = parse_function_ref("my-fn", NameUse::kOther, kCtx);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "my-fn");
  EXPECT_TRUE(r->bare_name);
  EXPECT_EQ(r->qualifier, "");

  r = parse_function_ref("my-fn:live", NameUse::kGetOrInvoke, kCtx);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "my-fn");
  EXPECT_EQ(r->qualifier, "live");
  EXPECT_FALSE(r->bare_name);

  r = parse_function_ref("000000000000:function:my-fn", NameUse::kOther, kCtx);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "my-fn");
  EXPECT_EQ(r->account, "000000000000");

  r = parse_function_ref("arn:aws:lambda:us-east-1:000000000000:function:my-fn:$LATEST",
                         NameUse::kOther, kCtx);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "my-fn");
  EXPECT_EQ(r->qualifier, "$LATEST");
  EXPECT_EQ(r->region, "us-east-1");

  r = parse_function_ref("arn:aws:lambda:us-east-1:000000000000:function:my-fn:7",
                         NameUse::kGetOrInvoke, kCtx);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->qualifier, "7");
}

TEST(FunctionRefTest, OtherRegionIsNotReachable) {
  auto r =
      parse_function_ref("arn:aws:lambda:eu-west-1:000000000000:function:f", NameUse::kOther, kCtx);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "ResourceNotFoundException");
  EXPECT_EQ(r.error().message,
            "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')");
}

TEST(FunctionRefTest, BadNamesGetLambdasValidationMessages) {
  auto r = parse_function_ref("bad name", NameUse::kGetOrInvoke, kCtx);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "ValidationException");
  EXPECT_EQ(r.error().status, 400);
  EXPECT_EQ(r.error().message,
            "1 validation error detected: Value 'bad name' at 'functionName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?"
            "(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?");

  std::string long_name(65, 'a');
  r = parse_function_ref(long_name, NameUse::kCreate, kCtx);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "InvalidParameterValueException");
  EXPECT_EQ(r.error().message, "1 validation error detected: Value '" + long_name +
                                   "' at 'functionName' failed to satisfy constraint: Member "
                                   "must have length less than or equal to 64");

  // Dots are accepted when reading, never when creating.
  EXPECT_TRUE(parse_function_ref("a.b", NameUse::kGetOrInvoke, kCtx).ok());
  EXPECT_FALSE(parse_function_ref("a.b", NameUse::kCreate, kCtx).ok());
}

TEST(FunctionRefTest, QualifierParameterMustAgree) {
  auto ref = parse_function_ref("f:live", NameUse::kGetOrInvoke, kCtx);
  ASSERT_TRUE(ref.ok());
  auto q = effective_qualifier(*ref, std::optional<std::string>("other"));
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.error().message,
            "The derived qualifier from the function name does not match the specified "
            "qualifier.");
  q = effective_qualifier(*ref, std::nullopt);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q, "live");
  auto bad = effective_qualifier(*ref, std::optional<std::string>("a b"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "ValidationException");
}

TEST(ValidationTest, JoinsSeveralErrors) {
  Validation v;
  v.add("0", "memorySize", "Member must have value greater than or equal to 128");
  EXPECT_EQ(v.message(),
            "1 validation error detected: Value '0' at 'memorySize' failed to satisfy constraint: "
            "Member must have value greater than or equal to 128");
  v.add("0", "timeout", "Member must have value greater than or equal to 1");
  EXPECT_EQ(v.message().rfind("2 validation errors detected: Value '0' at 'memorySize'", 0), 0u);
  EXPECT_NE(v.message().find("; Value '0' at 'timeout'"), std::string::npos);
}

TEST(StoreJsonTest, VersionRoundTrips) {
  VersionConfig c;
  c.function_name = "f";
  c.version = "3";
  c.runtime = "python3.12";
  c.handler = "app.handler";
  c.has_environment = true;
  c.environment = {{"B", "2"}, {"A", "1"}};
  c.memory_size = 256;
  c.code_sha256 = "abc=";
  auto back = version_from_store_json(to_store_json(c));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->version, "3");
  EXPECT_EQ(back->memory_size, 256);
  ASSERT_EQ(back->environment.size(), 2u);
  EXPECT_EQ(back->environment[0].first, "B");  // order kept
  EXPECT_EQ(back->code_sha256, "abc=");
}

TEST(ZipTest, RejectsWhatIsNotAZip) {
  auto r = inspect_zip("this is not a zip file");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "InvalidParameterValueException");
  EXPECT_EQ(r.error().message,
            "Could not unzip uploaded file. Please check your file, then try to upload again.");
}

TEST(ZipTest, RejectsEscapingPaths) {
  EXPECT_FALSE(inspect_zip(make_zip({{"../evil", "x"}})).ok());
  EXPECT_FALSE(inspect_zip(make_zip({{"a/../../evil", "x"}})).ok());
  EXPECT_FALSE(inspect_zip(make_zip({{"/etc/passwd", "x"}})).ok());
  auto ok = inspect_zip(make_zip({{"a/b.txt", "hello"}, {"c", "xy"}}));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->unzipped_size, 7);
}

TEST(ZipTest, UnpackKeepsModesAndSkipsLinks) {
  TempDir dir;
  std::string zip = make_zip({{"bootstrap", "#!/bin/sh\n", 0755},
                              {"lib/x.txt", "x", 0600},
                              {"link", "/etc/passwd", 0777, true}});
  std::string dest = dir.path() + "/out";
  ASSERT_TRUE(unpack_zip(zip, dest).ok());
  struct stat st;
  ASSERT_EQ(::stat((dest + "/bootstrap").c_str(), &st), 0);
  EXPECT_TRUE(st.st_mode & S_IXUSR);
  EXPECT_TRUE(st.st_mode & S_IXOTH);
  ASSERT_EQ(::stat((dest + "/lib/x.txt").c_str(), &st), 0);
  EXPECT_FALSE(st.st_mode & S_IXUSR);
  EXPECT_TRUE(st.st_mode & S_IROTH);  // readable by a sandbox under another uid
  EXPECT_FALSE(std::filesystem::exists(dest + "/link"));
  auto data = storage::read_file(dest + "/lib/x.txt");
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(*data, "x");
  // No temporary folder is left behind.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST(CodeStoreTest, ReunpacksAMissingFolder) {
  TempDir dir;
  CodeStore cs(dir.path());
  std::string zip = make_zip({{"bootstrap", "#!/bin/sh\n", 0755}});
  ASSERT_TRUE(cs.put("abc", zip).ok());
  EXPECT_TRUE(std::filesystem::exists(cs.zip_path("abc")));
  ASSERT_TRUE(storage::remove_all(cs.unpacked_dir("abc")).ok());
  ASSERT_TRUE(cs.ensure_unpacked("abc").ok());
  EXPECT_TRUE(std::filesystem::exists(cs.unpacked_dir("abc") + "/bootstrap"));
}

}  // namespace
}  // namespace nubo::lambda
