#include "agent/xsk/afxdp_dataplane.h"

#include <sched.h>

#include <fmt/format.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <stdexcept>

#include "agent/dataplane/trace.h"
#include "agent/host/netlink.h"
#include "agent/tables/tables.h"
#include "agent/xsk/engine.h"
#include "agent/xsk/port_plan.h"
#include "agent/xsk/provider_plan.h"
#include "shared/log/log.h"
#include "shared/packet/ethernet.h"

namespace vnet::agent::xsk {
namespace {

constexpr auto kReconcileInterval = std::chrono::seconds(1);
constexpr auto kResolveInterval = std::chrono::milliseconds(10);
constexpr uint32_t kXdpHeadroom = 256;  // XDP_PACKET_HEADROOM: where the kernel puts a frame

bool same(const std::vector<proto::Problem>& a, const std::vector<proto::Problem>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].code != b[i].code || a[i].nic_id != b[i].nic_id || a[i].message != b[i].message ||
        a[i].gateway_id != b[i].gateway_id) {
      return false;
    }
  }
  return true;
}

}  // namespace

struct AfXdpDataplane::State {
  std::string uplink;
  std::optional<net::Ipv4Address> controller;
  host::InterfaceInfo uplink_info;
  host::Netlink netlink;
  host::NetlinkEvents events;
  std::unique_ptr<Engine> engine;

  mutable std::mutex mutex;  // everything below, and reconcile()
  std::shared_ptr<const policy::HostPolicy> policy;
  std::vector<proto::Problem> problems;
  std::function<void(std::vector<proto::Problem>)> listener;
  uint16_t listened_mtu = 0;           // the uplink MTU when the listener was last called
  uint16_t listened_external_mtu = 0;  // the external interface's, likewise
  uint16_t max_mtu = 0;                // the largest IP packet the engine carries
  // What this agent added to the host, so it removes only that.
  std::optional<std::pair<net::Ipv4Address, uint8_t>> added_pa;
  net::Ipv4Address configured_pa;
  std::vector<policy::ProviderRoute> added_routes;
  std::map<std::string, int> bound_ifindex;  // VM port interface -> ifindex when bound
  // The last tables' inputs, to rebuild only when one changed.
  uint64_t built_generation = ~uint64_t{0};
  std::unordered_map<net::Ipv4Address, net::MacAddress> built_macs;
  std::set<std::string> built_ports;
  std::shared_ptr<const dataplane::Tables> tables;
  std::set<net::Ipv4Address> missing_hops;  // next hops without a MAC, last time
  // Gateways run here: the external addresses this agent added (address ->
  // interface index, prefix length), the external facts the tables were
  // built with, and the NAT counters last reported on.
  std::map<net::Ipv4Address, std::pair<int, uint8_t>> added_external;
  std::set<net::Ipv4Address> external_missing;  // external next hops without a MAC
  host::InterfaceInfo external_info;
  std::unordered_map<net::Ipv4Address, net::MacAddress> built_external_macs;
  std::map<std::string, std::pair<uint64_t, uint64_t>> nat_refusals;  // gateway -> counts
  std::map<std::string, std::chrono::steady_clock::time_point> nat_problem_since;
  std::chrono::steady_clock::time_point fast_until;  // look often until then

  std::condition_variable wake;
  bool stopping = false;
  std::thread thread;

