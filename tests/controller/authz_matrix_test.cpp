// The authorization matrix, generated from the controller's kind tables:
// every collection x verb x {admin, owning tenant, other tenant, no token,
// revoked token}, and every admin-only field set and removed by a tenant.
// A new collection gets its rows from kinds(); it only needs an object in
// the fixture below (the test says so when one is missing).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "controller/model/kinds.h"
#include "tests/controller/api_fixture.h"

namespace vnet::testing {
namespace {

using nlohmann::json;

class AuthzMatrix : public ::testing::Test {
 protected:
  TempDir dir;
  Controller ctl{dir.path()};
  std::map<std::string, json> objects;  // collection -> an object (the owner's, if owned)
  std::string owner_token, other_token, revoked_token;

  void SetUp() override {
    auto make = [&](const std::string& collection, const json& body) {
      const json o = ctl.create(collection, body);
      objects.emplace(collection, o);
      return o;
    };
    const json ln = make("logical-networks", {{"name", "dc"}, {"network_virtualization", true}});
    const json site = make("sites", {{"logical_network_id", ln["id"]},
                                     {"name", "rack"},
                                     {"subnets", {{{"prefix", "192.168.1.0/24"}}}}});
    const json host = make("hosts", {{"name", "h1"},
                                     {"site_id", site["id"]},
                                     {"pa", "192.168.1.10"},
                                     {"external_interface", "ext0"}});
    const json internet =
        ctl.create("logical-networks", {{"name", "internet"}, {"network_virtualization", false}});
    const json edge = ctl.create("sites", {{"logical_network_id", internet["id"]},
                                           {"name", "edge"},
                                           {"subnets", {{{"prefix", "203.0.113.0/24"}}}}});
    const json external = ctl.create(
        "ip-pools", {{"site_id", edge["id"]},
                     {"subnet", "203.0.113.0/24"},
                     {"ranges", {{{"start", "203.0.113.10"}, {"end", "203.0.113.20"}}}}});
    const json owner = make("tenants", {{"name", "owner"}});
    const json other = ctl.create("tenants", {{"name", "other"}});
    const json token = make("tokens", {{"name", "owner"}, {"tenant_id", owner["id"]}});
    owner_token = token["token"];
    other_token = ctl.create("tokens", {{"name", "other"}, {"tenant_id", other["id"]}})["token"];
    const json revoked = ctl.create("tokens", {{"name", "revoked"}, {"tenant_id", owner["id"]}});
    revoked_token = revoked["token"];
    EXPECT_EQ(ctl.call("DELETE", "/api/v1/tokens/" + revoked["id"].get<std::string>()).status, 204);
    objects.emplace(
        "mac-pools",
        ctl.call("GET", "/api/v1/mac-pools/" + std::string(model::kDefaultMacPoolId)).json());
    const json net =
        make("vm-networks",
             {{"name", "n"}, {"logical_network_id", ln["id"]}, {"tenant_id", owner["id"]}});
    const json subnet = make(
        "vm-subnets", {{"vm_network_id", net["id"]}, {"name", "s"}, {"prefix", "10.0.0.0/24"}});
    make("ip-pools", {{"vm_subnet_id", subnet["id"]},
                      {"ranges", {{{"start", "10.0.0.10"}, {"end", "10.0.0.20"}}}}});
    make("vm-nics", {{"vm_subnet_id", subnet["id"]},
                     {"vm_name", "vm"},
                     {"host_id", host["id"]},
                     {"interface", "vnet-vm"}});
    make("gateways", {{"name", "internet"},
                      {"vm_network_id", net["id"]},
                      {"kind", "nat"},
                      {"external_pool_id", external["id"]},
                      {"host_id", host["id"]}});
    make("routes",
         {{"vm_network_id", net["id"]}, {"prefix", "172.16.0.0/16"}, {"next_hop", "10.0.0.254"}});
    make("port-profiles", {{"name", "appliance"}, {"allowed_addresses", {"172.16.0.0/16"}}});
    make("static-records", {{"vsid", subnet["vsid"]},
                            {"ca", "10.0.0.200"},
                            {"mac", "02:00:00:00:02:00"},
                            {"pa", "192.168.1.99"}});
  }

