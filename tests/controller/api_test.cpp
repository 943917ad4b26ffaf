// The REST API through a real HTTP client against a real controller.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "controller/policy/engine.h"
#include "tests/controller/api_fixture.h"

namespace vnet::testing {
namespace {

using nlohmann::json;

struct Tenant {
  std::string id;
  std::string token;
};

class ApiTest : public ::testing::Test {
 protected:
  TempDir dir;
  Controller ctl{dir.path()};
  std::string logical_network;

  void SetUp() override {
    logical_network =
        ctl.create("logical-networks", {{"name", "datacenter"}, {"network_virtualization", true}})
            .at("id");
  }

  // Every tenant is granted the datacenter logical network and every
  // external pool (tenants made before a pool get it when it is made).
  std::vector<std::string> tenants_, external_pools_;

  Tenant tenant(const std::string& name) {
    const std::string id = ctl.create("tenants", {{"name", name},
                                                  {"logical_network_ids", {logical_network}},
                                                  {"external_pool_ids", external_pools_}})
                               .at("id");
    tenants_.push_back(id);
    const json token = ctl.create("tokens", {{"name", name + " self-service"}, {"tenant_id", id}});
    EXPECT_EQ(token.at("role"), "tenant");
    return {id, token.at("token")};
  }

  // An administrator's external network (no network virtualization), its
  // site and a pool on it: what NAT and forwarding gateways take their
  // external addresses from.
  json external_pool(const std::string& first = "203.0.113.100",
                     const std::string& last = "203.0.113.120",
                     const std::string& host_group = "") {
    const json ln = ctl.create("logical-networks", {{"name", "internet-" + first + "-" + last},
                                                    {"network_virtualization", false}});
    const json site = ctl.create("sites", {{"logical_network_id", ln.at("id")},
                                           {"name", "edge"},
                                           {"host_group", host_group},
                                           {"subnets", {{{"prefix", "203.0.113.0/24"}}}}});
    const json pool = ctl.create("ip-pools", {{"site_id", site.at("id")},
                                              {"subnet", "203.0.113.0/24"},
                                              {"gateway", "203.0.113.1"},
                                              {"ranges", {{{"start", first}, {"end", last}}}}});
    external_pools_.push_back(pool.at("id"));
    for (const auto& t : tenants_) {
      EXPECT_EQ(ctl.call("PATCH", "/api/v1/tenants/" + t, {{"external_pool_ids", external_pools_}})
                    .status,
                200);
    }
    return pool;
  }

  // A VM network with one subnet and one pool, created by the tenant itself.
  struct Network {
    json vm_network, subnet, pool;
  };
  Network network(const Tenant& t, const std::string& name,
                  const std::string& prefix = "10.10.0.0/16") {
    Network n;
    n.vm_network = ctl.create("vm-networks",
                              {{"name", name}, {"logical_network_id", logical_network}}, t.token);
    n.subnet = ctl.create(
        "vm-subnets",
        {{"vm_network_id", n.vm_network.at("id")}, {"name", name + "-subnet"}, {"prefix", prefix}},
        t.token);
    n.pool = ctl.create("ip-pools",
                        {{"vm_subnet_id", n.subnet.at("id")},
                         {"ranges", {{{"start", "10.10.1.100"}, {"end", "10.10.1.130"}}}},
                         {"dns", {"10.10.0.2"}}},
                        t.token);
    return n;
  }
};

TEST_F(ApiTest, SeedWalkthroughAaaAndBbbWithTheSameAddresses) {
  const Tenant contoso = tenant("contoso");
  const Tenant fabrikam = tenant("fabrikam");
  const Network aaa = network(contoso, "AAA");
  const Network bbb = network(fabrikam, "BBB");

  EXPECT_NE(aaa.vm_network.at("rdid"), bbb.vm_network.at("rdid"));
  EXPECT_NE(aaa.subnet.at("vsid"), bbb.subnet.at("vsid"));
  EXPECT_GE(aaa.subnet.at("vsid").get<int>(), 4096);
  EXPECT_EQ(aaa.pool.at("gateway"), "10.10.0.1");  // the subnet's first address by default
  EXPECT_EQ(aaa.pool.at("subnet"), "10.10.0.0/16");

  const json nic_a = ctl.create(
      "vm-nics", {{"vm_subnet_id", aaa.subnet.at("id")}, {"vm_name", "web1"}}, contoso.token);
  const json nic_b = ctl.create(
      "vm-nics", {{"vm_subnet_id", bbb.subnet.at("id")}, {"vm_name", "web1"}}, fabrikam.token);
  EXPECT_EQ(nic_a.at("ip"), "10.10.1.100");
  EXPECT_EQ(nic_b.at("ip"), "10.10.1.100");  // overlapping tenants coexist
  EXPECT_NE(nic_a.at("mac"), nic_b.at("mac"));
  EXPECT_EQ(nic_a.at("mac"), "00:1D:D8:B7:1C:00");  // the default MAC pool's first
  EXPECT_EQ(nic_a.at("tenant_id"), contoso.id);

  // A second subnet in AAA: its own VSID, the same routing domain.
  const json second = ctl.create(
      "vm-subnets",
      {{"vm_network_id", aaa.vm_network.at("id")}, {"name", "back"}, {"prefix", "172.16.0.0/16"}},
      contoso.token);
  EXPECT_NE(second.at("vsid"), aaa.subnet.at("vsid"));
  EXPECT_EQ(second.at("vm_network_id"), aaa.vm_network.at("id"));
  const auto listed = ctl.call(
      "GET", "/api/v1/vm-subnets?vm_network_id=" + aaa.vm_network.at("id").get<std::string>(),
      nullptr, contoso.token);
  EXPECT_EQ(listed.json().at("items").size(), 2u);

  // The next NIC in AAA gets the next address.
  const json nic_a2 = ctl.create(
      "vm-nics", {{"vm_subnet_id", aaa.subnet.at("id")}, {"vm_name", "web2"}}, contoso.token);
  EXPECT_EQ(nic_a2.at("ip"), "10.10.1.101");
}

TEST_F(ApiTest, TenantsNeverSeeOrTouchEachOthersObjects) {
  const Tenant contoso = tenant("contoso");
  const Tenant fabrikam = tenant("fabrikam");
  const Network aaa = network(contoso, "AAA");
  const json nic = ctl.create("vm-nics", {{"vm_subnet_id", aaa.subnet.at("id")}, {"vm_name", "db"}},
                              contoso.token);
  const json gw = ctl.create("gateways",
                             {{"name", "edge"},
                              {"vm_network_id", aaa.vm_network.at("id")},
                              {"kind", "forwarding"},
                              {"external_pool_id", external_pool().at("id")}},
                             contoso.token);
  const json route = ctl.create("routes",
                                {{"vm_network_id", aaa.vm_network.at("id")},
                                 {"prefix", "0.0.0.0/0"},
                                 {"next_hop", "10.10.0.1"}},
                                contoso.token);

  const std::vector<std::pair<std::string, json>> owned = {{"vm-networks", aaa.vm_network},
                                                           {"vm-subnets", aaa.subnet},
                                                           {"ip-pools", aaa.pool},
                                                           {"vm-nics", nic},
                                                           {"gateways", gw},
                                                           {"routes", route}};
  for (const auto& [collection, object] : owned) {
    const std::string url = "/api/v1/" + collection + "/" + object.at("id").get<std::string>();
    EXPECT_EQ(ctl.call("GET", url, nullptr, contoso.token).status, 200) << url;
    EXPECT_EQ(ctl.call("GET", url, nullptr, fabrikam.token).status, 404) << url;
    EXPECT_EQ(ctl.call("PATCH", url, json::object(), fabrikam.token).status, 404) << url;
    EXPECT_EQ(ctl.call("PUT", url, json::object(), fabrikam.token).status, 404) << url;
    EXPECT_EQ(ctl.call("DELETE", url, nullptr, fabrikam.token).status, 404) << url;
    const auto list = ctl.call("GET", "/api/v1/" + collection, nullptr, fabrikam.token);
    EXPECT_EQ(list.status, 200);
    EXPECT_TRUE(list.json().at("items").empty()) << collection << " leaked: " << list.body;
    // The same 404 text for "not yours" and "no such" (but for the id), so
    // ids leak nothing.
    const std::string id = object.at("id");
    const std::string nobody = "00000000-0000-4000-8000-000000000000";
    std::string theirs = ctl.call("GET", url, nullptr, fabrikam.token).json().at("detail");
    theirs.replace(theirs.find(id), id.size(), nobody);
    const std::string none =
        ctl.call("GET", "/api/v1/" + collection + "/" + nobody, nullptr, fabrikam.token)
            .json()
            .at("detail");
    EXPECT_EQ(theirs, none);
  }
  // Building on another tenant's objects is refused as if they did not exist.
  const auto r = ctl.call(
      "POST", "/api/v1/vm-subnets",
      {{"vm_network_id", aaa.vm_network.at("id")}, {"name", "x"}, {"prefix", "10.20.0.0/16"}},
      fabrikam.token);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json().at("errors")[0].at("field"), "/vm_network_id");
  // Admin collections are the admin's.
  for (const char* c : {"tenants", "tokens", "logical-networks", "sites", "mac-pools", "hosts"}) {
    EXPECT_EQ(ctl.call("GET", std::string("/api/v1/") + c, nullptr, fabrikam.token).status, 403)
        << c;
    EXPECT_EQ(ctl.call("POST", std::string("/api/v1/") + c, {{"name", "x"}}, fabrikam.token).status,
              403)
        << c;
  }
  // The admin sees everything, and filters by tenant.
  EXPECT_EQ(ctl.call("GET", "/api/v1/vm-nics?tenant_id=" + contoso.id).json().at("items").size(),
            1u);
  EXPECT_EQ(ctl.call("GET", "/api/v1/vm-nics?tenant_id=" + fabrikam.id).json().at("items").size(),
            0u);
}

// Issue 18: a tenant may cap its VM network's MTU, within 576-65493; a
// host's uplink_mtu is its agent's word (the southbound test sets it).
TEST_F(ApiTest, AVmNetworksMtuIsTheTenantsWithinItsRange) {
  const Tenant contoso = tenant("contoso");
  const Network aaa = network(contoso, "AAA");
  const std::string url = "/api/v1/vm-networks/" + aaa.vm_network.at("id").get<std::string>();
  EXPECT_FALSE(aaa.vm_network.contains("mtu"));
  auto r = ctl.call("PATCH", url, {{"mtu", 1400}}, contoso.token);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("mtu"), 1400);
  for (const json& bad : {json(575), json(65494), json("1400"), json(-1)}) {
    r = ctl.call("PATCH", url, {{"mtu", bad}}, contoso.token);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.json().at("errors")[0].at("field"), "/mtu") << r.body;
  }
  r = ctl.call("PATCH", url, {{"mtu", nullptr}}, contoso.token);  // back to the uplinks'
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.json().contains("mtu"));
}

