#include "shared/packet/ipv4.h"

#include <gtest/gtest.h>

#include <cstring>

#include "shared/packet/ethernet.h"
#include "shared/testing/fixtures.h"
#include "shared/testing/packet_builder.h"

namespace vnet::packet {
namespace {

using testing::ipv4;
using testing::PacketBuilder;

std::vector<uint8_t> ip_packet(testing::Ipv4Fields fields = {},
                               std::string_view payload = "hello") {
  auto frame = PacketBuilder()
                   .ipv4(ipv4("10.0.0.5"), ipv4("10.0.0.7"), std::move(fields))
                   .udp(1000, 2000)
                   .payload(payload)
                   .build();
  return frame;
}

TEST(Ipv4, ParsesHeaderFields) {
  const auto packet = ip_packet({.ttl = 17, .tos = 0xb8, .identification = 0x1234});
  auto ip = Ipv4View::parse(packet);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->header_length(), 20u);
  EXPECT_EQ(ip->total_length(), 20 + 8 + 5);
  EXPECT_EQ(ip->ttl(), 17);
  EXPECT_EQ(ip->tos(), 0xb8);
  EXPECT_EQ(ip->dscp(), 46);  // EF
  EXPECT_EQ(ip->identification(), 0x1234);
  EXPECT_EQ(ip->protocol(), ip_protocol::kUdp);
  EXPECT_TRUE(ip->dont_fragment());
  EXPECT_FALSE(ip->is_fragment());
  EXPECT_EQ(ip->src(), ipv4("10.0.0.5"));
  EXPECT_EQ(ip->dst(), ipv4("10.0.0.7"));
  EXPECT_TRUE(ip->checksum_ok());
  EXPECT_EQ(ip->compute_checksum(), ip->checksum());
  EXPECT_EQ(ip->payload().size(), 13u);
}

TEST(Ipv4, CarriesOptions) {
  // Router Alert (RFC 2113): type 148, length 4, value 0.
  const auto packet = ip_packet({.options = {148, 4, 0, 0}});
  auto ip = Ipv4View::parse(packet);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->header_length(), 24u);
  ASSERT_EQ(ip->options().size(), 4u);
  EXPECT_EQ(ip->options()[0], 148);
  EXPECT_TRUE(ip->checksum_ok());
  EXPECT_EQ(ip->payload().size(), 13u);
  EXPECT_EQ(ip->payload()[0], 1000 >> 8);  // the UDP source port follows the options
}

TEST(Ipv4, PayloadStopsAtTotalLengthNotAtEthernetPadding) {
  auto packet = ip_packet({}, "");
  packet.resize(packet.size() + 18, 0);  // a 60-byte minimum frame pads like this
  auto ip = Ipv4View::parse(packet);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->payload().size(), 8u);
  EXPECT_EQ(ip->packet().size(), 28u);
}

TEST(Ipv4, Fragments) {
  EXPECT_TRUE(
      Ipv4View::parse(ip_packet({.dont_fragment = false, .more_fragments = true}))->is_fragment());
  auto later = ip_packet({.dont_fragment = false, .fragment_offset = 185});
  EXPECT_EQ(Ipv4View::parse(later)->fragment_offset(), 185);
  EXPECT_TRUE(Ipv4View::parse(later)->is_fragment());
}

TEST(Ipv4, MalformedHeaders) {
  const auto good = ip_packet();
  auto v6 = good;
  v6[0] = 0x65;
  EXPECT_EQ(Ipv4View::parse(v6).error(), ParseError::kBadVersion);
  auto short_ihl = good;
  short_ihl[0] = 0x44;
  EXPECT_EQ(Ipv4View::parse(short_ihl).error(), ParseError::kBadHeaderLength);
  auto long_ihl = good;
  long_ihl[0] = 0x4f;  // 60 bytes of header in a 33-byte packet
  EXPECT_EQ(Ipv4View::parse(long_ihl).error(), ParseError::kTruncated);
  EXPECT_EQ(Ipv4View::parse(ip_packet({.total_length = 19})).error(), ParseError::kBadLength);
  EXPECT_EQ(Ipv4View::parse(ip_packet({.total_length = 34})).error(), ParseError::kTruncated);
  EXPECT_FALSE(Ipv4View::parse(ip_packet({.bad_checksum = true}))->checksum_ok());
}

TEST(Ipv4, RewritesKeepTheChecksumRight) {
  auto packet = ip_packet();
  auto ip = MutableIpv4View::parse(packet);
  ASSERT_TRUE(ip);
  ip->set_src(ipv4("192.168.1.10"));
  ip->set_dst(ipv4("192.168.2.20"));
  ip->set_ttl(ip->ttl() - 1);
  auto reread = Ipv4View::parse(packet);
  EXPECT_EQ(reread->src(), ipv4("192.168.1.10"));
  EXPECT_EQ(reread->dst(), ipv4("192.168.2.20"));
  EXPECT_EQ(reread->ttl(), 63);
  EXPECT_TRUE(reread->checksum_ok());
  // Same value as a full recomputation.
  EXPECT_EQ(reread->checksum(), reread->compute_checksum());
}

TEST(Ipv4, HeaderWriterFillsLengthAndChecksum) {
  uint8_t out[20];
  ASSERT_EQ((Ipv4Header{.src = ipv4("192.168.0.1"),
                        .dst = ipv4("192.168.0.199"),
                        .protocol = ip_protocol::kUdp,
                        .ttl = 64}
                 .write(out, 0x73 - 20)),
            20u);
  // Same bytes as the checksum test's reference header (b861).
  const uint8_t expected[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                              0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(std::memcmp(out, expected, 20), 0);
  EXPECT_EQ(Ipv4Header{}.write(out, 65516), 0u);  // over 65535 bytes
  EXPECT_EQ(Ipv4Header{}.write(std::span(out, 19), 0), 0u);
}

}  // namespace
}  // namespace vnet::packet
