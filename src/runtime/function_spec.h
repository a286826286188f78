// FunctionSpec: everything the runtime needs to run one version of one function.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace nubo::runtime {

// An immutable snapshot of a function version's configuration, taken at invoke time.
// Instances are keyed by (qualified_arn, revision_id): an instance only serves invocations of
// the exact configuration it was started with.
struct FunctionSpec {
  std::string name;           // "my-fn"
  std::string version;        // "$LATEST" or "1", "2", ...
  std::string function_arn;   // arn:aws:lambda:us-east-1:000000000000:function:my-fn
  std::string qualified_arn;  // function_arn + ":" + version
  std::string runtime;        // "provided.al2023", "python3.12", "nodejs20.x", ...
  std::string handler;        // "app.handler"; unused for provided.*
  std::string code_dir;       // absolute path of the unpacked code (read-only for the instance)
  std::string code_sha256;    // base64 SHA-256 of the zip
  // The unpacked folders of the function's layers, in its order (mounted merged at /opt).
  std::vector<std::string> layer_dirs;
  int memory_mb = 128;
  int timeout_s = 3;
  int ephemeral_storage_mb = 512;
  std::map<std::string, std::string> environment;  // the function's own variables
  // A published version with SnapStart {ApplyOn: PublishedVersions}: its cold starts restore
  // from its template (templates.h).
  bool snap_start = false;
  // Outbound network (LaunchSpec::egress): true unless the function is attached to VPC subnets.
  bool egress = true;
  std::string role;
  std::string revision_id;  // changes with every update of code or configuration
  std::string log_group;    // "/aws/lambda/my-fn"
  std::string architecture = "x86_64";
};

}  // namespace nubo::runtime
