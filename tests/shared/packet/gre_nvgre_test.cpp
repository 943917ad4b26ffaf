#include <gtest/gtest.h>

#include <cstring>

#include "shared/packet/gre.h"
#include "shared/packet/nvgre.h"
#include "shared/packet/udp.h"
#include "shared/testing/fixtures.h"
#include "shared/testing/packet_builder.h"

namespace vnet::packet {
namespace {

using testing::ipv4;
using testing::mac;
using testing::PacketBuilder;
using testing::vsid;

NvgreTunnel host1_to_host2(uint8_t flow_id = 0) {
  return {.src_mac = mac("02:00:00:00:01:10"),
          .dst_mac = mac("02:00:00:00:01:01"),
          .src_pa = ipv4("192.168.1.10"),
          .dst_pa = ipv4("192.168.2.20"),
          .vsid = vsid(5001),
          .flow_id = flow_id};
}

std::vector<uint8_t> blue_frame(std::string_view payload = "hello from blue") {
  return PacketBuilder()
      .eth(mac("00:1D:D8:B7:1C:05"), mac("00:1D:D8:B7:1C:07"))
      .ipv4(ipv4("10.0.0.5"), ipv4("10.0.0.7"))
      .udp(4000, 5000)
      .payload(payload)
      .build();
}

TEST(Gre, Rfc2890OptionalFields) {
  // C, K and S all present: checksum+reserved1, key, sequence in that order.
  uint8_t gre[16] = {0xb0, 0x00, 0x65, 0x58, 0xab, 0xcd, 0, 0, 0x00, 0x13, 0x89, 0x07, 0, 0, 0, 42};
  auto view = GreView::parse(gre);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->header_length(), 16u);
  EXPECT_EQ(view->checksum(), 0xabcd);
  EXPECT_EQ(view->key(), 0x00138907u);
  EXPECT_EQ(view->sequence(), 42u);
  EXPECT_EQ(view->protocol(), ether_type::kTransparentEthernetBridging);
  EXPECT_TRUE(view->payload().empty());
  gre[0] = 0x10;  // S only
  EXPECT_EQ(GreView::parse(gre)->header_length(), 8u);
  EXPECT_EQ(GreView::parse(gre)->sequence(), 0xabcd0000u);
  EXPECT_FALSE(GreView::parse(gre)->key());
  gre[0] = 0x00;
  EXPECT_EQ(GreView::parse(gre)->header_length(), 4u);
}

TEST(Gre, DiscardsWhatRfc2784SaysToDiscard) {
  uint8_t gre[8] = {0x20, 0x00, 0x65, 0x58, 0, 0, 0, 0};
  ASSERT_TRUE(GreView::parse(gre));
  gre[1] = 0x01;  // version 1 (PPTP's enhanced GRE)
  EXPECT_EQ(GreView::parse(gre).error(), ParseError::kBadVersion);
  gre[1] = 0x00;
  for (uint8_t bit : {0x40, 0x08, 0x04}) {  // routing, strict source route, recursion MSB
    gre[0] = static_cast<uint8_t>(0x20 | bit);
    EXPECT_EQ(GreView::parse(gre).error(), ParseError::kBadFlags) << int(bit);
  }
  gre[0] = 0x23;  // bits 6 and 7 are ignored on receipt
  gre[1] = 0xf8;  // ... and so are bits 8-12
  EXPECT_TRUE(GreView::parse(gre));
  gre[0] = 0xa0;  // C and K: 12 bytes needed
  EXPECT_EQ(GreView::parse(gre).error(), ParseError::kTruncated);
}

TEST(Nvgre, EncapsulationWritesRfc7637Bytes) {
  const auto inner = blue_frame();
  std::vector<uint8_t> buffer(256 + inner.size());
  std::copy(inner.begin(), inner.end(), buffer.begin() + 256);
  const auto frame = encapsulate_nvgre(buffer, 256, inner.size(), host1_to_host2());
  ASSERT_EQ(frame.size(), 42 + inner.size());
  EXPECT_EQ(frame.data(), buffer.data() + 256 - 42);  // in place: the inner frame did not move

  const uint8_t* outer = frame.data();
  EXPECT_EQ(net::MacAddress::from_bytes(outer), mac("02:00:00:00:01:01"));      // next hop
  EXPECT_EQ(net::MacAddress::from_bytes(outer + 6), mac("02:00:00:00:01:10"));  // our uplink
  EXPECT_EQ(load_be16(outer + 12), ether_type::kIpv4);
  const uint8_t* ip = outer + 14;
  EXPECT_EQ(ip[0], 0x45);
  EXPECT_EQ(load_be16(ip + 2), 20 + 8 + inner.size());
  EXPECT_EQ(load_be16(ip + 6), kIpv4FlagDontFragment);  // DF, no fragment offset
  EXPECT_EQ(ip[8], 64);
  EXPECT_EQ(ip[9], ip_protocol::kGre);
  const uint8_t* gre = ip + 20;
  const uint8_t expected_gre[8] = {0x20, 0x00, 0x65, 0x58, 0x00, 0x13, 0x89, 0x00};
  EXPECT_EQ(std::memcmp(gre, expected_gre, 8), 0);
  EXPECT_EQ(std::memcmp(gre + 8, inner.data(), inner.size()), 0);
}

TEST(Nvgre, FlowIdIsTheLowByteOfTheKey) {
  const auto inner = blue_frame();
  std::vector<uint8_t> buffer(64 + inner.size());
  std::copy(inner.begin(), inner.end(), buffer.begin() + 64);
  const auto frame = encapsulate_nvgre(buffer, 64, inner.size(), host1_to_host2(0xa7));
  auto parsed = NvgreFrame::parse(frame);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->key(), 0x001389a7u);
  EXPECT_EQ(parsed->vsid(), vsid(5001));
  EXPECT_EQ(parsed->flow_id(), 0xa7);
}