  State(const std::string& name, std::optional<net::Ipv4Address> controller_address,
        EngineOptions options)
      : uplink(name), controller(controller_address) {
    auto info = host::interface_info(name);
    if (!info) {
      throw std::runtime_error("--uplink " + name +
                               ": no such interface (the physical NIC that carries the PA)");
    }
    uplink_info = *info;
    listened_mtu = info->mtu;
    // One engine thread per uplink queue, at most one per CPU this process
    // may run on, unless told (--engine-threads).
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    const uint32_t cpu_count =
        sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? static_cast<uint32_t>(CPU_COUNT(&cpus)) : 1;
    if (options.threads == 0) options.threads = std::min(info->rx_queues, std::max(1u, cpu_count));
    if (options.threads > info->rx_queues) {
      throw std::runtime_error("--engine-threads " + std::to_string(options.threads) + ": " + name +
                               " has " + std::to_string(info->rx_queues) +
                               " receive queues (one thread serves one queue; ethtool -L " + name +
                               " combined N gives it more)");
    }
    if (options.threads < info->rx_queues) {
      spdlog::warn("uplink_queues_unserved uplink={} queues={} threads={} detail={}", name,
                   info->rx_queues, options.threads,
                   log::quote("tenant traffic the NIC spreads to the other queues is not "
                              "forwarded: give the NIC as many queues as engine threads "
                              "(ethtool -L)"));
    }
    engine = std::make_unique<Engine>(name, options);
    // The largest IP packet this engine carries: with multi-buffer sockets
    // a packet may span frames (up to Engine::kMaxMtu), without them what one
    // UMEM frame holds after the kernel's XDP headroom, less Ethernet.
    max_mtu = engine->multi_buffer()
                  ? Engine::kMaxMtu
                  : static_cast<uint16_t>(std::min<uint32_t>(
                        options.frame_size - kXdpHeadroom - packet::kEthernetHeaderLen, 0xffff));
    if (info->mtu > max_mtu) {
      spdlog::warn("uplink_mtu_capped uplink={} interface_mtu={} carried={} detail={}", name,
                   info->mtu, max_mtu,
                   log::quote("the engine carries no more; VMs are told this less 42"));
    }
    spdlog::info("engine_started uplink={} mac={} mtu={} threads={} queues={}", name,
                 uplink_info.mac.to_string(), uplink_info.mtu, options.threads, info->rx_queues);
  }

