// The NAT flow table of a gateway host (DESIGN.md section 4, "Gateways"):
// the only state the pipeline writes. One per engine thread, so no locks;
// sized once (no allocation per packet), bounded: when it is full, when a
// gateway holds its share of it (capacity / gateways), or when a gateway's
// port range is full, new flows are refused and counted. Time is given
// (`now`, nanoseconds of a monotonic clock), never read, so tests drive
// timeouts exactly.
//
// A flow is found two ways, each a slot of one open-addressing index: from
// the VM side by (external address, protocol, CA, CA port, remote, remote
// port) and from outside by (external address, protocol, external port,
// remote, remote port). The external address stands for the routing
// domain: one gateway per VM network, one address per gateway, so two VM
// networks with the same CAs can never share a flow.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "shared/net/ipv4.h"
#include "shared/net/vsid.h"

namespace vnet::agent::dataplane {

struct NatTimeouts {  // seconds (DESIGN.md: all configurable)
  uint32_t udp = 30;
  uint32_t icmp = 30;
  uint32_t tcp_established = 7200;
  uint32_t tcp_closing = 60;   // after FIN or RST
  uint32_t tcp_opening = 120;  // a SYN not yet answered
};

struct NatOptions {
  uint32_t capacity = 65536;  // flows
  uint16_t port_min = 1024;   // the external ports (and ICMP identifiers) handed out
  uint16_t port_max = 65535;
  NatTimeouts timeouts{};
};

enum class TcpState : uint8_t { kNotTcp, kOpening, kEstablished, kClosing };

struct NatFlow {
  uint32_t external_ip = 0;  // host order; 0: the slot is free
  uint32_t ca = 0;
  uint32_t remote_ip = 0;
  uint16_t ca_port = 0;  // TCP/UDP port or ICMP echo identifier
  uint16_t external_port = 0;
  uint16_t remote_port = 0;  // 0 for ICMP
  uint8_t protocol = 0;
  TcpState tcp = TcpState::kNotTcp;
  net::Vsid vsid{};        // the VM's subnet, where replies go
  bool from_rule = false;  // opened from outside by a NAT rule
  uint64_t last_seen = 0;  // ns
  uint64_t created = 0;    // ns
};

// What one gateway (external address) saw. Written by the engine thread
// only; others read them while the engine holds the gateway set still.
struct NatCounters {
  std::atomic<uint64_t> flows{0};  // now
  std::atomic<uint64_t> created{0};
  std::atomic<uint64_t> expired{0};
  std::atomic<uint64_t> table_full{0};
  std::atomic<uint64_t> ports_exhausted{0};
  std::atomic<uint64_t> unsolicited{0};
};

class NatTable {
 public:
  explicit NatTable(NatOptions options = {});
  NatTable(const NatTable&) = delete;
  NatTable& operator=(const NatTable&) = delete;

  struct Gateway {
    net::Ipv4Address external_ip;
    std::vector<std::pair<uint8_t, uint16_t>> rule_ports;  // (protocol, port) of NAT rules
  };
  // The gateways this host runs now (between batches; allocates). Flows of
  // the others are dropped; rules' ports are never handed out.
  void sync(const std::vector<Gateway>& gateways);

  enum class Error : uint8_t { kOk, kTableFull, kPortsExhausted, kNoGateway };
  struct Result {
    NatFlow* flow = nullptr;
    Error error = Error::kOk;
  };
  // A packet from a VM: its flow, made when new (an external port chosen).
  Result outbound(net::Ipv4Address external_ip, uint8_t protocol, net::Ipv4Address ca,
                  uint16_t ca_port, net::Ipv4Address remote, uint16_t remote_port, net::Vsid vsid,
                  uint64_t now);
  // A packet from outside to (external_ip, external_port): its flow, or null.
  NatFlow* inbound(net::Ipv4Address external_ip, uint8_t protocol, uint16_t external_port,
                   net::Ipv4Address remote, uint16_t remote_port, uint64_t now);
  // A flow opened from outside by a NAT rule (the rule's port, shared by
  // every remote that uses it).
  Result open_for_rule(net::Ipv4Address external_ip, uint8_t protocol, uint16_t external_port,
                       net::Ipv4Address ca, uint16_t ca_port, net::Ipv4Address remote,
                       uint16_t remote_port, net::Vsid vsid, uint64_t now);
  // Refreshes the flow and follows TCP's state from a packet's flags.
  void seen(NatFlow& flow, uint8_t tcp_flags, bool from_vm, uint64_t now);
  // Frees up to `budget` expired flows, walking the table round-robin.
  void expire(uint64_t now, uint32_t budget);

  // A count that refused a packet, for the gateway of `external_ip`.
  void count_unsolicited(net::Ipv4Address external_ip);

  size_t size() const { return size_; }
  size_t capacity() const { return flows_.size(); }
  const std::vector<NatFlow>& flows() const { return flows_; }
  // nullptr when the address is no gateway of this table.
  const NatCounters* counters(net::Ipv4Address external_ip) const;
  bool expired(const NatFlow& flow, uint64_t now) const;
  // Bytes the table holds for its capacity (flows and index).
  size_t memory_bytes() const;

 private:
  struct Pool {
    std::vector<uint64_t> used[3];  // TCP, UDP, ICMP: a bit per port in [port_min, port_max]
    uint32_t cursor[3] = {0, 0, 0};
    std::vector<std::pair<uint8_t, uint16_t>> rule_ports;  // sorted, in range
    std::unique_ptr<NatCounters> counters = std::make_unique<NatCounters>();
  };
  struct Key {
    uint32_t scope, local_ip, remote_ip;
    uint16_t local_port, remote_port;
    uint8_t protocol, inbound;
    bool operator==(const Key&) const = default;
  };
  static Key outbound_key(const NatFlow& f);
  static Key inbound_key(const NatFlow& f);
  static uint64_t hash(const Key& key);
  static int protocol_index(uint8_t protocol);
  uint32_t find(const Key& key) const;  // flow index or kNone
  void insert_slot(uint32_t flow, bool inbound);
  void erase_slot(uint32_t flow, bool inbound);
  void release(uint32_t flow);
  uint32_t take_flow(uint64_t now);  // a free flow, after expiring a few; kNone: full
  // Puts a new flow at `index` (from take_flow), indexed both ways, counted.
  NatFlow& add(uint32_t index, Pool& pool, NatFlow flow);
  bool take_port(Pool& pool, int protocol, uint16_t wanted, uint16_t& port);
  Pool* pool_of(uint32_t external_ip);

  NatOptions options_;
  std::vector<NatFlow> flows_;
  std::vector<uint32_t> free_;   // free flow indexes
  std::vector<uint32_t> index_;  // flow << 1 | inbound, or kEmpty
  uint64_t mask_ = 0;
  size_t size_ = 0;
  uint32_t expire_cursor_ = 0;
  uint32_t share_ = 0;                        // flows one gateway may hold: capacity / gateways
  std::unordered_map<uint32_t, Pool> pools_;  // by external address
};

}  // namespace vnet::agent::dataplane