TEST(Nvgre, EncapsulateThenParseIsTheIdentityOnTheInnerFrame) {
  for (size_t payload_len : {0u, 1u, 18u, 1000u, 1430u}) {
    const auto inner = blue_frame(std::string(payload_len, 'x'));
    std::vector<uint8_t> buffer(42 + inner.size());
    std::copy(inner.begin(), inner.end(), buffer.begin() + 42);
    const auto frame = encapsulate_nvgre(buffer, 42, inner.size(), host1_to_host2());
    auto parsed = NvgreFrame::parse(frame);
    ASSERT_TRUE(parsed) << payload_len;
    EXPECT_TRUE(parsed->outer_ipv4().checksum_ok());
    EXPECT_EQ(parsed->outer_ipv4().src(), ipv4("192.168.1.10"));
    EXPECT_EQ(parsed->outer_ipv4().dst(), ipv4("192.168.2.20"));
    EXPECT_EQ(std::vector<uint8_t>(parsed->inner().begin(), parsed->inner().end()), inner);
  }
}

TEST(Nvgre, MatchesThePacketBuilder) {
  const auto inner = blue_frame();
  const auto built = PacketBuilder().nvgre(host1_to_host2()).payload(inner).build();
  std::vector<uint8_t> buffer(42 + inner.size());
  std::copy(inner.begin(), inner.end(), buffer.begin() + 42);
  const auto frame = encapsulate_nvgre(buffer, 42, inner.size(), host1_to_host2());
  EXPECT_EQ(std::vector<uint8_t>(frame.begin(), frame.end()), built);
}

TEST(Nvgre, RefusesWithoutHeadroomOrPastTheMaximumSize) {
  std::vector<uint8_t> buffer(41 + 60);
  EXPECT_TRUE(encapsulate_nvgre(buffer, 41, 60, host1_to_host2()).empty());
  std::vector<uint8_t> big(42 + 65535);
  EXPECT_TRUE(encapsulate_nvgre(big, 42, 65535 - 20 - 8 + 1, host1_to_host2()).empty());
  EXPECT_FALSE(encapsulate_nvgre(big, 42, 65535 - 20 - 8, host1_to_host2()).empty());
  EXPECT_TRUE(encapsulate_nvgre(buffer, 42, 60, host1_to_host2()).empty());  // 42 + 60 > 101
}

TEST(Nvgre, ParseRejectsWhatIsNotNvgre) {
  const auto inner = blue_frame();
  auto with_flags = [&](uint16_t flags,
                        uint16_t protocol = ether_type::kTransparentEthernetBridging) {
    return PacketBuilder()
        .eth(mac("02:00:00:00:01:01"), mac("02:00:00:00:01:10"))
        .ipv4(ipv4("192.168.2.20"), ipv4("192.168.1.10"))
        .gre(0x00138900, protocol, flags)
        .payload(inner)
        .build();
  };
  EXPECT_TRUE(NvgreFrame::parse(with_flags(0x2000)));
  EXPECT_EQ(NvgreFrame::parse(with_flags(0x3000)).error(), ParseError::kUnsupported);  // + sequence
  EXPECT_EQ(NvgreFrame::parse(with_flags(0xa000)).error(), ParseError::kUnsupported);  // + checksum
  EXPECT_EQ(NvgreFrame::parse(with_flags(0x2000, ether_type::kIpv4)).error(),
            ParseError::kUnsupported);
  EXPECT_EQ(NvgreFrame::parse(with_flags(0x2001)).error(), ParseError::kBadVersion);

  const auto not_gre = blue_frame();
  EXPECT_EQ(NvgreFrame::parse(not_gre).error(), ParseError::kUnsupported);

  auto fragment = PacketBuilder()
                      .eth(mac("02:00:00:00:01:01"), mac("02:00:00:00:01:10"))
                      .ipv4(ipv4("192.168.2.20"), ipv4("192.168.1.10"),
                            {.dont_fragment = false, .more_fragments = true})
                      .gre(0x00138900)
                      .payload(inner)
                      .build();
  EXPECT_EQ(NvgreFrame::parse(fragment).error(), ParseError::kUnsupported);

  auto short_inner = PacketBuilder()
                         .eth(mac("02:00:00:00:01:01"), mac("02:00:00:00:01:10"))
                         .ipv4(ipv4("192.168.2.20"), ipv4("192.168.1.10"))
                         .gre(0x00138900)
                         .payload(std::vector<uint8_t>(13, 0))
                         .build();
  EXPECT_EQ(NvgreFrame::parse(short_inner).error(), ParseError::kTruncated);
}

TEST(Nvgre, DecapsulationIsASpanOverTheSameBytes) {
  const auto inner = blue_frame();
  auto frame = PacketBuilder().nvgre(host1_to_host2()).payload(inner).build();
  auto parsed = MutableNvgreFrame::parse(frame);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->inner().data(), frame.data() + 42);
  auto inner_eth = MutableEthernetView::parse(parsed->inner());
  inner_eth->set_dst(mac("00:1D:D8:00:00:01"));  // writes through to the frame
  EXPECT_EQ(frame[42 + 5], 0x01);
}

}  // namespace
}  // namespace vnet::packet
