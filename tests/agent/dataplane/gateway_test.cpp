// Gateways in the pure pipeline (DESIGN.md section 4, "Gateways"): every
// rule of NAT and forwarding against exact bytes, with time given.
//
// The gateway host (PA 192.168.3.30) runs Blue's and Red's NAT gateways
// (203.0.113.100 and .101: both VM networks use 10.0.0.0/24, both have
// 10.0.0.5 on host 1) and Green's forwarding gateway (203.0.113.102, Green
// is 10.1.0.0/24 with 10.1.0.5 on host 1). Its external interface faces
// 203.0.113.0/24 with the next hop 203.0.113.1.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstring>

#include "agent/dataplane/pipeline.h"
#include "agent/dataplane/trace.h"
#include "shared/packet/icmp.h"
#include "shared/packet/ipv4.h"
#include "shared/packet/tcp.h"
#include "shared/testing/fixtures.h"
#include "shared/testing/packet_builder.h"
#include "tests/agent/dataplane/pipeline_fixtures.h"

namespace vnet::agent::dataplane {
namespace {

using testing::Bytes;
using testing::ipv4;
using testing::mac;
using testing::PacketBuilder;
using testing::uuid;
using namespace testing::seed;

constexpr uint32_t kHeadroom = 256;
constexpr uint64_t kSecond = 1'000'000'000;
constexpr uint32_t kGreenVsid = 7001;
constexpr std::string_view kGatewayPa = "192.168.3.30";
constexpr std::string_view kBlueExternal = "203.0.113.100";
constexpr std::string_view kRedExternal = "203.0.113.101";
constexpr std::string_view kGreenExternal = "203.0.113.102";
constexpr std::string_view kServer = "203.0.113.1";   // the next hop, and the lab's server
constexpr std::string_view kRemote = "198.51.100.7";  // beyond it

using testing::dataplane::external_mac;
using testing::dataplane::gateway_host_policy;
using testing::dataplane::gateway_uplink_mac;
using testing::dataplane::next_hop_mac;
net::MacAddress router() { return kRouterMac; }
net::MacAddress green5() { return mac("00:1D:D8:B7:1C:35"); }
policy::HostPolicy vm_host_policy() { return testing::dataplane::vm_host_with_gateways_policy(); }

packet::NvgreTunnel from_host1(uint32_t vsid) {
  return {.src_mac = mac(kUnderlayRouterMac),
          .dst_mac = gateway_uplink_mac(),
          .src_pa = ipv4(kHost1Pa),
          .dst_pa = ipv4(kGatewayPa),
          .vsid = testing::vsid(vsid),
          .flow_id = 0,
          .ttl = 64};
}
packet::NvgreTunnel to_host1(uint32_t vsid) {
  return {.src_mac = gateway_uplink_mac(),
          .dst_mac = mac(kUnderlayRouterMac),
          .src_pa = ipv4(kGatewayPa),
          .dst_pa = ipv4(kHost1Pa),
          .vsid = testing::vsid(vsid),
          .flow_id = 0,
          .ttl = 64};
}
Bytes nvgre(const packet::NvgreTunnel& t, const Bytes& inner) {
  return PacketBuilder().nvgre(t).payload(inner).build();
}

// A VM's UDP packet as it reaches its gateway (to the virtual router's MAC).
Bytes vm_udp(net::MacAddress vm, std::string_view src, uint16_t sport, std::string_view dst,
             uint16_t dport, uint8_t ttl = 64) {
  return PacketBuilder()
      .eth(vm, router())
      .ipv4(ipv4(src), ipv4(dst), {.ttl = ttl})
      .udp(sport, dport)
      .payload("hello")
      .build();
}
Bytes external_udp(std::string_view src, uint16_t sport, std::string_view dst, uint16_t dport,
                   uint8_t ttl = 64) {
  return PacketBuilder()
      .eth(next_hop_mac(), external_mac())
      .ipv4(ipv4(src), ipv4(dst), {.ttl = ttl})
      .udp(sport, dport)
      .payload("hello")
      .build();
}
Bytes out_udp(std::string_view src, uint16_t sport, std::string_view dst, uint16_t dport,
              uint8_t ttl) {
  return PacketBuilder()
      .eth(external_mac(), next_hop_mac())
      .ipv4(ipv4(src), ipv4(dst), {.ttl = ttl})
      .udp(sport, dport)
      .payload("hello")
      .build();
}
Bytes to_vm_udp(net::MacAddress vm, std::string_view src, uint16_t sport, std::string_view dst,
                uint16_t dport, uint8_t ttl) {
  return PacketBuilder()
      .eth(router(), vm)
      .ipv4(ipv4(src), ipv4(dst), {.ttl = ttl})
      .udp(sport, dport)
      .payload("hello")
      .build();
}

std::string hex(const Bytes& bytes) {
  std::string s;
  for (size_t i = 0; i < bytes.size(); ++i)
    s += fmt::format("{:02x}{}", bytes[i], (i % 16 == 15) ? "\n" : " ");
  return s;
}

struct Outcome {
  Verdict verdict;
  Bytes frame;
};

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override { build(gateway_host_policy()); }

