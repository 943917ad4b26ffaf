// A repeated log line at most once per interval, with the count of the ones
// left out: an accept loop that fails thousands of times a second (EMFILE)
// writes one line every ten seconds, not hundreds of megabytes.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

namespace vnet::log {

class Limiter {
 public:
  explicit Limiter(std::chrono::steady_clock::duration interval = std::chrono::seconds(10))
      : interval_(interval) {}

  // The number of lines suppressed since the last one that was written, when
  // this one may be written now; nullopt when it must be left out.
  std::optional<uint64_t> allow(std::chrono::steady_clock::time_point now) {
    std::lock_guard lock(mutex_);
    if (written_ && now - last_ < interval_) {
      ++suppressed_;
      return std::nullopt;
    }
    written_ = true;
    last_ = now;
    const uint64_t n = suppressed_;
    suppressed_ = 0;
    return n;
  }

 private:
  std::mutex mutex_;
  std::chrono::steady_clock::duration interval_;
  std::chrono::steady_clock::time_point last_{};
  bool written_ = false;
  uint64_t suppressed_ = 0;
};

// Whether an accept failed for want of descriptors or memory (errno values:
// accept's errors are the system's), when waiting is all that helps.
inline bool out_of_resources(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

// What an accept loop waits after a failed accept: nothing for a one-off
// error, and 10 ms doubling to 1 s while descriptors are exhausted (EMFILE,
// ENFILE, ENOBUFS, ENOMEM), so it does not spin while nothing can succeed.
inline std::chrono::milliseconds accept_backoff(bool out_of_resources,
                                                std::chrono::milliseconds previous) {
  if (!out_of_resources) return std::chrono::milliseconds(0);
  if (previous.count() == 0) return std::chrono::milliseconds(10);
  return std::min(previous * 2, std::chrono::milliseconds(1000));
}

}  // namespace vnet::log
