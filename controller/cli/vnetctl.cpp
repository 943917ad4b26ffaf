// vnetctl: the REST API from a terminal, noun then verb, as `az network
// vnet create` and `openstack network create` are. The nouns, their fields
// and which flags each verb takes come from the controller's own kind
// tables (controller/model/kinds.cpp), so the CLI cannot drift from the API.
#include "controller/cli/vnetctl.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <list>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "controller/cli/http_client.h"
#include "controller/model/kinds.h"
#include "shared/util/nearest.h"
#include "shared/util/uuid.h"

namespace vnet::cli {
namespace {

using model::Access;
using model::FieldType;
using nlohmann::json;

// A failure the server or the connection reported: printed, exit status 1.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// " (did you mean X?)" for the nearest of `choices`, when one is near.
std::string did_you_mean(const std::string& given, const std::vector<std::string>& choices) {
  const std::string near = nearest(given, choices);
  return near.empty() ? "" : fmt::format(" (did you mean {}?)", near);
}

// Columns of `list` in table form (`-c` chooses others; `-o wide` adds the
// id); references are shown by name. `show` prints every field.
const std::map<std::string, std::vector<std::string>>& list_columns() {
  static const std::map<std::string, std::vector<std::string>> columns = {
      {"tenants", {"name", "logical_network_ids", "external_pool_ids", "age"}},
      {"tokens", {"name", "role", "tenant_id", "age"}},
      {"logical-networks", {"name", "network_virtualization", "flow_entropy", "age"}},
      {"sites", {"name", "logical_network_id", "subnets", "host_group", "age"}},
      {"ip-pools", {"name", "vm_subnet_id", "site_id", "subnet", "ranges", "gateway", "age"}},
      {"mac-pools", {"name", "start", "end", "age"}},
      {"hosts",
       {"name", "pa", "connected", "desired_generation", "realized_generation",
        "configuration_state", "age"}},
      {"vm-networks", {"name", "translation", "isolation", "rdid", "tenant_id", "age"}},
      {"vm-subnets", {"name", "prefix", "vsid", "vm_network_id", "age"}},
      {"vm-nics",
       {"vm_name", "ip", "mac", "vm_subnet_id", "host_id", "interface", "configuration_state",
        "age"}},
      {"gateways", {"name", "kind", "vm_network_id", "host_id", "external_ip", "age"}},
      {"routes", {"vm_network_id", "prefix", "next_hop", "metric", "age"}},
      {"port-profiles",
       {"name", "allowed_addresses", "allow_mac_spoofing", "dhcp_guard", "router_guard",
        "bandwidth_max_mbps", "weight", "age"}},
      {"static-records", {"vsid", "ca", "mac", "pa", "age"}},
  };
  return columns;
}

// "3m", "2h", "5d" since an RFC 3339 time; "-" when unknown.
std::string age_of(const json& created_at, std::chrono::system_clock::time_point now) {
  if (!created_at.is_string()) return "-";
  std::tm tm{};
  const std::string text = created_at.get<std::string>();
  if (strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return "-";
  const auto then = std::chrono::system_clock::from_time_t(timegm(&tm));
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(now - then).count();
  if (s < 0) return "0s";
  if (s < 120) return fmt::format("{}s", s);
  if (s < 2 * 3600) return fmt::format("{}m", s / 60);
  if (s < 2 * 86400) return fmt::format("{}h", s / 3600);
  return fmt::format("{}d", s / 86400);
}

std::string dashed(std::string name) {
  std::replace(name.begin(), name.end(), '_', '-');
  return name;
}

// The noun of a collection: "vm-networks" -> "vm-network".
std::string noun_of(const model::Kind& kind) {
  return kind.collection.substr(0, kind.collection.size() - 1);
}

bool is_uuid(const std::string& text) {
  return text.size() == 36 && static_cast<bool>(Uuid::parse(text));
}

std::string cell(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number()) return v.dump();
  if (v.is_object()) {
    // configuration_state: {status, detail: [{code, message}]}
    if (v.contains("status") && v["status"].is_string()) {
      std::string out = v["status"].get<std::string>();
      if (v.contains("detail") && v["detail"].is_array()) {
        for (const auto& d : v["detail"])
          if (d.contains("code")) out += " " + d["code"].get<std::string>();
      }
      return out;
    }
    return v.dump();
  }
  std::string out;
  for (const auto& item : v) {
    std::string one;
    if (item.is_object() && item.contains("start") && item.contains("end")) {
      one = cell(item["start"]) + "-" + cell(item["end"]);
    } else if (item.is_object() && item.contains("prefix")) {
      one = cell(item["prefix"]);
      if (item.contains("vlan") && item["vlan"].is_number() && item["vlan"].get<int>() != 0)
        one += " vlan " + item["vlan"].dump();
    } else {
      one = cell(item);
    }
    out += (out.empty() ? "" : ",") + one;
  }
  return out.empty() ? "-" : out;
}

std::string heading(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](char c) {
    return c == '_' ? ' ' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  });
  return name;
}

void print_table(const std::vector<std::string>& headings,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(headings.size());
  for (size_t c = 0; c < headings.size(); ++c) width[c] = headings[c].size();
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) {
      out += cells[c];
      if (c + 1 < cells.size()) out += std::string(width[c] - cells[c].size() + 2, ' ');
    }
    fmt::print("{}\n", out);
  };
  line(headings);
  for (const auto& row : rows) line(row);
}

