// ARP for IPv4 over Ethernet (RFC 826); other hardware or protocol types are
// reported as unsupported.
#pragma once

#include <span>

#include "shared/net/ipv4.h"
#include "shared/net/mac.h"
#include "shared/packet/bytes.h"
#include "shared/packet/constants.h"
#include "shared/packet/error.h"

namespace vnet::packet {

namespace arp_op {
inline constexpr uint16_t kRequest = 1;
inline constexpr uint16_t kReply = 2;
}  // namespace arp_op

template <PacketByte Byte>
class BasicArpView {
 public:
  static Parsed<BasicArpView> parse(std::span<Byte> data) {
    if (data.size() < kArpIpv4Len) return Unexpected(ParseError::kTruncated);
    const uint8_t* p = data.data();
    if (load_be16(p) != 1 || load_be16(p + 2) != ether_type::kIpv4 || p[4] != 6 || p[5] != 4) {
      return Unexpected(ParseError::kUnsupported);
    }
    return BasicArpView(data.first(kArpIpv4Len));
  }

  uint16_t operation() const { return load_be16(data_.data() + 6); }
  bool is_request() const { return operation() == arp_op::kRequest; }
  bool is_reply() const { return operation() == arp_op::kReply; }
  net::MacAddress sender_mac() const { return net::MacAddress::from_bytes(data_.data() + 8); }
  net::Ipv4Address sender_ip() const { return net::Ipv4Address::from_bytes(data_.data() + 14); }
  net::MacAddress target_mac() const { return net::MacAddress::from_bytes(data_.data() + 18); }
  net::Ipv4Address target_ip() const { return net::Ipv4Address::from_bytes(data_.data() + 24); }
  std::span<Byte> bytes() const { return data_; }

 private:
  explicit BasicArpView(std::span<Byte> data) : data_(data) {}
  std::span<Byte> data_;
};

using ArpView = BasicArpView<const uint8_t>;

struct ArpMessage {
  uint16_t operation = arp_op::kRequest;
  net::MacAddress sender_mac{};
  net::Ipv4Address sender_ip{};
  net::MacAddress target_mac{};
  net::Ipv4Address target_ip{};

  static constexpr size_t kSize = kArpIpv4Len;
  size_t write(std::span<uint8_t> out) const {
    if (out.size() < kSize) return 0;
    uint8_t* p = out.data();
    store_be16(p, 1);  // hardware type: Ethernet
    store_be16(p + 2, ether_type::kIpv4);
    p[4] = 6;
    p[5] = 4;
    store_be16(p + 6, operation);
    sender_mac.to_bytes(p + 8);
    sender_ip.to_bytes(p + 14);
    target_mac.to_bytes(p + 18);
    target_ip.to_bytes(p + 24);
    return kSize;
  }
};

}  // namespace vnet::packet
