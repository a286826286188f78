// NodeConfig: the settings of one node, built by main from flags and environment and passed down.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace nubo {

struct NodeConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 4566;
  std::string data_dir = "./.nubo";  // made absolute by main
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  std::string root_access_key_id = "test";
  std::string root_secret_access_key = "test";
  // The master key that wraps every stored secret (auth/keyring.h): NUBO_MASTER_KEY, else the
  // key file <data_dir>/master.key (created 0600 on first start).
  std::string master_key;
  // Lambda's default account concurrency limit (GetAccountSettings ConcurrentExecutions).
  int account_concurrency = 1000;
  // A warm instance idle this long is stopped.
  std::chrono::seconds instance_idle_timeout{300};
  // Where the shipped runtime clients live (runtimes/python, runtimes/nodejs, ...).
  std::string runtimes_dir;
  // nubo-spare-exec (runtime/spare_exec.c), the spare of provided functions: found beside the
  // binary by main; empty: provided functions get no spares.
  std::string spare_exec;
  // libnubo_zygote.so (runtime/zygote.c), the fork server python zygotes load: found beside the
  // binary by main; empty: python instances each start their interpreter.
  std::string zygote_lib;
  // nubo's own API as functions reach it (AWS_ENDPOINT_URL); set once the port is bound.
  std::string endpoint_url;
  int io_threads = 0;  // 0: one per core
  // Each io thread on a CPU of its own, and each instance on its io thread's CPU while its
  // invocations are short (base/cpu_affinity.h), when there are at least as many CPUs as io
  // threads; `--cpu-affinity off` leaves both to the kernel.
  bool cpu_affinity = true;
  // Interpreter processes (python, node) started ahead of the cold starts that take them
  // (runtime/spare_pool.h); 0 turns spares off.
  int spare_instances = 2;
  // Instances in their own namespaces under a minimal read-only root (runtime/process_sandbox.h),
  // where the node has the privileges; `--isolation off` runs them as plain processes.
  bool sandbox_isolation = true;
  // Isolated python instances fork from a zygote (runtime/zygote.c, runtimes/README.md
  // "Zygotes"); `--zygotes off` starts an interpreter for each.
  bool zygotes = true;
  // Isolated instances of functions without VPC subnets reach out through the node's NAT
  // (runtime/egress.h), as a Lambda function without a VPC does; `--egress off`: loopback only.
  bool egress = true;
  // The audit trail keeps allowed invocations too (CloudTrail's data events, off by default as
  // there); denied calls and every other call are always kept.
  bool audit_data_events = false;
  // First retry delay of a failed async invocation (AWS: 1 minute, then 2). Tests shorten it.
  std::chrono::milliseconds async_retry_base{60000};
};

}  // namespace nubo
