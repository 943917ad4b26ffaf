#include "agent/control/show.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "agent/control/state.h"
#include "shared/util/table.h"

namespace vnet::agent {
namespace {

using nlohmann::json;

std::string text(const json& j) {
  if (j.is_null()) return "-";
  if (j.is_string()) return j.get<std::string>();
  return j.dump();
}

// One request, one line back.
std::string ask(const std::filesystem::path& socket_path, const json& request_json) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = socket_path.string();
  if (path.size() >= sizeof addr.sun_path) {
    ::close(fd);
    throw std::runtime_error(fmt::format("{}: path too long for a socket", path));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    ::close(fd);
    throw std::runtime_error(fmt::format(
        "cannot reach the agent at {}: {} (is vnet-agent running with this --state-dir?)", path,
        std::strerror(e)));
  }
  const std::string request = request_json.dump() + "\n";
  if (::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    throw std::runtime_error("cannot send to the agent");
  }
  std::string reply;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return reply;
}

std::string table_of(const std::string& what, const json& j) {
  std::vector<std::vector<std::string>> rows;
  if (what == "status") {
    for (const auto& [k, v] : j.items()) rows.push_back({k, text(v)});
    return format_table({"Field", "Value"}, rows);
  }
  if (what == "lookup-records") {
    for (const auto& r : j)
      rows.push_back(
          {text(r["vsid"]), text(r["ca"]), text(r["pa"]), text(r["mac"]), text(r["rule"])});
    return format_table(
        {"VirtualSubnetID", "CustomerAddress", "ProviderAddress", "MACAddress", "Rule"}, rows);
  }
  if (what == "customer-routes") {
    for (const auto& r : j)
      rows.push_back({text(r["rdid"]), text(r["vsid"]), text(r["prefix"]), text(r["next_hop"]),
                      text(r["metric"])});
    return format_table(
        {"RoutingDomainID", "VirtualSubnetID", "DestinationPrefix", "NextHop", "Metric"}, rows);
  }
  if (what == "ports") {
    for (const auto& p : j) {
      std::string dns;
      for (const auto& d : p["dns"]) dns += (dns.empty() ? "" : ",") + text(d);
      const std::string profile = p.contains("profile") ? p["profile"].value("name", "") : "";
      rows.push_back({text(p["interface"]), text(p["nic_id"]), text(p["mac"]),
                      fmt::format("{}/{}", text(p["ca"]), text(p["prefix_len"])),
                      text(p["gateway"]), dns.empty() ? "-" : dns, text(p["vsid"]), text(p["mtu"]),
                      profile.empty() ? "-" : profile});
    }
    return format_table({"Interface", "NIC", "MACAddress", "CustomerAddress", "Gateway", "DNS",
                         "VSID", "MTU", "PortProfile"},
                        rows);
  }
  if (what == "counters") {
    // {port: {reason: n}} from the engine; empty without one.
    for (const auto& [port, reasons] : j.items()) {
      if (reasons.is_object()) {
        for (const auto& [reason, n] : reasons.items()) {
          if (n.is_object()) {
            // The uplink's sharing: one row per figure, a port's share by name.
            for (const auto& [field, v] : n.items()) {
              if (!v.is_object()) {
                rows.push_back({port, fmt::format("{}.{}", reason, field), text(v)});
                continue;
              }
              for (const auto& [key, value] : v.items())
                rows.push_back({port, fmt::format("{}.{}.{}", reason, field, key), text(value)});
            }
            continue;
          }
          if (!n.is_array()) {
            rows.push_back({port, reason, text(n)});
            continue;
          }
          // The uplink's queues and the engine threads: one row per figure.
          for (size_t i = 0; i < n.size(); ++i) {
            for (const auto& [field, v] : n[i].items())
              rows.push_back({port, fmt::format("{}[{}].{}", reason, i, field), text(v)});
          }
        }
      } else {
        rows.push_back({port, "", text(reasons)});
      }
    }
    return format_table({"Port", "Counter", "Value"}, rows);
  }
  if (what == "gateways") {
    for (const auto& g : j) {
      rows.push_back(
          {text(g["gateway_id"]), text(g["kind"]), text(g["external_ip"]),
           g.value("local", false) ? "here" : text(g["pa"]),
           g.contains("interface") ? text(g["interface"]) : "-",
           g.contains("next_hop") ? text(g["next_hop"]) + " " + text(g["next_hop_mac"]) : "-",
           g.contains("flows") ? text(g["flows"]) : "-",
           g.contains("nat_table_full")
               ? fmt::format("{}/{}/{}", text(g["nat_table_full"]), text(g["nat_ports_exhausted"]),
                             text(g["nat_unsolicited"]))
               : "-"});
    }
    return format_table({"Gateway", "Kind", "ExternalAddress", "RunsOn", "Interface", "NextHop",
                         "Flows", "Full/NoPort/Unsolicited"},
                        rows);
  }
  if (what == "nat") {
    // Like conntrack -L: one line per flow, both directions.
    for (const auto& f : j["flows"]) {
      rows.push_back({text(f["protocol"]), text(f["vsid"]),
                      fmt::format("{}:{}", text(f["ca"]), text(f["ca_port"])),
                      fmt::format("{}:{}", text(f["external_ip"]), text(f["external_port"])),
                      fmt::format("{}:{}", text(f["remote"]), text(f["remote_port"])),
                      f["state"].get<std::string>().empty() ? "-" : text(f["state"]),
                      f.value("inbound_rule", false) ? "rule" : "out", text(f["age_s"]),
                      text(f["idle_s"])});
    }
    return format_table({"Proto", "VSID", "Inside", "Outside", "Remote", "State", "Opened",
                         "Age(s)", "Idle(s)"},
                        rows) +
           fmt::format("{} of {} flows shown; the table holds at most {} ({} bytes)\n",
                       j["flows"].size(), text(j["total"]), text(j["capacity"]),
                       text(j["memory_bytes"]));
  }
  return j.dump(2) + "\n";  // policy: JSON is its table
}

}  // namespace

