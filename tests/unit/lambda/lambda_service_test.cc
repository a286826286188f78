#include "services/lambda/lambda_service.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <set>

#include "base/crypto.h"
#include "base/strings.h"
#include "storage/files.h"
#include "test_util.h"

namespace nubo::lambda {
namespace {

using net::http::verb;
using testing::bootstrap_zip;
using testing::eventually;
using testing::FakeInvoker;
using testing::Harness;
using testing::HttpResult;
using testing::make_zip;
using testing::TempDir;

constexpr const char* kRole = testing::kTestRole;
constexpr const char* kFns = "/2015-03-31/functions";

json::object create_body(const std::string& name, const std::string& zip = bootstrap_zip()) {
  return testing::create_function_body(name, zip);
}

// s has the shape of `pattern`: '9' a digit, 'x' a lower-case hex digit, else that character.
bool shaped_like(const std::string& s, const std::string& pattern) {
  if (s.size() != pattern.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char p = pattern[i], c = s[i];
    if (p == '9'   ? !(c >= '0' && c <= '9')
        : p == 'x' ? !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
                   : c != p) {
      return false;
    }
  }
  return true;
}

class LambdaServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { h_ = std::make_unique<Harness>(dir_.path(), &invoker_, options()); }
  virtual AsyncQueueOptions options() {
    AsyncQueueOptions o;
    o.retry_base = std::chrono::milliseconds(50);
    o.throttle_base = std::chrono::milliseconds(20);
    return o;
  }

  HttpResult create(json::object body) { return h_->call(verb::post, kFns, json::serialize(body)); }
  HttpResult create(const std::string& name) { return create(create_body(name)); }
  HttpResult get(const std::string& target) { return h_->call(verb::get, target); }
  HttpResult invoke(const std::string& name, const std::string& payload = "{}",
                    std::vector<std::pair<std::string, std::string>> headers = {},
                    const std::string& query = "") {
    return h_->call(verb::post, std::string(kFns) + "/" + name + "/invocations" + query, payload,
                    headers);
  }
  // Expects one validation-style error.
  void expect_error(const HttpResult& r, int status, const std::string& type,
                    const std::string& message) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.error_type(), type) << r.body;
    EXPECT_EQ(r.message(), message);
  }

  TempDir dir_;
  FakeInvoker invoker_;
  std::unique_ptr<Harness> h_;
};

// ---- CreateFunction / GetFunction ----

TEST_F(LambdaServiceTest, CreateAnswersLikeLambda) {
  ASSERT_TRUE(h_->start_status().ok());
  std::string zip = bootstrap_zip();
  HttpResult r = create(create_body("hello", zip));
  ASSERT_EQ(r.status, 201) << r.body;
  json::object c = r.obj();
  EXPECT_EQ(get_string(c, "FunctionName"), "hello");
  EXPECT_EQ(get_string(c, "FunctionArn"), "arn:aws:lambda:us-east-1:000000000000:function:hello");
  EXPECT_EQ(get_string(c, "Runtime"), "provided.al2023");
  EXPECT_EQ(get_string(c, "Role"), kRole);
  EXPECT_EQ(get_int(c, "Timeout"), 3);
  EXPECT_EQ(get_int(c, "MemorySize"), 128);
  EXPECT_EQ(get_int(c, "CodeSize"), static_cast<int64_t>(zip.size()));
  Sha256Digest d = sha256(zip);
  EXPECT_EQ(get_string(c, "CodeSha256"),
            base64_encode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size())));
  EXPECT_EQ(get_string(c, "Version"), "$LATEST");
  EXPECT_EQ(get_string(c, "State"), "Pending");
  EXPECT_EQ(get_string(c, "StateReason"), "The function is being created.");
  EXPECT_EQ(get_string(c, "StateReasonCode"), "Creating");
  EXPECT_FALSE(c.contains("LastUpdateStatus"));
  EXPECT_EQ(get_string(c, "PackageType"), "Zip");
  EXPECT_EQ(json::serialize(c.at("Architectures")), R"(["x86_64"])");
  EXPECT_EQ(json::serialize(c.at("EphemeralStorage")), R"({"Size":512})");
  EXPECT_EQ(json::serialize(c.at("TracingConfig")), R"({"Mode":"PassThrough"})");
  EXPECT_EQ(json::serialize(c.at("SnapStart")), R"({"ApplyOn":"None","OptimizationStatus":"Off"})");
  EXPECT_EQ(json::serialize(c.at("LoggingConfig")),
            R"({"LogFormat":"Text","LogGroup":"/aws/lambda/hello"})");
  EXPECT_TRUE(
      shaped_like(get_string(c, "LastModified").value_or(""), "9999-99-99T99:99:99.999+0000"));
  EXPECT_TRUE(shaped_like(get_string(c, "RevisionId").value_or(""),
                          "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"));
  EXPECT_FALSE(c.contains("Environment"));
  EXPECT_TRUE(r.header("x-amzn-requestid").size() == 36);

  // The package is stored and unpacked, bootstrap executable.
  std::string hex = hex_encode(d);
  EXPECT_TRUE(std::filesystem::exists(dir_.path() + "/lambda/code/" + hex + ".zip"));
  struct stat st;
  ASSERT_EQ(::stat((dir_.path() + "/lambda/unpacked/" + hex + "/bootstrap").c_str(), &st), 0);
  EXPECT_TRUE(st.st_mode & S_IXUSR);

  // GetFunction right after: Active, Successful, code location, no tags.
  HttpResult g = get(std::string(kFns) + "/hello");
  ASSERT_EQ(g.status, 200) << g.body;
  json::object conf = g.obj().at("Configuration").as_object();
  EXPECT_EQ(get_string(conf, "State"), "Active");
  EXPECT_EQ(get_string(conf, "LastUpdateStatus"), "Successful");
  EXPECT_EQ(get_string(conf, "RevisionId"), get_string(c, "RevisionId"));
  json::object code = g.obj().at("Code").as_object();
  EXPECT_EQ(get_string(code, "RepositoryType"), "S3");
  EXPECT_EQ(get_string(code, "Location")
                ->rfind("http://127.0.0.1:4566/_nubo/lambda/code/" + hex + ".zip?", 0),
            0u);
  EXPECT_FALSE(g.obj().contains("Tags"));

  HttpResult gc = get(std::string(kFns) + "/hello/configuration");
  ASSERT_EQ(gc.status, 200);
  EXPECT_EQ(get_string(gc.obj(), "FunctionName"), "hello");
}

TEST_F(LambdaServiceTest, CreateTwiceConflicts) {
  ASSERT_EQ(create("dup").status, 201);
  expect_error(create("dup"), 409, "ResourceConflictException", "Function already exist: dup");
  // The error shape: Type User, lower-case message.
  HttpResult r = create("dup");
  EXPECT_EQ(get_string(r.obj(), "Type"), "User");
  EXPECT_TRUE(r.obj().contains("message"));
}

