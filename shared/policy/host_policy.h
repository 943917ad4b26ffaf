// HostPolicy: everything one compute host needs to forward its tenants'
// traffic, exactly as DESIGN.md section 3 describes it. The controller's
// compiler produces it; the agent's tables are built from it; the southbound
// channel and the agent's on-disk copy carry it as JSON (policy/json.h).
//
// The data plane carries IPv4 customer traffic over an IPv4 underlay, so every
// address here is IPv4.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/net/ip.h"
#include "shared/net/ipv4.h"
#include "shared/net/mac.h"
#include "shared/net/vsid.h"
#include "shared/util/uuid.h"

namespace vnet::policy {

using RoutingDomainId = Uuid;  // RDID: one per VM network

// How traffic to a lookup record's CA crosses the underlay.
enum class LookupRule : uint8_t { kEncap, kRewrite };
std::string_view to_string(LookupRule rule);
std::optional<LookupRule> parse_lookup_rule(std::string_view text);

enum class GatewayKind : uint8_t { kNat, kForwarding };
std::string_view to_string(GatewayKind kind);
std::optional<GatewayKind> parse_gateway_kind(std::string_view text);

// An underlay route of the host, e.g. 0.0.0.0/0 via 192.168.1.1.
struct ProviderRoute {
  net::IpPrefix prefix{};
  net::Ipv4Address next_hop{};
  bool operator==(const ProviderRoute&) const = default;
};

// The host's provider address on its uplink and its underlay routes.
struct Provider {
  net::Ipv4Address pa{};
  uint8_t prefix_len = 24;
  std::vector<ProviderRoute> routes{};
  bool flow_entropy = false;  // NVGRE FlowID from a flow hash, else 0
  bool operator==(const Provider&) const = default;
};

// At most this many allowed prefixes per port: the engine checks a source
// against each.
inline constexpr size_t kMaxAllowedAddresses = 32;

// What a port's profile lets its VM do (issue 19; the controller's
// /port-profiles). The defaults are a NIC without a profile: its own MAC
// and CA only, both guards on, no bandwidth limit.
struct PortSettings {
  std::string name{};  // the profile's, for people reading; "" without one
  bool allow_mac_spoofing = false;
  std::vector<net::IpPrefix> allowed_addresses{};  // sources besides the port's CA
  bool dhcp_guard = true;                          // drop DHCP server messages from the VM
  bool router_guard = true;                        // drop ICMP router advertisements and redirects
  uint32_t bandwidth_max_mbps = 0;                 // 0: no limit
  uint32_t bandwidth_min_mbps = 0;                 // 0: no reservation
  uint32_t weight = 1;                             // share of a congested uplink, 1 to 100
  bool operator==(const PortSettings&) const = default;
};

// A VM NIC placed on this host, bound to a host interface.
struct Port {
  Uuid nic_id{};
  std::string interface {};
  net::MacAddress mac{};
  net::Ipv4Address ca{};
  uint8_t prefix_len = 24;
  net::Ipv4Address gateway{};  // 0.0.0.0: none
  std::vector<net::Ipv4Address> dns{};
  net::Vsid vsid{};
  RoutingDomainId rdid{};
  uint16_t mtu = 1458;  // uplink MTU - 42
  PortSettings profile{};
  bool operator==(const Port&) const = default;
};

// Where a VM lives: (VSID, CA, MAC) -> PA (Get-NetVirtualizationLookupRecord).
struct LookupRecord {
  net::Vsid vsid{};
  net::Ipv4Address ca{};
  net::MacAddress mac{};
  net::Ipv4Address pa{};
  LookupRule rule = LookupRule::kEncap;
  bool operator==(const LookupRecord&) const = default;
};

// (RDID, VSID, prefix) -> next hop; 0.0.0.0 is on-link in that VSID
// (Get-NetVirtualizationCustomerRoute).
struct CustomerRoute {
  RoutingDomainId rdid{};
  net::Vsid vsid{};
  net::IpPrefix prefix{};
  net::Ipv4Address next_hop{};
  uint32_t metric = 0;
  bool operator==(const CustomerRoute&) const = default;
};

// A PA this host answers for on behalf of a NIC in a rewrite VM network.
struct RewritePa {
  Uuid nic_id{};
  net::Ipv4Address ca{};
  net::Ipv4Address pa{};
  bool operator==(const RewritePa&) const = default;
};

// An inbound NAT rule (port forwarding): TCP or UDP to the gateway's
// external address and `external_port` reaches `internal_ip:internal_port`.
enum class NatProtocol : uint8_t { kTcp = 6, kUdp = 17 };  // the IP protocol numbers
std::string_view to_string(NatProtocol protocol);
std::optional<NatProtocol> parse_nat_protocol(std::string_view text);

struct NatRule {
  NatProtocol protocol = NatProtocol::kTcp;
  uint16_t external_port = 0;
  net::Ipv4Address internal_ip{};
  uint16_t internal_port = 0;
  bool operator==(const NatRule&) const = default;
};

// The gateway of a routing domain (DESIGN.md section 4, "Gateways"). Every
// host of the VM network gets it: hosts send what leaves the network to
// `pa`, and the host whose PA that is runs it on `interface`.
struct GatewayPolicy {
  Uuid gateway_id{};
  RoutingDomainId rdid{};
  GatewayKind kind = GatewayKind::kNat;
  net::Ipv4Address external_ip{};
  net::Ipv4Address pa{};             // the gateway host's PA
  std::string interface {};          // the gateway host's external interface
  uint8_t prefix_len = 24;           // of the external subnet (the pool's)
  net::Ipv4Address next_hop{};       // the pool's gateway; 0.0.0.0: none, all on-link
  std::vector<NatRule> nat_rules{};  // kind nat only
  std::vector<net::IpPrefix> advertised_prefixes{};  // the VM network's subnets (forwarding)
  bool operator==(const GatewayPolicy&) const = default;
};

struct HostPolicy {
  Uuid host_id{};
  uint64_t generation = 0;
  Provider provider;
  std::vector<Port> ports{};
  std::vector<LookupRecord> lookup_records{};
  std::vector<CustomerRoute> customer_routes{};
  std::vector<RewritePa> rewrite_pas{};
  std::vector<GatewayPolicy> gateways{};
  bool operator==(const HostPolicy&) const = default;
};

// The first field that breaks the policy, as a JSON Pointer (RFC 6901) into
// its JSON form, e.g. {"/ports/2/mac", "\"00:1D\" is not a MAC address"}.
struct PolicyError {
  std::string path{};
  std::string message{};
  std::string to_string() const { return path.empty() ? message : path + ": " + message; }
  bool operator==(const PolicyError&) const = default;
};

// Checks what the types alone cannot: ranges, reserved VSIDs, duplicates that
// would make forwarding ambiguous, gateways outside their subnet.
std::optional<PolicyError> validate(const HostPolicy& policy);
// One gateway on its own (`index` names it in the path).
std::optional<PolicyError> validate_gateway(const GatewayPolicy& gateway, size_t index);

}  // namespace vnet::policy
