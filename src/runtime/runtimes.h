// Runtimes: the program an instance runs for a Lambda runtime name, and the environment Lambda
// gives it ("Defined runtime environment variables" in the Lambda developer guide).
//
// The shipped runtime clients (runtimes/python, runtimes/nodejs) document their side of this
// contract in runtimes/README.md. Thread-safe, no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/config.h"
#include "base/result.h"
#include "runtime/function_spec.h"
#include "runtime/sandbox.h"

namespace nubo::runtime {

enum class RuntimeFamily { kProvided, kPython, kNodejs };

// provided, provided.al2, provided.al2023, python3.11-3.13, nodejs18.x-22.x; nullopt otherwise.
std::optional<RuntimeFamily> runtime_family(std::string_view runtime);

// AWS_EXECUTION_ENV: "AWS_Lambda_python3.12"; empty for provided.* (Lambda does not set it).
std::string execution_env(std::string_view runtime);

// Where the interpreters and nubo's runtime clients are. Built once per node.
struct RuntimeSettings {
  std::string runtimes_dir;  // NodeConfig::runtimes_dir
  std::string python;        // absolute path of the interpreter, empty if none was found
  std::string node;
};

// NUBO_PYTHON / NUBO_NODE if set, else /usr/bin/python3 and /usr/bin/node, else python3 / node
// found on the node's PATH. Blocking (file checks): call it at startup.
RuntimeSettings resolve_runtime_settings(const NodeConfig& config);

// The command that starts an instance.
struct LaunchCommand {
  std::string executable;         // absolute path
  std::vector<std::string> argv;  // argv[0] included
  std::string runtime_dir;        // LAMBDA_RUNTIME_DIR: nubo's runtimes folder
  std::string task_root;          // LAMBDA_TASK_ROOT: the function's code
  std::string path;               // PATH
  std::string opt_dir;            // the layers (/opt) as the process sees them; empty: none
  // Defaults a function may override through its own Environment (NODE_PATH, NUBO_RIC_DIR).
  std::vector<std::pair<std::string, std::string>> defaults;
};

// Resolves spec's runtime. Blocking (checks the bootstrap file). Paths in the command are as the
// process sees them: the sandbox's view when there is one (the code at view->task_root, the
// runtimes folder at view->runtime_dir), the node's otherwise.
// Errors: "Runtime.InvalidEntrypoint" (502) with Lambda's message when a provided.* function has
// no executable bootstrap, or one that is neither ELF nor "#!" ("exec format error"): a function
// error the invoker reports as an init error, not an API error. "ServiceException" (500) for a
// runtime this node cannot run (unknown name, interpreter not installed).
Result<LaunchCommand> launch_command(const FunctionSpec& spec, const RuntimeSettings& settings,
                                     const SandboxView* view = nullptr);

// Credentials the instance's AWS SDK finds in its environment: its function's execution role's
// session credentials (issue 4), or the node's root pair when the node has no role to give.
struct InstanceCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // AWS_SESSION_TOKEN is omitted when empty
  // When they expire (unix seconds; 0: never). An instance stops taking invocations
  // kCredentialRefreshMargin before then, and the pool starts a new one with fresh credentials.
  int64_t expires_epoch = 0;
};

// Per-instance values of the environment.
struct InstanceEnvironment {
  uint16_t runtime_api_port = 0;
  // AWS_ENDPOINT_URL as the instance reaches nubo; empty: NodeConfig::endpoint_url.
  std::string endpoint_url;
  std::string log_stream;
  InstanceCredentials credentials;
  // AWS_LAMBDA_INITIALIZATION_TYPE: "provisioned-concurrency" or "snap-start" instead of
  // "on-demand".
  bool provisioned = false;
  bool snap_start = false;
};

// The whole environment of an instance, "KEY=value": the defaults (LANG, PATH, LD_LIBRARY_PATH,
// NODE_PATH, AWS_ENDPOINT_URL, ...), then the function's own variables (which may override
// those), then the reserved variables Lambda sets (which nothing overrides). HOME is not set, as
// on Lambda.
std::vector<std::string> build_environment(const FunctionSpec& spec, const NodeConfig& config,
                                           const LaunchCommand& command,
                                           const InstanceEnvironment& instance);

// A new log stream name, as Lambda names them: "2024/01/31/[$LATEST]" + 32 random hex digits.
std::string make_log_stream_name(SystemTime now, std::string_view version);

}  // namespace nubo::runtime
