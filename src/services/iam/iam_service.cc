#include "services/iam/iam_service.h"

// GCC 12 reports a false -Wmismatched-new-delete on the frames of some Asio coroutines here (the
// frame's operator new/delete pair is Asio's own); see GCC bug 109224.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <map>

#include "base/ids.h"
#include "base/log.h"
#include "base/strings.h"
#include "net/async.h"
#include "net/protocol.h"
#include "services/iam/access_keys.h"
#include "services/iam/groups.h"
#include "services/iam/managed_policies.h"
#include "services/iam/roles.h"
#include "services/iam/schema.h"
#include "services/iam/users.h"
#include "services/iam/wire.h"

namespace nubo::iam {

namespace {

// <ActionResponse><ActionResult>result</ActionResult><ResponseMetadata>...</...>
std::string envelope(const std::string& action, const std::string& result, const std::string& rid) {
  std::string x = "<" + action + "Response xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">";
  // Actions with an output shape (botocore's resultWrapper) always carry their Result element.
  if (!result.empty() || action.rfind("Get", 0) == 0 || action.rfind("List", 0) == 0 ||
      action.rfind("Create", 0) == 0 || action == "UpdateRole") {
    x += "<" + action + "Result>" + result + "</" + action + "Result>";
  }
  x += "<ResponseMetadata><RequestId>" + rid + "</RequestId></ResponseMetadata>";
  return x + "</" + action + "Response>";
}

// Reads change nothing; every other action that succeeds may have.
bool is_write(const std::string& action) {
  return action.rfind("Get", 0) != 0 && action.rfind("List", 0) != 0;
}

}  // namespace

struct IamService::Impl {
  explicit Impl(IamDeps d)
      : deps(std::move(d)),
        roles(deps.store, deps.clock, deps.account_id),
        users(deps.store, deps.clock, deps.account_id),
        groups(deps.store, deps.clock, deps.account_id),
        keys(deps.store, deps.clock, deps.keyring),
        policies(deps.store, deps.clock, deps.account_id),
        logic{*deps.store, roles, users, groups, keys, policies, deps.account_id, ""} {
    wire::add_user_actions(handlers);
    wire::add_group_actions(handlers);
    wire::add_role_actions(handlers);
    wire::add_policy_actions(handlers);
  }

  IamDeps deps;
  Roles roles;
  Users users;
  Groups groups;
  AccessKeys keys;
  ManagedPolicies policies;
  wire::Logic logic;
  wire::HandlerTable handlers;  // immutable after construction

  // Blocking: the action's work; the XML of its Result element.
  Result<std::string> run(const std::string& action, const wire::Params& p,
                          const auth::Caller& caller) {
    auto it = handlers.find(action);
    if (it == handlers.end()) {
      return Error{"InvalidAction", 400,
                   "Could not find operation " + action + " for version " + kVersion};
    }
    wire::Call call{action, p, caller, logic};
    return it->second(call);
  }

  net::Response answer(const net::Request& req, const auth::Caller& caller) {
    std::string rid = new_uuid();
    wire::Params p = net::form_params(req);
    std::string action = wire::param(p, "Action");
    Result<std::string> r = Error{"MissingAction", 400, "Missing Action"};
    if (!action.empty()) {
      if (wire::param(p, "Version") != kVersion) {
        r = Error{
            "InvalidAction", 400,
            "Could not find operation " + action + " for version " + wire::param(p, "Version")};
      } else {
        try {
          r = run(action, p, caller);
        } catch (const std::exception& e) {
          log_error(std::string("iam: request failed: ") + e.what());
          r = Error{"ServiceFailure", 500, "An internal error occurred."};
        }
      }
    }
    if (!r.ok()) return net::error_response(req, net::Protocol::kQuery, r.error(), rid);
    if (is_write(action) && deps.on_change) deps.on_change();
    net::Response res =
        net::make_response(req, net::http::status::ok, envelope(action, *r, rid), "text/xml");
    res.set("x-amzn-RequestId", rid);
    return res;
  }
};

IamService::IamService(IamDeps deps) : impl_(std::make_unique<Impl>(std::move(deps))) {
  NUBO_CHECK(impl_->deps.store && impl_->deps.clock && impl_->deps.blocking);
}

IamService::~IamService() = default;

Status IamService::start() {
  storage::Store& store = *impl_->deps.store;
  NUBO_TRY(migrate_iam_schema(store));
  std::string root_date;
  NUBO_TRY(store.transaction([&](storage::Txn& txn) -> Status {
    // Roles made before their ARN was stored.
    NUBO_TRY(
        txn.exec("UPDATE iam_roles SET arn = 'arn:aws:iam::' || ? || ':role' || path || name "
                 "WHERE arn IS NULL",
                 {impl_->deps.account_id}));
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows rows,
        txn.query("SELECT value FROM iam_account WHERE name = 'root_create_date'"));
    if (!rows.empty()) {
      root_date = rows[0].text(0);
      return Ok{};
    }
    root_date = format_iso8601(impl_->deps.clock->now());
    NUBO_TRY(txn.exec("INSERT INTO iam_account (name, value) VALUES ('root_create_date', ?)",
                      {root_date}));
    return Ok{};
  }));
  impl_->logic.root_create_date = root_date;
  return Ok{};
}

net::Task<net::Response> IamService::handle(net::Request& req, const auth::Caller& caller) {
  Impl* impl = impl_.get();
  // The caller is copied before the first suspension: the work outlives no borrowed reference.
  auto work = [impl, &req, who = caller] { return impl->answer(req, who); };
  auto task = net::run_blocking(*impl->deps.blocking, std::move(work));
  co_return co_await std::move(task);
}

}  // namespace nubo::iam