  // Brings the host in line with the policy; returns what is not realized.
  // Holds `mutex`.
  std::vector<proto::Problem> reconcile() {
    std::vector<proto::Problem> out;
    if (!policy) return out;
    const policy::HostPolicy& p = *policy;
    if (auto info = host::interface_info(uplink)) uplink_info = *info;

    // The PA on the uplink, and the provider routes: provider_plan.h decides.
    const ProviderPlan provider =
        plan_provider(p.provider, {configured_pa, added_pa, added_routes});
    if (provider.remove_pa) {
      netlink.remove_address(uplink_info.ifindex, provider.remove_pa->first,
                             provider.remove_pa->second);
      added_pa.reset();
    }
    if (provider.add_pa) {
      try {
        if (netlink.add_address(uplink_info.ifindex, provider.add_pa->first,
                                provider.add_pa->second)) {
          added_pa = provider.add_pa;
          spdlog::info("pa_added interface={} pa={}/{}", uplink, provider.add_pa->first.to_string(),
                       provider.add_pa->second);
        }
      } catch (const std::exception& e) {
        out.push_back({"policy_apply_failed", e.what(), "", ""});
      }
    }
    if (provider.program_pa) {
      engine->uplink_program().set_pa(*provider.program_pa);
      configured_pa = *provider.program_pa;
    }
    for (const policy::ProviderRoute& route : provider.add_routes) {
      try {
        if (netlink.add_route(route.prefix, route.next_hop, uplink_info.ifindex)) {
          added_routes.push_back(route);
          spdlog::info("provider_route_added prefix={} via={}", route.prefix.to_string(),
                       route.next_hop.to_string());
        }
      } catch (const std::exception& e) {
        out.push_back({"policy_apply_failed", e.what(), "", ""});
      }
    }
    for (const net::Ipv4Address& hop : provider.resolve) {
      if (!netlink.neighbour(uplink_info.ifindex, hop)) netlink.resolve(uplink_info.ifindex, hop);
    }
    for (const policy::ProviderRoute& route : provider.remove_routes) {
      netlink.remove_route(route.prefix, route.next_hop, uplink_info.ifindex);
      added_routes.erase(std::find(added_routes.begin(), added_routes.end(), route));
    }

    // Rewrite PAs of the ports placed here: the uplink program redirects them.
    std::vector<net::Ipv4Address> rewrite_pas;
    for (const policy::RewritePa& r : p.rewrite_pas) rewrite_pas.push_back(r.pa);
    engine->uplink_program().set_rewrite_pas(rewrite_pas);

    const auto external_macs = reconcile_gateways(p, out);

    // VM ports: the facts of their interfaces, then port_plan.h decides.
    HostInterfaces interfaces;
    interfaces.uplink_ifindex = uplink_info.ifindex;
    interfaces.external_ifindex = engine->external().empty() ? 0 : external_info.ifindex;
    if (controller) {
      if (const auto hop = netlink.route_to(*controller))
        interfaces.management_ifindex = hop->ifindex;
    }
    for (const policy::Port& port : p.ports) {
      if (const auto info = host::interface_info(port.interface))
        interfaces.by_name[port.interface] = {info->ifindex, info->loopback};
    }
    const PortPlan plan = plan_ports(p.ports, bound_ifindex, interfaces);
    out.insert(out.end(), plan.problems.begin(), plan.problems.end());
    for (const std::string& name : plan.release) {
      engine->release_port(name);
      bound_ifindex.erase(name);
    }
    for (const auto& [name, ifindex] : plan.bind) {
      try {
        engine->bind_port(name);
        bound_ifindex[name] = ifindex;
      } catch (const std::exception& e) {
        for (const policy::Port& port : p.ports) {
          if (port.interface == name)
            out.push_back({"policy_apply_failed", e.what(), port.nic_id.to_string(), ""});
        }
      }
    }

    // Underlay next hops of every remote PA, as the kernel routes them.
    std::unordered_map<net::Ipv4Address, net::MacAddress> macs;
    std::unordered_map<net::Ipv4Address, std::optional<net::MacAddress>> by_next_hop;
    std::set<net::Ipv4Address> pas;
    for (const policy::LookupRecord& r : p.lookup_records) {
      if (r.pa != p.provider.pa || r.rule == policy::LookupRule::kRewrite) pas.insert(r.pa);
    }
    for (const policy::GatewayPolicy& g : p.gateways) {
      if (g.pa != p.provider.pa) pas.insert(g.pa);  // remote gateways are reached by NVGRE
    }
    std::set<net::Ipv4Address> missing;
    for (const net::Ipv4Address& remote : pas) {
      const auto hop = netlink.route_to(remote);
      if (!hop) continue;
      auto known = by_next_hop.find(hop->address);
      if (known == by_next_hop.end()) {
        auto mac = netlink.neighbour(hop->ifindex, hop->address);
        if (!mac) {
          netlink.resolve(hop->ifindex, hop->address);
          missing.insert(hop->address);
        }
        known = by_next_hop.emplace(hop->address, mac).first;
      }
      if (known->second) macs[remote] = *known->second;
    }
    missing.insert(external_missing.begin(), external_missing.end());
    // A next hop newly missing: look again every 10 ms for a while (ARP takes
    // a round trip), not forever (a neighbour that never answers).
    if (!missing.empty() && missing != missing_hops) {
      fast_until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    }
    missing_hops = std::move(missing);
    // Tables, when anything they are made of changed.
    std::set<std::string> ports;
    for (const auto& [name, ifindex] : bound_ifindex) ports.insert(name);
    if (p.generation != built_generation || macs != built_macs || ports != built_ports ||
        external_macs != built_external_macs || !tables) {
      dataplane::HostFacts facts;
      facts.uplink_mac = uplink_info.mac;
      facts.uplink_mtu = std::min(uplink_info.mtu, max_mtu);
      facts.next_hop_macs = macs;
      facts.external_mac = external_info.mac;
      facts.external_mtu = std::min(external_info.mtu, max_mtu);
      facts.external_next_hop_macs = external_macs;
      tables = dataplane::Tables::build(p, facts);
      for (const std::string& warning : tables->warnings) {
        spdlog::warn("tables_warning detail={}", log::quote(warning));
      }
      engine->publish(tables);
      built_generation = p.generation;
      built_macs = std::move(macs);
      built_ports = std::move(ports);
      built_external_macs = external_macs;
      if (!tables->unresolved_pas.empty()) {
        spdlog::info("underlay_unresolved generation={} pas={}", p.generation,
                     tables->unresolved_pas.size());
      }
    }
    return out;
  }

