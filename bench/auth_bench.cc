// The cost of authorisation (issue 4's benchmark, in process): the steps the front door and a
// service take for every request — SigV4 verification with the key's lookup, the caller's
// identity, authorize() with the resource's keys — for a GetSecretValue signed with the root
// key and with the session of a role that has 20 policies of 10 statements each (10 attached
// managed policies with a condition on each statement, 10 inline ones; only the last statement
// allows the call). The same Directory, Store and policies as a node's, with no sockets and no
// scheduler in the figures: the difference between the two rows is what authorisation adds to
// a request. Prints a Markdown table; target: <= 10 us added per request.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "auth/authorize.h"
#include "auth/keyring.h"
#include "auth/sigv4.h"
#include "base/clock.h"
#include "base/crypto.h"
#include "base/ids.h"
#include "services/iam/managed_policies.h"
#include "services/iam/roles.h"
#include "services/iam/schema.h"
#include "services/sts/directory.h"
#include "storage/sqlite_store.h"

namespace {

using namespace nubo;

constexpr const char* kAccount = "000000000000";
constexpr const char* kSecretArn =
    "arn:aws:secretsmanager:us-east-1:000000000000:secret:bench/db-AbCdEf";

// The statements of policy p, as bench/secrets_bench.py writes them.
std::string policy_doc(int p, bool conditions, bool last) {
  std::string doc = R"({"Version":"2012-10-17","Statement":[)";
  for (int i = 0; i < 10; ++i) {
    if (i) doc += ",";
    if (last && i == 9) {
      doc += R"({"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":")" +
             std::string(kSecretArn) + "\"}";
      continue;
    }
    doc += R"({"Effect":"Allow","Action":"s3:Get)" + std::to_string(p) + "x" + std::to_string(i) +
           R"(*","Resource":"arn:aws:s3:::b)" + std::to_string(p) + "-" + std::to_string(i) +
           "/*\"";
    if (conditions) {
      doc += R"(,"Condition":{"StringEquals":{"aws:PrincipalTag/team":"t)" + std::to_string(i) +
             "\"}}";
    }
    doc += "}";
  }
  return doc + "]}";
}

struct Signed {
  std::string body = R"({"SecretId": ")" + std::string(kSecretArn) + "\"}";
  std::vector<std::pair<std::string, std::string>> headers;
};

Signed sign(const auth::Credentials& c, const std::string& amz_date) {
  Signed s;
  s.headers = {{"Host", "127.0.0.1:4566"},
               {"X-Amz-Target", "secretsmanager.GetSecretValue"},
               {"Content-Type", "application/x-amz-json-1.1"},
               {"X-Amz-Date", amz_date},
               {"User-Agent", "Boto3/1.26.27 Python/3.11.2 Linux/6.1 Botocore/1.29.27"},
               {"Content-Length", std::to_string(s.body.size())}};
  std::string signed_headers = "content-type;host;x-amz-date;x-amz-target";
  if (!c.session_token.empty()) {
    s.headers.emplace_back("X-Amz-Security-Token", c.session_token);
    signed_headers = "content-type;host;x-amz-date;x-amz-security-token;x-amz-target";
  }
  auth::SignedRequest view{"POST", "/", "", s.headers, s.body};
  s.headers.emplace_back(
      "Authorization",
      auth::sign_authorization(view, c.access_key_id, c.secret_access_key, "us-east-1",
                               "secretsmanager", amz_date, signed_headers));
  return s;
}

double ns_per(const std::function<void()>& fn, int n) {
  for (int i = 0; i < n / 10; ++i) fn();  // warm the caches
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) fn();
  auto dt = std::chrono::steady_clock::now() - t0;
  return std::chrono::duration<double, std::nano>(dt).count() / n;
}

