// ICMPv4, UDP, TCP and the IPv6 fixed header.
#include <gtest/gtest.h>

#include <cstring>

#include "shared/packet/icmp.h"
#include "shared/packet/ipv4.h"
#include "shared/packet/ipv6.h"
#include "shared/packet/tcp.h"
#include "shared/packet/udp.h"
#include "shared/testing/fixtures.h"
#include "shared/testing/packet_builder.h"

namespace vnet::packet {
namespace {

using testing::ipv4;
using testing::ipv6;
using testing::PacketBuilder;

const auto kSrc = ipv4("10.0.0.5");
const auto kDst = ipv4("10.0.0.7");

TEST(Udp, ParsesAndVerifiesTheChecksum) {
  const auto packet = PacketBuilder().ipv4(kSrc, kDst).udp(5353, 53).payload("query").build();
  auto ip = Ipv4View::parse(packet);
  auto udp = UdpView::parse(ip->payload());
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->src_port(), 5353);
  EXPECT_EQ(udp->dst_port(), 53);
  EXPECT_EQ(udp->length(), 13);
  EXPECT_EQ(std::string(udp->payload().begin(), udp->payload().end()), "query");
  EXPECT_NE(udp->checksum(), 0);
  EXPECT_TRUE(udp->checksum_ok(kSrc, kDst));
  EXPECT_FALSE(udp->checksum_ok(kSrc, ipv4("10.0.0.8")));  // the pseudo-header counts
}

TEST(Udp, ZeroChecksumMeansNone) {
  const auto packet = PacketBuilder().ipv4(kSrc, kDst).udp(1, 2, /*zero_checksum=*/true).build();
  auto udp = UdpView::parse(Ipv4View::parse(packet)->payload());
  EXPECT_EQ(udp->checksum(), 0);
  EXPECT_TRUE(udp->checksum_ok(kSrc, kDst));
}

TEST(Udp, ComputedZeroIsSentAsAllOnes) { EXPECT_EQ(udp_wire_checksum(0), 0xffff); }

TEST(Udp, WriterMatchesTheBuilder) {
  const auto built = PacketBuilder().ipv4(kSrc, kDst).udp(67, 68).payload("offer").build();
  std::vector<uint8_t> out(8 + 5);
  std::memcpy(out.data() + 8, "offer", 5);
  ASSERT_EQ((UdpHeader{67, 68}.write(out, 5, kSrc, kDst)), 8u);
  EXPECT_EQ(out, std::vector<uint8_t>(built.begin() + 20, built.end()));
}

TEST(Udp, LengthFieldIsChecked) {
  uint8_t datagram[12] = {0, 1, 0, 2, 0, 7};  // length 7 < 8
  EXPECT_EQ(UdpView::parse(datagram).error(), ParseError::kBadLength);
  datagram[5] = 13;  // 13 > 12 bytes present
  EXPECT_EQ(UdpView::parse(datagram).error(), ParseError::kTruncated);
  datagram[5] = 10;  // the payload ends at the length field
  EXPECT_EQ(UdpView::parse(datagram)->payload().size(), 2u);
  EXPECT_EQ(UdpView::parse(std::span(datagram, 7)).error(), ParseError::kTruncated);
}

TEST(Tcp, ParsesHeaderOptionsAndPayload) {
  // MSS option (kind 2, length 4, 1460).
  const auto packet = PacketBuilder()
                          .ipv4(kSrc, kDst)
                          .tcp(40000, 80,
                               {.sequence = 1000,
                                .acknowledgement = 2000,
                                .flags = tcp_flag::kSyn | tcp_flag::kAck,
                                .window = 29200,
                                .options = {2, 4, 0x05, 0xb4}})
                          .payload("GET /")
                          .build();
  auto ip = Ipv4View::parse(packet);
  EXPECT_EQ(ip->protocol(), ip_protocol::kTcp);
  auto tcp = TcpView::parse(ip->payload());
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->src_port(), 40000);
  EXPECT_EQ(tcp->dst_port(), 80);
  EXPECT_EQ(tcp->sequence(), 1000u);
  EXPECT_EQ(tcp->acknowledgement(), 2000u);
  EXPECT_EQ(tcp->flags(), tcp_flag::kSyn | tcp_flag::kAck);
  EXPECT_EQ(tcp->window(), 29200);
  EXPECT_EQ(tcp->header_length(), 24u);
  ASSERT_EQ(tcp->options().size(), 4u);
  EXPECT_EQ(tcp->options()[3], 0xb4);
  EXPECT_EQ(std::string(tcp->payload().begin(), tcp->payload().end()), "GET /");
  EXPECT_TRUE(tcp->checksum_ok(kSrc, kDst));
}

