// nubo: the node binary. `nubo serve` starts a node; see app/cli.h for flags.
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "app/cli.h"
#include "app/node.h"
#include "base/log.h"
#include "runtime/process_sandbox.h"

#ifndef NUBO_DEFAULT_RUNTIMES_DIR
#define NUBO_DEFAULT_RUNTIMES_DIR ""
#endif

namespace {

// The shipped runtime clients: --runtimes-dir / NUBO_RUNTIMES_DIR, else beside the binary's
// source tree (build/<preset>/nubo → runtimes/), else the path compiled in.
std::string find_runtimes_dir(const std::string& configured) {
  namespace fs = std::filesystem;
  if (!configured.empty()) return fs::absolute(configured).string();
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (fs::path p = exe.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
      if (fs::exists(p / "runtimes" / "python", ec)) return (p / "runtimes").string();
    }
  }
  return NUBO_DEFAULT_RUNTIMES_DIR;
}

// A file built beside the binary (nubo-spare-exec, libnubo_zygote.so); "" if it is not there.
std::string find_beside_binary(const char* name, int mode) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  fs::path file = exe.parent_path() / name;
  return access(file.c_str(), mode) == 0 ? file.string() : std::string();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto cmd = nubo::app::parse_command_line(args, [](const char* n) { return std::getenv(n); });
  if (!cmd.ok()) {
    std::cerr << cmd.error().message << "\n";
    return 2;
  }
  if (cmd->name == "help") {
    std::cout << nubo::app::usage();
    return 0;
  }
  if (cmd->name == "version") {
    std::cout << "nubo 0.1.0\n";
    return 0;
  }
  // A write to a pipe or socket whose reader is gone (a spare that died, a client that hung up)
  // must fail with EPIPE, not kill the node.
  std::signal(SIGPIPE, SIG_IGN);
  nubo::NodeConfig config = cmd->config;
  config.runtimes_dir = find_runtimes_dir(config.runtimes_dir);
  config.spare_exec = find_beside_binary("nubo-spare-exec", X_OK);
  config.zygote_lib = find_beside_binary("libnubo_zygote.so", R_OK);
  if (config.sandbox_isolation && geteuid() == 0) {
    // While the node has one thread: the mounts its sandbox makes stay in the node's namespace
    // and vanish with it.
    auto made = nubo::runtime::make_mounts_private();
    if (!made.ok()) nubo::log_warn("sandbox: mounts not private: " + made.error().message);
  }
  auto node = nubo::app::Node::create(config);
  if (!node.ok()) {
    std::cerr << "nubo: " << node.error().message << "\n";
    return 1;
  }
  auto port = (*node)->start();
  if (!port.ok()) {
    std::cerr << "nubo: " << port.error().message << "\n";
    return 1;
  }
  std::printf("listening on http://%s:%u\n", (*node)->config().host.c_str(),
              static_cast<unsigned>(port.value()));
  std::fflush(stdout);
  nubo::log_info("data directory " + (*node)->config().data_dir);
  return (*node)->run();
}