TEST_F(LambdaServiceTest, CreateAcceptsArnNamesAndSettings) {
  json::object b = create_body("arn:aws:lambda:us-east-1:000000000000:function:byarn");
  b["Runtime"] = "python3.12";
  b["Handler"] = "app.handler";
  b["MemorySize"] = 512;
  b["Timeout"] = 30;
  b["Description"] = "desc";
  b["Architectures"] = json::array{"arm64"};
  b["EphemeralStorage"] = json::object{{"Size", 1024}};
  b["Environment"] = json::object{{"Variables", json::object{{"GREETING", "hi"}}}};
  b["TracingConfig"] = json::object{{"Mode", "Active"}};
  b["DeadLetterConfig"] = json::object{{"TargetArn", "arn:aws:sqs:us-east-1:000000000000:dlq"}};
  b["Layers"] = json::array{};
  b["Tags"] = json::object{{"team", "a"}};
  HttpResult r = create(b);
  ASSERT_EQ(r.status, 201) << r.body;
  json::object c = r.obj();
  EXPECT_EQ(get_string(c, "FunctionName"), "byarn");
  EXPECT_EQ(get_int(c, "MemorySize"), 512);
  EXPECT_EQ(get_int(c, "Timeout"), 30);
  EXPECT_EQ(json::serialize(c.at("Architectures")), R"(["arm64"])");
  EXPECT_EQ(json::serialize(c.at("Environment")), R"({"Variables":{"GREETING":"hi"}})");
  EXPECT_EQ(json::serialize(c.at("TracingConfig")), R"({"Mode":"Active"})");
  EXPECT_EQ(get_string(c.at("DeadLetterConfig").as_object(), "TargetArn"),
            "arn:aws:sqs:us-east-1:000000000000:dlq");
  HttpResult g = get(std::string(kFns) + "/byarn");
  EXPECT_EQ(json::serialize(g.obj().at("Tags")), R"({"team":"a"})");
}