  void build(const policy::HostPolicy& policy, uint16_t external_mtu = 1500,
             bool next_hop_known = true) {
    HostFacts facts;
    facts.uplink_mac = gateway_uplink_mac();
    facts.uplink_mtu = 1500;
    for (const auto& r : policy.lookup_records) facts.next_hop_macs[r.pa] = mac(kUnderlayRouterMac);
    for (const auto& g : policy.gateways) facts.next_hop_macs[g.pa] = mac(kUnderlayRouterMac);
    facts.external_mac = external_mac();
    facts.external_mtu = external_mtu;
    if (next_hop_known) facts.external_next_hop_macs[ipv4(kServer)] = next_hop_mac();
    tables_ = Tables::build(policy, facts);
    std::vector<NatTable::Gateway> gateways;
    for (const auto& g : policy.gateways) {
      if (g.pa != policy.provider.pa || g.kind != policy::GatewayKind::kNat) continue;
      NatTable::Gateway entry{g.external_ip, {}};
      for (const auto& r : g.nat_rules)
        entry.rule_ports.emplace_back(static_cast<uint8_t>(r.protocol), r.external_port);
      gateways.push_back(entry);
    }
    nat_->sync(gateways);
  }

  // Where the frame enters: "uplink", "external", or a port's interface.
  Outcome run(const std::string& in, const Bytes& input) {
    buffer_.assign(4096, 0);
    std::memcpy(buffer_.data() + kHeadroom, input.data(), input.size());
    Frame frame{buffer_, kHeadroom, static_cast<uint32_t>(input.size())};
    Context ctx{nat_.get(), now_};
    Verdict v{Reason::kPortUnbound, kNoPort};
    if (in == "uplink") {
      v = from_uplink(*tables_, ctx, frame);
    } else if (in == "external") {
      v = from_external(*tables_, ctx, frame);
    } else {
      v = from_port(*tables_, ctx, tables_->port_by_interface(in), frame);
    }
    const auto bytes = frame.bytes();
    return {v, Bytes(bytes.begin(), bytes.end())};
  }

  void expect(const std::string& in, const Bytes& input, Reason reason, Exit exit,
              const std::optional<Bytes>& output = std::nullopt) {
    const Outcome o = run(in, input);
    EXPECT_EQ(to_string(o.verdict.reason), to_string(reason));
    EXPECT_EQ(static_cast<int>(o.verdict.exit()), static_cast<int>(exit));
    if (output) {
      EXPECT_EQ(hex(o.frame), hex(*output));
    }
  }

