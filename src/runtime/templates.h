// Templates: the SnapStart snapshots of published versions (issue 3, "Cold starts in
// milliseconds"; runtimes/README.md "SnapStart"). A version published with SnapStart
// {ApplyOn: PublishedVersions} gets one template: an instance that ran its function's init and
// its before-snapshot hooks once and now serves restores (Sandbox::restore). A cold start of the
// version then forks it instead of starting and initialising an instance: the restored instance
// has the state the init made, its own cgroup, log stream, credentials and Runtime API port.
//
// A template is made when the version is published (prepare()), or at its first cold start if it
// is not there then; until it is ready, cold starts initialise as usual. One whose init failed is
// not tried again for that version (its error is logged); one that died, or could not be started,
// is made again. At most kMaxTemplates are kept: the least recently used is given up first (it
// ends once no instance restored from it is left: Lease).
//
// Threads: every method is thread-safe (one mutex). ready() and prepare() run on the launcher
// thread (ready()'s template is used there for the restore's round trip).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
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
  // Keeps a template's instance running: the last holder stops it. The Templates hold one while
  // the template is theirs, each instance restored from it one (its processes live in the
  // template's namespaces), so dropping a template never ends its restored instances' runs.
  struct Lease {
    explicit Lease(std::shared_ptr<Instance> i) : instance(std::move(i)) {}
    ~Lease();
    const std::shared_ptr<Instance> instance;
  };

  // One version's template, once its snapshot is taken.
  struct Ready {
    std::shared_ptr<Lease> lease;
    int control = -1;  // the node's end of the template's fd 3 (owned by its instance)
  };

  // deps: what the templates' instances are started with (InstanceDeps::template_role is set
  // here). keep_owner: a reference to what owns those deps' pointers (the invoker), or null
  // once it is gone; a template being made holds it until it is done.
  Templates(InstanceDeps deps, std::function<std::shared_ptr<void>()> keep_owner);
  ~Templates();  // gives up the templates (see clear())
  Templates(const Templates&) = delete;
  Templates& operator=(const Templates&) = delete;

  // The ready template of spec (its qualified ARN and revision), or nullopt; in that case one is
  // made unless it is being made or its init failed before.
  std::optional<Ready> ready(const FunctionSpec& spec);

  // Starts making spec's template unless it exists, is being made or its init failed before.
  // Returns at once; the init runs in the template's own instance.
  void prepare(const FunctionSpec& spec);

  // A port for a restored instance's Runtime API in the template's network: 9002 up to 32767
  // (below Linux's ephemeral ports, which the instances' own connections take), round robin,
  // never `avoid` (nubo's API port there).
  uint16_t next_port(const FunctionSpec& spec, uint16_t avoid);

  // The template of spec failed a restore (it no longer answers): it is given up and made again
  // at the next cold start.
  void forget(const FunctionSpec& spec);

  // Stops the templates of function_arn (every version: the function is deleted) and the
  // instances restored from them.
  void drop_function(const std::string& function_arn);
  // Stops the template of one version (it was deleted) and the instances restored from it.
  void drop_version(const std::string& qualified_arn);
  // Gives up every template and makes no more (the invoker is shutting down).
  void clear();

  // Templates ready now (tests, metrics).
  size_t size() const;

  // The shared state that the coroutines making templates hold weakly (internal).
  struct Entry {
    enum class State { kMaking, kReady, kFailed } state = State::kMaking;
    std::shared_ptr<Lease> lease;
    uint16_t next_port = kFirstPort;
    uint64_t last_used = 0;
  };
  struct Maker {
    Maker(InstanceDeps d, std::function<std::shared_ptr<void>()> k)
        : deps(std::move(d)), keep_owner(std::move(k)) {}
    // REQUIRES: mu held. Starts the making of spec's template (on deps.io).
    void make_locked(const FunctionSpec& spec, const std::shared_ptr<Maker>& self);
    // Made (instance set), or not: init_failed says whether the function's init failed (not
    // tried again for that version) or the template could not be started (tried again at the
    // next cold start).
    void finish(const std::string& key, std::shared_ptr<Instance> instance, bool init_failed,
                const std::string& why);

    const InstanceDeps deps;
    const std::function<std::shared_ptr<void>()> keep_owner;
    std::mutex mu;
    std::map<std::string, Entry> entries;  // GUARDED_BY(mu): by key_of
    uint64_t clock = 0;                    // GUARDED_BY(mu): for last_used
    bool closed = false;                   // GUARDED_BY(mu)
  };
  static constexpr uint16_t kFirstPort = 9002;
  static constexpr uint16_t kLastPort = 32767;

 private:
  static std::string key_of(const FunctionSpec& spec);
  // Stops the templates whose key starts with prefix, and their restored instances.
  void drop_matching(const std::string& prefix);
  const std::shared_ptr<Maker> maker_;
};

}  // namespace nubo::runtime
