// The cost of authorisation (issue 4's benchmark, engine part): auth::decide() for a principal
// with 20 identity policies of 10 statements each (wildcard actions and resources, a condition
// on each statement), the worst case of IAM's evaluation: no statement allows, so every one is
// looked at. Prints a Markdown table row set; target: <= 10 us added per request.
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "auth/policy.h"

namespace {

std::string statement(int p, int s) {
  return R"({"Effect": "Allow", "Action": ["dynamodb:Get*", "secretsmanager:Describe*"],)"
         R"( "Resource": "arn:aws:dynamodb:us-east-1:000000000000:table/t)" +
         std::to_string(p) + "-" + std::to_string(s) +
         R"(*", "Condition": {"StringEquals": {"aws:PrincipalTag/team": "team)" +
         std::to_string(s) + R"("}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}})";
}

double ns_per(const std::function<void()>& fn, int n) {
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) fn();
  auto dt = std::chrono::steady_clock::now() - t0;
  return std::chrono::duration<double, std::nano>(dt).count() / n;
}

}  // namespace

int main() {
  using namespace nubo::auth;
  std::vector<Policy> policies;
  std::string doc0;
  for (int p = 0; p < 20; ++p) {
    std::string doc = R"({"Version": "2012-10-17", "Statement": [)";
    for (int s = 0; s < 10; ++s) doc += (s ? ", " : "") + statement(p, s);
    doc += "]}";
    if (p == 0) doc0 = doc;
    auto parsed = parse_policy(doc);
    if (!parsed.ok()) {
      std::fprintf(stderr, "policy_bench: %s\n", parsed.error().message.c_str());
      return 1;
    }
    policies.push_back(std::move(parsed).value());
  }
  PolicySet set;
  for (const auto& p : policies) set.identity.push_back(&p);

  RequestContext denied;  // matches no statement's resource: all 200 are evaluated
  denied.action = "dynamodb:GetItem";
  denied.resource = "arn:aws:dynamodb:us-east-1:000000000000:table/other";
  denied.principal_arn = "arn:aws:sts::000000000000:assumed-role/fn/session";
  denied.account_id = "000000000000";
  denied.set("aws:PrincipalTag/team", "team9");
  denied.set("aws:SourceIp", "10.1.2.3");
  RequestContext allowed = denied;  // the last statement of the last policy allows
  allowed.resource = "arn:aws:dynamodb:us-east-1:000000000000:table/t19-9-orders";

  int sink = 0;  // read at the end, so the calls are not optimised away
  const int n = 20000;
  double deny_ns = ns_per([&] { sink += static_cast<int>(decide(set, denied)); }, n);
  double allow_ns = ns_per([&] { sink += static_cast<int>(decide(set, allowed)); }, n);
  double parse_ns = ns_per([&] { sink += parse_policy(doc0).ok() ? 1 : 0; }, 2000);
  if (decide(set, allowed) != Decision::kAllow || decide(set, denied) != Decision::kImplicitDeny) {
    std::fprintf(stderr, "policy_bench: wrong decisions\n");
    return 1;
  }
  std::printf("| case | µs per decision | target |\n|---|---|---|\n");
  std::printf(
      "| 20 policies × 10 statements, implicit deny (every statement checked) | %.2f | ≤ 10 µs |\n",
      deny_ns / 1000);
  std::printf("| 20 policies × 10 statements, allowed by the last statement | %.2f | ≤ 10 µs |\n",
              allow_ns / 1000);
  std::printf("| parsing one 10-statement policy (done once, when it is written) | %.2f | |\n",
              parse_ns / 1000);
  return sink == -1;
}
