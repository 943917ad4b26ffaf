#include "agent/host/netlink.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace vnet::agent::host {
namespace {

constexpr size_t kBufferSize = 8192;

uint32_t be(net::Ipv4Address a) { return htonl(a.to_u32()); }

// Calls f for each attribute after the family header of `message`
// (mnl_attr_for_each, without its C casts).
template <class F>
void for_each_attribute(const nlmsghdr* message, size_t header_size, F&& f) {
  const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(message));
  for (auto* attr = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(message, header_size));
       mnl_attr_ok(attr, static_cast<int>(tail - reinterpret_cast<const char*>(attr)));
       attr = mnl_attr_next(attr)) {
    f(attr);
  }
}

mnl_socket* open_route_socket(unsigned groups) {
  mnl_socket* s = mnl_socket_open(NETLINK_ROUTE);
  if (s == nullptr) throw std::runtime_error(std::string("rtnetlink: ") + std::strerror(errno));
  if (mnl_socket_bind(s, groups, MNL_SOCKET_AUTOPID) < 0) {
    const int err = errno;
    mnl_socket_close(s);
    throw std::runtime_error(std::string("rtnetlink bind: ") + std::strerror(err));
  }
  return s;
}

}  // namespace

bool announce(int ifindex, net::MacAddress mac, net::Ipv4Address address) {
  const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
  if (fd < 0) return false;
  uint8_t frame[42] = {};
  std::memset(frame, 0xff, 6);  // broadcast
  mac.to_bytes(frame + 6);
  frame[12] = 0x08;
  frame[13] = 0x06;
  const uint8_t header[8] = {0, 1, 8, 0, 6, 4, 0, 1};  // Ethernet, IPv4, request
  std::memcpy(frame + 14, header, sizeof header);
  mac.to_bytes(frame + 22);
  address.to_bytes(frame + 28);  // sender and target: the address itself
  address.to_bytes(frame + 38);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = ifindex;
  to.sll_halen = 6;
  std::memset(to.sll_addr, 0xff, 6);
  const bool sent = ::sendto(fd, frame, sizeof frame, 0, reinterpret_cast<sockaddr*>(&to),
                             sizeof to) == static_cast<ssize_t>(sizeof frame);
  ::close(fd);
  return sent;
}

std::optional<InterfaceInfo> interface_info(const std::string& name) {
  InterfaceInfo info;
  info.ifindex = static_cast<int>(if_nametoindex(name.c_str()));
  if (info.ifindex == 0 || name.size() >= IFNAMSIZ) return std::nullopt;
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  ifreq request{};
  std::memcpy(request.ifr_name, name.c_str(), name.size());
  if (ioctl(fd, SIOCGIFHWADDR, &request) == 0) {
    info.mac =
        net::MacAddress::from_bytes(reinterpret_cast<const uint8_t*>(request.ifr_hwaddr.sa_data));
  }
  if (ioctl(fd, SIOCGIFMTU, &request) == 0) info.mtu = static_cast<uint16_t>(request.ifr_mtu);
  ethtool_channels channels{};
  channels.cmd = ETHTOOL_GCHANNELS;
  request.ifr_data = reinterpret_cast<char*>(&channels);
  if (ioctl(fd, SIOCETHTOOL, &request) == 0) {
    info.rx_queues = std::max<uint32_t>(1, channels.combined_count + channels.rx_count);
  }
  if (ioctl(fd, SIOCGIFFLAGS, &request) == 0) {
    info.up = (request.ifr_flags & IFF_UP) != 0;
    info.loopback = (request.ifr_flags & IFF_LOOPBACK) != 0;
  }
  close(fd);
  return info;
}

Netlink::Netlink() : socket_(open_route_socket(0)) { port_id_ = mnl_socket_get_portid(socket_); }

Netlink::~Netlink() { mnl_socket_close(socket_); }

template <class F>
int Netlink::request(void* buffer, F&& on_message) {
  auto* nlh = static_cast<nlmsghdr*>(buffer);
  nlh->nlmsg_seq = sequence_++;
  if (mnl_socket_sendto(socket_, nlh, nlh->nlmsg_len) < 0) return -errno;
  std::vector<char> reply(kBufferSize);
  struct Context {
    F* on_message;
  } context{&on_message};
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(socket_, reply.data(), reply.size());
    if (n < 0) return -errno;
    const int result = mnl_cb_run(
        reply.data(), static_cast<size_t>(n), nlh->nlmsg_seq, port_id_,
        [](const nlmsghdr* message, void* data) {
          (*static_cast<Context*>(data)->on_message)(message);
          return MNL_CB_OK;
        },
        &context);
    if (result == MNL_CB_STOP) return 0;
    if (result < 0) return -errno;
    // MNL_CB_OK: a multi-part answer continues.
    if (!(nlh->nlmsg_flags & NLM_F_DUMP)) return 0;
  }
}

int Netlink::request_ack(void* buffer) {
  static_cast<nlmsghdr*>(buffer)->nlmsg_flags |= NLM_F_ACK;
  return request(buffer, [](const nlmsghdr*) {});
}

bool Netlink::add_address(int ifindex, net::Ipv4Address address, uint8_t prefix_len) {
  char buffer[kBufferSize]{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buffer);
  nlh->nlmsg_type = RTM_NEWADDR;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = prefix_len;
  ifa->ifa_index = static_cast<unsigned>(ifindex);
  mnl_attr_put_u32(nlh, IFA_LOCAL, be(address));
  mnl_attr_put_u32(nlh, IFA_ADDRESS, be(address));
  const int err = request_ack(buffer);
  if (err == -EEXIST) return false;
  if (err != 0) {
    throw std::runtime_error("add address " + address.to_string() + ": " + std::strerror(-err));
  }
  return true;
}

