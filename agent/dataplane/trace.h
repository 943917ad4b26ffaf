// The trace tool (issue 16, like ovn-trace): the path a packet a VM sends
// would take, step by step, computed by running the agents' own pure
// pipeline on the policy of each host it reaches: the NIC's host first,
// then across NVGRE, IP rewrite or a gateway to the next host's policy
// (run(): the controller, on compiled policies), or on one host's live
// tables until the packet leaves it (run_local(): vnet-agent trace). Pure:
// no clock, no I/O.
//
// The underlay and external network are taken as working (every next hop
// resolved): the trace answers "what does the policy do with this packet",
// and an unresolved neighbour is the host's to report.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shared/net/ipv4.h"
#include "shared/policy/host_policy.h"

namespace vnet::agent::dataplane {
class Tables;
}

namespace vnet::trace {

enum class Protocol : uint8_t { kIcmp, kTcp, kUdp };

struct Input {
  Uuid nic_id;                           // the VM NIC the packet leaves from
  net::Ipv4Address to;                   // its destination
  std::optional<net::Ipv4Address> from;  // its source; default: the NIC's CA
  Protocol protocol = Protocol::kIcmp;   // ICMP echo, a TCP SYN or a UDP datagram
  uint16_t port = 0;                     // the destination port (TCP, UDP)
};

struct Hop {
  std::string host_id;
  std::string step;    // "vm port", "pipeline", "uplink", "external"
  std::string detail;  // a sentence: table, record or route used, rewrite, verdict
};

struct Result {
  // delivered: to a NIC, or out of the VM network through a gateway;
  // forwarded: it left this host (run_local only); else dropped.
  std::string verdict = "dropped";
  bool delivered = false;
  std::string reason;     // the pipeline's last reason (drops as vnet-agent shows them)
  std::string to_nic_id;  // the NIC it reached ("" when dropped or when it left the network)
  std::vector<Hop> hops;
};

// Every host's current compiled policy.
using Policies = std::vector<std::shared_ptr<const policy::HostPolicy>>;

// The tables built from recent policies, so that repeated traces do not
// rebuild a host's tables (a second for a million lookup records): keyed by
// the policy object itself (a new generation is a new object), the least
// recently used dropped beyond `capacity`. Thread-safe.
class TableCache {
 public:
  explicit TableCache(size_t capacity = 4);
  ~TableCache();
  std::shared_ptr<const agent::dataplane::Tables> get(
      const std::shared_ptr<const policy::HostPolicy>& policy);
  size_t builds() const;  // tables built so far (a test counts hits by it)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs the trace. The NIC's host is the one whose policy has a port for
// the NIC; a NIC on no host's ports is dropped as "not_placed". With a
// cache, hosts' tables come from it.
Result run(const Input& input, const Policies& policies, TableCache* cache = nullptr);

// On one host's own tables (its live ones: unresolved neighbours show as
// such) with a NAT table of its own, until the packet leaves the host. The
// NIC may also be named by its interface (`interface`, when nic_id is nil).
Result run_local(const Input& input, const agent::dataplane::Tables& tables,
                 const std::string& host_id, const std::string& interface = "");

}  // namespace vnet::trace