TEST_F(ApiTest, PlacementAndVsidAreTheAdministratorsToSet) {
  const Tenant contoso = tenant("contoso");
  const Network aaa = network(contoso, "AAA");
  const json site =
      ctl.create("sites", {{"logical_network_id", logical_network},
                           {"name", "rack1"},
                           {"subnets", {{{"prefix", "192.168.1.0/24"}, {"vlan", 0}}}}});
  const json host =
      ctl.create("hosts", {{"name", "host1"}, {"site_id", site.at("id")}, {"pa", "192.168.1.10"}});
  const json nic = ctl.create(
      "vm-nics", {{"vm_subnet_id", aaa.subnet.at("id")}, {"vm_name", "web"}}, contoso.token);
  EXPECT_EQ(nic.at("configuration_state").at("detail")[0].at("code"), "not_placed");
  const std::string url = "/api/v1/vm-nics/" + nic.at("id").get<std::string>();

  auto r = ctl.call("PATCH", url, {{"host_id", host.at("id")}, {"interface", "vnet-web"}},
                    contoso.token);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.json().at("errors")[0].at("field"), "/host_id");
  r = ctl.call("PATCH", url, {{"host_id", host.at("id")}, {"interface", "vnet-web"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("host_id"), host.at("id"));
  EXPECT_EQ(r.json().at("configuration_state").at("detail")[0].at("code"), "host_not_connected");
  // Live migration is a PATCH of host_id and interface by the admin.
  const json host2 =
      ctl.create("hosts", {{"name", "host2"}, {"site_id", site.at("id")}, {"pa", "192.168.1.20"}});
  r = ctl.call("PATCH", url, {{"host_id", host2.at("id")}, {"interface", "vnet-web"}});
  EXPECT_EQ(r.json().at("host_id"), host2.at("id"));

  r = ctl.call("POST", "/api/v1/vm-subnets",
               {{"vm_network_id", aaa.vm_network.at("id")},
                {"name", "s"},
                {"prefix", "10.30.0.0/16"},
                {"vsid", 7000}},
               contoso.token);
  EXPECT_EQ(r.status, 403);
  r = ctl.call("POST", "/api/v1/vm-subnets",
               {{"vm_network_id", aaa.vm_network.at("id")},
                {"name", "s"},
                {"prefix", "10.30.0.0/16"},
                {"vsid", 7000}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json().at("vsid"), 7000);
  EXPECT_EQ(r.json().at("tenant_id"),
            contoso.id);  // from the VM network, even when the admin creates it
  r = ctl.call("POST", "/api/v1/vm-subnets",
               {{"vm_network_id", aaa.vm_network.at("id")},
                {"name", "t"},
                {"prefix", "10.40.0.0/16"},
                {"vsid", 7000}});
  EXPECT_EQ(r.status, 409);
  r = ctl.call("POST", "/api/v1/vm-subnets",
               {{"vm_network_id", aaa.vm_network.at("id")},
                {"name", "t"},
                {"prefix", "10.40.0.0/16"},
                {"vsid", 4095}});
  EXPECT_EQ(r.status, 400);  // RFC 7637 reserves 0-4095
}

TEST_F(ApiTest, StatusCodesForBadRequests) {
  // 400: malformed JSON, unknown field, wrong type, bad value; each names the field.
  auto r = http(ctl.port(), "POST", "/api/v1/tenants", "{\"name\": ", ctl.admin_token());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.headers["content-type"], "application/problem+json");
  EXPECT_NE(r.json().at("detail").get<std::string>().find("not valid JSON"), std::string::npos);
  r = ctl.call("POST", "/api/v1/tenants", {{"name", "x"}, {"colour", "blue"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json().at("errors")[0].at("field"), "/colour");
  r = ctl.call("POST", "/api/v1/logical-networks",
               {{"name", 7}, {"network_virtualization", "yes"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json().at("errors").size(), 2u);
  r = ctl.call("POST", "/api/v1/sites",
               {{"logical_network_id", logical_network},
                {"name", "s"},
                {"subnets", {{{"prefix", "10.300.0.0/16"}}}}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("10.300.0.0"), std::string::npos);
  r = ctl.call("POST", "/api/v1/tenants", json::array());
  EXPECT_EQ(r.status, 400);
  // 401 without or with a wrong token.
  EXPECT_EQ(http(ctl.port(), "GET", "/api/v1/tenants").status, 401);
  r = http(ctl.port(), "GET", "/api/v1/tenants", "", "vnet_not_a_token");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers["www-authenticate"], "Bearer");
  // 404 unknown route and object; 405 wrong method with Allow.
  EXPECT_EQ(ctl.call("GET", "/api/v1/routers").status, 404);
  EXPECT_EQ(ctl.call("GET", "/nothing/here").status, 404);
  EXPECT_EQ(ctl.call("GET", "/api/v1/tenants/00000000-0000-4000-8000-000000000000").status, 404);
  r = ctl.call("DELETE", "/api/v1/tenants");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "GET, POST");
  EXPECT_EQ(
      ctl.call("POST", "/api/v1/tenants/00000000-0000-4000-8000-000000000000", {{"name", "x"}})
          .status,
      405);
  // 413 over 1 MiB; 415 not JSON.
  r = http(ctl.port(), "POST", "/api/v1/tenants",
           "{\"name\":\"" + std::string(1 << 20, 'x') + "\"}", ctl.admin_token());
  EXPECT_EQ(r.status, 413);
  r = http(ctl.port(), "POST", "/api/v1/tenants", "name=x", ctl.admin_token(),
           {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(r.status, 415);
  // Every error is a problem document.
  EXPECT_EQ(r.json().at("status"), 415);
  EXPECT_TRUE(r.json().contains("title"));
}

TEST_F(ApiTest, CreateReadPatchPutDeleteWithEtags) {
  auto r = ctl.call("POST", "/api/v1/tenants", {{"name", "contoso"}});
  ASSERT_EQ(r.status, 201);
  const std::string id = r.json().at("id");
  EXPECT_EQ(r.headers["location"], "/api/v1/tenants/" + id);
  const std::string etag = r.json().at("etag");
  EXPECT_EQ(r.headers["etag"], "\"" + etag + "\"");
  const std::string url = "/api/v1/tenants/" + id;

  EXPECT_EQ(ctl.call("GET", url).json().at("name"), "contoso");
  r = ctl.call("PATCH", url, {{"name", "contoso-ltd"}}, "", {{"If-Match", "\"stale\""}});
  EXPECT_EQ(r.status, 412);
  r = ctl.call("PATCH", url, {{"name", "contoso-ltd"}}, "", {{"If-Match", "\"" + etag + "\""}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.json().at("etag"), etag);
  EXPECT_EQ(r.json().at("name"), "contoso-ltd");

  // PUT at a client id: created once, then the same PUT changes nothing.
  const std::string put_url = "/api/v1/tenants/11111111-2222-4333-8444-555555555555";
  r = ctl.call("PUT", put_url, {{"name", "fabrikam"}});
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string put_etag = r.json().at("etag");
  r = ctl.call("PUT", put_url, {{"name", "fabrikam"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json().at("etag"), put_etag);
  r = ctl.call("PUT", put_url, r.json());  // what a GET returned is a valid PUT body
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("etag"), put_etag);
  EXPECT_EQ(ctl.call("PUT", "/api/v1/tenants/not-a-uuid", {{"name", "x"}}).status, 400);
  // Names are unique.
  EXPECT_EQ(ctl.call("POST", "/api/v1/tenants", {{"name", "fabrikam"}}).status, 409);

  EXPECT_EQ(ctl.call("DELETE", put_url, nullptr, "", {{"If-Match", "\"stale\""}}).status, 412);
  EXPECT_EQ(ctl.call("DELETE", put_url).status, 204);
  EXPECT_EQ(ctl.call("GET", put_url).status, 404);
  EXPECT_EQ(ctl.call("DELETE", put_url).status, 404);
}

TEST_F(ApiTest, DeletingSomethingInUseNamesTheUsers) {
  const Tenant contoso = tenant("contoso");
  const Network aaa = network(contoso, "AAA");
  const json nic = ctl.create("vm-nics", {{"vm_subnet_id", aaa.subnet.at("id")}, {"vm_name", "db"}},
                              contoso.token);
  auto r = ctl.call("DELETE", "/api/v1/vm-subnets/" + aaa.subnet.at("id").get<std::string>(),
                    nullptr, contoso.token);
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.json().at("detail").get<std::string>().find(nic.at("id").get<std::string>()),
            std::string::npos)
      << r.body;
  r = ctl.call("DELETE", "/api/v1/tenants/" + contoso.id);
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.json().at("detail").get<std::string>().find("vm-networks"), std::string::npos)
      << r.body;
  // Deleting the NIC frees its address for the next one.
  EXPECT_EQ(ctl.call("DELETE", "/api/v1/vm-nics/" + nic.at("id").get<std::string>(), nullptr,
                     contoso.token)
                .status,
            204);
  EXPECT_EQ(ctl.create("vm-nics", {{"vm_subnet_id", aaa.subnet.at("id")}, {"vm_name", "db2"}},
                       contoso.token)
                .at("ip"),
            "10.10.1.100");
}

TEST_F(ApiTest, AnExhaustedPoolAnswers409NamingIt) {
  const Tenant contoso = tenant("contoso");
  const json net = ctl.create(
      "vm-networks", {{"name", "small"}, {"logical_network_id", logical_network}}, contoso.token);
  const json subnet = ctl.create(
      "vm-subnets", {{"vm_network_id", net.at("id")}, {"name", "s"}, {"prefix", "10.0.0.0/29"}},
      contoso.token);
  const json pool = ctl.create("ip-pools",
                               {{"vm_subnet_id", subnet.at("id")},
                                {"name", "tiny"},
                                {"ranges", {{{"start", "10.0.0.1"}, {"end", "10.0.0.4"}}}},
                                {"reserved", {"10.0.0.3"}}},
                               contoso.token);
  // 10.0.0.1 is the gateway and 10.0.0.3 reserved: 10.0.0.2 and 10.0.0.4 remain.
  std::vector<std::string> ips;
  for (int i = 0; i < 2; ++i)
    ips.push_back(
        ctl.create("vm-nics", {{"vm_subnet_id", subnet.at("id")}, {"vm_name", "v"}}, contoso.token)
            .at("ip"));
  EXPECT_EQ(ips, (std::vector<std::string>{"10.0.0.2", "10.0.0.4"}));
  const auto r = ctl.call("POST", "/api/v1/vm-nics",
                          {{"vm_subnet_id", subnet.at("id")}, {"vm_name", "v"}}, contoso.token);
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.json().at("detail").get<std::string>().find("\"tiny\""), std::string::npos) << r.body;
  EXPECT_NE(r.json().at("detail").get<std::string>().find(pool.at("id").get<std::string>()),
            std::string::npos)
      << r.body;
  // A given address is checked too.
  auto given = ctl.call("POST", "/api/v1/vm-nics",
                        {{"vm_subnet_id", subnet.at("id")}, {"vm_name", "v"}, {"ip", "10.0.0.2"}},
                        contoso.token);
  EXPECT_EQ(given.status, 409);
  given = ctl.call("POST", "/api/v1/vm-nics",
                   {{"vm_subnet_id", subnet.at("id")}, {"vm_name", "v"}, {"ip", "10.0.0.1"}},
                   contoso.token);
  EXPECT_EQ(given.status, 400);  // the gateway
  given = ctl.call("POST", "/api/v1/vm-nics",
                   {{"vm_subnet_id", subnet.at("id")}, {"vm_name", "v"}, {"ip", "10.0.1.1"}},
                   contoso.token);
  EXPECT_EQ(given.status, 400);  // outside the subnet
  given = ctl.call("POST", "/api/v1/vm-nics",
                   {{"vm_subnet_id", subnet.at("id")}, {"vm_name", "v"}, {"ip", "10.0.0.6"}},
                   contoso.token);
  EXPECT_EQ(given.status, 201);  // inside the subnet, outside the pool
}

TEST_F(ApiTest, PoolsStayInsideTheirSubnetAndApart) {
  const Tenant contoso = tenant("contoso");
  const Network aaa = network(contoso, "AAA");
  auto r = ctl.call("POST", "/api/v1/ip-pools",
                    {{"vm_subnet_id", aaa.subnet.at("id")},
                     {"ranges", {{{"start", "10.10.1.120"}, {"end", "10.10.1.140"}}}}},
                    contoso.token);
  EXPECT_EQ(r.status, 409);  // overlaps the first pool
  r = ctl.call("POST", "/api/v1/ip-pools",
               {{"vm_subnet_id", aaa.subnet.at("id")},
                {"ranges", {{{"start", "10.11.0.1"}, {"end", "10.11.0.9"}}}}},
               contoso.token);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json().at("errors")[0].at("field"), "/ranges/0/start");
  r = ctl.call("POST", "/api/v1/ip-pools",
               {{"vm_subnet_id", aaa.subnet.at("id")},
                {"ranges", {{{"start", "10.10.2.9"}, {"end", "10.10.2.1"}}}}},
               contoso.token);
  EXPECT_EQ(r.status, 400);
  r = ctl.call(
      "POST", "/api/v1/vm-subnets",
      {{"vm_network_id", aaa.vm_network.at("id")}, {"name", "x"}, {"prefix", "10.10.128.0/17"}},
      contoso.token);
  EXPECT_EQ(r.status, 400);  // overlaps 10.10.0.0/16 in the same VM network
  EXPECT_EQ(r.json().at("errors")[0].at("field"), "/prefix");
  r = ctl.call("POST", "/api/v1/ip-pools",
               {{"site_id", aaa.subnet.at("id")},
                {"subnet", "10.0.0.0/8"},
                {"ranges", {{{"start", "10.0.0.1"}, {"end", "10.0.0.9"}}}}},
               contoso.token);
  EXPECT_EQ(r.status, 403);  // site pools are the admin's
}

TEST_F(ApiTest, HostsGetProviderAddressesFromTheSitePool) {
  const json site = ctl.create("sites", {{"logical_network_id", logical_network},
                                         {"name", "rack1"},
                                         {"subnets", {{{"prefix", "192.168.1.0/24"}}}}});
  auto r = ctl.call("POST", "/api/v1/hosts", {{"name", "h0"}, {"site_id", site.at("id")}});
  EXPECT_EQ(r.status, 409);  // no pool, no pa
  ctl.create("ip-pools", {{"site_id", site.at("id")},
                          {"subnet", "192.168.1.0/24"},
                          {"name", "pa"},
                          {"ranges", {{{"start", "192.168.1.10"}, {"end", "192.168.1.11"}}}},
                          {"gateway", "192.168.1.1"}});
  EXPECT_EQ(ctl.create("hosts", {{"name", "h1"}, {"site_id", site.at("id")}}).at("pa"),
            "192.168.1.10");
  const json h2 = ctl.create("hosts", {{"name", "h2"}, {"site_id", site.at("id")}});
  EXPECT_EQ(h2.at("pa"), "192.168.1.11");
  EXPECT_EQ(h2.at("connected"), false);
  EXPECT_EQ(h2.at("desired_generation"), 0);
  r = ctl.call("POST", "/api/v1/hosts", {{"name", "h3"}, {"site_id", site.at("id")}});
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("\\\"pa\\\""), std::string::npos) << r.body;  // names the pool
  r = ctl.call("POST", "/api/v1/hosts",
               {{"name", "h4"}, {"site_id", site.at("id")}, {"pa", "192.168.1.10"}});
  EXPECT_EQ(r.status, 409);  // a PA is unique
  r = ctl.call("POST", "/api/v1/hosts",
               {{"name", "h5"}, {"site_id", site.at("id")}, {"pa", "10.0.0.1"}});
  EXPECT_EQ(r.status, 400);  // outside the site's subnets
}

// IP rewrite: each placed NIC of a rewrite VM network owns a PA from the
// site pool of its host's subnet; it keeps it within that subnet, gets a new
// one in another, and gives it back when unplaced or deleted.
TEST_F(ApiTest, RewriteNicsGetTheirOwnPaWhilePlaced) {
  const json site = ctl.create(
      "sites", {{"logical_network_id", logical_network},
                {"name", "dc"},
                {"subnets", {{{"prefix", "192.168.1.0/24"}}, {{"prefix", "192.168.2.0/24"}}}}});
  for (int n : {1, 2}) {
    ctl.create(
        "ip-pools",
        {{"site_id", site.at("id")},
         {"subnet", fmt::format("192.168.{}.0/24", n)},
         {"ranges",
          {{{"start", fmt::format("192.168.{}.10", n)}, {"end", fmt::format("192.168.{}.12", n)}}}},
         {"gateway", fmt::format("192.168.{}.1", n)}});
  }
  const std::string h1 =
      ctl.create("hosts", {{"name", "h1"}, {"site_id", site.at("id")}}).at("id");  // .10
  const std::string h1b =
      ctl.create("hosts", {{"name", "h1b"}, {"site_id", site.at("id")}}).at("id");  // .11
  const std::string h2 =
      ctl.create("hosts", {{"name", "h2"}, {"site_id", site.at("id")}, {"pa", "192.168.2.10"}})
          .at("id");
  const Tenant t = tenant("green");
  const json net = ctl.create(
      "vm-networks",
      {{"name", "green"}, {"logical_network_id", logical_network}, {"translation", "rewrite"}},
      t.token);
  const json subnet = ctl.create(
      "vm-subnets", {{"vm_network_id", net.at("id")}, {"name", "s"}, {"prefix", "10.1.0.0/24"}},
      t.token);
  const json nic = ctl.create(
      "vm-nics", {{"vm_subnet_id", subnet.at("id")}, {"vm_name", "g1"}, {"ip", "10.1.0.5"}},
      t.token);
  EXPECT_FALSE(nic.contains("pa"));  // not placed: no PA
  const std::string path = "/api/v1/vm-nics/" + nic.at("id").get<std::string>();
  auto r = ctl.call("PATCH", path, {{"host_id", h1}, {"interface", "g1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("pa"), "192.168.1.12");  // .10 and .11 are the hosts'
  r = ctl.call("PATCH", path, {{"host_id", h1b}});
  EXPECT_EQ(r.json().at("pa"), "192.168.1.12");  // the same subnet: it stays
  r = ctl.call("PATCH", path, {{"host_id", h2}});
  EXPECT_EQ(r.json().at("pa"), "192.168.2.11");  // moved: one of host 2's subnet
  // A second NIC placed on host 1 gets the PA the first gave back.
  const json other = ctl.create(
      "vm-nics", {{"vm_subnet_id", subnet.at("id")}, {"vm_name", "g2"}, {"ip", "10.1.0.6"}},
      t.token);
  r = ctl.call("PATCH", "/api/v1/vm-nics/" + other.at("id").get<std::string>(),
               {{"host_id", h1}, {"interface", "g2"}});
  EXPECT_EQ(r.json().at("pa"), "192.168.1.12");
  // Host 1's subnet has no PA left: a third placement there is refused.
  const json third = ctl.create(
      "vm-nics", {{"vm_subnet_id", subnet.at("id")}, {"vm_name", "g3"}, {"ip", "10.1.0.7"}},
      t.token);
  r = ctl.call("PATCH", "/api/v1/vm-nics/" + third.at("id").get<std::string>(),
               {{"host_id", h1b}, {"interface", "g3"}});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("exhausted"), std::string::npos) << r.body;
  // Unplaced: the PA is gone from the NIC and free again.
  r = ctl.call("PATCH", path, {{"host_id", nullptr}, {"interface", nullptr}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.json().contains("pa")) << r.body;
  r = ctl.call("PATCH", "/api/v1/vm-nics/" + third.at("id").get<std::string>(),
               {{"host_id", h2}, {"interface", "g3"}});
  EXPECT_EQ(r.json().at("pa"), "192.168.2.11");
  // The policy of host 1 answers for g2's PA (once the compiler has caught up).
  ctl.app().engine().flush();
  const json policy = ctl.call("GET", "/api/v1/hosts/" + h1 + "/policy").json();
  ASSERT_EQ(policy.at("rewrite_pas").size(), 1u) << policy.dump();
  EXPECT_EQ(policy.at("rewrite_pas")[0].at("pa"), "192.168.1.12");
  // A tenant cannot set it.
  r = ctl.call("PATCH", path, {{"pa", "192.168.1.12"}}, t.token);
  EXPECT_EQ(r.status / 100, 4);
}

TEST_F(ApiTest, PagesAndFilters) {
  for (int i = 0; i < 5; ++i) ctl.create("tenants", {{"name", "t" + std::to_string(i)}});
  std::vector<std::string> names;
  std::string next;
  int pages = 0;
  do {
    const auto r =
        ctl.call("GET", "/api/v1/tenants?limit=2" + (next.empty() ? "" : "&cursor=" + next));
    ASSERT_EQ(r.status, 200) << r.body;
    const json page = r.json();  // a named value: the loop must not iterate a temporary
    for (const auto& item : page.at("items")) names.push_back(item.at("name"));
    next = page.at("next").is_null() ? "" : page.at("next").get<std::string>();
    ++pages;
  } while (!next.empty());
  EXPECT_EQ(names, (std::vector<std::string>{"t0", "t1", "t2", "t3", "t4"}));
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(ctl.call("GET", "/api/v1/tenants?limit=0").status, 400);
  EXPECT_EQ(ctl.call("GET", "/api/v1/tenants?limit=1001").status, 400);
  EXPECT_EQ(ctl.call("GET", "/api/v1/tenants?limit=1000").status, 200);
  EXPECT_EQ(ctl.call("GET", "/api/v1/tenants?cursor=abc").status, 400);
  const auto r = ctl.call("GET", "/api/v1/tenants?colour=blue");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json().at("errors")[0].at("field"), "?colour");
}

TEST_F(ApiTest, HealthMetricsAndOpenApiMatchTheRoutes) {
  EXPECT_EQ(http(ctl.port(), "GET", "/healthz").json().at("status"), "ok");
  ctl.call("GET", "/api/v1/tenants");
  const auto metrics = http(ctl.port(), "GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(
      metrics.body.find(
          "vnet_http_requests_total{method=\"GET\",route=\"/api/v1/tenants\",status=\"200\"}"),
      std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("vnet_http_request_duration_seconds_bucket{le=\"+Inf\"}"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("vnet_objects{kind=\"mac-pools\"} 1"), std::string::npos);

  const json doc = http(ctl.port(), "GET", "/api/v1/openapi.json").json();
  EXPECT_EQ(doc.at("openapi"), "3.0.3");
  std::set<std::string> documented;
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const auto& [verb, _] : item.items()) documented.insert(verb + " " + path);
  }
  std::set<std::string> served;
  for (const auto& [path, methods] : api::Router::routes()) {
    for (auto m : methods) {
      std::transform(m.begin(), m.end(), m.begin(), ::tolower);
      served.insert(m + " " + path);
      // And the server really answers it: anything but 404/405.
      std::string url = path;
      const size_t at = url.find("{id}");
      const bool item = at != std::string::npos;
      if (item) url.replace(at, 4, "00000000-0000-4000-8000-000000000000");
      std::string verb = m;
      std::transform(verb.begin(), verb.end(), verb.begin(), ::toupper);
      const auto r =
          ctl.call(verb, url, verb == "GET" || verb == "DELETE" ? json() : json::object());
      EXPECT_NE(r.status, 405) << verb << " " << url;
      if (!item) {  // an unknown id is a 404, an unknown route must never be
        EXPECT_NE(r.status, 404) << verb << " " << url;
      }
    }
  }
  EXPECT_EQ(documented, served);
  // 5 fixed paths (the trace among them), item and collection of 12 kinds,
  // 2 host actions.
  EXPECT_EQ(doc.at("paths").size(), 5u + 2u * 14u + 2u);

  // What a form builder needs: field order, access, references.
  const json& nics = doc.at("components").at("schemas").at("vm-nics");
  EXPECT_EQ(nics.at("x-vnet-fields"), json({"vm_subnet_id", "vm_name", "mac", "ip", "host_id",
                                            "interface", "pa", "port_profile_id", "created_at"}));
  EXPECT_EQ(nics.at("x-vnet-singular"), "VM NIC");
  EXPECT_EQ(nics.at("x-vnet-tenant-owned"), true);
  const json& props = nics.at("properties");
  EXPECT_EQ(props.at("vm_subnet_id").at("x-vnet-ref"), "vm-subnets");
  EXPECT_EQ(props.at("vm_subnet_id").at("x-vnet-access"), "immutable");
  EXPECT_EQ(props.at("host_id").at("x-vnet-admin-only"), true);
  EXPECT_EQ(props.at("mac").at("x-vnet-access"), "assigned");
  EXPECT_EQ(props.at("pa").at("x-vnet-access"), "read-only");
  EXPECT_EQ(props.at("vm_name").at("x-vnet-access"), "writable");
}

TEST_F(ApiTest, TokensAreSecretAndTheLastAdminTokenStays) {
  auto r = ctl.call("GET", "/api/v1/tokens");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.json().at("items").size(), 1u);
  EXPECT_FALSE(r.json().at("items")[0].contains("token"));  // the secret is shown once
  const std::string only = r.json().at("items")[0].at("id");
  EXPECT_EQ(ctl.call("DELETE", "/api/v1/tokens/" + only).status, 409);
  const json second = ctl.create("tokens", {{"name", "ops"}});
  EXPECT_EQ(second.at("role"), "admin");
  EXPECT_EQ(ctl.call("GET", "/api/v1/tenants", nullptr, second.at("token")).status, 200);
  EXPECT_EQ(ctl.call("DELETE", "/api/v1/tokens/" + second.at("id").get<std::string>()).status, 204);
  EXPECT_EQ(ctl.call("GET", "/api/v1/tenants", nullptr, second.at("token")).status,
            401);  // revoked at once
}

TEST_F(ApiTest, WhoamiTellsTheRoleTheTenantsOwnNameAndItsGrants) {
  auto r = ctl.call("GET", "/api/v1/whoami");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("role"), "admin");
  EXPECT_TRUE(r.json().at("tenant_id").is_null());
  const json pool = external_pool();
  const json tenant = ctl.create("tenants", {{"name", "contoso"},
                                             {"logical_network_ids", {logical_network}},
                                             {"external_pool_ids", {pool.at("id")}}});
  const json token =
      ctl.create("tokens", {{"name", "contoso-portal"}, {"tenant_id", tenant.at("id")}});
  r = ctl.call("GET", "/api/v1/whoami", nullptr, token.at("token"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(
      r.json(),
      json({{"role", "tenant"},
            {"token_id", token.at("id")},
            {"token_name", "contoso-portal"},
            {"tenant_id", tenant.at("id")},
            {"tenant_name", "contoso"},
            {"logical_networks", {{{"id", logical_network}, {"name", "datacenter"}}}},
            {"external_pools", {{{"id", pool.at("id")}, {"name", ""}}}},
            // No port_profile_ids: the built-in profiles.
            {"port_profiles",
             {{{"id", "00000000-0000-4000-8000-00000000f001"}, {"name", "Low bandwidth"}},
              {{"id", "00000000-0000-4000-8000-00000000f002"}, {"name", "Medium bandwidth"}},
              {{"id", "00000000-0000-4000-8000-00000000f003"}, {"name", "High bandwidth"}},
              {{"id", "00000000-0000-4000-8000-00000000f004"}, {"name", "Guest Dynamic IP"}}}}}));
  EXPECT_EQ(ctl.call("GET", "/api/v1/whoami", nullptr, "vnet_nonsense").status, 401);
  EXPECT_EQ(ctl.call("POST", "/api/v1/whoami", json::object()).status, 405);
}

// Tenant onboarding (issue 16): the administrator grants logical networks
// and external pools; a tenant uses only what it was granted, and with one
// grant need not name it.
TEST_F(ApiTest, ATenantUsesWhatItWasGrantedAndWithOneGrantNeedNotNameIt) {
  const Tenant t = tenant("contoso");  // granted the datacenter network
  const std::string tenant_url = "/api/v1/tenants/" + t.id;
  auto r = ctl.call("POST", "/api/v1/vm-networks", {{"name", "Blue"}}, t.token);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json().at("logical_network_id"), logical_network);
  const json blue = r.json();

  // Not granted: refused in the same words whether it exists or not.
  const std::string other =
      ctl.create("logical-networks", {{"name", "lab"}, {"network_virtualization", true}}).at("id");
  const std::string absent = "00000000-0000-4000-8000-000000000999";
  for (const std::string& id : {other, absent}) {
    r = ctl.call("POST", "/api/v1/vm-networks", {{"name", "Red"}, {"logical_network_id", id}},
                 t.token);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.json().at("errors")[0].at("message"),
              "logical network " + id +
                  " is not granted to your tenant (whoami lists what is; an administrator grants "
                  "more)");
  }
  // Two grants: name one.
  ASSERT_EQ(
      ctl.call("PATCH", tenant_url, {{"logical_network_ids", {logical_network, other}}}).status,
      200);
  r = ctl.call("POST", "/api/v1/vm-networks", {{"name", "Red"}}, t.token);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("the tenant has 2 of them granted; name one"), std::string::npos) << r.body;
  EXPECT_EQ(ctl.call("POST", "/api/v1/vm-networks",
                     {{"name", "Red"}, {"logical_network_id", other}}, t.token)
                .status,
            201);

  // A grant names something a tenant can use.
  const json pool = external_pool();
  const json site = ctl.create("sites", {{"logical_network_id", logical_network},
                                         {"name", "dc"},
                                         {"subnets", {{{"prefix", "192.168.9.0/24"}}}}});
  const json dc_pool =
      ctl.create("ip-pools", {{"site_id", site.at("id")},
                              {"subnet", "192.168.9.0/24"},
                              {"ranges", {{{"start", "192.168.9.10"}, {"end", "192.168.9.20"}}}}});
  const std::string internet_ln =
      ctl.call("GET", "/api/v1/sites?limit=100").json().at("items")[0].at("logical_network_id");
  struct Bad {
    json patch;
    std::string field, words;
  };
  for (const Bad& bad : std::vector<Bad>{
           {{{"logical_network_ids", {internet_ln}}},
            "/logical_network_ids/0",
            "does not allow network virtualization"},
           {{{"logical_network_ids", {absent}}}, "/logical_network_ids/0", "there is no"},
           {{{"logical_network_ids", {other, other}}}, "/logical_network_ids", "listed twice"},
           {{{"external_pool_ids", {dc_pool.at("id")}}},
            "/external_pool_ids/0",
            "without network virtualization"}}) {
    r = ctl.call("PATCH", tenant_url, bad.patch);
    EXPECT_EQ(r.status, 400) << bad.patch.dump() << r.body;
    EXPECT_EQ(r.json().at("errors")[0].at("field"), bad.field) << r.body;
    EXPECT_NE(r.body.find(bad.words), std::string::npos) << r.body;
  }

  // One pool granted (external_pool() granted it): a gateway without naming it.
  r = ctl.call("POST", "/api/v1/gateways",
               {{"name", "internet"}, {"vm_network_id", blue.at("id")}, {"kind", "nat"}}, t.token);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json().at("external_pool_id"), pool.at("id"));
  EXPECT_EQ(r.json().at("external_ip"), "203.0.113.100");

  // A granted logical network is in use: deleting it names the tenant.
  r = ctl.call("DELETE", "/api/v1/logical-networks/" + other);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("tenants " + t.id + " (granted)"), std::string::npos) << r.body;
}

