// The pure pipeline against its fixture table, and the rules whose answers
// are easier to read parsed than as bytes (DHCP, FlowID).
#include "agent/dataplane/pipeline.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "shared/packet/dhcp.h"
#include "shared/packet/ethernet.h"
#include "shared/packet/ipv4.h"
#include "shared/packet/udp.h"
#include "shared/testing/fixtures.h"
#include "tests/agent/dataplane/pipeline_fixtures.h"

namespace vnet::agent::dataplane {
namespace {

using testing::Bytes;
using testing::ipv4;
using testing::mac;
using testing::PacketBuilder;
namespace fx = testing::dataplane;

constexpr uint32_t kHeadroom = 256;  // what AF_XDP leaves in front of a frame

struct Outcome {
  Verdict verdict;
  std::string out;
  Bytes frame;
};

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override { build(fx::pipeline_policy()); }

  void build(const policy::HostPolicy& policy) {
    HostFacts facts;
    facts.uplink_mac = fx::uplink_mac();
    facts.uplink_mtu = 1500;
    for (const auto& r : policy.lookup_records)
      facts.next_hop_macs[r.pa] = fx::underlay_router_mac();
    tables_ = Tables::build(policy, facts);
  }

  Outcome run(const std::string& in, const Bytes& input) {
    buffer_.assign(4096, 0);
    std::memcpy(buffer_.data() + kHeadroom, input.data(), input.size());
    Frame frame{buffer_, kHeadroom, static_cast<uint32_t>(input.size())};
    Verdict verdict{Reason::kPortUnbound, kNoPort};
    if (in == fx::kUplink) {
      verdict = from_uplink(*tables_, frame);
    } else {
      const uint16_t port = tables_->port_by_interface(in);
      EXPECT_NE(port, kNoPort) << in;
      verdict = from_port(*tables_, port, frame);
    }
    Outcome result{verdict, "", {}};
    if (verdict.out == kUplink) result.out = fx::kUplink;
    if (verdict.out < tables_->ports.size()) result.out = tables_->ports[verdict.out].interface;
    const auto bytes = frame.bytes();
    result.frame.assign(bytes.begin(), bytes.end());
    return result;
  }

