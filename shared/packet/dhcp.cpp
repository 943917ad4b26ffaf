#include "shared/packet/dhcp.h"

#include <cstring>

namespace vnet::packet {

namespace {

// Walks the options after the magic cookie (RFC 2132 section 2): Pad is one
// byte, End stops, every other option is code, length, data. Calls
// visit(code, data) for each until it returns true. Returns false when an
// option runs past the end; options may also stop at the end without End.
template <class Visit>
bool walk_options(std::span<const uint8_t> message, Visit visit) {
  size_t at = kDhcpOptionsOffset;
  while (at < message.size()) {
    const uint8_t code = message[at];
    if (code == dhcp_option::kEnd) return true;
    if (code == dhcp_option::kPad) {
      ++at;
      continue;
    }
    if (at + 1 >= message.size() || at + 2 + message[at + 1] > message.size()) return false;
    const size_t len = message[at + 1];
    if (visit(code, message.subspan(at + 2, len))) return true;
    at += 2 + len;
  }
  return true;
}

}  // namespace

Parsed<DhcpView> DhcpView::parse(std::span<const uint8_t> data) {
  if (data.size() < kDhcpOptionsOffset) return Unexpected(ParseError::kTruncated);
  if (load_be32(data.data() + kDhcpFixedLen) != kDhcpMagicCookie) {
    return Unexpected(ParseError::kBadMagic);
  }
  // Checked once here, so option() can trust every length byte.
  if (!walk_options(data, [](uint8_t, std::span<const uint8_t>) { return false; })) {
    return Unexpected(ParseError::kBadOption);
  }
  return DhcpView(data);
}

std::optional<net::MacAddress> DhcpView::client_mac() const {
  if (htype() != 1 || hlen() != 6) return std::nullopt;
  return net::MacAddress::from_bytes(data_.data() + 28);
}

std::optional<std::span<const uint8_t>> DhcpView::option(uint8_t code) const {
  std::optional<std::span<const uint8_t>> found;
  walk_options(data_, [&](uint8_t c, std::span<const uint8_t> data) {
    if (c == code) found = data;
    return found.has_value();
  });
  return found;
}

std::optional<DhcpMessageType> DhcpView::message_type() const {
  const auto data = option(dhcp_option::kMessageType);
  if (!data || data->size() != 1 || (*data)[0] < 1 || (*data)[0] > 8) return std::nullopt;
  return static_cast<DhcpMessageType>((*data)[0]);
}

std::optional<net::Ipv4Address> DhcpView::address_option(uint8_t code) const {
  const auto data = option(code);
  if (!data || data->size() != 4) return std::nullopt;
  return net::Ipv4Address::from_bytes(data->data());
}

std::optional<net::Ipv4Address> DhcpView::router() const {
  const auto data = option(dhcp_option::kRouter);
  if (!data || data->empty() || data->size() % 4 != 0) return std::nullopt;
  return net::Ipv4Address::from_bytes(data->data());
}

std::optional<uint32_t> DhcpView::lease_time() const {
  const auto data = option(dhcp_option::kLeaseTime);
  if (!data || data->size() != 4) return std::nullopt;
  return load_be32(data->data());
}

std::optional<uint16_t> DhcpView::interface_mtu() const {
  const auto data = option(dhcp_option::kInterfaceMtu);
  if (!data || data->size() != 2) return std::nullopt;
  return load_be16(data->data());
}

std::optional<std::span<const uint8_t>> DhcpView::dns_servers() const {
  const auto data = option(dhcp_option::kDnsServers);
  if (!data || data->empty() || data->size() % 4 != 0) return std::nullopt;
  return data;
}

DhcpWriter& DhcpWriter::begin(const Fixed& fixed) {
  at_ = 0;
  overflow_ = out_.size() < kDhcpOptionsOffset;
  if (overflow_) return *this;
  uint8_t* p = out_.data();
  std::memset(p, 0, kDhcpOptionsOffset);
  p[0] = fixed.op;
  p[1] = 1;  // Ethernet
  p[2] = 6;
  store_be32(p + 4, fixed.xid);
  store_be16(p + 10, fixed.flags);
  fixed.ciaddr.to_bytes(p + 12);
  fixed.yiaddr.to_bytes(p + 16);
  fixed.siaddr.to_bytes(p + 20);
  fixed.giaddr.to_bytes(p + 24);
  fixed.chaddr.to_bytes(p + 28);
  store_be32(p + kDhcpFixedLen, kDhcpMagicCookie);
  at_ = kDhcpOptionsOffset;
  return *this;
}

DhcpWriter& DhcpWriter::option(uint8_t code, std::span<const uint8_t> data) {
  // Room for this option and the End option that finish() adds.
  if (overflow_ || data.size() > 255 || at_ + 2 + data.size() + 1 > out_.size()) {
    overflow_ = true;
    return *this;
  }
  out_[at_] = code;
  out_[at_ + 1] = static_cast<uint8_t>(data.size());
  if (!data.empty()) std::memcpy(out_.data() + at_ + 2, data.data(), data.size());
  at_ += 2 + data.size();
  return *this;
}

DhcpWriter& DhcpWriter::message_type(DhcpMessageType type) {
  const uint8_t value = static_cast<uint8_t>(type);
  return option(dhcp_option::kMessageType, std::span(&value, 1));
}

DhcpWriter& DhcpWriter::address(uint8_t code, net::Ipv4Address a) {
  uint8_t bytes[4];
  a.to_bytes(bytes);
  return option(code, bytes);
}

DhcpWriter& DhcpWriter::addresses(uint8_t code, std::span<const net::Ipv4Address> list) {
  uint8_t bytes[252];  // 63 addresses fill an option
  if (list.size() > sizeof bytes / 4) {
    overflow_ = true;
    return *this;
  }
  for (size_t i = 0; i < list.size(); ++i) list[i].to_bytes(bytes + 4 * i);
  return option(code, std::span<const uint8_t>(bytes, 4 * list.size()));
}

DhcpWriter& DhcpWriter::u32(uint8_t code, uint32_t value) {
  uint8_t bytes[4];
  store_be32(bytes, value);
  return option(code, bytes);
}

DhcpWriter& DhcpWriter::u16(uint8_t code, uint16_t value) {
  uint8_t bytes[2];
  store_be16(bytes, value);
  return option(code, bytes);
}

size_t DhcpWriter::finish() {
  if (overflow_ || at_ < kDhcpOptionsOffset || at_ >= out_.size()) return 0;
  out_[at_++] = dhcp_option::kEnd;
  if (at_ < kDhcpMinMessageLen) {
    if (out_.size() < kDhcpMinMessageLen) return 0;
    std::memset(out_.data() + at_, 0, kDhcpMinMessageLen - at_);
    at_ = kDhcpMinMessageLen;
  }
  return at_;
}

}  // namespace vnet::packet
