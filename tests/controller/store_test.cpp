// The store and the service without HTTP: migrations, invariants in the
// database itself, and allocation under concurrency.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "controller/alloc/allocators.h"
#include "controller/model/service.h"
#include "controller/store/allocations.h"
#include "controller/store/migrations.h"
#include "controller/store/objects.h"
#include "controller/store/postgresql.h"
#include "controller/store/store.h"
#include "tests/controller/api_fixture.h"

namespace vnet::testing {
namespace {

using model::Principal;
using model::Role;
using nlohmann::json;

const Principal kAdmin{Role::kAdmin, "", ""};

// The postgresql.* copies of these tests run on PostgreSQL, not on a SQLite
// file beside them: a wrong switch would pass every test twice on SQLite.
TEST(StoreEngine, TheTestsRunOnTheEngineTheyAreGiven) {
  TempDir dir;
  store::Store store(test_store_url(dir.path()));
  EXPECT_EQ(store.engine(),
            testing_postgresql() ? store::Engine::kPostgresql : store::Engine::kSqlite);
  EXPECT_EQ(std::filesystem::exists(dir.path() / "vnet.db"), !testing_postgresql());
  const auto v = store.read([](store::Database& db) {
    auto s = db.prepare(db.engine() == store::Engine::kPostgresql ? "SELECT version()"
                                                                  : "SELECT sqlite_version()");
    s.step();
    return s.column_text(0);
  });
  EXPECT_NE(v.find(testing_postgresql() ? "PostgreSQL 15" : "3."), std::string::npos) << v;
}

// `?` and `?N` become PostgreSQL's `$N`, never inside literals or comments.
TEST(StoreEngine, PlaceholdersForPostgresql) {
  EXPECT_EQ(store::postgres_placeholders("SELECT a FROM t WHERE b = ? AND c = ?"),
            "SELECT a FROM t WHERE b = $1 AND c = $2");
  EXPECT_EQ(store::postgres_placeholders("SELECT ?1, ?2 WHERE x = ?1"),
            "SELECT $1, $2 WHERE x = $1");
  EXPECT_EQ(store::postgres_placeholders("SELECT '?', \"a?\" -- why?\nFROM t WHERE x = ?"),
            "SELECT '?', \"a?\" -- why?\nFROM t WHERE x = $1");
  EXPECT_EQ(store::redact_url("postgresql://vnet:s3cret@db:5432/vnet?sslmode=require"),
            "postgresql://vnet:***@db:5432/vnet?sslmode=require");
  EXPECT_EQ(store::redact_url("postgresql://db/vnet?user=vnet&password=s3cret&x=1"),
            "postgresql://db/vnet?user=vnet&password=***&x=1");
}

TEST(Migrations, FromEmptyToTheLatestAndRecorded) {
  TempDir dir;
  auto owned = store::open_database(test_store_url(dir.path()));
  store::Database& db = *owned;
  EXPECT_EQ(store::schema_version(db), 0);
  const int applied = store::migrate(db);
  EXPECT_EQ(applied, static_cast<int>(store::builtin_migrations().size()));
  EXPECT_EQ(store::schema_version(db), store::builtin_migrations().back().version);
  auto s = db.prepare("SELECT version, name FROM schema_migrations ORDER BY version");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.column_int(0), 1);
  EXPECT_EQ(s.column_text(1), "initial");
  EXPECT_EQ(store::migrate(db), 0);  // idempotent
  // The default MAC pool exists from the start.
  auto pool = db.prepare("SELECT body FROM mac_pools");
  ASSERT_TRUE(pool.step());
  EXPECT_EQ(json::parse(pool.column_text(0)).at("start"), "00:1D:D8:B7:1C:00");
}

TEST(Migrations, FromAnEarlierVersionAppliesOnlyTheNewOnes) {
  TempDir dir;
  auto owned = store::open_database(test_store_url(dir.path()));
  store::Database& db = *owned;
  std::vector<store::Migration> v1 = {{1, "one", "CREATE TABLE a (x INTEGER);"}};
  std::vector<store::Migration> v2 = v1;
  v2.push_back({2, "two", "ALTER TABLE a ADD COLUMN y TEXT; INSERT INTO a VALUES (1, 'b');"});
  EXPECT_EQ(store::migrate(db, v1), 1);
  EXPECT_EQ(store::migrate(db, v2), 1);
  EXPECT_EQ(store::schema_version(db), 2);
  auto s = db.prepare("SELECT y FROM a");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.column_text(0), "b");
}

