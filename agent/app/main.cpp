// vnet-agent: the compute host's side of vnet. `vnet-agent --controller ...`
// runs it; `vnet-agent show ...` asks a running one. The control side is in
// agent/control, the packet engines behind agent/control/dataplane.h.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <fstream>

#include "agent/control/agent.h"
#include "agent/control/show.h"
#include "agent/xsk/afxdp_dataplane.h"
#include "shared/config/toml_config.h"
#include "shared/log/log.h"

int main(int argc, char** argv) {
  vnet::agent::AgentOptions options;
  std::string state_dir = options.state_dir.string();
  std::string dataplane = "afxdp";
  std::string uplink;
  std::string log_level = "info";
  CLI::App cli{"vnet-agent: carries tenant traffic on this host as the controller says",
               "vnet-agent"};
  vnet::config::add_config_option(cli, "/etc/vnet/agent.toml");
  cli.add_option("--controller", options.controller,
                 "Southbound address, ADDR:PORT; several controller replicas as "
                 "ADDR:PORT,ADDR:PORT,... (the agent moves to the next when one fails)");
  cli.add_option("--host-id", options.host_id, "This host's id in the controller");
  std::string token_file;
  cli.add_option("--enrollment-token", options.enrollment_token,
                 "One-time token (first start; from POST /hosts/{id}/enrollment); prefer "
                 "--enrollment-token-file or VNET_ENROLLMENT_TOKEN: the command line is "
                 "visible to every local user in ps")
      ->envname("VNET_ENROLLMENT_TOKEN");
  cli.add_option("--enrollment-token-file", token_file,
                 "Read the one-time enrollment token from FILE (first start)");
  cli.add_option("--ca-sha256", options.ca_sha256,
                 "SHA-256 of the controller's CA certificate (first start)");
  cli.add_option("--state-dir", state_dir, "Key, certificates, last policy, admin socket")
      ->capture_default_str();
  cli.add_option("--dataplane", dataplane,
                 "Packet engine: afxdp (AF_XDP, needs --uplink and root) or none (forwards "
                 "nothing; for trying the control side)")
      ->check(CLI::IsMember({"afxdp", "none"}))
      ->capture_default_str();
  cli.add_option("--uplink", uplink,
                 "The interface on the physical network that carries the PA (afxdp)");
  cli.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  uint32_t engine_threads = 0;
  cli.add_option("--engine-threads", engine_threads,
                 "Engine threads, one per uplink receive queue 0..N-1 (afxdp); default: the "
                 "uplink's queue count, at most the CPUs this process may use")
      ->check(CLI::Range(uint32_t{1}, uint32_t{64}));
  uint32_t uplink_mbps = 0;
  cli.add_option("--uplink-mbps", uplink_mbps,
                 "The uplink's capacity in Mbit/s: above it the VM ports share it by their port "
                 "profiles' weight and minimum (afxdp); default 0: not shared")
      ->check(CLI::Range(uint32_t{0}, uint32_t{4'000'000}));
  // Gateway hosts (DESIGN.md section 4, "Gateways"): the NAT flow table.
  vnet::agent::dataplane::NatOptions nat;
  cli.add_option("--nat-flows", nat.capacity,
                 "NAT flows the table holds (each gateway may hold an equal share); about 64 "
                 "bytes each")
      ->check(CLI::Range(uint32_t{1}, uint32_t{1} << 24))
      ->capture_default_str();
  cli.add_option("--nat-udp-timeout", nat.timeouts.udp, "Seconds a UDP flow lives idle")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cli.add_option("--nat-icmp-timeout", nat.timeouts.icmp, "Seconds an ICMP echo flow lives idle")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cli.add_option("--nat-tcp-timeout", nat.timeouts.tcp_established,
                 "Seconds an established TCP flow lives idle")
      ->check(CLI::Range(1, 604800))
      ->capture_default_str();
  cli.add_option("--nat-tcp-closing-timeout", nat.timeouts.tcp_closing,
                 "Seconds a TCP flow lives after FIN or RST")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cli.add_option("--nat-tcp-opening-timeout", nat.timeouts.tcp_opening,
                 "Seconds a TCP flow lives before the other side answers its SYN")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();

  std::string what;
  std::string output = "table";
  CLI::App* show = cli.add_subcommand("show", "Ask the running agent (admin socket)");
  show->add_option("WHAT", what,
                   "status, policy, lookup-records, customer-routes, ports, counters, gateways, "
                   "nat")
      ->required();
  show->add_option("--state-dir", state_dir, "The agent's state directory")->capture_default_str();
  show->add_option("-o,--output", output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();

  std::string trace_from, trace_to, trace_protocol = "icmp", trace_src;
  uint16_t trace_port = 0;
  CLI::App* trace = cli.add_subcommand(
      "trace", "The path of a packet from a port through this host's live tables (admin socket)");
  trace->add_option("--from", trace_from, "the port: its VM NIC's id or its interface")->required();
  trace->add_option("--to", trace_to, "the destination IPv4 address")->required();
  trace->add_option("--protocol", trace_protocol, "icmp, tcp or udp")
      ->check(CLI::IsMember({"icmp", "tcp", "udp"}))
      ->capture_default_str();
  trace->add_option("--port", trace_port, "the destination port (tcp, udp)");
  trace->add_option("--src", trace_src, "send from this address instead of the port's");
  trace->add_option("--state-dir", state_dir, "The agent's state directory")->capture_default_str();
  trace->add_option("-o,--output", output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();

  if (auto code = vnet::config::parse(cli, argc, argv)) return *code;
  if (show->parsed()) return vnet::agent::show(state_dir, what, output);
  if (trace->parsed()) {
    return vnet::agent::trace(state_dir,
                              {{"from", trace_from},
                               {"to", trace_to},
                               {"protocol", trace_protocol},
                               {"port", trace_port},
                               {"src", trace_src}},
                              output);
  }

  if (auto error = vnet::log::init("agent", log_level)) {
    fmt::print(stderr, "vnet-agent: {}\n", *error);
    return 1;
  }
  if (options.controller.empty() || options.host_id.empty()) {
    fmt::print(stderr, "vnet-agent: --controller and --host-id are required\n");
    return 1;
  }
  if (dataplane == "afxdp" && uplink.empty()) {
    fmt::print(stderr,
               "vnet-agent: --dataplane afxdp needs --uplink IFNAME (the NIC on the physical "
               "network), or use --dataplane none\n");
    return 1;
  }
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    std::string line;
    if (!in || !std::getline(in, line)) {
      fmt::print(stderr, "vnet-agent: --enrollment-token-file {}: cannot read it\n", token_file);
      return 1;
    }
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    options.enrollment_token = line;
  }
  options.state_dir = state_dir;
  try {
    std::unique_ptr<vnet::agent::Dataplane> engine;
    if (dataplane == "afxdp") {
      // The controller's address, when it is one, tells which interface is
      // the management one (never a VM port).
      std::optional<vnet::net::Ipv4Address> controller;
      // (the first of several replicas: they share the management network).
      const std::string first = options.controller.substr(0, options.controller.find(','));
      if (const size_t colon = first.rfind(':'); colon != std::string::npos) {
        if (auto a = vnet::net::Ipv4Address::parse(first.substr(0, colon))) controller = *a;
      }
      vnet::agent::xsk::EngineOptions engine_options;
      engine_options.nat = nat;
      engine_options.threads = engine_threads;  // 0: the dataplane decides
      engine_options.uplink_mbps = uplink_mbps;
      engine =
          std::make_unique<vnet::agent::xsk::AfXdpDataplane>(uplink, controller, engine_options);
    } else {
      engine = std::make_unique<vnet::agent::NoDataplane>();
    }
    vnet::agent::Agent agent(options, std::move(engine));
    agent.stop_on_signals();
    return agent.run();
  } catch (const std::exception& e) {
    fmt::print(stderr, "vnet-agent: {}\n", e.what());
    return 1;
  }
}