TEST(Tcp, WriterProducesAValidChecksum) {
  std::vector<uint8_t> segment(20 + 3);
  std::memcpy(segment.data() + 20, "abc", 3);
  ASSERT_EQ((TcpHeader{.src_port = 1, .dst_port = 2}.write(segment, 3, kSrc, kDst)), 20u);
  auto tcp = TcpView::parse(segment);
  ASSERT_TRUE(tcp);
  EXPECT_TRUE(tcp->checksum_ok(kSrc, kDst));
  segment[22] ^= 1;
  EXPECT_FALSE(TcpView::parse(segment)->checksum_ok(kSrc, kDst));
}

TEST(Tcp, DataOffsetIsChecked) {
  uint8_t segment[20] = {};
  segment[12] = 4 << 4;
  EXPECT_EQ(TcpView::parse(segment).error(), ParseError::kBadHeaderLength);
  segment[12] = 6 << 4;  // 24 bytes of header in 20
  EXPECT_EQ(TcpView::parse(segment).error(), ParseError::kTruncated);
  segment[12] = 5 << 4;
  EXPECT_TRUE(TcpView::parse(segment));
}

TEST(Icmp, EchoRequest) {
  const auto packet =
      PacketBuilder().ipv4(kSrc, kDst).icmp_echo_request(0x77, 3).payload("ping").build();
  auto ip = Ipv4View::parse(packet);
  EXPECT_EQ(ip->protocol(), ip_protocol::kIcmp);
  auto icmp = IcmpView::parse(ip->payload());
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->type(), icmp_type::kEchoRequest);
  EXPECT_EQ(icmp->identifier(), 0x77);
  EXPECT_EQ(icmp->sequence(), 3);
  EXPECT_EQ(icmp->body().size(), 4u);
  EXPECT_TRUE(icmp->checksum_ok());
}

TEST(Icmp, FragmentationNeededCarriesTheMtu) {
  // RFC 1191: type 3 code 4, next-hop MTU in the low 16 bits of the second word.
  std::vector<uint8_t> out(8 + 28);
  ASSERT_EQ((IcmpHeader{.type = icmp_type::kDestinationUnreachable,
                        .code = kIcmpCodeFragmentationNeeded,
                        .rest = 1458}
                 .write(out, 28)),
            8u);
  auto icmp = IcmpView::parse(out);
  EXPECT_EQ(icmp->next_hop_mtu(), 1458);
  EXPECT_EQ(out[4], 0);
  EXPECT_EQ(out[5], 0);
  EXPECT_TRUE(icmp->checksum_ok());
  EXPECT_EQ(IcmpView::parse(std::span(out.data(), 7)).error(), ParseError::kTruncated);
}

TEST(Ipv6, FixedHeader) {
  const auto packet = PacketBuilder()
                          .ipv6(ipv6("2001:db8::5"), ipv6("2001:db8::7"), 9)
                          .udp(1, 2)
                          .payload("x")
                          .build();
  auto ip = Ipv6View::parse(packet);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->src(), ipv6("2001:db8::5"));
  EXPECT_EQ(ip->dst(), ipv6("2001:db8::7"));
  EXPECT_EQ(ip->hop_limit(), 9);
  EXPECT_EQ(ip->next_header(), ip_protocol::kUdp);
  EXPECT_EQ(ip->payload_length(), 9);
  EXPECT_EQ(ip->payload().size(), 9u);
  auto v4 = packet;
  v4[0] = 0x45;
  EXPECT_EQ(Ipv6View::parse(v4).error(), ParseError::kBadVersion);
  EXPECT_EQ(Ipv6View::parse(std::span(packet.data(), packet.size() - 1)).error(),
            ParseError::kTruncated);
  EXPECT_EQ(Ipv6View::parse(std::span(packet.data(), 39)).error(), ParseError::kTruncated);
}

TEST(Ipv6, HeaderWriterEncodesTrafficClassAndFlowLabel) {
  uint8_t out[40];
  ASSERT_EQ(
      (Ipv6Header{
          .src = ipv6("::1"), .dst = ipv6("::2"), .traffic_class = 0xb8, .flow_label = 0xabcde}
           .write(out, 0)),
      40u);
  auto ip = Ipv6View::parse(out);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->traffic_class(), 0xb8);
  EXPECT_EQ(ip->flow_label(), 0xabcdeu);
}

}  // namespace
}  // namespace vnet::packet