TEST_F(LambdaServiceTest, CreateValidatesLikeLambda) {
  auto with = [](const char* key, json::value v) {
    json::object b = create_body("v");
    b[key] = std::move(v);
    return b;
  };
  expect_error(create(with("MemorySize", 0)), 400, "ValidationException",
               "1 validation error detected: Value '0' at 'memorySize' failed to satisfy "
               "constraint: Member must have value greater than or equal to 128");
  expect_error(create(with("MemorySize", 10241)), 400, "ValidationException",
               "1 validation error detected: Value '10241' at 'memorySize' failed to satisfy "
               "constraint: Member must have value less than or equal to 10240");
  expect_error(create(with("Timeout", 0)), 400, "ValidationException",
               "1 validation error detected: Value '0' at 'timeout' failed to satisfy "
               "constraint: Member must have value greater than or equal to 1");
  expect_error(create(with("Timeout", 901)), 400, "ValidationException",
               "1 validation error detected: Value '901' at 'timeout' failed to satisfy "
               "constraint: Member must have value less than or equal to 900");
  json::object two = with("Timeout", 0);
  two["MemorySize"] = 64;
  HttpResult r = create(two);
  EXPECT_EQ(r.message().rfind("2 validation errors detected: ", 0), 0u) << r.body;
  expect_error(create(with("Description", json::value(std::string(257, 'd')))), 400,
               "ValidationException",
               "1 validation error detected: Value '" + std::string(257, 'd') +
                   "' at 'description' failed to satisfy constraint: Member must have length "
                   "less than or equal to 256");
  expect_error(create(with("Role", "not-a-role")), 400, "ValidationException",
               "1 validation error detected: Value 'not-a-role' at 'role' failed to satisfy "
               "constraint: Member must satisfy regular expression pattern: "
               "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+");
  expect_error(create(with("EphemeralStorage", json::object{{"Size", 100}})), 400,
               "ValidationException",
               "1 validation error detected: Value '100' at 'ephemeralStorage.size' failed to "
               "satisfy constraint: Member must have value greater than or equal to 512");
  expect_error(create(with("Architectures", json::array{"sparc"})), 400, "ValidationException",
               "1 validation error detected: Value '[sparc]' at 'architectures' failed to "
               "satisfy constraint: Member must satisfy constraint: [Member must satisfy enum "
               "value set: [x86_64, arm64], Member must not be null]");
  expect_error(create(with("Runtime", "python3.7")), 400, "InvalidParameterValueException",
               "The runtime parameter of python3.7 is no longer supported for creating or "
               "updating AWS Lambda functions. We recommend you use the new runtime (python3.12) "
               "while creating or updating functions.");
  r = create(with("Runtime", "cobol"));
  EXPECT_EQ(r.error_type(), "InvalidParameterValueException");
  EXPECT_EQ(r.message().rfind("Value cobol at 'runtime' failed to satisfy constraint: Member must "
                              "satisfy enum value set: [",
                              0),
            0u)
      << r.message();
  r = create(with("Runtime", "java21"));
  EXPECT_EQ(r.error_type(), "InvalidParameterValueException");
  EXPECT_NE(r.message().find("not supported by nubo"), std::string::npos);

  json::object no_handler = with("Runtime", "python3.12");
  no_handler.erase("Handler");
  expect_error(create(no_handler), 400, "InvalidParameterValueException",
               "Runtime and Handler are mandatory parameters for functions created with "
               "deployment packages.");
  expect_error(
      create(with("Environment", json::object{{"Variables", json::object{{"AWS_REGION", "x"},
                                                                         {"_HANDLER", "y"}}}})),
      400, "InvalidParameterValueException",
      "Lambda was unable to configure your environment variables because the "
      "environment variables you have provided contains reserved keys that are "
      "currently not supported for modification. Reserved keys used in this request: "
      "AWS_REGION, _HANDLER");
  expect_error(create(with("Environment", json::object{{"Variables", json::object{{"K", "v"}}}})),
               400, "ValidationException",
               "1 validation error detected: Value 'K' at 'environment.variables' failed to "
               "satisfy constraint: Map keys must satisfy constraint: [Member must satisfy "
               "regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]");
  json::object big_vars;
  big_vars["BIG"] = std::string(4100, 'x');
  r = create(with("Environment", json::object{{"Variables", big_vars}}));
  EXPECT_EQ(r.error_type(), "InvalidParameterValueException");
  EXPECT_EQ(r.message(),
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided exceeded the 4KB limit. String measured: " +
                json::serialize(big_vars));
  expect_error(create(with("Code", json::object{{"ZipFile", base64_encode("not a zip")}})), 400,
               "InvalidParameterValueException",
               "Could not unzip uploaded file. Please check your file, then try to upload again.");
  expect_error(
      create(with("Code", json::object{{"ZipFile", base64_encode(make_zip({{"../x", "y"}}))}})),
      400, "InvalidParameterValueException",
      "Could not unzip uploaded file. Please check your file, then try to upload again.");
  r = create(with("PackageType", "Image"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_type(), "InvalidParameterValueException");
  r = create(with("FunctionName", "bad name!"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_type(), "InvalidParameterValueException");
  EXPECT_NE(r.message().find("at 'functionName' failed to satisfy constraint"), std::string::npos);
  json::object no_role = create_body("v");
  no_role.erase("Role");
  expect_error(create(no_role), 400, "ValidationException",
               "1 validation error detected: Value null at 'role' failed to satisfy constraint: "
               "Member must not be null");
  r = h_->call(verb::post, kFns, "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_type(), "InvalidRequestContentException");
  // Nothing of the failed attempts was stored.
  EXPECT_EQ(get(std::string(kFns) + "/v").status, 404);
}

TEST_F(LambdaServiceTest, NotFoundMessagesNameTheArn) {
  HttpResult r = get(std::string(kFns) + "/nope");
  expect_error(r, 404, "ResourceNotFoundException",
               "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope");
  EXPECT_EQ(get_string(r.obj(), "Type"), "User");
  EXPECT_TRUE(r.obj().contains("Message"));  // capital M, as Lambda sends it
  expect_error(get(std::string(kFns) + "/nope?Qualifier=live"), 404, "ResourceNotFoundException",
               "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope:live");
  ASSERT_EQ(create("there").status, 201);
  expect_error(get(std::string(kFns) + "/there?Qualifier=9"), 404, "ResourceNotFoundException",
               "Function not found: arn:aws:lambda:us-east-1:000000000000:function:there:9");
  expect_error(h_->call(verb::get, "/2015-03-31/nothing-here"), 404, "UnknownOperationException",
               "Unknown operation");
}

// ---- ListFunctions ----

TEST_F(LambdaServiceTest, ListFunctionsPages) {
  for (const char* n : {"e", "a", "c", "b", "d"}) ASSERT_EQ(create(n).status, 201);
  std::vector<std::string> seen;
  std::string marker;
  int pages = 0;
  do {
    std::string target = std::string(kFns) + "?MaxItems=2";
    if (!marker.empty()) target += "&Marker=" + url_encode(marker);
    HttpResult r = get(target);
    ASSERT_EQ(r.status, 200) << r.body;
    json::array fns = r.obj().at("Functions").as_array();
    EXPECT_LE(fns.size(), 2u);
    for (const auto& f : fns) {
      seen.push_back(*get_string(f.as_object(), "FunctionName"));
      EXPECT_FALSE(f.as_object().contains("State"));  // list views leave the state out
    }
    marker = get_string(r.obj(), "NextMarker").value_or("");
    ++pages;
  } while (!marker.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "c", "d", "e"}));

  HttpResult all = get(std::string(kFns));
  EXPECT_EQ(all.obj().at("Functions").as_array().size(), 5u);
  EXPECT_FALSE(all.obj().contains("NextMarker"));

  expect_error(get(std::string(kFns) + "?MaxItems=0"), 400, "ValidationException",
               "1 validation error detected: Value '0' at 'maxItems' failed to satisfy "
               "constraint: Member must have value greater than or equal to 1");
  expect_error(get(std::string(kFns) + "?FunctionVersion=SOME"), 400, "ValidationException",
               "1 validation error detected: Value 'SOME' at 'functionVersion' failed to "
               "satisfy constraint: Member must satisfy enum value set: [ALL]");

  ASSERT_EQ(h_->call(verb::post, std::string(kFns) + "/a/versions", "{}").status, 201);
  HttpResult with_versions = get(std::string(kFns) + "?FunctionVersion=ALL");
  json::array fns = with_versions.obj().at("Functions").as_array();
  ASSERT_EQ(fns.size(), 6u);
  EXPECT_EQ(get_string(fns[0].as_object(), "FunctionArn"),
            "arn:aws:lambda:us-east-1:000000000000:function:a:$LATEST");
  EXPECT_EQ(get_string(fns[1].as_object(), "FunctionArn"),
            "arn:aws:lambda:us-east-1:000000000000:function:a:1");
}

// ---- Updates, versions ----

TEST_F(LambdaServiceTest, UpdateConfigurationAndRevisionPrecondition) {
  HttpResult c = create("cfg");
  std::string rev0 = *get_string(c.obj(), "RevisionId");
  json::object u;
  u["MemorySize"] = 1024;
  u["Environment"] = json::object{{"Variables", json::object{{"KEY", "V"}}}};
  u["RevisionId"] = rev0;
  HttpResult r = h_->call(verb::put, std::string(kFns) + "/cfg/configuration", json::serialize(u));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(get_int(r.obj(), "MemorySize"), 1024);
  EXPECT_EQ(get_string(r.obj(), "LastUpdateStatus"), "InProgress");
  EXPECT_EQ(get_string(r.obj(), "State"), "Active");
  std::string rev1 = *get_string(r.obj(), "RevisionId");
  EXPECT_NE(rev0, rev1);

  HttpResult g = get(std::string(kFns) + "/cfg/configuration");
  EXPECT_EQ(get_string(g.obj(), "LastUpdateStatus"), "Successful");
  EXPECT_EQ(json::serialize(g.obj().at("Environment")), R"({"Variables":{"KEY":"V"}})");

  u = json::object{{"Timeout", 10}, {"RevisionId", rev0}};
  expect_error(h_->call(verb::put, std::string(kFns) + "/cfg/configuration", json::serialize(u)),
               412, "PreconditionFailedException",
               "The Revision Id provided does not match the latest Revision Id. Call the "
               "GetFunction/GetAlias API to retrieve the latest Revision Id");
  u = json::object{{"Timeout", 0}};
  expect_error(h_->call(verb::put, std::string(kFns) + "/cfg/configuration", json::serialize(u)),
               400, "ValidationException",
               "1 validation error detected: Value '0' at 'timeout' failed to satisfy "
               "constraint: Member must have value greater than or equal to 1");
  expect_error(h_->call(verb::put, std::string(kFns) + "/nope/configuration", "{}"), 404,
               "ResourceNotFoundException",
               "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope");
}

TEST_F(LambdaServiceTest, UpdateCodePublishAndVersions) {
  HttpResult c = create("ver");
  std::string sha1 = *get_string(c.obj(), "CodeSha256");

  // Publish: version 1; publishing again with no change answers version 1 again.
  HttpResult p1 = h_->call(verb::post, std::string(kFns) + "/ver/versions", "{}");
  ASSERT_EQ(p1.status, 201) << p1.body;
  EXPECT_EQ(get_string(p1.obj(), "Version"), "1");
  EXPECT_EQ(get_string(p1.obj(), "FunctionArn"),
            "arn:aws:lambda:us-east-1:000000000000:function:ver:1");
  HttpResult p1b = h_->call(verb::post, std::string(kFns) + "/ver/versions", "{}");
  EXPECT_EQ(get_string(p1b.obj(), "Version"), "1");

  // New code.
  std::string zip2 = bootstrap_zip("v2");
  json::object u{{"ZipFile", base64_encode(zip2)}};
  HttpResult r = h_->call(verb::put, std::string(kFns) + "/ver/code", json::serialize(u));
  ASSERT_EQ(r.status, 200) << r.body;
  std::string sha2 = *get_string(r.obj(), "CodeSha256");
  EXPECT_NE(sha1, sha2);
  EXPECT_EQ(get_string(r.obj(), "LastUpdateStatus"), "InProgress");
  EXPECT_EQ(get_string(r.obj(), "LastUpdateStatusReasonCode"), "Creating");

  // CodeSha256 precondition of PublishVersion.
  json::object bad_sha{{"CodeSha256", sha1}};
  expect_error(h_->call(verb::post, std::string(kFns) + "/ver/versions", json::serialize(bad_sha)),
               400, "InvalidParameterValueException",
               "CodeSHA256 (" + sha1 + ") is different from current CodeSHA256 in $LATEST (" +
                   sha2 + "). Please try again with the CodeSHA256 in $LATEST.");
  json::object good_sha{{"CodeSha256", sha2}, {"Description", "second"}};
  HttpResult p2 =
      h_->call(verb::post, std::string(kFns) + "/ver/versions", json::serialize(good_sha));
  EXPECT_EQ(get_string(p2.obj(), "Version"), "2");
  EXPECT_EQ(get_string(p2.obj(), "Description"), "second");

  // UpdateFunctionCode with Publish answers the new version.
  u = json::object{{"ZipFile", base64_encode(bootstrap_zip("v3"))}, {"Publish", true}};
  r = h_->call(verb::put, std::string(kFns) + "/ver/code", json::serialize(u));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(get_string(r.obj(), "Version"), "3");

  // DryRun changes nothing.
  u = json::object{{"ZipFile", base64_encode(bootstrap_zip("dry"))}, {"DryRun", true}};
  r = h_->call(verb::put, std::string(kFns) + "/ver/code", json::serialize(u));
  ASSERT_EQ(r.status, 200) << r.body;
  HttpResult v3 = get(std::string(kFns) + "/ver/configuration?Qualifier=3");
  HttpResult latest = get(std::string(kFns) + "/ver/configuration");
  EXPECT_EQ(get_string(v3.obj(), "CodeSha256"), get_string(latest.obj(), "CodeSha256"));
  EXPECT_EQ(get_string(v3.obj(), "FunctionArn"),
            "arn:aws:lambda:us-east-1:000000000000:function:ver:3");

  HttpResult list = get(std::string(kFns) + "/ver/versions");
  ASSERT_EQ(list.status, 200);
  std::vector<std::string> versions;
  json::array listed = list.obj().at("Versions").as_array();
  for (const auto& v : listed) {
    versions.push_back(*get_string(v.as_object(), "Version"));
  }
  EXPECT_EQ(versions, (std::vector<std::string>{"$LATEST", "1", "2", "3"}));
  HttpResult page = get(std::string(kFns) + "/ver/versions?MaxItems=3");
  EXPECT_EQ(page.obj().at("Versions").as_array().size(), 3u);
  std::string marker = *get_string(page.obj(), "NextMarker");
  HttpResult page2 =
      get(std::string(kFns) + "/ver/versions?MaxItems=3&Marker=" + url_encode(marker));
  ASSERT_EQ(page2.obj().at("Versions").as_array().size(), 1u);
  EXPECT_EQ(get_string(page2.obj().at("Versions").as_array()[0].as_object(), "Version"), "3");
}

// ---- Aliases ----

TEST_F(LambdaServiceTest, AliasesAndTheirRules) {
  create("al");
  h_->call(verb::post, std::string(kFns) + "/al/versions", "{}");
  json::object u{{"ZipFile", base64_encode(bootstrap_zip("v2"))}, {"Publish", true}};
  h_->call(verb::put, std::string(kFns) + "/al/code", json::serialize(u));

  std::string aliases = std::string(kFns) + "/al/aliases";
  json::object a{{"Name", "live"}, {"FunctionVersion", "1"}, {"Description", "prod"}};
  HttpResult r = h_->call(verb::post, aliases, json::serialize(a));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(get_string(r.obj(), "AliasArn"),
            "arn:aws:lambda:us-east-1:000000000000:function:al:live");
  EXPECT_EQ(get_string(r.obj(), "FunctionVersion"), "1");
  std::string rev = *get_string(r.obj(), "RevisionId");

  expect_error(h_->call(verb::post, aliases, json::serialize(a)), 409, "ResourceConflictException",
               "Alias already exists: arn:aws:lambda:us-east-1:000000000000:function:al:live");
  json::object missing{{"Name", "x"}, {"FunctionVersion", "9"}};
  expect_error(h_->call(verb::post, aliases, json::serialize(missing)), 404,
               "ResourceNotFoundException",
               "Function not found: arn:aws:lambda:us-east-1:000000000000:function:al:9");
  json::object numeric{{"Name", "123"}, {"FunctionVersion", "1"}};
  expect_error(h_->call(verb::post, aliases, json::serialize(numeric)), 400, "ValidationException",
               "1 validation error detected: Value '123' at 'name' failed to satisfy constraint: "
               "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)");
  json::object latest_w{
      {"Name", "lw"},
      {"FunctionVersion", "$LATEST"},
      {"RoutingConfig", json::object{{"AdditionalVersionWeights", json::object{{"1", 0.5}}}}}};
  expect_error(h_->call(verb::post, aliases, json::serialize(latest_w)), 400,
               "InvalidParameterValueException",
               "$LATEST is not supported for an alias pointing to more than 1 version");
  json::object two_w{{"Name", "tw"},
                     {"FunctionVersion", "1"},
                     {"RoutingConfig", json::object{{"AdditionalVersionWeights",
                                                     json::object{{"2", 0.1}, {"3", 0.1}}}}}};
  expect_error(h_->call(verb::post, aliases, json::serialize(two_w)), 400,
               "InvalidParameterValueException",
               "Number of items in AdditionalVersionWeights cannot be greater than 1");
  json::object self_w{
      {"Name", "sw"},
      {"FunctionVersion", "1"},
      {"RoutingConfig", json::object{{"AdditionalVersionWeights", json::object{{"1", 0.1}}}}}};
  expect_error(h_->call(verb::post, aliases, json::serialize(self_w)), 400,
               "InvalidParameterValueException",
               "Invalid function version 1. Function version 1 is already included in routing "
               "configuration.");
  json::object big_w{
      {"Name", "bw"},
      {"FunctionVersion", "1"},
      {"RoutingConfig", json::object{{"AdditionalVersionWeights", json::object{{"2", 1.5}}}}}};
  HttpResult bw = h_->call(verb::post, aliases, json::serialize(big_w));
  EXPECT_EQ(bw.error_type(), "ValidationException");
  EXPECT_NE(bw.message().find("at 'routingConfig.additionalVersionWeights'"), std::string::npos);

  // Update: weights, revision check.
  json::object upd{
      {"RoutingConfig", json::object{{"AdditionalVersionWeights", json::object{{"2", 0.25}}}}},
      {"RevisionId", rev}};
  r = h_->call(verb::put, aliases + "/live", json::serialize(upd));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::serialize(r.obj().at("RoutingConfig")),
            R"({"AdditionalVersionWeights":{"2":2.5E-1}})");
  expect_error(h_->call(verb::put, aliases + "/live", json::serialize(upd)), 412,
               "PreconditionFailedException",
               "The Revision Id provided does not match the latest Revision Id. Call the "
               "GetFunction/GetAlias API to retrieve the latest Revision Id");

  HttpResult got = get(aliases + "/live");
  EXPECT_EQ(get_string(got.obj(), "Description"), "prod");
  expect_error(get(aliases + "/nope"), 404, "ResourceNotFoundException",
               "Cannot find alias arn: arn:aws:lambda:us-east-1:000000000000:function:al:nope");
  json::object beta{{"Name", "beta"}, {"FunctionVersion", "2"}};
  ASSERT_EQ(h_->call(verb::post, aliases, json::serialize(beta)).status, 201);
  HttpResult list = get(aliases);
  ASSERT_EQ(list.obj().at("Aliases").as_array().size(), 2u);
  HttpResult filtered = get(aliases + "?FunctionVersion=2");
  ASSERT_EQ(filtered.obj().at("Aliases").as_array().size(), 1u);

  // GetFunction through an alias shows the alias ARN and the version it points at.
  HttpResult via = get(std::string(kFns) + "/al:beta");
  ASSERT_EQ(via.status, 200) << via.body;
  json::object conf = via.obj().at("Configuration").as_object();
  EXPECT_EQ(get_string(conf, "FunctionArn"),
            "arn:aws:lambda:us-east-1:000000000000:function:al:beta");
  EXPECT_EQ(get_string(conf, "Version"), "2");

  // Versions used by aliases cannot be deleted (as the main or the weighted version).
  expect_error(h_->call(verb::delete_, std::string(kFns) + "/al?Qualifier=2"), 409,
               "ResourceConflictException",
               "Unable to delete version because the following aliases reference it: [beta, live]");
  ASSERT_EQ(h_->call(verb::delete_, aliases + "/beta").status, 204);
  ASSERT_EQ(h_->call(verb::delete_, aliases + "/live").status, 204);
  EXPECT_EQ(h_->call(verb::delete_, std::string(kFns) + "/al?Qualifier=2").status, 204);
  EXPECT_EQ(get(std::string(kFns) + "/al?Qualifier=2").status, 404);
}

