// Assertions for bugs (STYLE.md #4): NUBO_CHECK is always on, NUBO_DCHECK only in debug builds.
#pragma once

namespace nubo::detail {
[[noreturn]] void check_failed(const char* expr, const char* file, int line);
}  // namespace nubo::detail

#define NUBO_CHECK(cond) \
  ((cond) ? (void)0 : ::nubo::detail::check_failed(#cond, __FILE__, __LINE__))

#ifdef NUBO_DEBUG
#define NUBO_DCHECK(cond) NUBO_CHECK(cond)
#else
#define NUBO_DCHECK(cond) ((void)0)
#endif
