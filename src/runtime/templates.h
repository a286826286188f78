// Templates: the SnapStart snapshots of published versions (issue 3, "Cold starts in
// milliseconds"; runtimes/README.md "SnapStart"). A version published with SnapStart
// {ApplyOn: PublishedVersions} gets one template: an instance that ran its function's init and
// its before-snapshot hooks once and now serves restores (Sandbox::restore). A cold start of the
// version then forks it instead of starting and initialising an instance: the restored instance
// has the state the init made, its own cgroup, log stream, credentials and Runtime API port.
//
// A template is made when the version is published (prepare()), or at its first cold start if it
// is not there then; until it is ready, cold starts initialise as usual. One whose init failed is
// not tried again for that version (its error is logged); one that died is made again. At most
// kMaxTemplates are kept: the least recently used goes first.
//
// Threads: every method is thread-safe (one mutex). ready() and prepare() run on the launcher
// thread (ready()'s template is used there for the restore's round trip).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/function_spec.h"
#include "runtime/instance.h"

namespace nubo::runtime {

class Templates {
 public:
  // One version's template, once its snapshot is taken.
  struct Ready {
    std::shared_ptr<Instance> instance;
    int control = -1;  // the node's end of the template's fd 3 (owned by the instance)
  };

  // deps: what the templates' instances are started with (InstanceDeps::template_role is set
  // here). Borrowed pointers in it outlive this object.
  explicit Templates(InstanceDeps deps);
  ~Templates();  // stops the templates
  Templates(const Templates&) = delete;
  Templates& operator=(const Templates&) = delete;

  // The ready template of spec (its qualified ARN and revision), or nullopt; in that case one is
  // made unless it is being made or failed before.
  std::optional<Ready> ready(const FunctionSpec& spec);

  // Starts making spec's template unless it exists, is being made or failed before. Returns at
  // once; the init runs in the template's own instance.
  void prepare(const FunctionSpec& spec);

  // A port for a restored instance's Runtime API in the template's network: 9002 and up, round
  // robin, never `avoid` (nubo's API port there).
  uint16_t next_port(const FunctionSpec& spec, uint16_t avoid);

  // Stops the templates of function_arn (every version), or all of them (and makes no more).
  void drop_function(const std::string& function_arn);
  void clear();

  // Templates ready now (tests, metrics).
  size_t size() const;

  // The shared state that the coroutines making templates hold weakly (internal).
  struct Entry {
    enum class State { kMaking, kReady, kFailed } state = State::kMaking;
    std::shared_ptr<Instance> instance;
    uint16_t next_port = 9002;
    uint64_t last_used = 0;
  };
  struct Maker {
    explicit Maker(InstanceDeps d) : deps(std::move(d)) {}
    // REQUIRES: mu held. Starts the making of spec's template (on deps.io).
    void make_locked(const FunctionSpec& spec, const std::shared_ptr<Maker>& self);
    // Made (instance set) or failed (why): from the making coroutine.
    void finish(const std::string& key, std::shared_ptr<Instance> instance, const std::string& why);

    const InstanceDeps deps;
    std::mutex mu;
    std::map<std::string, Entry> entries;  // GUARDED_BY(mu): by key_of
    uint64_t clock = 0;                    // GUARDED_BY(mu): for last_used
    bool closed = false;                   // GUARDED_BY(mu)
  };

 private:
  static std::string key_of(const FunctionSpec& spec);
  const std::shared_ptr<Maker> maker_;
};

}  // namespace nubo::runtime