// ---- DeleteFunction ----

TEST_F(LambdaServiceTest, DeleteFunction) {
  HttpResult c = create("gone");
  std::string sha = *get_string(c.obj(), "CodeSha256");
  expect_error(h_->call(verb::delete_, std::string(kFns) + "/gone?Qualifier=$LATEST"), 400,
               "InvalidParameterValueException",
               "$LATEST version cannot be deleted without deleting the function.");
  EXPECT_EQ(h_->call(verb::delete_, std::string(kFns) + "/gone").status, 204);
  EXPECT_EQ(get(std::string(kFns) + "/gone").status, 404);
  ASSERT_EQ(invoker_.retired().size(), 1u);
  EXPECT_EQ(invoker_.retired()[0], "arn:aws:lambda:us-east-1:000000000000:function:gone");
  expect_error(h_->call(verb::delete_, std::string(kFns) + "/gone"), 404,
               "ResourceNotFoundException",
               "Function not found: arn:aws:lambda:us-east-1:000000000000:function:gone");
  // Its package is gone from disk too.
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path() + "/lambda/code"));
  // And the name can be used again.
  EXPECT_EQ(create("gone").status, 201);
}

// ---- Invoke ----

TEST_F(LambdaServiceTest, InvokeSyncPassesTheSpecAndAnswers) {
  json::object b = create_body("inv");
  b["Environment"] = json::object{{"Variables", json::object{{"AB", "1"}}}};
  b["MemorySize"] = 256;
  HttpResult c = create(b);
  ASSERT_EQ(c.status, 201);
  invoker_.set_behavior([](const runtime::FunctionSpec& spec, const runtime::InvokeRequest& req) {
    runtime::InvokeResult r;
    r.payload = R"({"echo":)" + req.payload + "}";
    r.executed_version = spec.version;
    r.log_tail = std::string(5000, 'L') + "END";
    return Result<runtime::InvokeResult>(r);
  });
  HttpResult r = invoke("inv", R"({"x":1})", {{"X-Amz-Log-Type", "Tail"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"echo":{"x":1}})");
  EXPECT_EQ(r.header("x-amz-executed-version"), "$LATEST");
  EXPECT_EQ(r.header("x-amz-function-error"), "");
  auto tail = base64_decode(r.header("x-amz-log-result"));
  ASSERT_TRUE(tail.has_value());
  EXPECT_EQ(tail->size(), 4096u);
  EXPECT_EQ(tail->substr(tail->size() - 3), "END");
  ASSERT_EQ(invoker_.call_count(), 1u);
  auto [spec, req] = invoker_.call(0);
  EXPECT_EQ(spec.name, "inv");
  EXPECT_EQ(spec.version, "$LATEST");
  EXPECT_EQ(spec.function_arn, "arn:aws:lambda:us-east-1:000000000000:function:inv");
  EXPECT_EQ(spec.qualified_arn, "arn:aws:lambda:us-east-1:000000000000:function:inv:$LATEST");
  EXPECT_EQ(spec.memory_mb, 256);
  EXPECT_EQ(spec.environment.at("AB"), "1");
  EXPECT_EQ(spec.log_group, "/aws/lambda/inv");
  EXPECT_EQ(spec.runtime, "provided.al2023");
  EXPECT_TRUE(std::filesystem::exists(spec.code_dir + "/bootstrap"));
  EXPECT_FALSE(spec.revision_id.empty());
  EXPECT_EQ(req.request_id, r.header("x-amzn-requestid"));

  // A function error is a 200 with X-Amz-Function-Error.
  invoker_.set_behavior([](const runtime::FunctionSpec&, const runtime::InvokeRequest&) {
    runtime::InvokeResult r;
    r.outcome = runtime::InvokeResult::Outcome::kFunctionError;
    r.payload = R"({"errorMessage":"boom","errorType":"Error"})";
    r.function_error = "Unhandled";
    return Result<runtime::InvokeResult>(r);
  });
  r = invoke("inv");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("x-amz-function-error"), "Unhandled");
  EXPECT_EQ(get_string(r.obj(), "errorMessage"), "boom");

  // Throttles leave as Lambda's 429 with a Reason.
  invoker_.set_behavior([](const runtime::FunctionSpec&, const runtime::InvokeRequest&) {
    return Result<runtime::InvokeResult>(Error{"TooManyRequestsException", 429, "Rate Exceeded."});
  });
  r = invoke("inv");
  expect_error(r, 429, "TooManyRequestsException", "Rate Exceeded.");
  EXPECT_EQ(get_string(r.obj(), "Reason"), "ConcurrentInvocationLimitExceeded");
}