TEST(Migrations, AFailingMigrationChangesNothing) {
  TempDir dir;
  auto owned = store::open_database(test_store_url(dir.path()));
  store::Database& db = *owned;
  std::vector<store::Migration> bad = {
      {1, "one", "CREATE TABLE a (x INTEGER);"},
      {2, "broken", "CREATE TABLE b (y INTEGER); SELECT * FROM nowhere;"}};
  try {
    store::migrate(db, bad);
    FAIL() << "a broken migration applied";
  } catch (const store::StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("migration 0002_broken failed"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(store::schema_version(db), 1);
  EXPECT_THROW(db.exec("SELECT * FROM b"), store::StoreError);  // rolled back whole
}

TEST(Migrations, ADatabaseNewerThanTheBinaryIsRefused) {
  TempDir dir;
  auto owned = store::open_database(test_store_url(dir.path()));
  store::Database& db = *owned;
  std::vector<store::Migration> newer = {{1, "one", "SELECT 1;"}, {2, "two", "SELECT 1;"}};
  store::migrate(db, newer);
  try {
    store::migrate(db, {{1, "one", "SELECT 1;"}});
    FAIL() << "a newer database was accepted";
  } catch (const store::StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 2, written by a newer vnet-controller"),
              std::string::npos)
        << e.what();
  }
}

TEST(StoreInvariants, TheDatabaseItselfRefusesDuplicates) {
  TempDir dir;
  store::Store store(test_store_url(dir.path()));
  store.write([](store::Database& db) {
    db.exec("INSERT INTO ip_allocations (scope, address, owner_id) VALUES ('subnet:x', 1, 'a')");
  });
  EXPECT_THROW(store.write([](store::Database& db) {
    db.exec("INSERT INTO ip_allocations (scope, address, owner_id) VALUES ('subnet:x', 1, 'b')");
  }),
               store::StoreError);
  // A VSID out of the allocatable range, and a dangling reference.
  EXPECT_THROW(store.write([](store::Database& db) {
    db.exec(
        "INSERT INTO tenants VALUES ('t', 't', 'e', '{}');"
        "INSERT INTO logical_networks VALUES ('l', 'l', 'e', '{}');"
        "INSERT INTO vm_networks VALUES ('n', 't', 'l', 'r', 'e', '{}');"
        "INSERT INTO vm_subnets VALUES ('s', 't', 'n', 4095, 'e', '{}')");
  }),
               store::StoreError);
  EXPECT_THROW(store.write([](store::Database& db) {
    db.exec("INSERT INTO vm_nics VALUES ('x', 't', 'missing', NULL, 'e', '{}')");
  }),
               store::StoreError);
}

// The object tables' repository: what the model asks for, in creation
// order, and never a name that is not an identifier spliced into SQL.
TEST(Repositories, ObjectsSelectInCreationOrderAndRefuseNamesThatAreNotIdentifiers) {
  TempDir dir;
  store::Store store(test_store_url(dir.path()));
  store.write([](store::Database& db) {
    store::Objects tenants(db, "tenants", false);
    for (const char* id : {"t3", "t1", "t2"}) {
      tenants.insert({.rowid = 0, .id = id, .tenant_id = "", .etag = "e", .body = "{}"},
                     {{"name", std::string("name-") + id}});
    }
    store::Objects networks(db, "logical_networks", false);
    networks.insert({.rowid = 0, .id = "l", .tenant_id = "", .etag = "e", .body = "{}"},
                    {{"name", std::string("l")}});
    store::Objects vm_networks(db, "vm_networks", true);
    for (const char* id : {"n1", "n2", "n3"}) {
      vm_networks.insert({.rowid = 0,
                          .id = id,
                          .tenant_id = id == std::string("n3") ? "t2" : "t1",
                          .etag = "e",
                          .body = fmt::format(R"({{"name":"{}"}})", id)},
                         {{"tenant_id", std::string(id == std::string("n3") ? "t2" : "t1")},
                          {"logical_network_id", std::string("l")},
                          {"rdid", std::string("r-") + id}});
    }
  });
  store.read([](store::Database& db) {
    store::Objects tenants(db, "tenants", false);
    auto ids = [](const std::vector<store::ObjectRow>& rows) {
      std::vector<std::string> out;
      for (const auto& r : rows) out.push_back(r.id);
      return out;
    };
    EXPECT_EQ(ids(tenants.where({})), (std::vector<std::string>{"t3", "t1", "t2"}));
    EXPECT_EQ(ids(tenants.where({.except_id = "t1", .limit = 1})), std::vector<std::string>{"t3"});
    EXPECT_EQ(ids(tenants.where({.column = "name", .value = std::string("name-t2")})),
              std::vector<std::string>{"t2"});
    EXPECT_EQ(tenants.count(), 3);
    store::Objects vm_networks(db, "vm_networks", true);
    const auto n3 = vm_networks.get("n3");
    ASSERT_TRUE(n3);
    EXPECT_EQ(n3->tenant_id, "t2");
    EXPECT_EQ(n3->body, R"({"name":"n3"})");
    EXPECT_FALSE(vm_networks.get("n4"));
    EXPECT_EQ(vm_networks.count_by("tenant_id"),
              (std::map<std::string, int64_t>{{"t1", 2}, {"t2", 1}}));
    EXPECT_EQ(vm_networks.distinct("logical_network_id", "tenant_id", std::string("t1")),
              std::vector<std::string>{"l"});
    // A page after the first row, newest first, and stopping when told.
    std::vector<std::string> seen;
    vm_networks.scan({.equal = {{"tenant_id", std::string("t1")}}}, [&](store::ObjectRow&& r) {
      seen.push_back(r.id);
      return true;
    });
    EXPECT_EQ(seen, (std::vector<std::string>{"n1", "n2"}));
    seen.clear();
    const int64_t first = vm_networks.get("n1")->rowid;
    vm_networks.scan({.equal = {}, .after = first + 100, .descending = true},
                     [&](store::ObjectRow&& r) {
                       seen.push_back(r.id);
                       return seen.size() < 2;
                     });
    EXPECT_EQ(seen, (std::vector<std::string>{"n3", "n2"}));
    // Names come from the model's kinds, never from a request; still, one
    // that is not an identifier is refused before any SQL is made of it.
    EXPECT_THROW(store::Objects(db, "tenants; DROP TABLE tenants", false), std::logic_error);
    EXPECT_THROW(tenants.where({.column = "name = name OR 1", .value = std::string("x")}),
                 std::logic_error);
    EXPECT_THROW(tenants.count_by("1name"), std::logic_error);
    EXPECT_EQ(tenants.count(), 3);
  });
}

// Provider addresses are freed by their scope's prefix; a NIC's customer
// address stays.
TEST(Repositories, FreeingOneScopesAddressesKeepsTheOthers) {
  TempDir dir;
  store::Store store(test_store_url(dir.path()));
  store.write([](store::Database& db) {
    store::Allocations a(db);
    a.take_address("ln:x", 10, "", "nic");
    a.take_address("subnet:y", 11, "", "nic");
    a.take_address("ln:x", 12, "", "other");
    a.take_mac("given", 0x02, "nic");
    EXPECT_EQ(a.address_owner("ln:x", 10), "nic");
    EXPECT_EQ(a.mac_owner("given", 0x02), "nic");
    EXPECT_THROW(a.free_addresses("nic", "ln%"), std::logic_error);
    a.free_addresses("nic", "ln:");
    EXPECT_FALSE(a.address_owner("ln:x", 10));
    EXPECT_EQ(a.address_owner("subnet:y", 11), "nic");
    EXPECT_EQ(a.address_owner("ln:x", 12), "other");
    std::vector<uint64_t> taken;
    a.taken(store::Allocations::Space::kAddresses, "ln:x")(0, 100, [&](uint64_t v) {
      taken.push_back(v);
      return true;
    });
    EXPECT_EQ(taken, std::vector<uint64_t>{12});
    a.free_macs("nic");
    EXPECT_FALSE(a.mac_owner("given", 0x02));
  });
}

// Each write returns the sequence the change sink gave its own changes
// (what ?wait=realized waits for), under concurrent writers too; a write
// that changed nothing returns 0.
TEST(Repositories, WritesReturnTheSequenceOfTheirOwnChanges) {
  TempDir dir;
  store::Store store(test_store_url(dir.path()));
  model::Service service(store);
  std::mutex mutex;
  std::map<uint64_t, std::vector<std::string>> given;  // sequence -> ids changed
  uint64_t next = 100;
  service.set_change_sink([&](std::vector<model::Change> changes) {
    std::lock_guard lock(mutex);
    const uint64_t sequence = next += 7;
    for (const auto& c : changes) given[sequence].push_back(c.id);
    return sequence;
  });
  std::vector<std::thread> threads;
  std::vector<std::pair<std::string, uint64_t>> written(40);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const auto w =
            service.create(kAdmin, model::kind("tenants"), {{"name", fmt::format("t{}-{}", t, i)}});
        written[t * 10 + i] = {w.object.at("id"), w.sequence};
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<uint64_t> sequences;
  for (const auto& [id, sequence] : written) {
    ASSERT_TRUE(given.contains(sequence)) << id;
    EXPECT_EQ(given[sequence], std::vector<std::string>{id});
    sequences.insert(sequence);
  }
  EXPECT_EQ(sequences.size(), 40u);
  const std::string id = written.front().first;
  const json body = {{"name", "renamed"}};
  const auto patched = service.patch(kAdmin, model::kind("tenants"), id, body, std::nullopt);
  EXPECT_EQ(given[patched.sequence], std::vector<std::string>{id});
  const auto same = service.put(kAdmin, model::kind("tenants"), id, body, std::nullopt);
  EXPECT_EQ(same.sequence, 0u);  // nothing changed
  EXPECT_FALSE(same.created);
  const uint64_t removed = service.remove(kAdmin, model::kind("tenants"), id, std::nullopt);
  EXPECT_EQ(given[removed], std::vector<std::string>{id});
}

TEST(Allocators, FirstFreeSkipsTakenAndStopsAtTheEnd) {
  using alloc::first_free;
  EXPECT_EQ(first_free({{10, 12}}, {}), 10u);
  EXPECT_EQ(first_free({{10, 12}}, {10, 11}), 12u);
  EXPECT_EQ(first_free({{10, 12}}, {10, 11, 12}), std::nullopt);
  EXPECT_EQ(first_free({{10, 12}, {20, 20}}, {10, 11, 12}), 20u);
  EXPECT_EQ(first_free({{10, 12}}, {11}), 10u);
  EXPECT_EQ(first_free({{10, 12}}, {9, 10, 13}), 11u);
  EXPECT_EQ(first_free({{5, 4}}, {}), std::nullopt);
  EXPECT_EQ(first_free({{20, 20}, {10, 12}}, {}), 10u);  // ranges in any order: lowest first
}

TEST(Allocators, ExcludedValuesAndALowerBoundAndStoppingAtTheFirstGap) {
  const std::set<uint64_t> taken = {10, 11, 13, 14, 15};
  int visited = 0;
  auto stream = [&](uint64_t first, uint64_t last, auto&& visit) {
    for (auto it = taken.lower_bound(first); it != taken.end() && *it <= last; ++it) {
      ++visited;
      if (!visit(*it)) return;
    }
  };
  EXPECT_EQ(alloc::first_free({{10, 20}}, {}, 0, stream), 12u);
  EXPECT_EQ(visited, 3);  // 10, 11, then 13 shows the gap: 14 and 15 are never read
  EXPECT_EQ(alloc::first_free({{10, 20}}, {12}, 0, stream), 16u);  // 12 excluded (a gateway)
  EXPECT_EQ(alloc::first_free({{10, 20}}, {}, 13, stream), 16u);   // from a lower bound
  EXPECT_EQ(alloc::first_free({{10, 20}}, {}, 21, stream), std::nullopt);
  EXPECT_EQ(alloc::first_free({{10, 11}, {13, 16}}, {16}, 0, stream), std::nullopt);
}

// Several threads create NICs in one pool at once: every address handed out
// is different, the pool's size is exactly how many succeed, the rest 409.
TEST(Concurrency, ParallelNicCreatesNeverShareAnAddressOrMac) {
  TempDir dir;
  store::Store store(test_store_url(dir.path()));
  model::Service service(store);
  const auto& k = [](const char* c) -> const model::Kind& { return model::kind(c); };
  const std::string tenant =
      service.create(kAdmin, k("tenants"), {{"name", "contoso"}}).object.at("id");
  const std::string ln =
      service.create(kAdmin, k("logical-networks"), {{"name", "dc"}}).object.at("id");
  const std::string net =
      service
          .create(kAdmin, k("vm-networks"),
                  {{"name", "AAA"}, {"tenant_id", tenant}, {"logical_network_id", ln}})
          .object.at("id");
  const std::string subnet =
      service
          .create(kAdmin, k("vm-subnets"),
                  {{"vm_network_id", net}, {"name", "s"}, {"prefix", "10.0.0.0/24"}})
          .object.at("id");
  service.create(
      kAdmin, k("ip-pools"),
      {{"vm_subnet_id", subnet}, {"ranges", {{{"start", "10.0.0.10"}, {"end", "10.0.0.59"}}}}});

  constexpr int kThreads = 4;
  constexpr int kPerThread = 20;  // 80 tries for 50 addresses
  std::mutex mutex;
  std::vector<std::string> ips, macs;
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        try {
          const json nic =
              service.create(kAdmin, k("vm-nics"), {{"vm_subnet_id", subnet}, {"vm_name", "v"}})
                  .object;
          std::lock_guard lock(mutex);
          ips.push_back(nic.at("ip"));
          macs.push_back(nic.at("mac"));
        } catch (const model::Problem& p) {
          EXPECT_EQ(p.status(), 409) << p.what();
          ++conflicts;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ips.size(), 50u);
  EXPECT_EQ(conflicts.load(), kThreads * kPerThread - 50);
  EXPECT_EQ(std::set<std::string>(ips.begin(), ips.end()).size(), ips.size());
  EXPECT_EQ(std::set<std::string>(macs.begin(), macs.end()).size(), macs.size());
  // And the database agrees.
  const auto rows = store.read([](store::Database& db) {
    auto s = db.prepare(
        "SELECT COUNT(*), COUNT(DISTINCT address) FROM ip_allocations WHERE scope LIKE 'subnet:%'");
    s.step();
    return std::pair(s.column_int(0), s.column_int(1));
  });
  EXPECT_EQ(rows.first, 50);
  EXPECT_EQ(rows.second, 50);
}

TEST(Concurrency, ParallelSubnetsGetDistinctVsids) {
  TempDir dir;
  store::Store store(test_store_url(dir.path()));
  model::Service service(store);
  const std::string tenant =
      service.create(kAdmin, model::kind("tenants"), {{"name", "t"}}).object.at("id");
  const std::string ln =
      service.create(kAdmin, model::kind("logical-networks"), {{"name", "dc"}}).object.at("id");
  std::mutex mutex;
  std::vector<int> vsids;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string net = service
                                    .create(kAdmin, model::kind("vm-networks"),
                                            {{"name", fmt::format("n{}-{}", t, i)},
                                             {"tenant_id", tenant},
                                             {"logical_network_id", ln}})
                                    .object.at("id");
        const int vsid = service
                             .create(kAdmin, model::kind("vm-subnets"),
                                     {{"vm_network_id", net},
                                      {"name", "s"},
                                      {"prefix", fmt::format("10.{}.{}.0/24", t, i)}})
                             .object.at("vsid");
        std::lock_guard lock(mutex);
        vsids.push_back(vsid);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<int> distinct(vsids.begin(), vsids.end());
  EXPECT_EQ(distinct.size(), 40u);
  EXPECT_EQ(*distinct.begin(), 4096);
  EXPECT_EQ(*distinct.rbegin(), 4096 + 39);  // the lowest free, densely
}

// Tenants stored before grants existed (issue 16) keep what they use: at
// the next start each is granted its VM networks' logical networks and its
// gateways' external pools; a tenant stored with grants is left alone.
TEST(Restart, TenantsFromBeforeGrantsAreGrantedWhatTheyUse) {
  TempDir dir;
  std::string old_tenant, new_tenant, ln;
  {
    Controller ctl(dir.path());
    old_tenant = ctl.create("tenants", {{"name", "contoso"}}).at("id");
    new_tenant = ctl.create("tenants", {{"name", "fabrikam"}}).at("id");
    ln = ctl.create("logical-networks", {{"name", "dc"}}).at("id");
    for (const auto& t : {old_tenant, new_tenant}) {
      ctl.create("vm-networks", {{"name", "AAA"}, {"tenant_id", t}, {"logical_network_id", ln}});
    }
  }
  {
    // What a database written before issue 16 holds: no grant fields.
    store::Store store(test_store_url(dir.path()));
    store.write([&](store::Database& db) {
      auto s = db.prepare("UPDATE tenants SET body = ? WHERE id = ?");
      s.bind(1, std::string(R"({"name":"contoso"})")).bind(2, old_tenant).run();
    });
  }
  Controller again(dir.path());
  const json upgraded = again.call("GET", "/api/v1/tenants/" + old_tenant).json();
  EXPECT_EQ(upgraded.at("logical_network_ids"), json::array({ln})) << upgraded.dump();
  EXPECT_EQ(upgraded.at("external_pool_ids"), json::array()) << upgraded.dump();
  const json untouched = again.call("GET", "/api/v1/tenants/" + new_tenant).json();
  EXPECT_EQ(untouched.at("logical_network_ids"), json::array()) << untouched.dump();
}

TEST(Restart, EveryObjectSurvivesARestart) {
  TempDir dir;
  std::string nic_id, ip;
  {
    Controller ctl(dir.path());
    const std::string tenant = ctl.create("tenants", {{"name", "contoso"}}).at("id");
    const std::string ln = ctl.create("logical-networks", {{"name", "dc"}}).at("id");
    const std::string net =
        ctl.create("vm-networks",
                   {{"name", "AAA"}, {"tenant_id", tenant}, {"logical_network_id", ln}})
            .at("id");
    const std::string subnet =
        ctl.create("vm-subnets",
                   {{"vm_network_id", net}, {"name", "s"}, {"prefix", "10.10.0.0/16"}})
            .at("id");
    ctl.create("ip-pools", {{"vm_subnet_id", subnet},
                            {"ranges", {{{"start", "10.10.1.100"}, {"end", "10.10.1.130"}}}}});
    const json nic = ctl.create("vm-nics", {{"vm_subnet_id", subnet}, {"vm_name", "web"}});
    nic_id = nic.at("id");
    ip = nic.at("ip");
  }
  Controller again(dir.path());
  const auto r = again.call("GET", "/api/v1/vm-nics/" + nic_id);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("ip"), ip);
  const auto counts = again.service().counts();
  for (const char* c :
       {"tenants", "logical-networks", "vm-networks", "vm-subnets", "ip-pools", "vm-nics"}) {
    EXPECT_EQ(counts.at(c), 1) << c;
  }
  // And allocation continues where it was: no address handed out twice.
  const std::string subnet = r.json().at("vm_subnet_id");
  EXPECT_EQ(again.create("vm-nics", {{"vm_subnet_id", subnet}, {"vm_name", "web2"}}).at("ip"),
            "10.10.1.101");
}

}  // namespace
}  // namespace vnet::testing
