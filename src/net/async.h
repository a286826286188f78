// Small async building blocks on Asio for crossing threads without sharing mutable state.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

namespace nubo::net {

namespace asio = boost::asio;

// OneShot<T>: a value set once, from any thread, and awaited by at most one waiter, which resumes
// on its own executor. The first set() wins; later ones return false. Shared by the setter and
// the waiter (std::shared_ptr): thread-safe.
//
// The waiter is resumed with asio::defer, not post: set() is normally called by a handler that is
// about to finish (an HTTP handler answering the runtime), and a deferred continuation runs on the
// same io thread right after it instead of waking another thread (a context switch per hand-off,
// the dominant cost of a warm invoke on a small VM). From outside the io_context defer is a post.
// The handler's executor is kept beside it as an any_io_executor (Boost 1.81 cannot post to the
// executor of an any_completion_handler), and the handler is only ever move-constructed: in Boost
// 1.81 any_completion_handler's move assignment wraps the source in itself without end.
template <typename T>
class OneShot : public std::enable_shared_from_this<OneShot<T>> {
 public:
  static std::shared_ptr<OneShot> make() { return std::make_shared<OneShot>(); }

  // Delivers value unless a value was delivered before. Returns true if this call delivered it.
  bool set(T value) {
    std::optional<boost::asio::any_completion_handler<void(T)>> h;
    boost::asio::any_io_executor ex;
    {
      std::lock_guard lock(mu_);
      if (done_) return false;
      done_ = true;
      if (!handler_) {
        value_.emplace(std::move(value));
        return true;
      }
      h.emplace(std::move(*handler_));
      handler_.reset();
      ex = std::move(ex_);
    }
    boost::asio::defer(
        ex, [h = std::move(*h), v = std::move(value)]() mutable { std::move(h)(std::move(v)); });
    return true;
  }

  bool is_set() const {
    std::lock_guard lock(mu_);
    return done_;
  }

  // Completes with the value (at once, through a post, if it is already there).
  // REQUIRES: called at most once.
  template <typename Token = boost::asio::use_awaitable_t<>>
  auto async_wait(Token&& token = {}) {
    return boost::asio::async_initiate<Token, void(T)>(
        [self = this->shared_from_this()](auto handler) {
          boost::asio::any_io_executor ex =
              boost::asio::get_associated_executor(handler, boost::asio::system_executor());
          std::unique_lock lock(self->mu_);
          if (self->value_) {
            T v = std::move(*self->value_);
            self->value_.reset();
            lock.unlock();
            boost::asio::post(ex, [h = std::move(handler), v = std::move(v)]() mutable {
              std::move(h)(std::move(v));
            });
            return;
          }
          self->handler_.emplace(std::move(handler));
          self->ex_ = std::move(ex);
        },
        token);
  }

 private:
  mutable std::mutex mu_;
  bool done_ = false;                                                    // GUARDED_BY(mu_)
  std::optional<T> value_;                                               // GUARDED_BY(mu_)
  std::optional<boost::asio::any_completion_handler<void(T)>> handler_;  // GUARDED_BY(mu_)
  boost::asio::any_io_executor ex_;                                      // GUARDED_BY(mu_)
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
