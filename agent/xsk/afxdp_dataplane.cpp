#include "agent/xsk/afxdp_dataplane.h"

#include <fmt/format.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <stdexcept>

#include "agent/host/netlink.h"
#include "agent/tables/tables.h"
#include "agent/xsk/engine.h"
#include "agent/xsk/port_plan.h"
#include "agent/xsk/provider_plan.h"
#include "shared/log/log.h"

namespace vnet::agent::xsk {
namespace {

constexpr auto kReconcileInterval = std::chrono::seconds(1);
constexpr auto kResolveInterval = std::chrono::milliseconds(10);

bool same(const std::vector<proto::Problem>& a, const std::vector<proto::Problem>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].code != b[i].code || a[i].nic_id != b[i].nic_id || a[i].message != b[i].message) {
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
  std::set<net::Ipv4Address> missing_hops;           // next hops without a MAC, last time
  std::chrono::steady_clock::time_point fast_until;  // look often until then

  std::condition_variable wake;
  bool stopping = false;
  std::thread thread;

  State(const std::string& name, std::optional<net::Ipv4Address> controller_address)
      : uplink(name), controller(controller_address) {
    auto info = host::interface_info(name);
    if (!info) {
      throw std::runtime_error("--uplink " + name +
                               ": no such interface (the physical NIC that carries the PA)");
    }
    uplink_info = *info;
    engine = std::make_unique<Engine>(name);
    spdlog::info("engine_started uplink={} mac={} mtu={}", name, uplink_info.mac.to_string(),
                 uplink_info.mtu);
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

    // VM ports: the facts of their interfaces, then port_plan.h decides.
    HostInterfaces interfaces;
    interfaces.uplink_ifindex = uplink_info.ifindex;
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
    // A next hop newly missing: look again every 10 ms for a while (ARP takes
    // a round trip), not forever (a neighbour that never answers).
    if (!missing.empty() && missing != missing_hops) {
      fast_until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    }
    missing_hops = std::move(missing);
    // Tables, when anything they are made of changed.
    std::set<std::string> ports;
    for (const auto& [name, ifindex] : bound_ifindex) ports.insert(name);
    if (p.generation != built_generation || macs != built_macs || ports != built_ports || !tables) {
      dataplane::HostFacts facts;
      facts.uplink_mac = uplink_info.mac;
      facts.uplink_mtu = uplink_info.mtu;
      facts.next_hop_macs = macs;
      tables = dataplane::Tables::build(p, facts);
      for (const std::string& warning : tables->warnings) {
        spdlog::warn("tables_warning detail={}", log::quote(warning));
      }
      engine->publish(tables);
      built_generation = p.generation;
      built_macs = std::move(macs);
      built_ports = std::move(ports);
      if (!tables->unresolved_pas.empty()) {
        spdlog::info("underlay_unresolved generation={} pas={}", p.generation,
                     tables->unresolved_pas.size());
      }
    }
    return out;
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
        if (!same(now, problems)) {
          problems = now;
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
    for (const auto& route : added_routes) {
      netlink.remove_route(route.prefix, route.next_hop, uplink_info.ifindex);
    }
    if (added_pa) netlink.remove_address(uplink_info.ifindex, added_pa->first, added_pa->second);
    spdlog::info("engine_stopped uplink={}", uplink);
  }
};

std::string AfXdpDataplane::uplink() const { return state_->uplink; }

AfXdpDataplane::AfXdpDataplane(const std::string& uplink,
                               std::optional<net::Ipv4Address> controller)
    : state_(std::make_unique<State>(uplink, controller)) {
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
    out[s.uplink ? "uplink" : s.interface] = std::move(c);
  }
  return out;
}

}  // namespace vnet::agent::xsk
