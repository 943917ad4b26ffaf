// DHCPv4 messages (RFC 2131) and their options (RFC 2132). parse() walks the
// options once, so later look-ups need no bounds checks of their own.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "shared/net/ipv4.h"
#include "shared/net/mac.h"
#include "shared/packet/bytes.h"
#include "shared/packet/error.h"

namespace vnet::packet {

inline constexpr size_t kDhcpFixedLen = 236;                     // op .. file
inline constexpr size_t kDhcpOptionsOffset = kDhcpFixedLen + 4;  // after the magic cookie
inline constexpr uint32_t kDhcpMagicCookie = 0x63825363;
inline constexpr size_t kDhcpMinMessageLen = 300;  // the BOOTP minimum (RFC 1542 section 2.1)

namespace dhcp_op {
inline constexpr uint8_t kBootRequest = 1;
inline constexpr uint8_t kBootReply = 2;
}  // namespace dhcp_op

enum class DhcpMessageType : uint8_t {
  kDiscover = 1,
  kOffer = 2,
  kRequest = 3,
  kDecline = 4,
  kAck = 5,
  kNak = 6,
  kRelease = 7,
  kInform = 8,
};

namespace dhcp_option {
inline constexpr uint8_t kPad = 0;
inline constexpr uint8_t kSubnetMask = 1;
inline constexpr uint8_t kRouter = 3;
inline constexpr uint8_t kDnsServers = 6;
inline constexpr uint8_t kInterfaceMtu = 26;
inline constexpr uint8_t kRequestedAddress = 50;
inline constexpr uint8_t kLeaseTime = 51;
inline constexpr uint8_t kMessageType = 53;
inline constexpr uint8_t kServerId = 54;
inline constexpr uint8_t kParameterRequestList = 55;
inline constexpr uint8_t kClientId = 61;
inline constexpr uint8_t kEnd = 255;
}  // namespace dhcp_option

class DhcpView {
 public:
  // `data` is the UDP payload.
  static Parsed<DhcpView> parse(std::span<const uint8_t> data);

  uint8_t op() const { return data_[0]; }
  uint8_t htype() const { return data_[1]; }
  uint8_t hlen() const { return data_[2]; }
  uint32_t xid() const { return load_be32(data_.data() + 4); }
  uint16_t secs() const { return load_be16(data_.data() + 8); }
  uint16_t flags() const { return load_be16(data_.data() + 10); }
  bool broadcast_flag() const { return (flags() & 0x8000) != 0; }
  net::Ipv4Address ciaddr() const { return net::Ipv4Address::from_bytes(data_.data() + 12); }
  net::Ipv4Address yiaddr() const { return net::Ipv4Address::from_bytes(data_.data() + 16); }
  net::Ipv4Address siaddr() const { return net::Ipv4Address::from_bytes(data_.data() + 20); }
  net::Ipv4Address giaddr() const { return net::Ipv4Address::from_bytes(data_.data() + 24); }
  // chaddr as a MAC when htype is Ethernet and hlen 6.
  std::optional<net::MacAddress> client_mac() const;

  // The data of the first option with this code, if present.
  std::optional<std::span<const uint8_t>> option(uint8_t code) const;
  // Typed options: nullopt when absent or of the wrong length.
  std::optional<DhcpMessageType> message_type() const;
  std::optional<net::Ipv4Address> subnet_mask() const {
    return address_option(dhcp_option::kSubnetMask);
  }
  std::optional<net::Ipv4Address> router() const;  // the first one
  std::optional<net::Ipv4Address> requested_address() const {
    return address_option(dhcp_option::kRequestedAddress);
  }
  std::optional<net::Ipv4Address> server_id() const {
    return address_option(dhcp_option::kServerId);
  }
  std::optional<uint32_t> lease_time() const;
  std::optional<uint16_t> interface_mtu() const;
  // Lists of IPv4 addresses: 4 bytes each.
  std::optional<std::span<const uint8_t>> dns_servers() const;
  std::optional<std::span<const uint8_t>> parameter_request_list() const {
    return option(dhcp_option::kParameterRequestList);
  }
  std::optional<std::span<const uint8_t>> client_id() const {
    return option(dhcp_option::kClientId);
  }

  std::span<const uint8_t> bytes() const { return data_; }

 private:
  explicit DhcpView(std::span<const uint8_t> data) : data_(data) {}
  std::optional<net::Ipv4Address> address_option(uint8_t code) const;
  std::span<const uint8_t> data_;
};

// Writes a DHCP message into a caller's buffer without allocating:
// begin(), then options, then finish(). Any overflow makes finish() return 0.
class DhcpWriter {
 public:
  explicit DhcpWriter(std::span<uint8_t> out) : out_(out) {}

  struct Fixed {
    uint8_t op = dhcp_op::kBootReply;
    uint32_t xid = 0;
    uint16_t flags = 0;
    net::Ipv4Address ciaddr{}, yiaddr{}, siaddr{}, giaddr{};
    net::MacAddress chaddr{};
  };
  DhcpWriter& begin(const Fixed& fixed);
  DhcpWriter& option(uint8_t code, std::span<const uint8_t> data);
  DhcpWriter& message_type(DhcpMessageType type);
  DhcpWriter& address(uint8_t code, net::Ipv4Address a);
  DhcpWriter& addresses(uint8_t code, std::span<const net::Ipv4Address> list);
  DhcpWriter& u32(uint8_t code, uint32_t value);
  DhcpWriter& u16(uint8_t code, uint16_t value);
  // Writes the End option, pads to the BOOTP minimum of 300 bytes and returns
  // the message length; 0 if anything did not fit.
  size_t finish();

 private:
  std::span<uint8_t> out_;
  size_t at_ = 0;
  bool overflow_ = false;
};

}  // namespace vnet::packet
