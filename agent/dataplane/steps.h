// The pipeline's steps that its two files share (pipeline.cpp: VM ports and
// the uplink; gateway.cpp: gateways). Internal to agent/dataplane.
#pragma once

#include "agent/dataplane/pipeline.h"
#include "shared/packet/ethernet.h"
#include "shared/packet/ipv4.h"

namespace vnet::agent::dataplane::detail {

constexpr Verdict drop(Reason reason) { return Verdict{reason, kNoPort}; }
constexpr Verdict send(uint16_t out, Reason reason) { return Verdict{reason, out}; }
constexpr Verdict parse_drop(packet::ParseError error) {
  return drop(error == packet::ParseError::kTruncated ? Reason::kTruncated : Reason::kBadIpHeader);
}

// NVGRE through `tunnel` (an index into tables.tunnels) with the key of
// `vsid`: the frame gains the 42 outer bytes in its headroom.
Verdict encapsulate_to(const Tables& tables, uint32_t tunnel, net::Vsid vsid, Frame& frame,
                       const packet::MutableIpv4View& ip, Reason reason);

// A VM's IPv4 frame for the routing domain's gateway (none of its subnets
// or routes has the destination): run here when the gateway is, else NVGRE
// to its host in the VM's own VSID. `frame` starts at the VM's Ethernet
// header; the caller checked anti-spoofing and the port MTU.
Verdict to_gateway(const Tables& tables, Context& context, const GatewayEntry& gateway,
                   net::Vsid vsid, Frame& frame);

// NVGRE from the uplink for a gateway run here (the caller checked that the
// VSID's domain has it and that the source PA is the domain's); `frame`
// starts at the inner Ethernet header.
Verdict gateway_from_tunnel(const Tables& tables, Context& context, const GatewayEntry& gateway,
                            net::Vsid vsid, Frame& frame);

}  // namespace vnet::agent::dataplane::detail
