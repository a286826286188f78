// Lambda's limits and defaults, in one place (STYLE.md #12). Sources: the AWS Lambda developer
// guide "Lambda quotas" page, the Lambda API reference (request parameter constraints) and
// botocore's lambda/2015-03-31/service-2.json.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace nubo::lambda {

// API versions in the request paths.
inline constexpr std::string_view kFunctionsPrefix = "/2015-03-31/functions";
inline constexpr std::string_view kAccountSettingsPrefix = "/2016-08-19/account-settings";
inline constexpr std::string_view kTagsPrefix = "/2017-03-31/tags/";
inline constexpr std::string_view kInvokeAsyncPrefix = "/2014-11-13/functions/";
// Served by this node for GetFunction's Code.Location (not an AWS path).
inline constexpr std::string_view kCodeDownloadPrefix = "/_nubo/lambda/code/";

// Quotas page: "Deployment package (.zip file archive) size: 50 MB (zipped, direct upload),
// 250 MB (unzipped)", "Total code storage: 75 GB".
inline constexpr int64_t kCodeSizeZipped = 52428800;
inline constexpr int64_t kCodeSizeUnzipped = 262144000;
inline constexpr int64_t kTotalCodeSize = 80530636800;
// "Invocation payload (request and response): 6 MB each for synchronous, 256 KB for
// asynchronous".
inline constexpr int64_t kSyncPayloadLimit = 6291456;
// PutFunctionConcurrency: reservations may not bring the account's unreserved concurrency below
// this ("Lambda quotas": UnreservedConcurrentExecutions minimum 100).
inline constexpr int kMinUnreservedConcurrency = 100;
// ListProvisionedConcurrencyConfigs MaxItems: 1..50, default 50 (API reference).
inline constexpr int kMaxProvisionedListItems = 50;
inline constexpr std::string_view kConcurrencyPutPrefix = "/2017-10-31/functions/";
inline constexpr std::string_view kConcurrencyGetPrefix = "/2019-09-30/functions/";
inline constexpr int64_t kAsyncPayloadLimit = 262144;
// "Environment variables: 4 KB, for all environment variables associated with the function".
inline constexpr size_t kEnvironmentLimit = 4096;
// Log tail returned with X-Amz-Log-Type: Tail.
inline constexpr size_t kLogTailBytes = 4096;

// CreateFunction request parameters (API reference).
inline constexpr int kMemoryMin = 128;
inline constexpr int kMemoryMax = 10240;
inline constexpr int kMemoryDefault = 128;
inline constexpr int kTimeoutMin = 1;
inline constexpr int kTimeoutMax = 900;
inline constexpr int kTimeoutDefault = 3;
inline constexpr int kEphemeralMin = 512;
inline constexpr int kEphemeralMax = 10240;
inline constexpr int kEphemeralDefault = 512;
inline constexpr size_t kDescriptionMax = 256;
inline constexpr size_t kHandlerMax = 128;
inline constexpr size_t kFunctionNameMax = 64;        // a bare name
inline constexpr size_t kFunctionArnMaxCreate = 140;  // CreateFunction / DeleteFunction ARNs
inline constexpr size_t kFunctionArnMax = 170;        // every other operation
inline constexpr size_t kQualifierMax = 128;
inline constexpr size_t kAliasNameMax = 128;
inline constexpr size_t kMaxTags = 50;
inline constexpr int kMaxLayers = 5;
// VpcConfig (API reference): at most 16 subnets and 5 security groups.
inline constexpr size_t kMaxVpcSubnets = 16;
inline constexpr size_t kMaxVpcSecurityGroups = 5;
// Layers (API reference: PublishLayerVersion, ListLayers). The request path's API version.
inline constexpr std::string_view kLayersPrefix = "/2018-10-31/layers";
inline constexpr size_t kLayerNameMax = 140;
inline constexpr size_t kLicenseInfoMax = 512;
inline constexpr size_t kMaxCompatibleRuntimes = 15;
inline constexpr size_t kMaxCompatibleArchitectures = 2;
inline constexpr int kMaxLayerListItems = 50;  // ListLayers / ListLayerVersions MaxItems 1..50
inline constexpr std::string_view kLayerNamePattern =
    "(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+";
