#include "agent/dataplane/trace.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "agent/dataplane/pipeline.h"
#include "shared/packet/arp.h"
#include "shared/packet/ethernet.h"
#include "shared/packet/gre.h"
#include "shared/packet/icmp.h"
#include "shared/packet/ipv4.h"
#include "shared/packet/nvgre.h"
#include "shared/packet/tcp.h"
#include "shared/packet/udp.h"

namespace vnet::trace {
namespace {

namespace dp = agent::dataplane;
using net::Ipv4Address;

constexpr uint32_t kHeadroom = 256;
constexpr size_t kMaxHops = 8;
// What the trace assumes the hosts' neighbours are: any MAC, resolved.
constexpr net::MacAddress kNeighbour = net::MacAddress::from_u64(0x020000000001ull);
constexpr net::MacAddress kUplinkMac = net::MacAddress::from_u64(0x020000000002ull);
constexpr net::MacAddress kExternalMac = net::MacAddress::from_u64(0x020000000003ull);

// One host as the trace runs it: its tables with every neighbour resolved,
// and a NAT table of its own for the gateways it runs.
struct Host {
  std::shared_ptr<const policy::HostPolicy> policy;
  std::shared_ptr<const dp::Tables> tables;
  std::unique_ptr<dp::NatTable> nat;
};

std::shared_ptr<const dp::Tables> build_tables(const policy::HostPolicy& policy) {
  const policy::HostPolicy* p = &policy;
  dp::HostFacts facts;
  facts.uplink_mac = kUplinkMac;
  facts.uplink_mtu = 1500;
  for (const auto& r : p->lookup_records) facts.next_hop_macs[r.pa] = kNeighbour;
  for (const auto& g : p->gateways) {
    facts.next_hop_macs[g.pa] = kNeighbour;
    facts.external_next_hop_macs[g.next_hop] = kNeighbour;
  }
  facts.external_mac = kExternalMac;
  return dp::Tables::build(*p, facts);
}

// A host of the trace: its tables (built, or from the cache) and a NAT
// table of the trace's own, empty.
Host build(std::shared_ptr<const policy::HostPolicy> p, TableCache* cache) {
  Host h{p, cache != nullptr ? cache->get(p) : build_tables(*p),
         std::make_unique<dp::NatTable>(dp::NatOptions{.capacity = 16})};
  std::vector<dp::NatTable::Gateway> gateways;
  for (const auto& g : h.tables->gateways) {
    if (g.local && g.kind == policy::GatewayKind::kNat) gateways.push_back({g.external_ip, {}});
  }
  h.nat->sync(gateways);
  return h;
}

// The frame a VM sends: Ethernet from its MAC to `dst_mac`, IPv4, and an
// ICMP echo request, a TCP SYN or a UDP datagram with a few bytes.
std::vector<uint8_t> vm_frame(const Input& in, net::MacAddress src_mac, net::MacAddress dst_mac,
                              Ipv4Address src) {
  std::vector<uint8_t> frame(14 + 20 + 20 + 8, 0);
  std::span<uint8_t> out(frame);
  size_t l4 = 0;
  uint8_t protocol = packet::ip_protocol::kIcmp;
  const auto at = out.subspan(14 + 20);
  switch (in.protocol) {
    case Protocol::kTcp:
      protocol = packet::ip_protocol::kTcp;
      l4 = packet::TcpHeader{.src_port = 40000,
                             .dst_port = in.port,
                             .sequence = 1,
                             .acknowledgement = 0,
                             .flags = packet::tcp_flag::kSyn,
                             .window = 65535}
               .write(at, 0, src, in.to);
      break;
    case Protocol::kUdp:
      protocol = packet::ip_protocol::kUdp;
      l4 = packet::UdpHeader{40000, in.port}.write(at, 8, src, in.to) + 8;
      break;
    case Protocol::kIcmp:
      l4 = packet::IcmpHeader{.type = packet::icmp_type::kEchoRequest, .code = 0, .rest = 1}.write(
               at, 8) +
           8;
      break;
  }
  packet::Ipv4Header{.src = src, .dst = in.to, .protocol = protocol, .ttl = 64}.write(
      out.subspan(14), l4);
  packet::EthernetHeader{dst_mac, src_mac, packet::ether_type::kIpv4}.write(out);
  frame.resize(14 + 20 + l4);
  return frame;
}

std::vector<uint8_t> arp_frame(net::MacAddress mac, Ipv4Address sender, Ipv4Address target) {
  std::vector<uint8_t> frame(14 + packet::kArpIpv4Len, 0);
  packet::EthernetHeader{net::MacAddress::broadcast(), mac, packet::ether_type::kArp}.write(frame);
  packet::ArpMessage{.operation = packet::arp_op::kRequest,
                     .sender_mac = mac,
                     .sender_ip = sender,
                     .target_mac = {},
                     .target_ip = target}
      .write(std::span(frame).subspan(14));
  return frame;
}

std::string describe(const dp::Tables& t, const dp::PortEntry& port) {
  return fmt::format("port {} (NIC {}): {} {}/{} VSID {}", port.interface, port.nic_id.to_string(),
                     port.mac.to_string(), port.ca.to_string(),
                     32 - std::countr_zero(uint64_t{port.netmask} | (uint64_t{1} << 32)),
                     port.vsid.value()) +
         (t.gateway_of(port.rdid) != nullptr ? ", its VM network has a gateway" : "") + "; " +
         port.profile_summary;
}

// Where the packet goes after a host: the next host's tables by PA, or
// nothing (run_local: it leaves the host).
struct HostView {
  std::string id;
  const dp::Tables* tables = nullptr;
  dp::NatTable* nat = nullptr;
};
using NextHost = std::function<std::optional<HostView>(Ipv4Address pa)>;

Result drop_with(Result result, std::string reason, Hop hop) {
  result.hops.push_back(std::move(hop));
  result.delivered = false;
  result.verdict = "dropped";
  result.reason = std::move(reason);
  return result;
}

Result finish(Result result, const char* verdict, std::string reason, std::string to_nic = "") {
  result.verdict = verdict;
  result.delivered = std::string_view(verdict) == "delivered";
  result.reason = std::move(reason);
  result.to_nic_id = std::move(to_nic);
  return result;
}

// From the NIC's port on `first` on: its ARP, its frame, then the pipeline on
// each host the packet reaches.
Result trace_from(const Input& in, HostView first, uint16_t index, const NextHost& next) {
  Result result;
  HostView h = first;
  const dp::Tables* t = h.tables;
  std::string host_id = h.id;
  const dp::PortEntry& port = t->ports[index];
  const Ipv4Address src = in.from.value_or(port.ca);
  result.hops.push_back({host_id, "vm port", describe(*t, port)});

  // What the VM puts in the frame: the record's MAC on its own subnet (it
  // asks ARP first), the virtual router's elsewhere.
  net::MacAddress dst_mac = dp::kRouterMac;
  if ((in.to.to_u32() & port.netmask) == port.network) {
    std::vector<uint8_t> arp = arp_frame(port.mac, src, in.to);
    std::vector<uint8_t> buffer(kHeadroom + 2048, 0);
    std::copy(arp.begin(), arp.end(), buffer.begin() + kHeadroom);
    dp::Frame frame{buffer, kHeadroom, static_cast<uint32_t>(arp.size())};
    dp::Context ctx{h.nat, 0};
    const dp::Verdict v = dp::from_port(*t, ctx, index, frame);
    if (v.dropped()) {
      return drop_with(
          std::move(result), std::string(dp::to_string(v.reason)),
          {host_id, "arp",
           fmt::format("the VM asks who has {}: {}", in.to.to_string(), dp::to_string(v.reason))});
    }
    dst_mac = net::MacAddress::from_bytes(frame.bytes().data() + 22);  // the reply's sender
    result.hops.push_back({host_id, "arp",
                           fmt::format("{} is at {} (answered from the lookup records)",
                                       in.to.to_string(), dst_mac.to_string())});
  }

  std::vector<uint8_t> bytes = vm_frame(in, port.mac, dst_mac, src);
  std::vector<uint8_t> buffer(kHeadroom + 4096, 0);
  std::copy(bytes.begin(), bytes.end(), buffer.begin() + kHeadroom);
  dp::Frame frame{buffer, kHeadroom, static_cast<uint32_t>(bytes.size())};
  result.hops.push_back(
      {host_id, "frame",
       fmt::format("{} {} -> {}{}, Ethernet {} -> {}",
                   in.protocol == Protocol::kTcp   ? "TCP SYN"
                   : in.protocol == Protocol::kUdp ? "UDP"
                                                   : "ICMP echo",
                   src.to_string(), in.to.to_string(),
                   in.protocol == Protocol::kIcmp ? "" : fmt::format(":{}", in.port),
                   port.mac.to_string(), dst_mac.to_string())});

  enum class Entry { kPort, kUplink };
  Entry entry = Entry::kPort;
  for (size_t hop = 0; hop < kMaxHops; ++hop) {
    dp::Context ctx{h.nat, 0};
    const dp::Verdict v = entry == Entry::kPort ? dp::from_port(*t, ctx, index, frame)
                                                : dp::from_uplink(*t, ctx, frame);
    const std::string reason(dp::to_string(v.reason));
    const auto out = frame.bytes();
    switch (v.exit()) {
      case dp::Exit::kDropped:
        return drop_with(std::move(result), reason,
                         {host_id, "pipeline", fmt::format("dropped: {}", reason)});
      case dp::Exit::kToPort: {
        const dp::PortEntry& to = t->ports[v.out];
        if (entry == Entry::kPort && v.out == index) {
          // Answered by the virtual router itself (ping of the gateway, MTU).
          result.hops.push_back(
              {host_id, "pipeline", fmt::format("{}: answered to port {}", reason, to.interface)});
          return finish(std::move(result),
                        v.reason == dp::Reason::kIcmpEchoReply ? "delivered" : "dropped", reason);
        }
        result.hops.push_back(
            {host_id, "pipeline",
             fmt::format("{}: to port {} (NIC {}, {} VSID {})", reason, to.interface,
                         to.nic_id.to_string(), to.ca.to_string(), to.vsid.value())});
        return finish(std::move(result), "delivered", reason, to.nic_id.to_string());
      }
      case dp::Exit::kToExternal: {
        const auto ip = packet::Ipv4View::parse(out.subspan(14));
        std::string what = fmt::format("{}: out of the external interface as {} -> {}", reason,
                                       ip->src().to_string(), ip->dst().to_string());
        if (ip->protocol() == packet::ip_protocol::kTcp ||
            ip->protocol() == packet::ip_protocol::kUdp) {
          what += fmt::format(" (source port {})", packet::load_be16(ip->payload().data()));
        }
        result.hops.push_back({host_id, "external", what});
        // It left the VM network, as the policy wants.
        return finish(std::move(result), "delivered", reason);
      }
      case dp::Exit::kToUplink: {
        const auto ip = packet::Ipv4View::parse(out.subspan(14));
        if (!ip) {
          return drop_with(std::move(result), "truncated",
                           {host_id, "pipeline", "an unreadable frame"});
        }
        const Ipv4Address to_pa = ip->dst();
        std::string what;
        if (ip->protocol() == packet::ip_protocol::kGre) {
          const auto gre = packet::BasicGreView<const uint8_t>::parse(ip->payload());
          what = fmt::format("{}: NVGRE to PA {} with key VSID {}", reason, to_pa.to_string(),
                             gre && gre->key() ? net::vsid_of_key(*gre->key()).value() : 0);
        } else {
          what = fmt::format("{}: IP rewrite, {} -> {}", reason, ip->src().to_string(),
                             to_pa.to_string());
        }
        result.hops.push_back({host_id, "pipeline", what});
        const std::optional<HostView> following = next ? next(to_pa) : std::nullopt;
        if (!following) {
          if (!next) {  // run_local: the rest is the next host's
            result.hops.push_back(
                {host_id, "uplink",
                 fmt::format("leaves this host for PA {} (the rest is that host's)",
                             to_pa.to_string())});
            return finish(std::move(result), "forwarded", reason);
          }
          // No host of the controller: an endpoint of a static record (an
          // appliance or physical server), whose side is not vnet's to trace.
          result.hops.push_back(
              {"", "underlay",
               fmt::format("leaves for PA {}, which is no host of the controller (a static "
                           "record's endpoint)",
                           to_pa.to_string())});
          return finish(std::move(result), "forwarded", reason);
        }
        h = *following;
        t = h.tables;
        host_id = h.id;
        // Where that host's uplink receives it: a fresh buffer, as AF_XDP has.
        std::vector<uint8_t> moved(out.begin(), out.end());
        std::fill(buffer.begin(), buffer.end(), 0);
        std::copy(moved.begin(), moved.end(), buffer.begin() + kHeadroom);
        frame = dp::Frame{buffer, kHeadroom, static_cast<uint32_t>(moved.size())};
        result.hops.push_back(
            {host_id, "uplink", fmt::format("received at PA {}", to_pa.to_string())});
        entry = Entry::kUplink;
        break;
      }
    }
  }
  return drop_with(std::move(result), "too_many_hops",
                   {host_id, "pipeline", "more than 8 hops: a loop in the policy?"});
}

}  // namespace

struct TableCache::Impl {
  size_t capacity;
  mutable std::mutex mutex;
  // Most recently used first.
  std::list<std::pair<std::shared_ptr<const policy::HostPolicy>, std::shared_ptr<const dp::Tables>>>
      entries;
  size_t builds = 0;
};

TableCache::TableCache(size_t capacity) : impl_(std::make_unique<Impl>()) {
  impl_->capacity = std::max<size_t>(1, capacity);
}
TableCache::~TableCache() = default;

std::shared_ptr<const dp::Tables> TableCache::get(
    const std::shared_ptr<const policy::HostPolicy>& policy) {
  {
    std::lock_guard lock(impl_->mutex);
    for (auto it = impl_->entries.begin(); it != impl_->entries.end(); ++it) {
      if (it->first.get() == policy.get()) {
        impl_->entries.splice(impl_->entries.begin(), impl_->entries, it);
        return it->second;
      }
    }
  }
  auto tables = build_tables(*policy);  // outside the lock: it can take a second
  std::lock_guard lock(impl_->mutex);
  ++impl_->builds;
  impl_->entries.emplace_front(policy, tables);
  while (impl_->entries.size() > impl_->capacity) impl_->entries.pop_back();
  return tables;
}

size_t TableCache::builds() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->builds;
}