// Lists (issue 16): ?name= (exact, or * for anything, any case),
// ?configuration_state=, ?sort= by name or creation, each paging with its
// own cursor; every object says when it was created.
TEST_F(ApiTest, ListsFilterByNameAndStateAndSortByNameOrCreation) {
  const Tenant t = tenant("contoso");
  for (const char* name : {"web-b", "Web-a", "db"})
    ctl.create("vm-networks", {{"name", name}}, t.token);
  auto names = [&](const std::string& query) {
    const auto r = ctl.call("GET", "/api/v1/vm-networks" + query, nullptr, t.token);
    EXPECT_EQ(r.status, 200) << query << r.body;
    std::vector<std::string> out;
    const json page = r.json();
    for (const auto& item : page.at("items")) out.push_back(item.at("name"));
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names("?name=web-b"), V({"web-b"}));
  EXPECT_EQ(names("?name=WEB-B"), V({}));  // exact is exact
  EXPECT_EQ(names("?name=web*"), V({"web-b", "Web-a"}));
  EXPECT_EQ(names("?name=*A*"), V({"Web-a"}));
  EXPECT_EQ(names(""), V({"web-b", "Web-a", "db"}));
  EXPECT_EQ(names("?sort=name"), V({"db", "Web-a", "web-b"}));
  EXPECT_EQ(names("?sort=-name"), V({"web-b", "Web-a", "db"}));
  EXPECT_EQ(names("?sort=-created"), V({"db", "Web-a", "web-b"}));
  EXPECT_EQ(names("?sort=name&name=w*"), V({"Web-a", "web-b"}));
  // Pages in each order.
  for (const std::string sort : {"name", "-created", "created"}) {
    std::vector<std::string> all;
    std::string cursor;
    int pages = 0;
    do {
      const auto r = ctl.call(
          "GET",
          "/api/v1/vm-networks?limit=2&sort=" + sort + (cursor.empty() ? "" : "&cursor=" + cursor),
          nullptr, t.token);
      ASSERT_EQ(r.status, 200) << r.body;
      const json page = r.json();
      for (const auto& item : page.at("items")) all.push_back(item.at("name"));
      cursor = page.at("next").is_null() ? "" : page.at("next").get<std::string>();
      ++pages;
    } while (!cursor.empty() && pages < 5);
    EXPECT_EQ(pages, 2) << sort;
    EXPECT_EQ(all, names("?sort=" + sort)) << sort;
  }
  // State: a NIC nobody placed waits.
  const Network n = network(t, "nics");
  const json nic =
      ctl.create("vm-nics", {{"vm_subnet_id", n.subnet.at("id")}, {"vm_name", "web1"}}, t.token);
  auto count = [&](const std::string& query) {
    const auto r = ctl.call("GET", "/api/v1/vm-nics" + query, nullptr, t.token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json().at("items").size();
  };
  EXPECT_EQ(count("?configuration_state=pending"), 1u);
  EXPECT_EQ(count("?configuration_state=success"), 0u);
  EXPECT_EQ(count("?name=WEB*"), 1u);  // a NIC's name is its vm_name
  // Refused, saying what is allowed.
  for (const auto& [path, words] : std::vector<std::pair<std::string, std::string>>{
           {"/api/v1/vm-networks?sort=size", "must be name, -name, created or -created"},
           {"/api/v1/vm-nics?configuration_state=broken", "must be success, pending or failure"},
           {"/api/v1/vm-networks?configuration_state=success", "is not a filter"},
           {"/api/v1/routes?name=x", "is not a filter"},
           {"/api/v1/routes?sort=name", "has no names to sort by"},
           {"/api/v1/vm-networks?name=" + std::string(256, '*'), "is at most 255 bytes"},
           {"/api/v1/vm-networks?sort=name&cursor=5", "is not a cursor"}}) {
    const auto r = ctl.call("GET", path, nullptr, t.token);
    EXPECT_EQ(r.status, 400) << path;
    EXPECT_NE(r.body.find(words), std::string::npos) << path << r.body;
  }
  // When each object was created: RFC 3339, by the server.
  const std::string created = nic.at("created_at");
  EXPECT_EQ(created.size(), 20u) << created;
  EXPECT_EQ(created.back(), 'Z');
  const auto r = ctl.call("POST", "/api/v1/vm-networks",
                          {{"name", "x"}, {"created_at", "2020-01-01T00:00:00Z"}}, t.token);
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST_F(ApiTest, ATenantNamesAnAdministratorsSitePoolForItsNatGatewayWithoutReadingIt) {
  const Tenant contoso = tenant("contoso");
  const Network aaa = network(contoso, "AAA");
  const json external = external_pool("203.0.113.10", "203.0.113.11");
  const auto gw = ctl.call("POST", "/api/v1/gateways",
                           {{"name", "internet"},
                            {"vm_network_id", aaa.vm_network.at("id")},
                            {"kind", "nat"},
                            {"external_pool_id", external.at("id")}},
                           contoso.token);
  ASSERT_EQ(gw.status, 201) << gw.body;
  EXPECT_EQ(gw.json().at("external_ip"), "203.0.113.10");
  const std::string pool_url = "/api/v1/ip-pools/" + external.at("id").get<std::string>();
  EXPECT_EQ(ctl.call("GET", pool_url, nullptr, contoso.token).status, 404);
  // Another tenant's CA pool is still nothing to name.
  const Tenant fabrikam = tenant("fabrikam");
  const auto refused = ctl.call("POST", "/api/v1/gateways",
                                {{"name", "internet"},
                                 {"vm_network_id", network(fabrikam, "F").vm_network.at("id")},
                                 {"kind", "nat"},
                                 {"external_pool_id", aaa.pool.at("id")}},
                                fabrikam.token);
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(refused.body.find("is not granted to your tenant"), std::string::npos) << refused.body;
}
// --- gateways (issue 15) ---------------------------------------------------

class GatewayApiTest : public ApiTest {
 protected:
  json site;  // the datacenter site hosts live in
  void SetUp() override {
    ApiTest::SetUp();
    site = ctl.create("sites", {{"logical_network_id", logical_network},
                                {"name", "dc1"},
                                {"host_group", "edge-hosts"},
                                {"subnets", {{{"prefix", "192.168.1.0/24"}}}}});
  }
  json host(const std::string& name, const std::string& pa, const std::string& external = "") {
    json body = {{"name", name}, {"site_id", site.at("id")}, {"pa", pa}};
    if (!external.empty()) body["external_interface"] = external;
    return ctl.create("hosts", body);
  }
  static std::string url(const json& gw) {
    return "/api/v1/gateways/" + gw.at("id").get<std::string>();
  }
};

TEST_F(GatewayApiTest, TheControllerPlacesANewGatewayOnTheGatewayHostWithTheFewest) {
  const json compute = host("compute1", "192.168.1.10");
  const json gw1 = host("gw1", "192.168.1.21", "ext0");
  const json gw2 = host("gw2", "192.168.1.22", "ext0");
  const json pool = external_pool("203.0.113.100", "203.0.113.120", "edge-hosts");
  std::vector<std::string> placed;
  for (const char* name : {"contoso", "fabrikam", "woodgrove"}) {
    const Tenant t = tenant(name);
    const Network n = network(t, "AAA");
    const auto r = ctl.call("POST", "/api/v1/gateways",
                            {{"name", "internet"},
                             {"vm_network_id", n.vm_network.at("id")},
                             {"kind", "nat"},
                             {"external_pool_id", pool.at("id")}},
                            t.token);
    ASSERT_EQ(r.status, 201) << r.body;
    placed.push_back(r.json().at("host_id"));
    EXPECT_EQ(r.json().at("configuration_state").at("status"), "pending") << r.body;
  }
  // Fewest first, then by name: gw1, gw2, gw1; never the compute host.
  EXPECT_EQ(placed, (std::vector<std::string>{gw1.at("id"), gw2.at("id"), gw1.at("id")}));
}

TEST_F(GatewayApiTest, WithoutAGatewayHostTheGatewayWaitsAndSaysWhy) {
  host("compute1", "192.168.1.10");
  const Tenant t = tenant("contoso");
  const Network n = network(t, "AAA");
  const auto r = ctl.call("POST", "/api/v1/gateways",
                          {{"name", "internet"},
                           {"vm_network_id", n.vm_network.at("id")},
                           {"kind", "nat"},
                           {"external_pool_id", external_pool().at("id")}},
                          t.token);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_FALSE(r.json().contains("host_id"));
  EXPECT_EQ(r.json().at("configuration_state").at("detail")[0].at("code"), "not_placed");
}

TEST_F(GatewayApiTest, AnAdministratorMovesAGatewayOnlyToAGatewayHost) {
  const json compute = host("compute1", "192.168.1.10");
  const json gw1 = host("gw1", "192.168.1.21", "ext0");
  const json gw2 = host("gw2", "192.168.1.22", "ext1");
  const Tenant t = tenant("contoso");
  const Network n = network(t, "AAA");
  const json gw = ctl.create("gateways",
                             {{"name", "internet"},
                              {"vm_network_id", n.vm_network.at("id")},
                              {"kind", "nat"},
                              {"external_pool_id", external_pool().at("id")}},
                             t.token);
  EXPECT_EQ(gw.at("host_id"), gw1.at("id"));
  auto r = ctl.call("PATCH", url(gw), {{"host_id", gw2.at("id")}}, t.token);
  EXPECT_EQ(r.status, 403) << r.body;
  r = ctl.call("PATCH", url(gw), {{"host_id", compute.at("id")}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("not a gateway host"), std::string::npos) << r.body;
  r = ctl.call("PATCH", url(gw), {{"host_id", gw2.at("id")}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("host_id"), gw2.at("id"));
  EXPECT_EQ(r.json().at("external_ip"), gw.at("external_ip"));  // the address moves with it
  // A VM NIC never takes a gateway host's external interface.
  const json nic =
      ctl.create("vm-nics", {{"vm_subnet_id", n.subnet.at("id")}, {"vm_name", "web"}}, t.token);
  r = ctl.call("PATCH", "/api/v1/vm-nics/" + nic.at("id").get<std::string>(),
               {{"host_id", gw2.at("id")}, {"interface", "ext1"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("external interface"), std::string::npos) << r.body;
  // A gateway host keeps its external interface while it runs gateways.
  const std::string host_url = "/api/v1/hosts/" + gw2.at("id").get<std::string>();
  r = ctl.call("PATCH", host_url, {{"external_interface", nullptr}});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find(gw.at("id").get<std::string>()), std::string::npos) << r.body;
  EXPECT_EQ(ctl.call("PATCH", host_url, {{"external_interface", "ext9"}}).status, 200);
}

TEST_F(GatewayApiTest, TheExternalPoolMustBeAnExternalNetworksAndItsAddressesAreCounted) {
  host("gw1", "192.168.1.21", "ext0");
  const Tenant t = tenant("contoso");
  const Network a = network(t, "A");
  const Network b = network(t, "B");
  const Network c = network(t, "C");
  // A site pool of the virtualized datacenter network is no external pool.
  const json dc_pool = ctl.create(
      "ip-pools", {{"site_id", site.at("id")},
                   {"subnet", "192.168.1.0/24"},
                   {"ranges", {{{"start", "192.168.1.100"}, {"end", "192.168.1.120"}}}}});
  // (An administrator may name any pool for a tenant's gateway, but not this.)
  auto r = ctl.call("POST", "/api/v1/gateways",
                    {{"name", "x"},
                     {"vm_network_id", a.vm_network.at("id")},
                     {"kind", "nat"},
                     {"external_pool_id", dc_pool.at("id")}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("without network virtualization"), std::string::npos) << r.body;
  // No pool named and none granted: the tenant is told what to ask for.
  r = ctl.call("POST", "/api/v1/gateways",
               {{"name", "x"}, {"vm_network_id", a.vm_network.at("id")}, {"kind", "nat"}}, t.token);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.json().at("errors")[0].at("field"), "/external_pool_id");
  EXPECT_NE(r.body.find("the tenant has no external pool granted"), std::string::npos) << r.body;

  const json pool = external_pool("203.0.113.100", "203.0.113.100");  // one address
  const json first = ctl.create("gateways",
                                {{"name", "x"},
                                 {"vm_network_id", a.vm_network.at("id")},
                                 {"kind", "nat"},
                                 {"external_pool_id", pool.at("id")}},
                                t.token);
  EXPECT_EQ(first.at("external_ip"), "203.0.113.100");
  // One gateway per VM network.
  r = ctl.call("POST", "/api/v1/gateways",
               {{"name", "y"},
                {"vm_network_id", a.vm_network.at("id")},
                {"kind", "forwarding"},
                {"external_pool_id", pool.at("id")}},
               t.token);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("has a gateway already"), std::string::npos) << r.body;
  // The pool is exhausted: 409, and nothing is left behind.
  r = ctl.call("POST", "/api/v1/gateways",
               {{"name", "y"},
                {"vm_network_id", b.vm_network.at("id")},
                {"kind", "nat"},
                {"external_pool_id", pool.at("id")}},
               t.token);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("exhausted"), std::string::npos) << r.body;
  EXPECT_EQ(ctl.call("GET", "/api/v1/gateways", nullptr, t.token).json().at("items").size(), 1u);
  // Deleting the gateway frees its address for the next one.
  EXPECT_EQ(ctl.call("DELETE", url(first), nullptr, t.token).status, 204);
  const json next = ctl.create("gateways",
                               {{"name", "z"},
                                {"vm_network_id", c.vm_network.at("id")},
                                {"kind", "forwarding"},
                                {"external_pool_id", pool.at("id")}},
                               t.token);
  EXPECT_EQ(next.at("external_ip"), "203.0.113.100");
  EXPECT_EQ(next.at("advertised_prefixes"), json::array({"10.10.0.0/16"}));
}

TEST_F(GatewayApiTest, NatRulesForwardToTheVmNetworksOwnAddressesOnce) {
  host("gw1", "192.168.1.21", "ext0");
  const Tenant t = tenant("contoso");
  const Network n = network(t, "AAA");
  const json pool = external_pool();
  auto create = [&](const json& rules, const std::string& kind = "nat") {
    return ctl.call("POST", "/api/v1/gateways",
                    {{"name", "internet"},
                     {"vm_network_id", n.vm_network.at("id")},
                     {"kind", kind},
                     {"external_pool_id", pool.at("id")},
                     {"nat_rules", rules}},
                    t.token);
  };
  const json web = {{"protocol", "tcp"},
                    {"external_port", 80},
                    {"internal_ip", "10.10.1.100"},
                    {"internal_port", 8080}};
  json outside = web;
  outside["internal_ip"] = "172.16.0.5";
  outside["external_port"] = 81;
  auto r = create(json::array({web, outside}));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.json().at("errors")[0].at("field"), "/nat_rules/1/internal_ip") << r.body;
  json twice = web;
  twice["internal_port"] = 8081;
  r = create(json::array({web, twice}));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("/1/external_port: tcp 80 is claimed by another rule"), std::string::npos)
      << r.body;
  json udp = web;
  udp["protocol"] = "udp";  // the same port, another protocol: fine
  r = create(json::array({web}), "forwarding");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("are for NAT gateways only"), std::string::npos) << r.body;
  r = create(json::array({web, udp}));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json().at("nat_rules").size(), 2u);
  EXPECT_EQ(r.json().at("advertised_prefixes"), json::array());
}