// `show` in table form: one field per line, id first.
void print_object(const json& object) {
  std::vector<std::vector<std::string>> rows;
  if (object.contains("id")) rows.push_back({"id", cell(object["id"])});
  for (const auto& [key, value] : object.items())
    if (key != "id") rows.push_back({key, cell(value)});
  print_table({"FIELD", "VALUE"}, rows);
}

class Session {
 public:
  Session(HttpClient& http, bool table, bool wide = false)
      : http_(http), table_(table || wide), wide_(wide) {}

  bool table() const { return table_; }
  bool wide() const { return wide_; }
  // The Vnet-Realization header of the last answer ("" without ?wait).
  const std::string& last_realization() const { return last_realization_; }

  json call(const std::string& method, const std::string& target, const json& body = nullptr,
            const std::vector<std::pair<std::string, std::string>>& headers = {},
            std::string* etag = nullptr) {
    const Reply r = http_.request(method, target, body.is_null() ? "" : body.dump(), headers);
    if (r.status >= 400) throw Failure(describe(method, target, r));
    if (etag != nullptr) *etag = r.etag;
    last_realization_ = r.realization;
    if (r.body.empty()) return nullptr;
    try {
      return json::parse(r.body);
    } catch (const json::exception&) {
      throw Failure(fmt::format("{} {}: the controller answered {} with a body that is not JSON",
                                method, target, r.status));
    }
  }

  // Every page of a collection, up to `limit` items (0: all).
  json list(const std::string& collection, const std::map<std::string, std::string>& filters,
            size_t limit = 0) {
    json items = json::array();
    std::string cursor;
    for (;;) {
      std::string query =
          "?limit=" + std::to_string(limit == 0 ? 1000 : std::min<size_t>(limit, 1000));
      for (const auto& [name, value] : filters) query += "&" + name + "=" + encode(value);
      if (!cursor.empty()) query += "&cursor=" + encode(cursor);
      const json page = call("GET", "/api/v1/" + collection + query);
      for (const auto& item : page.at("items")) {
        items.push_back(item);
        if (limit != 0 && items.size() == limit) return items;
      }
      if (!page.contains("next") || page["next"].is_null()) return items;
      cursor = page["next"].get<std::string>();
    }
  }

  // An id, or the name of exactly one object of the collection.
  std::string resolve(const std::string& collection, const std::string& id_or_name) {
    if (is_uuid(id_or_name)) return id_or_name;
    const model::Kind& kind = model::kind(collection);
    const std::string name_field = kind.field("name") != nullptr ? "name" : "vm_name";
    std::vector<std::string> ids;
    for (const auto& item : list(collection, {}))
      if (item.value(name_field, "") == id_or_name) ids.push_back(item.at("id"));
    if (ids.empty()) {
      throw Failure(fmt::format("there is no {} with the id or {} \"{}\"", noun_of(kind),
                                name_field, id_or_name));
    }
    if (ids.size() > 1) {
      std::string list_of_ids;
      for (const auto& id : ids) list_of_ids += "\n  " + id;
      throw Failure(fmt::format("{} {}s are named \"{}\"; give the id:{}", ids.size(),
                                noun_of(kind), id_or_name, list_of_ids));
    }
    return ids.front();
  }

 private:
  static std::string encode(const std::string& value) {
    std::string out;
    for (unsigned char c : value) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':' || c == '/')
        out += static_cast<char>(c);
      else
        out += fmt::format("%{:02X}", c);
    }
    return out;
  }

  static std::string describe(const std::string& method, const std::string& target,
                              const Reply& r) {
    json problem;
    try {
      problem = json::parse(r.body);
    } catch (const json::exception&) {
    }
    if (!problem.is_object() || !problem.contains("title")) {
      return fmt::format("{} {}: HTTP {}: {}", method, target, r.status, r.body.substr(0, 300));
    }
    std::string out = fmt::format("{} ({}): {}", problem.value("title", ""), r.status,
                                  problem.value("detail", ""));
    if (problem.contains("errors") && problem["errors"].is_array()) {
      const std::string detail = problem.value("detail", "");
      for (const auto& e : problem["errors"]) {
        const std::string line =
            fmt::format("{}: {}", e.value("field", ""), e.value("message", ""));
        if (line != detail) out += "\n  " + line;
      }
    }
    return out;
  }

  HttpClient& http_;
  bool table_;
  bool wide_;
  std::string last_realization_;
};

