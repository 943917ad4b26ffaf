// What the control side needs from a packet engine: take a policy (build
// tables, publish them atomically) and say what could not be realized, and
// show its counters. `--dataplane none` is the engine that forwards nothing
// (agent/xsk/afxdp_dataplane.h is the real one):
// the agent still enrolls, follows and acks policies, and keeps them on disk.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "shared/policy/host_policy.h"
#include "shared/proto/southbound.h"

namespace vnet::agent {

class Dataplane {
 public:
  virtual ~Dataplane() = default;
  virtual std::string name() const = 0;
  // Publishes tables built from `policy`; returns when packets are forwarded
  // by them. Problems: what is not realized (e.g. interface_missing).
  virtual std::vector<proto::Problem> publish(const policy::HostPolicy& policy) = 0;
  // Counters by port and reason, for `vnet-agent show counters` and stats.
  virtual nlohmann::json counters() const = 0;
  // The gateways of the policy with their NAT counters (`show gateways`),
  // and the NAT table's flows, at most `limit` (`show nat`).
  virtual nlohmann::json gateways() const { return nlohmann::json::array(); }
  virtual nlohmann::json nat(size_t /*limit*/) const {
    return {{"flows", nlohmann::json::array()}, {"total", 0}};
  }
  // vnet-agent trace: the path of a packet from a port through this host's
  // live tables ({from, to, protocol, port, src} in; the trace's JSON out,
  // or {"error": ...}).
  virtual nlohmann::json trace(const nlohmann::json& /*request*/) const {
    return {{"error", "this agent runs no packet engine (--dataplane none)"}};
  }
  // Problems can change without a new policy (a VM port's interface appears
  // or goes away); the engine calls this, from its own thread, when they do.
  virtual void on_problems(std::function<void(std::vector<proto::Problem>)>) {}
  // The uplink interface, "" when there is none; the agent tells the
  // controller, which then refuses it as a VM NIC's interface.
  virtual std::string uplink() const { return ""; }
  // The uplink's MTU, 0 when unknown; told to the controller with the
  // uplink, it compiles the ports' MTU from it (uplink MTU - 42).
  virtual uint16_t uplink_mtu() const { return 0; }
  // A gateway host's external interface's MTU, 0 when it has none; shown
  // on the host by the controller.
  virtual uint16_t external_mtu() const { return 0; }
};

class NoDataplane : public Dataplane {
 public:
  std::string name() const override { return "none"; }
  std::vector<proto::Problem> publish(const policy::HostPolicy&) override { return {}; }
  nlohmann::json counters() const override { return nlohmann::json::object(); }
};

}  // namespace vnet::agent