  std::string url(const model::Kind& kind) { return "/api/v1/" + kind.collection; }
  std::string url(const model::Kind& kind, const json& o) {
    return url(kind) + "/" + o.at("id").get<std::string>();
  }
  // The object's own fields, as a PUT body that changes nothing.
  static json fields_of(const model::Kind& kind, const json& o) {
    json body = json::object();
    for (const auto& f : kind.fields) {
      if (o.contains(f.name)) body[f.name] = o[f.name];
    }
    return body;
  }
  int status(const std::string& method, const std::string& target, const json& body,
             const std::string& token, std::map<std::string, std::string> headers = {}) {
    // "" token: none at all.
    const auto r = http(ctl.port(), method, target, body.is_null() ? "" : body.dump(), token,
                        std::move(headers));
    return r.status;
  }
};

TEST_F(AuthzMatrix, EveryCollectionVerbAndPrincipal) {
  const std::string admin = ctl.admin_token();
  for (const model::Kind& kind : model::kinds()) {
    SCOPED_TRACE(kind.collection);
    ASSERT_TRUE(objects.contains(kind.collection))
        << "add an object of /" << kind.collection << " to the matrix fixture";
    const json& o = objects.at(kind.collection);
    const std::string item = url(kind, o);
    const json same = fields_of(kind, o);
    const std::map<std::string, std::string> wrong_etag = {{"If-Match", "\"not-it\""}};
    // Tenants reach their own objects of tenant collections; the admin
    // reaches everything; an admin collection is 403 to every tenant, but
    // for reading one that tenants read (port profiles); an object of
    // another tenant is 404 (ids leak nothing).
    const bool tenant_ok = !kind.admin_only;
    const bool tenant_reads = tenant_ok || kind.tenants_read;
    struct Principal {
      std::string name, token;
      bool authenticated, sees_object, may_use;
    };
    const std::vector<Principal> who = {
        {"admin", admin, true, true, true},
        {"owning tenant", owner_token, true, tenant_reads, tenant_ok},
        {"other tenant", other_token, true, kind.tenants_read, tenant_ok},
        {"no token", "", false, false, false},
        {"revoked token", revoked_token, false, false, false},
    };
    for (const auto& p : who) {
      SCOPED_TRACE(p.name);
      auto expect = [&](int allowed, bool read = false) {
        if (!p.authenticated) return 401;
        if (kind.admin_only && p.name != "admin" && !(read && kind.tenants_read)) return 403;
        return allowed;
      };
      auto expect_item = [&](int allowed, bool read = false) {
        const int e = expect(allowed, read);
        return e == allowed && !p.sees_object ? 404 : e;
      };
      EXPECT_EQ(status("GET", url(kind), nullptr, p.token), expect(200, true));
      EXPECT_EQ(status("POST", url(kind), json::object(), p.token), expect(400));
      EXPECT_EQ(status("GET", item, nullptr, p.token), expect_item(200, true));
      EXPECT_EQ(status("PATCH", item, json::object(), p.token), expect_item(200));
      EXPECT_EQ(status("PUT", item, same, p.token), expect_item(200));
      EXPECT_EQ(status("DELETE", item, nullptr, p.token, wrong_etag), expect_item(412));
      // A list shows the object to those who see it, and only to them.
      if (expect(200, true) == 200) {
        const auto list = http(ctl.port(), "GET", url(kind) + "?limit=1000", "", p.token).json();
        bool listed = false;
        for (const auto& x : list["items"]) listed = listed || x["id"] == o["id"];
        EXPECT_EQ(listed, p.sees_object);
      }
    }
  }
  // The object is still there: nothing above changed or deleted anything.
  for (const auto& [collection, o] : objects) {
    const auto now = ctl.call("GET", "/api/v1/" + collection + "/" + o["id"].get<std::string>());
    EXPECT_EQ(now.status, 200) << collection;
  }
  // The hosts' actions are the administrator's.
  const std::string host = "/api/v1/hosts/" + objects.at("hosts")["id"].get<std::string>();
  EXPECT_EQ(status("GET", host + "/policy", nullptr, owner_token), 403);
  EXPECT_EQ(status("POST", host + "/enrollment", nullptr, owner_token), 403);
  EXPECT_EQ(status("POST", host + "/enrollment", nullptr, ""), 401);
  EXPECT_EQ(status("GET", host + "/policy", nullptr, admin), 200);
}

TEST_F(AuthzMatrix, EveryAdminOnlyFieldIsRefusedToATenantToSetAndToRemove) {
  size_t checked = 0;
  for (const model::Kind& kind : model::kinds()) {
    if (kind.admin_only) continue;
    const json& o = objects.at(kind.collection);
    for (const model::Field& f : kind.fields) {
      if (!f.admin_only) continue;
      SCOPED_TRACE(kind.collection + "." + f.name);
      ++checked;
      const std::string item = url(kind, o);
      // Set to something else, and removed: refused, and nothing changes.
      const json other_value = f.type == model::FieldType::kUuid
                                   ? json("00000000-0000-4000-8000-0000000000ff")
                               : f.type == model::FieldType::kInteger   ? json(f.min + 1)
                               : f.type == model::FieldType::kInterface ? json("vnet-other")
                                                                        : json("10.0.0.99");
      for (const json& patch : {json{{f.name, other_value}}, json{{f.name, nullptr}}}) {
        const auto r = http(ctl.port(), "PATCH", item, patch.dump(), owner_token);
        EXPECT_TRUE(r.status == 403 || r.status == 400) << patch.dump() << " " << r.body;
        const json now = ctl.call("GET", item).json();
        EXPECT_EQ(now.contains(f.name), o.contains(f.name)) << patch.dump();
        if (o.contains(f.name)) {
          EXPECT_EQ(now[f.name], o[f.name]) << patch.dump();
        }
      }
      // A tenant's create naming it is a 403 on that field.
      json body = fields_of(kind, o);
      body[f.name] = o.contains(f.name) ? o[f.name] : other_value;
      const auto r = http(ctl.port(), "POST", url(kind), body.dump(), owner_token);
      EXPECT_EQ(r.status, 403) << r.body;
    }
  }
  EXPECT_GE(checked, 6u);  // site_id, subnet, vsid, host_id, interface, gateway host_id
}

}  // namespace
}  // namespace vnet::testing