int run() {
  auto dir = std::filesystem::temp_directory_path() / ("nubo-auth-bench-" + random_hex(6));
  std::filesystem::create_directories(dir);
  struct Cleanup {
    std::filesystem::path p;
    ~Cleanup() { std::filesystem::remove_all(p); }
  } cleanup{dir};
  auto opened = storage::open_sqlite_store({.path = (dir / "nubo.db").string()});
  if (!opened.ok()) return std::fprintf(stderr, "auth_bench: no store\n"), 1;
  std::unique_ptr<storage::Store> store = std::move(opened).value();
  if (!iam::migrate_iam_schema(*store).ok()) return 1;
  SystemClock clock;
  auth::Keyring keyring(random_bytes(32));

  iam::Roles roles(store.get(), &clock, kAccount);
  iam::ManagedPolicies managed(store.get(), &clock, kAccount);
  iam::Role role;
  role.name = "heavy";
  role.trust_policy =
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":)"
      R"("arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]})";
  auto made = roles.create(role);
  if (!made.ok()) return std::fprintf(stderr, "auth_bench: %s\n", made.error().message.c_str()), 1;
  for (int p = 0; p < 10; ++p) {
    iam::ManagedPolicy mp;
    mp.name = "managed" + std::to_string(p);
    auto created = managed.create(mp, policy_doc(p, true, false));
    if (!created.ok() || !managed.attach(iam::EntityKind::kRole, "heavy", created->arn).ok()) {
      return std::fprintf(stderr, "auth_bench: cannot attach a managed policy\n"), 1;
    }
  }
  for (int p = 0; p < 10; ++p) {
    if (!roles.put_policy("heavy", "inline" + std::to_string(p), policy_doc(10 + p, false, p == 9))
             .ok()) {
      return std::fprintf(stderr, "auth_bench: cannot put an inline policy\n"), 1;
    }
  }

  sts::Directory directory(
      sts::DirectoryDeps{store.get(), &keyring, &clock, kAccount, "test", "test"});
  auth::Credentials claims;
  claims.kind = auth::Credentials::Kind::kAssumedRole;
  claims.principal_arn = "arn:aws:sts::000000000000:assumed-role/heavy/bench";
  claims.account_id = kAccount;
  claims.role_name = "heavy";
  claims.principal_id = made->role_id;
  claims.session_name = "bench";
  claims.expires_epoch =
      std::chrono::duration_cast<std::chrono::seconds>(clock.now().time_since_epoch()).count() +
      3600;
  auth::Credentials session = directory.tokens().issue(claims);
  auth::Credentials root;
  root.access_key_id = "test";
  root.secret_access_key = "test";

  auth::SigV4Verifier verifier(directory, clock);
  std::string amz_date = format_iso8601_basic(clock.now());
  Signed root_req = sign(root, amz_date), role_req = sign(session, amz_date);

  // One request's authentication and authorisation, as FrontDoor::handle and the Secrets
  // Manager service do them; false when it is not allowed.
  auto authorise = [&](const Signed& s) {
    auth::SignedRequest view{"POST", "/", "", s.headers, s.body};
    auto who = verifier.verify(view, auth::ErrorStyle::kJson);
    if (!who.ok()) return false;
    auth::Caller caller;
    caller.access_key_id = who->access_key_id;
    caller.arn = who->credentials.principal_arn;
    caller.account_id = kAccount;
    caller.is_root = who->credentials.is_root;
    caller.temporary = !who->credentials.session_token.empty();
    caller.source_ip = "127.0.0.1";
    caller.time = clock.now();
    caller.user_agent = s.headers[4].second;
    if (!caller.is_root) {
      auto identity = directory.identity(who->credentials);
      if (!identity.ok()) return false;
      caller.identity = std::move(identity).value();
    }
    auth::Access access("secretsmanager:GetSecretValue", kSecretArn);
    access.keys.emplace_back("secretsmanager:SecretId", kSecretArn);
    return auth::authorize(caller, access, auth::DenialShape{"AccessDeniedException", 400}).ok();
  };
  if (!authorise(root_req) || !authorise(role_req)) {
    return std::fprintf(stderr, "auth_bench: a request was not allowed\n"), 1;
  }
  int ok = 0;
  const int n = 20000;
  // Alternating rounds, the median of each: the VM's speed drifts.
  std::vector<double> root_ns, role_ns;
  for (int round = 0; round < 5; ++round) {
    root_ns.push_back(ns_per([&] { ok += authorise(root_req); }, n));
    role_ns.push_back(ns_per([&] { ok += authorise(role_req); }, n));
  }
  std::sort(root_ns.begin(), root_ns.end());
  std::sort(role_ns.begin(), role_ns.end());
  double r = root_ns[2], s = role_ns[2];
  std::printf("| credentials | µs per request (verify, identity, authorize) |\n|---|---|\n");
  std::printf("| root key | %.2f |\n", r / 1000);
  std::printf("| role session, 20 policies × 10 statements | %.2f |\n", s / 1000);
  std::printf("\nAuthorisation added per request, in process: %+.2f µs (target ≤ 10 µs).\n",
              (s - r) / 1000);
  return ok == 0;
}

}  // namespace

int main() {
  return run();
}
