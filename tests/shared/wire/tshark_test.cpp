// What vnet writes, read back by an independent decoder: frames go to a pcap
// file and tshark (Wireshark's dissectors) must see the fields we meant.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "shared/packet/arp.h"
#include "shared/packet/dhcp.h"
#include "shared/packet/nvgre.h"
#include "shared/testing/fixtures.h"
#include "shared/testing/packet_builder.h"
#include "shared/testing/pcap.h"
#include "tests/support/skip.h"

namespace vnet::packet {
namespace {

using testing::Bytes;
using testing::ipv4;
using testing::mac;
using testing::PacketBuilder;

class TsharkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tshark_ = testing::find_program("tshark");
    VNET_REQUIRE_OR_SKIP(!tshark_.empty(), "tshark is not installed (scripts/setup installs it)");
    dir_ = std::filesystem::temp_directory_path() /
           ("vnet-wire-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // The values tshark gives for `fields` of the first frame, by field name.
  std::map<std::string, std::string> decode(const Bytes& frame,
                                            const std::vector<std::string>& fields) {
    const auto pcap = (dir_ / "frame.pcap").string();
    EXPECT_TRUE(testing::write_pcap(pcap, {frame}));
    std::string command =
        tshark_ + " -n -r " + pcap + " -T fields -E separator=/t -E occurrence=a -E aggregator=,";
    for (const auto& f : fields) command += " -e " + f;
    command += " 2>/dev/null";
    std::string out;
    if (FILE* p = popen(command.c_str(), "r")) {
      std::array<char, 4096> buffer;
      size_t n;
      while ((n = fread(buffer.data(), 1, buffer.size(), p)) > 0) out.append(buffer.data(), n);
      EXPECT_EQ(pclose(p), 0) << command;
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    std::map<std::string, std::string> values;
    std::istringstream columns(out);
    std::string value;
    for (const auto& f : fields) {
      std::getline(columns, value, '\t');
      values[f] = value;
    }
    return values;
  }

  std::string tshark_;
  std::filesystem::path dir_;
};

TEST_F(TsharkTest, NvgreDecodesAsGreWithVsidKeyAndTheInnerFrame) {
  const auto inner = PacketBuilder()
                         .eth(mac("00:1D:D8:B7:1C:05"), mac("00:1D:D8:B7:1C:07"))
                         .ipv4(ipv4("10.0.0.5"), ipv4("10.0.0.7"))
                         .icmp_echo_request(1, 1)
                         .payload("ping")
                         .build();
  Bytes buffer(42 + inner.size());
  std::copy(inner.begin(), inner.end(), buffer.begin() + 42);
  const auto frame = encapsulate_nvgre(buffer, 42, inner.size(),
                                       {.src_mac = mac("02:00:00:00:01:10"),
                                        .dst_mac = mac("02:00:00:00:01:01"),
                                        .src_pa = ipv4("192.168.1.10"),
                                        .dst_pa = ipv4("192.168.2.20"),
                                        .vsid = testing::vsid(5001),
                                        .flow_id = 0x2a});
  const auto v =
      decode(Bytes(frame.begin(), frame.end()),
             {"ip.src", "ip.dst", "ip.proto", "ip.flags.df", "ip.ttl", "ip.checksum.status",
              "gre.flags_and_version", "gre.proto", "gre.key", "eth.src", "eth.dst", "icmp.type"});
  EXPECT_EQ(v.at("ip.src"), "192.168.1.10,10.0.0.5");
  EXPECT_EQ(v.at("ip.dst"), "192.168.2.20,10.0.0.7");
  EXPECT_EQ(v.at("ip.proto"), "47,1");
  EXPECT_EQ(v.at("ip.flags.df").substr(0, 1), "1");
  EXPECT_EQ(v.at("ip.ttl").substr(0, 2), "64");
  EXPECT_EQ(v.at("gre.flags_and_version"), "0x2000");
  EXPECT_EQ(v.at("gre.proto"), "0x6558");
  EXPECT_EQ(v.at("gre.key"), "0x0013892a");  // VSID 5001 << 8 | FlowID 0x2a
  // Outer then inner Ethernet addresses.
  EXPECT_EQ(v.at("eth.src"), "02:00:00:00:01:10,00:1d:d8:b7:1c:05");
  EXPECT_EQ(v.at("eth.dst"), "02:00:00:00:01:01,00:1d:d8:b7:1c:07");
  EXPECT_EQ(v.at("icmp.type"), "8");
}

TEST_F(TsharkTest, DhcpOfferDecodesWithEveryOption) {
  Bytes message(576);
  const net::Ipv4Address dns[] = {ipv4("10.10.0.2")};
  DhcpWriter writer(message);
  writer
      .begin({.op = dhcp_op::kBootReply,
              .xid = 0x1234abcd,
              .yiaddr = ipv4("10.10.1.100"),
              .chaddr = mac("00:1D:D8:B7:1C:05")})
      .message_type(DhcpMessageType::kOffer)
      .address(dhcp_option::kServerId, ipv4("10.10.0.1"))
      .u32(dhcp_option::kLeaseTime, 3600)
      .address(dhcp_option::kSubnetMask, ipv4("255.255.0.0"))
      .address(dhcp_option::kRouter, ipv4("10.10.0.1"))
      .addresses(dhcp_option::kDnsServers, dns)
      .u16(dhcp_option::kInterfaceMtu, 1458);
  message.resize(writer.finish());
  const auto frame = PacketBuilder()
                         .eth(mac("00:1D:D8:00:00:01"), mac("00:1D:D8:B7:1C:05"))
                         .ipv4(ipv4("10.10.0.1"), ipv4("10.10.1.100"))
                         .udp(kDhcpServerPort, kDhcpClientPort)
                         .payload(message)
                         .build();
  const auto v = decode(
      frame, {"dhcp.option.dhcp", "dhcp.ip.your", "dhcp.hw.mac_addr", "dhcp.id",
              "dhcp.option.subnet_mask", "dhcp.option.router", "dhcp.option.domain_name_server",
              "dhcp.option.interface_mtu", "dhcp.option.ip_address_lease_time",
              "dhcp.option.dhcp_server_id", "udp.checksum.status", "ip.checksum.status"});
  EXPECT_EQ(v.at("dhcp.option.dhcp"), "2");  // OFFER
  EXPECT_EQ(v.at("dhcp.ip.your"), "10.10.1.100");
  EXPECT_EQ(v.at("dhcp.hw.mac_addr"), "00:1d:d8:b7:1c:05");
  EXPECT_EQ(v.at("dhcp.id"), "0x1234abcd");
  EXPECT_EQ(v.at("dhcp.option.subnet_mask"), "255.255.0.0");
  EXPECT_EQ(v.at("dhcp.option.router"), "10.10.0.1");
  EXPECT_EQ(v.at("dhcp.option.domain_name_server"), "10.10.0.2");
  EXPECT_EQ(v.at("dhcp.option.interface_mtu"), "1458");
  EXPECT_EQ(v.at("dhcp.option.ip_address_lease_time"), "3600");
  EXPECT_EQ(v.at("dhcp.option.dhcp_server_id"), "10.10.0.1");
}

TEST_F(TsharkTest, ArpReplyDecodes) {
  const auto frame = PacketBuilder()
                         .eth(mac("00:1D:D8:B7:1C:07"), mac("00:1D:D8:B7:1C:05"))
                         .arp({.operation = arp_op::kReply,
                               .sender_mac = mac("00:1D:D8:B7:1C:07"),
                               .sender_ip = ipv4("10.0.0.7"),
                               .target_mac = mac("00:1D:D8:B7:1C:05"),
                               .target_ip = ipv4("10.0.0.5")})
                         .build();
  const auto v =
      decode(frame, {"arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac",
                     "arp.dst.proto_ipv4", "arp.hw.type", "arp.proto.type"});
  EXPECT_EQ(v.at("arp.opcode"), "2");
  EXPECT_EQ(v.at("arp.src.hw_mac"), "00:1d:d8:b7:1c:07");
  EXPECT_EQ(v.at("arp.src.proto_ipv4"), "10.0.0.7");
  EXPECT_EQ(v.at("arp.dst.hw_mac"), "00:1d:d8:b7:1c:05");
  EXPECT_EQ(v.at("arp.dst.proto_ipv4"), "10.0.0.5");
  EXPECT_EQ(v.at("arp.hw.type"), "1");
  EXPECT_EQ(v.at("arp.proto.type"), "0x0800");
}

}  // namespace
}  // namespace vnet::packet
