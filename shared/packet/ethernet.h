// Ethernet II frames (without FCS), with one 802.1Q or 802.1ad tag recognised.
#pragma once

#include <span>

#include "shared/net/mac.h"
#include "shared/packet/bytes.h"
#include "shared/packet/constants.h"
#include "shared/packet/error.h"

namespace vnet::packet {

template <PacketByte Byte>
class BasicEthernetView {
 public:
  static Parsed<BasicEthernetView> parse(std::span<Byte> frame) {
    if (frame.size() < kEthernetHeaderLen) return Unexpected(ParseError::kTruncated);
    const uint16_t outer_type = load_be16(frame.data() + 12);
    size_t header_len = kEthernetHeaderLen;
    if (outer_type == ether_type::kVlan || outer_type == ether_type::kQinQ) {
      header_len += kVlanTagLen;
      if (frame.size() < header_len) return Unexpected(ParseError::kTruncated);
    }
    return BasicEthernetView(frame, header_len);
  }

  net::MacAddress dst() const { return net::MacAddress::from_bytes(frame_.data()); }
  net::MacAddress src() const { return net::MacAddress::from_bytes(frame_.data() + 6); }
  bool has_vlan_tag() const { return header_len_ > kEthernetHeaderLen; }
  // The tag control information (PCP, DEI, VLAN id) when tagged, else 0.
  uint16_t vlan_tci() const { return has_vlan_tag() ? load_be16(frame_.data() + 14) : 0; }
  uint16_t vlan_id() const { return vlan_tci() & 0x0fff; }
  // The EtherType of the payload, after the tag if there is one.
  uint16_t ether_type() const { return load_be16(frame_.data() + header_len_ - 2); }
  size_t header_length() const { return header_len_; }
  std::span<Byte> frame() const { return frame_; }
  std::span<Byte> payload() const { return frame_.subspan(header_len_); }

  void set_dst(net::MacAddress mac) const requires Writable<Byte> { mac.to_bytes(frame_.data()); }
  void set_src(net::MacAddress mac) const requires Writable<Byte> {
    mac.to_bytes(frame_.data() + 6);
  }

 private:
  BasicEthernetView(std::span<Byte> frame, size_t header_len)
      : frame_(frame), header_len_(header_len) {}
  std::span<Byte> frame_;
  size_t header_len_;
};

using EthernetView = BasicEthernetView<const uint8_t>;
using MutableEthernetView = BasicEthernetView<uint8_t>;

struct EthernetHeader {
  net::MacAddress dst{};
  net::MacAddress src{};
  uint16_t ether_type = ether_type::kIpv4;

  static constexpr size_t kSize = kEthernetHeaderLen;
  // Writes 14 bytes; returns 0 when `out` is too small.
  size_t write(std::span<uint8_t> out) const {
    if (out.size() < kSize) return 0;
    dst.to_bytes(out.data());
    src.to_bytes(out.data() + 6);
    store_be16(out.data() + 12, ether_type);
    return kSize;
  }
};

}  // namespace vnet::packet
