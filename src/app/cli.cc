#include "app/cli.h"

#include <charconv>
#include <functional>

namespace nubo::app {

namespace {
Error usage_error(const std::string& m) {
  return Error{"Usage", 2, m};
}

Result<int64_t> parse_int(const std::string& flag, const std::string& v, int64_t lo, int64_t hi) {
  int64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || out < lo || out > hi) {
    return usage_error(flag + " takes a whole number from " + std::to_string(lo) + " to " +
                       std::to_string(hi) + ", not '" + v + "'");
  }
  return out;
}
}  // namespace

std::string usage() {
  return "usage: nubo serve [--host H] [--port P] [--data-dir D] [--region R] [--account-id A]\n"
         "                  [--account-concurrency N] [--idle-timeout SECONDS] [--threads N]\n"
         "                  [--async-retry-base-ms MS] [--runtimes-dir DIR] [--spare-instances N]\n"
         "                  [--isolation on|off] [--zygotes on|off] [--egress on|off]\n"
         "                  [--audit-data-events on|off] [--cpu-affinity on|off]\n"
         "       nubo version\n"
         "environment: NUBO_ROOT_ACCESS_KEY_ID, NUBO_ROOT_SECRET_ACCESS_KEY, NUBO_REGION,\n"
         "             NUBO_ACCOUNT_ID, NUBO_DATA_DIR, NUBO_RUNTIMES_DIR,\n"
         "             NUBO_MASTER_KEY (64 hex digits; default: <data-dir>/master.key)\n";
}

Result<Command> parse_command_line(const std::vector<std::string>& args,
                                   const std::function<const char*(const char*)>& getenv_fn) {
  Command cmd;
  NodeConfig& c = cmd.config;
  auto env = [&](const char* name, std::string& into) {
    if (const char* v = getenv_fn(name); v != nullptr && *v != '\0') into = v;
  };
  env("NUBO_ROOT_ACCESS_KEY_ID", c.root_access_key_id);
  env("NUBO_ROOT_SECRET_ACCESS_KEY", c.root_secret_access_key);
  env("NUBO_REGION", c.region);
  env("NUBO_ACCOUNT_ID", c.account_id);
  env("NUBO_DATA_DIR", c.data_dir);
  env("NUBO_RUNTIMES_DIR", c.runtimes_dir);
  env("NUBO_MASTER_KEY", c.master_key);

  if (args.empty()) return usage_error(usage());
  cmd.name = args[0];
  if (cmd.name == "version" || cmd.name == "--version") {
    cmd.name = "version";
    return cmd;
  }
  if (cmd.name == "help" || cmd.name == "--help" || cmd.name == "-h") {
    cmd.name = "help";
    return cmd;
  }
  if (cmd.name != "serve") return usage_error("unknown command '" + cmd.name + "'\n" + usage());
  for (size_t i = 1; i < args.size(); ++i) {
    std::string flag = args[i];
    std::string value;
    if (auto eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (flag == "--help" || flag == "-h") {
      cmd.name = "help";
      return cmd;
    } else {
      if (i + 1 >= args.size()) return usage_error(flag + " needs a value");
      value = args[++i];
    }
    if (flag == "--host") {
      c.host = value;
    } else if (flag == "--port") {
      NUBO_ASSIGN_OR_RETURN(int64_t p, parse_int(flag, value, 0, 65535));
      c.port = static_cast<uint16_t>(p);
    } else if (flag == "--data-dir") {
      c.data_dir = value;
    } else if (flag == "--region") {
      c.region = value;
    } else if (flag == "--account-id") {
      if (value.size() != 12 || value.find_first_not_of("0123456789") != std::string::npos) {
        return usage_error("--account-id takes 12 digits");
      }
      c.account_id = value;
    } else if (flag == "--account-concurrency") {
      NUBO_ASSIGN_OR_RETURN(int64_t n, parse_int(flag, value, 1, 1000000));
      c.account_concurrency = static_cast<int>(n);
    } else if (flag == "--idle-timeout") {
      NUBO_ASSIGN_OR_RETURN(int64_t n, parse_int(flag, value, 1, 86400));
      c.instance_idle_timeout = std::chrono::seconds(n);
    } else if (flag == "--threads") {
      NUBO_ASSIGN_OR_RETURN(int64_t n, parse_int(flag, value, 0, 256));
      c.io_threads = static_cast<int>(n);
    } else if (flag == "--async-retry-base-ms") {
      NUBO_ASSIGN_OR_RETURN(int64_t n, parse_int(flag, value, 1, 3600000));
      c.async_retry_base = std::chrono::milliseconds(n);
    } else if (flag == "--spare-instances") {
      NUBO_ASSIGN_OR_RETURN(int64_t n, parse_int(flag, value, 0, 64));
      c.spare_instances = static_cast<int>(n);
    } else if (flag == "--runtimes-dir") {
      c.runtimes_dir = value;
    } else if (flag == "--isolation") {
      if (value != "on" && value != "off") return usage_error("--isolation takes on or off");
      c.sandbox_isolation = value == "on";
    } else if (flag == "--cpu-affinity") {
      if (value != "on" && value != "off") return usage_error("--cpu-affinity takes on or off");
      c.cpu_affinity = value == "on";
    } else if (flag == "--egress") {
      if (value != "on" && value != "off") return usage_error("--egress takes on or off");
      c.egress = value == "on";
    } else if (flag == "--audit-data-events") {
      if (value != "on" && value != "off") {
        return usage_error("--audit-data-events takes on or off");
      }
      c.audit_data_events = value == "on";
    } else if (flag == "--zygotes") {
      if (value != "on" && value != "off") return usage_error("--zygotes takes on or off");
      c.zygotes = value == "on";
    } else {
      return usage_error("unknown flag '" + flag + "'\n" + usage());
    }
  }
  return cmd;
}

}  // namespace nubo::app