  // The gateways this host runs (DESIGN.md section 4, "Gateways"): the
  // external interface's socket and XDP program, the external addresses on
  // it (the kernel answers ARP for them and owns the external network as it
  // owns the underlay), and the next hops' MACs from its neighbour table.
  std::unordered_map<net::Ipv4Address, net::MacAddress> reconcile_gateways(
      const policy::HostPolicy& p, std::vector<proto::Problem>& out) {
    std::unordered_map<net::Ipv4Address, net::MacAddress> macs;
    external_missing.clear();
    std::vector<const policy::GatewayPolicy*> local;
    for (const policy::GatewayPolicy& g : p.gateways) {
      if (g.pa == p.provider.pa) local.push_back(&g);
    }
    auto problem_for_all = [&](const std::string& code, const std::string& message) {
      for (const auto* g : local) out.push_back({code, message, "", g->gateway_id.to_string()});
    };
    std::string interface = local.empty() ? std::string() : local.front()->interface;
    std::optional<host::InterfaceInfo> info;
    if (!interface.empty()) info = host::interface_info(interface);
    if (!interface.empty() && !info) {
      problem_for_all("external_interface_missing",
                      fmt::format("the external interface {} is not on this host", interface));
    } else if (!interface.empty() && (interface == uplink || info->loopback)) {
      problem_for_all("interface_reserved",
                      fmt::format("{} is this host's uplink or loopback: it cannot be the "
                                  "external interface",
                                  interface));
      info.reset();
    }
    if (!info) {
      if (!engine->external().empty()) engine->release_external();
      interface.clear();
    } else {
      external_info = *info;
      try {
        engine->bind_external(interface);
      } catch (const std::exception& e) {
        problem_for_all("policy_apply_failed", e.what());
        interface.clear();
      }
    }
    // The addresses: add what is wanted, remove what this agent added and
    // is not wanted any more (or sits on another interface now).
    std::map<net::Ipv4Address, std::pair<int, uint8_t>> wanted;
    if (!interface.empty()) {
      for (const auto* g : local) wanted[g->external_ip] = {external_info.ifindex, g->prefix_len};
    }
    for (auto it = added_external.begin(); it != added_external.end();) {
      const auto w = wanted.find(it->first);
      if (w != wanted.end() && w->second == it->second) {
        ++it;
        continue;
      }
      netlink.remove_address(it->second.first, it->first, it->second.second);
      spdlog::info("external_address_removed address={}", it->first.to_string());
      it = added_external.erase(it);
    }
    for (const auto& [address, where] : wanted) {
      if (added_external.contains(address)) continue;
      try {
        if (netlink.add_address(where.first, address, where.second)) {
          added_external[address] = where;
          // Neighbours may hold the address at another host (a gateway that
          // moved here): tell them.
          const bool announced = host::announce(where.first, external_info.mac, address);
          spdlog::info("external_address_added interface={} address={}/{} announced={}", interface,
                       address.to_string(), where.second, announced);
        }
      } catch (const std::exception& e) {
        for (const auto* g : local) {
          if (g->external_ip == address)
            out.push_back({"policy_apply_failed", e.what(), "", g->gateway_id.to_string()});
        }
      }
    }
    if (interface.empty()) return macs;
    // What the external program redirects: the addresses, and forwarding
    // gateways' prefixes.
    std::vector<net::Ipv4Address> addresses;
    std::vector<net::IpPrefix> prefixes;
    for (const auto* g : local) {
      addresses.push_back(g->external_ip);
      if (g->kind == policy::GatewayKind::kForwarding)
        prefixes.insert(prefixes.end(), g->advertised_prefixes.begin(),
                        g->advertised_prefixes.end());
    }
    if (bpf::XdpProgram* program = engine->external_program()) {
      program->set_rewrite_pas(addresses);
      program->set_prefixes(prefixes);
    }
    std::set<net::Ipv4Address> missing;
    for (const auto* g : local) {
      if (g->next_hop.is_unspecified() || macs.contains(g->next_hop)) continue;
      if (auto mac = netlink.neighbour(external_info.ifindex, g->next_hop)) {
        macs[g->next_hop] = *mac;
      } else {
        netlink.resolve(external_info.ifindex, g->next_hop);
        missing.insert(g->next_hop);
      }
    }
    external_missing = std::move(missing);
    return macs;
  }

