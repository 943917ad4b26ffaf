// The REST API under hostile input and tenants that try to disturb others
// (issue 14): each case was reproduced against the controller before its fix.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "controller/api/metrics.h"
#include "controller/model/service.h"
#include "controller/policy/engine.h"
#include "controller/policy/guard.h"
#include "controller/store/store.h"
#include "tests/controller/api_fixture.h"

namespace vnet::testing {
namespace {

using nlohmann::json;

struct Tenant {
  std::string id;
  std::string token;
};

class HostileApiTest : public ::testing::Test {
 protected:
  TempDir dir;
  Controller ctl{dir.path()};
  std::string logical_network;
  json site;
  json host;

  void SetUp() override {
    logical_network =
        ctl.create("logical-networks", {{"name", "datacenter"}, {"network_virtualization", true}})
            .at("id");
    site = ctl.create("sites", {{"logical_network_id", logical_network},
                                {"name", "rack1"},
                                {"subnets", {{{"prefix", "192.168.1.0/24"}, {"vlan", 0}}}}});
    host = ctl.create("hosts",
                      {{"name", "host1"}, {"site_id", site.at("id")}, {"pa", "192.168.1.10"}});
  }

  Tenant tenant(const std::string& name) {
    const std::string id =
        ctl.create("tenants", {{"name", name}, {"logical_network_ids", {logical_network}}})
            .at("id");
    const json token = ctl.create("tokens", {{"name", name + " self-service"}, {"tenant_id", id}});
    return {id, token.at("token")};
  }

  json network(const Tenant& t, const std::string& name) {
    return ctl.create("vm-networks", {{"name", name}, {"logical_network_id", logical_network}},
                      t.token);
  }
  json subnet(const Tenant& t, const json& net, const std::string& prefix) {
    return ctl.create("vm-subnets",
                      {{"vm_network_id", net.at("id")}, {"name", "s"}, {"prefix", prefix}},
                      t.token);
  }
  std::string url(const std::string& collection, const json& object) {
    return "/api/v1/" + collection + "/" + object.at("id").get<std::string>();
  }
};

// --- a tenant must never stall a host ------------------------------------

TEST_F(HostileApiTest, ATenantCannotPlaceAGatewayOnAHost) {
  const Tenant t = tenant("contoso");
  const json net = network(t, "AAA");
  auto r = ctl.call(
      "POST", "/api/v1/gateways",
      {{"vm_network_id", net.at("id")}, {"kind", "forwarding"}, {"host_id", host.at("id")}},
      t.token);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.json().at("errors")[0].at("field"), "/host_id");
}

TEST_F(HostileApiTest, AWriteThatWouldGiveAHostAnInvalidPolicyIsRefusedAndChangesNothing) {
  const Tenant t = tenant("contoso");
  const json net = network(t, "AAA");
  const json sub = subnet(t, net, "10.10.0.0/16");
  const json pool = ctl.create("ip-pools",
                               {{"vm_subnet_id", sub.at("id")},
                                {"ranges", {{{"start", "10.10.1.100"}, {"end", "10.10.1.130"}}}}},
                               t.token);
  const json nic =
      ctl.create("vm-nics", {{"vm_subnet_id", sub.at("id")}, {"vm_name", "web"}}, t.token);
  ASSERT_EQ(ctl.call("PATCH", url("vm-nics", nic),
                     {{"host_id", host.at("id")}, {"interface", "vnet-web"}})
                .status,
            200);
  const std::string host_id = host.at("id");
  const json bare = subnet(t, net, "10.20.0.0/24");  // a subnet without pool
  ctl.app().engine().flush();
  const auto policy_before = ctl.call("GET", "/api/v1/hosts/" + host_id + "/policy").body;

  // The pool's gateway moved onto the NIC's own address: the port would
  // have gateway == CA, which the agent's validator refuses.
  auto r = ctl.call("PATCH", url("ip-pools", pool), {{"gateway", nic.at("ip")}}, t.token);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find(host_id), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("/ports/0/gateway"), std::string::npos) << r.body;
  EXPECT_EQ(ctl.call("GET", url("ip-pools", pool), nullptr, t.token).json().at("gateway"),
            "10.10.0.1");

