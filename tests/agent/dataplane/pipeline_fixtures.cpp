#include "tests/agent/dataplane/pipeline_fixtures.h"

#include "shared/packet/icmp.h"
#include "shared/testing/fixtures.h"

namespace vnet::testing::dataplane {
namespace {

using agent::dataplane::Reason;
using namespace vnet::testing::seed;

constexpr uint32_t kBlue2Vsid = 5002;
constexpr uint32_t kGreenVsid = 7001;
// Other tenants' VSIDs that equal Blue's 5001 in their low 16 and low 8
// bits: a key that dropped high bits would confuse them with Blue.
constexpr uint32_t kCyanVsid = kBlueVsid + (1u << 16);  // 70537
constexpr uint32_t kTealVsid = kBlueVsid + (1u << 8);   // 5257
const char* const kCyan5 = "vnet-cyan5";
const char* const kTeal5 = "vnet-teal5";
const char* const kBlue5 = "vnet-blue5";
const char* const kRed5 = "vnet-red5";
const char* const kBlue15 = "vnet-blue15";
const char* const kGreen5 = "vnet-green5";
const char* const kAppliance = "vnet-fw9";  // Blue 10.0.0.33, a port profile for appliances
const std::string kUp(kUplink);
const std::string kDropped;

net::MacAddress blue5() { return mac(kBlue5Mac); }
net::MacAddress blue7() { return mac(kBlue7Mac); }
net::MacAddress red5() { return mac(kRed5Mac); }
net::MacAddress red7() { return mac(kRed7Mac); }
net::MacAddress blue15() { return mac("00:1D:D8:B7:1C:25"); }
net::MacAddress blue17() { return mac("00:1D:D8:B7:1C:27"); }
net::MacAddress green5() { return mac("00:1D:D8:B7:1C:35"); }
net::MacAddress green7() { return mac("00:1D:D8:B7:1C:37"); }
net::MacAddress cyan5() { return mac("00:1D:D8:B7:1C:45"); }
net::MacAddress cyan7() { return mac("00:1D:D8:B7:1C:47"); }
net::MacAddress teal5() { return mac("00:1D:D8:B7:1C:55"); }
net::MacAddress fw9() { return mac("00:1D:D8:B7:1C:09"); }
net::MacAddress nested() { return mac("02:00:00:00:99:01"); }  // a VM inside the appliance
net::Ipv4Address host3() { return ipv4("192.168.3.30"); }
net::MacAddress router() { return mac(kRouterMac); }
net::Ipv4Address host1() { return ipv4(kHost1Pa); }
net::Ipv4Address host2() { return ipv4(kHost2Pa); }

packet::NvgreTunnel tunnel_to_host2(uint32_t v) {
  return {.src_mac = uplink_mac(),
          .dst_mac = underlay_router_mac(),
          .src_pa = host1(),
          .dst_pa = host2(),
          .vsid = vsid(v),
          .flow_id = 0,
          .ttl = 64};
}
packet::NvgreTunnel tunnel_from_host2(uint32_t v) {
  return {.src_mac = underlay_router_mac(),
          .dst_mac = uplink_mac(),
          .src_pa = host2(),
          .dst_pa = host1(),
          .vsid = vsid(v),
          .flow_id = 0,
          .ttl = 64};
}

Bytes udp_frame(net::MacAddress src_mac, net::MacAddress dst_mac, std::string_view src,
                std::string_view dst, Ipv4Fields fields = {}) {
  return PacketBuilder()
      .eth(src_mac, dst_mac)
      .ipv4(ipv4(src), ipv4(dst), fields)
      .udp(40000, 7)
      .payload("hello")
      .build();
}

Bytes arp_request(net::MacAddress src_mac, std::string_view sender, std::string_view target,
                  uint16_t operation = packet::arp_op::kRequest) {
  return PacketBuilder()
      .eth(src_mac, net::MacAddress::broadcast())
      .arp({.operation = operation,
            .sender_mac = src_mac,
            .sender_ip = ipv4(sender),
            .target_mac = {},
            .target_ip = ipv4(target)})
      .build();
}

Bytes arp_reply(net::MacAddress answer, std::string_view answer_ip, net::MacAddress asker,
                std::string_view asker_ip) {
  return PacketBuilder()
      .eth(answer, asker)
      .arp({.operation = packet::arp_op::kReply,
            .sender_mac = answer,
            .sender_ip = ipv4(answer_ip),
            .target_mac = asker,
            .target_ip = ipv4(asker_ip)})
      .build();
}

Bytes nvgre_in(uint32_t v, const Bytes& inner, packet::NvgreTunnel tunnel = {}) {
  if (tunnel.dst_pa.is_unspecified()) tunnel = tunnel_from_host2(v);
  return PacketBuilder().nvgre(tunnel).payload(inner).build();
}

Bytes big_frame(net::MacAddress src_mac, bool dont_fragment) {
  // 1459 bytes of IPv4: one more than uplink MTU 1500 - 42 allows.
  return PacketBuilder()
      .eth(src_mac, blue7())
      .ipv4(ipv4(kCa5), ipv4(kCa7), {.dont_fragment = dont_fragment})
      .udp(40000, 7)
      .payload(Bytes(1459 - 28, 0xab))
      .build();
}

}  // namespace

net::MacAddress uplink_mac() { return mac(kHost1UplinkMac); }
net::MacAddress underlay_router_mac() { return mac(kUnderlayRouterMac); }

policy::HostPolicy pipeline_policy() {
  policy::HostPolicy p = seed_host1_policy();
  const Uuid blue_rdid = p.ports[0].rdid;
  const Uuid green_rdid = uuid(0x91);
  p.ports.push_back({.nic_id = uuid(0x125),
                     .interface = kBlue15,
                     .mac = blue15(),
                     .ca = ipv4("10.0.1.5"),
                     .prefix_len = 24,
                     .gateway = ipv4("10.0.1.1"),
                     .dns = {},
                     .vsid = vsid(kBlue2Vsid),
                     .rdid = blue_rdid,
                     .mtu = 1458});
  p.ports.push_back({.nic_id = uuid(0x135),
                     .interface = kGreen5,
                     .mac = green5(),
                     .ca = ipv4("10.1.0.5"),
                     .prefix_len = 24,
                     .gateway = ipv4("10.1.0.1"),
                     .dns = {},
                     .vsid = vsid(kGreenVsid),
                     .rdid = green_rdid,
                     .mtu = 1458});
  p.lookup_records.push_back(
      {vsid(kBlue2Vsid), ipv4("10.0.1.5"), blue15(), host1(), policy::LookupRule::kEncap});
  p.lookup_records.push_back(
      {vsid(kBlue2Vsid), ipv4("10.0.1.7"), blue17(), host2(), policy::LookupRule::kEncap});
  p.lookup_records.push_back({vsid(kGreenVsid), ipv4("10.1.0.5"), green5(), ipv4("192.168.1.50"),
                              policy::LookupRule::kRewrite});
  p.lookup_records.push_back({vsid(kGreenVsid), ipv4("10.1.0.7"), green7(), ipv4("192.168.2.70"),
                              policy::LookupRule::kRewrite});
  p.customer_routes.push_back(
      {blue_rdid, vsid(kBlue2Vsid), prefix("10.0.1.0/24"), ipv4("0.0.0.0"), 0});
  p.customer_routes.push_back(
      {green_rdid, vsid(kGreenVsid), prefix("10.1.0.0/24"), ipv4("0.0.0.0"), 0});
  p.rewrite_pas.push_back({uuid(0x135), ipv4("10.1.0.5"), ipv4("192.168.1.50")});
  // Cyan and Teal: two more tenants with Blue's addresses, in VSIDs equal
  // to Blue's modulo 2^16 and 2^8. Cyan's peer lives on a third host.
  const struct {
    const char* interface;
    uint32_t vsid;
    net::MacAddress mac;
    Uuid rdid;
    Uuid nic;
  } others[] = {{kCyan5, kCyanVsid, cyan5(), uuid(0x92), uuid(0x145)},
                {kTeal5, kTealVsid, teal5(), uuid(0x93), uuid(0x155)}};
  for (const auto& o : others) {
    p.ports.push_back({.nic_id = o.nic,
                       .interface = o.interface,
                       .mac = o.mac,
                       .ca = ipv4(kCa5),
                       .prefix_len = 24,
                       .gateway = ipv4("10.0.0.1"),
                       .dns = {},
                       .vsid = vsid(o.vsid),
                       .rdid = o.rdid,
                       .mtu = 1458});
    p.lookup_records.push_back(
        {vsid(o.vsid), ipv4(kCa5), o.mac, host1(), policy::LookupRule::kEncap});
    p.customer_routes.push_back({o.rdid, vsid(o.vsid), prefix("10.0.0.0/24"), ipv4("0.0.0.0"), 0});
  }
  p.lookup_records.push_back(
      {vsid(kCyanVsid), ipv4(kCa7), cyan7(), host3(), policy::LookupRule::kEncap});
  // A Blue appliance (a router or firewall VM) whose profile lets it send
  // from 10.99.0.0/16 and from any MAC, with both guards off.
  p.ports.push_back({.nic_id = uuid(0x165),
                     .interface = kAppliance,
                     .mac = fw9(),
                     .ca = ipv4("10.0.0.33"),
                     .prefix_len = 24,
                     .gateway = ipv4("10.0.0.1"),
                     .dns = {},
                     .vsid = vsid(kBlueVsid),
                     .rdid = blue_rdid,
                     .mtu = 1458,
                     .profile = {.name = "appliance",
                                 .allow_mac_spoofing = true,
                                 .allowed_addresses = {prefix("10.99.0.0/16")},
                                 .dhcp_guard = false,
                                 .router_guard = false}});
  p.lookup_records.push_back(
      {vsid(kBlueVsid), ipv4("10.0.0.33"), fw9(), host1(), policy::LookupRule::kEncap});
  return p;
}

std::vector<Fixture> pipeline_fixtures() {
  const Bytes blue_to_7 = udp_frame(blue5(), blue7(), kCa5, kCa7);
  const Bytes red_to_7 = udp_frame(red5(), red7(), kCa5, kCa7);
  const Bytes blue7_to_5 = udp_frame(blue7(), blue5(), kCa7, kCa5);
  const Bytes red7_to_5 = udp_frame(red7(), red5(), kCa7, kCa5);
  const Bytes ping_gateway = PacketBuilder()
                                 .eth(blue5(), router())
                                 .ipv4(ipv4(kCa5), ipv4("10.0.0.1"))
                                 .icmp_echo_request(7, 1)
                                 .payload("ping")
                                 .build();
  Bytes bad_checksum = blue_to_7;
  bad_checksum[14 + 10] ^= 0xff;

  std::vector<Fixture> f;
  // Same VSID, across hosts: NVGRE with key VSID << 8, FlowID 0.
  f.push_back({"Blue 10.0.0.5 to Blue 10.0.0.7 on host 2: NVGRE in VSID 5001", kBlue5, blue_to_7,
               Reason::kEncapsulated, kUp,
               PacketBuilder().nvgre(tunnel_to_host2(kBlueVsid)).payload(blue_to_7).build()});
  f.push_back({"Red 10.0.0.5 to Red 10.0.0.7, the same addresses: VSID 6001", kRed5, red_to_7,
               Reason::kEncapsulated, kUp,
               PacketBuilder().nvgre(tunnel_to_host2(kRedVsid)).payload(red_to_7).build()});
  f.push_back({"Blue to its peer 10.0.0.7 with Cyan's MAC as destination: leaves with Blue 7's MAC",
               kBlue5, udp_frame(blue5(), cyan5(), kCa5, kCa7), Reason::kEncapsulated, kUp,
               PacketBuilder().nvgre(tunnel_to_host2(kBlueVsid)).payload(blue_to_7).build()});
  f.push_back({"Blue to 10.0.0.5's subnet peer with its own port's MAC: the record's MAC", kBlue5,
               udp_frame(blue5(), blue5(), kCa5, kCa7), Reason::kEncapsulated, kUp,
               PacketBuilder().nvgre(tunnel_to_host2(kBlueVsid)).payload(blue_to_7).build()});
  // ARP is answered from the lookup records of the port's VSID, never flooded.
  f.push_back({"Blue asks for 10.0.0.7: Blue 7's MAC", kBlue5, arp_request(blue5(), kCa5, kCa7),
               Reason::kArpReply, kBlue5, arp_reply(blue7(), kCa7, blue5(), kCa5)});
  f.push_back({"Red asks for the same 10.0.0.7: Red 7's MAC", kRed5,
               arp_request(red5(), kCa5, kCa7), Reason::kArpReply, kRed5,
               arp_reply(red7(), kCa7, red5(), kCa5)});
  f.push_back({"ARP for the gateway 10.0.0.1: the virtual router's MAC", kBlue5,
               arp_request(blue5(), kCa5, "10.0.0.1"), Reason::kArpReply, kBlue5,
               arp_reply(router(), "10.0.0.1", blue5(), kCa5)});
  f.push_back({"ARP probe (sender 0.0.0.0) for a taken address is answered", kBlue5,
               arp_request(blue5(), "0.0.0.0", kCa7), Reason::kArpReply, kBlue5,
               arp_reply(blue7(), kCa7, blue5(), "0.0.0.0")});
  f.push_back({"ARP for an address nobody has: no answer",
               kBlue5,
               arp_request(blue5(), kCa5, "10.0.0.99"),
               Reason::kArpUnknown,
               kDropped,
               {}});
  f.push_back({"ARP for the VM's own address: no answer",
               kBlue5,
               arp_request(blue5(), kCa5, kCa5),
               Reason::kArpOwnAddress,
               kDropped,
               {}});
  f.push_back({"ARP reply from a VM",
               kBlue5,
               arp_request(blue5(), kCa5, kCa7, packet::arp_op::kReply),
               Reason::kArpNotRequest,
               kDropped,
               {}});
  f.push_back({"ARP with a sender address that is not the port's",
               kBlue5,
               arp_request(blue5(), "10.0.0.6", kCa7),
               Reason::kSpoofedIp,
               kDropped,
               {}});
  // Anti-spoofing.
  f.push_back({"Source MAC of another port",
               kBlue5,
               udp_frame(red5(), blue7(), kCa5, kCa7),
               Reason::kSpoofedMac,
               kDropped,
               {}});
  f.push_back({"Source IP not the port's",
               kBlue5,
               udp_frame(blue5(), blue7(), "10.0.0.6", kCa7),
               Reason::kSpoofedIp,
               kDropped,
               {}});
  // Port profiles (issue 19): what a profile allows, and the guards of a
  // port without one.
  const Bytes dhcp_offer = PacketBuilder()
                               .eth(blue5(), blue7())
                               .ipv4(ipv4(kCa5), ipv4(kCa7))
                               .udp(packet::kDhcpServerPort, packet::kDhcpClientPort)
                               .payload("offer")
                               .build();
  auto icmp_from = [](net::MacAddress from, std::string_view src, uint8_t type) {
    return PacketBuilder()
        .eth(from, blue7())
        .ipv4(ipv4(src), ipv4(kCa7))
        .icmp(type, 0, 0x0a000001)
        .payload("router")
        .build();
  };
  auto encapsulated = [&](const Bytes& inner) {
    return PacketBuilder().nvgre(tunnel_to_host2(kBlueVsid)).payload(inner).build();
  };
  f.push_back({"No profile: a source in another port's allowed prefix is still spoofed",
               kBlue5,
               udp_frame(blue5(), blue7(), "10.99.1.1", kCa7),
               Reason::kSpoofedIp,
               kDropped,
               {}});
  f.push_back({"Appliance: a source in its allowed_addresses goes out", kAppliance,
               udp_frame(fw9(), blue7(), "10.99.1.1", kCa7), Reason::kEncapsulated, kUp,
               encapsulated(udp_frame(fw9(), blue7(), "10.99.1.1", kCa7))});
  f.push_back({"Appliance: a source outside its allowed_addresses is spoofed",
               kAppliance,
               udp_frame(fw9(), blue7(), "10.98.0.1", kCa7),
               Reason::kSpoofedIp,
               kDropped,
               {}});
  f.push_back({"Appliance: its own CA still goes out", kAppliance,
               udp_frame(fw9(), blue7(), "10.0.0.33", kCa7), Reason::kEncapsulated, kUp,
               encapsulated(udp_frame(fw9(), blue7(), "10.0.0.33", kCa7))});
  f.push_back({"Appliance with MAC spoofing: another source MAC goes out", kAppliance,
               udp_frame(nested(), blue7(), "10.99.1.1", kCa7), Reason::kEncapsulated, kUp,
               encapsulated(udp_frame(nested(), blue7(), "10.99.1.1", kCa7))});
  f.push_back({"Appliance with MAC spoofing: a multicast source MAC never",
               kAppliance,
               udp_frame(mac("01:00:5E:00:00:01"), blue7(), "10.99.1.1", kCa7),
               Reason::kSpoofedMac,
               kDropped,
               {}});
  f.push_back({"Appliance: ARP from an allowed address is answered", kAppliance,
               arp_request(fw9(), "10.99.1.1", kCa7), Reason::kArpReply, kAppliance,
               arp_reply(blue7(), kCa7, fw9(), "10.99.1.1")});
  f.push_back({"Appliance with MAC spoofing: an ARP sender MAC that is multicast never",
               kAppliance,
               PacketBuilder()
                   .eth(fw9(), net::MacAddress::broadcast())
                   .arp({.operation = packet::arp_op::kRequest,
                         .sender_mac = mac("01:00:5E:00:00:01"),
                         .sender_ip = ipv4("10.99.1.1"),
                         .target_mac = {},
                         .target_ip = ipv4(kCa7)})
                   .build(),
               Reason::kSpoofedMac,
               kDropped,
               {}});
  f.push_back({"DHCP guard (no profile): a DHCP server message from a VM",
               kBlue5,
               dhcp_offer,
               Reason::kDhcpGuard,
               kDropped,
               {}});
  {
    Bytes from_appliance = dhcp_offer;
    from_appliance = PacketBuilder()
                         .eth(fw9(), blue7())
                         .ipv4(ipv4("10.0.0.33"), ipv4(kCa7))
                         .udp(packet::kDhcpServerPort, packet::kDhcpClientPort)
                         .payload("offer")
                         .build();
    f.push_back({"DHCP guard off (appliance): its DHCP server message goes out", kAppliance,
                 from_appliance, Reason::kEncapsulated, kUp, encapsulated(from_appliance)});
  }
  f.push_back({"Router guard (no profile): an ICMP redirect from a VM",
               kBlue5,
               icmp_from(blue5(), kCa5, 5),
               Reason::kRouterGuard,
               kDropped,
               {}});
  f.push_back({"Router guard (no profile): an ICMP router advertisement from a VM",
               kBlue5,
               icmp_from(blue5(), kCa5, 9),
               Reason::kRouterGuard,
               kDropped,
               {}});
  f.push_back({"Router guard off (appliance): its ICMP redirect goes out", kAppliance,
               icmp_from(fw9(), "10.0.0.33", 5), Reason::kEncapsulated, kUp,
               encapsulated(icmp_from(fw9(), "10.0.0.33", 5))});
  // Routing inside one routing domain.
  f.push_back({"Blue 5001 to Blue 5002 on this host: routed, TTL - 1, router MAC", kBlue5,
               udp_frame(blue5(), router(), kCa5, "10.0.1.5"), Reason::kRoutedLocal, kBlue15,
               udp_frame(router(), blue15(), kCa5, "10.0.1.5", {.ttl = 63})});
  f.push_back({"Blue 5001 to Blue 5002 on host 2: routed, then NVGRE in VSID 5002", kBlue5,
               udp_frame(blue5(), router(), kCa5, "10.0.1.7"), Reason::kRoutedEncapsulated, kUp,
               PacketBuilder()
                   .nvgre(tunnel_to_host2(kBlue2Vsid))
                   .payload(udp_frame(router(), blue17(), kCa5, "10.0.1.7", {.ttl = 63}))
                   .build()});
  f.push_back({"Red to Blue's 10.0.1.5: another routing domain, no route",
               kRed5,
               udp_frame(red5(), router(), kCa5, "10.0.1.5"),
               Reason::kNoRoute,
               kDropped,
               {}});
  f.push_back({"Routed with TTL 1",
               kBlue5,
               udp_frame(blue5(), router(), kCa5, "10.0.1.5", {.ttl = 1}),
               Reason::kTtlExpired,
               kDropped,
               {}});
  f.push_back({"A CA in the subnet that nobody has",
               kBlue5,
               udp_frame(blue5(), blue7(), kCa5, "10.0.0.9"),
               Reason::kNoLookupRecord,
               kDropped,
               {}});
  f.push_back({"Broadcast other than ARP and DHCP",
               kBlue5,
               udp_frame(blue5(), net::MacAddress::broadcast(), kCa5, "255.255.255.255"),
               Reason::kBroadcast,
               kDropped,
               {}});
  f.push_back({"Ping of the gateway address: answered by the virtual router", kBlue5, ping_gateway,
               Reason::kIcmpEchoReply, kBlue5,
               PacketBuilder()
                   .eth(router(), blue5())
                   .ipv4(ipv4("10.0.0.1"), ipv4(kCa5))
                   .icmp(packet::icmp_type::kEchoReply, 0, 7u << 16 | 1)
                   .payload("ping")
                   .build()});
  // Malformed and unsupported from a VM.
  f.push_back({"IPv6",
               kBlue5,
               PacketBuilder()
                   .eth(blue5(), blue7())
                   .ipv6(ipv6("fe80::1"), ipv6("fe80::2"))
                   .udp(1, 2)
                   .build(),
               Reason::kNotIpv4,
               kDropped,
               {}});
  f.push_back({"802.1Q tag from a VM",
               kBlue5,
               PacketBuilder()
                   .eth(blue5(), blue7())
                   .vlan(10)
                   .ipv4(ipv4(kCa5), ipv4(kCa7))
                   .udp(1, 2)
                   .build(),
               Reason::kVlanTagged,
               kDropped,
               {}});
  f.push_back({"IPv4 options",
               kBlue5,
               udp_frame(blue5(), blue7(), kCa5, kCa7, {.options = {1, 1, 1, 0}}),
               Reason::kIpOptions,
               kDropped,
               {}});
  f.push_back(
      {"A fragment",
       kBlue5,
       udp_frame(blue5(), blue7(), kCa5, kCa7, {.dont_fragment = false, .more_fragments = true}),
       Reason::kIpFragment,
       kDropped,
       {}});
  f.push_back(
      {"Bad IPv4 header checksum", kBlue5, bad_checksum, Reason::kBadIpHeader, kDropped, {}});
  f.push_back({"Truncated Ethernet header",
               kBlue5,
               Bytes(blue_to_7.begin(), blue_to_7.begin() + 10),
               Reason::kTruncated,
               kDropped,
               {}});
  f.push_back({"Truncated IPv4 header",
               kBlue5,
               Bytes(blue_to_7.begin(), blue_to_7.begin() + 30),
               Reason::kTruncated,
               kDropped,
               {}});
  f.push_back({"IPv4 total length beyond the frame",
               kBlue5,
               udp_frame(blue5(), blue7(), kCa5, kCa7, {.total_length = 400}),
               Reason::kTruncated,
               kDropped,
               {}});
  // Too big for the uplink: never fragmented.
  {
    const Bytes big = big_frame(blue5(), true);
    f.push_back({"1459 bytes with DF: ICMP fragmentation needed, MTU 1458", kBlue5, big,
                 Reason::kIcmpFragNeeded, kBlue5,
                 PacketBuilder()
                     .eth(router(), blue5())
                     .ipv4(ipv4("10.0.0.1"), ipv4(kCa5), {.dont_fragment = false})
                     .icmp(packet::icmp_type::kDestinationUnreachable,
                           packet::kIcmpCodeFragmentationNeeded, 1458)
                     .payload(Bytes(big.begin() + 14, big.begin() + 14 + 28))
                     .build()});
  }
  {
    // An appliance forwarding a packet of 10.99.1.1 that does not fit: the
    // message goes back through its port to 10.99.1.1, which the appliance
    // routes on (to itself, 10.0.0.33, it would reach no one).
    const Bytes big = PacketBuilder()
                          .eth(fw9(), blue7())
                          .ipv4(ipv4("10.99.1.1"), ipv4(kCa7), {.dont_fragment = true})
                          .udp(40000, 7)
                          .payload(Bytes(1459 - 28, 0xab))
                          .build();
    f.push_back(
        {"Appliance: 1459 bytes with DF from a source it forwards: fragmentation "
         "needed to that source",
         kAppliance, big, Reason::kIcmpFragNeeded, kAppliance,
         PacketBuilder()
             .eth(router(), fw9())
             .ipv4(ipv4("10.0.0.1"), ipv4("10.99.1.1"), {.dont_fragment = false})
             .icmp(packet::icmp_type::kDestinationUnreachable, packet::kIcmpCodeFragmentationNeeded,
                   1458)
             .payload(Bytes(big.begin() + 14, big.begin() + 14 + 28))
             .build()});
  }
  f.push_back({"1459 bytes without DF: dropped",
               kBlue5,
               big_frame(blue5(), false),
               Reason::kTooBig,
               kDropped,
               {}});

  // From the uplink: NVGRE to our PA, delivered by (VSID, inner MAC).
  f.push_back({"NVGRE VSID 5001 to Blue 10.0.0.5: decapsulated to its port", kUp,
               nvgre_in(kBlueVsid, blue7_to_5), Reason::kDecapsulated, kBlue5, blue7_to_5});
  f.push_back({"NVGRE VSID 6001 to Red 10.0.0.5", kUp, nvgre_in(kRedVsid, red7_to_5),
               Reason::kDecapsulated, kRed5, red7_to_5});
  f.push_back({"NVGRE VSID 6001 carrying a frame for Blue's port: the port ACL drops it",
               kUp,
               nvgre_in(kRedVsid, blue7_to_5),
               Reason::kVsidMismatch,
               kDropped,
               {}});
  f.push_back({"NVGRE of a VSID with no port here",
               kUp,
               nvgre_in(9999, blue7_to_5),
               Reason::kUnknownVsid,
               kDropped,
               {}});
  f.push_back({"NVGRE to a MAC that is no port",
               kUp,
               nvgre_in(kBlueVsid, udp_frame(blue7(), mac("02:00:00:00:00:99"), kCa7, kCa5)),
               Reason::kUnknownDestination,
               kDropped,
               {}});
  f.push_back({"NVGRE with an 802.1Q tag inside",
               kUp,
               nvgre_in(kBlueVsid, PacketBuilder()
                                       .eth(blue7(), blue5())
                                       .vlan(5)
                                       .ipv4(ipv4(kCa7), ipv4(kCa5))
                                       .udp(1, 2)
                                       .build()),
               Reason::kInnerVlan,
               kDropped,
               {}});
  f.push_back({"NVGRE with a broadcast inside",
               kUp,
               nvgre_in(kBlueVsid,
                        udp_frame(blue7(), net::MacAddress::broadcast(), kCa7, "255.255.255.255")),
               Reason::kInnerNotUnicast,
               kDropped,
               {}});
  // VSIDs that differ from Blue's only in their high bits never share a
  // frame with Blue (the VSID attack of issue 14).
  f.push_back({"NVGRE VSID 5001 for Cyan's MAC (VSID 70537 = 5001 + 2^16): the port ACL drops it",
               kUp,
               nvgre_in(kBlueVsid, udp_frame(blue7(), cyan5(), kCa7, kCa5)),
               Reason::kVsidMismatch,
               kDropped,
               {}});
  f.push_back({"NVGRE VSID 5001 for Teal's MAC (VSID 5257 = 5001 + 2^8): the port ACL drops it",
               kUp,
               nvgre_in(kBlueVsid, udp_frame(blue7(), teal5(), kCa7, kCa5)),
               Reason::kVsidMismatch,
               kDropped,
               {}});
  {
    const Bytes cyan7_to_5 = udp_frame(cyan7(), cyan5(), kCa7, kCa5);
    packet::NvgreTunnel from_host3 = tunnel_from_host2(kCyanVsid);
    from_host3.src_pa = host3();
    f.push_back({"NVGRE VSID 70537 from Cyan's host to Cyan 10.0.0.5: decapsulated", kUp,
                 nvgre_in(kCyanVsid, cyan7_to_5, from_host3), Reason::kDecapsulated, kCyan5,
                 cyan7_to_5});
    f.push_back({"NVGRE VSID 70537 from host 2, which holds no record of Cyan's network",
                 kUp,
                 nvgre_in(kCyanVsid, cyan7_to_5),
                 Reason::kUnknownSourcePa,
                 kDropped,
                 {}});
    packet::NvgreTunnel stranger = tunnel_from_host2(kBlueVsid);
    stranger.src_pa = ipv4("192.168.9.9");
    f.push_back({"NVGRE VSID 5001 from a PA that is no host of Blue's network",
                 kUp,
                 nvgre_in(kBlueVsid, blue7_to_5, stranger),
                 Reason::kUnknownSourcePa,
                 kDropped,
                 {}});
    f.push_back({"ARP flooded by a PA that is no host of Blue's network: not answered",
                 kUp,
                 nvgre_in(kBlueVsid, arp_request(blue7(), kCa7, kCa5), stranger),
                 Reason::kUnknownSourcePa,
                 kDropped,
                 {}});
  }
  // A plain GRE peer floods its VM's ARP into the tunnel: answered back
  // through it, for a local port of that VSID only.
  f.push_back({"ARP from a GRE peer for Blue 10.0.0.5: answered through the tunnel", kUp,
               nvgre_in(kBlueVsid, arp_request(blue7(), kCa7, kCa5)), Reason::kArpReplyTunnel, kUp,
               PacketBuilder()
                   .nvgre(tunnel_to_host2(kBlueVsid))
                   .payload(arp_reply(blue5(), kCa5, blue7(), kCa7))
                   .build()});
  f.push_back({"ARP from a GRE peer for an address not on this host",
               kUp,
               nvgre_in(kBlueVsid, arp_request(blue7(), kCa7, "10.0.0.9")),
               Reason::kArpUnknown,
               kDropped,
               {}});
  f.push_back({"GRE with the C bit",
               kUp,
               PacketBuilder()
                   .eth(underlay_router_mac(), uplink_mac())
                   .ipv4(host2(), host1())
                   .gre(kBlueVsid << 8, packet::ether_type::kTransparentEthernetBridging, 0xa000)
                   .payload(blue7_to_5)
                   .build(),
               Reason::kGreBadHeader,
               kDropped,
               {}});
  f.push_back({"GRE with the S bit",
               kUp,
               PacketBuilder()
                   .eth(underlay_router_mac(), uplink_mac())
                   .ipv4(host2(), host1())
                   .gre(kBlueVsid << 8, packet::ether_type::kTransparentEthernetBridging, 0x3000)
                   .payload(blue7_to_5)
                   .build(),
               Reason::kGreBadHeader,
               kDropped,
               {}});
  f.push_back({"GRE version 1",
               kUp,
               PacketBuilder()
                   .eth(underlay_router_mac(), uplink_mac())
                   .ipv4(host2(), host1())
                   .gre(kBlueVsid << 8, packet::ether_type::kTransparentEthernetBridging, 0x2001)
                   .payload(blue7_to_5)
                   .build(),
               Reason::kGreBadHeader,
               kDropped,
               {}});
  f.push_back({"GRE carrying IPv4 rather than Ethernet",
               kUp,
               PacketBuilder()
                   .eth(underlay_router_mac(), uplink_mac())
                   .ipv4(host2(), host1())
                   .gre(kBlueVsid << 8, packet::ether_type::kIpv4)
                   .payload(blue7_to_5)
                   .build(),
               Reason::kGreBadHeader,
               kDropped,
               {}});
  f.push_back({"GRE cut after 2 bytes",
               kUp,
               PacketBuilder()
                   .eth(underlay_router_mac(), uplink_mac())
                   .ipv4(host2(), host1(), {.protocol = packet::ip_protocol::kGre})
                   .payload(Bytes{0x20, 0x00})
                   .build(),
               Reason::kTruncated,
               kDropped,
               {}});
  {
    packet::NvgreTunnel other = tunnel_from_host2(kBlueVsid);
    other.dst_pa = ipv4("192.168.1.11");
    f.push_back({"NVGRE to another PA",
                 kUp,
                 nvgre_in(kBlueVsid, blue7_to_5, other),
                 Reason::kNotOurPa,
                 kDropped,
                 {}});
  }
  f.push_back({"NVGRE in an outer fragment",
               kUp,
               PacketBuilder()
                   .eth(underlay_router_mac(), uplink_mac())
                   .ipv4(host2(), host1(), {.dont_fragment = false, .more_fragments = true})
                   .gre(kBlueVsid << 8)
                   .payload(blue7_to_5)
                   .build(),
               Reason::kIpFragment,
               kDropped,
               {}});
  f.push_back({"Plain UDP to our PA is the kernel's",
               kUp,
               udp_frame(underlay_router_mac(), uplink_mac(), kHost2Pa, kHost1Pa),
               Reason::kNotForUs,
               kDropped,
               {}});

  // IP rewrite: the Green VM network.
  {
    const auto tcp = [](net::MacAddress s, net::MacAddress d, std::string_view src,
                        std::string_view dst) {
      return PacketBuilder()
          .eth(s, d)
          .ipv4(ipv4(src), ipv4(dst))
          .tcp(40000, 80,
               {.sequence = 7, .acknowledgement = 9, .flags = 0x18, .window = 512, .options = {}})
          .payload("GET / HTTP/1.0\r\n\r\n")
          .build();
    };
    f.push_back({"Green 10.1.0.5 to 10.1.0.7: addresses rewritten to the NICs' PAs", kGreen5,
                 tcp(green5(), green7(), "10.1.0.5", "10.1.0.7"), Reason::kRewritten, kUp,
                 tcp(uplink_mac(), underlay_router_mac(), "192.168.1.50", "192.168.2.70")});
    f.push_back({"Rewrite traffic from 192.168.2.70 to our 192.168.1.50: restored", kUp,
                 tcp(underlay_router_mac(), uplink_mac(), "192.168.2.70", "192.168.1.50"),
                 Reason::kRestored, kGreen5, tcp(green7(), green5(), "10.1.0.7", "10.1.0.5")});
    f.push_back({"Rewrite traffic from a PA that is no peer",
                 kUp,
                 tcp(underlay_router_mac(), uplink_mac(), "192.168.2.99", "192.168.1.50"),
                 Reason::kRewriteUnknownPeer,
                 kDropped,
                 {}});
    f.push_back({"UDP without checksum keeps none after rewrite", kGreen5,
                 PacketBuilder()
                     .eth(green5(), green7())
                     .ipv4(ipv4("10.1.0.5"), ipv4("10.1.0.7"))
                     .udp(5, 6, true)
                     .payload("x")
                     .build(),
                 Reason::kRewritten, kUp,
                 PacketBuilder()
                     .eth(uplink_mac(), underlay_router_mac())
                     .ipv4(ipv4("192.168.1.50"), ipv4("192.168.2.70"))
                     .udp(5, 6, true)
                     .payload("x")
                     .build()});
  }
  f.push_back({"ARP on the uplink for our rewrite PA: our uplink MAC", kUp,
               arp_request(underlay_router_mac(), "192.168.1.1", "192.168.1.50"),
               Reason::kArpReplyUplink, kUp,
               arp_reply(uplink_mac(), "192.168.1.50", underlay_router_mac(), "192.168.1.1")});
  f.push_back({"ARP on the uplink for the host's PA is the kernel's",
               kUp,
               arp_request(underlay_router_mac(), "192.168.1.1", kHost1Pa),
               Reason::kNotForUs,
               kDropped,
               {}});
  return f;
}

net::MacAddress gateway_uplink_mac() { return mac("02:00:00:00:03:30"); }
net::MacAddress external_mac() { return mac("02:00:00:00:0e:30"); }
net::MacAddress next_hop_mac() { return mac("02:00:00:00:0e:01"); }

namespace {

policy::GatewayPolicy gateway(uint64_t id, Uuid rdid, policy::GatewayKind kind,
                              std::string_view external) {
  policy::GatewayPolicy g;
  g.gateway_id = uuid(id);
  g.rdid = rdid;
  g.kind = kind;
  g.external_ip = ipv4(external);
  g.pa = ipv4("192.168.3.30");
  g.interface = "ext0";
  g.prefix_len = 24;
  g.next_hop = ipv4("203.0.113.1");
  return g;
}

// What every host of Blue, Red and Green gets: records, routes, gateways.
policy::HostPolicy with_gateways(policy::HostPolicy p) {
  const Uuid green_rdid = uuid(0x91);
  p.lookup_records.push_back(
      {vsid(kGreenVsid), ipv4("10.1.0.5"), green5(), ipv4(kHost1Pa), policy::LookupRule::kEncap});
  p.customer_routes.push_back(
      {green_rdid, vsid(kGreenVsid), prefix("10.1.0.0/24"), ipv4("0.0.0.0"), 0});
  auto blue = gateway(0xa1, uuid(0xb1), policy::GatewayKind::kNat, "203.0.113.100");
  blue.nat_rules = {{policy::NatProtocol::kTcp, 8080, ipv4(kCa5), 80}};
  auto red = gateway(0xa2, uuid(0xd1), policy::GatewayKind::kNat, "203.0.113.101");
  auto green = gateway(0xa3, green_rdid, policy::GatewayKind::kForwarding, "203.0.113.102");
  green.advertised_prefixes = {prefix("10.1.0.0/24")};
  p.gateways = {blue, red, green};
  return p;
}

}  // namespace

policy::HostPolicy gateway_host_policy() {
  policy::HostPolicy p = seed_host1_policy();
  p.host_id = uuid(3);
  p.provider.pa = ipv4("192.168.3.30");
  p.ports.clear();  // no VMs: the gateways only
  return with_gateways(p);
}

policy::HostPolicy vm_host_with_gateways_policy() {
  policy::HostPolicy p = seed_host1_policy();
  p.ports.push_back({.nic_id = uuid(0x135),
                     .interface = "vnet-green5",
                     .mac = green5(),
                     .ca = ipv4("10.1.0.5"),
                     .prefix_len = 24,
                     .gateway = ipv4("10.1.0.1"),
                     .dns = {},
                     .vsid = vsid(kGreenVsid),
                     .rdid = uuid(0x91),
                     .mtu = 1458});
  return with_gateways(p);
}

}  // namespace vnet::testing::dataplane