Result run(const Input& in, const Policies& policies, TableCache* cache) {
  // The hosts by the PAs they answer for (their own, rewrite PAs).
  std::unordered_map<Ipv4Address, size_t> by_pa;
  for (size_t i = 0; i < policies.size(); ++i) {
    by_pa[policies[i]->provider.pa] = i;
    for (const auto& r : policies[i]->rewrite_pas) by_pa[r.pa] = i;
  }
  std::unordered_map<size_t, Host> hosts;
  auto host = [&](size_t i) -> HostView {
    auto it = hosts.find(i);
    if (it == hosts.end()) it = hosts.emplace(i, build(policies[i], cache)).first;
    return {it->second.policy->host_id.to_string(), it->second.tables.get(), it->second.nat.get()};
  };
  // The NIC's host: the one with a port for it.
  for (size_t i = 0; i < policies.size(); ++i) {
    for (const auto& port : policies[i]->ports) {
      if (port.nic_id != in.nic_id) continue;
      const HostView first = host(i);
      for (size_t p = 0; p < first.tables->ports.size(); ++p) {
        if (first.tables->ports[p].nic_id == in.nic_id) {
          return trace_from(in, first, static_cast<uint16_t>(p),
                            [&](Ipv4Address pa) -> std::optional<HostView> {
                              const auto found = by_pa.find(pa);
                              if (found == by_pa.end()) return std::nullopt;
                              return host(found->second);
                            });
        }
      }
      return drop_with(Result{}, "port_unbound",
                       {first.id, "vm port", "the host's tables leave the port out"});
    }
  }
  return drop_with(Result{}, "not_placed",
                   {"", "vm port",
                    "the NIC is on no host's ports (not placed, no interface, or its host's "
                    "policy is not compiled)"});
}

Result run_local(const Input& in, const dp::Tables& tables, const std::string& host_id,
                 const std::string& interface) {
  uint16_t index = dp::kNoPort;
  for (size_t p = 0; p < tables.ports.size(); ++p) {
    if ((!in.nic_id.is_nil() && tables.ports[p].nic_id == in.nic_id) ||
        (!interface.empty() && tables.ports[p].interface == interface))
      index = static_cast<uint16_t>(p);
  }
  if (index == dp::kNoPort) {
    return drop_with(Result{}, "port_unbound",
                     {host_id, "vm port", "no port of this host's tables has that NIC"});
  }
  dp::NatTable nat(dp::NatOptions{.capacity = 16});
  std::vector<dp::NatTable::Gateway> gateways;
  for (const auto& g : tables.gateways) {
    if (g.local && g.kind == policy::GatewayKind::kNat) gateways.push_back({g.external_ip, {}});
  }
  nat.sync(gateways);
  return trace_from(in, HostView{host_id, &tables, &nat}, index, NextHost());
}

}  // namespace vnet::trace
