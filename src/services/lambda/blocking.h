// on_pool(pool, fn): runs blocking fn() on the thread pool and resumes the awaiting coroutine
// on its own executor with the result.
//
// The same contract as net::run_blocking; kept here because net::OneShot::set does not compile
// against Boost 1.81 (asio::post on an any_completion_executor). fn must not throw.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <type_traits>
#include <utility>

namespace nubo::lambda {

template <typename Fn>
auto on_pool(boost::asio::thread_pool& pool, Fn fn)
    -> boost::asio::awaitable<std::invoke_result_t<Fn>> {
  namespace asio = boost::asio;
  using R = std::invoke_result_t<Fn>;
  auto ex = co_await asio::this_coro::executor;
  std::optional<R> r =
      co_await asio::async_initiate<const asio::use_awaitable_t<>, void(std::optional<R>)>(
          [&pool, ex](auto handler, Fn f) {
            asio::post(pool, [handler = std::move(handler), f = std::move(f), ex]() mutable {
              std::optional<R> value(f());
              asio::post(ex, [handler = std::move(handler), value = std::move(value)]() mutable {
                std::move(handler)(std::move(value));
              });
            });
          },
          asio::use_awaitable, std::move(fn));
  co_return std::move(*r);
}

}  // namespace nubo::lambda