TEST_F(LambdaServiceTest, InvokeRefusesBadRequests) {
  create("bad");
  HttpResult r = invoke("bad", "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_type(), "InvalidRequestContentException");
  EXPECT_EQ(r.message().rfind("Could not parse request body into json: Could not parse payload "
                              "into json: ",
                              0),
            0u);
  EXPECT_EQ(invoke("bad", "{} trailing").status, 400);
  EXPECT_EQ(invoke("bad", R"("just a string")").status, 200);
  EXPECT_EQ(invoke("bad", "").status, 200);

  expect_error(invoke("bad", "\"" + std::string(6 * 1024 * 1024, 'x') + "\""), 413,
               "RequestEntityTooLargeException",
               "Request must be smaller than 6291456 bytes for the InvokeFunction operation");
  expect_error(invoke("bad", "\"" + std::string(300 * 1024, 'x') + "\"",
                      {{"X-Amz-Invocation-Type", "Event"}}),
               413, "RequestEntityTooLargeException",
               "Request must be smaller than 262144 bytes for the InvokeAsync operation");
  expect_error(invoke("bad", "{}", {{"X-Amz-Invocation-Type", "Sometimes"}}), 400,
               "ValidationException",
               "1 validation error detected: Value 'Sometimes' at 'invocationType' failed to "
               "satisfy constraint: Member must satisfy enum value set: [Event, "
               "RequestResponse, DryRun]");
  expect_error(invoke("missing"), 404, "ResourceNotFoundException",
               "Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing");
  expect_error(invoke("bad:nolias"), 404, "ResourceNotFoundException",
               "Function not found: arn:aws:lambda:us-east-1:000000000000:function:bad:nolias");
  expect_error(invoke("bad", "{}", {}, "?Qualifier=7"), 404, "ResourceNotFoundException",
               "Function not found: arn:aws:lambda:us-east-1:000000000000:function:bad:7");
  EXPECT_EQ(invoker_.call_count(), 2u);  // only the two valid payloads reached the invoker

  HttpResult dry = invoke("bad", "{}", {{"X-Amz-Invocation-Type", "DryRun"}});
  EXPECT_EQ(dry.status, 204);
  EXPECT_EQ(invoker_.call_count(), 2u);
}

TEST_F(LambdaServiceTest, InvokeByArnQualifierAndAlias) {
  create("q");
  h_->call(verb::post, std::string(kFns) + "/q/versions", "{}");
  json::object a{{"Name", "live"}, {"FunctionVersion", "1"}};
  h_->call(verb::post, std::string(kFns) + "/q/aliases", json::serialize(a));

  EXPECT_EQ(invoke("arn:aws:lambda:us-east-1:000000000000:function:q").status, 200);
  EXPECT_EQ(invoker_.call(0).first.version, "$LATEST");
  HttpResult r = invoke("q:live");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("x-amz-executed-version"), "1");
  EXPECT_EQ(invoker_.call(1).first.version, "1");
  EXPECT_EQ(invoke("q", "{}", {}, "?Qualifier=1").header("x-amz-executed-version"), "1");
  EXPECT_EQ(invoke("000000000000:function:q:1").header("x-amz-executed-version"), "1");
  expect_error(invoke("q:live", "{}", {}, "?Qualifier=1"), 400, "InvalidParameterValueException",
               "The derived qualifier from the function name does not match the specified "
               "qualifier.");
}