// A flag's text as the field's JSON value. Lists are comma-separated:
// --dns 10.0.0.2,10.0.0.3; --ranges 10.0.0.10-10.0.0.99; --subnets
// 192.168.1.0/24:10 (prefix:vlan). Anything starting with [ or { is JSON.
json value_of(Session& session, const model::Field& field, const std::string& text) {
  if (!text.empty() && (text.front() == '[' || text.front() == '{')) {
    try {
      return json::parse(text);
    } catch (const json::exception& e) {
      throw std::invalid_argument(
          fmt::format("--{}: \"{}\" is not valid JSON: {}", dashed(field.name), text, e.what()));
    }
  }
  auto split = [](const std::string& s) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= s.size() && !s.empty()) {
      const size_t comma = s.find(',', start);
      parts.push_back(s.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return parts;
  };
  switch (field.type) {
    case FieldType::kBool:
      if (text == "true" || text == "yes" || text == "on") return true;
      if (text == "false" || text == "no" || text == "off") return false;
      throw std::invalid_argument(
          fmt::format("--{}: \"{}\" is not true or false", dashed(field.name), text));
    case FieldType::kInteger:
      if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
          text.size() > 18) {
        throw std::invalid_argument(
            fmt::format("--{}: \"{}\" is not a number", dashed(field.name), text));
      }
      return std::stoll(text);
    case FieldType::kUuid:
      if (text == "null" || text.empty()) return nullptr;
      return session.resolve(field.ref, text);
    case FieldType::kIpv4List:
    case FieldType::kIpv4PrefixList: return split(text);
    case FieldType::kUuidList: {
      json ids = json::array();
      for (const auto& part : split(text)) ids.push_back(session.resolve(field.ref, part));
      return ids;
    }
    case FieldType::kRanges: {
      json ranges = json::array();
      for (const auto& part : split(text)) {
        const size_t dash = part.find('-');
        if (dash == std::string::npos) {
          throw std::invalid_argument(
              fmt::format("--{}: \"{}\" is not START-END", dashed(field.name), part));
        }
        ranges.push_back({{"start", part.substr(0, dash)}, {"end", part.substr(dash + 1)}});
      }
      return ranges;
    }
    case FieldType::kSubnets: {
      json subnets = json::array();
      for (const auto& part : split(text)) {
        const size_t colon = part.find(':');
        json subnet = {{"prefix", part.substr(0, colon)}};
        if (colon != std::string::npos) {
          const std::string vlan = part.substr(colon + 1);
          if (vlan.empty() || vlan.size() > 4 ||
              vlan.find_first_not_of("0123456789") != std::string::npos) {
            throw std::invalid_argument(
                fmt::format("--{}: \"{}\" is not PREFIX[:VLAN]", dashed(field.name), part));
          }
          subnet["vlan"] = std::stoi(vlan);
        }
        subnets.push_back(subnet);
      }
      return subnets;
    }
    case FieldType::kNatRules: {
      // tcp:8080=10.0.0.5:80[,udp:53=10.0.0.7:53...]
      json rules = json::array();
      for (const auto& part : split(text)) {
        const size_t colon = part.find(':');
        const size_t equals = part.find('=');
        const size_t last_colon = part.rfind(':');
        auto number = [&](const std::string& digits) -> json {
          if (digits.empty() || digits.size() > 5 ||
              digits.find_first_not_of("0123456789") != std::string::npos)
            return nullptr;
          return std::stoi(digits);
        };
        if (colon == std::string::npos || equals == std::string::npos || equals < colon ||
            last_colon < equals) {
          throw std::invalid_argument(fmt::format("--{}: \"{}\" is not PROTOCOL:PORT=ADDRESS:PORT",
                                                  dashed(field.name), part));
        }
        const json external = number(part.substr(colon + 1, equals - colon - 1));
        const json internal = number(part.substr(last_colon + 1));
        if (external.is_null() || internal.is_null()) {
          throw std::invalid_argument(fmt::format("--{}: \"{}\" has a port that is not a number",
                                                  dashed(field.name), part));
        }
        rules.push_back({{"protocol", part.substr(0, colon)},
                         {"external_port", external},
                         {"internal_ip", part.substr(equals + 1, last_colon - equals - 1)},
                         {"internal_port", internal}});
      }
      return rules;
    }
    default:
      if (text == "null") return nullptr;
      return text;
  }
}

// One `NOUN VERB` subcommand and the flags it took.
struct Verb {
  const model::Kind* kind = nullptr;
  std::string name;
  CLI::App* app = nullptr;
  std::string target;  // ID|NAME, or HOST
  std::string id;      // --id of create
  std::string if_match;
  std::string body;  // --body: JSON the flags are merged into
  bool wait = false;
  size_t limit = 0;
  // list: --name, --state, --sort, -c
  std::string name_filter, state, sort, columns;
  std::map<std::string, std::pair<CLI::Option*, std::string>> fields;
};

void add_field_flags(Verb& verb, bool for_filter) {
  for (const auto& f : verb.kind->fields) {
    if (for_filter ? !f.column || f.name == "name" : f.access == Access::kReadOnly) continue;
    auto& [option, value] = verb.fields[f.name];
    std::string names = "--" + dashed(f.name);
    // A reference may be given by name: --vm-network Blue as well as
    // --vm-network-id 3f0e…
    if (f.type == FieldType::kUuid && f.name.size() > 3 && f.name.ends_with("_id"))
      names += ",--" + dashed(f.name.substr(0, f.name.size() - 3));
    std::string help;
    if (f.required && !for_filter) help = "required. ";
    if (!f.choices.empty()) {
      help += "one of:";
      for (const auto& c : f.choices) help += " " + c;
      help += ". ";
    }
    if (f.type == FieldType::kUuid) help += "id or name of a " + f.ref.substr(0, f.ref.size() - 1);
    if (f.type == FieldType::kRanges) help += "START-END[,START-END...]";
    if (f.type == FieldType::kSubnets) help += "PREFIX[:VLAN][,...]";
    if (f.type == FieldType::kIpv4List) help += "ADDRESS[,ADDRESS...]";
    if (f.type == FieldType::kIpv4PrefixList) help += "PREFIX[,PREFIX...] (empty: none)";
    if (f.type == FieldType::kUuidList)
      help += "ids or names of " + f.ref + ", comma-separated (empty: none)";
    if (f.type == FieldType::kNatRules) help += "tcp|udp:PORT=ADDRESS:PORT[,...]";
    if (f.access == Access::kImmutable && !for_filter) help += " (set on creation only)";
    if (f.admin_only && !for_filter) help += " (administrators only)";
    option = verb.app->add_option(names, value, help);
  }
  if (verb.kind->tenant_owned) {
    auto& [option, value] = verb.fields["tenant_id"];
    option = verb.app->add_option("--tenant-id,--tenant", value,
                                  "tenant (id or name) of the object; administrators only");
  }
}