  // nat_table_full / nat_ports_exhausted while a gateway's new flows are
  // being refused, and for a minute after the last refusal.
  void nat_problems(std::vector<proto::Problem>& out) {
    if (!policy) return;
    const auto now = std::chrono::steady_clock::now();
    std::map<net::Ipv4Address, std::string> id_of;
    for (const policy::GatewayPolicy& g : policy->gateways) {
      if (g.pa == policy->provider.pa) id_of[g.external_ip] = g.gateway_id.to_string();
    }
    for (const GatewaySnapshot& g : engine->gateways()) {
      const auto id = id_of.find(g.external_ip);
      if (id == id_of.end()) continue;
      auto& [full, exhausted] = nat_refusals[id->second];
      const bool refused = g.table_full > full || g.ports_exhausted > exhausted;
      const char* code = g.table_full > full ? "nat_table_full" : "nat_ports_exhausted";
      full = g.table_full;
      exhausted = g.ports_exhausted;
      if (refused) nat_problem_since[id->second + "|" + code] = now;
    }
    for (auto it = nat_problem_since.begin(); it != nat_problem_since.end();) {
      if (now - it->second > std::chrono::minutes(1)) {
        it = nat_problem_since.erase(it);
        continue;
      }
      const std::string gateway = it->first.substr(0, it->first.find('|'));
      const std::string code = it->first.substr(it->first.find('|') + 1);
      out.push_back({code,
                     code == "nat_table_full"
                         ? "the NAT flow table (or this gateway's share of it) is full: new "
                           "flows are dropped"
                         : "every external port of a protocol is in use: new flows are dropped",
                     "", gateway});
      ++it;
    }
  }

  void monitor() {
    std::unique_lock lock(mutex);
    while (!stopping) {
      // While a next hop is being resolved, look again soon: its packets
      // are being dropped (no_underlay_neighbor) until the tables have it.
      const auto wait = !missing_hops.empty() && std::chrono::steady_clock::now() < fast_until
                            ? std::chrono::milliseconds(kResolveInterval)
                            : std::chrono::milliseconds(kReconcileInterval);
      lock.unlock();
      pollfd fd{events.fd(), POLLIN, 0};
      poll(&fd, 1, static_cast<int>(wait.count()));
      events.drain();
      lock.lock();
      if (stopping) break;
      try {
        auto now = reconcile();
        nat_problems(now);
        // A changed uplink MTU is news too: the agent tells the controller.
        const uint16_t external_mtu = engine->external().empty() ? 0 : external_info.mtu;
        if (!same(now, problems) || uplink_info.mtu != listened_mtu ||
            external_mtu != listened_external_mtu) {
          problems = now;
          listened_mtu = uplink_info.mtu;
          listened_external_mtu = external_mtu;
          if (listener) listener(problems);
        }
      } catch (const std::exception& e) {
        spdlog::warn("reconcile_failed detail={}", log::quote(e.what()));
      }
    }
  }

  ~State() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    if (thread.joinable()) thread.join();
    engine.reset();  // detaches the XDP programs it attached
    for (const auto& [address, where] : added_external) {
      netlink.remove_address(where.first, address, where.second);
    }
    for (const auto& route : added_routes) {
      netlink.remove_route(route.prefix, route.next_hop, uplink_info.ifindex);
    }
    if (added_pa) netlink.remove_address(uplink_info.ifindex, added_pa->first, added_pa->second);
    spdlog::info("engine_stopped uplink={}", uplink);
  }
};

std::string AfXdpDataplane::uplink() const { return state_->uplink; }

uint16_t AfXdpDataplane::uplink_mtu() const {
  const auto info = host::interface_info(state_->uplink);
  return info ? std::min(info->mtu, state_->max_mtu) : 0;
}

uint16_t AfXdpDataplane::external_mtu() const {
  const std::string external = state_->engine->external();
  const auto info = external.empty() ? std::nullopt : host::interface_info(external);
  return info ? std::min(info->mtu, state_->max_mtu) : 0;
}