TEST_F(LambdaServiceTest, WeightedAliasSplitsInvocations) {
  create("w");
  h_->call(verb::post, std::string(kFns) + "/w/versions", "{}");
  json::object u{{"ZipFile", base64_encode(bootstrap_zip("v2"))}, {"Publish", true}};
  h_->call(verb::put, std::string(kFns) + "/w/code", json::serialize(u));
  json::object a{
      {"Name", "canary"},
      {"FunctionVersion", "1"},
      {"RoutingConfig", json::object{{"AdditionalVersionWeights", json::object{{"2", 0.3}}}}}};
  ASSERT_EQ(h_->call(verb::post, std::string(kFns) + "/w/aliases", json::serialize(a)).status, 201);
  std::map<std::string, int> counts;
  for (int i = 0; i < 300; ++i) counts[invoke("w:canary").header("x-amz-executed-version")]++;
  EXPECT_EQ(counts["1"] + counts["2"], 300);
  EXPECT_GT(counts["2"], 45);  // ~90 expected
  EXPECT_LT(counts["2"], 150);
}

TEST_F(LambdaServiceTest, InvokeCacheFollowsUpdates) {
  create("cache");
  ASSERT_EQ(invoke("cache").status, 200);
  ASSERT_EQ(invoke("cache").status, 200);
  EXPECT_EQ(invoker_.call(1).first.memory_mb, 128);
  std::string rev = invoker_.call(1).first.revision_id;
  json::object u{{"MemorySize", 2048}};
  ASSERT_EQ(
      h_->call(verb::put, std::string(kFns) + "/cache/configuration", json::serialize(u)).status,
      200);
  ASSERT_EQ(invoke("cache").status, 200);
  EXPECT_EQ(invoker_.call(2).first.memory_mb, 2048);
  EXPECT_NE(invoker_.call(2).first.revision_id, rev);
  ASSERT_EQ(h_->call(verb::delete_, std::string(kFns) + "/cache").status, 204);
  EXPECT_EQ(invoke("cache").status, 404);
}

// ---- Async invocations ----

TEST_F(LambdaServiceTest, EventInvokeIsDeliveredAndDeleted) {
  create("ev");
  HttpResult r = invoke("ev", R"({"n":1})", {{"X-Amz-Invocation-Type", "Event"}});
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.body, "");
  std::string id = r.header("x-amzn-requestid");
  ASSERT_TRUE(eventually([&] { return invoker_.call_count() == 1; }));
  EXPECT_EQ(invoker_.call(0).second.payload, R"({"n":1})");
  EXPECT_EQ(invoker_.call(0).second.request_id, id);
  ASSERT_TRUE(eventually([&] {
    auto rows = h_->store().query("SELECT COUNT(*) FROM lambda_async_events");
    return rows.ok() && (*rows)[0].integer(0) == 0;
  }));
}

TEST_F(LambdaServiceTest, EventInvokeRetriesFunctionErrorsTwiceThenDrops) {
  create("retry");
  invoker_.set_behavior([](const runtime::FunctionSpec&, const runtime::InvokeRequest&) {
    runtime::InvokeResult r;
    r.outcome = runtime::InvokeResult::Outcome::kFunctionError;
    r.function_error = "Unhandled";
    r.payload = R"({"errorMessage":"nope"})";
    return Result<runtime::InvokeResult>(r);
  });
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(invoke("retry", "{}", {{"X-Amz-Invocation-Type", "Event"}}).status, 202);
  ASSERT_TRUE(eventually([&] {
    auto rows = h_->store().query("SELECT COUNT(*) FROM lambda_async_events");
    return invoker_.call_count() == 3 && rows.ok() && (*rows)[0].integer(0) == 0;
  }));
  // Backoff: 50 ms then 100 ms between the three attempts.
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(150));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(invoker_.call_count(), 3u);  // dropped: no fourth attempt
  EXPECT_EQ(invoker_.call(0).second.request_id, invoker_.call(2).second.request_id);
}

TEST_F(LambdaServiceTest, EventInvokeRetriesThrottles) {
  create("thr");
  std::atomic<int> n{0};
  invoker_.set_behavior([&](const runtime::FunctionSpec&, const runtime::InvokeRequest&) {
    if (++n <= 4) {
      return Result<runtime::InvokeResult>(
          Error{"TooManyRequestsException", 429, "Rate Exceeded."});
    }
    return Result<runtime::InvokeResult>(runtime::InvokeResult{});
  });
  ASSERT_EQ(invoke("thr", "{}", {{"X-Amz-Invocation-Type", "Event"}}).status, 202);
  ASSERT_TRUE(eventually([&] {
    auto rows = h_->store().query("SELECT COUNT(*) FROM lambda_async_events");
    return n.load() == 5 && rows.ok() && (*rows)[0].integer(0) == 0;
  }));
}

// Async invocations run on the workers in turn (the node passes its io threads: their instances
// then spread over the CPUs, docs/ARCHITECTURE.md "Threading").
TEST(LambdaAsyncWorkersTest, EventsRunOnTheWorkersInTurn) {
  TempDir dir;
  FakeInvoker invoker;
  boost::asio::io_context w1, w2;
  auto g1 = boost::asio::make_work_guard(w1);
  auto g2 = boost::asio::make_work_guard(w2);
  std::thread t1([&] { w1.run(); });
  std::thread t2([&] { w2.run(); });
  std::mutex mu;
  std::set<std::thread::id> ran_on;
  invoker.set_behavior([&](const runtime::FunctionSpec&, const runtime::InvokeRequest&) {
    std::lock_guard lock(mu);
    ran_on.insert(std::this_thread::get_id());
    return Result<runtime::InvokeResult>(runtime::InvokeResult{});
  });
  {
    Harness h(dir.path(), &invoker, {}, true, {&w1, &w2});
    ASSERT_TRUE(h.start_status().ok());
    ASSERT_EQ(h.call(verb::post, kFns, json::serialize(create_body("spread"))).status, 201);
    for (int i = 0; i < 6; ++i) {
      ASSERT_EQ(h.call(verb::post, std::string(kFns) + "/spread/invocations", "{}",
                       {{"X-Amz-Invocation-Type", "Event"}})
                    .status,
                202);
    }
    ASSERT_TRUE(eventually([&] { return invoker.call_count() == 6; }));
  }
  const std::set<std::thread::id> workers{t1.get_id(), t2.get_id()};
  g1.reset();
  g2.reset();
  t1.join();
  t2.join();
  std::lock_guard lock(mu);
  EXPECT_EQ(ran_on, workers);
}