TEST_F(GatewayApiTest, TwoForwardingGatewaysWithOverlappingPrefixesNeverShareAHost) {
  // Inbound, a forwarding gateway host knows a packet's tenant by its
  // destination alone: two tenants' 10.10.0.0/16 on one host would mix.
  const json gw1 = host("gw1", "192.168.1.21", "ext0");
  const Tenant a = tenant("contoso");
  const Tenant b = tenant("fabrikam");
  const Network na = network(a, "A");
  const Network nb = network(b, "B");
  const json pool = external_pool();
  auto create = [&](const Tenant& t, const Network& n) {
    return ctl.call("POST", "/api/v1/gateways",
                    {{"name", "dc"},
                     {"vm_network_id", n.vm_network.at("id")},
                     {"kind", "forwarding"},
                     {"external_pool_id", pool.at("id")}},
                    t.token);
  };
  ASSERT_EQ(create(a, na).status, 201);
  // The only gateway host has A's prefixes: B's gateway waits, unplaced.
  auto r = create(b, nb);
  ASSERT_EQ(r.status, 201) << r.body;
  const json waiting = r.json();
  EXPECT_FALSE(waiting.contains("host_id")) << r.body;
  EXPECT_EQ(waiting.at("configuration_state").at("detail")[0].at("code"), "not_placed");
  // An administrator cannot put it there either: the policy guard names the overlap.
  r = ctl.call("PATCH", url(waiting), {{"host_id", gw1.at("id")}});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("overlaps 10.10.0.0/16 of forwarding gateway"), std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find(gw1.at("id").get<std::string>()), std::string::npos) << r.body;
  EXPECT_FALSE(ctl.call("GET", url(waiting)).json().contains("host_id"));
  // On another gateway host it runs; new forwarding gateways are placed there.
  const json gw2 = host("gw2", "192.168.1.22", "ext0");
  r = ctl.call("PATCH", url(waiting), {{"host_id", gw2.at("id")}});
  EXPECT_EQ(r.status, 200) << r.body;
  const Tenant c = tenant("woodgrove");
  const Network nc = network(c, "C");
  r = create(c, nc);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_FALSE(r.json().contains("host_id")) << "both hosts have 10.10.0.0/16 already";
  // A NAT gateway with the same prefixes is no problem: it takes only its
  // own address.
  ASSERT_EQ(ctl.call("DELETE", url(r.json()), nullptr, c.token).status, 204);
  const json nat = ctl.create("gateways",
                              {{"name", "internet"},
                               {"vm_network_id", nc.vm_network.at("id")},
                               {"kind", "nat"},
                               {"external_pool_id", pool.at("id")}},
                              c.token);
  EXPECT_TRUE(nat.contains("host_id"));
}

