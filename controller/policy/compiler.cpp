#include "controller/policy/compiler.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <unordered_map>

#include "shared/policy/delta.h"

namespace vnet::compiler {
namespace {

using policy::HostPolicy;

// What a port's VM is told: its host's uplink MTU (as its agent reported
// it; 1500 until then) less the NVGRE overhead, or the VM network's own
// MTU when that is smaller. IP rewrite adds no header, but one MTU for a
// network's ports keeps its VMs agreeing.
uint16_t port_mtu(const Host& host, const VmNetwork& network) {
  const int64_t uplink = host.uplink_mtu.value_or(kUplinkMtu);
  int64_t mtu = uplink - kNvgreOverhead;
  if (network.mtu) mtu = std::min(mtu, *network.mtu);
  return static_cast<uint16_t>(std::clamp<int64_t>(mtu, 68, 0xffff - kNvgreOverhead));
}

// A port profile as the agent enforces it.
policy::PortSettings settings_of(const PortProfile& p) {
  policy::PortSettings s;
  s.name = p.name;
  s.allow_mac_spoofing = p.allow_mac_spoofing;
  s.allowed_addresses = p.allowed_addresses;
  std::sort(s.allowed_addresses.begin(), s.allowed_addresses.end());
  s.dhcp_guard = p.dhcp_guard;
  s.router_guard = p.router_guard;
  s.bandwidth_max_mbps = static_cast<uint32_t>(p.bandwidth_max_mbps.value_or(0));
  s.bandwidth_min_mbps = static_cast<uint32_t>(p.bandwidth_min_mbps.value_or(0));
  s.weight = static_cast<uint32_t>(p.weight);
  return s;
}

// The CA pool that handed out (or holds) the address, else the subnet's
// first pool: its gateway and DNS servers are what DHCP tells the VM.
const IpPool* pool_for(const Model& m, const Id& subnet_id, net::Ipv4Address ca) {
  const auto it = m.pools_by_subnet.find(subnet_id);
  if (it == m.pools_by_subnet.end()) return nullptr;
  const IpPool* first = nullptr;
  for (const Id& id : it->second) {
    const IpPool& pool = m.ip_pools.at(id);
    if (pool.offers(ca)) return &pool;
    if (first == nullptr) first = &pool;
  }
  return first;
}

policy::Provider provider_of(const Model& m, const Host& host) {
  policy::Provider p;
  p.pa = host.pa.value_or(net::Ipv4Address());
  p.prefix_len = 32;
  const auto site = m.sites.find(host.site_id);
  if (site == m.sites.end()) return p;
  for (const auto& subnet : site->second.subnets) {
    if (subnet.prefix.contains(net::IpAddress(p.pa))) p.prefix_len = subnet.prefix.length();
  }
  if (auto pools = m.pools_by_site.find(host.site_id); pools != m.pools_by_site.end()) {
    for (const Id& id : pools->second) {
      const IpPool& pool = m.ip_pools.at(id);
      if (pool.gateway && pool.subnet && pool.subnet->contains(net::IpAddress(p.pa))) {
        p.routes.push_back({*net::IpPrefix::parse("0.0.0.0/0"), *pool.gateway});
        break;  // one default route: the pool the PA lives in
      }
    }
  }
  if (auto ln = m.logical_networks.find(site->second.logical_network_id);
      ln != m.logical_networks.end())
    p.flow_entropy = ln->second.flow_entropy;
  return p;
}

// The network's gateway: every host of the network sends what leaves it
// to the gateway host's PA, which runs it (DESIGN.md section 4).
void add_gateways(const Model& m, const Id& network_id, const VmNetwork& network,
                  const std::vector<const VmSubnet*>& subnets, Fragment& out) {
  if (auto it = m.gateways_by_network.find(network_id); it != m.gateways_by_network.end()) {
    for (const Id& id : it->second) {
      const Gateway& gw = m.gateways.at(id);
      const auto host = m.hosts.find(gw.host_id);
      const auto pool = m.ip_pools.find(gw.external_pool_id);
      // Not placed, or placed where it cannot run: nowhere to send to.
      if (host == m.hosts.end() || !host->second.pa || host->second.external_interface.empty() ||
          pool == m.ip_pools.end() || !gw.external_ip)
        continue;
      policy::GatewayPolicy g;
      g.gateway_id = *Uuid::parse(id);
      g.rdid = *network.rdid;
      g.kind =
          gw.kind == "forwarding" ? policy::GatewayKind::kForwarding : policy::GatewayKind::kNat;
      g.external_ip = *gw.external_ip;
      g.pa = *host->second.pa;
      g.interface = host->second.external_interface;
      g.prefix_len = pool->second.subnet->length();
      g.next_hop = pool->second.gateway.value_or(net::Ipv4Address());
      if (g.kind == policy::GatewayKind::kNat) {
        g.nat_rules = gw.nat_rules;
        std::sort(g.nat_rules.begin(), g.nat_rules.end(), [](const auto& a, const auto& b) {
          return std::tie(a.protocol, a.external_port) < std::tie(b.protocol, b.external_port);
        });
      } else {
        for (const VmSubnet* s : subnets) g.advertised_prefixes.push_back(s->prefix);
        std::sort(g.advertised_prefixes.begin(), g.advertised_prefixes.end());
      }
      out.gateways.push_back(std::move(g));
    }
  }
}

// Lookup records and customer routes of one routing domain.
void add_network(const Model& m, const Id& network_id, const VmNetwork& network, Fragment& out) {
  if (auto nics = m.nics_by_network.find(network_id); nics != m.nics_by_network.end()) {
    for (const Id& nic_id : nics->second) {
      const VmNic& nic = m.vm_nics.at(nic_id);
      if (nic.host_id.empty()) continue;  // not placed: nowhere to send to
      const auto host = m.hosts.find(nic.host_id);
      const auto subnet = m.vm_subnets.find(nic.vm_subnet_id);
      if (host == m.hosts.end() || !host->second.pa || subnet == m.vm_subnets.end()) continue;
      // IP rewrite: the NIC's own PA (none yet: nowhere to send to).
      if (network.rewrite() && !nic.pa) continue;
      out.lookup_records.push_back(
          {*subnet->second.vsid, *nic.ip, *nic.mac, network.rewrite() ? *nic.pa : *host->second.pa,
           network.rewrite() ? policy::LookupRule::kRewrite : policy::LookupRule::kEncap});
    }
  }
  // Endpoints that are not VMs (static records), as the administrator
  // wrote them: NVGRE to their PA.
  if (auto it = m.static_records_by_network.find(network_id);
      it != m.static_records_by_network.end()) {
    for (const Id& id : it->second) {
      const StaticRecord& r = m.static_records.at(id);
      out.lookup_records.push_back({*r.vsid, r.ca, r.mac, r.pa, policy::LookupRule::kEncap});
    }
  }
  std::vector<const VmSubnet*> subnets;
  if (auto it = m.subnets_by_network.find(network_id); it != m.subnets_by_network.end()) {
    for (const Id& id : it->second) {
      const VmSubnet& s = m.vm_subnets.at(id);
      subnets.push_back(&s);
      out.customer_routes.push_back({*network.rdid, *s.vsid, s.prefix, net::Ipv4Address(), 0});
    }
  }
  add_gateways(m, network_id, network, subnets, out);
  // Tenant routes: the next hop is a CA in one of the domain's subnets, and
  // the route carries that subnet's VSID. One route per (RDID, VSID, prefix):
  // an on-link subnet route wins, then the lowest metric.
  if (auto it = m.routes_by_network.find(network_id); it != m.routes_by_network.end()) {
    std::map<std::tuple<net::Vsid, net::IpPrefix>, policy::CustomerRoute> best;
    for (const Id& id : it->second) {
      const Route& r = m.routes.at(id);
      for (const VmSubnet* s : subnets) {
        if (!s->prefix.contains(net::IpAddress(r.next_hop))) continue;
        policy::CustomerRoute route{*network.rdid, *s->vsid, r.prefix, r.next_hop,
                                    static_cast<uint32_t>(r.metric)};
        auto [slot, inserted] = best.try_emplace({*s->vsid, r.prefix}, route);
        if (!inserted && route.metric < slot->second.metric) slot->second = route;
      }
    }
    for (const auto& [key, route] : best) {
      const bool on_link = std::any_of(out.customer_routes.begin(), out.customer_routes.end(),
                                       [&](const policy::CustomerRoute& c) {
                                         return c.rdid == route.rdid && c.vsid == route.vsid &&
                                                c.prefix == route.prefix;
                                       });
      if (!on_link) out.customer_routes.push_back(route);
    }
  }
}

}  // namespace

Fragment compile_gateways(const Model& m, const Id& network_id) {
  Fragment f;
  const auto network = m.vm_networks.find(network_id);
  if (network == m.vm_networks.end() || !network->second.hnv()) return f;
  std::vector<const VmSubnet*> subnets;
  if (auto it = m.subnets_by_network.find(network_id); it != m.subnets_by_network.end())
    for (const Id& id : it->second) subnets.push_back(&m.vm_subnets.at(id));
  add_gateways(m, network_id, network->second, subnets, f);
  return f;
}

Fragment compile_network(const Model& m, const Id& network_id) {
  Fragment f;
  const auto network = m.vm_networks.find(network_id);
  if (network == m.vm_networks.end() || !network->second.hnv()) return f;
  add_network(m, network_id, network->second, f);
  auto by_key = [](const auto& a, const auto& b) { return policy::key(a) < policy::key(b); };
  std::sort(f.lookup_records.begin(), f.lookup_records.end(), by_key);
  std::sort(f.customer_routes.begin(), f.customer_routes.end(), by_key);
  std::sort(f.gateways.begin(), f.gateways.end(), by_key);
  return f;
}

std::optional<policy::PolicyError> validate_fragment(const Fragment& f) {
  if (f.lookup_records.empty() && f.customer_routes.empty() && f.gateways.empty())
    return std::nullopt;
  HostPolicy p;
  p.host_id = Uuid::parse("00000000-0000-4000-8000-000000000001").value();  // any: not checked
  p.provider.pa = net::Ipv4Address::from_u32(1);
  p.lookup_records = f.lookup_records;
  p.customer_routes = f.customer_routes;
  p.gateways = f.gateways;
  return policy::validate(p);
}

std::optional<policy::PolicyError> validate_own_parts(const HostPolicy& policy) {
  HostPolicy own;
  own.host_id = policy.host_id;
  own.provider = policy.provider;
  own.ports = policy.ports;
  own.rewrite_pas = policy.rewrite_pas;
  // The gateways run here: each is checked in its network's fragment too,
  // but only the host's whole set shows two forwarding gateways whose
  // prefixes overlap.
  for (const policy::GatewayPolicy& g : policy.gateways) {
    if (g.pa == policy.provider.pa) own.gateways.push_back(g);
  }
  return policy::validate(own);
}

HostPolicy compile(const Model& m, const Id& host_id) {
  std::unordered_map<Id, Fragment> computed;  // nodes: references stay valid
  return compile(m, host_id, [&](const Id& network) -> const Fragment& {
    auto it = computed.find(network);
    if (it == computed.end()) it = computed.emplace(network, compile_network(m, network)).first;
    return it->second;
  });
}

HostPolicy compile(const Model& m, const Id& host_id, const Fragments& fragments) {
  const Host& host = m.hosts.at(host_id);
  HostPolicy out;
  out.host_id = *Uuid::parse(host_id);
  out.generation = 0;
  out.provider = provider_of(m, host);

  if (auto nics = m.nics_by_host.find(host_id); nics != m.nics_by_host.end()) {
    for (const Id& nic_id : nics->second) {
      const VmNic& nic = m.vm_nics.at(nic_id);
      const auto subnet = m.vm_subnets.find(nic.vm_subnet_id);
      const auto network = m.vm_networks.find(nic.vm_network_id);
      // A port needs its interface (the orchestrator's binding) and an HNV
      // network; isolation "none" is the physical network's business.
      if (nic.interface.empty() || subnet == m.vm_subnets.end() || network == m.vm_networks.end() ||
          !network->second.hnv())
        continue;
      policy::Port port;
      port.nic_id = *Uuid::parse(nic_id);
      port.interface = nic.interface;
      port.mac = *nic.mac;
      port.ca = *nic.ip;
      port.prefix_len = subnet->second.prefix.length();
      const IpPool* pool = pool_for(m, nic.vm_subnet_id, *nic.ip);
      port.gateway = pool != nullptr && pool->gateway
                         ? *pool->gateway
                         : *subnet->second.prefix.first().v4().offset(1);
      if (pool != nullptr) port.dns = pool->dns;
      port.vsid = *subnet->second.vsid;
      port.rdid = *network->second.rdid;
      port.mtu = port_mtu(host, network->second);
      if (const auto profile = m.port_profiles.find(nic.port_profile_id);
          profile != m.port_profiles.end()) {
        port.profile = settings_of(profile->second);
      }
      if (network->second.rewrite() && nic.pa) {
        out.rewrite_pas.push_back({port.nic_id, port.ca, *nic.pa});
      }
      out.ports.push_back(std::move(port));
    }
  }
  // Fragments are sorted; appended in order of their first keys they are
  // usually sorted as a whole (VSIDs of different networks rarely
  // interleave), and canonicalize() only sorts what is not.
  std::vector<const Fragment*> parts;
  for (const Id& network_id : m.networks_on_host(host_id)) parts.push_back(&fragments(network_id));
  auto append = [&](auto member, auto& into) {
    using T = typename std::decay_t<decltype(into)>::value_type;
    std::vector<const std::vector<T>*> lists;
    size_t total = 0;
    for (const Fragment* f : parts) {
      const auto& list = f->*member;
      if (list.empty()) continue;
      lists.push_back(&list);
      total += list.size();
    }
    std::sort(lists.begin(), lists.end(), [](const auto* a, const auto* b) {
      return policy::key(a->front()) < policy::key(b->front());
    });
    into.reserve(into.size() + total);
    for (const auto* list : lists) into.insert(into.end(), list->begin(), list->end());
  };
  append(&Fragment::lookup_records, out.lookup_records);
  append(&Fragment::customer_routes, out.customer_routes);
  append(&Fragment::gateways, out.gateways);
  policy::canonicalize(out);
  return out;
}

}  // namespace vnet::compiler
