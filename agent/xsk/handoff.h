// What the engine threads share (engine.h): a ring per pair of threads that
// carries a frame to the thread owning the socket it leaves by, and the
// depot of free UMEM frames that threads take from and give back to in
// batches. Neither allocates after construction; the ring has no lock, the
// depot one lock per batch of frames (never per packet).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <vector>

namespace vnet::agent::xsk {

// A frame on its way to another thread's socket.
// A packet in several UMEM frames (a jumbo frame) is several entries in a
// row, each but the last with `more`; the ring carries them as one: pushed
// only when all fit, never drained in part.
struct Handoff {
  uint64_t addr = 0;    // UMEM address of the packet (chunk + offset)
  uint32_t length = 0;  // bytes
  uint16_t socket = 0;  // the destination socket's id
  bool more = false;    // the packet goes on in the next entry
  uint32_t serial = 0;  // the socket's serial (an id is reused, a serial never)
};

// Single producer, single consumer, bounded (a power of two). The producer
// writes entries with push() and makes them visible with publish(); the
// consumer sees them in order. push() returns false when full: the caller
// drops the frame and counts it.
class HandoffRing {
 public:
  explicit HandoffRing(uint32_t capacity) : mask_(round_up(capacity) - 1), slots_(mask_ + 1) {}
  HandoffRing(const HandoffRing&) = delete;
  HandoffRing& operator=(const HandoffRing&) = delete;

  uint32_t capacity() const { return mask_ + 1; }

  // --- producer ---
  // Entries push() can take now (for a packet of several: all or none).
  uint32_t room() {
    cached_head_ = head_.load(std::memory_order_acquire);
    return static_cast<uint32_t>(mask_ + 1 - (local_tail_ - cached_head_));
  }
  bool push(const Handoff& h) {
    if (local_tail_ - cached_head_ > mask_) {
      cached_head_ = head_.load(std::memory_order_acquire);
      if (local_tail_ - cached_head_ > mask_) return false;
    }
    slots_[local_tail_ & mask_] = h;
    ++local_tail_;
    return true;
  }
  // Makes every entry pushed so far visible; true when there were any.
  bool publish() {
    if (tail_.load(std::memory_order_relaxed) == local_tail_) return false;
    tail_.store(local_tail_, std::memory_order_release);
    return true;
  }

  // --- consumer ---
  // Up to `max` entries, oldest first, passed to `take` (more when the
  // last would cut a packet of several entries); returns how many.
  template <class F>
  uint32_t drain(uint32_t max, F&& take) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    const uint64_t tail = tail_.load(std::memory_order_acquire);
    uint64_t i = head;
    while (i != tail && (i - head < max || slots_[(i - 1) & mask_].more)) {
      take(slots_[i & mask_]);
      ++i;
    }
    head_.store(i, std::memory_order_release);
    return static_cast<uint32_t>(i - head);
  }
  bool empty() const {
    return head_.load(std::memory_order_relaxed) == tail_.load(std::memory_order_acquire);
  }

 private:
  static uint32_t round_up(uint32_t n) {
    uint32_t p = 1;
    while (p < n) p <<= 1;
    return p;
  }

  // The consumer's and the producer's indexes on lines of their own.
  alignas(64) std::atomic<uint64_t> head_{0};
  alignas(64) std::atomic<uint64_t> tail_{0};
  alignas(64) uint64_t local_tail_ = 0;  // producer's, not yet published beyond tail_
  uint64_t cached_head_ = 0;             // producer's last look at head_
  uint32_t mask_;
  std::vector<Handoff> slots_;
};

// The free frames no thread holds. A thread keeps a few hundred of its own
// (FrameCache) and exchanges them here a batch at a time: a frame received
// by one thread and sent by another comes back free to the second, and the
// depot evens that out.
class FrameDepot {
 public:
  void reserve(size_t n) { free_.reserve(n); }
  void put(uint64_t chunk) {
    std::lock_guard lock(mutex_);
    free_.push_back(chunk);
  }
  // Moves up to `n` frames into `into`; returns how many.
  size_t take(std::vector<uint64_t>& into, size_t n) {
    std::lock_guard lock(mutex_);
    n = std::min(n, free_.size());
    into.insert(into.end(), free_.end() - static_cast<ptrdiff_t>(n), free_.end());
    free_.resize(free_.size() - n);
    return n;
  }
  // Moves the last `n` frames of `from` here.
  void give(std::vector<uint64_t>& from, size_t n) {
    n = std::min(n, from.size());
    std::lock_guard lock(mutex_);
    free_.insert(free_.end(), from.end() - static_cast<ptrdiff_t>(n), from.end());
    from.resize(from.size() - n);
  }
  size_t size() const {
    std::lock_guard lock(mutex_);
    return free_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<uint64_t> free_;
};

// One thread's free frames, topped up from and returned to the depot in
// batches of kBatch so that the depot's lock is taken once per kBatch frames.
class FrameCache {
 public:
  static constexpr size_t kBatch = 256;

  explicit FrameCache(FrameDepot& depot) : depot_(&depot) { frames_.reserve(4 * kBatch); }

  // A free frame, or false when neither this cache nor the depot has one.
  bool take(uint64_t& chunk) {
    if (frames_.empty() && depot_->take(frames_, kBatch) == 0) return false;
    chunk = frames_.back();
    frames_.pop_back();
    return true;
  }
  void put(uint64_t chunk) {
    frames_.push_back(chunk);
    if (frames_.size() >= 3 * kBatch) depot_->give(frames_, 2 * kBatch);
  }
  // Frames held here (take() may still get more from the depot).
  size_t size() const { return frames_.size(); }
  // Everything back to the depot (a thread that stops).
  void flush() { depot_->give(frames_, frames_.size()); }

 private:
  FrameDepot* depot_;
  std::vector<uint64_t> frames_;
};

}  // namespace vnet::agent::xsk