TEST_F(GatewayApiTest, EveryHostOfTheNetworkSendsToTheGatewayHostWhichGetsItAll) {
  const json compute = host("compute1", "192.168.1.10");
  const json other = host("compute2", "192.168.1.11");
  const json gw_host = host("gw1", "192.168.1.21", "ext0");
  const Tenant t = tenant("contoso");
  const Network n = network(t, "AAA");
  const Network lonely = network(t, "BBB");  // no gateway: nothing of it on the gateway host
  for (const auto& [net, h] : {std::pair{n, compute}, std::pair{lonely, other}}) {
    const json nic =
        ctl.create("vm-nics", {{"vm_subnet_id", net.subnet.at("id")}, {"vm_name", "web"}}, t.token);
    ASSERT_EQ(ctl.call("PATCH", "/api/v1/vm-nics/" + nic.at("id").get<std::string>(),
                       {{"host_id", h.at("id")}, {"interface", "vnet-web"}})
                  .status,
              200);
  }
  const json gw = ctl.create("gateways",
                             {{"name", "internet"},
                              {"vm_network_id", n.vm_network.at("id")},
                              {"kind", "nat"},
                              {"external_pool_id", external_pool().at("id")},
                              {"nat_rules", json::array({{{"protocol", "tcp"},
                                                          {"external_port", 80},
                                                          {"internal_ip", "10.10.1.100"},
                                                          {"internal_port", 8080}}})}},
                             t.token);
  ctl.app().engine().flush();
  auto policy_of = [&](const json& h) {
    return ctl.call("GET", "/api/v1/hosts/" + h.at("id").get<std::string>() + "/policy").json();
  };
  const json on_compute = policy_of(compute);
  ASSERT_EQ(on_compute.at("gateways").size(), 1u) << on_compute.dump();
  const json& g = on_compute.at("gateways")[0];
  EXPECT_EQ(g.at("gateway_id"), gw.at("id"));
  EXPECT_EQ(g.at("pa"), "192.168.1.21");
  EXPECT_EQ(g.at("interface"), "ext0");
  EXPECT_EQ(g.at("external_ip"), "203.0.113.100");
  EXPECT_EQ(g.at("prefix_len"), 24);
  EXPECT_EQ(g.at("next_hop"), "203.0.113.1");
  EXPECT_EQ(g.at("nat_rules")[0].at("internal_port"), 8080);
  EXPECT_EQ(g.at("rdid"), n.vm_network.at("rdid"));

  const json on_gateway = policy_of(gw_host);
  EXPECT_EQ(on_gateway.at("gateways"), on_compute.at("gateways"));
  EXPECT_EQ(on_gateway.at("lookup_records"), on_compute.at("lookup_records"));
  EXPECT_TRUE(on_gateway.at("ports").empty());
  for (const auto& route : on_gateway.at("customer_routes"))
    EXPECT_EQ(route.at("rdid"), n.vm_network.at("rdid")) << "BBB leaked to the gateway host";
  EXPECT_TRUE(policy_of(other).at("gateways").empty());

  // Moved: every host of the network follows.
  const json gw2 = host("gw2", "192.168.1.22", "ext0");
  ASSERT_EQ(ctl.call("PATCH", url(gw), {{"host_id", gw2.at("id")}}).status, 200);
  ctl.app().engine().flush();
  EXPECT_EQ(policy_of(compute).at("gateways")[0].at("pa"), "192.168.1.22");
  EXPECT_TRUE(policy_of(gw_host).at("gateways").empty());
  EXPECT_TRUE(policy_of(gw_host).at("lookup_records").empty());
}

