#include "controller/model/codec.h"

#include <fmt/format.h>

#include <stdexcept>

namespace vnet::model::codec {
namespace {

const std::string& string_of(const json& j) {
  if (!j.is_string()) throw std::runtime_error("is not a string");
  return j.get_ref<const std::string&>();
}

template <class T, class Parse>
T parsed(const json& j, Parse parse) {
  auto value = parse(string_of(j));
  if (!value) throw std::runtime_error(value.error());
  return *value;
}

}  // namespace

void read(const json& j, std::string& out) { out = string_of(j); }
void read(const json& j, bool& out) {
  if (!j.is_boolean()) throw std::runtime_error("is not true or false");
  out = j.get<bool>();
}
void read(const json& j, int64_t& out) {
  if (!j.is_number_integer()) throw std::runtime_error("is not an integer");
  out = j.get<int64_t>();
}
void read(const json& j, net::Ipv4Address& out) {
  out = parsed<net::Ipv4Address>(j, net::Ipv4Address::parse);
}
void read(const json& j, net::IpPrefix& out) {
  out = parsed<net::IpPrefix>(j, net::IpPrefix::parse);
}
void read(const json& j, net::MacAddress& out) {
  out = parsed<net::MacAddress>(j, net::MacAddress::parse);
}
void read(const json& j, net::Vsid& out) {
  if (!j.is_number_integer() || j.get<int64_t>() < 0) throw std::runtime_error("is not a VSID");
  auto vsid = net::Vsid::make(j.get<uint64_t>());
  if (!vsid) throw std::runtime_error(vsid.error());
  out = *vsid;
}
void read(const json& j, Uuid& out) { out = parsed<Uuid>(j, Uuid::parse); }
void read(const json& j, SiteSubnet& out) {
  read(j.at("prefix"), out.prefix);
  if (const auto it = j.find("vlan"); it != j.end()) read(*it, out.vlan);
}
void read(const json& j, AddressRange& out) {
  read(j.at("start"), out.start);
  read(j.at("end"), out.end);
}
void read(const json& j, NatRule& out) {
  const auto protocol = policy::parse_nat_protocol(string_of(j.at("protocol")));
  if (!protocol) throw std::runtime_error("has an unknown protocol");
  out.protocol = *protocol;
  out.external_port = j.at("external_port").get<uint16_t>();
  read(j.at("internal_ip"), out.internal_ip);
  out.internal_port = j.at("internal_port").get<uint16_t>();
}

json write(const std::string& v) { return v; }
json write(bool v) { return v; }
json write(int64_t v) { return v; }
json write(net::Ipv4Address v) { return v.to_string(); }
json write(const net::IpPrefix& v) { return v.to_string(); }
json write(net::MacAddress v) { return v.to_string(); }
json write(net::Vsid v) { return v.value(); }
json write(const Uuid& v) { return v.to_string(); }
json write(const SiteSubnet& v) { return {{"prefix", write(v.prefix)}, {"vlan", v.vlan}}; }
json write(const AddressRange& v) { return {{"start", write(v.start)}, {"end", write(v.end)}}; }
json write(const NatRule& v) {
  return {{"protocol", std::string(policy::to_string(v.protocol))},
          {"external_port", v.external_port},
          {"internal_ip", write(v.internal_ip)},
          {"internal_port", v.internal_port}};
}

void corrupt(const char* singular, const char* field, const json& value, const std::exception& e) {
  throw std::runtime_error(
      fmt::format("stored {} has an invalid {} {}: {}", singular, field, value.dump(), e.what()));
}

}  // namespace vnet::model::codec
