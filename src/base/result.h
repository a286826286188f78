// Result<T>: the one error vocabulary of nubo (STYLE.md #4).
//
// Expected failures (not found, conflict, throttled, bad input) are values: an Error carrying the
// AWS error code, the HTTP status and the message exactly as the client should see them. Exceptions
// are for requests that cannot go on and are caught only at the request boundary.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "base/check.h"

namespace nubo {

struct Error {
  std::string code;     // AWS error code, e.g. "ResourceNotFoundException".
  int status = 400;     // HTTP status the client sees.
  std::string message;  // Human readable message, worded as AWS words it where known.
  // A machine-readable cause some errors carry beside the message (Lambda's throttling "Reason":
  // ConcurrentInvocationLimitExceeded, ReservedFunctionConcurrentInvocationLimitExceeded).
  std::string reason = {};

  static Error make(std::string code, int status, std::string message) {
    return Error{std::move(code), status, std::move(message)};
  }
};

// Common constructors, worded as the AWS services word them.
inline Error invalid_parameter(std::string message) {
  return Error{"InvalidParameterValueException", 400, std::move(message)};
}
inline Error internal_error(std::string message) {
  return Error{"ServiceException", 500, std::move(message)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    NUBO_CHECK(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    NUBO_CHECK(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    NUBO_CHECK(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& {
    NUBO_CHECK(!ok());
    return std::get<1>(v_);
  }
  Error&& error() && {
    NUBO_CHECK(!ok());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success carries nothing.
struct Ok {};
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Ok) {}                                                     // NOLINT
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const& {
    NUBO_CHECK(failed_);
    return error_;
  }
  Error&& error() && {
    NUBO_CHECK(failed_);
    return std::move(error_);
  }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace nubo

// NUBO_TRY(expr): evaluate a Result<void>-like expression, return its error if it failed.
#define NUBO_TRY(expr)                                    \
  do {                                                    \
    auto _nubo_r = (expr);                                \
    if (!_nubo_r.ok()) return std::move(_nubo_r).error(); \
  } while (0)

// NUBO_ASSIGN_OR_RETURN(lhs, expr): lhs = value of expr, or return its error.
#define NUBO_CONCAT_INNER(a, b) a##b
#define NUBO_CONCAT(a, b) NUBO_CONCAT_INNER(a, b)
#define NUBO_ASSIGN_OR_RETURN(lhs, expr) \
  NUBO_ASSIGN_OR_RETURN_IMPL(NUBO_CONCAT(_nubo_r_, __LINE__), lhs, expr)
#define NUBO_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return std::move(tmp).error();    \
  lhs = std::move(tmp).value()

// The same for coroutines (co_return instead of return).
#define NUBO_CO_TRY(expr)                                    \
  do {                                                       \
    auto _nubo_r = (expr);                                   \
    if (!_nubo_r.ok()) co_return std::move(_nubo_r).error(); \
  } while (0)
#define NUBO_CO_ASSIGN_OR_RETURN(lhs, expr) \
  NUBO_CO_ASSIGN_OR_RETURN_IMPL(NUBO_CONCAT(_nubo_r_, __LINE__), lhs, expr)
#define NUBO_CO_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) co_return std::move(tmp).error();    \
  lhs = std::move(tmp).value()