json body_of(Session& session, Verb& verb) {
  json body = json::object();
  if (!verb.body.empty()) {
    try {
      body = json::parse(verb.body);
    } catch (const json::exception& e) {
      throw std::invalid_argument(fmt::format("--body is not valid JSON: {}", e.what()));
    }
    if (!body.is_object()) throw std::invalid_argument("--body must be a JSON object");
  }
  for (const auto& [name, flag] : verb.fields) {
    if (flag.first->count() == 0) continue;
    if (name == "tenant_id") {
      body[name] = session.resolve("tenants", flag.second);
      continue;
    }
    body[name] = value_of(session, *verb.kind->field(name), flag.second);
  }
  return body;
}

std::vector<std::pair<std::string, std::string>> if_match_header(const Verb& verb) {
  if (verb.if_match.empty()) return {};
  const std::string quoted = verb.if_match.front() == '"' || verb.if_match == "*"
                                 ? verb.if_match
                                 : "\"" + verb.if_match + "\"";
  return {{"If-Match", quoted}};
}

void print_one(Session& session, const json& object) {
  if (session.table())
    print_object(object);
  else
    fmt::print("{}\n", object.dump(2));
}

// --wait: the object is written; whether it reached its hosts is the
// Vnet-Realization header. Anything but "realized" is said on stderr, with
// the object's codes, and is exit code 3.
int realization_outcome(const Session& session, const json& object) {
  const std::string& state = session.last_realization();
  if (state.empty() || state == "realized") return 0;
  std::string codes;
  if (object.is_object() && object.contains("configuration_state")) {
    for (const auto& d : object["configuration_state"].value("detail", json::array())) {
      codes += fmt::format("; {}: {}", d.value("code", ""), d.value("message", ""));
    }
  }
  fmt::print(stderr, "vnetctl: saved, but not realized: {}{}\n", state, codes);
  return 3;
}

// The collection a column refers to ("" for none).
std::string ref_of(const model::Kind& kind, const std::string& column) {
  if (column == "tenant_id") return kind.tenant_owned ? "tenants" : "";
  const model::Field* f = kind.field(column);
  return f == nullptr ? "" : f->ref;
}

