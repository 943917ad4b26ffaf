#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "shared/policy/delta.h"
#include "shared/policy/json.h"
#include "shared/testing/fixtures.h"

namespace vnet::policy {
namespace {

using nlohmann::json;
using testing::ipv4;
using testing::mac;
using testing::seed_host1_policy;

HostPolicy canonical_seed() {
  HostPolicy p = seed_host1_policy();
  canonicalize(p);
  return p;
}

TEST(PolicyDelta, IdenticalContentGivesAnEmptyDelta) {
  HostPolicy a = canonical_seed();
  HostPolicy b = a;
  b.generation = a.generation + 1;
  const PolicyDelta d = diff(a, b);
  EXPECT_TRUE(d.empty());
  EXPECT_TRUE(same_content(a, b));
  EXPECT_EQ(d.from, a.generation);
  EXPECT_EQ(d.generation, b.generation);
}

TEST(PolicyDelta, AMovedRecordIsOneSetAndNothingElse) {
  const HostPolicy a = canonical_seed();
  HostPolicy b = a;
  b.generation++;
  // Blue 10.0.0.7 moves from host 2 to a third host.
  for (auto& r : b.lookup_records)
    if (r.vsid.value() == 5001 && r.ca == ipv4("10.0.0.7")) r.pa = ipv4("192.168.3.30");
  const PolicyDelta d = diff(a, b);
  ASSERT_EQ(d.lookup_records.set.size(), 1u);
  EXPECT_EQ(d.lookup_records.set[0].pa, ipv4("192.168.3.30"));
  EXPECT_TRUE(d.lookup_records.remove.empty());
  EXPECT_TRUE(d.ports.empty());
  EXPECT_FALSE(d.provider);
  EXPECT_EQ(d.size(), 1u);

  auto applied = apply(a, d);
  ASSERT_TRUE(applied) << applied.error().to_string();
  EXPECT_EQ(*applied, b);
}

TEST(PolicyDelta, RemovalsAdditionsAndProviderRoundTripThroughJson) {
  const HostPolicy a = canonical_seed();
  HostPolicy b = a;
  b.generation = 9;
  b.ports.pop_back();  // the Red port leaves the host
  std::erase_if(b.lookup_records, [](const LookupRecord& r) { return r.vsid.value() == 6001; });
  std::erase_if(b.customer_routes, [](const CustomerRoute& r) { return r.vsid.value() == 6001; });
  b.lookup_records.push_back({testing::vsid(5001), ipv4("10.0.0.9"), mac("00:1D:D8:B7:1C:09"),
                              ipv4("192.168.1.10"), LookupRule::kEncap});
  b.provider.routes.push_back({testing::prefix("10.99.0.0/16"), ipv4("192.168.1.2")});
  canonicalize(b);

  const PolicyDelta d = diff(a, b);
  EXPECT_EQ(d.ports.remove.size(), 1u);
  EXPECT_EQ(d.lookup_records.remove.size(), 2u);
  EXPECT_EQ(d.lookup_records.set.size(), 1u);
  EXPECT_EQ(d.customer_routes.remove.size(), 1u);
  ASSERT_TRUE(d.provider);

  const json wire = to_json(d);
  EXPECT_EQ(wire.at("from"), a.generation);
  EXPECT_EQ(wire.at("generation"), 9);
  EXPECT_EQ(wire.at("lookup_records").at("set")[0].at("ca"), "10.0.0.9");
  auto parsed = delta_from_json(json::parse(wire.dump()));
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  EXPECT_EQ(*parsed, d);
  auto applied = apply(a, *parsed);
  ASSERT_TRUE(applied) << applied.error().to_string();
  EXPECT_EQ(*applied, b);
}

TEST(PolicyDelta, RefusesTheWrongBaseGeneration) {
  const HostPolicy a = canonical_seed();
  HostPolicy b = a;
  b.generation = a.generation + 1;
  b.ports.pop_back();
  PolicyDelta d = diff(a, b);
  HostPolicy stale = a;
  stale.generation = a.generation - 1;
  auto r = apply(stale, d);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().path, "/from");
}

TEST(PolicyDelta, RefusesRemovingWhatIsNotThere) {
  const HostPolicy a = canonical_seed();
  HostPolicy b = a;
  b.generation++;
  b.ports.pop_back();
  PolicyDelta d = diff(a, b);
  d.ports.remove[0].mtu = 9000;  // not the element the receiver holds
  auto r = apply(a, d);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().path, "/ports");
}

TEST(PolicyDelta, RefusesAResultThatDoesNotValidate) {
  const HostPolicy a = canonical_seed();
  PolicyDelta d;
  d.host_id = a.host_id;
  d.from = a.generation;
  d.generation = a.generation + 1;
  // A second record with a MAC already used in the VSID.
  d.lookup_records.set.push_back({testing::vsid(5001), ipv4("10.0.0.99"), a.lookup_records[0].mac,
                                  ipv4("192.168.1.10"), LookupRule::kEncap});
  auto r = apply(a, d);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().path.find("/lookup_records"), std::string::npos) << r.error().to_string();
}

TEST(PolicyDelta, JsonReaderNamesTheBadField) {
  json j = to_json(diff(canonical_seed(), canonical_seed()));
  j["generation"] = 1;
  j["from"] = 3;
  EXPECT_EQ(delta_from_json(j).error().path, "/generation");
  j = to_json(diff(canonical_seed(), canonical_seed()));
  j["generation"] = 4;
  j["ports"]["set"] = json::array({json{{"nic_id", "x"}}});
  EXPECT_EQ(delta_from_json(j).error().path, "/ports/set/0/nic_id");
}

}  // namespace
}  // namespace vnet::policy