AfXdpDataplane::AfXdpDataplane(const std::string& uplink,
                               std::optional<net::Ipv4Address> controller, EngineOptions options)
    : state_(std::make_unique<State>(uplink, controller, options)) {
  state_->thread = std::thread([s = state_.get()] { s->monitor(); });
}

AfXdpDataplane::~AfXdpDataplane() = default;

std::vector<proto::Problem> AfXdpDataplane::publish(const policy::HostPolicy& policy) {
  std::lock_guard lock(state_->mutex);
  state_->policy = std::make_shared<const policy::HostPolicy>(policy);
  state_->problems = state_->reconcile();
  return state_->problems;
}

void AfXdpDataplane::on_problems(std::function<void(std::vector<proto::Problem>)> listener) {
  std::lock_guard lock(state_->mutex);
  state_->listener = std::move(listener);
}

nlohmann::json AfXdpDataplane::gateways() const {
  std::shared_ptr<const policy::HostPolicy> policy;
  std::shared_ptr<const dataplane::Tables> tables;
  {
    std::lock_guard lock(state_->mutex);
    policy = state_->policy;
    tables = state_->tables;
  }
  nlohmann::json out = nlohmann::json::array();
  if (!policy) return out;
  const auto counters = state_->engine->gateways();
  for (const policy::GatewayPolicy& g : policy->gateways) {
    nlohmann::json item = {{"gateway_id", g.gateway_id.to_string()},
                           {"rdid", g.rdid.to_string()},
                           {"kind", to_string(g.kind)},
                           {"external_ip", g.external_ip.to_string()},
                           {"local", g.pa == policy->provider.pa},
                           {"pa", g.pa.to_string()}};
    if (g.pa == policy->provider.pa) {
      item["interface"] = g.interface;
      item["next_hop"] = g.next_hop.to_string();
      const dataplane::GatewayEntry* entry =
          tables ? tables->local_gateway(g.external_ip) : nullptr;
      item["next_hop_mac"] = entry != nullptr && entry->next_hop_resolved
                                 ? nlohmann::json(entry->next_hop_mac.to_string())
                                 : nlohmann::json(nullptr);
      for (const GatewaySnapshot& c : counters) {
        if (c.external_ip != g.external_ip) continue;
        item["flows"] = c.flows;
        item["flows_created"] = c.created;
        item["flows_expired"] = c.expired;
        item["nat_table_full"] = c.table_full;
        item["nat_ports_exhausted"] = c.ports_exhausted;
        item["nat_unsolicited"] = c.unsolicited;
      }
    }
    out.push_back(std::move(item));
  }
  return out;
}

