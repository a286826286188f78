// Recursion-loop detection (Lambda developer guide, "Use Lambda recursive loop detection to
// prevent infinite loops"): every invocation that an event causes carries a trace header whose
// Lineage counts the invocations of the chain so far (function -> bucket or queue -> function
// ...). The SDKs inside a function send its trace header (_X_AMZN_TRACE_ID) as X-Amzn-Trace-Id
// on their calls (botocore's add_recursion_detection_header), the services keep it with the
// events those calls cause, and the next invocation gets it with the count one higher. Past
// kMaxRecursionDepth the invocation is not made (RecursiveInvocationException) unless the
// function's recursion config says Allow.
//
// Plain functions of their arguments; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace nubo::lambda {

// "Lambda ... detects the loop ... after approximately 16 invocations" (developer guide).
inline constexpr int kMaxRecursionDepth = 16;

// The Lineage count of a trace header ("Root=...;Parent=...;Sampled=0;Lineage=<hash>:<n>"), 0
// when it has none (a request from outside any function).
int lineage_depth(std::string_view header);

// The trace header of an invocation caused by an event that carried `incoming` (empty: a new
// chain): the same Root (a new one when there is none), a new Parent, Sampled=0, and the
// Lineage count one higher, hashed with the function's ARN.
std::string next_hop(std::string_view incoming, std::string_view function_arn);

}  // namespace nubo::lambda