// -c a,b,c checked against the kind's fields (and "age", "id"); the default
// columns otherwise; the id first with -o wide.
std::vector<std::string> table_columns(const model::Kind& kind, const std::string& chosen,
                                       bool wide) {
  const auto listed = list_columns().find(kind.collection);
  std::vector<std::string> columns =
      listed != list_columns().end() ? listed->second : std::vector<std::string>{"id", "age"};
  if (!chosen.empty()) {
    columns.clear();
    std::vector<std::string> known = {"id",
                                      "age",
                                      "configuration_state",
                                      "connected",
                                      "desired_generation",
                                      "realized_generation"};
    if (kind.tenant_owned) known.push_back("tenant_id");
    for (const auto& f : kind.fields) known.push_back(f.name);
    size_t start = 0;
    while (start <= chosen.size()) {
      const size_t comma = chosen.find(',', start);
      std::string c = chosen.substr(start, comma == std::string::npos ? comma : comma - start);
      std::replace(c.begin(), c.end(), '-', '_');
      if (std::find(known.begin(), known.end(), c) == known.end()) {
        throw std::invalid_argument(fmt::format("-c: {} has no column \"{}\"{}", kind.collection, c,
                                                did_you_mean(c, known)));
      }
      columns.push_back(c);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (wide && std::find(columns.begin(), columns.end(), "id") == columns.end())
    columns.insert(columns.begin(), "id");
  return columns;
}

// A table of objects: references by name (ids with -o wide, or when the
// reader may not read what they refer to), ages from created_at.
void print_list(Session& session, const model::Kind& kind, const std::vector<std::string>& columns,
                const json& items) {
  std::map<std::string, std::map<std::string, std::string>> names;
  if (!session.wide()) {
    for (const auto& c : columns) {
      const std::string ref = ref_of(kind, c);
      if (ref.empty() || names.contains(ref)) continue;
      auto& known = names[ref];
      try {
        for (const auto& o : session.list(ref, {})) {
          std::string label = o.value("name", "");
          if (label.empty()) label = o.value("vm_name", "");
          if (label.empty()) label = o.value("prefix", "");
          if (!label.empty()) known[o.at("id").get<std::string>()] = label;
        }
      } catch (const Failure&) {
        // Not this reader's to list (a tenant and hosts): ids stay, except
        // what the tenant was granted, which whoami names.
        if (ref == "logical-networks" || ref == "ip-pools") {
          const json who = session.call("GET", "/api/v1/whoami");
          for (const auto& g : who.value(ref == "ip-pools" ? "external_pools" : "logical_networks",
                                         json::array())) {
            if (!g.value("name", "").empty()) known[g.at("id").get<std::string>()] = g.at("name");
          }
        }
      }
    }
  }
  auto name_of = [&](const std::string& ref, const json& v) -> std::string {
    if (!v.is_string()) return cell(v);
    auto it = names[ref].find(v.get<std::string>());
    return it == names[ref].end() ? cell(v) : it->second;
  };
  const auto now = std::chrono::system_clock::now();
  std::vector<std::string> headings;
  for (const auto& c : columns) headings.push_back(heading(c));
  std::vector<std::vector<std::string>> rows;
  for (const auto& item : items) {
    std::vector<std::string> row;
    for (const auto& c : columns) {
      const json v = item.value(c, json());
      const std::string ref = session.wide() ? "" : ref_of(kind, c);
      if (c == "age") {
        row.push_back(age_of(item.value("created_at", json()), now));
      } else if (!ref.empty() && v.is_array()) {
        std::string joined;
        for (const auto& id : v) joined += (joined.empty() ? "" : ",") + name_of(ref, id);
        row.push_back(joined.empty() ? "-" : joined);
      } else if (!ref.empty()) {
        row.push_back(name_of(ref, v));
      } else {
        row.push_back(cell(v));
      }
    }
    rows.push_back(std::move(row));
  }
  print_table(headings, rows);
}

int run_verb(Session& session, Verb& verb) {
  const model::Kind& kind = *verb.kind;
  const std::string base = "/api/v1/" + kind.collection;
  const std::string wait = verb.wait ? "?wait=realized" : "";
  if (verb.name == "list") {
    std::map<std::string, std::string> filters;
    for (const auto& [name, flag] : verb.fields) {
      if (flag.first->count() == 0) continue;
      const std::string& ref = name == "tenant_id" ? "tenants" : kind.field(name)->ref;
      filters[name] = ref.empty() ? flag.second : session.resolve(ref, flag.second);
    }
    if (!verb.name_filter.empty()) filters["name"] = verb.name_filter;
    if (!verb.state.empty()) filters["configuration_state"] = verb.state;
    if (!verb.sort.empty()) filters["sort"] = verb.sort;
    const std::vector<std::string> columns = table_columns(kind, verb.columns, session.wide());
    const json items = session.list(kind.collection, filters, verb.limit);
    if (!session.table()) {
      fmt::print("{}\n", items.dump(2));
      return 0;
    }
    print_list(session, kind, columns, items);
    return 0;
  }
  if (verb.name == "create") {
    const json body = body_of(session, verb);
    const json created = verb.id.empty() ? session.call("POST", base + wait, body)
                                         : session.call("PUT", base + "/" + verb.id + wait, body);
    print_one(session, created);
    return realization_outcome(session, created);
  }
  const std::string id = session.resolve(kind.collection, verb.target);
  if (verb.name == "show") {
    print_one(session, session.call("GET", base + "/" + id));
  } else if (verb.name == "update") {
    const json body = body_of(session, verb);
    if (body.empty()) throw std::invalid_argument("nothing to change: give a field flag or --body");
    const json updated = session.call("PATCH", base + "/" + id + wait, body, if_match_header(verb));
    print_one(session, updated);
    return realization_outcome(session, updated);
  } else if (verb.name == "delete") {
    session.call("DELETE", base + "/" + id + wait, nullptr, if_match_header(verb));
    if (session.table()) fmt::print("deleted {} {}\n", noun_of(kind), id);
    return realization_outcome(session, nullptr);
  }
  return 0;
}

// `host policy HOST`: what Get-NetVirtualizationLookupRecord,
// -CustomerRoute and -ProviderAddress show on a Hyper-V host.
void print_policy(const json& p) {
  const json& provider = p.value("provider", json::object());
  fmt::print("Host {}  generation {}\n", p.value("host_id", ""), p.value("generation", 0));
  fmt::print("\nProvider address: {}/{}  flow entropy: {}\n", provider.value("pa", "-"),
             provider.value("prefix_len", 0), provider.value("flow_entropy", false) ? "on" : "off");
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : provider.value("routes", json::array()))
    rows.push_back({cell(r.value("prefix", json())), cell(r.value("next_hop", json()))});
  if (!rows.empty()) {
    fmt::print("\nProvider routes\n");
    print_table({"DestinationPrefix", "NextHop"}, rows);
  }
  rows.clear();
  for (const auto& r : p.value("lookup_records", json::array())) {
    rows.push_back({cell(r.value("ca", json())), cell(r.value("vsid", json())),
                    cell(r.value("mac", json())), cell(r.value("pa", json())),
                    cell(r.value("rule", json()))});
  }
  fmt::print("\nLookup records ({})\n", rows.size());
  print_table({"CustomerAddress", "VirtualSubnetID", "MACAddress", "ProviderAddress", "Rule"},
              rows);
  rows.clear();
  for (const auto& r : p.value("customer_routes", json::array())) {
    rows.push_back({"{" + cell(r.value("rdid", json())) + "}", cell(r.value("vsid", json())),
                    cell(r.value("prefix", json())), cell(r.value("next_hop", json())),
                    cell(r.value("metric", json()))});
  }
  fmt::print("\nCustomer routes ({})\n", rows.size());
  print_table({"RoutingDomainID", "VirtualSubnetID", "DestinationPrefix", "NextHop", "Metric"},
              rows);
  rows.clear();
  for (const auto& port : p.value("ports", json::array())) {
    rows.push_back({cell(port.value("interface", json())), cell(port.value("mac", json())),
                    cell(port.value("ca", json())), cell(port.value("vsid", json())),
                    cell(port.value("gateway", json())), cell(port.value("mtu", json()))});
  }
  fmt::print("\nPorts ({})\n", rows.size());
  print_table({"Interface", "MACAddress", "CustomerAddress", "VirtualSubnetID", "Gateway", "MTU"},
              rows);
}

// vnetctl trace: each hop as a row (host by name where the token may read
// hosts), then the verdict.
int trace(Session& session, const std::string& from, const std::string& to,
          const std::string& protocol, uint16_t port, const std::string& src) {
  const std::string nic = session.resolve("vm-nics", from);
  std::string query = "/api/v1/trace?from=" + nic + "&to=" + to + "&protocol=" + protocol;
  if (port != 0) query += "&port=" + std::to_string(port);
  if (!src.empty()) query += "&src=" + src;
  const json t = session.call("GET", query);
  if (!session.table()) {
    fmt::print("{}\n", t.dump(2));
    return 0;
  }
  std::map<std::string, std::string> host_names;
  try {
    for (const auto& h : session.list("hosts", {})) host_names[h.at("id")] = h.value("name", "");
  } catch (const std::exception&) {
    // A tenant's token reads no hosts: ids it is.
  }
  std::vector<std::vector<std::string>> rows;
  size_t n = 0;
  for (const auto& hop : t.at("hops")) {
    const std::string id =
        hop.at("host_id").is_string() ? hop.at("host_id").get<std::string>() : "";
    const auto name = host_names.find(id);
    rows.push_back({std::to_string(++n),
                    id.empty()                 ? "-"
                    : name != host_names.end() ? name->second
                                               : id,
                    hop.value("step", ""), hop.value("detail", "")});
  }
  print_table({"#", "HOST", "STEP", "DETAIL"}, rows);
  if (t.value("verdict", "") == "delivered") {
    fmt::print("\ndelivered ({}){}\n", t.value("reason", ""),
               t.at("to_nic_id").is_string() ? " to NIC " + t.at("to_nic_id").get<std::string>()
                                             : std::string(" out of the VM network"));
  } else {
    fmt::print("\ndropped: {}\n", t.value("reason", ""));
  }
  return 0;
}

}  // namespace