nlohmann::json AfXdpDataplane::nat(size_t limit) const {
  const NatSnapshot snap = state_->engine->nat(limit);
  nlohmann::json flows = nlohmann::json::array();
  for (const dataplane::NatFlow& f : snap.flows) {
    const char* protocol = f.protocol == 6 ? "tcp" : f.protocol == 17 ? "udp" : "icmp";
    const char* state = f.tcp == dataplane::TcpState::kOpening       ? "opening"
                        : f.tcp == dataplane::TcpState::kEstablished ? "established"
                        : f.tcp == dataplane::TcpState::kClosing     ? "closing"
                                                                     : "";
    flows.push_back({{"protocol", protocol},
                     {"vsid", f.vsid.value()},
                     {"ca", net::Ipv4Address::from_u32(f.ca).to_string()},
                     {"ca_port", f.ca_port},
                     {"external_ip", net::Ipv4Address::from_u32(f.external_ip).to_string()},
                     {"external_port", f.external_port},
                     {"remote", net::Ipv4Address::from_u32(f.remote_ip).to_string()},
                     {"remote_port", f.remote_port},
                     {"state", state},
                     {"inbound_rule", f.from_rule},
                     {"age_s", (snap.now - f.created) / 1'000'000'000},
                     {"idle_s", (snap.now - f.last_seen) / 1'000'000'000}});
  }
  return {{"flows", std::move(flows)},
          {"total", snap.size},
          {"capacity", snap.capacity},
          {"memory_bytes", snap.memory_bytes}};
}

nlohmann::json AfXdpDataplane::trace(const nlohmann::json& request) const {
  std::shared_ptr<const policy::HostPolicy> policy;
  std::shared_ptr<const dataplane::Tables> tables;
  {
    std::lock_guard lock(state_->mutex);
    policy = state_->policy;
    tables = state_->tables;
  }
  if (!policy || !tables)
    return {{"error", "no policy yet: the agent has never been synchronised"}};
  auto text = [&](const char* name) {
    const auto it = request.find(name);
    return it != request.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  vnet::trace::Input in;
  const std::string from = text("from");
  std::string interface;
  if (const auto id = Uuid::parse(from)) {
    in.nic_id = *id;
  } else {
    interface = from;  // a port's interface name
  }
  const auto to = net::Ipv4Address::parse(text("to"));
  if (!to) return {{"error", "--to: " + to.error()}};
  in.to = *to;
  if (const std::string src = text("src"); !src.empty()) {
    const auto a = net::Ipv4Address::parse(src);
    if (!a) return {{"error", "--src: " + a.error()}};
    in.from = *a;
  }
  const std::string protocol = text("protocol");
  in.protocol = protocol == "tcp"   ? vnet::trace::Protocol::kTcp
                : protocol == "udp" ? vnet::trace::Protocol::kUdp
                                    : vnet::trace::Protocol::kIcmp;
  in.port = static_cast<uint16_t>(request.value("port", 0));
  const vnet::trace::Result r =
      vnet::trace::run_local(in, *tables, policy->host_id.to_string(), interface);
  nlohmann::json hops = nlohmann::json::array();
  for (const auto& h : r.hops) hops.push_back({{"step", h.step}, {"detail", h.detail}});
  return {{"verdict", r.verdict},
          {"reason", r.reason},
          {"to_nic_id", r.to_nic_id.empty() ? nlohmann::json() : nlohmann::json(r.to_nic_id)},
          {"host_id", policy->host_id.to_string()},
          {"hops", std::move(hops)}};
}

nlohmann::json AfXdpDataplane::counters() const {
  nlohmann::json out = nlohmann::json::object();
  for (const SocketSnapshot& s : state_->engine->counters()) {
    nlohmann::json c = {{"rx_packets", s.rx_packets},         {"rx_bytes", s.rx_bytes},
                        {"tx_packets", s.tx_packets},         {"tx_bytes", s.tx_bytes},
                        {"xdp_redirected", s.xdp.redirected}, {"xdp_passed", s.xdp.passed},
                        {"xdp_dropped", s.xdp.dropped}};
    for (size_t r = 0; r < dataplane::kReasonCount; ++r) {
      if (s.reasons[r] != 0)
        c[std::string(to_string(static_cast<dataplane::Reason>(r)))] = s.reasons[r];
    }
    c["thread"] = s.thread;
    if (s.uplink) {
      // Each queue's share, and what each engine thread handed to the others.
      nlohmann::json queues = nlohmann::json::array();
      for (const QueueSnapshot& q : s.queues)
        queues.push_back(
            {{"queue", q.queue}, {"rx_packets", q.rx_packets}, {"tx_packets", q.tx_packets}});
      c["queues"] = std::move(queues);
      nlohmann::json threads = nlohmann::json::array();
      for (const ThreadSnapshot& t : state_->engine->threads())
        threads.push_back({{"thread", t.thread},
                           {"sockets", t.sockets},
                           {"handed_off", t.handed_off},
                           {"handoff_full", t.handoff_full},
                           {"handoff_stale", t.handoff_stale}});
      c["threads"] = std::move(threads);
      // Weighted sharing between the ports (--uplink-mbps): each limited
      // port's share while the uplink is congested.
      const SharingSnapshot sharing = state_->engine->sharing();
      nlohmann::json shares = nlohmann::json::object();
      for (const auto& [interface, mbps] : sharing.shares) shares[interface] = mbps;
      c["sharing"] = {{"capacity_mbps", sharing.capacity_mbps},
                      {"congested", sharing.congested},
                      {"congested_intervals", sharing.congested_intervals},
                      {"shares_mbps", std::move(shares)}};
    }
    out[s.uplink ? "uplink" : s.external ? "external:" + s.interface : s.interface] = std::move(c);
  }
  return out;
}

}  // namespace vnet::agent::xsk