void Netlink::remove_address(int ifindex, net::Ipv4Address address, uint8_t prefix_len) {
  char buffer[kBufferSize]{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buffer);
  nlh->nlmsg_type = RTM_DELADDR;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = prefix_len;
  ifa->ifa_index = static_cast<unsigned>(ifindex);
  mnl_attr_put_u32(nlh, IFA_LOCAL, be(address));
  request_ack(buffer);  // gone already is fine
}

namespace {
void put_route(nlmsghdr* nlh, const net::IpPrefix& prefix, net::Ipv4Address via, int ifindex) {
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = prefix.length();
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_STATIC;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  mnl_attr_put_u32(nlh, RTA_DST, be(prefix.address().v4()));
  mnl_attr_put_u32(nlh, RTA_GATEWAY, be(via));
  mnl_attr_put_u32(nlh, RTA_OIF, static_cast<uint32_t>(ifindex));
}
}  // namespace

bool Netlink::add_route(const net::IpPrefix& prefix, net::Ipv4Address via, int ifindex) {
  char buffer[kBufferSize]{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buffer);
  nlh->nlmsg_type = RTM_NEWROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
  put_route(nlh, prefix, via, ifindex);
  const int err = request_ack(buffer);
  if (err == -EEXIST) return false;
  if (err != 0) {
    throw std::runtime_error("add route " + prefix.to_string() + " via " + via.to_string() + ": " +
                             std::strerror(-err));
  }
  return true;
}

void Netlink::remove_route(const net::IpPrefix& prefix, net::Ipv4Address via, int ifindex) {
  char buffer[kBufferSize]{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buffer);
  nlh->nlmsg_type = RTM_DELROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  put_route(nlh, prefix, via, ifindex);
  request_ack(buffer);
}

std::optional<NextHop> Netlink::route_to(net::Ipv4Address destination) {
  char buffer[kBufferSize]{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buffer);
  nlh->nlmsg_type = RTM_GETROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = 32;
  mnl_attr_put_u32(nlh, RTA_DST, be(destination));
  std::optional<NextHop> hop;
  const int err = request(buffer, [&](const nlmsghdr* message) {
    if (message->nlmsg_type != RTM_NEWROUTE) return;
    NextHop h{destination, 0};
    for_each_attribute(message, sizeof(rtmsg), [&](const nlattr* attr) {
      if (mnl_attr_get_type(attr) == RTA_GATEWAY) {
        h.address = net::Ipv4Address::from_u32(ntohl(mnl_attr_get_u32(attr)));
      } else if (mnl_attr_get_type(attr) == RTA_OIF) {
        h.ifindex = static_cast<int>(mnl_attr_get_u32(attr));
      }
    });
    hop = h;
  });
  if (err != 0) return std::nullopt;
  return hop;
}

std::optional<net::MacAddress> Netlink::neighbour(int ifindex, net::Ipv4Address address) {
  char buffer[kBufferSize]{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buffer);
  nlh->nlmsg_type = RTM_GETNEIGH;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  auto* ndm = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  ndm->ndm_family = AF_INET;
  ndm->ndm_ifindex = ifindex;
  mnl_attr_put_u32(nlh, NDA_DST, be(address));
  std::optional<net::MacAddress> mac;
  request(buffer, [&](const nlmsghdr* message) {
    if (message->nlmsg_type != RTM_NEWNEIGH) return;
    const auto* answer = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(message));
    constexpr uint16_t kUsable =
        NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;
    if ((answer->ndm_state & kUsable) == 0) return;
    for_each_attribute(message, sizeof(ndmsg), [&](const nlattr* attr) {
      if (mnl_attr_get_type(attr) == NDA_LLADDR && mnl_attr_get_payload_len(attr) == 6) {
        mac = net::MacAddress::from_bytes(static_cast<const uint8_t*>(mnl_attr_get_payload(attr)));
      }
    });
  });
  return mac;
}

void Netlink::resolve(int ifindex, net::Ipv4Address address) {
  // NTF_USE makes the kernel treat the entry as used: it starts resolution
  // (ARP) for an entry it creates in NUD_NONE, as traffic would.
  char buffer[kBufferSize]{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buffer);
  nlh->nlmsg_type = RTM_NEWNEIGH;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE;
  auto* ndm = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  ndm->ndm_family = AF_INET;
  ndm->ndm_ifindex = ifindex;
  ndm->ndm_state = NUD_NONE;
  ndm->ndm_flags = NTF_USE;
  mnl_attr_put_u32(nlh, NDA_DST, be(address));
  request_ack(buffer);
}

NetlinkEvents::NetlinkEvents()
    : socket_(
          open_route_socket(RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE)) {}

NetlinkEvents::~NetlinkEvents() { mnl_socket_close(socket_); }

int NetlinkEvents::fd() const { return mnl_socket_get_fd(socket_); }

bool NetlinkEvents::drain() {
  char buffer[kBufferSize];
  bool any = false;
  while (recv(fd(), buffer, sizeof buffer, MSG_DONTWAIT) > 0) any = true;
  return any;
}

}  // namespace vnet::agent::host
