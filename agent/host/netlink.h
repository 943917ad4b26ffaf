// The underlay belongs to the kernel; the agent asks it through rtnetlink
// (libmnl): interface facts, the PA on the uplink and the provider routes,
// the next hop towards a PA and that neighbour's MAC, and events when links,
// addresses or neighbours change. Everything here is control-thread work,
// never per packet.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "shared/net/ip.h"
#include "shared/net/ipv4.h"
#include "shared/net/mac.h"

struct mnl_socket;

namespace vnet::agent::host {

struct InterfaceInfo {
  int ifindex = 0;
  net::MacAddress mac;
  uint16_t mtu = 1500;
  uint32_t rx_queues = 1;  // receive queues (ethtool's combined + rx channels)
  bool up = false;
  bool loopback = false;
};

// Facts about an interface by name, or nullopt when it does not exist.
std::optional<InterfaceInfo> interface_info(const std::string& name);

// Tells the network that `address` is at `mac` on the interface: one
// gratuitous ARP request (RFC 5227 section 3), so that neighbours replace a
// stale entry (a gateway's external address that moved to this host).
// Returns false when it could not be sent (logged by the caller).
bool announce(int ifindex, net::MacAddress mac, net::Ipv4Address address);

struct NextHop {
  net::Ipv4Address address;  // the gateway, or the destination when on-link
  int ifindex = 0;
};

class Netlink {
 public:
  Netlink();  // throws std::runtime_error when rtnetlink cannot be opened
  ~Netlink();
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  // true when added, false when it was there already (then it is not ours
  // to remove). Throws with the kernel's reason otherwise.
  bool add_address(int ifindex, net::Ipv4Address address, uint8_t prefix_len);
  void remove_address(int ifindex, net::Ipv4Address address, uint8_t prefix_len);
  bool add_route(const net::IpPrefix& prefix, net::Ipv4Address via, int ifindex);
  void remove_route(const net::IpPrefix& prefix, net::Ipv4Address via, int ifindex);

  // How the kernel would send to `destination`, or nullopt without a route.
  std::optional<NextHop> route_to(net::Ipv4Address destination);
  // The neighbour's MAC when the kernel has a usable entry.
  std::optional<net::MacAddress> neighbour(int ifindex, net::Ipv4Address address);
  // Asks the kernel to resolve the neighbour (ARP), without sending anything itself.
  void resolve(int ifindex, net::Ipv4Address address);

 private:
  // Sends one request and reads the answer; `on_message` sees each reply
  // message. Returns 0 or a negative errno.
  template <class F>
  int request(void* buffer, F&& on_message);
  int request_ack(void* buffer);

  mnl_socket* socket_ = nullptr;
  unsigned port_id_ = 0;
  unsigned sequence_ = 1;
};

// A socket subscribed to link, address and neighbour changes. The control
// thread polls fd() and calls drain() to learn that something changed.
class NetlinkEvents {
 public:
  NetlinkEvents();
  ~NetlinkEvents();
  NetlinkEvents(const NetlinkEvents&) = delete;
  NetlinkEvents& operator=(const NetlinkEvents&) = delete;
  int fd() const;
  // Reads what is queued without blocking; true when any event was there.
  bool drain();

 private:
  mnl_socket* socket_ = nullptr;
};

}  // namespace vnet::agent::host
