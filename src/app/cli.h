// Command line and environment → NodeConfig.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/config.h"
#include "base/result.h"

namespace nubo::app {

struct Command {
  std::string name;  // "serve", "version", "help"
  NodeConfig config;
};

// Parses argv (without argv[0]) and the NUBO_* environment (`env` lookups go through getenv_fn
// so tests can inject them). Flags win over the environment.
Result<Command> parse_command_line(const std::vector<std::string>& args,
                                   const std::function<const char*(const char*)>& getenv_fn);

std::string usage();

}  // namespace nubo::app