TEST(LambdaAsyncDurabilityTest, AcceptedEventsSurviveARestart) {
  TempDir dir;
  FakeInvoker invoker;
  {
    AsyncQueueOptions paused;
    paused.max_concurrency = 0;  // accept and store only
    Harness h(dir.path(), &invoker, paused);
    ASSERT_EQ(h.call(verb::post, kFns, json::serialize(create_body("dur"))).status, 201);
    for (int i = 0; i < 3; ++i) {
      HttpResult r =
          h.call(verb::post, std::string(kFns) + "/dur/invocations",
                 R"({"i":)" + std::to_string(i) + "}", {{"X-Amz-Invocation-Type", "Event"}});
      ASSERT_EQ(r.status, 202);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(invoker.call_count(), 0u);
  }  // the service goes away with the events undelivered
  Harness h2(dir.path(), &invoker);
  ASSERT_TRUE(h2.start_status().ok());
  ASSERT_TRUE(eventually([&] { return invoker.call_count() == 3; }));
  std::set<std::string> payloads;
  for (size_t i = 0; i < 3; ++i) payloads.insert(invoker.call(i).second.payload);
  EXPECT_EQ(payloads, (std::set<std::string>{R"({"i":0})", R"({"i":1})", R"({"i":2})"}));
  ASSERT_TRUE(eventually([&] {
    auto rows = h2.store().query("SELECT COUNT(*) FROM lambda_async_events");
    return rows.ok() && (*rows)[0].integer(0) == 0;
  }));
}

TEST(LambdaRestartTest, MissingUnpackedCodeIsRebuiltOnStart) {
  TempDir dir;
  FakeInvoker invoker;
  std::string hex;
  {
    Harness h(dir.path(), &invoker);
    HttpResult c = h.call(verb::post, kFns, json::serialize(create_body("re")));
    ASSERT_EQ(c.status, 201);
    auto d = base64_decode(*get_string(c.obj(), "CodeSha256"));
    hex = hex_encode(*d);
  }
  std::string unpacked = dir.path() + "/lambda/unpacked/" + hex;
  ASSERT_TRUE(std::filesystem::exists(unpacked + "/bootstrap"));
  ASSERT_TRUE(storage::remove_all(unpacked).ok());
  Harness h(dir.path(), &invoker);
  ASSERT_TRUE(h.start_status().ok());
  EXPECT_TRUE(std::filesystem::exists(unpacked + "/bootstrap"));
  EXPECT_EQ(h.call(verb::post, std::string(kFns) + "/re/invocations", "{}").status, 200);
  HttpResult g = h.call(verb::get, std::string(kFns) + "/re");
  EXPECT_EQ(get_string(g.obj().at("Configuration").as_object(), "State"), "Active");
}

// ---- Account settings, tags, code download ----

TEST_F(LambdaServiceTest, AccountSettings) {
  std::string zip = bootstrap_zip();
  create(create_body("s1", zip));
  create(create_body("s2", zip));
  HttpResult r = get("/2016-08-19/account-settings/");
  ASSERT_EQ(r.status, 200) << r.body;
  json::object limit = r.obj().at("AccountLimit").as_object();
  EXPECT_EQ(get_int(limit, "TotalCodeSize"), 80530636800);
  EXPECT_EQ(get_int(limit, "CodeSizeUnzipped"), 262144000);
  EXPECT_EQ(get_int(limit, "CodeSizeZipped"), 52428800);
  EXPECT_EQ(get_int(limit, "ConcurrentExecutions"), 1000);
  EXPECT_EQ(get_int(limit, "UnreservedConcurrentExecutions"), 1000);
  json::object usage = r.obj().at("AccountUsage").as_object();
  EXPECT_EQ(get_int(usage, "FunctionCount"), 2);
  EXPECT_EQ(get_int(usage, "TotalCodeSize"), static_cast<int64_t>(2 * zip.size()));
}

TEST_F(LambdaServiceTest, ReservedConcurrencyIsValidatedStoredAndHandedToTheInvoker) {
  std::string zip = bootstrap_zip();
  create(create_body("rc", zip));
  const std::string put = "/2017-10-31/functions/rc/concurrency";
  const std::string arn = "arn:aws:lambda:us-east-1:000000000000:function:rc";
  expect_error(h_->call(verb::put, put, "{}"), 400, "ValidationException",
               "1 validation error detected: Value null at 'reservedConcurrentExecutions' failed "
               "to satisfy constraint: Member must not be null");
  expect_error(h_->call(verb::put, put, R"({"ReservedConcurrentExecutions":-1})"), 400,
               "ValidationException",
               "1 validation error detected: Value '-1' at 'reservedConcurrentExecutions' failed "
               "to satisfy constraint: Member must have value greater than or equal to 0");
  // 1000 - 901 leaves 99 unreserved: under the floor of 100.
  expect_error(h_->call(verb::put, put, R"({"ReservedConcurrentExecutions":901})"), 400,
               "InvalidParameterValueException",
               "Specified ReservedConcurrentExecutions for function decreases account's "
               "UnreservedConcurrentExecution below its minimum value of [100].");
  EXPECT_TRUE(invoker_.reserved().empty());

  HttpResult r = h_->call(verb::put, put, R"({"ReservedConcurrentExecutions":900})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(get_int(r.obj(), "ReservedConcurrentExecutions"), 900);
  EXPECT_EQ(invoker_.reserved().at(arn), 900);
  r = get("/2019-09-30/functions/rc/concurrency");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(get_int(r.obj(), "ReservedConcurrentExecutions"), 900);
  r = get("/2016-08-19/account-settings/");
  EXPECT_EQ(get_int(r.obj().at("AccountLimit").as_object(), "UnreservedConcurrentExecutions"), 100);

  r = h_->call(verb::delete_, put);
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_TRUE(invoker_.reserved().empty());
  r = get("/2019-09-30/functions/rc/concurrency");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.obj().empty()) << r.body;
}

TEST_F(LambdaServiceTest, ProvisionedConcurrencyConfigs) {
  create("pc");
  h_->call(verb::post, std::string(kFns) + "/pc/versions", "{}");
  json::object u{{"ZipFile", base64_encode(bootstrap_zip("v2"))}, {"Publish", true}};
  h_->call(verb::put, std::string(kFns) + "/pc/code", json::serialize(u));
  json::object a{{"Name", "live"}, {"FunctionVersion", "2"}};
  ASSERT_EQ(h_->call(verb::post, std::string(kFns) + "/pc/aliases", json::serialize(a)).status,
            201);
  const std::string base = "/2019-09-30/functions/pc/provisioned-concurrency";
  const std::string v1 = "arn:aws:lambda:us-east-1:000000000000:function:pc:1";
  const std::string v2 = "arn:aws:lambda:us-east-1:000000000000:function:pc:2";

  expect_error(h_->call(verb::put, base + "?Qualifier=%24LATEST",
                        R"({"ProvisionedConcurrentExecutions":1})"),
               400, "InvalidParameterValueException",
               "Provisioned Concurrency Configs cannot be applied to unpublished function "
               "versions.");
  expect_error(
      h_->call(verb::put, base + "?Qualifier=7", R"({"ProvisionedConcurrentExecutions":1})"), 404,
      "ResourceNotFoundException",
      "Function not found: arn:aws:lambda:us-east-1:000000000000:function:pc:7");
  expect_error(
      h_->call(verb::put, base + "?Qualifier=1", R"({"ProvisionedConcurrentExecutions":0})"), 400,
      "ValidationException",
      "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed "
      "to satisfy constraint: Member must have value greater than or equal to 1");
  expect_error(
      h_->call(verb::put, base + "?Qualifier=1", R"({"ProvisionedConcurrentExecutions":901})"), 400,
      "InvalidParameterValueException",
      "Specified ProvisionedConcurrentExecutions for function decreases account's "
      "UnreservedConcurrentExecution below its minimum value of [100].");
  expect_error(get(base + "?Qualifier=1"), 404, "ProvisionedConcurrencyConfigNotFoundException",
               "No Provisioned Concurrency Config found for this function");

  HttpResult r =
      h_->call(verb::put, base + "?Qualifier=1", R"({"ProvisionedConcurrentExecutions":3})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(get_int(r.obj(), "RequestedProvisionedConcurrentExecutions"), 3);
  EXPECT_EQ(get_int(r.obj(), "AllocatedProvisionedConcurrentExecutions"), 0);
  EXPECT_EQ(get_string(r.obj(), "Status"), "IN_PROGRESS");
  EXPECT_FALSE(r.obj().contains("AvailableProvisionedConcurrentExecutions"));
  EXPECT_EQ(invoker_.provisioned(), (std::map<std::string, int>{{v1, 3}}));
  // The alias points at version 2: both are provisioned, each at its own version.
  r = h_->call(verb::put, base + "?Qualifier=live", R"({"ProvisionedConcurrentExecutions":2})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(invoker_.provisioned(), (std::map<std::string, int>{{v1, 3}, {v2, 2}}));
  // Version 2 is provisioned through the alias already.
  expect_error(
      h_->call(verb::put, base + "?Qualifier=2", R"({"ProvisionedConcurrentExecutions":1})"), 409,
      "ResourceConflictException", "Version is pointed by a Provisioned Concurrency alias");

  // Status follows what the invoker has ready.
  invoker_.set_provisioned_status(v1, {3, ""});
  invoker_.set_provisioned_status(v2, {1, "FUNCTION_ERROR_INIT_FAILED"});
  r = get(base + "?Qualifier=1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(get_string(r.obj(), "Status"), "READY");
  EXPECT_EQ(get_int(r.obj(), "AvailableProvisionedConcurrentExecutions"), 3);
  r = get(base + "?Qualifier=live");
  EXPECT_EQ(get_string(r.obj(), "Status"), "FAILED");
  EXPECT_EQ(get_string(r.obj(), "StatusReason"), "FUNCTION_ERROR_INIT_FAILED");
  EXPECT_EQ(get_int(r.obj(), "AllocatedProvisionedConcurrentExecutions"), 1);

  r = get(base + "?List=ALL");
  ASSERT_EQ(r.status, 200) << r.body;
  auto items = r.obj().at("ProvisionedConcurrencyConfigs").as_array();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(get_string(items[0].as_object(), "FunctionArn"), v1);
  EXPECT_EQ(get_string(items[1].as_object(), "FunctionArn"),
            "arn:aws:lambda:us-east-1:000000000000:function:pc:live");
  r = get(base + "?List=ALL&MaxItems=1");
  EXPECT_EQ(r.obj().at("ProvisionedConcurrencyConfigs").as_array().size(), 1u);
  ASSERT_TRUE(get_string(r.obj(), "NextMarker").has_value()) << r.body;
  r = get(base + "?List=ALL&Marker=" + *get_string(r.obj(), "NextMarker"));
  ASSERT_EQ(r.obj().at("ProvisionedConcurrencyConfigs").as_array().size(), 1u);

  // Another function's reservation must leave 100 unreserved besides these 5 provisioned ones.
  create("other");
  expect_error(h_->call(verb::put, "/2017-10-31/functions/other/concurrency",
                        R"({"ReservedConcurrentExecutions":896})"),
               400, "InvalidParameterValueException",
               "Specified ReservedConcurrentExecutions for function decreases account's "
               "UnreservedConcurrentExecution below its minimum value of [100].");
  EXPECT_EQ(h_->call(verb::put, "/2017-10-31/functions/other/concurrency",
                     R"({"ReservedConcurrentExecutions":895})")
                .status,
            200);
  EXPECT_EQ(h_->call(verb::delete_, "/2017-10-31/functions/other/concurrency").status, 204);

  // Reserved concurrency must hold the provisioned instances.
  expect_error(h_->call(verb::put, "/2017-10-31/functions/pc/concurrency",
                        R"({"ReservedConcurrentExecutions":4})"),
               400, "InvalidParameterValueException",
               "ReservedConcurrentExecutions 4 should not be lower than function's total "
               "provisioned concurrency [5]");

  // Re-pointing the alias moves its provisioned instances to the new target (here one that is
  // provisioned on its own too: both counts).
  json::object move{{"FunctionVersion", "1"}};
  ASSERT_EQ(
      h_->call(verb::put, std::string(kFns) + "/pc/aliases/live", json::serialize(move)).status,
      200);
  EXPECT_EQ(invoker_.provisioned(), (std::map<std::string, int>{{v1, 5}}));

  expect_error(h_->call(verb::delete_, base + "?Qualifier=9"), 404, "ResourceNotFoundException",
               "Function not found: arn:aws:lambda:us-east-1:000000000000:function:pc:9");
  expect_error(h_->call(verb::delete_, base + "?Qualifier=%24LATEST"), 400,
               "InvalidParameterValueException",
               "Provisioned Concurrency Configs cannot be applied to unpublished function "
               "versions.");
  EXPECT_EQ(h_->call(verb::delete_, base + "?Qualifier=live").status, 204);
  EXPECT_EQ(invoker_.provisioned(), (std::map<std::string, int>{{v1, 3}}));
  EXPECT_EQ(h_->call(verb::delete_, std::string(kFns) + "/pc").status, 204);
  EXPECT_TRUE(invoker_.provisioned().empty());
}

TEST_F(LambdaServiceTest, Tags) {
  create("tg");
  std::string arn = "arn:aws:lambda:us-east-1:000000000000:function:tg";
  std::string path = "/2017-03-31/tags/" + arn;
  json::object t{{"Tags", json::object{{"a", "1"}, {"b", "2"}}}};
  ASSERT_EQ(h_->call(verb::post, path, json::serialize(t)).status, 204);
  HttpResult r = get(path);
  EXPECT_EQ(json::serialize(r.obj().at("Tags")), R"({"a":"1","b":"2"})");
  ASSERT_EQ(h_->call(verb::delete_, path + "?tagKeys=a").status, 204);
  r = get(path);
  EXPECT_EQ(json::serialize(r.obj().at("Tags")), R"({"b":"2"})");
  expect_error(get(path + ":1"), 400, "InvalidParameterValueException",
               "Tags on function aliases and versions are not supported. Please specify a "
               "function ARN.");
  expect_error(get("/2017-03-31/tags/arn:aws:lambda:us-east-1:000000000000:function:none"), 404,
               "ResourceNotFoundException",
               "Function not found: arn:aws:lambda:us-east-1:000000000000:function:none");
}

TEST_F(LambdaServiceTest, CodeLocationServesTheZip) {
  std::string zip = bootstrap_zip("dl");
  create(create_body("dl", zip));
  HttpResult g = get(std::string(kFns) + "/dl");
  std::string location = *get_string(g.obj().at("Code").as_object(), "Location");
  std::string target = location.substr(std::string("http://127.0.0.1:4566").size());
  HttpResult r = get(target);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, zip);
  EXPECT_EQ(r.header("content-type"), "application/zip");
  std::string tampered = target;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  EXPECT_EQ(get(tampered).status, 403);
}

}  // namespace
}  // namespace nubo::lambda
