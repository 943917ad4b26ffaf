// The lookup records of a host, stored in the slots of their (VSID, CA)
// hash table. The look-up a VM's packet needs (its destination CA in its
// VSID) then reads one 32-byte slot, half a cache line, and nothing else:
// with the record behind an index, as before issue 18, a packet to a cold
// destination missed the cache twice (the slot, then the record). Open
// addressing with linear probing at a load factor of at most 1/2; built
// once by the control thread, then read by the engine without locks.
#pragma once

#include <bit>
#include <cstdint>
#include <optional>

#include "agent/tables/huge_array.h"
#include "agent/tables/keys.h"
#include "shared/net/ipv4.h"
#include "shared/net/mac.h"
#include "shared/net/vsid.h"
#include "shared/policy/host_policy.h"

namespace vnet::agent::dataplane {

inline constexpr uint16_t kNoPort = 0xffff;
inline constexpr uint32_t kNone = 0xffffffff;

// A lookup record with what the pipeline derives from it.
struct RecordEntry {
  net::Vsid vsid;
  net::Ipv4Address ca;
  net::MacAddress mac;
  net::Ipv4Address pa;
  policy::LookupRule rule = policy::LookupRule::kEncap;
  uint16_t local_port = kNoPort;  // the port when the record is on this host
  uint32_t tunnel = kNone;        // index into Tables::tunnels when remote
};

class RecordTable {
 public:
  RecordTable() { reserve(0); }

  // Sizes the table for `n` records; clears it.
  void reserve(size_t n) {
    slots_ = HugeArray<Slot>(std::bit_ceil(std::max<size_t>(16, n * 2)));
    shift_ = static_cast<unsigned>(64 - std::countr_zero(slots_.size()));
    size_ = 0;
  }

  // Stores `record` (replacing one with the same VSID and CA) and returns
  // its slot, which stays its slot: the table never grows by itself, and
  // refuses (kNone) a record past half of what reserve() made room for.
  uint32_t insert(const RecordEntry& record) {
    Slot* slot = probe(record.vsid, record.ca);
    if (!slot->used) {
      if ((size_ + 1) * 2 > slots_.size()) return kNone;
      ++size_;
    }
    slot->record = record;
    slot->used = true;
    return static_cast<uint32_t>(slot - slots_.begin());
  }

  const RecordEntry* find(net::Vsid vsid, net::Ipv4Address ca) const {
    const size_t mask = slots_.size() - 1;
    for (size_t i = index(vsid, ca);; i = (i + 1) & mask) {
      const Slot& slot = slots_[i];
      if (!slot.used) return nullptr;
      if (slot.record.ca == ca && slot.record.vsid == vsid) return &slot.record;
    }
  }
  // The record in slot `i` (as insert() returned it).
  const RecordEntry& at(uint32_t i) const { return slots_[i].record; }

  // Asks the CPU to bring the record's first slot into the cache.
  void prefetch(net::Vsid vsid, net::Ipv4Address ca) const {
    __builtin_prefetch(&slots_[index(vsid, ca)]);
  }

  size_t size() const { return size_; }
  size_t bytes() const { return slots_.size() * sizeof(Slot); }

  template <class F>
  void for_each(F&& f) const {
    for (const Slot& slot : slots_)
      if (slot.used) f(slot.record);
  }

 private:
  // Two to a cache line, never across two.
  struct alignas(32) Slot {
    RecordEntry record;
    bool used;
  };
  static_assert(sizeof(Slot) == 32);

  size_t index(net::Vsid vsid, net::Ipv4Address ca) const {
    return static_cast<size_t>((vsid_ca_key(vsid, ca) * 0x9e3779b97f4a7c15ull) >> shift_);
  }
  Slot* probe(net::Vsid vsid, net::Ipv4Address ca) {
    const size_t mask = slots_.size() - 1;
    for (size_t i = index(vsid, ca);; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (!slot.used || (slot.record.ca == ca && slot.record.vsid == vsid)) return &slot;
    }
  }

  HugeArray<Slot> slots_;
  unsigned shift_ = 60;
  size_t size_ = 0;
};

}  // namespace vnet::agent::dataplane
