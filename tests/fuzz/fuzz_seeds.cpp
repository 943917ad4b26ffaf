// Writes a seed corpus for each fuzz target into DIR/<target>/: valid frames
// of every kind the parsers know, cut to the layer each target parses, the
// seed scenario's HostPolicy as JSON, and address texts. Mutating valid
// inputs reaches deep code (DHCP options, NVGRE's inner frame) that random
// bytes rarely do.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "shared/packet/ethernet.h"
#include "shared/packet/ipv4.h"
#include "shared/packet/udp.h"
#include "shared/policy/json.h"
#include "shared/testing/fixtures.h"
#include "shared/testing/packet_builder.h"
#include "tests/agent/dataplane/pipeline_fixtures.h"

namespace {

using namespace vnet;
using testing::Bytes;
using testing::ipv4;
using testing::mac;
using testing::PacketBuilder;

void write(const std::filesystem::path& dir, const std::string& name, const Bytes& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

Bytes after(const Bytes& frame, size_t offset) {
  return Bytes(frame.begin() + static_cast<long>(offset), frame.end());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds DIR\n");
    return 2;
  }
  const std::filesystem::path root = argv[1];
  const auto vm = mac("00:1D:D8:B7:1C:05");
  const auto peer = mac("00:1D:D8:B7:1C:07");
  const auto blue5 = ipv4("10.0.0.5");
  const auto blue7 = ipv4("10.0.0.7");

  const Bytes udp = PacketBuilder()
                        .eth(vm, peer)
                        .ipv4(blue5, blue7, {.options = {148, 4, 0, 0}})
                        .udp(1, 2)
                        .payload("x")
                        .build();
  const Bytes tcp = PacketBuilder()
                        .eth(vm, peer)
                        .ipv4(blue5, blue7)
                        .tcp(1, 80, {.options = {2, 4, 5, 180}})
                        .payload("GET")
                        .build();
  const Bytes icmp = PacketBuilder()
                         .eth(vm, peer)
                         .ipv4(blue5, blue7)
                         .icmp_echo_request(1, 2)
                         .payload("ping")
                         .build();
  const Bytes arp = PacketBuilder()
                        .eth(vm, net::MacAddress::broadcast())
                        .arp({.sender_mac = vm, .sender_ip = blue5, .target_ip = blue7})
                        .build();
  const Bytes v6 = PacketBuilder()
                       .eth(vm, peer)
                       .ipv6(testing::ipv6("fe80::1"), testing::ipv6("fe80::2"))
                       .udp(1, 2)
                       .build();
  const Bytes tagged = PacketBuilder().eth(vm, peer).vlan(7).ipv4(blue5, blue7).udp(1, 2).build();
  const Bytes dhcp =
      testing::dhcp_client_frame(vm, packet::DhcpMessageType::kRequest, 9, ipv4("10.10.1.100"));
  const Bytes nvgre = PacketBuilder()
                          .nvgre({.src_mac = vm,
                                  .dst_mac = peer,
                                  .src_pa = ipv4("192.168.1.10"),
                                  .dst_pa = ipv4("192.168.2.20"),
                                  .vsid = testing::vsid(5001),
                                  .flow_id = 3})
                          .payload(tcp)
                          .build();
  constexpr size_t kEth = 14, kIp = 20, kUdp = 8;

  for (const auto* f : {&udp, &tcp, &icmp, &arp, &v6, &tagged, &dhcp, &nvgre}) {
    write(root / "ethernet", std::to_string(f - &udp), *f);
  }
  write(root / "arp", "request", after(arp, kEth));
  write(root / "ipv4", "options", after(udp, kEth));
  write(root / "ipv4", "tcp", after(tcp, kEth));
  write(root / "ipv6", "udp", after(v6, kEth));
  write(root / "icmp", "echo", after(icmp, kEth + kIp));
  write(root / "udp", "dhcp", after(dhcp, kEth + kIp));
  write(root / "tcp", "mss", after(tcp, kEth + kIp));
  write(root / "gre", "nvgre", after(nvgre, kEth + kIp));
  write(root / "nvgre", "tcp", nvgre);
  write(root / "dhcp", "request", after(dhcp, kEth + kIp + kUdp));
  const std::string policy = policy::to_json_text(testing::seed_host1_policy(), 1);
  write(root / "host_policy", "seed.json", Bytes(policy.begin(), policy.end()));
  int i = 0;
  for (const char* text :
       {"10.0.0.5", "10.10.0.0/16", "2001:db8::/32", "::ffff:10.0.0.1", "00:1D:D8:B7:1C:00",
        "00-1D-D8-B7-1C-00", "0x1389", "{11111111-2222-3333-4444-000000000000}"}) {
    write(root / "net_text", std::to_string(i++),
          Bytes(text, text + std::char_traits<char>::length(text)));
  }
  std::printf("fuzz_seeds: wrote seeds to %s\n", root.c_str());
  // The pipeline: every fixture frame, behind the byte that says where it enters.
  {
    const auto fixture_policy = testing::dataplane::pipeline_policy();
    int count = 0;
    for (const auto& f : testing::dataplane::pipeline_fixtures()) {
      uint8_t ingress = 0xff;
      for (size_t port = 0; port < fixture_policy.ports.size(); ++port) {
        if (fixture_policy.ports[port].interface == f.in) ingress = static_cast<uint8_t>(port);
      }
      Bytes seed{ingress, 0};
      seed.insert(seed.end(), f.frame.begin(), f.frame.end());
      write(root / "pipeline", "fixture-" + std::to_string(count++), seed);
    }
    // Gateways: a VM's UDP and a reply, NVGRE to the gateway host (0xfe)
    // and from its external network (0xfd).
    namespace fx = testing::dataplane;
    const Bytes vm_frame = PacketBuilder()
                               .eth(vm, mac("00:1D:D8:00:00:01"))
                               .ipv4(ipv4("10.0.0.5"), ipv4("203.0.113.1"))
                               .udp(40000, 7)
                               .payload("hello")
                               .build();
    const Bytes tunnel = PacketBuilder()
                             .nvgre({.src_mac = fx::underlay_router_mac(),
                                     .dst_mac = fx::gateway_uplink_mac(),
                                     .src_pa = ipv4("192.168.1.10"),
                                     .dst_pa = ipv4("192.168.3.30"),
                                     .vsid = testing::vsid(5001),
                                     .flow_id = 0,
                                     .ttl = 64})
                             .payload(vm_frame)
                             .build();
    const Bytes reply = PacketBuilder()
                            .eth(fx::next_hop_mac(), fx::external_mac())
                            .ipv4(ipv4("203.0.113.1"), ipv4("203.0.113.100"))
                            .udp(7, 60000)
                            .payload("hello")
                            .build();
    Bytes out_seed{0xfe, 1};
    out_seed.insert(out_seed.end(), tunnel.begin(), tunnel.end());
    write(root / "pipeline", "gateway-out", out_seed);
    Bytes in_seed{0xfd, 0};
    in_seed.insert(in_seed.end(), reply.begin(), reply.end());
    write(root / "pipeline", "gateway-in", in_seed);
  }
  // The router: requests like the API tests' (first byte: 0 admin, 1 tenant,
  // 2 no token), valid and not.
  {
    const std::vector<std::string> requests = {
        std::string(1, '\0') + "GET /api/v1/tenants?limit=10\n\n",
        std::string(1, '\0') +
            "POST /api/v1/tenants\ncontent-type: application/json\n\n{\"name\":\"contoso\"}",
        std::string(1, '\0') +
            "POST /api/v1/logical-networks\n\n{\"name\":\"dc\",\"network_virtualization\":true}",
        std::string(1, '\1') +
            "POST /api/v1/vm-networks\n\n{\"name\":\"AAA\",\"logical_network_id\":"
            "\"00000000-0000-4000-8000-000000000001\"}",
        std::string(1, '\1') +
            "PATCH /api/v1/vm-nics/00000000-0000-4000-8000-000000000001\ncontent-type: "
            "application/merge-patch+json\nif-match: \"x\"\n\n{\"host_id\":null}",
        std::string(1, '\0') +
            "PUT /api/v1/tenants/00000000-0000-4000-8000-000000000002\n\n{\"name\":\"b\"}",
        std::string(1, '\0') + "DELETE /api/v1/tenants/00000000-0000-4000-8000-000000000002\n\n",
        std::string(1, '\2') + "GET /healthz\n\n",
        std::string(1, '\2') + "GET /metrics\n\n",
        std::string(1, '\0') + "GET /api/v1/openapi.json\n\n",
        std::string(1, '\1') + "GET /api/v1/whoami\n\n",
        std::string(1, '\0') + "POST /api/v1/tenants?wait=realized&timeout=5\n\n{\"name\":\"w\"}",
        std::string(1, '\0') + "GET /api/v1/tenants/\xff\xfe\n\n",
        std::string(1, '\0') + "POST /api/v1/tenants\n\n{\"id\":5,\"name\":[1]}",
        std::string(1, '\0') +
            "POST /api/v1/ip-pools\n\n{\"ranges\":[{\"start\":\"10.0.0.300\"}],\"dns\":[7]}",
    };
    int n = 0;
    for (const auto& r : requests) {
      write(root / "router", std::to_string(n++), Bytes(r.begin(), r.end()));
    }
  }
  return 0;
}