inline constexpr std::string_view kLayerVersionArnPattern =
    "arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+";

// ListFunctions / ListVersionsByFunction / ListAliases: MaxItems 1..10000, default 50.
inline constexpr int kMaxItemsMin = 1;
inline constexpr int kMaxItemsMax = 10000;
inline constexpr int kMaxItemsDefault = 50;

// Function policies (API reference: AddPermission, RemovePermission; "Lambda quotas": "Function
// resource-based policy: 20 KB").
inline constexpr size_t kMaxFunctionPolicyBytes = 20480;
inline constexpr size_t kStatementIdMax = 100;
inline constexpr std::string_view kStatementIdPattern = "([a-zA-Z0-9-_]+)";
inline constexpr std::string_view kRemoveStatementIdPattern = "([a-zA-Z0-9-_.]+)";
inline constexpr std::string_view kPermissionActionPattern = "(lambda:[*]|lambda:[a-zA-Z]+|[*])";
inline constexpr std::string_view kPrincipalPattern = "[^\\s]+";
inline constexpr std::string_view kSourceArnPattern =
    "arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}(-gov)?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)";
inline constexpr std::string_view kSourceAccountPattern = "\\d{12}";
inline constexpr std::string_view kPrincipalOrgIdPattern = "^o-[a-z0-9]{10,32}$";
inline constexpr std::string_view kEventSourceTokenPattern = "[a-zA-Z0-9._\\-]+";
inline constexpr size_t kEventSourceTokenMax = 256;

// Function URLs (API reference: CreateFunctionUrlConfig, Cors, ListFunctionUrlConfigs). The
// request path's API version; the qualifier is an alias (or $LATEST in the pattern, which
// Lambda nevertheless refuses with the second pattern).
inline constexpr std::string_view kFunctionUrlsPrefix = "/2021-10-31/functions/";
inline constexpr std::string_view kFunctionUrlQualifierPattern =
    "(^\\$LATEST$)|((?!^[0-9]+$)([a-zA-Z0-9-_]+))";
inline constexpr std::string_view kFunctionUrlLatestPattern = "((?!^\\d+$)^[0-9a-zA-Z-_]+$)";
inline constexpr int kMaxFunctionUrlListItems = 50;  // MaxItems 1..50, default 50
inline constexpr size_t kCorsMaxHeaders = 100;       // AllowHeaders, ExposeHeaders
inline constexpr size_t kCorsHeaderMax = 1024;
inline constexpr size_t kCorsMaxMethods = 6;
inline constexpr size_t kCorsMethodMax = 6;
inline constexpr size_t kCorsMaxOrigins = 100;
inline constexpr size_t kCorsOriginMax = 253;
inline constexpr int kCorsMaxAgeMax = 86400;
// A URL id: 32 lower-case letters and digits, as Lambda's <url-id>.lambda-url.<region>.on.aws.
inline constexpr size_t kFunctionUrlIdLength = 32;

// Presigned code download URLs expire after 10 minutes, as Lambda's do.
inline constexpr std::chrono::seconds kCodeUrlExpiry{600};

// Async invocation ("Asynchronous invocation" in the developer guide): two retries after the
// first attempt (about 1 minute, then 2 minutes later), events older than 6 hours dropped.
inline constexpr int kAsyncMaxRetries = 2;
inline constexpr std::chrono::milliseconds kAsyncRetryBase{60000};
inline constexpr std::chrono::hours kAsyncMaxEventAge{6};

// Runtimes nubo accepts (a subset of Lambda's enum; see DESIGN.md "Runtime").
inline constexpr std::array<std::string_view, 11> kSupportedRuntimes = {
    "nodejs22.x", "nodejs20.x", "nodejs18.x", "python3.13",   "python3.12",     "python3.11",
    "python3.10", "python3.9",  "provided",   "provided.al2", "provided.al2023"};

