#include <gtest/gtest.h>

#include <cstring>

#include "shared/packet/arp.h"
#include "shared/packet/ethernet.h"
#include "shared/testing/fixtures.h"
#include "shared/testing/packet_builder.h"

namespace vnet::packet {
namespace {

using testing::ipv4;
using testing::mac;
using testing::PacketBuilder;

TEST(Ethernet, ParsesUntaggedFrames) {
  const auto frame = PacketBuilder()
                         .eth(mac("00:1D:D8:B7:1C:05"), mac("00:1D:D8:B7:1C:07"))
                         .ipv4(ipv4("10.0.0.5"), ipv4("10.0.0.7"))
                         .udp(1, 2)
                         .build();
  auto eth = EthernetView::parse(frame);
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->src(), mac("00:1D:D8:B7:1C:05"));
  EXPECT_EQ(eth->dst(), mac("00:1D:D8:B7:1C:07"));
  EXPECT_EQ(eth->ether_type(), ether_type::kIpv4);
  EXPECT_FALSE(eth->has_vlan_tag());
  EXPECT_EQ(eth->header_length(), 14u);
  EXPECT_EQ(eth->payload().size(), frame.size() - 14);
  EXPECT_EQ(eth->payload().data(), frame.data() + 14);  // a view, not a copy
}

TEST(Ethernet, Recognises8021QTags) {
  const auto frame = PacketBuilder()
                         .eth(mac("02:00:00:00:00:01"), mac("02:00:00:00:00:02"))
                         .vlan(100, 5)
                         .ipv4(ipv4("10.0.0.5"), ipv4("10.0.0.7"))
                         .build();
  EXPECT_EQ(frame[12], 0x81);
  EXPECT_EQ(frame[13], 0x00);
  auto eth = EthernetView::parse(frame);
  ASSERT_TRUE(eth);
  EXPECT_TRUE(eth->has_vlan_tag());
  EXPECT_EQ(eth->vlan_id(), 100);
  EXPECT_EQ(eth->vlan_tci() >> 13, 5);
  EXPECT_EQ(eth->ether_type(), ether_type::kIpv4);  // the one after the tag
  EXPECT_EQ(eth->header_length(), 18u);
}

TEST(Ethernet, TruncatedHeadersAndTags) {
  const uint8_t thirteen[13] = {};
  EXPECT_EQ(EthernetView::parse(thirteen).error(), ParseError::kTruncated);
  uint8_t tagged[17] = {};
  tagged[12] = 0x81;
  EXPECT_EQ(EthernetView::parse(tagged).error(), ParseError::kTruncated);
  const uint8_t empty_payload[14] = {};
  ASSERT_TRUE(EthernetView::parse(empty_payload));
  EXPECT_TRUE(EthernetView::parse(empty_payload)->payload().empty());
}

TEST(Ethernet, WritableViewRewritesMacs) {
  auto frame =
      PacketBuilder().eth(mac("02:00:00:00:00:01"), mac("02:00:00:00:00:02")).payload("x").build();
  auto eth = MutableEthernetView::parse(frame);
  ASSERT_TRUE(eth);
  eth->set_src(mac("00:1D:D8:00:00:01"));
  eth->set_dst(mac("00:1D:D8:B7:1C:07"));
  EXPECT_EQ(EthernetView::parse(frame)->src(), mac("00:1D:D8:00:00:01"));
  EXPECT_EQ(EthernetView::parse(frame)->dst(), mac("00:1D:D8:B7:1C:07"));
}

TEST(Arp, RequestRoundTrip) {
  const ArpMessage request{.operation = arp_op::kRequest,
                           .sender_mac = mac("00:1D:D8:B7:1C:05"),
                           .sender_ip = ipv4("10.0.0.5"),
                           .target_mac = net::MacAddress(),
                           .target_ip = ipv4("10.0.0.7")};
  const auto frame =
      PacketBuilder().eth(request.sender_mac, net::MacAddress::broadcast()).arp(request).build();
  ASSERT_EQ(frame.size(), 14u + 28u);
  auto eth = EthernetView::parse(frame);
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->ether_type(), ether_type::kArp);
  auto arp = ArpView::parse(eth->payload());
  ASSERT_TRUE(arp);
  EXPECT_TRUE(arp->is_request());
  EXPECT_EQ(arp->sender_mac(), request.sender_mac);
  EXPECT_EQ(arp->sender_ip(), request.sender_ip);
  EXPECT_EQ(arp->target_ip(), request.target_ip);
  EXPECT_TRUE(arp->target_mac().is_zero());
}

TEST(Arp, BytesOfAReplyAreRfc826) {
  uint8_t out[28];
  ASSERT_EQ((ArpMessage{.operation = arp_op::kReply,
                        .sender_mac = mac("00:1D:D8:B7:1C:07"),
                        .sender_ip = ipv4("10.0.0.7"),
                        .target_mac = mac("00:1D:D8:B7:1C:05"),
                        .target_ip = ipv4("10.0.0.5")}
                 .write(out)),
            28u);
  const uint8_t expected[28] = {0x00, 0x01, 0x08, 0x00, 6,  4, 0x00, 0x02, 0x00, 0x1d,
                                0xd8, 0xb7, 0x1c, 0x07, 10, 0, 0,    7,    0x00, 0x1d,
                                0xd8, 0xb7, 0x1c, 0x05, 10, 0, 0,    5};
  EXPECT_EQ(std::memcmp(out, expected, 28), 0);
  uint8_t small[27];
  EXPECT_EQ(ArpMessage{}.write(small), 0u);
}

TEST(Arp, RejectsOtherHardwareAndProtocols) {
  uint8_t arp[28] = {0x00, 0x06, 0x08, 0x00, 6, 4, 0, 1};  // IEEE 802 hardware
  EXPECT_EQ(ArpView::parse(arp).error(), ParseError::kUnsupported);
  arp[1] = 1;
  arp[2] = 0x86, arp[3] = 0xdd;  // IPv6 protocol
  EXPECT_EQ(ArpView::parse(arp).error(), ParseError::kUnsupported);
  arp[2] = 0x08, arp[3] = 0x00, arp[5] = 16;
  EXPECT_EQ(ArpView::parse(arp).error(), ParseError::kUnsupported);
  arp[5] = 4;
  EXPECT_TRUE(ArpView::parse(arp));
  EXPECT_EQ(ArpView::parse(std::span(arp, 27)).error(), ParseError::kTruncated);
}

}  // namespace
}  // namespace vnet::packet
