// Small async building blocks on Asio for crossing threads without sharing mutable state.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

namespace nubo::net {

namespace asio = boost::asio;

// OneShot<T>: a value set once, from any thread, and awaited by at most one waiter.
// The first set() wins; later ones return false and are dropped. The waiter resumes on its own
// executor. Shared by the setter and the waiter (std::shared_ptr): thread-safe.
template <typename T>
class OneShot : public std::enable_shared_from_this<OneShot<T>> {
 public:
  static std::shared_ptr<OneShot> make() { return std::make_shared<OneShot>(); }

  // Returns true if this call delivered the value.
  bool set(T value) {
    std::function<void(T)> waiter;
    {
      std::lock_guard lock(mu_);
      if (done_) return false;
      done_ = true;
      if (!waiter_) {
        value_.emplace(std::move(value));
        return true;
      }
      waiter = std::move(waiter_);
    }
    waiter(std::move(value));
    return true;
  }

  bool is_set() const {
    std::lock_guard lock(mu_);
    return done_;
  }

  template <typename Token = asio::use_awaitable_t<>>
  auto async_wait(Token&& token = {}) {
    return asio::async_initiate<Token, void(T)>(
        [self = this->shared_from_this()](auto handler) {
          // The handler is move-only; share it so the waiter can be a std::function.
          using H = std::decay_t<decltype(handler)>;
          auto hp = std::make_shared<H>(std::move(handler));
          auto ex = asio::get_associated_executor(*hp);
          auto resume = [hp, ex](T v) {
            asio::post(ex, [hp, v = std::move(v)]() mutable { std::move (*hp)(std::move(v)); });
          };
          std::unique_lock lock(self->mu_);
          if (self->value_) {
            T v = std::move(*self->value_);
            self->value_.reset();
            lock.unlock();
            resume(std::move(v));
            return;
          }
          self->waiter_ = std::move(resume);
        },
        token);
  }

 private:
  mutable std::mutex mu_;
  bool done_ = false;
  std::optional<T> value_;
  std::function<void(T)> waiter_;  // set while a waiter is suspended
};

// Runs fn() on `pool` (blocking work: disk, fork/exec) and resumes the caller with its result on
// the caller's executor. fn must not throw.
template <typename Fn>
auto run_blocking(asio::thread_pool& pool, Fn fn) -> asio::awaitable<std::invoke_result_t<Fn>> {
  using R = std::invoke_result_t<Fn>;
  auto shot = OneShot<std::optional<R>>::make();
  asio::post(pool, [shot, fn = std::move(fn)]() mutable { shot->set(std::optional<R>(fn())); });
  std::optional<R> r = co_await shot->async_wait(asio::use_awaitable);
  co_return std::move(*r);
}

}  // namespace nubo::net
