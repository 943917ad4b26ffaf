#include "controller/model/fields.h"

#include <fmt/format.h>

#include <set>

#include "shared/net/ip.h"
#include "shared/net/mac.h"
#include "shared/util/uuid.h"

namespace vnet::model {
namespace {

using nlohmann::json;

// Parses one value of `field`; returns its canonical JSON or sets `error`.
json canonical(const Field& field, const json& v, std::string& error) {
  auto text = [&](auto parse) -> json {
    if (!v.is_string()) {
      error = "must be a string";
      return nullptr;
    }
    auto parsed = parse(v.template get<std::string>());
    if (!parsed) {
      error = parsed.error();
      return nullptr;
    }
    return parsed->to_string();
  };
  auto ipv4_list = [&](const json& list, size_t min_size) -> json {
    if (!list.is_array()) {
      error = "must be an array of IPv4 addresses";
      return nullptr;
    }
    if (list.size() < min_size || list.size() > 64) {
      error = fmt::format("must hold {} to 64 addresses", min_size);
      return nullptr;
    }
    json out = json::array();
    for (const auto& item : list) {
      std::string e;
      if (!item.is_string()) {
        error = "must be an array of IPv4 addresses";
        return nullptr;
      }
      auto a = net::Ipv4Address::parse(item.get<std::string>());
      if (!a) {
        error = a.error();
        return nullptr;
      }
      out.push_back(a->to_string());
    }
    return out;
  };

  switch (field.type) {
    case FieldType::kString:
      if (!v.is_string()) {
        error = "must be a string";
        return nullptr;
      }
      if (const auto& s = v.get_ref<const std::string&>();
          s.size() > 255 || (field.required && s.empty())) {
        error = field.required ? "must be 1 to 255 bytes long" : "must be at most 255 bytes long";
        return nullptr;
      }
      return v;
    case FieldType::kBool:
      if (!v.is_boolean()) error = "must be true or false";
      return v;
    case FieldType::kInteger: {
      if (!v.is_number_integer() ||
          (!v.is_number_unsigned() && v.get<long long>() < 0 && field.min >= 0)) {
        error = fmt::format("must be an integer from {} to {}", field.min, field.max);
        return nullptr;
      }
      const long long n = v.is_number_unsigned() && v.get<unsigned long long>() > 1ull << 62
                              ? field.max + 1
                              : v.get<long long>();
      if (n < field.min || n > field.max) {
        error = fmt::format("must be an integer from {} to {}", field.min, field.max);
        return nullptr;
      }
      return n;
    }
    case FieldType::kEnum:
      if (v.is_string()) {
        for (const auto& c : field.choices) {
          if (v.get_ref<const std::string&>() == c) return v;
        }
      }
      {
        std::string list;
        for (const auto& c : field.choices) list += (list.empty() ? "\"" : ", \"") + c + "\"";
        error = "must be one of " + list;
      }
      return nullptr;
    case FieldType::kUuid: return text(Uuid::parse);
    case FieldType::kIpv4: return text(net::Ipv4Address::parse);
    case FieldType::kMac: return text(net::MacAddress::parse);
    case FieldType::kIpv4Prefix: {
      json p = text(net::IpPrefix::parse);
      if (!error.empty()) return nullptr;
      if (p.get<std::string>().find(':') != std::string::npos) {
        error = "must be an IPv4 prefix";
        return nullptr;
      }
      return p;
    }
    case FieldType::kIpv4List: return ipv4_list(v, 0);
    case FieldType::kIpv4PrefixList: {
      // Bounded: the agent checks a port's sources against each of them.
      if (!v.is_array() || v.size() > 32) {
        error = "must be an array of at most 32 IPv4 prefixes";
        return nullptr;
      }
      json out = json::array();
      std::set<std::string> seen;
      for (size_t i = 0; i < v.size(); ++i) {
        const auto p = net::IpPrefix::parse(v[i].is_string() ? v[i].get<std::string>() : "");
        if (!p || !p->is_v4()) {
          error = fmt::format("/{}: {}", i, p ? "must be an IPv4 prefix" : p.error());
          return nullptr;
        }
        if (!seen.insert(p->to_string()).second) {
          error = fmt::format("/{}: {} is listed twice", i, p->to_string());
          return nullptr;
        }
        out.push_back(p->to_string());
      }
      return out;
    }
    case FieldType::kUuidList: {
      if (!v.is_array() || v.size() > 1000) {
        error = "must be an array of at most 1000 ids";
        return nullptr;
      }
      json out = json::array();
      std::set<std::string> seen;
      for (size_t i = 0; i < v.size(); ++i) {
        const auto id = Uuid::parse(v[i].is_string() ? v[i].get<std::string>() : "");
        if (!id) {
          error = fmt::format("/{}: must be an id", i);
          return nullptr;
        }
        if (!seen.insert(id->to_string()).second) {
          error = fmt::format("/{}: {} is listed twice", i, id->to_string());
          return nullptr;
        }
        out.push_back(id->to_string());
      }
      return out;
    }
    case FieldType::kInterface: {
      if (!v.is_string()) {
        error = "must be a string";
        return nullptr;
      }
      const auto& s = v.get_ref<const std::string&>();
      bool ok = !s.empty() && s.size() <= 15 && s != "." && s != "..";
      for (char c : s) ok = ok && c != '/' && c != ':' && c > ' ' && c != 0x7f;
      if (!ok) error = "must be a Linux interface name: 1 to 15 bytes, no '/', ':' or white space";
      return v;
    }
    case FieldType::kNatRules: {
      if (!v.is_array() || v.size() > 1024) {
        error =
            "must be an array of at most 1024 {protocol, external_port, internal_ip, "
            "internal_port} objects";
        return nullptr;
      }
      json out = json::array();
      std::set<std::pair<std::string, long long>> claimed;
      const Field port{.name = "port", .type = FieldType::kInteger, .min = 1, .max = 65535};
      const Field protocol{.name = "protocol", .type = FieldType::kEnum, .choices = {"tcp", "udp"}};
      const Field address{.name = "internal_ip", .type = FieldType::kIpv4};
      for (size_t i = 0; i < v.size(); ++i) {
        const json& item = v[i];
        const std::string at = fmt::format("/{}", i);
        if (!item.is_object()) {
          error = at + ": must be an object";
          return nullptr;
        }
        json rule = json::object();
        for (const char* key : {"protocol", "external_port", "internal_ip", "internal_port"}) {
          if (!item.contains(key)) {
            error = fmt::format("{}/{}: is required", at, key);
            return nullptr;
          }
          const Field& f = key == std::string_view("protocol")      ? protocol
                           : key == std::string_view("internal_ip") ? address
                                                                    : port;
          std::string e;
          rule[key] = canonical(f, item.at(key), e);
          if (!e.empty()) {
            error = fmt::format("{}/{}: {}", at, key, e);
            return nullptr;
          }
        }
        for (const auto& [key, _] : item.items()) {
          if (!rule.contains(key)) {
            error = fmt::format("{}: \"{}\" is not a field here", at, key);
            return nullptr;
          }
        }
        if (!claimed
                 .emplace(rule.at("protocol").get<std::string>(),
                          rule.at("external_port").get<long long>())
                 .second) {
          error = fmt::format("{}/external_port: {} {} is claimed by another rule", at,
                              rule.at("protocol").get<std::string>(),
                              rule.at("external_port").get<long long>());
          return nullptr;
        }
        out.push_back(std::move(rule));
      }
      return out;
    }
    case FieldType::kSubnets:
    case FieldType::kRanges: {
      const bool subnets = field.type == FieldType::kSubnets;
      if (!v.is_array() || v.empty() || v.size() > 256) {
        error = subnets ? "must be an array of 1 to 256 {prefix, vlan} objects"
                        : "must be an array of 1 to 256 {start, end} objects";
        return nullptr;
      }
      json out = json::array();
      for (size_t i = 0; i < v.size(); ++i) {
        const json& item = v[i];
        const std::string at = fmt::format("/{}: ", i);
        if (!item.is_object()) {
          error = at + "must be an object";
          return nullptr;
        }
        for (const auto& [key, _] : item.items()) {
          if (subnets ? key != "prefix" && key != "vlan" : key != "start" && key != "end") {
            error = at + "\"" + key + "\" is not a field here";
            return nullptr;
          }
        }
        if (subnets) {
          Field prefix{.name = "prefix", .type = FieldType::kIpv4Prefix};
          std::string e;
          json p = item.contains("prefix") ? canonical(prefix, item["prefix"], e) : json();
          if (!item.contains("prefix")) e = "prefix is required";
          const json vlan = item.value("vlan", json(0));
          if (e.empty() && (!vlan.is_number_integer() || vlan.get<long long>() < 0 ||
                            vlan.get<long long>() > 4094)) {
            e = "vlan must be an integer from 0 to 4094";
          }
          if (!e.empty()) {
            error = at + e;
            return nullptr;
          }
          out.push_back({{"prefix", p}, {"vlan", vlan}});
        } else {
          if (!item.contains("start") || !item.contains("end")) {
            error = at + "start and end are required";
            return nullptr;
          }
          auto address = [](const json& a,
                            const char* name) -> Expected<net::Ipv4Address, std::string> {
            if (!a.is_string()) return Unexpected(std::string(name) + " must be a string");
            return net::Ipv4Address::parse(a.get<std::string>());
          };
          auto s = address(item["start"], "start");
          auto e = address(item["end"], "end");
          if (!s || !e) {
            error = at + (!s ? s.error() : e.error());
            return nullptr;
          }
          if (*e < *s) {
            error = at + fmt::format("start {} comes after end {}", s->to_string(), e->to_string());
            return nullptr;
          }
          out.push_back({{"start", s->to_string()}, {"end", e->to_string()}});
        }
      }
      return out;
    }
  }
  return nullptr;
}

}  // namespace

bool is_envelope_key(const Kind& kind, std::string_view key) {
  return key == "id" || key == "etag" || (key == "tenant_id" && kind.tenant_owned);
}

json check_fields(const Kind& kind, const Principal& who, const json& body, Write write,
                  const json& current, std::vector<FieldError>* errors_out) {
  if (!body.is_object()) throw bad_request("the request body must be a JSON object");
  std::vector<FieldError> errors;
  std::vector<FieldError> forbidden_fields;
  std::set<std::string> reported;  // fields with an error already: not also "is required"
  json out = write == Write::kPatch ? current : json::object();

  for (const auto& [key, value] : body.items()) {
    const std::string pointer = "/" + key;
    if (is_envelope_key(kind, key)) continue;  // checked by the service
    reported.insert(key);
    const Field* field = kind.field(key);
    if (field == nullptr) {
      errors.push_back({pointer, fmt::format("is not a field of a {}", kind.singular)});
      continue;
    }
    const bool creating = write == Write::kCreate;
    const bool unchanged = current.is_object() && current.contains(key) && current[key] == value;
    if (write == Write::kPatch && value.is_null()) {
      // RFC 7396: null removes the member; only optional, writable fields.
      if (field->access != Access::kWritable || field->required) {
        errors.push_back({pointer, "cannot be removed"});
      } else if (field->admin_only && !who.is_admin() && current.is_object() &&
                 current.contains(key)) {
        // Admin-only is for removal too: a tenant cannot unplace its NIC.
        forbidden_fields.push_back({pointer, "only an administrator may remove it"});
      } else {
        out.erase(key);
      }
      continue;
    }
    if (field->access == Access::kReadOnly && !unchanged) {
      errors.push_back({pointer, "is assigned by the server"});
      continue;
    }
    if (!creating && !unchanged &&
        (field->access == Access::kImmutable || field->access == Access::kAssigned)) {
      errors.push_back({pointer, "cannot be changed after creation"});
      continue;
    }
    if (field->admin_only && !who.is_admin() && !unchanged) {
      forbidden_fields.push_back({pointer, "only an administrator may set it"});
      continue;
    }
    std::string error;
    json v = canonical(*field, value, error);
    if (!error.empty()) {
      errors.push_back({pointer, error});
      continue;
    }
    out[key] = std::move(v);
  }

  if (write != Write::kPatch) {
    for (const auto& field : kind.fields) {
      if (out.contains(field.name) || reported.count(field.name)) continue;
      // A replace keeps what the server assigned and what cannot change.
      // A tenant's replace keeps the admin-only fields it cannot see to
      // (placement): leaving them out is not removing them.
      if (write == Write::kReplace && current.is_object() && current.contains(field.name) &&
          (field.access != Access::kWritable || (field.admin_only && !who.is_admin()))) {
        out[field.name] = current[field.name];
        continue;
      }
      if (field.required && (write == Write::kCreate || field.access == Access::kWritable)) {
        errors.push_back({"/" + field.name, "is required"});
      } else if (!field.default_json.empty()) {
        out[field.name] = json::parse(field.default_json);
      }
    }
  }

  if (!forbidden_fields.empty()) {
    std::string detail =
        fmt::format("{}: {}", forbidden_fields[0].field, forbidden_fields[0].message);
    throw forbidden(std::move(detail), std::move(forbidden_fields));
  }
  if (!errors.empty() && errors_out != nullptr) {
    errors_out->insert(errors_out->end(), errors.begin(), errors.end());
  } else if (!errors.empty()) {
    throw invalid_fields(std::move(errors));
  }
  return out;
}

}  // namespace vnet::model
