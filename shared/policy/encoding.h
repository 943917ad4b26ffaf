// The fields of a host policy, written down once, in DESIGN.md's order. The
// JSON encoding (json.cpp: what the southbound channel carries and the
// agent stores) and the controller's content hash (controller/policy/
// engine.cpp: what decides a new generation) both walk this description, so
// a field added here is in both, and neither can leave one out.
//
// A visitor V has:
//   v(name, value)          a scalar: Uuid, std::string, MacAddress,
//                           Ipv4Address, IpPrefix, Vsid, LookupRule,
//                           GatewayKind, NatProtocol, bool, unsigned integers
//   v.object(name, value)   a nested structure, described by describe()
//   v.list(name, items)     a vector of scalars or of structures
//   v.version(name, value)  the policy's generation: part of the encoding,
//                           not of its content
#pragma once

#include "shared/policy/host_policy.h"

namespace vnet::policy {

template <class V>
void describe(V& v, const ProviderRoute& r) {
  v("prefix", r.prefix);
  v("next_hop", r.next_hop);
}

template <class V>
void describe(V& v, const Provider& p) {
  v("pa", p.pa);
  v("prefix_len", p.prefix_len);
  v.list("routes", p.routes);
  v("flow_entropy", p.flow_entropy);
}

template <class V>
void describe(V& v, const PortSettings& s) {
  v("name", s.name);
  v("allow_mac_spoofing", s.allow_mac_spoofing);
  v.list("allowed_addresses", s.allowed_addresses);
  v("dhcp_guard", s.dhcp_guard);
  v("router_guard", s.router_guard);
  v("bandwidth_max_mbps", s.bandwidth_max_mbps);
  v("bandwidth_min_mbps", s.bandwidth_min_mbps);
  v("weight", s.weight);
}

template <class V>
void describe(V& v, const Port& p) {
  v("nic_id", p.nic_id);
  v("interface", p.interface);
  v("mac", p.mac);
  v("ca", p.ca);
  v("prefix_len", p.prefix_len);
  v("gateway", p.gateway);
  v.list("dns", p.dns);
  v("vsid", p.vsid);
  v("rdid", p.rdid);
  v("mtu", p.mtu);
  v.object("profile", p.profile);
}

template <class V>
void describe(V& v, const LookupRecord& r) {
  v("vsid", r.vsid);
  v("ca", r.ca);
  v("mac", r.mac);
  v("pa", r.pa);
  v("rule", r.rule);
}

template <class V>
void describe(V& v, const CustomerRoute& r) {
  v("rdid", r.rdid);
  v("vsid", r.vsid);
  v("prefix", r.prefix);
  v("next_hop", r.next_hop);
  v("metric", r.metric);
}

template <class V>
void describe(V& v, const RewritePa& r) {
  v("nic_id", r.nic_id);
  v("ca", r.ca);
  v("pa", r.pa);
}

template <class V>
void describe(V& v, const NatRule& r) {
  v("protocol", r.protocol);
  v("external_port", r.external_port);
  v("internal_ip", r.internal_ip);
  v("internal_port", r.internal_port);
}

template <class V>
void describe(V& v, const GatewayPolicy& g) {
  v("gateway_id", g.gateway_id);
  v("rdid", g.rdid);
  v("kind", g.kind);
  v("external_ip", g.external_ip);
  v("pa", g.pa);
  v("interface", g.interface);
  v("prefix_len", g.prefix_len);
  v("next_hop", g.next_hop);
  v.list("nat_rules", g.nat_rules);
  v.list("advertised_prefixes", g.advertised_prefixes);
}

template <class V>
void describe(V& v, const HostPolicy& p) {
  v("host_id", p.host_id);
  v.version("generation", p.generation);
  v.object("provider", p.provider);
  v.list("ports", p.ports);
  v.list("lookup_records", p.lookup_records);
  v.list("customer_routes", p.customer_routes);
  v.list("rewrite_pas", p.rewrite_pas);
  v.list("gateways", p.gateways);
}

// A visitor that accepts anything: what Described asks with.
struct DescribeProbe {
  template <class T>
  void operator()(const char*, const T&) {}
  template <class T>
  void object(const char*, const T&) {}
  template <class T>
  void list(const char*, const T&) {}
  template <class T>
  void version(const char*, const T&) {}
};

// Whether describe() has an overload for T (a structure); else T is a scalar.
template <class T>
concept Described = requires(DescribeProbe& v, const T& value) {
  describe(v, value);
};

}  // namespace vnet::policy
