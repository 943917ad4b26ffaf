// What the pipeline did with a packet, by name. Every packet ends in exactly
// one reason; drops are the reasons whose name the operator sees in
// `vnet-agent show counters` next to the port they arrived on.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace vnet::agent::dataplane {

// X(enumerator, counter name, is_drop)
#define VNET_REASONS(X)                                                                            \
  /* forwarded or answered */                                                                      \
  X(kDeliveredLocal, "delivered_local", false) /* to a port on this host, same VSID */             \
  X(kRoutedLocal, "routed_local", false)  /* to a port on this host, another VSID of the RDID */   \
  X(kEncapsulated, "encapsulated", false) /* NVGRE to the record's PA */                           \
  X(kRoutedEncapsulated, "routed_encapsulated", false)                                             \
  X(kRewritten, "rewritten", false)             /* IP rewrite out of the uplink */                 \
  X(kDecapsulated, "decapsulated", false)       /* NVGRE from the uplink to a local port */        \
  X(kRestored, "restored", false)               /* IP rewrite from the uplink to a local port */   \
  X(kArpReply, "arp_reply", false)              /* answered from the lookup records */             \
  X(kArpReplyTunnel, "arp_reply_tunnel", false) /* a GRE peer's flooded ARP, answered */           \
  X(kArpReplyUplink, "arp_reply_uplink", false) /* answered on the uplink for a rewrite PA */      \
  X(kDhcpOffer, "dhcp_offer", false)                                                               \
  X(kDhcpAck, "dhcp_ack", false)                                                                   \
  X(kDhcpNak, "dhcp_nak", false)                                                                   \
  X(kIcmpEchoReply, "icmp_echo_reply", false) /* a VM pinged its gateway address */                \
  X(kIcmpFragNeeded, "icmp_frag_needed",                                                           \
    false)                           /* DF packet too big for the uplink: told the VM the MTU */   \
  X(kToGateway, "to_gateway", false) /* NVGRE to the routing domain's gateway host */              \
  X(kNatOut, "nat_out", false)       /* translated, out of the external interface */               \
  X(kNatIn, "nat_in", false)         /* translated back, towards the VM */                         \
  X(kNatIcmpError, "nat_icmp_error", false) /* an ICMP error about a flow, translated back */      \
  X(kForwardedOut, "forwarded_out", false)  /* forwarding gateway: out, untranslated */            \
  X(kForwardedIn, "forwarded_in", false)    /* forwarding gateway: in, to the VM */                \
  X(kIcmpFragNeededOut, "icmp_frag_needed_external",                                               \
    false) /* DF packet from outside too big for the tunnel: told the sender */                    \
  /* dropped */                                                                                    \
  X(kTruncated, "truncated", true)           /* a header ends before its declared length */        \
  X(kNotIpv4, "not_ipv4", true)              /* IPv6 and other EtherTypes: vnet carries IPv4 */    \
  X(kVlanTagged, "vlan_tagged", true)        /* 802.1Q from a VM port */                           \
  X(kSpoofedMac, "spoofed_mac", true)        /* source MAC is not the port's */                    \
  X(kSpoofedIp, "spoofed_ip", true)          /* source IP (or ARP sender) is not the port's CA */  \
  X(kBadIpHeader, "bad_ip_header", true)     /* version, header length, checksum */                \
  X(kIpOptions, "ip_options", true)          /* IPv4 options are not carried */                    \
  X(kIpFragment, "ip_fragment", true)        /* fragments are not reassembled or forwarded */      \
  X(kTtlExpired, "ttl_expired", true)        /* routed with TTL <= 1 */                            \
  X(kBroadcast, "broadcast", true)           /* broadcast or multicast other than ARP and DHCP */  \
  X(kArpNotRequest, "arp_not_request", true) /* ARP replies and other operations from a VM */      \
  X(kArpOwnAddress, "arp_own_address", true) /* a VM probing or announcing its own address */      \
  X(kArpUnknown, "arp_unknown", true)        /* no lookup record for the target: no answer */      \
  X(kDhcpMalformed, "dhcp_malformed", true)                                                        \
  X(kDhcpIgnored, "dhcp_ignored", true) /* RELEASE, DECLINE, INFORM, or for another server */      \
  X(kNoRoute, "no_route", true)         /* no customer route in the routing domain */              \
  X(kNoLookupRecord, "no_lookup_record", true) /* the destination CA is nowhere in the VSID */     \
  X(kTooBig, "too_big", true)                  /* larger than the uplink allows, DF clear */       \
  X(kNoUnderlayNeighbor, "no_underlay_neighbor",                                                   \
    true)                                  /* the PA's next hop has no MAC yet (being resolved) */ \
  X(kNoRewritePa, "no_rewrite_pa", true)   /* a rewrite port without its own PA */                 \
  X(kNotForUs, "not_for_us", true)         /* uplink traffic that is neither NVGRE nor rewrite */  \
  X(kNotOurPa, "not_our_pa", true)         /* NVGRE to another PA */                               \
  X(kGreBadHeader, "gre_bad_header", true) /* C or S bits, version != 0, protocol != 0x6558 */     \
  X(kUnknownVsid, "unknown_vsid", true)    /* no port of this VSID on this host */                 \
  X(kUnknownSourcePa, "unknown_source_pa",                                                         \
    true) /* NVGRE from a PA that holds no record of the VSID's routing domain */                  \
  X(kVsidMismatch, "vsid_mismatch", true) /* the inner destination is a port of another VSID */    \
  X(kUnknownDestination, "unknown_destination",                                                    \
    true)                           /* no local port with the inner destination MAC */             \
  X(kInnerVlan, "inner_vlan", true) /* 802.1Q inside NVGRE (RFC 7637 section 4) */                 \
  X(kInnerNotUnicast, "inner_not_unicast", true)                                                   \
  X(kRewriteUnknownPeer, "rewrite_unknown_peer",                                                   \
    true) /* rewrite traffic from a PA that is no peer of the port */                              \
  X(kPortUnbound, "port_unbound", true)    /* the interface is not a port of the current policy */ \
  X(kNatTableFull, "nat_table_full", true) /* no room for a new flow (or the gateway's share) */   \
  X(kNatPortsExhausted, "nat_ports_exhausted", true) /* the gateway's port range is in use */      \
  X(kNatUnsolicited, "nat_unsolicited", true)        /* from outside, no flow and no NAT rule */   \
  X(kNatProtocol, "nat_protocol", true) /* not TCP, UDP or ICMP echo: nothing to translate */      \
  X(kForwardingUnknown, "forwarding_unknown", true) /* from outside, not to the prefixes */        \
  X(kNotExternal, "not_external", true) /* to the gateway, but for the VM network itself */        \
  X(kNoExternalNeighbor, "no_external_neighbor",                                                   \
    true) /* the external next hop has no MAC yet (being resolved) */                              \
  X(kNoGatewayState, "no_gateway_state", true) /* a gateway packet without a NAT table */          \
  X(kDhcpGuard, "dhcp_guard", true)     /* a DHCP server message from a VM (its port profile) */   \
  X(kRouterGuard, "router_guard", true) /* an ICMP router advertisement or redirect from a VM */   \
  X(kBandwidthLimited, "bandwidth_limited",                                                        \
    true) /* over its port profile's bandwidth_max_mbps (token bucket) */                          \
  X(kUplinkShare, "uplink_share",                                                                  \
    true) /* over its share of a congested uplink (--uplink-mbps), below its maximum */            \
  X(kNoFrame, "no_frame", true) /* no UMEM frame or TX slot (engine, not pipeline) */

enum class Reason : uint8_t {
#define VNET_REASON_ENUM(id, name, drop) id,
  VNET_REASONS(VNET_REASON_ENUM)
#undef VNET_REASON_ENUM
};

inline constexpr size_t kReasonCount = 0
#define VNET_REASON_COUNT(id, name, drop) +1
    VNET_REASONS(VNET_REASON_COUNT)
#undef VNET_REASON_COUNT
    ;

constexpr std::string_view to_string(Reason reason) {
  constexpr std::array<std::string_view, kReasonCount> kNames = {
#define VNET_REASON_NAME(id, name, drop) name,
      VNET_REASONS(VNET_REASON_NAME)
#undef VNET_REASON_NAME
  };
  return kNames[static_cast<size_t>(reason)];
}

constexpr bool is_drop(Reason reason) {
  constexpr std::array<bool, kReasonCount> kDrops = {
#define VNET_REASON_DROP(id, name, drop) drop,
      VNET_REASONS(VNET_REASON_DROP)
#undef VNET_REASON_DROP
  };
  return kDrops[static_cast<size_t>(reason)];
}

}  // namespace vnet::agent::dataplane