// vnetctl whoami: GET /api/v1/whoami, grants by name.
int whoami(Session& session) {
  const json who = session.call("GET", "/api/v1/whoami");
  if (!session.table()) {
    fmt::print("{}\n", who.dump(2));
    return 0;
  }
  auto names = [](const json& list) {
    std::string out;
    for (const auto& g : list)
      out += (out.empty() ? "" : ", ") + g.value("name", "") + " (" + g.value("id", "") + ")";
    return out.empty() ? std::string("none") : out;
  };
  std::vector<std::vector<std::string>> rows = {{"role", cell(who.value("role", json()))},
                                                {"token", cell(who.value("token_name", json()))}};
  if (who.value("role", "") == "tenant") {
    rows.push_back({"tenant", cell(who.value("tenant_name", json()))});
    rows.push_back({"logical networks", names(who.value("logical_networks", json::array()))});
    rows.push_back({"external pools", names(who.value("external_pools", json::array()))});
  }
  print_table({"WHO", "VALUE"}, rows);
  return 0;
}

// The long names of a (sub)command's options: "--name", "--url"...
std::vector<std::string> flags_of(const CLI::App* app) {
  std::vector<std::string> out;
  for (const CLI::Option* o : app->get_options()) {
    for (const auto& l : o->get_lnames()) out.push_back("--" + l);
    for (const auto& sn : o->get_snames()) out.push_back("-" + sn);
  }
  return out;
}

std::vector<std::string> names_of(const CLI::App* app) {
  std::vector<std::string> out;
  for (const CLI::App* sub : app->get_subcommands({})) out.push_back(sub->get_name());
  return out;
}

// A noun, verb or flag vnetctl does not know, said with the nearest it does
// know; nullopt when every word is known (CLI11 then parses).
std::optional<std::string> unknown_words(CLI::App& app, int argc, char** argv) {
  const std::vector<std::string> global = flags_of(&app);
  std::vector<const CLI::App*> path = {&app};
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word == "--") break;
    if (word.rfind("-", 0) == 0) {
      const std::string flag = word.substr(0, word.find('='));
      std::vector<std::string> known = global;
      for (const CLI::App* a : path) {
        const auto more = flags_of(a);
        known.insert(known.end(), more.begin(), more.end());
      }
      if (flag == "-h" || flag == "--help" || flag == "--version") continue;
      if (std::find(known.begin(), known.end(), flag) == known.end()) {
        std::string where = "vnetctl";
        for (size_t k = 1; k < path.size(); ++k) where += " " + path[k]->get_name();
        return fmt::format("no option {}{} (see {} --help)", flag, did_you_mean(flag, known),
                           where);
      }
      // An option with a value takes the next word, unless given with =.
      const CLI::Option* o = nullptr;
      for (const CLI::App* a : path) {
        if ((o = a->get_option_no_throw(flag)) != nullptr) break;
      }
      if (o != nullptr && o->get_type_size() != 0 && word.find('=') == std::string::npos) ++i;
      continue;
    }
    const CLI::App* here = path.back();
    const auto subs = names_of(here);
    if (subs.empty()) continue;  // a positional (an id, a name)
    if (std::find(subs.begin(), subs.end(), word) == subs.end()) {
      return fmt::format("{} \"{}\"{} (see {} --help)", path.size() == 1 ? "no noun" : "no verb",
                         word, did_you_mean(word, subs),
                         path.size() == 1 ? "vnetctl" : "vnetctl " + here->get_name());
    }
    path.push_back(here->get_subcommand(word));
  }
  return std::nullopt;
}

