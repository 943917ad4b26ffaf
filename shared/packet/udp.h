// UDP (RFC 768). The payload ends at the UDP Length field.
#pragma once

#include <span>

#include "shared/packet/bytes.h"
#include "shared/packet/checksum.h"
#include "shared/packet/constants.h"
#include "shared/packet/error.h"

namespace vnet::packet {

template <PacketByte Byte>
class BasicUdpView {
 public:
  static Parsed<BasicUdpView> parse(std::span<Byte> data) {
    if (data.size() < kUdpHeaderLen) return Unexpected(ParseError::kTruncated);
    const size_t length = load_be16(data.data() + 4);
    if (length < kUdpHeaderLen) return Unexpected(ParseError::kBadLength);
    if (data.size() < length) return Unexpected(ParseError::kTruncated);
    return BasicUdpView(data.first(length));
  }

  uint16_t src_port() const { return load_be16(data_.data()); }
  uint16_t dst_port() const { return load_be16(data_.data() + 2); }
  uint16_t length() const { return load_be16(data_.data() + 4); }
  uint16_t checksum() const { return load_be16(data_.data() + 6); }
  std::span<Byte> payload() const { return data_.subspan(kUdpHeaderLen); }
  std::span<Byte> datagram() const { return data_; }
  // A zero checksum means the sender computed none.
  bool checksum_ok(net::Ipv4Address src, net::Ipv4Address dst) const {
    return checksum() == 0 || ipv4_transport_checksum(src, dst, ip_protocol::kUdp, data_) == 0;
  }

  void set_checksum(uint16_t value) const requires Writable<Byte> {
    store_be16(data_.data() + 6, value);
  }

 private:
  explicit BasicUdpView(std::span<Byte> data) : data_(data) {}
  std::span<Byte> data_;
};

using UdpView = BasicUdpView<const uint8_t>;
using MutableUdpView = BasicUdpView<uint8_t>;

struct UdpHeader {
  uint16_t src_port = 0;
  uint16_t dst_port = 0;

  static constexpr size_t kSize = kUdpHeaderLen;
  // Writes the header in front of `payload_len` bytes already at out[8...]
  // and, given the IPv4 addresses, the checksum over pseudo-header and payload.
  size_t write(std::span<uint8_t> out, size_t payload_len, net::Ipv4Address src,
               net::Ipv4Address dst) const {
    if (out.size() < kSize + payload_len || payload_len > 0xffff - kSize) return 0;
    uint8_t* p = out.data();
    store_be16(p, src_port);
    store_be16(p + 2, dst_port);
    store_be16(p + 4, static_cast<uint16_t>(kSize + payload_len));
    store_be16(p + 6, 0);
    const auto datagram = std::span<const uint8_t>(out.first(kSize + payload_len));
    store_be16(p + 6,
               udp_wire_checksum(ipv4_transport_checksum(src, dst, ip_protocol::kUdp, datagram)));
    return kSize;
  }
};

}  // namespace vnet::packet
