#include "agent/dataplane/nat.h"

#include <algorithm>
#include <bit>
#include <memory>

#include "shared/packet/ipv4.h"

namespace vnet::agent::dataplane {
namespace {

constexpr uint32_t kNoFlow = 0xffffffff;
constexpr uint32_t kEmpty = 0xffffffff;
constexpr uint64_t kNanosecond = 1'000'000'000;

constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpRst = 0x04;

void bump(std::atomic<uint64_t>& counter, int64_t by = 1) {
  // One writer (the engine thread).
  counter.store(counter.load(std::memory_order_relaxed) + static_cast<uint64_t>(by),
                std::memory_order_relaxed);
}

}  // namespace

NatTable::NatTable(NatOptions options) : options_(options) {
  options_.capacity = std::max<uint32_t>(options_.capacity, 1);
  if (options_.port_max < options_.port_min) options_.port_max = options_.port_min;
  flows_.assign(options_.capacity, NatFlow{});
  free_.reserve(options_.capacity);
  for (uint32_t i = options_.capacity; i-- > 0;) free_.push_back(i);
  // Two slots per flow at a load of at most 1/2.
  const size_t slots = std::bit_ceil(size_t{options_.capacity} * 4);
  index_.assign(slots, kEmpty);
  mask_ = slots - 1;
}

size_t NatTable::memory_bytes() const {
  size_t bytes = flows_.size() * sizeof(NatFlow) + index_.size() * sizeof(uint32_t) +
                 free_.capacity() * sizeof(uint32_t);
  const size_t ports = size_t{options_.port_max} - options_.port_min + 1;
  bytes += pools_.size() * 3 * ((ports + 63) / 64) * sizeof(uint64_t);
  return bytes;
}

int NatTable::protocol_index(uint8_t protocol) {
  switch (protocol) {
    case packet::ip_protocol::kTcp: return 0;
    case packet::ip_protocol::kUdp: return 1;
    default: return 2;  // ICMP
  }
}

NatTable::Key NatTable::outbound_key(const NatFlow& f) {
  return Key{f.external_ip, f.ca, f.remote_ip, f.ca_port, f.remote_port, f.protocol, 0};
}
NatTable::Key NatTable::inbound_key(const NatFlow& f) {
  return Key{
      f.external_ip, f.external_ip, f.remote_ip, f.external_port, f.remote_port, f.protocol, 1};
}

uint64_t NatTable::hash(const Key& k) {
  uint64_t h = (uint64_t{k.scope} << 32 | k.local_ip) * 0x9e3779b97f4a7c15ull;
  h ^= (uint64_t{k.remote_ip} << 32 | uint32_t{k.local_port} << 16 | k.remote_port) *
       0xc2b2ae3d27d4eb4full;
  h ^= (uint64_t{k.protocol} << 1 | k.inbound) * 0x165667b19e3779f9ull;
  return h ^ (h >> 29);
}

uint32_t NatTable::find(const Key& key) const {
  for (uint64_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
    const uint32_t slot = index_[i];
    if (slot == kEmpty) return kNoFlow;
    const NatFlow& f = flows_[slot >> 1];
    if ((slot & 1) == key.inbound && ((slot & 1) ? inbound_key(f) : outbound_key(f)) == key)
      return slot >> 1;
  }
}

void NatTable::insert_slot(uint32_t flow, bool inbound) {
  const NatFlow& f = flows_[flow];
  uint64_t i = hash(inbound ? inbound_key(f) : outbound_key(f)) & mask_;
  while (index_[i] != kEmpty) i = (i + 1) & mask_;
  index_[i] = flow << 1 | static_cast<uint32_t>(inbound);
}

// Linear probing without tombstones: the entries after the hole that would
// not be found across it move back (Knuth's algorithm R).
void NatTable::erase_slot(uint32_t flow, bool inbound) {
  const uint32_t wanted = flow << 1 | static_cast<uint32_t>(inbound);
  const NatFlow& f = flows_[flow];
  uint64_t i = hash(inbound ? inbound_key(f) : outbound_key(f)) & mask_;
  while (index_[i] != wanted) {
    if (index_[i] == kEmpty) return;  // not indexed: nothing to erase
    i = (i + 1) & mask_;
  }
  uint64_t hole = i;
  for (uint64_t j = (i + 1) & mask_; index_[j] != kEmpty; j = (j + 1) & mask_) {
    const uint32_t slot = index_[j];
    const NatFlow& other = flows_[slot >> 1];
    const uint64_t home = hash((slot & 1) ? inbound_key(other) : outbound_key(other)) & mask_;
    // Move it when its home is not in (hole, j] cyclically.
    const bool stays = hole < j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (stays) continue;
    index_[hole] = slot;
    hole = j;
  }
  index_[hole] = kEmpty;
}

NatTable::Pool* NatTable::pool_of(uint32_t external_ip) {
  const auto it = pools_.find(external_ip);
  return it == pools_.end() ? nullptr : &it->second;
}

const NatCounters* NatTable::counters(net::Ipv4Address external_ip) const {
  const auto it = pools_.find(external_ip.to_u32());
  return it == pools_.end() ? nullptr : it->second.counters.get();
}

void NatTable::sync(const std::vector<Gateway>& gateways) {
  // Called at every tables swap: it walks the flows only when a gateway left
  // or a gateway's rules changed, so that a policy update does not stall a
  // busy gateway host for a walk of its whole table.
  const size_t ports = size_t{options_.port_max} - options_.port_min + 1;
  std::unordered_map<uint32_t, std::vector<std::pair<uint8_t, uint16_t>>> wanted;
  for (const Gateway& g : gateways) {
    auto& rules = wanted[g.external_ip.to_u32()];
    for (const auto& [protocol, port] : g.rule_ports) {
      if (port >= options_.port_min && port <= options_.port_max)
        rules.emplace_back(protocol, port);
    }
    std::sort(rules.begin(), rules.end());
  }
  const bool gone = std::any_of(pools_.begin(), pools_.end(),
                                [&](const auto& entry) { return !wanted.contains(entry.first); });
  if (gone) {  // flows of gateways that left this host go with them
    for (uint32_t i = 0; i < flows_.size(); ++i) {
      if (flows_[i].external_ip != 0 && !wanted.contains(flows_[i].external_ip)) release(i);
    }
    std::erase_if(pools_, [&](const auto& entry) { return !wanted.contains(entry.first); });
  }
  // Each gateway may hold an equal share of the table: one tenant's flood
  // cannot take the flows of another tenant's gateway on the same host.
  share_ = std::max<uint32_t>(
      1, options_.capacity / std::max<uint32_t>(1, static_cast<uint32_t>(wanted.size())));
  auto mark = [&](Pool& pool, uint8_t protocol, uint16_t port) {
    const uint32_t bit = port - options_.port_min;
    pool.used[protocol_index(protocol)][bit / 64] |= uint64_t{1} << (bit % 64);
  };
  std::unordered_map<uint32_t, Pool*> changed;  // existing gateways with other rules now
  for (auto& [ip, rules] : wanted) {
    auto [it, added] = pools_.try_emplace(ip);
    Pool& pool = it->second;
    if (!added && pool.rule_ports == rules) continue;
    pool.rule_ports = rules;
    if (added) {
      for (auto& used : pool.used) used.assign((ports + 63) / 64, 0);
      for (const auto& [protocol, port] : rules) mark(pool, protocol, port);
    } else {
      changed[ip] = &pool;
    }
  }
  if (changed.empty()) return;
  // Ports of rules that are gone are free again unless a flow holds them.
  for (auto& [ip, pool] : changed) {
    for (auto& used : pool->used) std::fill(used.begin(), used.end(), 0);
  }
  for (const NatFlow& f : flows_) {
    if (f.external_ip == 0 || f.from_rule) continue;
    if (const auto it = changed.find(f.external_ip); it != changed.end())
      mark(*it->second, f.protocol, f.external_port);
  }
  for (auto& [ip, pool] : changed) {
    for (const auto& [protocol, port] : pool->rule_ports) mark(*pool, protocol, port);
  }
}

bool NatTable::take_port(Pool& pool, int protocol, uint16_t wanted, uint16_t& port) {
  std::vector<uint64_t>& used = pool.used[protocol];
  const uint32_t count = uint32_t{options_.port_max} - options_.port_min + 1;
  auto try_bit = [&](uint32_t bit) {
    uint64_t& word = used[bit / 64];
    const uint64_t mask = uint64_t{1} << (bit % 64);
    if (word & mask) return false;
    word |= mask;
    port = static_cast<uint16_t>(options_.port_min + bit);
    return true;
  };
  // The VM's own port when it is free (as conntrack does), else the next
  // free one after the cursor, a word at a time.
  if (wanted >= options_.port_min && wanted <= options_.port_max &&
      try_bit(wanted - options_.port_min))
    return true;
  const size_t words = used.size();
  uint32_t start = pool.cursor[protocol] % count;
  for (size_t n = 0; n <= words; ++n) {
    const size_t w = (start / 64 + n) % words;
    uint64_t free_bits = ~used[w];
    if (w == (count - 1) / 64 && count % 64 != 0) free_bits &= (uint64_t{1} << (count % 64)) - 1;
    if (free_bits == 0) continue;
    const uint32_t bit = static_cast<uint32_t>(w * 64 + std::countr_zero(free_bits));
    if (bit >= count || !try_bit(bit)) continue;
    pool.cursor[protocol] = bit + 1;
    return true;
  }
  return false;
}

void NatTable::release(uint32_t index) {
  NatFlow& f = flows_[index];
  if (f.external_ip == 0) return;
  erase_slot(index, false);
  erase_slot(index, true);
  if (Pool* pool = pool_of(f.external_ip)) {
    if (!f.from_rule && f.external_port >= options_.port_min &&
        f.external_port <= options_.port_max) {
      const uint32_t bit = f.external_port - options_.port_min;
      pool->used[protocol_index(f.protocol)][bit / 64] &= ~(uint64_t{1} << (bit % 64));
    }
    bump(pool->counters->flows, -1);
  }
  f = NatFlow{};
  free_.push_back(index);
  --size_;
}

bool NatTable::expired(const NatFlow& f, uint64_t now) const {
  uint32_t seconds;
  switch (f.protocol) {
    case packet::ip_protocol::kTcp:
      seconds = f.tcp == TcpState::kEstablished ? options_.timeouts.tcp_established
                : f.tcp == TcpState::kClosing   ? options_.timeouts.tcp_closing
                                                : options_.timeouts.tcp_opening;
      break;
    case packet::ip_protocol::kUdp: seconds = options_.timeouts.udp; break;
    default: seconds = options_.timeouts.icmp; break;
  }
  return now >= f.last_seen && now - f.last_seen >= uint64_t{seconds} * kNanosecond;
}

void NatTable::expire(uint64_t now, uint32_t budget) {
  for (uint32_t n = 0; n < budget && size_ > 0; ++n) {
    const uint32_t i = expire_cursor_;
    expire_cursor_ = (expire_cursor_ + 1) % static_cast<uint32_t>(flows_.size());
    if (flows_[i].external_ip != 0 && expired(flows_[i], now)) {
      if (Pool* pool = pool_of(flows_[i].external_ip)) bump(pool->counters->expired);
      release(i);
    }
  }
}

uint32_t NatTable::take_flow(uint64_t now) {
  if (free_.empty()) expire(now, 64);  // a few old ones may have timed out
  if (free_.empty()) return kNoFlow;
  const uint32_t i = free_.back();
  free_.pop_back();
  ++size_;
  return i;
}

NatTable::Result NatTable::outbound(net::Ipv4Address external_ip, uint8_t protocol,
                                    net::Ipv4Address ca, uint16_t ca_port, net::Ipv4Address remote,
                                    uint16_t remote_port, net::Vsid vsid, uint64_t now) {
  Pool* pool = pool_of(external_ip.to_u32());
  if (pool == nullptr) return {nullptr, Error::kNoGateway};
  const Key key{
      external_ip.to_u32(), ca.to_u32(), remote.to_u32(), ca_port, remote_port, protocol, 0};
  if (const uint32_t found = find(key); found != kNoFlow) {
    if (!expired(flows_[found], now)) return {&flows_[found], Error::kOk};
    bump(pool->counters->expired);
    release(found);
  }
  if (pool->counters->flows.load(std::memory_order_relaxed) >= share_) {
    expire(now, 64);
    if (pool->counters->flows.load(std::memory_order_relaxed) >= share_) {
      bump(pool->counters->table_full);
      return {nullptr, Error::kTableFull};
    }
  }
  uint16_t port = 0;
  bool got = take_port(*pool, protocol_index(protocol), ca_port, port);
  if (!got) {
    expire(now, 64);  // a few old ones may have timed out and hold ports
    got = take_port(*pool, protocol_index(protocol), ca_port, port);
  }
  if (!got) {
    bump(pool->counters->ports_exhausted);
    return {nullptr, Error::kPortsExhausted};
  }
  const uint32_t i = take_flow(now);
  if (i == kNoFlow) {
    const uint32_t bit = port - options_.port_min;
    pool->used[protocol_index(protocol)][bit / 64] &= ~(uint64_t{1} << (bit % 64));
    bump(pool->counters->table_full);
    return {nullptr, Error::kTableFull};
  }
  return {&add(i, *pool,
               NatFlow{.external_ip = external_ip.to_u32(),
                       .ca = ca.to_u32(),
                       .remote_ip = remote.to_u32(),
                       .ca_port = ca_port,
                       .external_port = port,
                       .remote_port = remote_port,
                       .protocol = protocol,
                       .tcp = TcpState::kNotTcp,
                       .vsid = vsid,
                       .from_rule = false,
                       .last_seen = now,
                       .created = now}),
          Error::kOk};
}

NatFlow* NatTable::inbound(net::Ipv4Address external_ip, uint8_t protocol, uint16_t external_port,
                           net::Ipv4Address remote, uint16_t remote_port, uint64_t now) {
  const Key key{external_ip.to_u32(),
                external_ip.to_u32(),
                remote.to_u32(),
                external_port,
                remote_port,
                protocol,
                1};
  const uint32_t found = find(key);
  if (found == kNoFlow) return nullptr;
  if (expired(flows_[found], now)) {
    if (Pool* pool = pool_of(flows_[found].external_ip)) bump(pool->counters->expired);
    release(found);
    return nullptr;
  }
  return &flows_[found];
}

NatTable::Result NatTable::open_for_rule(net::Ipv4Address external_ip, uint8_t protocol,
                                         uint16_t external_port, net::Ipv4Address ca,
                                         uint16_t ca_port, net::Ipv4Address remote,
                                         uint16_t remote_port, net::Vsid vsid, uint64_t now) {
  Pool* pool = pool_of(external_ip.to_u32());
  if (pool == nullptr) return {nullptr, Error::kNoGateway};
  // The VM may already talk to that remote from that port (an outbound flow
  // of its own): that flow keeps its port, and this packet is not for it.
  const Key out{
      external_ip.to_u32(), ca.to_u32(), remote.to_u32(), ca_port, remote_port, protocol, 0};
  if (const uint32_t found = find(out); found != kNoFlow) {
    if (!expired(flows_[found], now)) return {nullptr, Error::kOk};
    release(found);
  }
  const uint32_t i =
      pool->counters->flows.load(std::memory_order_relaxed) < share_ ? take_flow(now) : kNoFlow;
  if (i == kNoFlow) {
    bump(pool->counters->table_full);
    return {nullptr, Error::kTableFull};
  }
  return {&add(i, *pool,
               NatFlow{.external_ip = external_ip.to_u32(),
                       .ca = ca.to_u32(),
                       .remote_ip = remote.to_u32(),
                       .ca_port = ca_port,
                       .external_port = external_port,
                       .remote_port = remote_port,
                       .protocol = protocol,
                       .tcp = TcpState::kNotTcp,
                       .vsid = vsid,
                       .from_rule = true,
                       .last_seen = now,
                       .created = now}),
          Error::kOk};
}

NatFlow& NatTable::add(uint32_t index, Pool& pool, NatFlow flow) {
  if (flow.protocol == packet::ip_protocol::kTcp) flow.tcp = TcpState::kOpening;
  flows_[index] = flow;
  insert_slot(index, false);
  insert_slot(index, true);
  bump(pool.counters->created);
  bump(pool.counters->flows);
  return flows_[index];
}

void NatTable::seen(NatFlow& flow, uint8_t tcp_flags, bool from_vm, uint64_t now) {
  flow.last_seen = std::max(flow.last_seen, now);
  if (flow.protocol != packet::ip_protocol::kTcp) return;
  if (tcp_flags & (kTcpFin | kTcpRst)) {
    flow.tcp = TcpState::kClosing;
  } else if (flow.tcp == TcpState::kOpening && (tcp_flags & kTcpSyn) && from_vm == flow.from_rule) {
    // Established once the side that was asked answers (its SYN-ACK): a VM
    // sending to addresses that never answer holds its flows for the short
    // opening timeout only.
    flow.tcp = TcpState::kEstablished;
  }
}

void NatTable::count_unsolicited(net::Ipv4Address external_ip) {
  if (Pool* pool = pool_of(external_ip.to_u32())) bump(pool->counters->unsolicited);
}

}  // namespace vnet::agent::dataplane