  std::shared_ptr<const Tables> tables_;
  Bytes buffer_;
};

std::string hex(const Bytes& bytes) {
  std::string s;
  for (size_t i = 0; i < bytes.size(); ++i) {
    s += fmt::format("{:02x}{}", bytes[i], (i % 16 == 15) ? "\n" : " ");
  }
  return s;
}

TEST_F(PipelineTest, FixtureTable) {
  const auto fixtures = fx::pipeline_fixtures();
  ASSERT_GE(fixtures.size(), 40u);
  for (const fx::Fixture& f : fixtures) {
    SCOPED_TRACE(f.description);
    const Outcome r = run(f.in, f.frame);
    EXPECT_EQ(to_string(r.verdict.reason), to_string(f.reason));
    EXPECT_EQ(r.out, f.out);
    EXPECT_EQ(r.verdict.dropped(), f.out.empty());
    EXPECT_EQ(is_drop(r.verdict.reason), f.out.empty());
    if (f.expected) {
      EXPECT_EQ(r.frame, *f.expected) << "got\n"
                                      << hex(r.frame) << "\nwanted\n"
                                      << hex(*f.expected);
    }
  }
}

// Encapsulation moves the start of the frame 42 bytes back and decapsulation
// 42 forward: the inner frame itself stays where it is.
TEST_F(PipelineTest, EncapsulationAndDecapsulationMoveOnlyTheOffset) {
  const auto fixtures = fx::pipeline_fixtures();
  const fx::Fixture& encap = fixtures[0];
  buffer_.assign(4096, 0);
  std::memcpy(buffer_.data() + kHeadroom, encap.frame.data(), encap.frame.size());
  Frame frame{buffer_, kHeadroom, static_cast<uint32_t>(encap.frame.size())};
  ASSERT_EQ(from_port(*tables_, 0, frame).reason, Reason::kEncapsulated);
  EXPECT_EQ(frame.offset, kHeadroom - 42);
  EXPECT_EQ(frame.length, encap.frame.size() + 42);
  EXPECT_EQ(0, std::memcmp(buffer_.data() + kHeadroom, encap.frame.data(), encap.frame.size()));

  // Decapsulation: the inner frame is where it arrived, 42 bytes in.
  const auto decap = std::find_if(fixtures.begin(), fixtures.end(), [](const fx::Fixture& f) {
    return f.reason == Reason::kDecapsulated;
  });
  ASSERT_NE(decap, fixtures.end());
  buffer_.assign(4096, 0);
  std::memcpy(buffer_.data() + kHeadroom, decap->frame.data(), decap->frame.size());
  frame = Frame{buffer_, kHeadroom, static_cast<uint32_t>(decap->frame.size())};
  ASSERT_EQ(from_uplink(*tables_, frame).reason, Reason::kDecapsulated);
  EXPECT_EQ(frame.offset, kHeadroom + 42);
  EXPECT_EQ(frame.length, decap->frame.size() - 42);
  EXPECT_EQ(frame.buffer.data(), buffer_.data());
}

TEST_F(PipelineTest, HeadroomUnder42BytesIsNotWrittenOutsideTheBuffer) {
  const auto fixtures = fx::pipeline_fixtures();
  Bytes buffer = fixtures[0].frame;  // no headroom at all
  Frame frame{buffer, 0, static_cast<uint32_t>(buffer.size())};
  EXPECT_EQ(from_port(*tables_, 0, frame).reason, Reason::kNoFrame);
}

TEST_F(PipelineTest, UnresolvedUnderlayNeighbourDropsAndIsReported) {
  HostFacts facts;
  facts.uplink_mac = fx::uplink_mac();
  tables_ = Tables::build(fx::pipeline_policy(), facts);
  EXPECT_EQ(tables_->unresolved_pas.size(), 3u);  // host 2's PA, Green 7's and host 3's
  const Outcome r = run("vnet-blue5", fx::pipeline_fixtures()[0].frame);
  EXPECT_EQ(r.verdict.reason, Reason::kNoUnderlayNeighbor);
}

TEST_F(PipelineTest, FlowEntropyGivesOneFlowOneFlowId) {
  auto policy = fx::pipeline_policy();
  policy.provider.flow_entropy = true;
  build(policy);
  std::set<uint8_t> ids;
  for (uint16_t port = 1000; port < 1064; ++port) {
    const Bytes frame = testing::PacketBuilder()
                            .eth(mac(testing::seed::kBlue5Mac), mac(testing::seed::kBlue7Mac))
                            .ipv4(ipv4("10.0.0.5"), ipv4("10.0.0.7"))
                            .udp(port, 53)
                            .build();
    const Outcome a = run("vnet-blue5", frame);
    const Outcome b = run("vnet-blue5", frame);
    ASSERT_EQ(a.verdict.reason, Reason::kEncapsulated);
    const uint32_t key = packet::load_be32(a.frame.data() + 38);
    EXPECT_EQ(key >> 8, testing::seed::kBlueVsid);
    EXPECT_EQ(a.frame, b.frame);  // the same flow, the same FlowID
    ids.insert(static_cast<uint8_t>(key));
  }
  EXPECT_GT(ids.size(), 32u);  // 64 flows spread over the 256 FlowIDs
}

class DhcpTest : public PipelineTest {
 protected:
  // The answer to `request` from port vnet-blue5, parsed down to DHCP.
  struct Answer {
    Reason reason;
    Bytes frame;
    net::Ipv4Address ip_src, ip_dst;
    net::MacAddress eth_dst;
  };
  Answer ask(const Bytes& request) {
    const Outcome r = run("vnet-blue5", request);
    Answer a{r.verdict.reason, r.frame, {}, {}, {}};
    if (r.verdict.dropped()) return a;
    EXPECT_EQ(r.out, "vnet-blue5");
    const auto eth = packet::EthernetView::parse(a.frame);
    const auto ip = packet::Ipv4View::parse(eth->payload());
    EXPECT_TRUE(ip->checksum_ok());
    const auto udp = packet::UdpView::parse(ip->payload());
    EXPECT_EQ(udp->src_port(), 67);
    EXPECT_EQ(udp->dst_port(), 68);
    EXPECT_TRUE(udp->checksum_ok(ip->src(), ip->dst()));
    EXPECT_EQ(eth->src(), kRouterMac);
    a.ip_src = ip->src();
    a.ip_dst = ip->dst();
    a.eth_dst = eth->dst();
    return a;
  }
  static packet::DhcpView dhcp_of(const Bytes& frame) {
    return *packet::DhcpView::parse(
        packet::UdpView::parse(packet::Ipv4View::parse(std::span(frame).subspan(14))->payload())
            ->payload());
  }
};

TEST_F(DhcpTest, DiscoverGetsAnOfferOfThePortsAddressWithEverythingAVmNeeds) {
  const auto a = ask(testing::dhcp_client_frame(mac(testing::seed::kBlue5Mac),
                                                packet::DhcpMessageType::kDiscover, 0x1234));
  ASSERT_EQ(a.reason, Reason::kDhcpOffer);
  const auto offer = dhcp_of(a.frame);
  EXPECT_EQ(offer.message_type(), packet::DhcpMessageType::kOffer);
  EXPECT_EQ(offer.xid(), 0x1234u);
  EXPECT_EQ(offer.yiaddr(), ipv4("10.0.0.5"));
  EXPECT_EQ(offer.subnet_mask(), ipv4("255.255.255.0"));
  EXPECT_EQ(offer.router(), ipv4("10.0.0.1"));
  EXPECT_EQ(offer.server_id(), ipv4("10.0.0.1"));
  ASSERT_TRUE(offer.dns_servers());
  EXPECT_EQ(net::Ipv4Address::from_bytes(offer.dns_servers()->data()), ipv4("10.0.0.2"));
  EXPECT_EQ(offer.interface_mtu(), 1458);  // uplink 1500 - 42
  EXPECT_EQ(offer.lease_time(), kDhcpLeaseSeconds);
  EXPECT_EQ(offer.client_mac(), mac(testing::seed::kBlue5Mac));
  // The client asked for a broadcast answer (flags 0x8000).
  EXPECT_EQ(a.ip_dst, ipv4("255.255.255.255"));
  EXPECT_EQ(a.eth_dst, net::MacAddress::broadcast());
  EXPECT_EQ(a.ip_src, ipv4("10.0.0.1"));
}

TEST_F(DhcpTest, RequestOfThePortsAddressIsAckedAnyOtherNaked) {
  const auto blue5 = mac(testing::seed::kBlue5Mac);
  const auto ack = ask(
      testing::dhcp_client_frame(blue5, packet::DhcpMessageType::kRequest, 7, ipv4("10.0.0.5")));
  ASSERT_EQ(ack.reason, Reason::kDhcpAck);
  EXPECT_EQ(dhcp_of(ack.frame).message_type(), packet::DhcpMessageType::kAck);
  EXPECT_EQ(dhcp_of(ack.frame).yiaddr(), ipv4("10.0.0.5"));

  const auto nak = ask(
      testing::dhcp_client_frame(blue5, packet::DhcpMessageType::kRequest, 8, ipv4("10.0.0.9")));
  ASSERT_EQ(nak.reason, Reason::kDhcpNak);
  EXPECT_EQ(dhcp_of(nak.frame).message_type(), packet::DhcpMessageType::kNak);
  EXPECT_EQ(dhcp_of(nak.frame).yiaddr(), net::Ipv4Address());
}

TEST_F(DhcpTest, ReleaseAndOtherClientsAreNotAnswered) {
  const auto blue5 = mac(testing::seed::kBlue5Mac);
  EXPECT_EQ(ask(testing::dhcp_client_frame(blue5, packet::DhcpMessageType::kRelease, 1)).reason,
            Reason::kDhcpIgnored);
  // chaddr of another VM inside a frame from this port.
  Bytes other = testing::dhcp_client_frame(mac(testing::seed::kRed5Mac),
                                           packet::DhcpMessageType::kDiscover, 2);
  blue5.to_bytes(other.data() + 6);
  EXPECT_EQ(ask(other).reason, Reason::kSpoofedMac);
  // Not DHCP at all: garbage after the UDP header to port 67.
  const Bytes garbage = testing::PacketBuilder()
                            .eth(blue5, net::MacAddress::broadcast())
                            .ipv4(net::Ipv4Address(), ipv4("255.255.255.255"))
                            .udp(68, 67)
                            .payload("nonsense")
                            .build();
  EXPECT_EQ(ask(garbage).reason, Reason::kDhcpMalformed);
}

// DHCP tells the VM the controller's MTU, or less when this host's uplink
// cannot carry it with NVGRE's 42 bytes; the engine holds it to the same.
TEST_F(DhcpTest, MtuIsTheSmallerOfThePolicysAndTheUplinksLess42) {
  HostFacts facts;
  facts.uplink_mac = fx::uplink_mac();
  facts.uplink_mtu = 1400;
  for (const auto& r : fx::pipeline_policy().lookup_records) {
    facts.next_hop_macs[r.pa] = fx::underlay_router_mac();
  }
  tables_ = Tables::build(fx::pipeline_policy(), facts);
  const auto a = ask(testing::dhcp_client_frame(mac(testing::seed::kBlue5Mac),
                                                packet::DhcpMessageType::kDiscover, 9));
  ASSERT_EQ(a.reason, Reason::kDhcpOffer);
  EXPECT_EQ(dhcp_of(a.frame).interface_mtu(), 1358);
  // A 1359-byte DF packet gets "fragmentation needed" with 1358.
  const Bytes big = testing::PacketBuilder()
                        .eth(mac(testing::seed::kBlue5Mac), mac(testing::seed::kBlue7Mac))
                        .ipv4(ipv4("10.0.0.5"), ipv4("10.0.0.7"))
                        .udp(1, 2)
                        .payload(Bytes(1359 - 28, 0))
                        .build();
  const Outcome r = run("vnet-blue5", big);
  ASSERT_EQ(r.verdict.reason, Reason::kIcmpFragNeeded);
  EXPECT_EQ(packet::load_be16(r.frame.data() + 14 + 20 + 6), 1358);
}

// A port profile's bandwidth_max_mbps (issue 19): a token bucket per port,
// refilled by the time the pipeline is given. A VM offering 1 Gbit/s into a
// 100 Mbit/s limit for one simulated second gets 100 Mbit through, plus
// the bucket's 60 ms burst, and nothing more; its neighbour without a limit
// gets all it sends.
TEST_F(PipelineTest, ABandwidthLimitPassesItsRateAndDropsTheRest) {
  policy::HostPolicy p = fx::pipeline_policy();
  p.ports[0].profile.bandwidth_max_mbps = 100;  // Blue 5
  build(p);
  const uint16_t limited = tables_->port_by_interface("vnet-blue5");
  const uint16_t free = tables_->port_by_interface("vnet-red5");
  std::vector<PortMeter> meters(tables_->ports.size());
  Context ctx{nullptr, 0, meters};
  const Bytes blue = PacketBuilder()
                         .eth(tables_->ports[limited].mac, mac(testing::seed::kBlue7Mac))
                         .ipv4(ipv4(testing::seed::kCa5), ipv4(testing::seed::kCa7))
                         .udp(40000, 7)
                         .payload(Bytes(1250 - 42, 0))
                         .build();  // 1250 bytes: 10,000 bits
  const Bytes red = PacketBuilder()
                        .eth(tables_->ports[free].mac, mac(testing::seed::kRed7Mac))
                        .ipv4(ipv4(testing::seed::kCa5), ipv4(testing::seed::kCa7))
                        .udp(40000, 7)
                        .payload(Bytes(1250 - 42, 0))
                        .build();
  ASSERT_EQ(blue.size(), 1250u);
  size_t passed = 0, limited_drops = 0, red_passed = 0;
  const uint64_t start = 5'000'000'000;     // any clock: only differences count
  for (uint64_t k = 0; k < 100'000; ++k) {  // one every 10 us: 1 Gbit/s for 1 s
    ctx.now = start + k * 10'000;
    for (const auto& [port, bytes] : {std::pair{limited, &blue}, std::pair{free, &red}}) {
      buffer_.assign(4096, 0);
      std::memcpy(buffer_.data() + kHeadroom, bytes->data(), bytes->size());
      Frame frame{buffer_, kHeadroom, static_cast<uint32_t>(bytes->size())};
      const Verdict v = from_port(*tables_, ctx, port, frame);
      if (port == free) {
        red_passed += v.dropped() ? 0 : 1;
      } else if (v.reason == Reason::kBandwidthLimited) {
        ++limited_drops;
      } else {
        ASSERT_EQ(v.reason, Reason::kEncapsulated);
        ++passed;
      }
    }
  }
  // 100 Mbit/s x 0.99999 s + the 60 ms burst (6,000,000 bits), in frames
  // of 10,000 bits: 10,599 or 10,600.
  EXPECT_GE(passed, 10'599u);
  EXPECT_LE(passed, 10'600u);
  EXPECT_EQ(passed + limited_drops, 100'000u);
  EXPECT_EQ(red_passed, 100'000u);
  // Without meters (the trace, a single packet) nothing is limited.
  buffer_.assign(4096, 0);
  std::memcpy(buffer_.data() + kHeadroom, blue.data(), blue.size());
  Frame frame{buffer_, kHeadroom, static_cast<uint32_t>(blue.size())};
  EXPECT_EQ(from_port(*tables_, limited, frame).reason, Reason::kEncapsulated);
}

// A port's share of a congested uplink (share_uplink, set by the engine)
// polices it like a maximum, and the lower of the two wins.
TEST_F(PipelineTest, AShareOfACongestedUplinkPolicesItsPortAndTheLowerRateWins) {
  policy::HostPolicy p = fx::pipeline_policy();
  p.ports[0].profile.bandwidth_max_mbps = 100;  // Blue 5: max 100, share 300
  build(p);
  const uint16_t blue_port = tables_->port_by_interface("vnet-blue5");
  const uint16_t red_port = tables_->port_by_interface("vnet-red5");  // share 50, no max
  std::vector<PortMeter> meters(tables_->ports.size());
  std::vector<std::atomic<uint32_t>> shares(tables_->ports.size());
  shares[blue_port] = 300;
  shares[red_port] = 50;
  Context ctx{nullptr, 0, meters, shares};
  auto frame_of = [&](uint16_t port, std::string_view to_mac) {
    return PacketBuilder()
        .eth(tables_->ports[port].mac, mac(to_mac))
        .ipv4(ipv4(testing::seed::kCa5), ipv4(testing::seed::kCa7))
        .udp(40000, 7)
        .payload(Bytes(1250 - 42, 0))
        .build();  // 10,000 bits
  };
  const Bytes blue = frame_of(blue_port, testing::seed::kBlue7Mac);
  const Bytes red = frame_of(red_port, testing::seed::kRed7Mac);
  std::map<uint16_t, size_t> passed;
  for (uint64_t k = 0; k < 100'000; ++k) {  // 1 Gbit/s each for 1 s
    ctx.now = 1'000'000'000 + k * 10'000;
    for (const auto& [port, bytes] : {std::pair{blue_port, &blue}, std::pair{red_port, &red}}) {
      buffer_.assign(4096, 0);
      std::memcpy(buffer_.data() + kHeadroom, bytes->data(), bytes->size());
      Frame frame{buffer_, kHeadroom, static_cast<uint32_t>(bytes->size())};
      const Verdict v = from_port(*tables_, ctx, port, frame);
      if (!v.dropped()) {
        ++passed[port];
      } else {
        // Named for what held it: blue its maximum, red its share.
        ASSERT_EQ(v.reason, port == blue_port ? Reason::kBandwidthLimited : Reason::kUplinkShare);
      }
    }
  }
  // Rate x 1 s + 60 ms of burst (at least two jumbo frames), in frames of
  // 10,000 bits: blue its maximum, 100 Mbit/s; red its share, 50 Mbit/s.
  EXPECT_NEAR(double(passed[blue_port]), 10'600, 2);
  EXPECT_NEAR(double(passed[red_port]), 5'300, 2);
}

// share_uplink: max-min fair by weight, minimums first, maximums kept.
TEST(ShareUplink, WeightsMinimumsAndMaximumsOfACongestedUplink) {
  struct Case {
    const char* what;
    uint32_t capacity;
    std::vector<PortDemand> demands;
    bool congested;
    std::vector<uint32_t> rates;
  };
  const std::vector<Case> cases = {
      {"what they send fits: no shares",
       1000,
       {{.offered_mbps = 300}, {.offered_mbps = 400}},
       false,
       {0, 0}},
      {"weights 1 and 3",
       400,
       {{.offered_mbps = 1000, .weight = 1}, {.offered_mbps = 1000, .weight = 3}},
       true,
       {100, 300}},
      {"a minimum comes first, the rest by weight",
       300,
       {{.offered_mbps = 1000, .min_mbps = 240, .weight = 1}, {.offered_mbps = 1000, .weight = 3}},
       true,
       {240, 60}},
      {"a light sender leaves its part to the others and may grow to its level",
       300,
       {{.offered_mbps = 20}, {.offered_mbps = 1000}},
       true,
       {275, 275}},
      {"an idle port takes nothing from the others",
       120,
       {{.offered_mbps = 500}, {.offered_mbps = 500, .weight = 3}, {}, {}},
       true,
       {30, 90, 30, 30}},
      {"a maximum caps a heavy weight",
       300,
       {{.offered_mbps = 1000, .max_mbps = 50, .weight = 5}, {.offered_mbps = 1000}},
       true,
       {50, 250}},
      {"minimums beyond the uplink are scaled together",
       300,
       {{.offered_mbps = 1000, .min_mbps = 300},
        {.offered_mbps = 1000, .min_mbps = 300},
        {.offered_mbps = 1000}},
       true,
       {150, 150, 1}},
      {"no capacity: never shared", 0, {{.offered_mbps = 1000}}, false, {0}},
  };
  for (const Case& c : cases) {
    std::vector<uint32_t> rates(c.demands.size(), 7);
    EXPECT_EQ(share_uplink(c.capacity, c.demands, rates), c.congested) << c.what;
    ASSERT_EQ(rates.size(), c.rates.size());
    for (size_t i = 0; i < rates.size(); ++i)
      EXPECT_EQ(rates[i], c.rates[i]) << c.what << ", port " << i;
  }
  EXPECT_EQ(policed_rate(100, 0), 100u);
  EXPECT_EQ(policed_rate(100, 300), 100u);
  EXPECT_EQ(policed_rate(100, 40), 40u);
  EXPECT_EQ(policed_rate(0, 40), 40u);
  EXPECT_EQ(policed_rate(0, 0), 0u);
}

// New tables (any policy change on the host) keep each port's bucket: a
// limited VM must not get a fresh burst whenever something else changes.
TEST_F(PipelineTest, NewTablesCarryEachPortsBucketAndNewPortsStartFull) {
  policy::HostPolicy p = fx::pipeline_policy();
  p.ports[0].profile.bandwidth_max_mbps = 100;
  build(p);
  const auto before = tables_;
  std::vector<PortMeter> meters(before->ports.size());
  const uint16_t blue = before->port_by_interface("vnet-blue5");
  ASSERT_TRUE(meters[blue].admit(100, 1'000, 1'000));  // started: credit taken
  const uint64_t credit = meters[blue].credit;
  // The next policy: Blue 5's port moves to the end, and Red 5's NIC is
  // another NIC now (same MAC and interface).
  std::rotate(p.ports.begin(), p.ports.begin() + 1, p.ports.end());
  const auto red = std::find_if(p.ports.begin(), p.ports.end(),
                                [](const auto& port) { return port.interface == "vnet-red5"; });
  const uint16_t red_before = before->port_by_interface("vnet-red5");
  ASSERT_TRUE(meters[red_before].admit(100, 1'000, 1'000));
  red->nic_id = testing::uuid(0x999);
  build(p);
  const std::vector<PortMeter> carried = carry_meters(before.get(), meters, *tables_);
  ASSERT_EQ(carried.size(), tables_->ports.size());
  const uint16_t blue_now = tables_->port_by_interface("vnet-blue5");
  EXPECT_NE(blue_now, blue);
  EXPECT_TRUE(carried[blue_now].started);
  EXPECT_EQ(carried[blue_now].credit, credit);
  EXPECT_EQ(carried[blue_now].last, 1'000u);
  EXPECT_FALSE(carried[tables_->port_by_interface("vnet-red5")].started) << "another NIC";
  // The first tables of a thread: every bucket starts full.
  for (const PortMeter& m : carry_meters(nullptr, {}, *tables_)) EXPECT_FALSE(m.started);
}

TEST(ReasonTest, NamesAreUniqueSnakeCase) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < kReasonCount; ++i) {
    const auto name = to_string(static_cast<Reason>(i));
    EXPECT_TRUE(names.insert(name).second) << name;
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_0123456789"),
              std::string_view::npos);
  }
}

}  // namespace
}  // namespace vnet::agent::dataplane