// --- the trace tool (issue 16) --------------------------------------------

class TraceApiTest : public GatewayApiTest {
 protected:
  json h1, h2;
  Tenant contoso, fabrikam;
  Network aaa, bbb;
  json second;  // AAA's second subnet, 172.16.0.0/16
  void SetUp() override {
    GatewayApiTest::SetUp();
    h1 = host("h1", "192.168.1.11");
    h2 = host("h2", "192.168.1.12");
    contoso = tenant("contoso");
    fabrikam = tenant("fabrikam");
    aaa = network(contoso, "AAA");
    bbb = network(fabrikam, "BBB");
    second = ctl.create(
        "vm-subnets",
        {{"vm_network_id", aaa.vm_network.at("id")}, {"name", "back"}, {"prefix", "172.16.0.0/16"}},
        contoso.token);
    ctl.create("ip-pools",
               {{"vm_subnet_id", second.at("id")},
                {"ranges", {{{"start", "172.16.0.10"}, {"end", "172.16.0.20"}}}}},
               contoso.token);
  }
  json nic(const Tenant& t, const json& subnet, const std::string& name, const json& where,
           const std::string& interface) {
    const json n =
        ctl.create("vm-nics", {{"vm_subnet_id", subnet.at("id")}, {"vm_name", name}}, t.token);
    if (where.is_null()) return n;
    return ctl
        .call("PATCH", "/api/v1/vm-nics/" + n.at("id").get<std::string>(),
              {{"host_id", where.at("id")}, {"interface", interface}})
        .json();
  }
  json trace(const json& from, const std::string& to, const std::string& extra = "",
             const std::string& token = "", int status = 200) {
    ctl.app().engine().flush();
    const auto r = ctl.call(
        "GET", "/api/v1/trace?from=" + from.at("id").get<std::string>() + "&to=" + to + extra,
        nullptr, token);
    EXPECT_EQ(r.status, status) << r.body;
    return r.json();
  }
  static std::string steps(const json& t) {
    std::string out;
    for (const auto& h : t.at("hops")) out += h.at("step").get<std::string>() + ";";
    return out;
  }
};

// A trace compiles tables: one token may run a burst of 10, then 5 a
// second (429 with Retry-After beyond), each token on its own budget.
TEST_F(TraceApiTest, ATokenMayTraceTenAtOnceThenFiveASecond) {
  const json web1 = nic(contoso, aaa.subnet, "web1", h1, "t-web1");
  ctl.app().engine().flush();
  const std::string url =
      "/api/v1/trace?from=" + web1.at("id").get<std::string>() + "&to=10.10.1.200";
  for (int i = 0; i < 10; ++i) EXPECT_EQ(ctl.call("GET", url, nullptr, contoso.token).status, 200);
  const auto refused = ctl.call("GET", url, nullptr, contoso.token);
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.headers.at("retry-after"), "1");
  EXPECT_NE(refused.body.find("at most 5 traces a second per token"), std::string::npos)
      << refused.body;
  // Another token has its own budget (and Fabrikam still cannot see the NIC).
  EXPECT_EQ(ctl.call("GET", url).status, 200);
  EXPECT_EQ(ctl.call("GET", url, nullptr, fabrikam.token).status, 404);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // 1.5 traces' worth
  EXPECT_EQ(ctl.call("GET", url, nullptr, contoso.token).status, 200);
}

TEST_F(TraceApiTest, SameHostAcrossHostsAndRoutedEachStepNamed) {
  const json web1 = nic(contoso, aaa.subnet, "web1", h1, "t-web1");  // 10.10.1.100
  const json web2 = nic(contoso, aaa.subnet, "web2", h1, "t-web2");  // 10.10.1.101
  const json db = nic(contoso, aaa.subnet, "db", h2, "t-db");        // 10.10.1.102
  const json back = nic(contoso, second, "back", h2, "t-back");      // 172.16.0.10

  json t = trace(web1, "10.10.1.101", "", contoso.token);
  EXPECT_EQ(t.at("verdict"), "delivered") << t.dump(2);
  EXPECT_EQ(t.at("reason"), "delivered_local");
  EXPECT_EQ(t.at("to_nic_id"), web2.at("id"));
  EXPECT_EQ(steps(t), "vm port;arp;frame;pipeline;");
  EXPECT_EQ(t.at("hops")[0].at("host_id"), h1.at("id"));

  t = trace(web1, "10.10.1.102", "&protocol=tcp&port=443", contoso.token);
  EXPECT_EQ(t.at("verdict"), "delivered") << t.dump(2);
  EXPECT_EQ(t.at("to_nic_id"), db.at("id"));
  EXPECT_EQ(steps(t), "vm port;arp;frame;pipeline;uplink;pipeline;");
  const std::string encap = t.at("hops")[3].at("detail");
  EXPECT_NE(encap.find("encapsulated: NVGRE to PA 192.168.1.12 with key VSID " +
                       std::to_string(aaa.subnet.at("vsid").get<int>())),
            std::string::npos)
      << encap;
  EXPECT_EQ(t.at("hops")[4].at("host_id"), h2.at("id"));
  EXPECT_NE(t.at("hops")[2].at("detail").get<std::string>().find("TCP SYN"), std::string::npos);

  t = trace(web1, "172.16.0.10", "&protocol=udp&port=53", contoso.token);
  EXPECT_EQ(t.at("verdict"), "delivered") << t.dump(2);
  EXPECT_EQ(t.at("reason"), "decapsulated");
  EXPECT_EQ(t.at("to_nic_id"), back.at("id"));
  EXPECT_EQ(steps(t), "vm port;frame;pipeline;uplink;pipeline;");  // no ARP: off its subnet
  EXPECT_NE(t.at("hops")[1].at("detail").get<std::string>().find("-> 00:1D:D8:00:00:01"),
            std::string::npos)
      << "to the virtual router's MAC";
  EXPECT_NE(t.at("hops")[2].at("detail").get<std::string>().find("routed_encapsulated"),
            std::string::npos);
}

