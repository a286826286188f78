#include "runtime/runtimes.h"

// GCC 12 false positives: -Wmaybe-uninitialized inside std::regex, -Wmismatched-new-delete on
// Asio coroutine frames (GCC bug 109224).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <gtest/gtest.h>

#include <map>
#include <regex>

#include "test_util.h"

namespace nubo::runtime {
namespace {

using testing::TempDir;

std::map<std::string, std::string> as_map(const std::vector<std::string>& env) {
  std::map<std::string, std::string> m;
  for (const auto& kv : env) {
    size_t eq = kv.find('=');
    EXPECT_NE(eq, std::string::npos) << kv;
    EXPECT_EQ(m.count(kv.substr(0, eq)), 0u) << "duplicate " << kv;
    m[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return m;
}

FunctionSpec python_spec() {
  FunctionSpec s;
  s.name = "my-fn";
  s.version = "$LATEST";
  s.function_arn = "arn:aws:lambda:us-east-1:000000000000:function:my-fn";
  s.qualified_arn = s.function_arn + ":$LATEST";
  s.runtime = "python3.12";
  s.handler = "app.handler";
  s.code_dir = "/data/lambda/my-fn/code";
  s.memory_mb = 256;
  s.log_group = "/aws/lambda/my-fn";
  return s;
}

TEST(RuntimesTest, Families) {
  EXPECT_EQ(runtime_family("provided"), RuntimeFamily::kProvided);
  EXPECT_EQ(runtime_family("provided.al2"), RuntimeFamily::kProvided);
  EXPECT_EQ(runtime_family("provided.al2023"), RuntimeFamily::kProvided);
  EXPECT_EQ(runtime_family("python3.11"), RuntimeFamily::kPython);
  EXPECT_EQ(runtime_family("python3.13"), RuntimeFamily::kPython);
  EXPECT_EQ(runtime_family("nodejs18.x"), RuntimeFamily::kNodejs);
  EXPECT_EQ(runtime_family("nodejs22.x"), RuntimeFamily::kNodejs);
  EXPECT_FALSE(runtime_family("java21").has_value());
  EXPECT_FALSE(runtime_family("python2.7").has_value());
  EXPECT_EQ(execution_env("python3.12"), "AWS_Lambda_python3.12");
  EXPECT_EQ(execution_env("nodejs20.x"), "AWS_Lambda_nodejs20.x");
  EXPECT_EQ(execution_env("provided.al2023"), "");
}

TEST(RuntimesTest, EnvironmentIsLambdas) {
  FunctionSpec spec = python_spec();
  spec.environment = {{"TABLE", "orders"}, {"LANG", "C.UTF-8"}};
  NodeConfig config;
  config.region = "eu-west-1";
  config.endpoint_url = "http://127.0.0.1:4566";
  LaunchCommand cmd;
  cmd.runtime_dir = "/opt/nubo/runtimes";
  cmd.path = "/usr/local/bin:/usr/bin:/bin";
  cmd.defaults = {{"NODE_PATH", "/n"}};
  InstanceEnvironment ie;
  ie.runtime_api_port = 40123;
  ie.log_stream = "2024/01/31/[$LATEST]0123456789abcdef0123456789abcdef";
  ie.credentials = {"AKID", "SECRET", ""};
  auto env = as_map(build_environment(spec, config, cmd, ie));
  EXPECT_EQ(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:40123");
  EXPECT_EQ(env["_HANDLER"], "app.handler");
  EXPECT_EQ(env["LAMBDA_TASK_ROOT"], "/data/lambda/my-fn/code");
  EXPECT_EQ(env["LAMBDA_RUNTIME_DIR"], "/opt/nubo/runtimes");
  EXPECT_EQ(env["AWS_EXECUTION_ENV"], "AWS_Lambda_python3.12");
  EXPECT_EQ(env["AWS_LAMBDA_FUNCTION_NAME"], "my-fn");
  EXPECT_EQ(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
  EXPECT_EQ(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
  EXPECT_EQ(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/my-fn");
  EXPECT_EQ(env["AWS_LAMBDA_LOG_STREAM_NAME"], ie.log_stream);
  EXPECT_EQ(env["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand");
  EXPECT_EQ(env["AWS_REGION"], "eu-west-1");
  EXPECT_EQ(env["AWS_DEFAULT_REGION"], "eu-west-1");
  EXPECT_EQ(env["TZ"], ":UTC");
  EXPECT_EQ(env["PATH"], cmd.path);
  EXPECT_EQ(env["NODE_PATH"], "/n");
  EXPECT_EQ(env.count("PYTHONPATH"), 0u);
  EXPECT_EQ(env["AWS_ENDPOINT_URL"], "http://127.0.0.1:4566");
  EXPECT_EQ(env["AWS_ACCESS_KEY_ID"], "AKID");
  EXPECT_EQ(env["AWS_ACCESS_KEY"], "AKID");
  EXPECT_EQ(env["AWS_SECRET_ACCESS_KEY"], "SECRET");
  EXPECT_EQ(env.count("AWS_SESSION_TOKEN"), 0u);
  EXPECT_EQ(env.count("HOME"), 0u);
  EXPECT_EQ(env["TABLE"], "orders");
  EXPECT_EQ(env["LANG"], "C.UTF-8");  // unreserved: the function may override it
  EXPECT_EQ(env["LD_LIBRARY_PATH"],
            "/opt/nubo/runtimes:/opt/nubo/runtimes/lib:/data/lambda/my-fn/code:"
            "/data/lambda/my-fn/code/lib");
}

TEST(RuntimesTest, ReservedVariablesWinOverTheFunctions) {
  FunctionSpec spec = python_spec();
  spec.runtime = "provided.al2023";
  spec.environment = {{"AWS_REGION", "mars-1"},        {"AWS_LAMBDA_RUNTIME_API", "evil:1"},
                      {"TZ", "Europe/Paris"},          {"AWS_EXECUTION_ENV", "fake"},
                      {"AWS_SESSION_TOKEN", "stolen"}, {"NUBO_SPARE_FD", "3"}};
  NodeConfig config;
  LaunchCommand cmd;
  cmd.path = "/usr/local/bin:/usr/bin:/bin";
  InstanceEnvironment ie;
  ie.runtime_api_port = 9001;
  ie.credentials = {"A", "B", "TOKEN"};
  auto env = as_map(build_environment(spec, config, cmd, ie));
  EXPECT_EQ(env["AWS_REGION"], "us-east-1");
  EXPECT_EQ(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
  EXPECT_EQ(env["TZ"], ":UTC");
  EXPECT_EQ(env.count("AWS_EXECUTION_ENV"), 0u);  // not set for provided runtimes
  EXPECT_EQ(env["AWS_SESSION_TOKEN"], "TOKEN");
  EXPECT_EQ(env.count("AWS_ENDPOINT_URL"), 0u);  // no endpoint configured
  EXPECT_EQ(env.count("NUBO_SPARE_FD"), 0u);     // the node's hand-off to spares only
}

TEST(RuntimesTest, ProvidedRunsTheBootstrap) {
  TempDir dir;
  FunctionSpec spec = python_spec();
  spec.runtime = "provided.al2";
  spec.code_dir = dir.path();
  RuntimeSettings settings;
  auto missing = launch_command(spec, settings);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "Runtime.InvalidEntrypoint");
  EXPECT_EQ(missing.error().message,
            "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]");

  std::string path = dir.write_executable("bootstrap", "#!/bin/sh\n");
  settings.runtimes_dir = "/opt/nubo/runtimes";
  auto cmd = launch_command(spec, settings);
  ASSERT_TRUE(cmd.ok());
  EXPECT_EQ(cmd->executable, path);
  EXPECT_EQ(cmd->argv, std::vector<std::string>{path});
  EXPECT_EQ(cmd->path, "/usr/local/bin:/usr/bin:/bin");
  EXPECT_EQ(cmd->runtime_dir, "/opt/nubo/runtimes");
  ASSERT_EQ(cmd->defaults.size(), 1u);
  EXPECT_EQ(cmd->defaults[0].first, "NUBO_RIC_DIR");
  EXPECT_EQ(cmd->defaults[0].second, "/opt/nubo/runtimes/ric");

  chmod(path.c_str(), 0644);
  EXPECT_EQ(launch_command(spec, settings).error().code, "Runtime.InvalidEntrypoint");

  // Neither ELF nor "#!": refused before any launch, in Lambda's words.
  dir.write_executable("bootstrap", "echo no shebang\n");
  auto not_a_program = launch_command(spec, settings);
  ASSERT_FALSE(not_a_program.ok());
  EXPECT_EQ(not_a_program.error().code, "Runtime.InvalidEntrypoint");
  EXPECT_EQ(not_a_program.error().message, "fork/exec " + path + ": exec format error");
  dir.write_executable("bootstrap",
                       "\x7f"
                       "ELF");
  EXPECT_TRUE(launch_command(spec, settings).ok());
}

TEST(RuntimesTest, InterpretedRuntimesRunNubosClients) {
  FunctionSpec spec = python_spec();
  RuntimeSettings settings;
  settings.runtimes_dir = "/opt/nubo/runtimes";
  settings.python = "/usr/bin/python3";
  settings.node = "/usr/local/bin/node";
  auto py = launch_command(spec, settings);
  ASSERT_TRUE(py.ok());
  EXPECT_EQ(py->executable, "/usr/bin/python3");
  EXPECT_EQ(py->argv, (std::vector<std::string>{"/usr/bin/python3", "-S", "-u",
                                                "/opt/nubo/runtimes/python/bootstrap.py"}));
  EXPECT_EQ(py->runtime_dir, "/opt/nubo/runtimes");
  EXPECT_EQ(py->path, "/usr/local/bin:/usr/bin:/bin");

  spec.runtime = "nodejs20.x";
  spec.memory_mb = 256;
  settings.node = "/opt/node/bin/node";
  auto node = launch_command(spec, settings);
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(node->argv, (std::vector<std::string>{
                            "/opt/node/bin/node", "--expose-gc", "--max-http-header-size=81920",
                            "--max-semi-space-size=12", "--max-old-space-size=231",
                            "/opt/nubo/runtimes/nodejs/bootstrap.cjs"}));
  EXPECT_EQ(node->path, "/opt/node/bin:/usr/local/bin:/usr/bin:/bin");
  ASSERT_EQ(node->defaults.size(), 1u);
  EXPECT_EQ(node->defaults[0].first, "NODE_PATH");
  EXPECT_EQ(node->defaults[0].second,
            "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/opt/nubo/runtimes/nodejs/"
            "node_modules:" +
                spec.code_dir);

  settings.node.clear();
  auto none = launch_command(spec, settings);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, "ServiceException");
  spec.runtime = "java21";
  EXPECT_EQ(launch_command(spec, settings).error().code, "ServiceException");
}

// In an isolating sandbox the command and environment use the paths the process sees, while the
// bootstrap is still checked where the node has it.
TEST(RuntimesTest, PathsAreAsTheSandboxShowsThem) {
  TempDir dir;
  FunctionSpec spec = python_spec();
  spec.runtime = "provided.al2023";
  spec.code_dir = dir.path();
  RuntimeSettings settings;
  settings.runtimes_dir = "/opt/nubo/runtimes";
  settings.node = "/usr/bin/node";
  SandboxView view;
  EXPECT_EQ(launch_command(spec, settings, &view).error().code, "Runtime.InvalidEntrypoint");
  dir.write_executable("bootstrap", "#!/bin/sh\n");
  auto cmd = launch_command(spec, settings, &view);
  ASSERT_TRUE(cmd.ok()) << cmd.error().message;
  EXPECT_EQ(cmd->executable, "/var/task/bootstrap");
  EXPECT_EQ(cmd->task_root, "/var/task");
  EXPECT_EQ(cmd->runtime_dir, "/var/runtime");
  EXPECT_EQ(cmd->defaults[0].second, "/var/runtime/ric");

  spec.runtime = "nodejs22.x";
  auto node = launch_command(spec, settings, &view);
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(node->argv.back(), "/var/runtime/nodejs/bootstrap.cjs");
  EXPECT_EQ(node->defaults[0].second,
            "/opt/nodejs/node22/node_modules:/opt/nodejs/node_modules:/var/runtime/nodejs/"
            "node_modules:/var/task");
  EXPECT_EQ(node->path, "/usr/local/bin:/usr/bin:/bin:/opt/bin");

  NodeConfig config;
  config.endpoint_url = "http://127.0.0.1:4566";
  InstanceEnvironment ie;
  ie.runtime_api_port = view.runtime_api_port;
  ie.endpoint_url = "http://127.0.0.1:4567";
  auto env = as_map(build_environment(spec, config, *node, ie));
  EXPECT_EQ(env["LAMBDA_TASK_ROOT"], "/var/task");
  EXPECT_EQ(env["LAMBDA_RUNTIME_DIR"], "/var/runtime");
  EXPECT_EQ(env["LD_LIBRARY_PATH"],
            "/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib");
  EXPECT_EQ(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
  EXPECT_EQ(env["AWS_ENDPOINT_URL"], "http://127.0.0.1:4567");
}

// A provided function's bootstrap may come from a layer (/opt/bootstrap, the top-most layer's);
// layers need the sandbox's own /opt.
TEST(RuntimesTest, ProvidedFindsItsBootstrapInItsLayers) {
  TempDir code, layer1, layer2;
  FunctionSpec spec = python_spec();
  spec.runtime = "provided.al2023";
  spec.code_dir = code.path();
  spec.layer_dirs = {layer1.path(), layer2.path()};
  RuntimeSettings settings;
  SandboxView view;
  EXPECT_EQ(launch_command(spec, settings, &view).error().code, "Runtime.InvalidEntrypoint");
  layer1.write_executable("bootstrap", "#!/bin/sh\n");
  auto cmd = launch_command(spec, settings, &view);
  ASSERT_TRUE(cmd.ok()) << cmd.error().message;
  EXPECT_EQ(cmd->executable, "/opt/bootstrap");
  EXPECT_EQ(cmd->path, "/usr/local/bin:/usr/bin:/bin:/opt/bin");
  layer2.write_executable("bootstrap", "not a program\n");  // the one /opt shows
  EXPECT_EQ(launch_command(spec, settings, &view).error().message,
            "fork/exec /opt/bootstrap: exec format error");
  code.write_executable("bootstrap", "#!/bin/sh\n");  // the function's own wins
  EXPECT_EQ(launch_command(spec, settings, &view)->executable, "/var/task/bootstrap");

  auto unisolated = launch_command(spec, settings, nullptr);
  ASSERT_FALSE(unisolated.ok());
  EXPECT_EQ(unisolated.error().code, "ServiceException");
}

TEST(RuntimesTest, InterpretersComeFromTheEnvironmentOrThePath) {
  NodeConfig config;
  config.runtimes_dir = "/r";
  setenv("NUBO_PYTHON", "/bin/sh", 1);
  setenv("NUBO_NODE", "/nonexistent/node", 1);
  RuntimeSettings s = resolve_runtime_settings(config);
  EXPECT_EQ(s.python, "/bin/sh");
  EXPECT_EQ(s.node, "");
  EXPECT_EQ(s.runtimes_dir, "/r");
  unsetenv("NUBO_PYTHON");
  unsetenv("NUBO_NODE");
  if (access("/usr/bin/python3", X_OK) == 0) {
    EXPECT_EQ(resolve_runtime_settings(config).python, "/usr/bin/python3");
  }
}

TEST(RuntimesTest, LogStreamNames) {
  SystemTime t = SystemTime(std::chrono::seconds(1706659200));  // 2024-01-31T00:00:00Z
  std::string a = make_log_stream_name(t, "$LATEST");
  std::string b = make_log_stream_name(t, "3");
  EXPECT_TRUE(std::regex_match(a, std::regex(R"(2024/01/31/\[\$LATEST\][0-9a-f]{32})"))) << a;
  EXPECT_TRUE(std::regex_match(b, std::regex(R"(2024/01/31/\[3\][0-9a-f]{32})"))) << b;
  EXPECT_NE(a.substr(19), make_log_stream_name(t, "$LATEST").substr(19));
}

}  // namespace
}  // namespace nubo::runtime