// A completion script from the command tree itself: nouns, their verbs and
// each verb's flags, so it cannot drift from vnetctl.
std::string completion_script(const CLI::App& app, const std::string& shell) {
  std::string cases;
  std::string nouns;
  for (const CLI::App* noun : app.get_subcommands({})) {
    nouns += noun->get_name() + " ";
    std::string verbs;
    for (const CLI::App* verb : noun->get_subcommands({})) {
      verbs += verb->get_name() + " ";
      std::string flags;
      for (const auto& f : flags_of(verb)) flags += f + " ";
      cases += fmt::format("    \"{} {}\") words=\"{}\" ;;\n", noun->get_name(), verb->get_name(),
                           flags);
    }
    std::string own;
    for (const auto& f : flags_of(noun)) own += f + " ";
    cases += fmt::format("    \"{}\") words=\"{}{}\" ;;\n", noun->get_name(), verbs, own);
  }
  std::string global;
  for (const auto& f : flags_of(&app)) global += f + " ";
  std::string script = fmt::format(R"(# vnetctl {} completion, generated by `vnetctl completion {}`.
_vnetctl() {{
  local cur=${{COMP_WORDS[COMP_CWORD]}} path="" words i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${{COMP_WORDS[i]}}
    case "$w" in -*) continue ;; esac
    if [ -z "$path" ]; then path=$w; else case "$path" in *" "*) ;; *) path="$path $w" ;; esac; fi
  done
  case "$path" in
    "") words="{}{}" ;;
{}    *) words="" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -F _vnetctl vnetctl
)",
                                   shell, shell, nouns, global, cases);
  if (shell == "zsh") script = "autoload -U +X bashcompinit && bashcompinit\n" + script;
  return script;
}

