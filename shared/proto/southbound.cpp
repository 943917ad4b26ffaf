#include "shared/proto/southbound.h"

#include <stdexcept>

#include "shared/policy/json.h"

namespace vnet::proto {

using nlohmann::json;

json hello(std::string_view host_id, uint64_t generation, std::string_view uplink,
           uint16_t uplink_mtu, uint16_t external_mtu) {
  json m = {{"type", "hello"}, {"host_id", host_id}, {"generation", generation}};
  if (!uplink.empty()) m["uplink"] = uplink;
  if (uplink_mtu != 0) m["uplink_mtu"] = uplink_mtu;
  if (external_mtu != 0) m["external_mtu"] = external_mtu;
  return m;
}

json renew(std::string_view csr_pem) { return {{"type", "renew"}, {"csr", csr_pem}}; }

json certificate(std::string_view certificate_pem, std::string_view ca_pem) {
  return {{"type", "certificate"}, {"certificate", certificate_pem}, {"ca_certificate", ca_pem}};
}

json ack(uint64_t generation, const std::vector<Problem>& problems) {
  json list = json::array();
  for (const auto& p : problems) {
    json item{{"code", p.code}, {"message", p.message}};
    if (!p.nic_id.empty()) item["nic_id"] = p.nic_id;
    if (!p.gateway_id.empty()) item["gateway_id"] = p.gateway_id;
    list.push_back(std::move(item));
  }
  return {{"type", "ack"}, {"generation", generation}, {"problems", std::move(list)}};
}

json stats(const json& counters) { return {{"type", "stats"}, {"counters", counters}}; }

json snapshot(const policy::HostPolicy& p) {
  return {{"type", "snapshot"}, {"policy", policy::to_json(p)}};
}

json delta(const policy::PolicyDelta& d) {
  json out = policy::to_json(d);
  out["type"] = "delta";
  return out;
}

json ping() { return {{"type", "ping"}}; }
json pong() { return {{"type", "pong"}}; }

std::vector<Problem> problems_of(const json& ack) {
  std::vector<Problem> out;
  const auto it = ack.find("problems");
  if (it == ack.end()) return out;
  if (!it->is_array()) throw std::invalid_argument("/problems must be an array");
  for (const auto& p : *it) {
    if (!p.is_object() || !p.contains("code") || !p["code"].is_string())
      throw std::invalid_argument("/problems/*/code must be a string");
    for (const char* field : {"message", "nic_id", "gateway_id"}) {
      if (p.contains(field) && !p[field].is_string())
        throw std::invalid_argument(std::string("/problems/*/") + field + " must be a string");
    }
    if (out.size() == kMaxProblems)
      throw std::invalid_argument("/problems holds more than " + std::to_string(kMaxProblems));
    out.push_back({p["code"].get<std::string>(), p.value("message", std::string()),
                   p.value("nic_id", std::string()), p.value("gateway_id", std::string())});
  }
  return out;
}

}  // namespace vnet::proto