// Lambda runtimes AWS still lists that nubo cannot run (yet).
inline constexpr std::array<std::string_view, 14> kOtherAwsRuntimes = {
    "nodejs24.x", "nodejs16.x", "python3.14", "python3.8", "java25",  "java21",  "java17",
    "java11",     "java8.al2",  "dotnet8",    "dotnet6",   "ruby3.4", "ruby3.3", "ruby3.2"};

// Deprecated runtimes and the upgrade Lambda recommends in its error message ("" for the
// generic "a supported runtime" wording).
struct DeprecatedRuntime {
  std::string_view name;
  std::string_view upgrade;
};
inline constexpr std::array<DeprecatedRuntime, 16> kDeprecatedRuntimes = {{
    {"java8", "java21"},
    {"go1.x", "provided.al2023"},
    {"ruby2.7", "ruby3.2"},
    {"ruby2.5", ""},
    {"nodejs14.x", "nodejs20.x"},
    {"nodejs12.x", "nodejs18.x"},
    {"nodejs10.x", ""},
    {"nodejs8.10", ""},
    {"nodejs6.10", ""},
    {"nodejs4.3", ""},
    {"nodejs", ""},
    {"python3.7", "python3.12"},
    {"python3.6", ""},
    {"python2.7", ""},
    {"dotnetcore3.1", "dotnet6"},
    {"dotnetcore2.1", ""},
}};

// Environment variable keys Lambda sets itself and refuses in a function's configuration
// (developer guide, "Defined runtime environment variables" marked reserved).
inline constexpr std::array<std::string_view, 18> kReservedEnvKeys = {
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
};

// Patterns as Lambda quotes them in its validation messages.
inline constexpr std::string_view kRolePattern =
    "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+";
inline constexpr std::string_view kCreateNamePattern =
    "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
    "(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?";
inline constexpr std::string_view kNamePattern =
    "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
    "(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?";
inline constexpr std::string_view kNamePatternDot =
    "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
    "(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?";
inline constexpr std::string_view kQualifierPattern = "(|[a-zA-Z0-9$_-]+)";
inline constexpr std::string_view kAliasPattern = "(?!^[0-9]+$)([a-zA-Z0-9-_]+)";
inline constexpr std::string_view kEnvKeyPattern = "[a-zA-Z]([a-zA-Z0-9_])+";

// Event source mappings from SQS (API reference, CreateEventSourceMapping: BatchSize "Amazon
// SQS – Default 10. For standard queues the maximum is 10,000. For FIFO queues the maximum is
// 10."; MaximumBatchingWindowInSeconds 0-300, required to be at least 1 above a batch of 10;
// ScalingConfig.MaximumConcurrency 2-1000; ListEventSourceMappings MaxItems 1-10000, default
// 100). Lambda scales SQS pollers up to 1,250 concurrent invocations; nubo's limit per mapping
// without a MaximumConcurrency (the invoker's concurrency limits apply on top).
inline constexpr std::string_view kEventSourceMappingsPrefix = "/2015-03-31/event-source-mappings";
inline constexpr int64_t kSqsBatchSizeDefault = 10;
inline constexpr int64_t kSqsBatchSizeMax = 10000;
inline constexpr int64_t kSqsFifoBatchSizeMax = 10;
inline constexpr int64_t kSqsBatchingWindowMax = 300;
inline constexpr int64_t kSqsMaxConcurrencyMin = 2;
inline constexpr int64_t kSqsMaxConcurrencyMax = 1000;
inline constexpr int64_t kSqsMaxPollers = 1250;
inline constexpr size_t kSqsListMappingsMax = 100;

// Asynchronous invocation configuration (PutFunctionEventInvokeConfig, API 2019-09-25):
// MaximumEventAgeInSeconds 60-21600 (MaximumRetryAttempts 0-2 is kAsyncMaxRetries).
inline constexpr std::string_view kEventInvokeConfigPrefix = "/2019-09-25/functions/";
inline constexpr int64_t kEventAgeMinSeconds = 60;
inline constexpr int64_t kEventAgeMaxSeconds = 21600;

// PutFunctionRecursionConfig / GetFunctionRecursionConfig (API 2024-08-31).
inline constexpr std::string_view kRecursionConfigPrefix = "/2024-08-31/functions/";

}  // namespace nubo::lambda