int run(int argc, char** argv) {
  CLI::App app{
      "vnetctl: the vnet controller's REST API from a terminal.\n"
      "Give the controller with --url or VNET_URL (default http://127.0.0.1:8080; https:// "
      "for a controller off loopback, with --ca-cert or VNET_CA_CERT when its certificate is "
      "from its own CA) and a token with VNET_TOKEN or --token-file (the first admin token is "
      "in <data-dir>/admin.token)."};
  app.fallthrough();
  app.require_subcommand(1);
  const char* env_url = std::getenv("VNET_URL");
  const char* env_token = std::getenv("VNET_TOKEN");
  std::string url = env_url != nullptr && *env_url != 0 ? env_url : "http://127.0.0.1:8080";
  std::string token = env_token != nullptr ? env_token : "";
  std::string output = isatty(STDOUT_FILENO) ? "table" : "json";
  app.add_option("--url", url, "controller URL (VNET_URL)")->capture_default_str();
  const char* env_ca = std::getenv("VNET_CA_CERT");
  std::string ca_cert = env_ca != nullptr ? env_ca : "";
  app.add_option("--ca-cert", ca_cert,
                 "trust the controller's HTTPS certificate when this CA issued it (VNET_CA_CERT; "
                 "a controller's own CA is ca.crt in its data directory; default: the system's "
                 "CAs)");
  std::string token_file;
  app.add_option("--token", token,
                 "bearer token; prefer VNET_TOKEN or --token-file: a token on the command line "
                 "is visible to every local user in ps");
  app.add_option("--token-file", token_file,
                 "read the bearer token from FILE (e.g. <data-dir>/admin.token)");
  app.add_option("-o,--output", output,
                 "table, wide (a table with ids) or json (table on a terminal, else json)")
      ->check(CLI::IsMember({"table", "wide", "json"}))
      ->capture_default_str();
  app.set_version_flag("--version", std::string("vnetctl ") + VNET_VERSION);

  std::list<Verb> verbs;
  for (const auto& kind : model::kinds()) {
    const std::string noun = noun_of(kind);
    CLI::App* noun_app = app.add_subcommand(noun, "manage " + kind.collection);
    noun_app->require_subcommand(1);
    auto add = [&](const std::string& name, const std::string& help) -> Verb& {
      Verb& verb = verbs.emplace_back();
      verb.kind = &kind;
      verb.name = name;
      verb.app = noun_app->add_subcommand(name, help);
      return verb;
    };
    Verb& create = add("create", "create a " + kind.singular);
    add_field_flags(create, false);
    create.app->add_option("--id", create.id, "create (or replace) at this id, with PUT");
    create.app->add_option("--body", create.body, "JSON object the flags are merged into");
    create.app->add_flag("--wait", create.wait, "wait until the change reached the hosts");

    Verb& list = add("list", "list " + kind.collection + " (every page)");
    add_field_flags(list, true);
    list.app->add_option("--limit", list.limit, "at most this many");
    const bool named = kind.field("name") != nullptr || kind.field("vm_name") != nullptr;
    if (named) {
      list.app->add_option("--name", list.name_filter,
                           "only these names: exact, or with * matching anything (any case)");
    }
    if (kind.collection == "hosts" || kind.collection == "vm-nics" ||
        kind.collection == "gateways") {
      list.app->add_option("--state", list.state, "only those in this configuration state")
          ->check(CLI::IsMember({"success", "pending", "failure"}));
    }
    list.app->add_option("--sort", list.sort, "order: created (default), -created, name, -name")
        ->check(CLI::IsMember(named
                                  ? std::vector<std::string>{"created", "-created", "name", "-name"}
                                  : std::vector<std::string>{"created", "-created"}));
    list.app->add_option("-c,--columns", list.columns,
                         "the table's columns, comma-separated (fields, and age)");

    Verb& show = add("show", "show one " + kind.singular);
    show.app->add_option("ID", show.target, "id or name")->required();

    Verb& update = add("update", "change fields of a " + kind.singular + " (merge patch)");
    update.app->add_option("ID", update.target, "id or name")->required();
    add_field_flags(update, false);
    update.app->add_option("--body", update.body, "JSON merge patch the flags are merged into");
    update.app->add_option("--if-match", update.if_match,
                           "only if the object's etag is still this one");
    update.app->add_flag("--wait", update.wait, "wait until the change reached the hosts");

    Verb& remove = add("delete", "delete a " + kind.singular);
    remove.app->add_option("ID", remove.target, "id or name")->required();
    remove.app->add_option("--if-match", remove.if_match,
                           "only if the object's etag is still this one");
    remove.app->add_flag("--wait", remove.wait, "wait until the change reached the hosts");

    if (kind.collection == "hosts") {
      Verb& policy = add("policy", "the host's lookup records, customer routes and ports");
      policy.app->add_option("HOST", policy.target, "id or name")->required();
      Verb& enroll = add("enroll", "a one-time enrollment token and the agent command");
      enroll.app->add_option("HOST", enroll.target, "id or name")->required();
      Verb& revoke = add("revoke", "revoke the host's certificate and close its session");
      revoke.app->add_option("HOST", revoke.target, "id or name")->required();
    }
  }

  // vnetctl trace: the path a packet would take (GET /api/v1/trace).
  struct {
    std::string from, to, protocol = "icmp", src;
    uint16_t port = 0;
  } trace_args;
  CLI::App* trace_app = app.add_subcommand(
      "trace", "the path a packet from a VM NIC would take, step by step (like ovn-trace)");
  trace_app->add_option("--from", trace_args.from, "the VM NIC: id or VM name")->required();
  trace_app->add_option("--to", trace_args.to, "the destination IPv4 address")->required();
  trace_app->add_option("--protocol", trace_args.protocol, "icmp (an echo), tcp (a SYN) or udp")
      ->check(CLI::IsMember({"icmp", "tcp", "udp"}))
      ->capture_default_str();
  trace_app->add_option("--port", trace_args.port, "the destination port (tcp, udp)");
  trace_app->add_option("--src", trace_args.src,
                        "send from this address instead of the NIC's (what anti-spoofing does)");

  CLI::App* whoami_app =
      app.add_subcommand("whoami", "who the token is: role, tenant and what it was granted");
  std::string shell;
  CLI::App* completion_app = app.add_subcommand(
      "completion", "print a completion script: source <(vnetctl completion bash)");
  completion_app->add_option("SHELL", shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));

  if (auto mistake = unknown_words(app, argc, argv)) {
    fmt::print(stderr, "vnetctl: {}\n", *mistake);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (completion_app->parsed()) {
    fmt::print("{}", completion_script(app, shell));
    return 0;
  }

  try {
    Verb* chosen = nullptr;
    for (auto& verb : verbs)
      if (verb.app->parsed()) chosen = &verb;
    if (chosen == nullptr && !trace_app->parsed() && !whoami_app->parsed())
      throw std::invalid_argument("give a noun and a verb (see --help)");
    if (!token_file.empty()) {
      std::ifstream in(token_file);
      std::string line;
      if (!in || !std::getline(in, line))
        throw std::invalid_argument(fmt::format("--token-file {}: cannot read it", token_file));
      while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
        line.pop_back();
      token = line;
    }
    if (token.empty()) {
      throw std::invalid_argument(
          "no token: set VNET_TOKEN or give --token-file (the first admin token is in "
          "<data-dir>/admin.token of the controller)");
    }
    HttpClient http(parse_url(url), token, ca_cert);
    Session session(http, output != "json", output == "wide");
    if (whoami_app->parsed()) return whoami(session);
    if (trace_app->parsed())
      return trace(session, trace_args.from, trace_args.to, trace_args.protocol, trace_args.port,
                   trace_args.src);
    if (chosen->kind->collection == "hosts" &&
        (chosen->name == "policy" || chosen->name == "enroll" || chosen->name == "revoke")) {
      const std::string id = session.resolve("hosts", chosen->target);
      const std::string path = "/api/v1/hosts/" + id;
      if (chosen->name == "policy") {
        const json p = session.call("GET", path + "/policy");
        if (session.table())
          print_policy(p);
        else
          fmt::print("{}\n", p.dump(2));
      } else if (chosen->name == "enroll") {
        const json e = session.call("POST", path + "/enrollment");
        if (session.table()) {
          fmt::print("Run on the host (the token works once, until {}):\n\n  {}\n",
                     e.value("expires_at", "?"), e.value("command", ""));
        } else {
          fmt::print("{}\n", e.dump(2));
        }
      } else {
        session.call("DELETE", path + "/enrollment");
        if (session.table()) fmt::print("revoked the certificate of host {}\n", id);
      }
      return 0;
    }
    return run_verb(session, *chosen);
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "vnetctl: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "vnetctl: {}\n", e.what());
    return 1;
  }
}

}  // namespace vnet::cli