TEST_F(TraceApiTest, IsolationNoRouteSpoofingAndTheRefusals) {
  const json web1 = nic(contoso, aaa.subnet, "web1", h1, "t-web1");
  const json other = nic(fabrikam, bbb.subnet, "other", h1, "t-other");  // also 10.10.1.100
  nic(contoso, second, "back", h2, "t-back");
  // BBB has no 172.16.0.0/16: AAA's subnet is not reachable from it.
  json t = trace(other, "172.16.0.10", "", fabrikam.token);
  EXPECT_EQ(t.at("verdict"), "dropped");
  EXPECT_EQ(t.at("reason"), "no_route");
  // Its own address's twin in AAA does not answer its ARP: nothing of AAA is in BBB.
  nic(contoso, aaa.subnet, "twin", h2, "t-twin");  // 10.10.1.101 in AAA
  t = trace(other, "10.10.1.101", "", fabrikam.token);
  EXPECT_EQ(t.at("reason"), "arp_unknown") << t.dump(2);
  t = trace(web1, "8.8.8.8", "", contoso.token);
  EXPECT_EQ(t.at("reason"), "no_route");
  t = trace(web1, "172.16.0.10", "&src=10.10.1.200", contoso.token);
  EXPECT_EQ(t.at("reason"), "spoofed_ip");
  // Another tenant's NIC is nothing to trace; an unplaced NIC says so.
  trace(web1, "10.10.1.101", "", fabrikam.token, 404);
  const json loose = nic(contoso, aaa.subnet, "loose", nullptr, "");
  t = trace(loose, "10.10.1.100", "", contoso.token);
  EXPECT_EQ(t.at("reason"), "not_placed");
  // Bad parameters: 400 naming them.
  trace(web1, "10.10.1.999", "", contoso.token, 400);
  trace(web1, "10.10.1.101", "&protocol=tcp", contoso.token, 400);
  trace(web1, "10.10.1.101", "&protocol=sctp&port=1", contoso.token, 400);
  trace(web1, "10.10.1.101", "&hops=3", contoso.token, 400);
}

TEST_F(TraceApiTest, ThroughANatGatewayToTheExternalNetwork) {
  const json gw_host = host("gw1", "192.168.1.21", "ext0");
  const json web1 = nic(contoso, aaa.subnet, "web1", h1, "t-web1");
  ctl.create("gateways",
             {{"name", "internet"},
              {"vm_network_id", aaa.vm_network.at("id")},
              {"kind", "nat"},
              {"external_pool_id", external_pool().at("id")}},
             contoso.token);
  const json t = trace(web1, "198.51.100.7", "&protocol=tcp&port=80", contoso.token);
  EXPECT_EQ(t.at("verdict"), "delivered") << t.dump(2);
  EXPECT_EQ(t.at("reason"), "nat_out");
  EXPECT_TRUE(t.at("to_nic_id").is_null());
  EXPECT_EQ(steps(t), "vm port;frame;pipeline;uplink;external;");
  EXPECT_NE(t.at("hops")[2].at("detail").get<std::string>().find("to_gateway: NVGRE to PA "
                                                                 "192.168.1.21"),
            std::string::npos);
  EXPECT_EQ(t.at("hops")[4].at("host_id"), gw_host.at("id"));
  EXPECT_NE(t.at("hops")[4].at("detail").get<std::string>().find(
                "203.0.113.100 -> 198.51.100.7 (source port 40000)"),
            std::string::npos)
      << t.dump(2);
}

// --- port profiles, appliances and static records (issue 19) --------------

constexpr const char* kGuestDynamicIp = "00000000-0000-4000-8000-00000000f004";

TEST_F(TraceApiTest, PortProfilesAreTheAdministratorsAndTenantsReadAndChooseThem) {
  // Built in at first start, readable by every tenant.
  const json listed =
      ctl.call("GET", "/api/v1/port-profiles?sort=name", nullptr, contoso.token).json();
  std::vector<std::string> names;
  for (const auto& p : listed.at("items")) names.push_back(p.at("name"));
  EXPECT_EQ(names, (std::vector<std::string>{"Guest Dynamic IP", "High bandwidth", "Low bandwidth",
                                             "Medium bandwidth"}));
  const json dynamic = ctl.call("GET", std::string("/api/v1/port-profiles/") + kGuestDynamicIp,
                                nullptr, fabrikam.token)
                           .json();
  EXPECT_EQ(dynamic.at("allowed_addresses"), json::array({"0.0.0.0/0"}));
  EXPECT_EQ(dynamic.at("dhcp_guard"), true);
  EXPECT_EQ(dynamic.at("router_guard"), true);
  EXPECT_EQ(dynamic.at("weight"), 1);
  // Only an administrator writes them.
  const json body = {{"name", "router"}, {"allowed_addresses", {"10.99.0.0/16"}}};
  const auto refused = ctl.call("POST", "/api/v1/port-profiles", body, contoso.token);
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(refused.body.find("tenants read it"), std::string::npos) << refused.body;
  EXPECT_EQ(ctl.call("PATCH", std::string("/api/v1/port-profiles/") + kGuestDynamicIp,
                     {{"weight", 100}}, contoso.token)
                .status,
            403);
  // What it refuses, field by field.
  for (const json& bad :
       {json{{"name", "x"}, {"allowed_addresses", {"10.99.0.1/16"}}},
        json{{"name", "x"}, {"allowed_addresses", {"10.99.0.0/16", "10.99.0.0/16"}}},
        json{{"name", "x"}, {"allowed_addresses", "10.99.0.0/16"}},
        json{{"name", "x"}, {"weight", 0}}, json{{"name", "x"}, {"weight", 101}},
        json{{"name", "x"}, {"bandwidth_max_mbps", 0}},
        json{{"name", "x"}, {"bandwidth_min_mbps", 200}, {"bandwidth_max_mbps", 100}}}) {
    EXPECT_EQ(ctl.call("POST", "/api/v1/port-profiles", bad).status, 400) << bad.dump();
  }
  const json router = ctl.create("port-profiles", body);
  EXPECT_EQ(router.at("dhcp_guard"), true) << "guards on by default";
  EXPECT_EQ(router.at("allow_mac_spoofing"), false);
  EXPECT_FALSE(router.contains("bandwidth_max_mbps"));
  EXPECT_EQ(ctl.call("POST", "/api/v1/port-profiles", {{"name", "router"}}).status, 409);

  // A tenant's NIC names one; an id that is no profile is refused.
  const json web = nic(contoso, aaa.subnet, "web", h1, "t-web");
  const std::string web_url = "/api/v1/vm-nics/" + web.at("id").get<std::string>();
  EXPECT_EQ(ctl.call("PATCH", web_url,
                     {{"port_profile_id", "00000000-0000-4000-8000-0000000000ff"}}, contoso.token)
                .status,
            400);
  ASSERT_EQ(
      ctl.call("PATCH", web_url, {{"port_profile_id", kGuestDynamicIp}}, contoso.token).status,
      200);
  ctl.app().engine().flush();
  json policy =
      ctl.call("GET", "/api/v1/hosts/" + h1.at("id").get<std::string>() + "/policy").json();
  ASSERT_EQ(policy.at("ports").size(), 1u);
  EXPECT_EQ(policy.at("ports")[0].at("profile").at("allowed_addresses"),
            json::array({"0.0.0.0/0"}));
  // The profile changes: the port follows.
  ASSERT_EQ(ctl.call("PATCH", std::string("/api/v1/port-profiles/") + kGuestDynamicIp,
                     {{"bandwidth_max_mbps", 250}, {"router_guard", false}})
                .status,
            200);
  ctl.app().engine().flush();
  policy = ctl.call("GET", "/api/v1/hosts/" + h1.at("id").get<std::string>() + "/policy").json();
  EXPECT_EQ(policy.at("ports")[0].at("profile").at("bandwidth_max_mbps"), 250);
  EXPECT_EQ(policy.at("ports")[0].at("profile").at("router_guard"), false);
  // In use: not deleted, and the answer names the NIC.
  const auto in_use = ctl.call("DELETE", std::string("/api/v1/port-profiles/") + kGuestDynamicIp);
  EXPECT_EQ(in_use.status, 409);
  EXPECT_NE(in_use.body.find(web.at("id").get<std::string>()), std::string::npos) << in_use.body;
  // Without one again: the strict defaults.
  ASSERT_EQ(ctl.call("PATCH", web_url, {{"port_profile_id", nullptr}}, contoso.token).status, 200);
  ctl.app().engine().flush();
  policy = ctl.call("GET", "/api/v1/hosts/" + h1.at("id").get<std::string>() + "/policy").json();
  EXPECT_EQ(policy.at("ports")[0].at("profile").at("allowed_addresses"), json::array());
  EXPECT_EQ(policy.at("ports")[0].at("profile").at("router_guard"), true);
}

// A tenant names only the profiles granted to it (the built-ins unless the
// administrator says otherwise), and cannot undo the administrator's
// choice: a limit set on its NIC stays.
TEST_F(TraceApiTest, ATenantNamesOnlyGrantedProfilesAndKeepsWhatTheAdministratorSet) {
  const json limit =
      ctl.create("port-profiles", {{"name", "limit-10"}, {"bandwidth_max_mbps", 10}});
  const std::string limit_id = limit.at("id");
  const json web = nic(contoso, aaa.subnet, "web", h1, "t-web");
  const std::string web_url = "/api/v1/vm-nics/" + web.at("id").get<std::string>();
  auto policy_profile = [&] {
    ctl.app().engine().flush();
    const json policy =
        ctl.call("GET", "/api/v1/hosts/" + h1.at("id").get<std::string>() + "/policy").json();
    for (const auto& port : policy.at("ports")) {
      if (port.at("mac") == web.at("mac")) return port.at("profile");
    }
    return json();
  };
  // Without grants: the built-ins, not an administrator's own profile;
  // one that does not exist is refused in the same words.
  EXPECT_EQ(
      ctl.call("PATCH", web_url, {{"port_profile_id", kGuestDynamicIp}}, contoso.token).status,
      200);
  for (const std::string& id : {limit_id, std::string("00000000-0000-4000-8000-0000000000ff")}) {
    const auto r = ctl.call("PATCH", web_url, {{"port_profile_id", id}}, contoso.token);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("is not granted to your tenant"), std::string::npos) << r.body;
  }
  // The administrator limits the NIC: the tenant can neither pick another
  // profile nor remove it; leaving it out of a replace keeps it.
  ASSERT_EQ(ctl.call("PATCH", web_url, {{"port_profile_id", limit_id}}).status, 200);
  auto r = ctl.call("PATCH", web_url, {{"port_profile_id", kGuestDynamicIp}}, contoso.token);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("only an administrator"), std::string::npos) << r.body;
  r = ctl.call("PATCH", web_url, {{"port_profile_id", nullptr}}, contoso.token);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("port_profile_id"), limit_id);
  r = ctl.call("PUT", web_url, {{"vm_subnet_id", aaa.subnet.at("id")}, {"vm_name", "web-renamed"}},
               contoso.token);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("port_profile_id"), limit_id);
  EXPECT_EQ(policy_profile().value("bandwidth_max_mbps", 0), 10);

  // Grants and a default: new NICs get the default and cannot shed it;
  // a profile outside the grants (a built-in now) is refused.
  const std::string tenant_url = "/api/v1/tenants/" + contoso.id;
  r = ctl.call("PATCH", tenant_url,
               {{"default_port_profile_id", "00000000-0000-4000-8000-0000000000ff"}});
  EXPECT_EQ(r.status, 400) << r.body;  // no such profile
  r = ctl.call("PATCH", tenant_url, {{"default_port_profile_id", limit_id}});
  EXPECT_EQ(r.status, 400) << r.body;  // not among the grants (the built-ins)
  EXPECT_NE(r.body.find("/default_port_profile_id"), std::string::npos) << r.body;
  const json unlimited = ctl.create("port-profiles", {{"name", "unlimited"}});
  ASSERT_EQ(ctl.call("PATCH", tenant_url,
                     {{"port_profile_ids", {limit_id, unlimited.at("id")}},
                      {"default_port_profile_id", limit_id}})
                .status,
            200);
  const json who = ctl.call("GET", "/api/v1/whoami", nullptr, contoso.token).json();
  EXPECT_EQ(who.at("port_profiles"), json({{{"id", limit_id}, {"name", "limit-10"}},
                                           {{"id", unlimited.at("id")}, {"name", "unlimited"}}}));
  EXPECT_EQ(who.at("default_port_profile_id"), limit_id);
  const json db = nic(contoso, aaa.subnet, "db", nullptr, "");
  EXPECT_EQ(db.at("port_profile_id"), limit_id);
  // An administrator's new NIC for the tenant (a compute orchestrator's)
  // gets the default too.
  const json orchestrated =
      ctl.create("vm-nics", {{"vm_subnet_id", aaa.subnet.at("id")}, {"vm_name", "orchestrated"}});
  EXPECT_EQ(orchestrated.at("port_profile_id"), limit_id);
  ASSERT_EQ(
      ctl.call("DELETE", "/api/v1/vm-nics/" + orchestrated.at("id").get<std::string>()).status,
      204);
  const std::string db_url = "/api/v1/vm-nics/" + db.at("id").get<std::string>();
  r = ctl.call("PATCH", db_url, {{"port_profile_id", nullptr}}, contoso.token);
  EXPECT_EQ(r.json().at("port_profile_id"), limit_id) << r.body;
  EXPECT_EQ(ctl.call("PATCH", db_url, {{"port_profile_id", kGuestDynamicIp}}, contoso.token).status,
            400);
  EXPECT_EQ(
      ctl.call("PATCH", db_url, {{"port_profile_id", unlimited.at("id")}}, contoso.token).status,
      200);
  // Granted now, the limit on web is the tenant's to change.
  EXPECT_EQ(
      ctl.call("PATCH", web_url, {{"port_profile_id", unlimited.at("id")}}, contoso.token).status,
      200);
  EXPECT_EQ(policy_profile().at("bandwidth_max_mbps"), 0);  // 0: no limit
  // Another tenant's grants are its own: fabrikam still has the built-ins.
  const json other = nic(fabrikam, bbb.subnet, "other", nullptr, "");
  EXPECT_EQ(ctl.call("PATCH", "/api/v1/vm-nics/" + other.at("id").get<std::string>(),
                     {{"port_profile_id", limit_id}}, fabrikam.token)
                .status,
            400);
  // A granted profile, or a tenant's default, is not deleted under it.
  ASSERT_EQ(ctl.call("PATCH", db_url, {{"port_profile_id", limit_id}}, contoso.token).status, 200);
  ASSERT_EQ(ctl.call("DELETE", db_url, nullptr, contoso.token).status, 204);
  r = ctl.call("DELETE", "/api/v1/port-profiles/" + limit_id);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find(contoso.id), std::string::npos) << r.body;
  ASSERT_EQ(ctl.call("PATCH", tenant_url,
                     {{"port_profile_ids", nullptr}, {"default_port_profile_id", kGuestDynamicIp}})
                .status,
            200);
  r = ctl.call("DELETE", std::string("/api/v1/port-profiles/") + kGuestDynamicIp);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("its default port profile"), std::string::npos) << r.body;
  EXPECT_EQ(ctl.call("DELETE", "/api/v1/port-profiles/" + limit_id).status, 204);
}