int trace(const std::filesystem::path& state_dir, const json& request, const std::string& output) {
  try {
    const json reply =
        json::parse(ask(StateDir(state_dir).socket(), json{{"trace", request}}), nullptr, false);
    if (reply.is_discarded()) throw std::runtime_error("the agent's answer is not JSON");
    if (reply.is_object() && reply.contains("error")) {
      fmt::print(stderr, "vnet-agent trace: {}\n", text(reply["error"]));
      return 1;
    }
    if (output == "json") {
      fmt::print("{}\n", reply.dump(2));
      return 0;
    }
    std::vector<std::vector<std::string>> rows;
    size_t n = 0;
    for (const auto& hop : reply["hops"]) {
      rows.push_back({std::to_string(++n), text(hop["step"]), text(hop["detail"])});
    }
    fmt::print("{}\n{} ({})\n", format_table({"#", "STEP", "DETAIL"}, rows), text(reply["verdict"]),
               text(reply["reason"]));
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "vnet-agent trace: {}\n", e.what());
    return 1;
  }
}

int show(const std::filesystem::path& state_dir, const std::string& what,
         const std::string& output) {
  static const std::vector<std::string> known = {"status",          "policy", "lookup-records",
                                                 "customer-routes", "ports",  "counters",
                                                 "gateways",        "nat"};
  if (std::find(known.begin(), known.end(), what) == known.end()) {
    fmt::print(stderr,
               "vnet-agent show: \"{}\" is not one of status, policy, lookup-records, "
               "customer-routes, ports, counters, gateways, nat\n",
               what);
    return 2;
  }
  try {
    const json reply =
        json::parse(ask(StateDir(state_dir).socket(), json{{"show", what}}), nullptr, false);
    if (reply.is_discarded()) throw std::runtime_error("the agent's answer is not JSON");
    if (reply.is_object() && reply.contains("error")) {
      fmt::print(stderr, "vnet-agent show {}: {}\n", what, text(reply["error"]));
      return 1;
    }
    fmt::print("{}", output == "json" ? reply.dump(2) + "\n" : table_of(what, reply));
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "vnet-agent show {}: {}\n", what, e.what());
    return 1;
  }
}

}  // namespace vnet::agent
