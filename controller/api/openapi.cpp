// GET /api/v1/openapi.json: OpenAPI 3.0 built from the same kind tables and
// route list the router uses, so the document cannot drift from the server.
#include "controller/api/router.h"
#include "controller/model/kinds.h"

namespace vnet::api {
namespace {

using model::Access;
using model::FieldType;
using nlohmann::json;

json schema_of(const model::Field& f) {
  json s;
  switch (f.type) {
    case FieldType::kString: s = {{"type", "string"}, {"maxLength", 255}}; break;
    case FieldType::kBool: s = {{"type", "boolean"}}; break;
    case FieldType::kInteger:
      s = {{"type", "integer"}, {"minimum", f.min}, {"maximum", f.max}};
      break;
    case FieldType::kEnum: s = {{"type", "string"}, {"enum", f.choices}}; break;
    case FieldType::kUuid: s = {{"type", "string"}, {"format", "uuid"}}; break;
    case FieldType::kIpv4: s = {{"type", "string"}, {"format", "ipv4"}}; break;
    case FieldType::kIpv4Prefix: s = {{"type", "string"}, {"example", "10.10.0.0/16"}}; break;
    case FieldType::kMac: s = {{"type", "string"}, {"example", "00:1D:D8:B7:1C:00"}}; break;
    case FieldType::kInterface: s = {{"type", "string"}, {"maxLength", 15}}; break;
    case FieldType::kIpv4List:
      s = {{"type", "array"}, {"items", {{"type", "string"}, {"format", "ipv4"}}}};
      break;
    case FieldType::kUuidList:
      s = {{"type", "array"}, {"items", {{"type", "string"}, {"format", "uuid"}}}};
      break;
    case FieldType::kIpv4PrefixList:
      s = {{"type", "array"},
           {"maxItems", 32},
           {"items", {{"type", "string"}, {"example", "192.168.50.0/24"}}}};
      break;
    case FieldType::kSubnets:
      s = {{"type", "array"},
           {"items",
            {{"type", "object"},
             {"required", {"prefix"}},
             {"properties",
              {{"prefix", {{"type", "string"}}},
               {"vlan", {{"type", "integer"}, {"minimum", 0}, {"maximum", 4094}}}}}}}};
      break;
    case FieldType::kNatRules:
      s = {{"type", "array"},
           {"items",
            {{"type", "object"},
             {"required", {"protocol", "external_port", "internal_ip", "internal_port"}},
             {"properties",
              {{"protocol", {{"type", "string"}, {"enum", {"tcp", "udp"}}}},
               {"external_port", {{"type", "integer"}, {"minimum", 1}, {"maximum", 65535}}},
               {"internal_ip", {{"type", "string"}, {"format", "ipv4"}}},
               {"internal_port", {{"type", "integer"}, {"minimum", 1}, {"maximum", 65535}}}}}}}};
      break;
    case FieldType::kRanges:
      s = {{"type", "array"},
           {"items",
            {{"type", "object"},
             {"required", {"start", "end"}},
             {"properties",
              {{"start", {{"type", "string"}, {"format", "ipv4"}}},
               {"end", {{"type", "string"}, {"format", "ipv4"}}}}}}}};
      break;
  }
  if (f.access == Access::kReadOnly) s["readOnly"] = true;
  std::string note;
  if (f.access == Access::kImmutable) note = "Set on creation only.";
  if (f.access == Access::kAssigned)
    note = "Assigned by the server when absent; cannot change after creation.";
  if (f.admin_only)
    note += std::string(note.empty() ? "" : " ") + "Only an administrator may set it.";
  if (!f.ref.empty())
    note += std::string(note.empty() ? "" : " ") +
            (f.type == FieldType::kUuidList ? "Ids of /" : "The id of one of /") + f.ref + ".";
  if (!note.empty()) s["description"] = note;
  if (!f.default_json.empty()) s["default"] = json::parse(f.default_json);
  // For clients that build forms from this document (the web console):
  // who may set the field and when, and what a reference points to.
  s["x-vnet-access"] = f.access == Access::kWritable    ? "writable"
                       : f.access == Access::kImmutable ? "immutable"
                       : f.access == Access::kAssigned  ? "assigned"
                                                        : "read-only";
  if (f.admin_only) s["x-vnet-admin-only"] = true;
  if (!f.ref.empty()) s["x-vnet-ref"] = f.ref;
  return s;
}

}  // namespace

json Router::openapi() {
  json schemas = {
      {"Problem",
       {{"type", "object"},
        {"description", "RFC 9457 problem details"},
        {"properties",
         {{"type", {{"type", "string"}}},
          {"title", {{"type", "string"}}},
          {"status", {{"type", "integer"}}},
          {"detail", {{"type", "string"}}},
          {"request_id", {{"type", "string"}}},
          {"errors",
           {{"type", "array"},
            {"items",
             {{"type", "object"},
              {"properties",
               {{"field", {{"type", "string"}}}, {"message", {{"type", "string"}}}}}}}}}}}}}};
  const json problem = {
      {"application/problem+json", {{"schema", {{"$ref", "#/components/schemas/Problem"}}}}}};
  const json errors = {
      {"400", {{"description", "invalid input"}, {"content", problem}}},
      {"401", {{"description", "no or unknown token"}, {"content", problem}}},
      {"403", {{"description", "not allowed for this token"}, {"content", problem}}},
      {"404", {{"description", "no such object (or not yours)"}, {"content", problem}}},
      {"409",
       {{"description", "conflict: in use, exhausted pool, duplicate"}, {"content", problem}}},
      {"412", {{"description", "If-Match does not match the etag"}, {"content", problem}}},
      {"413", {{"description", "body over 1 MiB"}, {"content", problem}}},
      {"415", {{"description", "body not application/json"}, {"content", problem}}}};
  json paths = json::object();
  for (const auto& [path, methods] : routes()) {
    json item = json::object();
    const std::string collection =
        path.rfind("/api/v1/", 0) == 0 ? path.substr(8, path.find('/', 8) - 8) : "";
    const auto* kind = model::find_kind(collection);
    for (const auto& m : methods) {
      std::string verb = m;
      std::transform(verb.begin(), verb.end(), verb.begin(), ::tolower);
      json op = {{"responses", errors}};
      if (path.find("}/") != std::string::npos) {
        // Host actions: the compiled policy, enrollment tokens (docs/southbound.md).
        op["tags"] = {"hosts"};
        op["parameters"] = {{{"name", "id"},
                             {"in", "path"},
                             {"required", true},
                             {"schema", {{"type", "string"}, {"format", "uuid"}}}}};
        const char* what = m == "GET"    ? "the host's compiled HostPolicy"
                           : m == "POST" ? "a one-time enrollment token and the agent command"
                                         : "the host's certificate is revoked";
        op["responses"][m == "GET" ? "200" : m == "POST" ? "201" : "204"] = {{"description", what}};
      } else if (path == "/api/v1/whoami") {
        // A tenant's grants, by name (absent for an administrator).
        const json granted = {{"type", "array"},
                              {"items",
                               {{"type", "object"},
                                {"properties",
                                 {{"id", {{"type", "string"}, {"format", "uuid"}}},
                                  {"name", {{"type", "string"}}}}}}}};
        op["responses"]["200"] = {
            {"description",
             "the token's role; for a tenant its tenant's id and name and what it was granted"},
            {"content",
             {{"application/json",
               {{"schema",
                 {{"type", "object"},
                  {"properties",
                   {{"role", {{"type", "string"}, {"enum", {"admin", "tenant"}}}},
                    {"token_id", {{"type", "string"}, {"format", "uuid"}}},
                    {"token_name", {{"type", "string"}, {"nullable", true}}},
                    {"tenant_id", {{"type", "string"}, {"nullable", true}}},
                    {"tenant_name", {{"type", "string"}, {"nullable", true}}},
                    {"logical_networks", granted},
                    {"external_pools", granted}}}}}}}}}};
      } else if (path == "/api/v1/trace") {
        auto query = [](const char* name, json schema, bool required, const char* what) {
          return json{{"name", name},
                      {"in", "query"},
                      {"required", required},
                      {"description", what},
                      {"schema", std::move(schema)}};
        };
        op["parameters"] = {
            query("from", {{"type", "string"}, {"format", "uuid"}}, true, "the VM NIC"),
            query("to", {{"type", "string"}, {"format", "ipv4"}}, true, "the destination"),
            query("protocol", {{"type", "string"}, {"enum", {"icmp", "tcp", "udp"}}}, false,
                  "icmp (default: an echo), tcp (a SYN) or udp"),
            query("port", {{"type", "integer"}, {"minimum", 1}, {"maximum", 65535}}, false,
                  "the destination port, required with tcp and udp"),
            query("src", {{"type", "string"}, {"format", "ipv4"}}, false,
                  "send from this address instead of the NIC's")};
        op["responses"]["200"] = {
            {"description",
             "the path, step by step, through the agents' own pipeline on each host's compiled "
             "policy"},
            {"content",
             {{"application/json",
               {{"schema",
                 {{"type", "object"},
                  {"properties",
                   {{"verdict", {{"type", "string"}, {"enum", {"delivered", "dropped"}}}},
                    {"reason", {{"type", "string"}}},
                    {"to_nic_id", {{"type", "string"}, {"nullable", true}}},
                    {"hops",
                     {{"type", "array"},
                      {"items",
                       {{"type", "object"},
                        {"properties",
                         {{"host_id", {{"type", "string"}, {"nullable", true}}},
                          {"step", {{"type", "string"}}},
                          {"detail", {{"type", "string"}}}}}}}}}}}}}}}}}};
      } else if (kind == nullptr) {
        op["responses"] = {{"200", {{"description", "OK"}}}};
        op["security"] = json::array();
      } else {
        const json ref = {{"$ref", "#/components/schemas/" + kind->collection}};
        const json body = {{"required", true},
                           {"content", {{"application/json", {{"schema", ref}}}}}};
        op["tags"] = {kind->collection};
        if (path.find("{id}") != std::string::npos) {
          op["parameters"] = {{{"name", "id"},
                               {"in", "path"},
                               {"required", true},
                               {"schema", {{"type", "string"}, {"format", "uuid"}}}}};
          if (m == "PUT" || m == "PATCH" || m == "DELETE") {
            op["parameters"].push_back(
                {{"name", "If-Match"}, {"in", "header"}, {"schema", {{"type", "string"}}}});
          }
        }
        if (m == "GET" && path.find("{id}") == std::string::npos) {
          op["parameters"] = {
              {{"name", "limit"},
               {"in", "query"},
               {"schema", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}}}},
              {{"name", "cursor"}, {"in", "query"}, {"schema", {{"type", "string"}}}}};
          const bool named = kind->field("name") != nullptr || kind->field("vm_name") != nullptr;
          for (const auto& f : kind->fields) {
            if (f.column && !(named && f.name == "name"))
              op["parameters"].push_back(
                  {{"name", f.name}, {"in", "query"}, {"schema", {{"type", "string"}}}});
          }
          if (named) {
            op["parameters"].push_back(
                {{"name", "name"},
                 {"in", "query"},
                 {"description",
                  "The name (a VM NIC's vm_name): exact, or with * matching anything, "
                  "case-insensitively"},
                 {"schema", {{"type", "string"}}}});
          }
          if (kind->has_state) {
            op["parameters"].push_back(
                {{"name", "configuration_state"},
                 {"in", "query"},
                 {"schema", {{"type", "string"}, {"enum", {"success", "pending", "failure"}}}}});
          }
          json orders = {"created", "-created"};
          if (named) orders.insert(orders.begin(), {"name", "-name"});
          op["parameters"].push_back({{"name", "sort"},
                                      {"in", "query"},
                                      {"description", "The order; default created (oldest first)"},
                                      {"schema", {{"type", "string"}, {"enum", orders}}}});
          op["responses"]["200"] = {
              {"description", "a page"},
              {"content",
               {{"application/json",
                 {{"schema",
                   {{"type", "object"},
                    {"properties",
                     {{"items", {{"type", "array"}, {"items", ref}}},
                      {"next", {{"type", "string"}, {"nullable", true}}}}}}}}}}}};
        } else if (m == "POST") {
          op["requestBody"] = body;
          op["responses"]["201"] = {{"description", "created"},
                                    {"content", {{"application/json", {{"schema", ref}}}}}};
        } else if (m == "PUT") {
          op["requestBody"] = body;
          op["responses"]["200"] = {{"description", "replaced (or unchanged)"},
                                    {"content", {{"application/json", {{"schema", ref}}}}}};
          op["responses"]["201"] = {{"description", "created at this id"},
                                    {"content", {{"application/json", {{"schema", ref}}}}}};
        } else if (m == "PATCH") {
          op["requestBody"] = {
              {"required", true},
              {"content", {{"application/merge-patch+json", {{"schema", {{"type", "object"}}}}}}}};
          op["responses"]["200"] = {{"description", "patched"},
                                    {"content", {{"application/json", {{"schema", ref}}}}}};
        } else if (m == "DELETE") {
          op["responses"]["204"] = {{"description", "deleted"}};
        } else {
          op["responses"]["200"] = {{"description", "the object"},
                                    {"content", {{"application/json", {{"schema", ref}}}}}};
        }
      }
      item[verb] = std::move(op);
    }
    paths[path] = std::move(item);
  }
  for (const auto& k : model::kinds()) {
    json props = {{"id", {{"type", "string"}, {"format", "uuid"}, {"readOnly", true}}},
                  {"etag", {{"type", "string"}, {"readOnly", true}}}};
    if (k.tenant_owned) props["tenant_id"] = {{"type", "string"}, {"format", "uuid"}};
    json required = json::array();
    json order = json::array();
    for (const auto& f : k.fields) {
      props[f.name] = schema_of(f);
      if (f.required) required.push_back(f.name);
      order.push_back(f.name);
    }
    schemas[k.collection] = {{"type", "object"},
                             {"properties", props},
                             {"required", required},
                             {"x-vnet-fields", order},
                             {"x-vnet-singular", k.singular},
                             {"x-vnet-tenant-owned", k.tenant_owned},
                             {"x-vnet-admin-only", k.admin_only},
                             {"x-vnet-tenants-read", k.tenants_read}};
  }
  return {{"openapi", "3.0.3"},
          {"info", {{"title", "vnet controller API"}, {"version", "1"}}},
          {"components",
           {{"schemas", schemas},
            {"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}},
          {"security", {{{"bearer", json::array()}}}},
          {"paths", paths}};
}

}  // namespace vnet::api
