// The memory of the tables' large arrays. A host with a million lookup
// records has tens of MiB of hash slots; on 4 KiB pages each random look-up
// also misses the TLB. Arrays of 2 MiB and more are 2 MiB aligned and
// advised for transparent huge pages (madvise(MADV_HUGEPAGE)), so the same
// tables take a few dozen TLB entries. The advice is only advice: when the
// kernel has THP off or no huge page free, the array is ordinary memory and
// works the same. Smaller arrays are cache-line aligned and left alone.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace vnet::agent::dataplane {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

template <class T>
class HugeArray {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  HugeArray() = default;
  // `n` value-initialised elements.
  explicit HugeArray(size_t n) : size_(n) {
    if (n == 0) return;
    const size_t bytes = n * sizeof(T);
    const bool huge = bytes >= kHugePageBytes;
    const size_t align = huge ? kHugePageBytes : std::max<size_t>(64, alignof(T));
    const size_t rounded = (bytes + align - 1) / align * align;
    void* memory = std::aligned_alloc(align, rounded);
    if (memory == nullptr) throw std::bad_alloc();
    if (huge) madvise(memory, rounded, MADV_HUGEPAGE);  // advice; ignored when it fails
    data_ = static_cast<T*>(memory);
    std::uninitialized_value_construct_n(data_, n);
  }
  HugeArray(HugeArray&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  HugeArray& operator=(HugeArray&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  HugeArray(const HugeArray&) = delete;
  HugeArray& operator=(const HugeArray&) = delete;
  ~HugeArray() { std::free(data_); }

  size_t size() const { return size_; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace vnet::agent::dataplane
