// Metering arithmetic: Lambda bills duration rounded up to 1 ms, at a price per GB-second.
#pragma once

#include <cstdint>

namespace nubo::billing {

// Lambda's us-east-1 x86_64 on-demand prices (aws.amazon.com/lambda/pricing).
inline constexpr double kPricePerGbSecondX86 = 0.0000166667;
inline constexpr double kPricePerGbSecondArm = 0.0000133334;
inline constexpr double kPricePerRequest = 0.0000002;  // $0.20 per 1M requests

// Billed duration: the run time rounded up to the next whole millisecond (at least 1 ms).
int64_t billed_duration_ms(double duration_ms);

// GB-seconds of one invocation: memory_mb / 1024 * billed_ms / 1000.
double gb_seconds(int memory_mb, int64_t billed_ms);

// Price of one invocation (request + compute) for the architecture.
double invocation_cost(int memory_mb, int64_t billed_ms, bool arm64);

}  // namespace nubo::billing
