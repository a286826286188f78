#include "runtime/runtimes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <map>

#include "base/ids.h"
#include "base/strings.h"

namespace nubo::runtime {

namespace {

// The PATH Lambda gives every runtime ("/usr/local/bin:/usr/bin/:/bin:/opt/bin"; launch_command
// adds /opt/bin where the instance has its own /opt).
constexpr const char* kBasePath = "/usr/local/bin:/usr/bin:/bin";
// Where an isolated instance sees its layers.
constexpr const char* kOptDir = "/opt";

// Lambda's own wording when a custom runtime has no bootstrap.
constexpr const char* kNoBootstrapMessage =
    "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]";

bool is_executable_file(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return false;
  return S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

// Whether the kernel could exec path as a program: an ELF file or a "#!" script. (A file that is
// neither fails with ENOEXEC; Lambda, which execs like Go, reports "exec format error" and does
// not fall back to a shell.)
bool has_program_format(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;  // let the exec say what is wrong
  char head[4] = {0, 0, 0, 0};
  ssize_t n = read(fd, head, sizeof head);
  close(fd);
  if (n >= 2 && head[0] == '#' && head[1] == '!') return true;
  return n == 4 && head[0] == 0x7f && head[1] == 'E' && head[2] == 'L' && head[3] == 'F';
}

std::string find_in_path(const std::string& name, std::string_view search_path) {
  if (name.empty()) return {};
  if (name.find('/') != std::string::npos) return is_executable_file(name) ? name : std::string();
  for (const std::string& dir : split(search_path, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    if (is_executable_file(candidate)) return candidate;
  }
  return {};
}

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

// kBasePath with dir in front, unless it is already there.
std::string path_with(const std::string& dir) {
  for (const std::string& d : split(kBasePath, ':')) {
    if (d == dir) return kBasePath;
  }
  return dir + ":" + kBasePath;
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return (v && *v) ? std::string(v) : std::string(fallback);
}

}  // namespace

std::optional<RuntimeFamily> runtime_family(std::string_view runtime) {
  if (runtime == "provided" || runtime == "provided.al2" || runtime == "provided.al2023") {
    return RuntimeFamily::kProvided;
  }
  if (runtime == "python3.11" || runtime == "python3.12" || runtime == "python3.13") {
    return RuntimeFamily::kPython;
  }
  if (runtime == "nodejs18.x" || runtime == "nodejs20.x" || runtime == "nodejs22.x") {
    return RuntimeFamily::kNodejs;
  }
  return std::nullopt;
}

std::string execution_env(std::string_view runtime) {
  auto family = runtime_family(runtime);
  if (!family || *family == RuntimeFamily::kProvided) return {};
  return "AWS_Lambda_" + std::string(runtime);
}

RuntimeSettings resolve_runtime_settings(const NodeConfig& config) {
  RuntimeSettings s;
  s.runtimes_dir = config.runtimes_dir;
  std::string search_path = env_or("PATH", kBasePath);
  // The system interpreters first (runtimes/README.md): a python3 found on PATH may be a
  // pyenv shim, a shell script that costs a cold start tens of milliseconds.
  auto pick = [&](const char* env_name, const char* system_path, const char* name) {
    const char* v = std::getenv(env_name);
    if (v && *v) return find_in_path(v, search_path);
    if (is_executable_file(system_path)) return std::string(system_path);
    return find_in_path(name, search_path);
  };
  s.python = pick("NUBO_PYTHON", "/usr/bin/python3", "python3");
  s.node = pick("NUBO_NODE", "/usr/bin/node", "node");
  return s;
}

Result<LaunchCommand> launch_command(const FunctionSpec& spec, const RuntimeSettings& settings,
                                     const SandboxView* view) {
  auto family = runtime_family(spec.runtime);
  if (!family) return internal_error("Unsupported runtime: " + spec.runtime);
  if (!spec.layer_dirs.empty() && !view) {
    // Layers are mounted at /opt of the instance's own root, which only isolation gives it.
    return internal_error(
        "Layers need the sandbox's isolation (nubo serve runs as root with --isolation on): "
        "without it a function sees the node's own /opt");
  }
  LaunchCommand cmd;
  // As the process sees them.
  const std::string task_root = view ? view->task_root : spec.code_dir;
  const std::string runtimes_dir =
      view && !settings.runtimes_dir.empty() ? view->runtime_dir : settings.runtimes_dir;
  cmd.task_root = task_root;
  switch (*family) {
    case RuntimeFamily::kProvided: {
      // /var/task/bootstrap, else /opt/bootstrap: the top-most layer that has one.
      std::string host_bootstrap = spec.code_dir + "/bootstrap";
      std::string bootstrap = task_root + "/bootstrap";
      if (!is_executable_file(host_bootstrap)) {
        host_bootstrap.clear();
        for (size_t i = spec.layer_dirs.size(); i-- > 0 && view;) {
          if (is_executable_file(spec.layer_dirs[i] + "/bootstrap")) {
            host_bootstrap = spec.layer_dirs[i] + "/bootstrap";
            bootstrap = std::string(kOptDir) + "/bootstrap";
            break;
          }
        }
        if (host_bootstrap.empty()) {
          return Error{"Runtime.InvalidEntrypoint", 502, kNoBootstrapMessage};
        }
      }
      // Checked here, not left to the exec: a spare (nubo-spare-exec) execs it after the launch,
      // when the error could no longer be the launch's.
      if (!has_program_format(host_bootstrap)) {
        return Error{"Runtime.InvalidEntrypoint", 502,
                     "fork/exec " + bootstrap + ": exec format error"};
      }
      cmd.executable = bootstrap;
      cmd.argv = {bootstrap};
      cmd.runtime_dir = runtimes_dir;
      cmd.path = kBasePath;
      // Where a provided function finds AWS's aws-lambda-ric if it uses it (runtimes/README.md).
      if (!runtimes_dir.empty()) cmd.defaults.emplace_back("NUBO_RIC_DIR", runtimes_dir + "/ric");
      break;
    }
    case RuntimeFamily::kPython: {
      if (settings.python.empty()) {
        return internal_error("Runtime " + spec.runtime +
                              " is not available on this node: no python3 (set NUBO_PYTHON)");
      }
      if (settings.runtimes_dir.empty()) {
        return internal_error("Runtime " + spec.runtime + " needs the runtimes folder");
      }
      cmd.runtime_dir = runtimes_dir;
      cmd.executable = settings.python;
      // runtimes/README.md: -S, no site import at startup (the client adds site-packages
      // itself); -u, unbuffered stdout/stderr, so the log is complete when the response is posted.
      cmd.argv = {settings.python, "-S", "-u", runtimes_dir + "/python/bootstrap.py"};
      cmd.path = path_with(dir_of(settings.python));
      break;
    }
    case RuntimeFamily::kNodejs: {
      if (settings.node.empty()) {
        return internal_error("Runtime " + spec.runtime +
                              " is not available on this node: no node (set NUBO_NODE)");
      }
      if (settings.runtimes_dir.empty()) {
        return internal_error("Runtime " + spec.runtime + " needs the runtimes folder");
      }
      cmd.runtime_dir = runtimes_dir;
      cmd.executable = settings.node;
      // AWS's own nodejs command line (runtimes/README.md): V8 sized from the memory size.
      int m = spec.memory_mb;
      cmd.argv = {settings.node,
                  "--expose-gc",
                  "--max-http-header-size=81920",
                  "--max-semi-space-size=" + std::to_string(m / 10 / 2),
                  "--max-old-space-size=" + std::to_string(m - m / 10),
                  runtimes_dir + "/nodejs/bootstrap.cjs"};
      cmd.path = path_with(dir_of(settings.node));
      // As Lambda's: the layers' node_modules (per major version first), the SDK, the code.
      std::string major = spec.runtime.substr(6, spec.runtime.find('.') - 6);
      cmd.defaults.emplace_back(
          "NODE_PATH", "/opt/nodejs/node" + major + "/node_modules:/opt/nodejs/node_modules:" +
                           runtimes_dir + "/nodejs/node_modules:" + task_root);
      break;
    }
  }
  if (view) {
    // Lambda's PATH ends with /opt/bin and its LD_LIBRARY_PATH with /opt/lib (the layers').
    cmd.opt_dir = kOptDir;
    cmd.path += std::string(":") + kOptDir + "/bin";
  }
  return cmd;
}

std::vector<std::string> build_environment(const FunctionSpec& spec, const NodeConfig& config,
                                           const LaunchCommand& command,
                                           const InstanceEnvironment& instance) {
  std::map<std::string, std::string> env;
  // Unreserved defaults: the function's configuration may override them.
  env["LANG"] = "en_US.UTF-8";
  env["PATH"] = command.path;
  const std::string& task_root = command.task_root.empty() ? spec.code_dir : command.task_root;
  std::string ld_path = task_root + ":" + task_root + "/lib";
  if (!command.runtime_dir.empty()) {
    ld_path = command.runtime_dir + ":" + command.runtime_dir + "/lib:" + ld_path;
  }
  if (!command.opt_dir.empty()) ld_path += ":" + command.opt_dir + "/lib";
  env["LD_LIBRARY_PATH"] = ld_path;
  for (const auto& [k, v] : command.defaults) env[k] = v;
  const std::string& endpoint =
      instance.endpoint_url.empty() ? config.endpoint_url : instance.endpoint_url;
  if (!endpoint.empty()) env["AWS_ENDPOINT_URL"] = endpoint;

  for (const auto& [k, v] : spec.environment) env[k] = v;

  // Reserved: set last, nothing overrides them (the Lambda API rejects them in Environment).
  env["_HANDLER"] = spec.handler;
  env["AWS_REGION"] = config.region;
  env["AWS_DEFAULT_REGION"] = config.region;
  std::string exec_env = execution_env(spec.runtime);
  if (exec_env.empty()) {
    env.erase("AWS_EXECUTION_ENV");
  } else {
    env["AWS_EXECUTION_ENV"] = exec_env;
  }
  env["AWS_LAMBDA_FUNCTION_NAME"] = spec.name;
  env["AWS_LAMBDA_FUNCTION_VERSION"] = spec.version;
  env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = std::to_string(spec.memory_mb);
  env["AWS_LAMBDA_INITIALIZATION_TYPE"] = instance.snap_start    ? "snap-start"
                                          : instance.provisioned ? "provisioned-concurrency"
                                                                 : "on-demand";
  env["AWS_LAMBDA_LOG_GROUP_NAME"] = spec.log_group;
  env["AWS_LAMBDA_LOG_STREAM_NAME"] = instance.log_stream;
  env["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:" + std::to_string(instance.runtime_api_port);
  env["LAMBDA_TASK_ROOT"] = task_root;
  env["LAMBDA_RUNTIME_DIR"] = command.runtime_dir;
  env["TZ"] = ":UTC";
  // Credentials (issue 4: the execution role's session credentials instead of the root pair).
  env["AWS_ACCESS_KEY_ID"] = instance.credentials.access_key_id;
  env["AWS_ACCESS_KEY"] = instance.credentials.access_key_id;
  env["AWS_SECRET_ACCESS_KEY"] = instance.credentials.secret_access_key;
  if (instance.credentials.session_token.empty()) {
    env.erase("AWS_SESSION_TOKEN");
  } else {
    env["AWS_SESSION_TOKEN"] = instance.credentials.session_token;
  }
  env.erase("_X_AMZN_TRACE_ID");  // set per invocation by the runtime client
  // The node's own hand-offs to a spare, a zygote and a SnapStart template (runtimes/README.md);
  // a function's value would make its runtime client wait on a descriptor nobody writes, or
  // serve forks.
  env.erase("NUBO_SPARE_FD");
  env.erase("NUBO_ZYGOTE_FD");
  env.erase("NUBO_ZYGOTE_LIB");
  env.erase("NUBO_TEMPLATE_FD");

  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

std::string make_log_stream_name(SystemTime now, std::string_view version) {
  std::time_t tt = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char date[16];
  std::strftime(date, sizeof date, "%Y/%m/%d", &tm);
  std::string s = date;
  s += "/[";
  s += version;
  s += "]";
  s += random_hex(16);
  return s;
}

}  // namespace nubo::runtime
