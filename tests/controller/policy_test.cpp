// The policy compiler on small models built in memory (no database): the
// exact records each host gets. The engine's tests (generations, deltas,
// persistence) are in engine_test.cpp.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "controller/policy/compiler.h"
#include "controller/policy/engine.h"
#include "controller/policy/model.h"
#include "controller/policy/realization.h"
#include "shared/policy/delta.h"
#include "shared/policy/json.h"
#include "shared/testing/fixtures.h"

namespace vnet::compiler {
namespace {

using nlohmann::json;
using vnet::testing::uuid;

std::string id(uint64_t n) { return uuid(n).to_string(); }

// Seed scenario 2 of DESIGN.md with the ids of shared/testing/fixtures.cpp:
// host 1 (192.168.1.10) and host 2 (192.168.2.20), Blue (VSID 5001) and Red
// (VSID 6001), each with 10.0.0.5 on host 1 and 10.0.0.7 on host 2.
std::vector<Change> seed_changes() {
  return {
      {"logical-networks", id(0x10), json{{"name", "dc"}, {"flow_entropy", false}}},
      {"sites", id(0x20),
       json{{"logical_network_id", id(0x10)},
            {"subnets", {{{"prefix", "192.168.1.0/24"}}, {{"prefix", "192.168.2.0/24"}}}}}},
      {"ip-pools", id(0x21),
       json{{"site_id", id(0x20)},
            {"subnet", "192.168.1.0/24"},
            {"ranges", {{{"start", "192.168.1.10"}, {"end", "192.168.1.99"}}}},
            {"gateway", "192.168.1.1"}}},
      {"ip-pools", id(0x22),
       json{{"site_id", id(0x20)},
            {"subnet", "192.168.2.0/24"},
            {"ranges", {{{"start", "192.168.2.20"}, {"end", "192.168.2.99"}}}},
            {"gateway", "192.168.2.1"}}},
      {"hosts", id(1), json{{"name", "host1"}, {"site_id", id(0x20)}, {"pa", "192.168.1.10"}}},
      {"hosts", id(2), json{{"name", "host2"}, {"site_id", id(0x20)}, {"pa", "192.168.2.20"}}},
      {"vm-networks", id(0xb0),
       json{{"logical_network_id", id(0x10)},
            {"rdid", id(0xb1)},
            {"isolation", "hnv"},
            {"translation", "encap"}}},
      {"vm-networks", id(0xd0),
       json{{"logical_network_id", id(0x10)},
            {"rdid", id(0xd1)},
            {"isolation", "hnv"},
            {"translation", "encap"}}},
      {"vm-subnets", id(0xb2),
       json{{"vm_network_id", id(0xb0)}, {"prefix", "10.0.0.0/24"}, {"vsid", 5001}}},
      {"vm-subnets", id(0xd2),
       json{{"vm_network_id", id(0xd0)}, {"prefix", "10.0.0.0/24"}, {"vsid", 6001}}},
      {"ip-pools", id(0xb3),
       json{{"vm_subnet_id", id(0xb2)},
            {"subnet", "10.0.0.0/24"},
            {"ranges", {{{"start", "10.0.0.5"}, {"end", "10.0.0.99"}}}},
            {"gateway", "10.0.0.1"},
            {"dns", {"10.0.0.2"}}}},
      {"ip-pools", id(0xd3),
       json{{"vm_subnet_id", id(0xd2)},
            {"subnet", "10.0.0.0/24"},
            {"ranges", {{{"start", "10.0.0.5"}, {"end", "10.0.0.99"}}}},
            {"gateway", "10.0.0.1"}}},
      {"vm-nics", id(0x105),
       json{{"vm_subnet_id", id(0xb2)},
            {"mac", "00:1D:D8:B7:1C:05"},
            {"ip", "10.0.0.5"},
            {"host_id", id(1)},
            {"interface", "vnet-blue5"}}},
      {"vm-nics", id(0x107),
       json{{"vm_subnet_id", id(0xb2)},
            {"mac", "00:1D:D8:B7:1C:07"},
            {"ip", "10.0.0.7"},
            {"host_id", id(2)},
            {"interface", "vnet-blue7"}}},
      {"vm-nics", id(0x115),
       json{{"vm_subnet_id", id(0xd2)},
            {"mac", "00:1D:D8:B7:1C:15"},
            {"ip", "10.0.0.5"},
            {"host_id", id(1)},
            {"interface", "vnet-red5"}}},
      {"vm-nics", id(0x117),
       json{{"vm_subnet_id", id(0xd2)},
            {"mac", "00:1D:D8:B7:1C:17"},
            {"ip", "10.0.0.7"},
            {"host_id", id(2)},
            {"interface", "vnet-red7"}}},
  };
}

Model seed_model() {
  Model m;
  for (const auto& c : seed_changes()) m.apply(c);
  return m;
}

TEST(PolicyCompiler, SeedHost1IsExactlyTheDocumentedPolicy) {
  policy::HostPolicy expected = vnet::testing::seed_host1_policy();
  expected.generation = 0;
  policy::canonicalize(expected);
  const policy::HostPolicy got = compile(seed_model(), id(1));
  EXPECT_EQ(policy::to_json_text(got, 2), policy::to_json_text(expected, 2));
  EXPECT_EQ(policy::validate(got), std::nullopt);
}

TEST(PolicyCompiler, Host2GetsItsOwnPortsAndProvider) {
  const policy::HostPolicy p = compile(seed_model(), id(2));
  ASSERT_EQ(p.ports.size(), 2u);
  EXPECT_EQ(p.ports[0].interface, "vnet-blue7");
  EXPECT_EQ(p.ports[1].interface, "vnet-red7");
  EXPECT_EQ(p.provider.pa.to_string(), "192.168.2.20");
  ASSERT_EQ(p.provider.routes.size(), 1u);
  EXPECT_EQ(p.provider.routes[0].next_hop.to_string(), "192.168.2.1");
  EXPECT_EQ(p.lookup_records.size(), 4u);
}

TEST(PolicyCompiler, AHostGetsOnlyTheRoutingDomainsItHasSomethingTo) {
  Model m = seed_model();
  m.apply({"hosts", id(3), json{{"name", "host3"}, {"site_id", id(0x20)}, {"pa", "192.168.1.30"}}});
  // Nothing on host 3: provider only.
  policy::HostPolicy p = compile(m, id(3));
  EXPECT_TRUE(p.ports.empty());
  EXPECT_TRUE(p.lookup_records.empty());
  EXPECT_TRUE(p.customer_routes.empty());
  // A Blue NIC on host 3: Blue's records, never Red's.
  m.apply({"vm-nics", id(0x109),
           json{{"vm_subnet_id", id(0xb2)},
                {"mac", "00:1D:D8:B7:1C:09"},
                {"ip", "10.0.0.9"},
                {"host_id", id(3)},
                {"interface", "vnet-blue9"}}});
  p = compile(m, id(3));
  ASSERT_EQ(p.lookup_records.size(), 3u);
  for (const auto& r : p.lookup_records) EXPECT_EQ(r.vsid.value(), 5001u);
  ASSERT_EQ(p.customer_routes.size(), 1u);
  EXPECT_EQ(p.customer_routes[0].rdid, uuid(0xb1));
  // And the hosts concerned by that NIC are Blue's hosts, not host 3 alone.
  EXPECT_EQ(m.hosts_touched_by("vm-nics", id(0x109)), (IdSet{id(1), id(2), id(3)}));
  EXPECT_EQ(m.hosts_touched_by("vm-nics", id(0x115)), (IdSet{id(1), id(2)}));
}

TEST(PolicyCompiler, UnplacedAndUnboundNicsAreNoPorts) {
  Model m = seed_model();
  m.apply({"vm-nics", id(0x10a),
           json{{"vm_subnet_id", id(0xb2)}, {"mac", "00:1D:D8:B7:1C:0A"}, {"ip", "10.0.0.10"}}});
  m.apply({"vm-nics", id(0x10b),
           json{{"vm_subnet_id", id(0xb2)},
                {"mac", "00:1D:D8:B7:1C:0B"},
                {"ip", "10.0.0.11"},
                {"host_id", id(1)}}});
  const policy::HostPolicy p = compile(m, id(1));
  EXPECT_EQ(p.ports.size(), 2u);  // neither new NIC is a port
  // The placed one has a record (traffic can reach its host); the other not.
  size_t blue = 0;
  for (const auto& r : p.lookup_records) blue += r.vsid.value() == 5001 ? 1 : 0;
  EXPECT_EQ(blue, 3u);
}

// Seed scenario 3: AAA's two subnets route to each other; BBB, with the
// same 10.10.0.0/16, is another routing domain.
TEST(PolicyCompiler, SubnetsOfOneVmNetworkRouteAndTenantRoutesTakeTheNextHopsVsid) {
  Model m = seed_model();
  m.apply({"vm-networks", id(0xaa0),
           json{{"logical_network_id", id(0x10)}, {"rdid", id(0xaa1)}, {"translation", "encap"}}});
  m.apply({"vm-subnets", id(0xaa2),
           json{{"vm_network_id", id(0xaa0)}, {"prefix", "10.10.0.0/16"}, {"vsid", 7001}}});
  m.apply({"vm-subnets", id(0xaa3),
           json{{"vm_network_id", id(0xaa0)}, {"prefix", "172.16.0.0/16"}, {"vsid", 7002}}});
  m.apply({"routes", id(0xaa4),
           json{{"vm_network_id", id(0xaa0)},
                {"prefix", "0.0.0.0/0"},
                {"next_hop", "172.16.0.254"},
                {"metric", 10}}});
  m.apply({"vm-nics", id(0xaa5),
           json{{"vm_subnet_id", id(0xaa2)},
                {"mac", "00:1D:D8:B7:1C:AA"},
                {"ip", "10.10.1.100"},
                {"host_id", id(1)},
                {"interface", "vnet-aaa"}}});
  const policy::HostPolicy p = compile(m, id(1));
  std::vector<std::string> aaa;
  for (const auto& r : p.customer_routes) {
    if (r.rdid == uuid(0xaa1))
      aaa.push_back(fmt::format("{} {} {} {}", r.vsid.value(), r.prefix.to_string(),
                                r.next_hop.to_string(), r.metric));
  }
  EXPECT_EQ(aaa, (std::vector<std::string>{"7001 10.10.0.0/16 0.0.0.0 0",
                                           "7002 0.0.0.0/0 172.16.0.254 10",
                                           "7002 172.16.0.0/16 0.0.0.0 0"}));
  // The default gateway of a subnet without a pool is its first address.
  const auto port = std::find_if(p.ports.begin(), p.ports.end(),
                                 [](const policy::Port& x) { return x.interface == "vnet-aaa"; });
  ASSERT_NE(port, p.ports.end());
  EXPECT_EQ(port->gateway.to_string(), "10.10.0.1");
  EXPECT_EQ(port->prefix_len, 16);
  EXPECT_EQ(port->mtu, 1458);
}

// Issue 18: a port's MTU is its host's uplink MTU (as its agent reported
// it) less the 42 NVGRE bytes, or the VM network's own when smaller; 1458
// until the agent has said.
TEST(PolicyCompiler, APortsMtuIsItsUplinksLessNvgreOrItsNetworksOwn) {
  Model m = seed_model();
  auto mtus = [&](const Id& host) {
    std::vector<int> out;
    for (const auto& port : compile(m, host).ports) out.push_back(port.mtu);
    return out;
  };
  auto host1_reports = [&](int uplink_mtu) {
    m.apply({"hosts", id(1),
             json{{"name", "host1"},
                  {"site_id", id(0x20)},
                  {"pa", "192.168.1.10"},
                  {"uplink_mtu", uplink_mtu}}});
  };
  EXPECT_EQ(mtus(id(1)), (std::vector<int>{1458, 1458}));
  host1_reports(1542);
  EXPECT_EQ(mtus(id(1)), (std::vector<int>{1500, 1500}));
  EXPECT_EQ(mtus(id(2)), (std::vector<int>{1458, 1458}));  // its own uplink, not host 1's
  host1_reports(9000);
  EXPECT_EQ(mtus(id(1)), (std::vector<int>{8958, 8958}));
  // Blue (the first port's network) says 1400: its port gets 1400, Red's keeps 8958.
  m.apply({"vm-networks", id(0xb0),
           json{{"logical_network_id", id(0x10)}, {"rdid", id(0xb1)}, {"mtu", 1400}}});
  EXPECT_EQ(mtus(id(1)), (std::vector<int>{1400, 8958}));
  EXPECT_EQ(policy::validate(compile(m, id(1))), std::nullopt);
}

TEST(PolicyCompiler, ANicMovingBetweenHostsChangesExactlyItsRecordAndPorts) {
  Model m = seed_model();
  m.apply({"hosts", id(3), json{{"name", "host3"}, {"site_id", id(0x20)}, {"pa", "192.168.1.30"}}});
  const auto before1 = compile(m, id(1));
  const auto before2 = compile(m, id(2));
  const auto before3 = compile(m, id(3));
  const IdSet touched_before = m.hosts_touched_by("vm-nics", id(0x107));
  m.apply({"vm-nics", id(0x107),
           json{{"vm_subnet_id", id(0xb2)},
                {"mac", "00:1D:D8:B7:1C:07"},
                {"ip", "10.0.0.7"},
                {"host_id", id(3)},
                {"interface", "vnet-blue7"}}});
  IdSet touched = m.hosts_touched_by("vm-nics", id(0x107));
  touched.insert(touched_before.begin(), touched_before.end());
  EXPECT_EQ(touched, (IdSet{id(1), id(2), id(3)}));

  // Host 1: Blue 10.0.0.7 now points at host 3's PA; nothing else.
  auto d1 = policy::diff(before1, compile(m, id(1)));
  ASSERT_EQ(d1.size(), 1u);
  EXPECT_EQ(d1.lookup_records.set.at(0).pa.to_string(), "192.168.1.30");
  // Host 2: loses the Blue port, and with it Blue's records and route (no
  // Blue NIC is left there); Red stays.
  auto d2 = policy::diff(before2, compile(m, id(2)));
  EXPECT_EQ(d2.ports.remove.size(), 1u);
  EXPECT_EQ(d2.lookup_records.remove.size(), 2u);
  EXPECT_EQ(d2.customer_routes.remove.size(), 1u);
  EXPECT_TRUE(d2.lookup_records.set.empty());
  // Host 3: gains the port, Blue's two records and its route.
  auto d3 = policy::diff(before3, compile(m, id(3)));
  EXPECT_EQ(d3.ports.set.size(), 1u);
  EXPECT_EQ(d3.lookup_records.set.size(), 2u);
  EXPECT_EQ(d3.customer_routes.set.size(), 1u);
  EXPECT_EQ(d3.size(), 4u);
}

// IP rewrite (DESIGN.md section 4): a rewrite VM network's records carry each
// NIC's own PA, and a host answers for the PAs of its own ports.
TEST(PolicyCompiler, RewriteRecordsCarryTheNicsOwnPa) {
  Model m = seed_model();
  m.apply({"vm-networks", id(0x90),
           json{{"logical_network_id", id(0x10)},
                {"rdid", id(0x91)},
                {"isolation", "hnv"},
                {"translation", "rewrite"}}});
  m.apply({"vm-subnets", id(0x92),
           json{{"vm_network_id", id(0x90)}, {"prefix", "10.1.0.0/24"}, {"vsid", 7001}}});
  m.apply({"vm-nics", id(0x135),
           json{{"vm_subnet_id", id(0x92)},
                {"mac", "00:1D:D8:B7:1C:35"},
                {"ip", "10.1.0.5"},
                {"host_id", id(1)},
                {"interface", "vnet-green5"},
                {"pa", "192.168.1.50"}}});
  m.apply({"vm-nics", id(0x137),
           json{{"vm_subnet_id", id(0x92)},
                {"mac", "00:1D:D8:B7:1C:37"},
                {"ip", "10.1.0.7"},
                {"host_id", id(2)},
                {"interface", "vnet-green7"},
                {"pa", "192.168.2.70"}}});
  const auto p1 = compile(m, id(1));
  std::vector<std::string> green;
  for (const auto& r : p1.lookup_records) {
    if (r.vsid.value() == 7001) {
      green.push_back(r.ca.to_string() + ">" + r.pa.to_string() + ":" +
                      std::string(to_string(r.rule)));
    }
  }
  EXPECT_EQ(green, (std::vector<std::string>{"10.1.0.5>192.168.1.50:rewrite",
                                             "10.1.0.7>192.168.2.70:rewrite"}));
  ASSERT_EQ(p1.rewrite_pas.size(), 1u);
  EXPECT_EQ(p1.rewrite_pas[0].pa.to_string(), "192.168.1.50");
  EXPECT_EQ(p1.rewrite_pas[0].ca.to_string(), "10.1.0.5");
  EXPECT_EQ(compile(m, id(2)).rewrite_pas.at(0).pa.to_string(), "192.168.2.70");
  EXPECT_FALSE(policy::validate(p1).has_value());
}

TEST(PolicyCompiler, IsolationNoneAndGatewaysOnTheHost) {
  Model m = seed_model();
  m.apply({"vm-networks", id(0xc0),
           json{{"logical_network_id", id(0x10)}, {"rdid", id(0xc1)}, {"isolation", "none"}}});
  m.apply({"vm-subnets", id(0xc2),
           json{{"vm_network_id", id(0xc0)}, {"prefix", "10.50.0.0/24"}, {"vsid", 8001}}});
  m.apply({"vm-nics", id(0xc3),
           json{{"vm_subnet_id", id(0xc2)},
                {"mac", "00:1D:D8:B7:1C:C3"},
                {"ip", "10.50.0.5"},
                {"host_id", id(1)},
                {"interface", "vnet-plain"}}});
  m.apply({"hosts", id(2),
           json{{"site_id", id(0x20)}, {"pa", "192.168.2.20"}, {"external_interface", "ext0"}}});
  m.apply({"ip-pools", id(0xba),
           json{{"site_id", id(0x20)},
                {"subnet", "203.0.113.0/24"},
                {"gateway", "203.0.113.1"},
                {"ranges", json::array({{{"start", "203.0.113.5"}, {"end", "203.0.113.9"}}})}}});
  m.apply({"gateways", id(0xb9),
           json{{"vm_network_id", id(0xb0)},
                {"kind", "nat"},
                {"host_id", id(2)},
                {"external_pool_id", id(0xba)},
                {"external_ip", "203.0.113.7"}}});
  const auto p1 = compile(m, id(1));
  EXPECT_EQ(p1.ports.size(), 2u);  // the "none" NIC is the physical network's
  for (const auto& r : p1.lookup_records) EXPECT_NE(r.vsid.value(), 8001u);
  const auto p2 = compile(m, id(2));
  ASSERT_EQ(p2.gateways.size(), 1u);
  EXPECT_EQ(p2.gateways[0].rdid, uuid(0xb1));
  EXPECT_EQ(p2.gateways[0].external_ip.to_string(), "203.0.113.7");
  EXPECT_EQ(p2.gateways[0].kind, policy::GatewayKind::kNat);
  EXPECT_EQ(p2.gateways[0].pa.to_string(), "192.168.2.20");
  EXPECT_EQ(p2.gateways[0].next_hop.to_string(), "203.0.113.1");
  EXPECT_EQ(p2.gateways[0].interface, "ext0");
  // The hosts of the network send to it: host 1 has a NIC of 0xb0.
  EXPECT_EQ(compile(m, id(1)).gateways, p2.gateways);
}

// The content hash decides whether a host gets a new generation, so it must
// cover every field the agents receive. Each leaf of the canonical encoding
// (the policy's JSON) is changed in turn, the policy read back, and its hash
// must differ; a field added to the encoding but not to the hash fails here.
TEST(ContentHash, EveryFieldOfTheEncodingChangesIt) {
  policy::HostPolicy p = vnet::testing::seed_host1_policy();
  ASSERT_FALSE(p.ports.empty());
  ASSERT_FALSE(p.lookup_records.empty());
  ASSERT_FALSE(p.customer_routes.empty());
  p.ports[0].dns = {vnet::testing::ipv4("10.0.0.2")};
  p.provider.routes.push_back(
      {*net::IpPrefix::parse("192.168.2.0/24"), vnet::testing::ipv4("192.168.1.1")});
  p.rewrite_pas.push_back(
      {uuid(0x901), vnet::testing::ipv4("10.0.0.9"), vnet::testing::ipv4("192.168.1.77")});
  policy::GatewayPolicy g;
  g.gateway_id = uuid(0x902);
  g.rdid = p.ports[0].rdid;
  g.external_ip = vnet::testing::ipv4("203.0.113.10");
  g.pa = p.provider.pa;
  g.interface = "ext0";
  g.next_hop = vnet::testing::ipv4("203.0.113.1");
  g.nat_rules.push_back({policy::NatProtocol::kTcp, 8080, p.ports[0].ca, 80});
  g.advertised_prefixes.push_back(*net::IpPrefix::parse("10.0.0.0/24"));
  p.gateways.push_back(g);
  const std::string base = content_hash(p);
  {
    const auto again = policy::from_json(policy::to_json(p));
    ASSERT_TRUE(again) << again.error().to_string();
    ASSERT_EQ(content_hash(*again), base);
  }

  // Other valid values for a leaf, tried in order until the policy reads.
  auto candidates = [](const json& v) {
    std::vector<json> out;
    if (v.is_boolean()) out.push_back(!v.get<bool>());
    if (v.is_number_integer()) {
      out.push_back(v.get<int64_t>() + 1);
      if (v.get<int64_t>() > 0) out.push_back(v.get<int64_t>() - 1);
    }
    if (v.is_string()) {
      const std::string s = v.get<std::string>();
      const std::map<std::string, std::string> enums = {
          {"encap", "rewrite"},  {"rewrite", "encap"}, {"nat", "forwarding"},
          {"forwarding", "nat"}, {"tcp", "udp"},       {"udp", "tcp"}};
      if (auto it = enums.find(s); it != enums.end()) out.push_back(it->second);
      if (auto a = net::Ipv4Address::parse(s)) {
        out.push_back(net::Ipv4Address::from_u32(a->to_u32() ^ 1).to_string());
        out.push_back(net::Ipv4Address::from_u32(a->to_u32() ^ 0x100).to_string());
      }
      if (s.find('/') != std::string::npos) {
        const std::string address = s.substr(0, s.find('/'));
        const int len = std::stoi(s.substr(s.find('/') + 1));
        out.push_back(fmt::format("{}/{}", address, len > 8 ? len - 1 : len + 1));
      }
      if (s.size() >= 36 && s[8] == '-') {
        for (size_t at : {s.size() - 2, s.size() - 1}) {  // two tries: ids may be neighbours
          std::string t = s;
          t[at] = t[at] == 'a' ? 'b' : 'a';
          out.push_back(t);
        }
      }
      if (s.size() == 17 && s[2] == ':') {
        std::string t = s;
        t[16] = t[16] == '0' ? '1' : '0';
        out.push_back(t);
      }
      out.push_back(s + "x");
    }
    return out;
  };
  std::vector<std::string> unchanged, unreadable;
  size_t leaves = 0;
  const json encoded = policy::to_json(p);
  std::vector<std::string> pointers;  // every scalar leaf
  std::function<void(const json&, const std::string&)> walk = [&](const json& v,
                                                                  const std::string& at) {
    if (v.is_object()) {
      for (const auto& [key, item] : v.items()) walk(item, at + "/" + key);
    } else if (v.is_array()) {
      for (size_t i = 0; i < v.size(); ++i) walk(v[i], at + "/" + std::to_string(i));
    } else {
      pointers.push_back(at);
    }
  };
  walk(encoded, "");
  for (const std::string& pointer : pointers) {
    if (pointer == "/generation") continue;
    ++leaves;
    bool read = false;
    const json::json_pointer where(pointer);
    for (const json& other : candidates(encoded.at(where))) {
      json changed = encoded;
      changed[where] = other;
      auto back = policy::from_json(changed);
      if (!back) continue;
      read = true;
      if (content_hash(*back) == base) unchanged.push_back(pointer);
      break;
    }
    if (!read) unreadable.push_back(pointer);
  }
  // A gateway's kind cannot change alone while it has NAT rules: checked
  // on its own below.
  std::erase(unreadable, "/gateways/0/kind");
  EXPECT_GT(leaves, 40u);
  EXPECT_TRUE(unchanged.empty()) << "the hash ignores: " << json(unchanged).dump();
  EXPECT_TRUE(unreadable.empty()) << "no other valid value read for: " << json(unreadable).dump();
  policy::HostPolicy nat = p;
  nat.gateways[0].nat_rules.clear();
  policy::HostPolicy forwarding = nat;
  forwarding.gateways[0].kind = policy::GatewayKind::kForwarding;
  EXPECT_NE(content_hash(nat), content_hash(forwarding));
  // The generation alone does not change it.
  policy::HostPolicy next = p;
  next.generation += 1;
  EXPECT_EQ(content_hash(next), base);
}

}  // namespace
TEST(Realization, AGatewayShowsWhatItsHostReportsAndMetricsCountItByCode) {
  Realization r;
  const std::string host = id(3);
  model::Gateway gateway;
  gateway.host_id = host;
  gateway.kind = "nat";
  EXPECT_EQ(r.gateway_state(id(0xa1), model::Gateway()).at("detail")[0].at("code"), "not_placed");
  EXPECT_EQ(r.gateway_state(id(0xa1), gateway).at("detail")[0].at("code"), "host_not_connected");
  r.set_desired(host, 2);
  r.connected(host);
  r.acked(host, 2, {});
  EXPECT_EQ(r.gateway_state(id(0xa1), gateway).at("status"), "success");
  // The agent refuses new flows of the gateway: failure, with the code.
  r.acked(host, 2,
          {{"nat_table_full", "the NAT flow table is full", "", id(0xa1)},
           {"made_up_by_an_agent", "x", "", ""}});
  const json state = r.gateway_state(id(0xa1), gateway);
  EXPECT_EQ(state.at("status"), "failure");
  EXPECT_EQ(state.at("detail")[0].at("code"), "nat_table_full");
  EXPECT_EQ(r.gateway_state(id(0xa2), gateway).at("status"), "success");  // another gateway
  const auto counts = r.problem_counts();
  EXPECT_EQ(counts.at("nat_table_full"), 1u);
  EXPECT_EQ(counts.at("nat_ports_exhausted"), 0u);
  EXPECT_EQ(counts.at("other"), 1u);  // an agent cannot add labels
  EXPECT_FALSE(counts.contains("made_up_by_an_agent"));
}

}  // namespace vnet::compiler