  std::unique_ptr<NatTable> nat_ = std::make_unique<NatTable>();
  std::shared_ptr<const Tables> tables_;
  uint64_t now_ = 1000 * kSecond;
  Bytes buffer_;
};

TEST_F(GatewayTest, TwoTenantsWithTheSameAddressLeaveThroughTheirOwnAddresses) {
  // Blue's and Red's 10.0.0.5:40000 to the same server, at once.
  expect("uplink", nvgre(from_host1(kBlueVsid), vm_udp(mac(kBlue5Mac), kCa5, 40000, kServer, 7)),
         Reason::kNatOut, Exit::kToExternal, out_udp(kBlueExternal, 40000, kServer, 7, 63));
  expect("uplink", nvgre(from_host1(kRedVsid), vm_udp(mac(kRed5Mac), kCa5, 40000, kServer, 7)),
         Reason::kNatOut, Exit::kToExternal, out_udp(kRedExternal, 40000, kServer, 7, 63));
  // The replies go back to the right tenant's VM, in its VSID.
  expect("external", external_udp(kServer, 7, kBlueExternal, 40000), Reason::kNatIn,
         Exit::kToUplink,
         nvgre(to_host1(kBlueVsid), to_vm_udp(mac(kBlue5Mac), kServer, 7, kCa5, 40000, 63)));
  expect("external", external_udp(kServer, 7, kRedExternal, 40000), Reason::kNatIn, Exit::kToUplink,
         nvgre(to_host1(kRedVsid), to_vm_udp(mac(kRed5Mac), kServer, 7, kCa5, 40000, 63)));
  EXPECT_EQ(nat_->size(), 2u);
}

TEST_F(GatewayTest, AVmHostSendsWhatLeavesTheNetworkToTheGatewayHostInItsVsid) {
  build(vm_host_policy());
  const Bytes frame = vm_udp(mac(kBlue5Mac), kCa5, 40000, kServer, 7);
  packet::NvgreTunnel t = from_host1(kBlueVsid);
  t.src_mac = gateway_uplink_mac();  // the fixture's uplink, whatever host it plays
  t.dst_mac = mac(kUnderlayRouterMac);
  expect("vnet-blue5", frame, Reason::kToGateway, Exit::kToUplink, nvgre(t, frame));
  // And takes the gateway's replies: its PA may send for Blue.
  packet::NvgreTunnel back = to_host1(kBlueVsid);
  back.dst_mac = mac(kHost1UplinkMac);
  const Bytes reply = to_vm_udp(mac(kBlue5Mac), kServer, 7, kCa5, 40000, 63);
  expect("uplink", nvgre(back, reply), Reason::kDecapsulated, Exit::kToPort, reply);
  // Without a gateway the same packet has no route.
  policy::HostPolicy none = testing::seed_host1_policy();
  build(none);
  expect("vnet-blue5", frame, Reason::kNoRoute, Exit::kDropped);
}

TEST_F(GatewayTest, UnsolicitedTrafficFromOutsideReachesNoVmAndIsCounted) {
  expect("external", external_udp(kRemote, 53, kBlueExternal, 40000), Reason::kNatUnsolicited,
         Exit::kDropped);
  // A flow to the server is no flow to anyone else.
  run("uplink", nvgre(from_host1(kBlueVsid), vm_udp(mac(kBlue5Mac), kCa5, 40000, kServer, 7)));
  expect("external", external_udp(kRemote, 7, kBlueExternal, 40000), Reason::kNatUnsolicited,
         Exit::kDropped);
  expect("external", external_udp(kServer, 8, kBlueExternal, 40000), Reason::kNatUnsolicited,
         Exit::kDropped);
  // Red's address knows nothing of Blue's flow.
  expect("external", external_udp(kServer, 7, kRedExternal, 40000), Reason::kNatUnsolicited,
         Exit::kDropped);
  EXPECT_EQ(nat_->counters(ipv4(kBlueExternal))->unsolicited.load(), 3u);
  EXPECT_EQ(nat_->counters(ipv4(kRedExternal))->unsolicited.load(), 1u);
  // An address this host does not run is not for it.
  expect("external", external_udp(kServer, 7, "203.0.113.99", 40000), Reason::kNotForUs,
         Exit::kDropped);
}

TEST_F(GatewayTest, ANatRuleForwardsAPortToAVmAndItsAnswersLeaveFromThatPort) {
  const Bytes syn = PacketBuilder()
                        .eth(next_hop_mac(), external_mac())
                        .ipv4(ipv4(kRemote), ipv4(kBlueExternal))
                        .tcp(33333, 8080, {.flags = packet::tcp_flag::kSyn})
                        .build();
  const Bytes to_vm = PacketBuilder()
                          .eth(router(), mac(kBlue5Mac))
                          .ipv4(ipv4(kRemote), ipv4(kCa5), {.ttl = 63})
                          .tcp(33333, 80, {.flags = packet::tcp_flag::kSyn})
                          .build();
  expect("external", syn, Reason::kNatIn, Exit::kToUplink, nvgre(to_host1(kBlueVsid), to_vm));
  const uint8_t syn_ack = packet::tcp_flag::kSyn | packet::tcp_flag::kAck;
  const Bytes answer = PacketBuilder()
                           .eth(mac(kBlue5Mac), router())
                           .ipv4(ipv4(kCa5), ipv4(kRemote))
                           .tcp(80, 33333, {.flags = syn_ack})
                           .build();
  const Bytes out = PacketBuilder()
                        .eth(external_mac(), next_hop_mac())
                        .ipv4(ipv4(kBlueExternal), ipv4(kRemote), {.ttl = 63})
                        .tcp(8080, 33333, {.flags = syn_ack})
                        .build();
  expect("uplink", nvgre(from_host1(kBlueVsid), answer), Reason::kNatOut, Exit::kToExternal, out);
  // Red has no such rule.
  Bytes to_red = syn;
  ipv4(kRedExternal).to_bytes(to_red.data() + 14 + 16);
  const auto ip = packet::MutableIpv4View::parse(std::span(to_red).subspan(14));
  ip->update_checksum();
  // (the TCP checksum is now wrong too, which NAT never reads)
  expect("external", to_red, Reason::kNatUnsolicited, Exit::kDropped);
  // A VM's own flow never takes a rule's port.
  run("uplink", nvgre(from_host1(kRedVsid), vm_udp(mac(kRed5Mac), kCa5, 8080, kServer, 7)));
  run("uplink", nvgre(from_host1(kBlueVsid), vm_udp(mac(kBlue5Mac), kCa5, 9000, kServer, 7)));
  const Outcome o = run(
      "uplink", nvgre(from_host1(kBlueVsid), PacketBuilder()
                                                 .eth(mac(kBlue5Mac), router())
                                                 .ipv4(ipv4(kCa5), ipv4(kServer))
                                                 .tcp(8080, 443, {.flags = packet::tcp_flag::kSyn})
                                                 .build()));
  ASSERT_EQ(o.verdict.reason, Reason::kNatOut);
  EXPECT_NE(packet::load_be16(o.frame.data() + 34), 8080);
}

TEST_F(GatewayTest, FlowsTimeOutAsDesignSaysDrivenByNow) {
  const Bytes udp = nvgre(from_host1(kBlueVsid), vm_udp(mac(kBlue5Mac), kCa5, 40000, kServer, 7));
  const Bytes reply = external_udp(kServer, 7, kBlueExternal, 40000);
  run("uplink", udp);
  now_ += 29 * kSecond;
  expect("external", reply, Reason::kNatIn, Exit::kToUplink);  // refreshed at +29 s
  now_ += 29 * kSecond;
  expect("external", reply, Reason::kNatIn, Exit::kToUplink);
  now_ += 30 * kSecond;  // 30 s idle: gone
  expect("external", reply, Reason::kNatUnsolicited, Exit::kDropped);

  // TCP: established after the SYN-ACK, 2 h then; after FIN, 60 s.
  auto vm_tcp = [&](uint8_t flags) {
    return nvgre(from_host1(kBlueVsid), PacketBuilder()
                                            .eth(mac(kBlue5Mac), router())
                                            .ipv4(ipv4(kCa5), ipv4(kServer))
                                            .tcp(41000, 80, {.flags = flags})
                                            .build());
  };
  auto server_tcp = [&](uint8_t flags) {
    return PacketBuilder()
        .eth(next_hop_mac(), external_mac())
        .ipv4(ipv4(kServer), ipv4(kBlueExternal))
        .tcp(80, 41000, {.flags = flags})
        .build();
  };
  using namespace packet::tcp_flag;
  expect("uplink", vm_tcp(kSyn), Reason::kNatOut, Exit::kToExternal);
  expect("external", server_tcp(kSyn | kAck), Reason::kNatIn, Exit::kToUplink);
  now_ += 7199 * kSecond;
  expect("external", server_tcp(kAck), Reason::kNatIn, Exit::kToUplink);
  expect("uplink", vm_tcp(kFin | kAck), Reason::kNatOut, Exit::kToExternal);
  now_ += 59 * kSecond;
  expect("external", server_tcp(kFin | kAck), Reason::kNatIn, Exit::kToUplink);
  now_ += 60 * kSecond;
  expect("external", server_tcp(kAck), Reason::kNatUnsolicited, Exit::kDropped);

  // A SYN nobody answers holds its flow 120 s, not 2 h.
  const Bytes lonely = nvgre(from_host1(kRedVsid), PacketBuilder()
                                                       .eth(mac(kRed5Mac), router())
                                                       .ipv4(ipv4(kCa5), ipv4(kRemote))
                                                       .tcp(42000, 80, {.flags = kSyn})
                                                       .build());
  run("uplink", lonely);
  EXPECT_EQ(nat_->size(), 1u);
  now_ += 121 * kSecond;
  nat_->expire(now_, 1u << 20);
  EXPECT_EQ(nat_->size(), 0u);
  EXPECT_EQ(nat_->counters(ipv4(kRedExternal))->expired.load(), 1u);
}

TEST_F(GatewayTest, AFullTableAndAFullPortRangeDropNewFlowsAndCountThem) {
  nat_ = std::make_unique<NatTable>(NatOptions{.capacity = 4, .port_min = 2000, .port_max = 2001});
  build(gateway_host_policy());  // two NAT gateways: a share of 2 flows each
  auto blue = [&](uint16_t sport) {
    return run("uplink",
               nvgre(from_host1(kBlueVsid), vm_udp(mac(kBlue5Mac), kCa5, sport, kServer, 7)));
  };
  EXPECT_EQ(blue(40000).verdict.reason, Reason::kNatOut);
  const Outcome second = blue(40001);
  EXPECT_EQ(second.verdict.reason, Reason::kNatOut);
  EXPECT_EQ(packet::load_be16(second.frame.data() + 34), 2001);  // the range's second
  EXPECT_EQ(blue(40002).verdict.reason, Reason::kNatTableFull);  // Blue's share
  // Red still has its share: one tenant's flood takes nothing of another's.
  expect("uplink", nvgre(from_host1(kRedVsid), vm_udp(mac(kRed5Mac), kCa5, 2000, kServer, 7)),
         Reason::kNatOut, Exit::kToExternal, out_udp(kRedExternal, 2000, kServer, 7, 63));
  EXPECT_EQ(nat_->counters(ipv4(kBlueExternal))->table_full.load(), 1u);

  // Ports: one gateway alone has the whole table but two ports per protocol.
  nat_ = std::make_unique<NatTable>(NatOptions{.capacity = 64, .port_min = 2000, .port_max = 2001});
  build(gateway_host_policy());
  EXPECT_EQ(blue(40000).verdict.reason, Reason::kNatOut);
  EXPECT_EQ(blue(40001).verdict.reason, Reason::kNatOut);
  EXPECT_EQ(blue(40002).verdict.reason, Reason::kNatPortsExhausted);
  EXPECT_EQ(nat_->counters(ipv4(kBlueExternal))->ports_exhausted.load(), 1u);
  // Another protocol has its own range.
  const Bytes ping = nvgre(from_host1(kBlueVsid), PacketBuilder()
                                                      .eth(mac(kBlue5Mac), router())
                                                      .ipv4(ipv4(kCa5), ipv4(kServer))
                                                      .icmp_echo_request(7, 1)
                                                      .build());
  EXPECT_EQ(run("uplink", ping).verdict.reason, Reason::kNatOut);
  // A flow that timed out gives its port back.
  now_ += 31 * kSecond;
  EXPECT_EQ(blue(40002).verdict.reason, Reason::kNatOut);
}

TEST_F(GatewayTest, PingGoesOutWithTheEchoIdentifierTranslatedAndComesBack) {
  run("uplink", nvgre(from_host1(kRedVsid), PacketBuilder()
                                                .eth(mac(kRed5Mac), router())
                                                .ipv4(ipv4(kCa5), ipv4(kServer))
                                                .icmp_echo_request(7, 1)
                                                .build()));
  // Identifiers come from the port range (1024 up) of each external
  // address: Red's first and Blue's first are both 1024, apart.
  expect("uplink",
         nvgre(from_host1(kBlueVsid), PacketBuilder()
                                          .eth(mac(kBlue5Mac), router())
                                          .ipv4(ipv4(kCa5), ipv4(kServer))
                                          .icmp_echo_request(7, 1)
                                          .build()),
         Reason::kNatOut, Exit::kToExternal,
         PacketBuilder()
             .eth(external_mac(), next_hop_mac())
             .ipv4(ipv4(kBlueExternal), ipv4(kServer), {.ttl = 63})
             .icmp_echo_request(1024, 1)
             .build());
  expect(
      "external",
      PacketBuilder()
          .eth(next_hop_mac(), external_mac())
          .ipv4(ipv4(kServer), ipv4(kBlueExternal))
          .icmp(packet::icmp_type::kEchoReply, 0, uint32_t{1024} << 16 | 1)
          .build(),
      Reason::kNatIn, Exit::kToUplink,
      nvgre(to_host1(kBlueVsid), PacketBuilder()
                                     .eth(router(), mac(kBlue5Mac))
                                     .ipv4(ipv4(kServer), ipv4(kCa5), {.ttl = 63})
                                     .icmp(packet::icmp_type::kEchoReply, 0, uint32_t{7} << 16 | 1)
                                     .build()));
}

TEST_F(GatewayTest, AnIcmpErrorAboutAFlowReachesTheVmTranslatedBack) {
  const Bytes vm_packet = vm_udp(mac(kBlue5Mac), kCa5, 40000, kRemote, 9, 64);
  const Outcome out = run("uplink", nvgre(from_host1(kBlueVsid), vm_packet));
  ASSERT_EQ(out.verdict.reason, Reason::kNatOut);
  // The router beyond says "port unreachable", quoting what it got.
  const Bytes quoted(out.frame.begin() + 14, out.frame.begin() + 14 + 28);
  const Bytes error = PacketBuilder()
                          .eth(next_hop_mac(), external_mac())
                          .ipv4(ipv4(kServer), ipv4(kBlueExternal), {.dont_fragment = false})
                          .icmp(packet::icmp_type::kDestinationUnreachable, 3)
                          .payload(quoted)
                          .build();
  // The VM gets it about its own packet: as it left the VM, TTL 63.
  const Bytes vm_quote_source = vm_udp(mac(kBlue5Mac), kCa5, 40000, kRemote, 9, 63);
  const Bytes vm_quote(vm_quote_source.begin() + 14, vm_quote_source.begin() + 14 + 28);
  const Bytes expected = nvgre(
      to_host1(kBlueVsid), PacketBuilder()
                               .eth(router(), mac(kBlue5Mac))
                               .ipv4(ipv4(kServer), ipv4(kCa5), {.ttl = 63, .dont_fragment = false})
                               .icmp(packet::icmp_type::kDestinationUnreachable, 3)
                               .payload(vm_quote)
                               .build());
  expect("external", error, Reason::kNatIcmpError, Exit::kToUplink, expected);
  // About no flow of ours: dropped.
  Bytes forged = error;
  forged[14 + 20 + 8 + 20] ^= 0x01;  // another source port in the quote
  expect("external", forged, Reason::kNatUnsolicited, Exit::kDropped);
}

TEST_F(GatewayTest, TooBigForTheExternalNetworkTheVmIsToldTheMtu) {
  build(gateway_host_policy(), 1400);
  const Bytes big = PacketBuilder()
                        .eth(mac(kBlue5Mac), router())
                        .ipv4(ipv4(kCa5), ipv4(kServer))
                        .udp(40000, 7)
                        .payload(Bytes(1401 - 28, 0xab))
                        .build();
  const Outcome o = run("uplink", nvgre(from_host1(kBlueVsid), big));
  EXPECT_EQ(o.verdict.reason, Reason::kIcmpFragNeeded);
  EXPECT_EQ(o.verdict.exit(), Exit::kToUplink);
  const size_t inner_ip = 42 + 14;
  ASSERT_GE(o.frame.size(), inner_ip + 20 + 8 + 28);
  EXPECT_EQ(net::Ipv4Address::from_bytes(o.frame.data() + inner_ip + 16), ipv4(kCa5));
  EXPECT_EQ(o.frame[inner_ip + 20], packet::icmp_type::kDestinationUnreachable);
  EXPECT_EQ(o.frame[inner_ip + 21], packet::kIcmpCodeFragmentationNeeded);
  EXPECT_EQ(packet::load_be16(o.frame.data() + inner_ip + 26), 1400);
  EXPECT_EQ(nat_->size(), 0u);  // nothing was translated
  // Without DF: dropped and counted.
  Bytes no_df = big;
  no_df[14 + 6] = 0;
  packet::MutableIpv4View::parse(std::span(no_df).subspan(14))->update_checksum();
  expect("uplink", nvgre(from_host1(kBlueVsid), no_df), Reason::kTooBig, Exit::kDropped);
}

TEST_F(GatewayTest, AForwardingGatewayTranslatesNothingAndLetsInOnlyItsPrefixes) {
  const Bytes out = vm_udp(green5(), "10.1.0.5", 5000, kRemote, 53);
  expect("uplink", nvgre(from_host1(kGreenVsid), out), Reason::kForwardedOut, Exit::kToExternal,
         out_udp("10.1.0.5", 5000, kRemote, 53, 63));
  expect("external", external_udp(kRemote, 53, "10.1.0.5", 5000), Reason::kForwardedIn,
         Exit::kToUplink,
         nvgre(to_host1(kGreenVsid), to_vm_udp(green5(), kRemote, 53, "10.1.0.5", 5000, 63)));
  expect("external", external_udp(kRemote, 53, "10.1.0.77", 5000), Reason::kNoLookupRecord,
         Exit::kDropped);
  expect("external", external_udp(kRemote, 53, kGreenExternal, 5000), Reason::kForwardingUnknown,
         Exit::kDropped);
  // Blue's and Red's 10.0.0.5 are behind NAT: not reachable as prefixes.
  expect("external", external_udp(kRemote, 53, kCa5, 5000), Reason::kNotForUs, Exit::kDropped);
}

TEST_F(GatewayTest, TheGatewayTakesOnlyTheDomainsOwnHostsTrafficForTheOutside) {
  // For an address of the VM network itself: not the gateway's business.
  expect("uplink", nvgre(from_host1(kBlueVsid), vm_udp(mac(kBlue5Mac), kCa5, 40000, kCa7, 7)),
         Reason::kNotExternal, Exit::kDropped);
  // From a CA that is no VM of the VSID.
  expect("uplink",
         nvgre(from_host1(kBlueVsid), vm_udp(mac(kBlue5Mac), "10.0.0.99", 40000, kServer, 7)),
         Reason::kSpoofedIp, Exit::kDropped);
  // From a PA that holds none of Blue's records.
  packet::NvgreTunnel stranger = from_host1(kBlueVsid);
  stranger.src_pa = ipv4("192.168.9.9");
  expect("uplink", nvgre(stranger, vm_udp(mac(kBlue5Mac), kCa5, 40000, kServer, 7)),
         Reason::kUnknownSourcePa, Exit::kDropped);
  // TTL 1 does not leave.
  expect("uplink", nvgre(from_host1(kBlueVsid), vm_udp(mac(kBlue5Mac), kCa5, 40000, kServer, 7, 1)),
         Reason::kTtlExpired, Exit::kDropped);
  // The next hop's MAC not known yet: dropped until the kernel resolves it.
  build(gateway_host_policy(), 1500, false);
  EXPECT_EQ(tables_->unresolved_external, std::vector<net::Ipv4Address>{ipv4(kServer)});
  expect("uplink", nvgre(from_host1(kBlueVsid), vm_udp(mac(kBlue5Mac), kCa5, 40000, kServer, 7)),
         Reason::kNoExternalNeighbor, Exit::kDropped);
  // Without NAT state (a host that was given none): dropped, not crashed.
  build(gateway_host_policy());
  Bytes buffer(4096);
  const Bytes in = nvgre(from_host1(kBlueVsid), vm_udp(mac(kBlue5Mac), kCa5, 40000, kServer, 7));
  std::memcpy(buffer.data() + kHeadroom, in.data(), in.size());
  Frame frame{buffer, kHeadroom, static_cast<uint32_t>(in.size())};
  EXPECT_EQ(from_uplink(*tables_, frame).reason, Reason::kNoGatewayState);
}

TEST_F(GatewayTest, AGatewayThatLeavesTheHostTakesItsFlowsWithIt) {
  run("uplink", nvgre(from_host1(kBlueVsid), vm_udp(mac(kBlue5Mac), kCa5, 40000, kServer, 7)));
  run("uplink", nvgre(from_host1(kRedVsid), vm_udp(mac(kRed5Mac), kCa5, 40000, kServer, 7)));
  EXPECT_EQ(nat_->size(), 2u);
  policy::HostPolicy moved = gateway_host_policy();
  moved.gateways[0].pa = ipv4("192.168.3.31");  // Blue's gateway moved to another host
  build(moved);
  EXPECT_EQ(nat_->size(), 1u);
  EXPECT_EQ(nat_->counters(ipv4(kBlueExternal)), nullptr);
  expect("external", external_udp(kServer, 7, kBlueExternal, 40000), Reason::kNotForUs,
         Exit::kDropped);
  expect("external", external_udp(kServer, 7, kRedExternal, 40000), Reason::kNatIn,
         Exit::kToUplink);
}

TEST_F(GatewayTest, TheTraceOnAHostsOwnTablesStopsWhereThePacketLeavesIt) {
  build(vm_host_policy());
  trace::Input in;
  in.to = ipv4(kServer);
  in.protocol = trace::Protocol::kUdp;
  in.port = 53;
  trace::Result r = trace::run_local(in, *tables_, "host1", "vnet-blue5");
  EXPECT_EQ(r.verdict, "forwarded");
  EXPECT_EQ(r.reason, "to_gateway");
  ASSERT_EQ(r.hops.size(), 4u);
  EXPECT_EQ(r.hops[2].detail, "to_gateway: NVGRE to PA 192.168.3.30 with key VSID 5001");
  EXPECT_EQ(r.hops[3].step, "uplink");
  in.nic_id = uuid(0x115);  // Red 5, by NIC id, sending from an address not its own
  in.from = ipv4("10.0.0.99");
  r = trace::run_local(in, *tables_, "host1");
  EXPECT_EQ((std::pair{r.verdict, r.reason}),
            (std::pair<std::string, std::string>{"dropped", "spoofed_ip"}));
  r = trace::run_local(in, *tables_, "host1", "no-such-port");
  EXPECT_EQ(r.reason, "spoofed_ip");  // the NIC id still names Red 5
  in.nic_id = Uuid();
  r = trace::run_local(in, *tables_, "host1", "no-such-port");
  EXPECT_EQ(r.reason, "port_unbound");
}

// The controller's trace keeps the tables of recent policies: the same
// policy object is built once, a new generation (a new object) again, and
// the answer is the same either way.
TEST(TraceTableCache, BuildsEachPolicyOnceAndKeepsTheMostRecent) {
  auto vm = std::make_shared<const policy::HostPolicy>(vm_host_policy());
  auto gw = std::make_shared<const policy::HostPolicy>(gateway_host_policy());
  trace::TableCache cache(1);
  trace::Input in;
  in.nic_id = vm->ports.at(0).nic_id;
  in.to = ipv4(kServer);
  const trace::Result uncached = trace::run(in, {vm, gw});
  const trace::Result first = trace::run(in, {vm, gw}, &cache);
  EXPECT_EQ(first.verdict, uncached.verdict);
  EXPECT_EQ(first.reason, uncached.reason);
  EXPECT_EQ(first.hops.size(), uncached.hops.size());
  const size_t built = cache.builds();
  EXPECT_GE(built, 1u);
  EXPECT_EQ(cache.get(gw), cache.get(gw));
  const size_t after = cache.builds();
  EXPECT_EQ(cache.get(gw).get(), cache.get(gw).get());  // held: no rebuild
  EXPECT_EQ(cache.builds(), after);
  auto newer = std::make_shared<const policy::HostPolicy>(gateway_host_policy());
  cache.get(newer);
  EXPECT_EQ(cache.builds(), after + 1);  // a new generation is built
  cache.get(gw);
  EXPECT_EQ(cache.builds(), after + 2);  // capacity 1: the older one was dropped
}

TEST(NatTable, ARulesPortIsNeverHandedOutAndIsFreeAgainWhenTheRuleGoes) {
  NatTable nat(NatOptions{.capacity = 8, .port_min = 2000, .port_max = 2001});
  const auto blue = ipv4(kBlueExternal);
  nat.sync({{blue, {{packet::ip_protocol::kUdp, 2000}}}});
  auto open = [&](uint16_t ca_port) {
    return nat.outbound(blue, packet::ip_protocol::kUdp, ipv4(kCa5), ca_port, ipv4(kRemote), 53,
                        testing::vsid(kBlueVsid), 0);
  };
  const auto first = open(2000);  // asks for the rule's port: gets the other
  ASSERT_NE(first.flow, nullptr);
  EXPECT_EQ(first.flow->external_port, 2001);
  EXPECT_EQ(open(3000).error, NatTable::Error::kPortsExhausted);
  // The same rules again (every tables swap): nothing changes.
  nat.sync({{blue, {{packet::ip_protocol::kUdp, 2000}}}});
  EXPECT_EQ(open(3000).error, NatTable::Error::kPortsExhausted);
  EXPECT_EQ(nat.size(), 1u);
  // The rule is gone: its port is free, the flow's stays taken.
  nat.sync({{blue, {}}});
  const auto second = open(3000);
  ASSERT_NE(second.flow, nullptr);
  EXPECT_EQ(second.flow->external_port, 2000);
  EXPECT_EQ(open(3001).error, NatTable::Error::kPortsExhausted);
}

TEST(NatTable, ManyFlowsComeAndGoWithoutLosingOne) {
  // The index stays consistent through inserts and deletes that wrap.
  NatTable nat(NatOptions{.capacity = 1000, .port_min = 1024, .port_max = 65535});
  nat.sync({{ipv4(kBlueExternal), {}}});
  uint64_t now = 0;
  std::vector<uint16_t> external(3000);
  for (uint32_t round = 0; round < 3; ++round) {
    for (uint16_t i = 0; i < 1000; ++i) {
      const auto r = nat.outbound(ipv4(kBlueExternal), packet::ip_protocol::kUdp, ipv4(kCa5),
                                  static_cast<uint16_t>(10000 + i), ipv4(kRemote), 53,
                                  testing::vsid(kBlueVsid), now);
      ASSERT_NE(r.flow, nullptr) << round << " " << i;
      external[round * 1000 + i] = r.flow->external_port;
    }
    EXPECT_EQ(nat.size(), 1000u);
    for (uint16_t i = 0; i < 1000; ++i) {
      ASSERT_NE(nat.inbound(ipv4(kBlueExternal), packet::ip_protocol::kUdp,
                            external[round * 1000 + i], ipv4(kRemote), 53, now),
                nullptr);
    }
    now += 31 * kSecond;
    nat.expire(now, 1000);
    EXPECT_EQ(nat.size(), 0u);
  }
  EXPECT_GT(nat.memory_bytes(), 1000 * sizeof(NatFlow));
}

}  // namespace
}  // namespace vnet::agent::dataplane
