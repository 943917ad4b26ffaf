// `--dataplane afxdp`: the AF_XDP engine (engine.h) behind the control
// side's Dataplane interface. A control thread owned here reconciles what the
// policy asks with what the host has: the PA on the uplink and the provider
// routes (added through netlink, and only what it added is removed again),
// the next-hop MACs of remote PAs (from the kernel's neighbour table, asking
// it to resolve missing ones), the VM ports' sockets as their interfaces come
// and go, and the tables built from all of it.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/control/dataplane.h"
#include "agent/xsk/engine.h"
#include "shared/net/ipv4.h"

namespace vnet::agent::xsk {

class AfXdpDataplane : public Dataplane {
 public:
  // Throws std::runtime_error when the uplink is missing or XDP/AF_XDP
  // cannot start on it. `controller` (an IPv4 address, if the agent was
  // given one) names the management interface: the one the kernel routes to
  // the controller. Neither it nor the uplink nor loopback ever becomes a VM
  // port: a NIC bound to one fails with `interface_reserved`, since the VM
  // port's XDP program would cut the host off.
  explicit AfXdpDataplane(const std::string& uplink,
                          std::optional<net::Ipv4Address> controller = std::nullopt,
                          EngineOptions options = {});
  ~AfXdpDataplane() override;

  std::string name() const override { return "afxdp"; }
  std::vector<proto::Problem> publish(const policy::HostPolicy& policy) override;
  nlohmann::json counters() const override;
  nlohmann::json gateways() const override;
  nlohmann::json nat(size_t limit) const override;
  nlohmann::json trace(const nlohmann::json& request) const override;
  void on_problems(std::function<void(std::vector<proto::Problem>)> listener) override;
  std::string uplink() const override;
  uint16_t uplink_mtu() const override;
  uint16_t external_mtu() const override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace vnet::agent::xsk
