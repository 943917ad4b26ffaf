// Parsers against hostile input: a table of malformed packets with the error
// each must give, and sweeps over every truncation and every single-byte
// change of valid frames, checking that each view stays inside its input.
// The sanitizer build (scripts/test) runs this too, so an out-of-bounds read
// fails even when it happens not to crash.
#include <gtest/gtest.h>

#include <functional>

#include "shared/packet/arp.h"
#include "shared/packet/dhcp.h"
#include "shared/packet/ethernet.h"
#include "shared/packet/gre.h"
#include "shared/packet/icmp.h"
#include "shared/packet/ipv4.h"
#include "shared/packet/ipv6.h"
#include "shared/packet/nvgre.h"
#include "shared/packet/tcp.h"
#include "shared/packet/udp.h"
#include "shared/testing/fixtures.h"
#include "shared/testing/packet_builder.h"

namespace vnet::packet {
namespace {

using testing::Bytes;
using testing::ipv4;
using testing::mac;
using testing::PacketBuilder;

using Parser = std::function<std::optional<ParseError>(std::span<const uint8_t>)>;

template <class View>
Parser parser() {
  return [](std::span<const uint8_t> data) -> std::optional<ParseError> {
    auto v = View::parse(data);
    if (v) return std::nullopt;
    return v.error();
  };
}

struct MalformedCase {
  const char* description;
  Parser parse;
  Bytes input;
  ParseError expected;
};

TEST(Malformed, EachParserNamesWhatIsWrong) {
  const MalformedCase cases[] = {
      {"empty ethernet", parser<EthernetView>(), {}, ParseError::kTruncated},
      {"802.1ad tag cut short", parser<EthernetView>(),
       Bytes{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x88, 0xa8, 0}, ParseError::kTruncated},
      {"arp 27 bytes", parser<ArpView>(), Bytes(27, 0), ParseError::kTruncated},
      {"arp for tokenring", parser<ArpView>(),
       Bytes{0, 4, 8, 0, 6, 4, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
       ParseError::kUnsupported},
      {"ipv4 19 bytes", parser<Ipv4View>(), Bytes(19, 0x45), ParseError::kTruncated},
      {"ipv4 version 0", parser<Ipv4View>(), Bytes(20, 0), ParseError::kBadVersion},
      {"ipv4 ihl 0", parser<Ipv4View>(),
       Bytes{0x40, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
       ParseError::kBadHeaderLength},
      {"ipv4 total length 0", parser<Ipv4View>(),
       Bytes{0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
       ParseError::kBadLength},
      {"ipv4 total length past the end", parser<Ipv4View>(),
       Bytes{0x45, 0, 0xff, 0xff, 0, 0, 0, 0, 64, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
       ParseError::kTruncated},
      {"ipv6 39 bytes", parser<Ipv6View>(), Bytes(39, 0x60), ParseError::kTruncated},
      {"ipv6 version 4", parser<Ipv6View>(), Bytes(40, 0x40), ParseError::kBadVersion},
      {"icmp 7 bytes", parser<IcmpView>(), Bytes(7, 0), ParseError::kTruncated},
      {"udp 7 bytes", parser<UdpView>(), Bytes(7, 0), ParseError::kTruncated},
      {"udp length 0", parser<UdpView>(), Bytes(8, 0), ParseError::kBadLength},
      {"tcp 19 bytes", parser<TcpView>(), Bytes(19, 0), ParseError::kTruncated},
      {"tcp data offset 0", parser<TcpView>(), Bytes(20, 0), ParseError::kBadHeaderLength},
      {"gre 3 bytes", parser<GreView>(), Bytes{0x20, 0, 0x65}, ParseError::kTruncated},
      {"gre key missing", parser<GreView>(), Bytes{0x20, 0, 0x65, 0x58, 0, 0},
       ParseError::kTruncated},
      {"gre version 7", parser<GreView>(), Bytes{0x00, 0x07, 0x65, 0x58}, ParseError::kBadVersion},
      {"gre routing bit", parser<GreView>(), Bytes{0x40, 0x00, 0x65, 0x58}, ParseError::kBadFlags},
      {"dhcp 239 bytes", parser<DhcpView>(), Bytes(239, 0), ParseError::kTruncated},
      {"dhcp no cookie", parser<DhcpView>(), Bytes(240, 0), ParseError::kBadMagic},
      {"nvgre too short", parser<NvgreFrame>(), Bytes(13, 0), ParseError::kTruncated},
  };
  for (const auto& c : cases) {
    const auto error = c.parse(c.input);
    ASSERT_TRUE(error.has_value()) << c.description << ": parsed";
    EXPECT_EQ(*error, c.expected) << c.description << ": got " << to_string(*error);
  }
}

bool inside(std::span<const uint8_t> part, std::span<const uint8_t> whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

// Parses as deep as the frame goes, checking every span against the input.
// Returns how many layers parsed.
int dissect(std::span<const uint8_t> frame) {
  auto eth = EthernetView::parse(frame);
  if (!eth) return 0;
  EXPECT_TRUE(inside(eth->payload(), frame));
  int layers = 1;
  if (eth->ether_type() == ether_type::kArp) {
    auto arp = ArpView::parse(eth->payload());
    if (arp) {
      EXPECT_TRUE(inside(arp->bytes(), frame));
    }
    return layers + (arp ? 1 : 0);
  }
  if (eth->ether_type() == ether_type::kIpv6) {
    auto ip6 = Ipv6View::parse(eth->payload());
    if (ip6) {
      EXPECT_TRUE(inside(ip6->payload(), frame));
    }
    return layers + (ip6 ? 1 : 0);
  }
  auto ip = Ipv4View::parse(eth->payload());
  if (!ip) return layers;
  ++layers;
  EXPECT_TRUE(inside(ip->packet(), frame));
  EXPECT_TRUE(inside(ip->options(), frame));
  switch (ip->protocol()) {
    case ip_protocol::kUdp: {
      auto udp = UdpView::parse(ip->payload());
      if (!udp) return layers;
      EXPECT_TRUE(inside(udp->datagram(), frame));
      auto dhcp = DhcpView::parse(udp->payload());
      if (!dhcp) return layers + 1;
      EXPECT_TRUE(inside(dhcp->bytes(), frame));
      for (uint8_t code = 1; code < 255; ++code) {
        if (auto o = dhcp->option(code)) {
          EXPECT_TRUE(inside(*o, frame));
        }
      }
      (void)dhcp->message_type(), (void)dhcp->dns_servers(), (void)dhcp->lease_time();
      return layers + 2;
    }
    case ip_protocol::kTcp: {
      auto tcp = TcpView::parse(ip->payload());
      if (tcp) {
        EXPECT_TRUE(inside(tcp->payload(), frame) && inside(tcp->options(), frame));
      }
      return layers + (tcp ? 1 : 0);
    }
    case ip_protocol::kIcmp: {
      auto icmp = IcmpView::parse(ip->payload());
      if (icmp) {
        EXPECT_TRUE(inside(icmp->body(), frame));
      }
      return layers + (icmp ? 1 : 0);
    }
    case ip_protocol::kGre: {
      auto gre = GreView::parse(ip->payload());
      if (!gre) return layers;
      EXPECT_TRUE(inside(gre->payload(), frame));
      (void)gre->key(), (void)gre->sequence(), (void)gre->checksum();
      auto nvgre = NvgreFrame::parse(frame);
      if (!nvgre) return layers + 1;
      EXPECT_TRUE(inside(nvgre->inner(), frame));
      return layers + 1 + dissect(nvgre->inner());
    }
  }
  return layers;
}

std::vector<Bytes> valid_frames() {
  const auto vm = mac("00:1D:D8:B7:1C:05");
  const auto peer = mac("00:1D:D8:B7:1C:07");
  const auto inner = PacketBuilder()
                         .eth(vm, peer)
                         .ipv4(ipv4("10.0.0.5"), ipv4("10.0.0.7"))
                         .tcp(1, 2)
                         .payload("data")
                         .build();
  return {
      PacketBuilder()
          .eth(vm, net::MacAddress::broadcast())
          .arp({.sender_mac = vm, .sender_ip = ipv4("10.0.0.5"), .target_ip = ipv4("10.0.0.7")})
          .build(),
      PacketBuilder()
          .eth(vm, peer)
          .vlan(7)
          .ipv4(ipv4("10.0.0.5"), ipv4("10.0.0.7"), {.options = {1, 1, 1, 0}})
          .udp(9, 9)
          .payload("abc")
          .build(),
      PacketBuilder()
          .eth(vm, peer)
          .ipv4(ipv4("10.0.0.5"), ipv4("10.0.0.7"))
          .icmp_echo_request(1, 1)
          .payload("ping")
          .build(),
      PacketBuilder()
          .eth(vm, peer)
          .ipv6(testing::ipv6("fe80::1"), testing::ipv6("fe80::2"))
          .udp(1, 2)
          .build(),
      testing::dhcp_client_frame(vm, DhcpMessageType::kDiscover, 7),
      PacketBuilder()
          .nvgre({.src_mac = vm,
                  .dst_mac = peer,
                  .src_pa = ipv4("192.168.1.10"),
                  .dst_pa = ipv4("192.168.2.20"),
                  .vsid = testing::vsid(5001)})
          .payload(inner)
          .build(),
  };
}

TEST(Malformed, ValidFramesParseAllTheWay) {
  const int expected_layers[] = {2, 3, 3, 2, 4, 3 + 3};
  const auto frames = valid_frames();
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(dissect(frames[i]), expected_layers[i]) << "frame " << i;
  }
}

TEST(Malformed, EveryTruncationStaysInBounds) {
  for (const auto& frame : valid_frames()) {
    const int full = dissect(frame);
    for (size_t len = 0; len < frame.size(); ++len) {
      // A copy of exactly `len` bytes, so the sanitizer sees any overread.
      const Bytes cut(frame.begin(), frame.begin() + static_cast<long>(len));
      EXPECT_LE(dissect(cut), full) << "length " << len;
    }
  }
}

TEST(Malformed, EverySingleByteChangeStaysInBounds) {
  for (const auto& frame : valid_frames()) {
    for (size_t at = 0; at < frame.size(); ++at) {
      for (uint8_t value :
           {uint8_t{0x00}, uint8_t{0xff}, uint8_t{0x7f}, static_cast<uint8_t>(frame[at] ^ 0x0f)}) {
        Bytes changed = frame;
        changed[at] = value;
        dissect(changed);
      }
    }
  }
}

}  // namespace
}  // namespace vnet::packet
