#include "base/check.h"

#include <cstdio>
#include <cstdlib>

namespace nubo::detail {

void check_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "nubo: check failed: %s at %s:%d\n", expr, file, line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace nubo::detail
