// The stored JSON of an object (its fields, canonical as fields.cpp left
// them) to the kind's struct (types.h) and back, walking the struct's
// describe(). What the database holds was validated when it was written,
// so a value that does not read is a corrupt database: the error names the
// kind, the field and the value.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "controller/model/types.h"

namespace vnet::model::codec {

using nlohmann::json;

void read(const json& j, std::string& out);
void read(const json& j, bool& out);
void read(const json& j, int64_t& out);
void read(const json& j, net::Ipv4Address& out);
void read(const json& j, net::IpPrefix& out);
void read(const json& j, net::MacAddress& out);
void read(const json& j, net::Vsid& out);
void read(const json& j, Uuid& out);
void read(const json& j, SiteSubnet& out);
void read(const json& j, AddressRange& out);
void read(const json& j, NatRule& out);
template <class T>
void read(const json& j, std::vector<T>& out) {
  if (!j.is_array()) throw std::runtime_error("is not an array");
  out.clear();
  out.reserve(j.size());
  for (const auto& item : j) read(item, out.emplace_back());
}
template <class T>
void read(const json& j, std::optional<T>& out) {
  read(j, out.emplace());
}

json write(const std::string& v);
json write(bool v);
json write(int64_t v);
json write(net::Ipv4Address v);
json write(const net::IpPrefix& v);
json write(net::MacAddress v);
json write(net::Vsid v);
json write(const Uuid& v);
json write(const SiteSubnet& v);
json write(const AddressRange& v);
json write(const NatRule& v);
template <class T>
json write(const std::vector<T>& v) {
  json out = json::array();
  for (const auto& item : v) out.push_back(write(item));
  return out;
}

// A member with nothing in it: the field is left out of the stored object.
template <class T>
bool absent(const T&) {
  return false;
}
inline bool absent(const std::string& v) { return v.empty(); }
template <class T>
bool absent(const std::vector<T>& v) {
  return v.empty();
}
template <class T>
bool absent(const std::optional<T>& v) {
  return !v.has_value();
}
template <class T>
json write(const std::optional<T>& v) {
  return v ? write(*v) : json();
}

[[noreturn]] void corrupt(const char* singular, const char* field, const json& value,
                          const std::exception& e);

}  // namespace vnet::model::codec

namespace vnet::model {

// The struct of kind S from its stored fields; absent fields keep the
// member's default (empty, nullopt). Fields the struct does not describe
// (created_at) are not read.
template <class S>
S decode(const nlohmann::json& fields) {
  S out;
  auto member = [&](auto pointer, const Spec& spec) {
    const auto it = fields.find(spec.name);
    if (it == fields.end() || it->is_null()) return;
    try {
      codec::read(*it, out.*pointer);
    } catch (const std::exception& e) {
      codec::corrupt(S::meta.singular, spec.name, *it, e);
    }
  };
  S::describe(member);
  return out;
}

// Writes the described fields of `object` into `fields`: an absent member
// removes its field unless the field is required or has a default (a
// default is stored, "" included). Other keys (created_at) are kept.
template <class S>
void encode_into(const S& object, nlohmann::json& fields) {
  auto member = [&](auto pointer, const Spec& spec) {
    const auto& value = object.*pointer;
    if (codec::absent(value) && !spec.required && spec.default_json[0] == '\0') {
      fields.erase(spec.name);
    } else {
      fields[spec.name] = codec::write(value);
    }
  };
  S::describe(member);
}

template <class S>
nlohmann::json encode(const S& object) {
  nlohmann::json out = nlohmann::json::object();
  encode_into(object, out);
  return out;
}

}  // namespace vnet::model