  // A NIC in a subnet without pool given the subnet's gateway address.
  const json gw_nic = ctl.create(
      "vm-nics", {{"vm_subnet_id", bare.at("id")}, {"vm_name", "gw"}, {"ip", "10.20.0.1"}},
      t.token);
  r = ctl.call("PATCH", url("vm-nics", gw_nic), {{"host_id", host_id}, {"interface", "vnet-gw"}});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_FALSE(ctl.call("GET", url("vm-nics", gw_nic)).json().contains("host_id"));

  // A forwarding gateway without an external address (the policy would
  // carry external_ip 0.0.0.0) is refused before it is written (issue 15:
  // every gateway takes its address from an external pool).
  r = ctl.call("POST", "/api/v1/gateways",
               {{"name", "edge"}, {"vm_network_id", net.at("id")}, {"kind", "forwarding"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("/external_pool_id"), std::string::npos) << r.body;
  EXPECT_EQ(ctl.call("GET", "/api/v1/gateways").json().at("items").size(), 0u);

  // Nothing of it reached the host's compiled policy.
  ctl.app().engine().flush();
  EXPECT_EQ(ctl.call("GET", "/api/v1/hosts/" + host_id + "/policy").body, policy_before);
  // And the host takes the next good change.
  r = ctl.call("POST", "/api/v1/vm-nics",
               {{"vm_subnet_id", sub.at("id")},
                {"vm_name", "db"},
                {"host_id", host_id},
                {"interface", "vnet-db"}});
  EXPECT_EQ(r.status, 201) << r.body;
  ctl.app().engine().flush();
  EXPECT_EQ(ctl.call("GET", "/api/v1/hosts/" + host_id + "/policy").json().at("ports").size(), 2u);
}

// The guard on its own: a host broken before the guard existed (data of an
// older release) does not block writes that leave it as it was, or repair
// it; a write that adds an error is refused all the same.
TEST(PolicyGuard, RepairsOfAnAlreadyBrokenHostGoThroughNewBreakagesDoNot) {
  TempDir dir;
  store::Store store(test_store_url(dir.path()));
  model::Service service(store);
  const model::Principal admin{model::Role::kAdmin, "", ""};
  auto create = [&](const char* kind, const json& body) {
    return service.create(admin, model::kind(kind), body).object;
  };
  const json ln = create("logical-networks", {{"name", "dc"}});
  const json site = create("sites", {{"logical_network_id", ln["id"]},
                                     {"name", "s"},
                                     {"subnets", {{{"prefix", "192.168.1.0/24"}}}}});
  const json host =
      create("hosts", {{"name", "h"}, {"site_id", site["id"]}, {"pa", "192.168.1.10"}});
  const json tenant = create("tenants", {{"name", "t"}});
  const json net =
      create("vm-networks",
             {{"name", "n"}, {"tenant_id", tenant["id"]}, {"logical_network_id", ln["id"]}});
  const json sub = create("vm-subnets",
                          {{"vm_network_id", net["id"]}, {"name", "s"}, {"prefix", "10.0.0.0/24"}});
  // Broken without the guard: a NIC on the subnet's gateway address.
  const json broken = create("vm-nics", {{"vm_subnet_id", sub["id"]},
                                         {"vm_name", "gw"},
                                         {"ip", "10.0.0.1"},
                                         {"host_id", host["id"]},
                                         {"interface", "vnet-gw"}});
  compiler::PolicyGuard guard(
      store.read([](store::Database& db) { return compiler::Model::load(db); }));
  service.set_guard({.check =
                         [&](const std::vector<model::Change>& changes) {
                           if (auto r = guard.check(changes))
                             throw model::conflict(r->error.to_string());
                         },
                     .on_end = [&](bool ok) { ok ? guard.commit() : guard.rollback(); }});
  const auto& nics = model::kind("vm-nics");
  // Leaves the broken port as it was: allowed.
  EXPECT_NO_THROW(service.patch(admin, nics, broken["id"], {{"vm_name", "renamed"}}, std::nullopt));
  // Breaks a second port: refused.
  const json other =
      create("vm-nics", {{"vm_subnet_id", sub["id"]}, {"vm_name", "b"}, {"ip", "10.0.0.9"}});
  EXPECT_THROW(service.patch(admin, nics, other["id"],
                             {{"ip", "10.0.0.1"}, {"host_id", host["id"]}, {"interface", "vnet-b"}},
                             std::nullopt),
               model::Problem);
  // The repair: the broken NIC leaves the host. Allowed, and from then on
  // putting it back on the gateway address is refused.
  EXPECT_NO_THROW(service.patch(admin, nics, broken["id"],
                                {{"host_id", nullptr}, {"interface", nullptr}}, std::nullopt));
  EXPECT_THROW(service.patch(admin, nics, broken["id"],
                             {{"host_id", host["id"]}, {"interface", "vnet-gw"}}, std::nullopt),
               model::Problem);
  service.set_guard({});
}

// Whatever reaches a label is escaped (text format 0.0.4: backslash, quote,
// newline), and methods outside the fixed set are "other".
TEST(Metrics, LabelValuesAreEscapedAndMethodsBounded) {
  api::Metrics m;
  m.observe("GET", "/a\"},evil=\"1\\\nx", 200, 0.001);
  m.observe("BREW", "/api/v1/tenants", 405, 0.001);
  const std::string text = m.render({});
  EXPECT_NE(text.find(R"(route="/a\"},evil=\"1\\\nx")"), std::string::npos) << text;
  EXPECT_EQ(text.find("BREW"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(method="other",route="/api/v1/tenants",status="405")"), std::string::npos)
      << text;
}

// --- quotas ------------------------------------------------------------------

TEST_F(HostileApiTest, ATenantStopsAtItsQuotaAndAnAdministratorMayRaiseIt) {
  const Tenant t = tenant("contoso");
  ASSERT_EQ(ctl.call("PATCH", "/api/v1/tenants/" + t.id, {{"quota_vm_networks", 2}}).status, 200);
  network(t, "A");
  network(t, "B");
  auto r = ctl.call("POST", "/api/v1/vm-networks",
                    {{"name", "C"}, {"logical_network_id", logical_network}}, t.token);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("quota_vm_networks"), std::string::npos) << r.body;
  // An administrator creating for the tenant meets the same quota.
  r = ctl.call("POST", "/api/v1/vm-networks",
               {{"name", "C"}, {"logical_network_id", logical_network}, {"tenant_id", t.id}});
  EXPECT_EQ(r.status, 409) << r.body;
  // A tenant cannot raise its own quota: /tenants is the administrator's.
  EXPECT_EQ(
      ctl.call("PATCH", "/api/v1/tenants/" + t.id, {{"quota_vm_networks", 9}}, t.token).status,
      403);
  ASSERT_EQ(ctl.call("PATCH", "/api/v1/tenants/" + t.id, {{"quota_vm_networks", 3}}).status, 200);
  r = ctl.call("POST", "/api/v1/vm-networks",
               {{"name", "C"}, {"logical_network_id", logical_network}}, t.token);
  EXPECT_EQ(r.status, 201) << r.body;
  // Back to the controller's default (100).
  ASSERT_EQ(ctl.call("PATCH", "/api/v1/tenants/" + t.id, {{"quota_vm_networks", nullptr}}).status,
            200);

  // Without a quota of its own, a tenant has the controller's default.
  model::QuotaDefaults defaults;
  defaults.vm_nics = 2;
  ctl.service().set_quota_defaults(defaults);
  const json sub = subnet(t, network(t, "D"), "10.10.0.0/24");
  ctl.create("vm-nics", {{"vm_subnet_id", sub.at("id")}, {"vm_name", "a"}, {"ip", "10.10.0.10"}},
             t.token);
  ctl.create("vm-nics", {{"vm_subnet_id", sub.at("id")}, {"vm_name", "b"}, {"ip", "10.10.0.11"}},
             t.token);
  r = ctl.call("POST", "/api/v1/vm-nics",
               {{"vm_subnet_id", sub.at("id")}, {"vm_name", "c"}, {"ip", "10.10.0.12"}}, t.token);
  EXPECT_EQ(r.status, 409) << r.body;
  // Nothing of the refused NIC stays, and a delete makes room again.
  const json nics = ctl.call("GET", "/api/v1/vm-nics", nullptr, t.token).json();
  ASSERT_EQ(nics.at("items").size(), 2u);
  EXPECT_EQ(ctl.call("DELETE", "/api/v1/vm-nics/" + nics["items"][0]["id"].get<std::string>(),
                     nullptr, t.token)
                .status,
            204);
  r = ctl.call("POST", "/api/v1/vm-nics",
               {{"vm_subnet_id", sub.at("id")}, {"vm_name", "c"}, {"ip", "10.10.0.12"}}, t.token);
  EXPECT_EQ(r.status, 201) << r.body;
  // Another tenant is unaffected by the first one's count.
  const Tenant other = tenant("fabrikam");
  const json other_sub = subnet(other, network(other, "A"), "10.10.0.0/24");
  ctl.create("vm-nics",
             {{"vm_subnet_id", other_sub.at("id")}, {"vm_name", "a"}, {"ip", "10.10.0.10"}},
             other.token);
}

// --- admin-only means for removal too ---------------------------------------

TEST_F(HostileApiTest, ATenantCanNeitherClearNorDropItsNicsPlacement) {
  const Tenant t = tenant("contoso");
  const json sub = subnet(t, network(t, "AAA"), "10.10.0.0/24");
  const json nic = ctl.create(
      "vm-nics", {{"vm_subnet_id", sub.at("id")}, {"vm_name", "web"}, {"ip", "10.10.0.9"}},
      t.token);
  ASSERT_EQ(ctl.call("PATCH", url("vm-nics", nic),
                     {{"host_id", host.at("id")}, {"interface", "vnet-web"}})
                .status,
            200);
  auto r = ctl.call("PATCH", url("vm-nics", nic), {{"host_id", nullptr}}, t.token);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.json().at("errors")[0].at("field"), "/host_id");
  // A PUT that leaves placement out keeps it.
  r = ctl.call("PUT", url("vm-nics", nic), {{"vm_subnet_id", sub.at("id")}, {"vm_name", "web2"}},
               t.token);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("vm_name"), "web2");
  EXPECT_EQ(r.json().at("host_id"), host.at("id"));
  EXPECT_EQ(r.json().at("interface"), "vnet-web");
  // The administrator may still unplace it.
  r = ctl.call("PATCH", url("vm-nics", nic), {{"host_id", nullptr}, {"interface", nullptr}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.json().contains("host_id"));
}

// --- hostile bytes --------------------------------------------------------------

TEST_F(HostileApiTest, BytesThatAreNotUtf8AreA400WithAProblemDocument) {
  for (const std::string& target :
       {std::string("/api/v1/tenants/\xff\xfe"), std::string("/api/v1/tenants?name=%ff%c0"),
        std::string("/api/v1/t\xc3\x28nants")}) {
    auto r = http(ctl.port(), "GET", target, "", ctl.admin_token());
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.headers.at("content-type"), "application/problem+json");
    EXPECT_TRUE(r.json().is_object()) << r.body;
  }
  const auto r =
      http(ctl.port(), "POST", "/api/v1/tenants", "{\"name\": \"caf\xe9\"}", ctl.admin_token());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_TRUE(r.json().is_object());
  // Still serving.
  EXPECT_EQ(ctl.call("GET", "/api/v1/tenants").status, 200);
}

TEST_F(HostileApiTest, AFieldOfTheWrongJsonTypeIsA400NamingIt) {
  auto r = ctl.call("POST", "/api/v1/tenants", {{"id", 5}, {"name", "x"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.json().at("errors")[0].at("field"), "/id");
  const Tenant t = tenant("contoso");
  for (const json& body :
       {json{{"name", json::array({"x"})}, {"logical_network_id", logical_network}},
        json{{"name", "n"}, {"logical_network_id", 7}},
        json{{"name", "n"}, {"logical_network_id", logical_network}, {"tenant_id", 3}},
        json{{"name", "n"}, {"logical_network_id", logical_network}, {"isolation", {{"a", 1}}}}}) {
    r = ctl.call("POST", "/api/v1/vm-networks", body, t.token);
    EXPECT_EQ(r.status, 400) << body.dump() << " " << r.body;
  }
}

// docs/api.md promises every bad field at once: a bad DNS server once hid a
// range outside the subnet, which the kind's own rules check.
TEST_F(HostileApiTest, ValidationNamesEveryBadFieldAtOnce) {
  const Tenant t = tenant("contoso");
  const json sub = subnet(t, network(t, "AAA"), "10.10.0.0/16");
  const auto r = ctl.call("POST", "/api/v1/ip-pools",
                          {{"vm_subnet_id", sub.at("id")},
                           {"ranges", {{{"start", "10.20.0.5"}, {"end", "10.20.0.9"}}}},
                           {"reserved", {"10.30.0.1"}},
                           {"dns", {"10.0.0.300"}}},
                          t.token);
  ASSERT_EQ(r.status, 400) << r.body;
  std::set<std::string> fields;
  const json body = r.json();
  for (const auto& e : body.at("errors")) fields.insert(e.at("field").get<std::string>());
  EXPECT_EQ(fields.size(), 4u) << r.body;
  EXPECT_TRUE(fields.contains("/ranges/0/start")) << r.body;
  EXPECT_TRUE(fields.contains("/ranges/0/end")) << r.body;
  EXPECT_TRUE(fields.contains("/reserved/0")) << r.body;
  EXPECT_TRUE(std::any_of(fields.begin(), fields.end(), [](const std::string& f) {
    return f.rfind("/dns", 0) == 0;
  })) << r.body;
  // Nothing was created.
  EXPECT_EQ(ctl.call("GET", "/api/v1/ip-pools", nullptr, t.token).json().at("items").size(), 0u);
}

TEST_F(HostileApiTest, JsonNestedDeeperThanTheLimitIsA400AndTheControllerLives) {
  const std::string deep = "{\"name\":" + std::string(300000, '[') + std::string(300000, ']') + "}";
  const auto r = http(ctl.port(), "POST", "/api/v1/tenants", deep, ctl.admin_token());
  EXPECT_EQ(r.status, 400) << r.body.substr(0, 200);
  EXPECT_NE(r.body.find("deeper than"), std::string::npos);
  EXPECT_EQ(ctl.call("GET", "/healthz").status, 200);
}

TEST_F(HostileApiTest, VmNetworkNamesAreUniquePerTenant) {
  const Tenant a = tenant("contoso");
  const Tenant b = tenant("fabrikam");
  network(a, "AAA");
  auto r = ctl.call("POST", "/api/v1/vm-networks",
                    {{"name", "AAA"}, {"logical_network_id", logical_network}}, a.token);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(r.json().at("errors")[0].at("field"), "/name");
  // Another tenant may use the name; a rename onto a taken name is a 409 too.
  network(b, "AAA");
  const json other = network(a, "BBB");
  r = ctl.call("PATCH", url("vm-networks", other), {{"name", "AAA"}}, a.token);
  EXPECT_EQ(r.status, 409) << r.body;
}

TEST_F(HostileApiTest, MetricsLabelRoutesNotPathsAndEscapeEveryValue) {
  for (int i = 0; i < 200; ++i) {
    http(ctl.port(), "GET", fmt::format("/api/v1/tenants/x/y{}", i), "", ctl.admin_token());
    http(ctl.port(), "GET", fmt::format("/random/{}", i));
    http(ctl.port(), fmt::format("VERB{}", i), "/api/v1/tenants");
  }
  http(ctl.port(), "GET", "/api/v1/%22%7D,evil=%221");
  http(ctl.port(), "GET", "/api/v1/\"},evil=\"1");
  const auto m = ctl.call("GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.body.find("evil"), std::string::npos) << m.body;
  EXPECT_EQ(m.body.find("/y1"), std::string::npos);
  EXPECT_EQ(m.body.find("/random"), std::string::npos);
  EXPECT_EQ(m.body.find("VERB"), std::string::npos);
  EXPECT_NE(m.body.find("route=\"unmatched\""), std::string::npos);
  EXPECT_NE(m.body.find("route=\"console\""), std::string::npos);
  EXPECT_NE(m.body.find("method=\"other\""), std::string::npos);
  EXPECT_LT(m.body.size(), 20000u);
}

TEST_F(HostileApiTest, TheDataDirectoryAndDatabaseAreTheControllersAlone) {
  namespace fs = std::filesystem;
  if (testing_postgresql()) GTEST_SKIP() << "SQLite's files; PostgreSQL keeps its own";
  ctl.create("tenants", {{"name", "contoso"}});  // a write: the WAL exists
  EXPECT_EQ(fs::status(dir.path()).permissions() & fs::perms::all, fs::perms::owner_all);
  for (const char* name : {"vnet.db", "vnet.db-wal", "vnet.db-shm", "admin.token"}) {
    const fs::path p = dir.path() / name;
    if (!fs::exists(p)) continue;
    EXPECT_EQ(fs::status(p).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write)
        << name;
  }
  EXPECT_TRUE(fs::exists(dir.path() / "vnet.db"));
}

}  // namespace
}  // namespace vnet::testing
