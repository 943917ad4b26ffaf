#include "shared/packet/dhcp.h"

#include <gtest/gtest.h>

#include "shared/packet/ethernet.h"
#include "shared/packet/ipv4.h"
#include "shared/packet/udp.h"
#include "shared/testing/fixtures.h"
#include "shared/testing/packet_builder.h"

namespace vnet::packet {
namespace {

using testing::ipv4;
using testing::mac;

const auto kClient = mac("00:1D:D8:B7:1C:05");

// An OFFER as the agent will send it for DESIGN.md's seed scenario 4.
std::vector<uint8_t> offer_message() {
  std::vector<uint8_t> out(576);
  const net::Ipv4Address dns[] = {ipv4("10.10.0.2"), ipv4("10.10.0.3")};
  DhcpWriter writer(out);
  writer
      .begin({.op = dhcp_op::kBootReply,
              .xid = 0xdeadbeef,
              .yiaddr = ipv4("10.10.1.100"),
              .siaddr = ipv4("10.10.0.1"),
              .chaddr = kClient})
      .message_type(DhcpMessageType::kOffer)
      .address(dhcp_option::kServerId, ipv4("10.10.0.1"))
      .u32(dhcp_option::kLeaseTime, 86400)
      .address(dhcp_option::kSubnetMask, ipv4("255.255.0.0"))
      .address(dhcp_option::kRouter, ipv4("10.10.0.1"))
      .addresses(dhcp_option::kDnsServers, dns)
      .u16(dhcp_option::kInterfaceMtu, 1458);
  out.resize(writer.finish());
  return out;
}

TEST(Dhcp, OfferRoundTrip) {
  const auto message = offer_message();
  ASSERT_EQ(message.size(), kDhcpMinMessageLen);  // padded to the BOOTP minimum
  auto dhcp = DhcpView::parse(message);
  ASSERT_TRUE(dhcp);
  EXPECT_EQ(dhcp->op(), dhcp_op::kBootReply);
  EXPECT_EQ(dhcp->xid(), 0xdeadbeefu);
  EXPECT_EQ(dhcp->yiaddr(), ipv4("10.10.1.100"));
  EXPECT_EQ(dhcp->client_mac(), kClient);
  EXPECT_EQ(dhcp->message_type(), DhcpMessageType::kOffer);
  EXPECT_EQ(dhcp->server_id(), ipv4("10.10.0.1"));
  EXPECT_EQ(dhcp->lease_time(), 86400u);
  EXPECT_EQ(dhcp->subnet_mask(), ipv4("255.255.0.0"));
  EXPECT_EQ(dhcp->router(), ipv4("10.10.0.1"));
  EXPECT_EQ(dhcp->interface_mtu(), 1458);
  const auto dns = dhcp->dns_servers();
  ASSERT_TRUE(dns);
  ASSERT_EQ(dns->size(), 8u);
  EXPECT_EQ(net::Ipv4Address::from_bytes(dns->data() + 4), ipv4("10.10.0.3"));
  EXPECT_FALSE(dhcp->requested_address());
  EXPECT_FALSE(dhcp->client_id());
}

TEST(Dhcp, OptionBytesAreRfc2132) {
  const auto message = offer_message();
  EXPECT_EQ(load_be32(message.data() + 236), 0x63825363u);
  // The first option: 53, length 1, OFFER (2).
  EXPECT_EQ(message[240], 53);
  EXPECT_EQ(message[241], 1);
  EXPECT_EQ(message[242], 2);
}

TEST(Dhcp, ClientDiscoverFromTheBuilder) {
  const auto frame =
      testing::dhcp_client_frame(kClient, DhcpMessageType::kRequest, 42, ipv4("10.10.1.100"));
  auto eth = EthernetView::parse(frame);
  ASSERT_TRUE(eth);
  EXPECT_TRUE(eth->dst().is_broadcast());
  auto ip = Ipv4View::parse(eth->payload());
  ASSERT_TRUE(ip);
  EXPECT_TRUE(ip->src().is_unspecified());
  EXPECT_TRUE(ip->dst().is_broadcast());
  auto udp = UdpView::parse(ip->payload());
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->dst_port(), kDhcpServerPort);
  EXPECT_TRUE(udp->checksum_ok(ip->src(), ip->dst()));
  auto dhcp = DhcpView::parse(udp->payload());
  ASSERT_TRUE(dhcp);
  EXPECT_EQ(dhcp->op(), dhcp_op::kBootRequest);
  EXPECT_TRUE(dhcp->broadcast_flag());
  EXPECT_EQ(dhcp->message_type(), DhcpMessageType::kRequest);
  EXPECT_EQ(dhcp->requested_address(), ipv4("10.10.1.100"));
  const auto wanted = dhcp->parameter_request_list();
  ASSERT_TRUE(wanted);
  EXPECT_EQ(std::vector<uint8_t>(wanted->begin(), wanted->end()),
            (std::vector<uint8_t>{1, 3, 6, 26}));
}

TEST(Dhcp, PadsAndClientIdentifier) {
  std::vector<uint8_t> out(400);
  const uint8_t client_id[] = {1, 0x00, 0x1d, 0xd8, 0xb7, 0x1c, 0x05};
  DhcpWriter writer(out);
  writer.begin({.op = dhcp_op::kBootRequest, .chaddr = kClient})
      .option(dhcp_option::kPad, {})  // a zero-length "option" is legal to write
      .option(dhcp_option::kClientId, client_id)
      .message_type(DhcpMessageType::kDiscover);
  out.resize(writer.finish());
  auto dhcp = DhcpView::parse(out);
  ASSERT_TRUE(dhcp);
  ASSERT_TRUE(dhcp->client_id());
  EXPECT_EQ(dhcp->client_id()->size(), 7u);
  EXPECT_EQ(dhcp->message_type(), DhcpMessageType::kDiscover);
}

TEST(Dhcp, Malformed) {
  auto message = offer_message();
  EXPECT_EQ(DhcpView::parse(std::span(message.data(), 239)).error(), ParseError::kTruncated);
  auto bad_cookie = message;
  bad_cookie[239] = 0x64;
  EXPECT_EQ(DhcpView::parse(bad_cookie).error(), ParseError::kBadMagic);
  // An option whose length runs past the end.
  std::vector<uint8_t> overrun(message.begin(), message.begin() + 240);
  overrun.insert(overrun.end(), {53, 5, 1});
  EXPECT_EQ(DhcpView::parse(overrun).error(), ParseError::kBadOption);
  // A code without its length byte.
  std::vector<uint8_t> no_length(message.begin(), message.begin() + 240);
  no_length.push_back(53);
  EXPECT_EQ(DhcpView::parse(no_length).error(), ParseError::kBadOption);
  // Options may end at the end of the packet without an End option.
  std::vector<uint8_t> no_end(message.begin(), message.begin() + 243);
  ASSERT_TRUE(DhcpView::parse(no_end));
  EXPECT_EQ(DhcpView::parse(no_end)->message_type(), DhcpMessageType::kOffer);
  // Wrong-length typed options read as absent rather than misread.
  std::vector<uint8_t> odd(message.begin(), message.begin() + 240);
  odd.insert(odd.end(), {53, 2, 1, 1, 1, 3, 10, 0, 0, 6, 5, 1, 2, 3, 4, 5, 26, 1, 9, 255});
  auto view = DhcpView::parse(odd);
  ASSERT_TRUE(view);
  EXPECT_FALSE(view->message_type());
  EXPECT_FALSE(view->subnet_mask());
  EXPECT_FALSE(view->dns_servers());
  EXPECT_FALSE(view->interface_mtu());
}

TEST(Dhcp, WriterReportsOverflow) {
  std::vector<uint8_t> small(250);
  DhcpWriter writer(small);
  writer.begin({}).message_type(DhcpMessageType::kAck).u32(dhcp_option::kLeaseTime, 1);
  EXPECT_EQ(writer.finish(), 0u);  // 250 < the 300-byte minimum
  std::vector<uint8_t> tiny(100);
  EXPECT_EQ(DhcpWriter(tiny).begin({}).finish(), 0u);
  std::vector<uint8_t> exact(246);
  DhcpWriter fits(exact);
  // 240 + 3 (type) + ... an option that leaves no room for End fails.
  fits.begin({})
      .message_type(DhcpMessageType::kAck)
      .option(dhcp_option::kRouter, std::vector<uint8_t>(2));
  EXPECT_EQ(fits.finish(), 0u);
}

}  // namespace
}  // namespace vnet::packet
