#include "billing/meter.h"

#include <cmath>

namespace nubo::billing {

int64_t billed_duration_ms(double duration_ms) {
  if (!(duration_ms > 0)) return 1;
  auto ms = static_cast<int64_t>(std::ceil(duration_ms));
  return ms < 1 ? 1 : ms;
}

double gb_seconds(int memory_mb, int64_t billed_ms) {
  return (static_cast<double>(memory_mb) / 1024.0) * (static_cast<double>(billed_ms) / 1000.0);
}

double invocation_cost(int memory_mb, int64_t billed_ms, bool arm64) {
  double price = arm64 ? kPricePerGbSecondArm : kPricePerGbSecondX86;
  return kPricePerRequest + gb_seconds(memory_mb, billed_ms) * price;
}

}  // namespace nubo::billing