TEST_F(TraceApiTest, ARouteThroughAnApplianceNeedsItsProfileToAllowWhatItForwards) {
  const json web = nic(contoso, aaa.subnet, "web", h1, "t-web");  // 10.10.1.100
  const json fw = nic(contoso, second, "fw", h2, "t-fw");         // 172.16.0.10
  const std::string fw_url = "/api/v1/vm-nics/" + fw.at("id").get<std::string>();
  const json route = {{"vm_network_id", aaa.vm_network.at("id")},
                      {"prefix", "10.99.0.0/16"},
                      {"next_hop", "172.16.0.10"}};
  // Without a profile the appliance may send only from its own CA.
  auto r = ctl.call("POST", "/api/v1/routes", route, contoso.token);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("/next_hop"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("has no port profile"), std::string::npos) << r.body;
  // A profile that allows less than the route carries is refused too.
  const json narrow =
      ctl.create("port-profiles", {{"name", "narrow"}, {"allowed_addresses", {"10.99.1.0/24"}}});
  const json wide =
      ctl.create("port-profiles", {{"name", "firewall"}, {"allowed_addresses", {"10.96.0.0/12"}}});
  ASSERT_EQ(ctl.call("PATCH", "/api/v1/tenants/" + contoso.id,
                     {{"port_profile_ids", {narrow.at("id"), wide.at("id")}}})
                .status,
            200);
  ASSERT_EQ(ctl.call("PATCH", fw_url, {{"port_profile_id", narrow.at("id")}}, contoso.token).status,
            200);
  EXPECT_EQ(ctl.call("POST", "/api/v1/routes", route, contoso.token).status, 400);
  ASSERT_EQ(ctl.call("PATCH", fw_url, {{"port_profile_id", wide.at("id")}}, contoso.token).status,
            200);
  const json created = ctl.create("routes", route, contoso.token);
  // The appliance keeps a profile that allows it: taking it away, or
  // narrowing the profile, is refused naming the route.
  r = ctl.call("PATCH", fw_url, {{"port_profile_id", narrow.at("id")}}, contoso.token);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find(created.at("id").get<std::string>()), std::string::npos) << r.body;
  EXPECT_EQ(ctl.call("PATCH", fw_url, {{"port_profile_id", nullptr}}, contoso.token).status, 409);
  r = ctl.call("PATCH", "/api/v1/port-profiles/" + wide.at("id").get<std::string>(),
               {{"allowed_addresses", {"10.97.0.0/16"}}});
  EXPECT_EQ(r.status, 409) << r.body;
  // A next hop that is no NIC yet is taken; the NIC that takes that CA
  // later must come with a profile that allows the route.
  ctl.create("routes",
             {{"vm_network_id", aaa.vm_network.at("id")},
              {"prefix", "10.98.0.0/16"},
              {"next_hop", "172.16.0.99"}},
             contoso.token);
  r = ctl.call("POST", "/api/v1/vm-nics",
               {{"vm_subnet_id", second.at("id")}, {"vm_name", "late"}, {"ip", "172.16.0.99"}});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(ctl.call("POST", "/api/v1/vm-nics",
                     {{"vm_subnet_id", second.at("id")},
                      {"vm_name", "late"},
                      {"ip", "172.16.0.99"},
                      {"port_profile_id", wide.at("id")}})
                .status,
            201);
  // The trace shows the route to the appliance, and the appliance's
  // forwarded packet (from web's address) allowed by its profile.
  json t = trace(web, "10.99.4.4", "&protocol=tcp&port=443", contoso.token);
  EXPECT_EQ(t.at("verdict"), "delivered") << t.dump(2);
  EXPECT_EQ(t.at("to_nic_id"), fw.at("id"));
  t = trace(fw, "10.10.1.100", "&src=10.99.4.4", contoso.token);
  EXPECT_EQ(t.at("verdict"), "delivered") << t.dump(2);
  EXPECT_NE(t.at("hops")[0].at("detail").get<std::string>().find("port profile \"firewall\""),
            std::string::npos)
      << t.dump(2);
  t = trace(fw, "10.10.1.100", "&src=10.200.0.1", contoso.token);
  EXPECT_EQ(t.at("reason"), "spoofed_ip") << t.dump(2);
}

TEST_F(TraceApiTest, AStaticRecordReachesEveryHostOfItsVsidsNetworkOnly) {
  const json web = nic(contoso, aaa.subnet, "web", h1, "t-web");  // 10.10.1.100
  nic(fabrikam, bbb.subnet, "other", h2, "t-other");
  const int vsid = aaa.subnet.at("vsid");
  const json record = {
      {"vsid", vsid}, {"ca", "10.10.2.1"}, {"mac", "02:00:5E:00:02:01"}, {"pa", "192.168.1.50"}};
  EXPECT_EQ(ctl.call("POST", "/api/v1/static-records", record, contoso.token).status, 403);
  for (const auto& [field, value] :
       std::vector<std::pair<std::string, json>>{{"vsid", 16777000},
                                                 {"ca", "10.11.0.1"},
                                                 {"ca", "10.10.255.255"},
                                                 {"mac", "01:00:5E:00:00:01"},
                                                 {"pa", "0.0.0.0"}}) {
    json bad = record;
    bad[field] = value;
    EXPECT_EQ(ctl.call("POST", "/api/v1/static-records", bad).status, 400) << bad.dump();
  }
  json taken = record;
  taken["ca"] = "10.10.1.100";  // web's
  EXPECT_EQ(ctl.call("POST", "/api/v1/static-records", taken).status, 409);
  taken = record;
  taken["mac"] = web.at("mac");  // web's MAC: the hosts look records up by (VSID, MAC) too
  EXPECT_EQ(ctl.call("POST", "/api/v1/static-records", taken).status, 409);
  const json created = ctl.create("static-records", record);
  EXPECT_EQ(created.at("vm_subnet_id"), aaa.subnet.at("id"));
  EXPECT_EQ(ctl.call("POST", "/api/v1/vm-nics",
                     {{"vm_subnet_id", aaa.subnet.at("id")},
                      {"vm_name", "y"},
                      {"mac", "02:00:5E:00:02:01"}})
                .status,
            409)
      << "a NIC given the record's MAC";
  EXPECT_EQ(ctl.call("POST", "/api/v1/static-records", record).status, 409) << "its CA is taken";
  // No NIC gets its CA.
  EXPECT_EQ(ctl.call("POST", "/api/v1/vm-nics",
                     {{"vm_subnet_id", aaa.subnet.at("id")}, {"vm_name", "x"}, {"ip", "10.10.2.1"}})
                .status,
            409);
  ctl.app().engine().flush();
  auto records_of = [&](const json& h) {
    return ctl.call("GET", "/api/v1/hosts/" + h.at("id").get<std::string>() + "/policy")
        .json()
        .at("lookup_records");
  };
  const json expected = {{"vsid", vsid},
                         {"ca", "10.10.2.1"},
                         {"mac", "02:00:5E:00:02:01"},
                         {"pa", "192.168.1.50"},
                         {"rule", "encap"}};
  const json on_h1 = records_of(h1);
  EXPECT_NE(std::find(on_h1.begin(), on_h1.end(), expected), on_h1.end()) << on_h1.dump();
  for (const auto& r : records_of(h2))
    EXPECT_NE(r.at("ca"), "10.10.2.1") << "BBB's host got AAA's record";
  const json t =
      trace(nic(contoso, aaa.subnet, "web2", h1, "t-web2"), "10.10.2.1", "", contoso.token);
  EXPECT_EQ(t.at("verdict"), "forwarded") << t.dump(2);
  EXPECT_EQ(t.at("reason"), "encapsulated");
  EXPECT_NE(t.dump().find("leaves for PA 192.168.1.50, which is no host of the controller"),
            std::string::npos)
      << t.dump(2);
  // Its subnet stays while it is there; deleted, it leaves the policies.
  const auto subnet_delete =
      ctl.call("DELETE", "/api/v1/vm-subnets/" + aaa.subnet.at("id").get<std::string>());
  EXPECT_EQ(subnet_delete.status, 409);
  EXPECT_NE(subnet_delete.body.find("static-records"), std::string::npos) << subnet_delete.body;
  ASSERT_EQ(
      ctl.call("DELETE", "/api/v1/static-records/" + created.at("id").get<std::string>()).status,
      204);
  ctl.app().engine().flush();
  for (const auto& r : records_of(h1)) EXPECT_NE(r.at("ca"), "10.10.2.1");
  EXPECT_EQ(ctl.call("POST", "/api/v1/vm-nics",
                     {{"vm_subnet_id", aaa.subnet.at("id")}, {"vm_name", "x"}, {"ip", "10.10.2.1"}})
                .status,
            201)
      << "its CA is free again";
}

}  // namespace
}  // namespace vnet::testing
