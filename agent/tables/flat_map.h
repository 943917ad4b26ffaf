// An immutable-after-build hash map from keys (a 64-bit word, or one of the
// composite keys of keys.h) to 32-bit values, open
// addressing with linear probing at a load factor of at most 1/2: a look-up
// is a multiply, a shift and usually one cache line. Built by the control
// thread, read by the engine without locks (the tables are never changed in
// place; a new set replaces them).
#pragma once

#include <bit>
#include <cstdint>
#include <optional>
#include <vector>

#include "agent/tables/huge_array.h"
#include "agent/tables/keys.h"

namespace vnet::agent::dataplane {

template <class Key = uint64_t>
class FlatMap {
 public:
  FlatMap() { reserve(0); }

  // Sizes the table for `n` keys; clears it.
  void reserve(size_t n) {
    const size_t capacity = std::bit_ceil(std::max<size_t>(16, n * 2));
    slots_ = HugeArray<Slot>(capacity);
    shift_ = static_cast<unsigned>(64 - std::countr_zero(capacity));
    size_ = 0;
  }

  // Inserts or overwrites. Grows when half full.
  void insert(const Key& key, uint32_t value) {
    if ((size_ + 1) * 2 > slots_.size()) rehash(slots_.size() * 2);
    Slot* slot = probe(key);
    if (slot->value_plus_one == 0) ++size_;
    slot->key = key;
    slot->value_plus_one = value + 1;
  }

  std::optional<uint32_t> find(const Key& key) const {
    const size_t mask = slots_.size() - 1;
    for (size_t i = index(key);; i = (i + 1) & mask) {
      const Slot& slot = slots_[i];
      if (slot.value_plus_one == 0) return std::nullopt;
      if (slot.key == key) return slot.value_plus_one - 1;
    }
  }

  size_t size() const { return size_; }
  size_t bytes() const { return slots_.size() * sizeof(Slot); }

  // Asks the CPU to bring the key's first slot into the cache, so that a
  // find() a little later does not wait for memory.
  void prefetch(const Key& key) const { __builtin_prefetch(&slots_[index(key)]); }

 private:
  struct Slot {
    Key key{};
    uint32_t value_plus_one = 0;  // 0: empty
  };

  size_t index(const Key& key) const {
    return static_cast<size_t>((hash_word(key) * 0x9e3779b97f4a7c15ull) >> shift_);
  }
  Slot* probe(const Key& key) {
    const size_t mask = slots_.size() - 1;
    for (size_t i = index(key);; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.value_plus_one == 0 || slot.key == key) return &slot;
    }
  }
  void rehash(size_t capacity) {
    HugeArray<Slot> old = std::move(slots_);
    slots_ = HugeArray<Slot>(capacity);
    shift_ = static_cast<unsigned>(64 - std::countr_zero(capacity));
    size_ = 0;
    for (const Slot& slot : old) {
      if (slot.value_plus_one != 0) insert(slot.key, slot.value_plus_one - 1);
    }
  }

  // One cache line holds four slots, whatever the key.
  static_assert(sizeof(Slot) == 16);
  HugeArray<Slot> slots_;
  unsigned shift_ = 60;
  size_t size_ = 0;
};

}  // namespace vnet::agent::dataplane
