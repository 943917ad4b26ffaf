#include <gtest/gtest.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "shared/policy/json.h"
#include "shared/testing/fixtures.h"

namespace vnet::policy {
namespace {

using nlohmann::json;
using testing::seed_host1_policy;

TEST(HostPolicyJson, SeedPolicyIsValid) { EXPECT_EQ(validate(seed_host1_policy()), std::nullopt); }

TEST(HostPolicyJson, RoundTripsThroughText) {
  const HostPolicy policy = seed_host1_policy();
  const std::string text = to_json_text(policy, 2);
  auto back = from_json_text(text);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(*back, policy);
  EXPECT_EQ(to_json_text(*back, 2), text);
}

TEST(HostPolicyJson, FieldsAreTheDesignContract) {
  const json j = to_json(seed_host1_policy());
  // DESIGN.md section 3, HostPolicy: the names, nesting and value forms.
  EXPECT_EQ(j.at("host_id"), "00000000-0000-4000-8000-000000000001");
  EXPECT_EQ(j.at("generation"), 3);
  EXPECT_EQ(j.at("provider").at("pa"), "192.168.1.10");
  EXPECT_EQ(j.at("provider").at("prefix_len"), 24);
  EXPECT_EQ(j.at("provider").at("routes")[0],
            (json{{"prefix", "0.0.0.0/0"}, {"next_hop", "192.168.1.1"}}));
  EXPECT_EQ(j.at("provider").at("flow_entropy"), false);
  const json& port = j.at("ports")[0];
  for (const char* key : {"nic_id", "interface", "mac", "ca", "prefix_len", "gateway", "dns",
                          "vsid", "rdid", "mtu", "profile"}) {
    EXPECT_TRUE(port.contains(key)) << key;
  }
  // DESIGN.md's ten, and the port profile's settings (issue 19,
  // docs/southbound.md): a NIC without a profile has the strict defaults.
  EXPECT_EQ(port.size(), 11u);
  EXPECT_EQ(port.at("profile"), (json{{"name", ""},
                                      {"allow_mac_spoofing", false},
                                      {"allowed_addresses", json::array()},
                                      {"dhcp_guard", true},
                                      {"router_guard", true},
                                      {"bandwidth_max_mbps", 0},
                                      {"bandwidth_min_mbps", 0},
                                      {"weight", 1}}));
  EXPECT_EQ(port.at("vsid"), 5001);
  EXPECT_EQ(port.at("mac"), "00:1D:D8:B7:1C:05");
  EXPECT_EQ(port.at("dns"), json::array({"10.0.0.2"}));
  EXPECT_EQ(j.at("lookup_records")[1], (json{{"vsid", 5001},
                                             {"ca", "10.0.0.7"},
                                             {"mac", "00:1D:D8:B7:1C:07"},
                                             {"pa", "192.168.2.20"},
                                             {"rule", "encap"}}));
  EXPECT_EQ(j.at("customer_routes")[0].at("next_hop"), "0.0.0.0");
  EXPECT_EQ(j.at("customer_routes")[0].at("metric"), 0);
  EXPECT_TRUE(j.at("rewrite_pas").is_array());
  EXPECT_TRUE(j.at("gateways").is_array());
}

TEST(HostPolicyJson, TextKeepsTheDesignOrderOfFields) {
  const std::string text = to_json_text(seed_host1_policy());
  size_t last = 0;
  for (const char* key :
       {"\"host_id\"", "\"generation\"", "\"provider\"", "\"ports\"", "\"lookup_records\"",
        "\"customer_routes\"", "\"rewrite_pas\"", "\"gateways\""}) {
    const size_t at = text.find(key);
    ASSERT_NE(at, std::string::npos) << key;
    EXPECT_GT(at, last) << key << " out of order in " << text;
    last = at;
  }
}

TEST(HostPolicyJson, RewriteAndGatewaysRoundTrip) {
  HostPolicy policy = seed_host1_policy();
  policy.lookup_records[1].rule = LookupRule::kRewrite;
  policy.rewrite_pas = {
      {testing::uuid(0x105), testing::ipv4("10.0.0.5"), testing::ipv4("192.168.1.105")}};
  GatewayPolicy nat;
  nat.gateway_id = testing::uuid(0x8);
  nat.rdid = testing::uuid(0xb0);
  nat.external_ip = testing::ipv4("203.0.113.8");
  nat.pa = testing::ipv4("192.168.1.10");
  nat.interface = "ext0";
  nat.next_hop = testing::ipv4("203.0.113.1");
  nat.nat_rules = {{NatProtocol::kTcp, 8080, testing::ipv4("10.0.0.5"), 80},
                   {NatProtocol::kUdp, 5353, testing::ipv4("10.0.0.7"), 53}};
  GatewayPolicy forwarding = nat;
  forwarding.gateway_id = testing::uuid(0x9);
  forwarding.rdid = testing::uuid(0xb1);
  forwarding.kind = GatewayKind::kForwarding;
  forwarding.external_ip = testing::ipv4("203.0.113.9");
  forwarding.nat_rules.clear();
  forwarding.advertised_prefixes = {*net::IpPrefix::parse("10.0.0.0/24")};
  policy.gateways = {nat, forwarding};
  auto back = from_json(to_json(policy));
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(*back, policy);
  EXPECT_EQ(to_json(policy).at("gateways")[1].at("kind"), "forwarding");
  EXPECT_EQ(to_json(policy).at("gateways")[0].at("nat_rules")[1].at("protocol"), "udp");
}

TEST(HostPolicyJson, ArraysMayBeOmittedAndUnknownFieldsAreIgnored) {
  json j = to_json(seed_host1_policy());
  j.erase("rewrite_pas");
  j.erase("gateways");
  j["ports"][0].erase("dns");
  j["added_by_a_newer_controller"] = {{"x", 1}};
  auto back = from_json(j);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_TRUE(back->rewrite_pas.empty());
  EXPECT_TRUE(back->ports[0].dns.empty());
}

json gateway_json() {
  return {{"gateway_id", "00000000-0000-4000-8000-000000000009"},
          {"rdid", "00000000-0000-4000-8000-0000000000b1"},
          {"kind", "nat"},
          {"external_ip", "203.0.113.9"},
          {"pa", "192.168.1.10"},
          {"interface", "ext0"},
          {"prefix_len", 24},
          {"next_hop", "203.0.113.1"},
          {"nat_rules", json::array({{{"protocol", "tcp"},
                                      {"external_port", 8080},
                                      {"internal_ip", "10.0.0.5"},
                                      {"internal_port", 80}}})},
          {"advertised_prefixes", json::array()}};
}

struct BadField {
  const char* description;
  std::function<void(json&)> mutate;
  const char* path;
  const char* message;
};

TEST(HostPolicyJson, ReportsThePathOfTheFirstBadField) {
  const BadField cases[] = {
      {"not an object", [](json& j) { j = json::array(); }, "", "must be an object"},
      {"host id missing", [](json& j) { j.erase("host_id"); }, "/host_id", "is required"},
      {"host id not a uuid", [](json& j) { j["host_id"] = "host1"; }, "/host_id",
       "\"host1\" is not a UUID"},
      {"negative generation", [](json& j) { j["generation"] = -1; }, "/generation",
       "must be a non-negative integer"},
      {"generation as text", [](json& j) { j["generation"] = "3"; }, "/generation",
       "must be a non-negative integer"},
      {"bad PA", [](json& j) { j["provider"]["pa"] = "10.300.0.1"; }, "/provider/pa",
       "\"10.300.0.1\" is not an IPv4 address"},
      {"PA as number", [](json& j) { j["provider"]["pa"] = 3232235786; }, "/provider/pa",
       "must be a string"},
      {"PA prefix 33", [](json& j) { j["provider"]["prefix_len"] = 33; }, "/provider/prefix_len",
       "must be at most 32"},
      {"PA prefix 0", [](json& j) { j["provider"]["prefix_len"] = 0; }, "/provider/prefix_len",
       "must be from 1 to 32"},
      {"route with host bits", [](json& j) { j["provider"]["routes"][0]["prefix"] = "10.0.0.1/8"; },
       "/provider/routes/0/prefix",
       "\"10.0.0.1/8\" is not a prefix: host bits are set (did you mean 10.0.0.0/8?)"},
      {"ipv6 route", [](json& j) { j["provider"]["routes"][0]["prefix"] = "::/0"; },
       "/provider/routes/0/prefix", "must be an IPv4 prefix"},
      {"flow entropy as text", [](json& j) { j["provider"]["flow_entropy"] = "no"; },
       "/provider/flow_entropy", "must be true or false"},
      {"ports not an array", [](json& j) { j["ports"] = json::object(); }, "/ports",
       "must be an array"},
      {"bad MAC", [](json& j) { j["ports"][1]["mac"] = "00:1D"; }, "/ports/1/mac",
       "\"00:1D\" is not a MAC address"},
      {"multicast MAC", [](json& j) { j["ports"][1]["mac"] = "01:00:5E:00:00:01"; }, "/ports/1/mac",
       "must be a unicast MAC address"},
      {"VSID over 24 bits", [](json& j) { j["ports"][0]["vsid"] = 16777216; }, "/ports/0/vsid",
       "must be at most 16777215"},
      {"reserved VSID", [](json& j) { j["ports"][0]["vsid"] = 4095; }, "/ports/0/vsid",
       "VSID 4095 is reserved (RFC 7637: 0-4095 and 16777215)"},
      {"vendor VSID", [](json& j) { j["lookup_records"][2]["vsid"] = 16777215; },
       "/lookup_records/2/vsid", "VSID 16777215 is reserved (RFC 7637: 0-4095 and 16777215)"},
      {"long interface", [](json& j) { j["ports"][0]["interface"] = "a-very-long-ifname"; },
       "/ports/0/interface",
       "\"a-very-long-ifname\" is not a Linux interface name (1-15 bytes, no '/', ':' or white "
       "space)"},
      {"interface twice", [](json& j) { j["ports"][1]["interface"] = "vnet-blue5"; },
       "/ports/1/interface", "\"vnet-blue5\" is bound to another port too"},
      {"NIC twice", [](json& j) { j["ports"][1]["nic_id"] = j["ports"][0]["nic_id"]; },
       "/ports/1/nic_id", "appears in another port too"},
      {"gateway outside", [](json& j) { j["ports"][0]["gateway"] = "10.0.1.1"; },
       "/ports/0/gateway", "10.0.1.1 is not another address of 10.0.0.0/24"},
      {"gateway is the CA", [](json& j) { j["ports"][0]["gateway"] = "10.0.0.5"; },
       "/ports/0/gateway", "10.0.0.5 is not another address of 10.0.0.0/24"},
      {"MTU too small", [](json& j) { j["ports"][0]["mtu"] = 67; }, "/ports/0/mtu",
       "must be from 68 to 65493"},
      {"bad DNS", [](json& j) { j["ports"][0]["dns"][0] = "dns.example"; }, "/ports/0/dns/0",
       "\"dns.example\" is not an IPv4 address"},
      {"bad rule", [](json& j) { j["lookup_records"][0]["rule"] = "tunnel"; },
       "/lookup_records/0/rule", "must be \"encap\" or \"rewrite\""},
      {"duplicate record", [](json& j) { j["lookup_records"][1]["ca"] = "10.0.0.5"; },
       "/lookup_records/1/ca", "VSID 5001 has another record for 10.0.0.5"},
      {"duplicate MAC in a VSID",
       [](json& j) { j["lookup_records"][1]["mac"] = "00:1D:D8:B7:1C:05"; },
       "/lookup_records/1/mac", "VSID 5001 has another record for 00:1D:D8:B7:1C:05"},
      {"record PA zero", [](json& j) { j["lookup_records"][0]["pa"] = "0.0.0.0"; },
       "/lookup_records/0/pa", "must not be 0.0.0.0"},
      {"route metric negative", [](json& j) { j["customer_routes"][0]["metric"] = -5; },
       "/customer_routes/0/metric", "must be a non-negative integer"},
      {"route twice", [](json& j) { j["customer_routes"].push_back(j["customer_routes"][0]); },
       "/customer_routes/2/prefix", "10.0.0.0/24 appears twice for VSID 5001"},
      {"gateway kind",
       [](json& j) {
         j["gateways"] = json::array({{{"gateway_id", "00000000-0000-4000-8000-000000000009"},
                                       {"rdid", "00000000-0000-4000-8000-0000000000b1"},
                                       {"kind", "vpn"},
                                       {"external_ip", "203.0.113.9"}}});
       },
       "/gateways/0/kind", "must be \"nat\" or \"forwarding\""},
      {"gateway next hop outside",
       [](json& j) {
         j["gateways"] = json::array({gateway_json()});
         j["gateways"][0]["next_hop"] = "198.51.100.1";
       },
       "/gateways/0/next_hop", "198.51.100.1 is not another address of 203.0.113.0/24"},
      {"NAT rule claimed twice",
       [](json& j) {
         j["gateways"] = json::array({gateway_json()});
         j["gateways"][0]["nat_rules"].push_back(j["gateways"][0]["nat_rules"][0]);
         j["gateways"][0]["nat_rules"][1]["internal_port"] = 8443;
       },
       "/gateways/0/nat_rules/1/external_port", "is claimed by another rule of the same protocol"},
      {"NAT rule protocol",
       [](json& j) {
         j["gateways"] = json::array({gateway_json()});
         j["gateways"][0]["nat_rules"][0]["protocol"] = "icmp";
       },
       "/gateways/0/nat_rules/0/protocol", "must be \"tcp\" or \"udp\""},
      {"rules on a forwarding gateway",
       [](json& j) {
         j["gateways"] = json::array({gateway_json()});
         j["gateways"][0]["kind"] = "forwarding";
       },
       "/gateways/0/nat_rules", "are for NAT gateways only"},
      {"two gateways of one routing domain",
       [](json& j) {
         j["gateways"] = json::array({gateway_json(), gateway_json()});
         j["gateways"][1]["gateway_id"] = "00000000-0000-4000-8000-00000000000a";
         j["gateways"][1]["external_ip"] = "203.0.113.10";
       },
       "/gateways/1/rdid", "has another gateway too (one per VM network)"},
      {"forwarding gateways overlapping on this host",
       [](json& j) {
         j["gateways"] = json::array({gateway_json(), gateway_json()});
         for (auto& g : j["gateways"]) {
           g["kind"] = "forwarding";
           g["nat_rules"] = json::array();
           g["pa"] = j["provider"]["pa"];
         }
         j["gateways"][0]["advertised_prefixes"] = json::array({"10.0.0.0/16"});
         j["gateways"][1]["gateway_id"] = "00000000-0000-4000-8000-00000000000a";
         j["gateways"][1]["rdid"] = "00000000-0000-4000-8000-0000000000b2";
         j["gateways"][1]["external_ip"] = "203.0.113.10";
         j["gateways"][1]["advertised_prefixes"] = json::array({"10.0.4.0/24"});
       },
       "/gateways/1/advertised_prefixes/0",
       "10.0.4.0/24 overlaps 10.0.0.0/16 of forwarding gateway "
       "00000000-0000-4000-8000-000000000009 on the same host"},
      // A port's profile (issue 19): bounded, as the API bounds it.
      {"33 allowed prefixes",
       [](json& j) {
         json prefixes = json::array();
         for (int i = 0; i < 33; ++i) prefixes.push_back(fmt::format("10.99.{}.0/24", i));
         j["ports"][0]["profile"]["allowed_addresses"] = prefixes;
       },
       "/ports/0/profile/allowed_addresses", "must hold at most 32 prefixes"},
      {"IPv6 allowed prefix",
       [](json& j) { j["ports"][0]["profile"]["allowed_addresses"] = json::array({"fd00::/8"}); },
       "/ports/0/profile/allowed_addresses/0", "must be an IPv4 prefix"},
      {"weight 0", [](json& j) { j["ports"][0]["profile"]["weight"] = 0; },
       "/ports/0/profile/weight", "must be from 1 to 100"},
      {"weight 101", [](json& j) { j["ports"][0]["profile"]["weight"] = 101; },
       "/ports/0/profile/weight", "must be at most 100"},
      {"minimum over maximum",
       [](json& j) {
         j["ports"][0]["profile"]["bandwidth_min_mbps"] = 200;
         j["ports"][0]["profile"]["bandwidth_max_mbps"] = 100;
       },
       "/ports/0/profile/bandwidth_min_mbps", "must not exceed bandwidth_max_mbps"},
      {"external address twice",
       [](json& j) {
         j["gateways"] = json::array({gateway_json(), gateway_json()});
         j["gateways"][1]["gateway_id"] = "00000000-0000-4000-8000-00000000000a";
         j["gateways"][1]["rdid"] = "00000000-0000-4000-8000-0000000000b2";
       },
       "/gateways/1/external_ip", "203.0.113.9 is another gateway's external address too"},
  };
  for (const auto& c : cases) {
    json j = to_json(seed_host1_policy());
    c.mutate(j);
    auto result = from_json(j);
    ASSERT_FALSE(result) << c.description << ": accepted";
    EXPECT_EQ(result.error().path, c.path) << c.description;
    EXPECT_EQ(result.error().message, c.message) << c.description;
  }
}

TEST(HostPolicyJson, MalformedTextSaysWhere) {
  auto result = from_json_text("{\"host_id\": ");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().path, "");
  EXPECT_NE(result.error().message.find("the policy is not valid JSON"), std::string::npos);
  EXPECT_NE(result.error().message.find("column"), std::string::npos) << result.error().message;
  EXPECT_FALSE(from_json_text(""));
  EXPECT_FALSE(from_json_text("null"));
  // Found by fuzz_host_policy: a number out of double's range threw
  // out_of_range, which the parser did not catch.
  auto huge = from_json_text("{\"generation\": 1e999}");
  ASSERT_FALSE(huge);
  EXPECT_NE(huge.error().message.find("the policy is not valid JSON"), std::string::npos);
}

TEST(HostPolicyJson, ErrorTextJoinsPathAndMessage) {
  EXPECT_EQ((PolicyError{"/ports/1/mac", "bad"}.to_string()), "/ports/1/mac: bad");
  EXPECT_EQ((PolicyError{"", "bad"}.to_string()), "bad");
}

}  // namespace
}  // namespace vnet::policy
