// The kinds' structs (controller/model/types.h) and their stored JSON
// (codec.h): every described field of every kind is read into its member
// and written back as it was stored.
#include <gtest/gtest.h>

#include <tuple>

#include "controller/model/codec.h"
#include "controller/model/kinds.h"
#include "controller/model/types.h"

namespace vnet::model {
namespace {

using nlohmann::json;

// A canonical stored value of each field type, as fields.cpp leaves it;
// `second` gives a different one.
json sample(const Field& f, bool second = false) {
  switch (f.type) {
    case FieldType::kString: return second ? "other" : "a name";
    case FieldType::kBool: return !second;
    case FieldType::kInteger: return second ? f.max : f.min + 1;
    case FieldType::kEnum: return second ? f.choices.back() : f.choices.front();
    case FieldType::kUuid:
      return second ? "00000000-0000-4000-8000-000000000002"
                    : "00000000-0000-4000-8000-000000000001";
    case FieldType::kIpv4: return second ? "10.0.0.2" : "10.0.0.1";
    case FieldType::kIpv4Prefix: return second ? "10.2.0.0/16" : "10.1.0.0/24";
    case FieldType::kMac: return second ? "02:00:00:00:00:0B" : "02:00:00:00:00:0A";
    case FieldType::kIpv4List: return second ? json{"10.0.0.3"} : json{"10.0.0.1", "10.0.0.2"};
    case FieldType::kSubnets:
      return json::array({{{"prefix", second ? "10.9.0.0/16" : "10.1.0.0/24"}, {"vlan", 7}}});
    case FieldType::kRanges:
      return json::array({{{"start", "10.1.0.2"}, {"end", second ? "10.1.0.200" : "10.1.0.9"}}});
    case FieldType::kInterface: return second ? "eth2" : "eth1";
    case FieldType::kNatRules:
      return json::array({{{"protocol", second ? "tcp" : "udp"},
                           {"external_port", 53},
                           {"internal_ip", "10.1.0.5"},
                           {"internal_port", 5353}}});
    case FieldType::kUuidList:
      return json{"00000000-0000-4000-8000-00000000000" + std::string(second ? "4" : "3")};
    case FieldType::kIpv4PrefixList:
      return second ? json{"0.0.0.0/0"} : json{"10.1.0.0/24", "192.168.50.0/24"};
  }
  return nullptr;
}

// Every field but created_at (the service stamps it on every kind; no
// struct holds it).
template <class S>
json every_field(const std::string& changed = "") {
  json out = json::object();
  for (const Field& f : kind(S::meta.collection).fields)
    if (f.name != "created_at") out[f.name] = sample(f, f.name == changed);
  return out;
}

template <class S>
void round_trips() {
  SCOPED_TRACE(S::meta.collection);
  const json stored = every_field<S>();
  EXPECT_EQ(encode(decode<S>(stored)), stored);
  // Each field on its own reaches its member: a second value comes back.
  for (const Field& f : kind(S::meta.collection).fields) {
    if (f.name == "created_at") continue;
    const json changed = every_field<S>(f.name);
    EXPECT_EQ(encode(decode<S>(changed)), changed) << f.name;
    EXPECT_NE(encode(decode<S>(changed)), stored) << f.name;
  }
}

TEST(TypedKinds, EveryFieldOfEveryKindIsReadAndWrittenAsStored) {
  std::apply([](auto... kind) { (round_trips<decltype(kind)>(), ...); }, AllKinds{});
}

// What describe() says of a field arrives in the Kind table whole: the
// choices split, the range, the reference, the default, the access.
TEST(TypedKinds, TheKindTablesCarryWhatTheStructsDescribe) {
  const Field* vsid = kind("vm-subnets").field("vsid");
  ASSERT_NE(vsid, nullptr);
  EXPECT_EQ(std::make_pair(vsid->min, vsid->max), std::make_pair(4096LL, 16777214LL));
  EXPECT_TRUE(vsid->admin_only && vsid->unique_column && !vsid->column);
  EXPECT_EQ(vsid->access, Access::kAssigned);
  EXPECT_EQ(kind("gateways").field("kind")->choices,
            (std::vector<std::string>{"nat", "forwarding"}));
  EXPECT_EQ(kind("vm-networks").field("translation")->default_json, "\"encap\"");
  const Field* subnet = kind("vm-nics").field("vm_subnet_id");
  EXPECT_TRUE(subnet->required && subnet->column);
  EXPECT_EQ(subnet->ref, "vm-subnets");
  EXPECT_TRUE(kind("hosts").has_state);
  EXPECT_FALSE(kind("routes").has_state);
  EXPECT_EQ(kind("ip-pools").granted_in, "external_pool_ids");
  EXPECT_EQ(kind("vm-nics").singular, "VM NIC");
  // Every kind also has the server's created_at, last.
  for (const Kind& k : kinds()) EXPECT_EQ(k.fields.back().name, "created_at") << k.collection;
}

TEST(TypedKinds, AbsentFieldsStayAbsentAndDefaultsAreKept) {
  // A NIC not placed: no host_id, interface or pa; written back without them.
  const json nic = {{"vm_subnet_id", "00000000-0000-4000-8000-000000000001"},
                    {"vm_name", "web-1"},
                    {"mac", "02:00:00:00:00:0A"},
                    {"ip", "10.1.0.4"}};
  const VmNic decoded = decode<VmNic>(nic);
  EXPECT_TRUE(decoded.host_id.empty());
  EXPECT_FALSE(decoded.pa.has_value());
  EXPECT_EQ(encode(decoded), nic);
  // A pool's empty name is its default and stays stored.
  IpPool pool;
  pool.vm_subnet_id = "00000000-0000-4000-8000-000000000001";
  pool.ranges = {{*net::Ipv4Address::parse("10.1.0.2"), *net::Ipv4Address::parse("10.1.0.9")}};
  const json written = encode(pool);
  EXPECT_EQ(written.at("name"), "");
  EXPECT_EQ(written.at("dns"), json::array());
  EXPECT_FALSE(written.contains("gateway"));
  EXPECT_FALSE(written.contains("site_id"));
}

TEST(TypedKinds, ACorruptStoredValueNamesTheKindTheFieldAndTheValue) {
  try {
    decode<VmNic>({{"vm_subnet_id", "x"}, {"mac", "zz"}});
    FAIL() << "decoded a corrupt object";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("stored VM NIC has an invalid"), std::string::npos)
        << e.what();
  }
  try {
    decode<VmSubnet>({{"vsid", 1 << 25}});
    FAIL() << "decoded a VSID over 24 bits";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("vsid 33554432"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace vnet::model
