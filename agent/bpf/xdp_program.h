// The XDP program on one interface: loaded from the object embedded in the
// agent, attached in native mode where the driver has it and in generic mode
// otherwise (logged), and detached again by the destructor, which removes
// only the program this object attached.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shared/net/ip.h"
#include "shared/net/ipv4.h"

struct bpf_object;

namespace vnet::agent::bpf {

enum class XdpMode : uint8_t { kUplink, kPort, kExternal };

struct XdpStats {
  uint64_t redirected = 0;
  uint64_t passed = 0;
  uint64_t dropped = 0;
};

class XdpProgram {
 public:
  // Throws std::runtime_error naming the interface and what failed. A
  // program of someone else's already on the interface is not replaced; a
  // vnet program left by an agent that died is.
  static std::unique_ptr<XdpProgram> attach(const std::string& ifname, XdpMode mode);
  ~XdpProgram();
  XdpProgram(const XdpProgram&) = delete;
  XdpProgram& operator=(const XdpProgram&) = delete;

  const std::string& ifname() const { return ifname_; }
  int ifindex() const { return ifindex_; }
  bool native() const { return native_; }
  int xsks_map_fd() const { return xsks_fd_; }
  // Uplink: the PA whose NVGRE is redirected, and the rewrite PAs.
  void set_pa(net::Ipv4Address pa);
  // (External: the gateways' addresses, in the same map.)
  void set_rewrite_pas(const std::vector<net::Ipv4Address>& pas);
  // External: forwarding gateways' prefixes.
  void set_prefixes(const std::vector<net::IpPrefix>& prefixes);
  XdpStats stats() const;

 private:
  XdpProgram() = default;
  std::string ifname_;
  int ifindex_ = 0;
  bool native_ = false;
  XdpMode mode_ = XdpMode::kPort;
  bpf_object* object_ = nullptr;
  int prog_fd_ = -1;
  int xsks_fd_ = -1;
  int config_fd_ = -1;
  int rewrite_fd_ = -1;
  int stats_fd_ = -1;
  int prefixes_fd_ = -1;
  std::vector<net::Ipv4Address> rewrite_pas_;
  std::vector<net::IpPrefix> prefixes_;
};

}  // namespace vnet::agent::bpf
