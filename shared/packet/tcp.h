// TCP headers (RFC 9293), options included.
#pragma once

#include <span>

#include "shared/packet/bytes.h"
#include "shared/packet/checksum.h"
#include "shared/packet/constants.h"
#include "shared/packet/error.h"

namespace vnet::packet {

namespace tcp_flag {
inline constexpr uint8_t kFin = 0x01;
inline constexpr uint8_t kSyn = 0x02;
inline constexpr uint8_t kRst = 0x04;
inline constexpr uint8_t kPsh = 0x08;
inline constexpr uint8_t kAck = 0x10;
}  // namespace tcp_flag

template <PacketByte Byte>
class BasicTcpView {
 public:
  // `data` is the IP payload: the segment runs to its end.
  static Parsed<BasicTcpView> parse(std::span<Byte> data) {
    if (data.size() < kTcpMinHeaderLen) return Unexpected(ParseError::kTruncated);
    const size_t header_len = static_cast<size_t>(data[12] >> 4) * 4;
    if (header_len < kTcpMinHeaderLen) return Unexpected(ParseError::kBadHeaderLength);
    if (data.size() < header_len) return Unexpected(ParseError::kTruncated);
    return BasicTcpView(data, header_len);
  }

  uint16_t src_port() const { return load_be16(data_.data()); }
  uint16_t dst_port() const { return load_be16(data_.data() + 2); }
  uint32_t sequence() const { return load_be32(data_.data() + 4); }
  uint32_t acknowledgement() const { return load_be32(data_.data() + 8); }
  size_t header_length() const { return header_len_; }
  uint8_t flags() const { return data_[13]; }
  uint16_t window() const { return load_be16(data_.data() + 14); }
  uint16_t checksum() const { return load_be16(data_.data() + 16); }
  uint16_t urgent_pointer() const { return load_be16(data_.data() + 18); }
  std::span<Byte> options() const {
    return data_.subspan(kTcpMinHeaderLen, header_len_ - kTcpMinHeaderLen);
  }
  std::span<Byte> payload() const { return data_.subspan(header_len_); }
  std::span<Byte> segment() const { return data_; }
  bool checksum_ok(net::Ipv4Address src, net::Ipv4Address dst) const {
    return ipv4_transport_checksum(src, dst, ip_protocol::kTcp, data_) == 0;
  }

  void set_checksum(uint16_t value) const requires Writable<Byte> {
    store_be16(data_.data() + 16, value);
  }

 private:
  BasicTcpView(std::span<Byte> data, size_t header_len) : data_(data), header_len_(header_len) {}
  std::span<Byte> data_;
  size_t header_len_;
};

using TcpView = BasicTcpView<const uint8_t>;
using MutableTcpView = BasicTcpView<uint8_t>;

// A header without options.
struct TcpHeader {
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint32_t sequence = 0;
  uint32_t acknowledgement = 0;
  uint8_t flags = tcp_flag::kAck;
  uint16_t window = 65535;

  static constexpr size_t kSize = kTcpMinHeaderLen;
  size_t write(std::span<uint8_t> out, size_t payload_len, net::Ipv4Address src,
               net::Ipv4Address dst) const {
    if (out.size() < kSize + payload_len) return 0;
    uint8_t* p = out.data();
    store_be16(p, src_port);
    store_be16(p + 2, dst_port);
    store_be32(p + 4, sequence);
    store_be32(p + 8, acknowledgement);
    p[12] = (kSize / 4) << 4;
    p[13] = flags;
    store_be16(p + 14, window);
    store_be16(p + 16, 0);
    store_be16(p + 18, 0);
    const auto segment = std::span<const uint8_t>(out.first(kSize + payload_len));
    store_be16(p + 16, ipv4_transport_checksum(src, dst, ip_protocol::kTcp, segment));
    return kSize;
  }
};

}  // namespace vnet::packet
