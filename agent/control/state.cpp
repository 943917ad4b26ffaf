#include "agent/control/state.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include "shared/policy/delta.h"
#include "shared/policy/json.h"
#include "shared/util/file.h"

namespace vnet::agent {

void StateDir::ensure() const {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec)
    throw std::runtime_error(
        fmt::format("--state-dir {}: cannot create it: {}", dir_.string(), ec.message()));
  ::chmod(dir_.c_str(), 0700);
}

bool StateDir::enrolled() const {
  return std::filesystem::exists(key()) && std::filesystem::exists(certificate()) &&
         std::filesystem::exists(ca());
}

void StateDir::save_identity(const std::string& key_pem, const std::string& cert_pem,
                             const std::string& ca_pem) const {
  write_file_atomically(key(), key_pem, 0600);
  write_file_atomically(ca(), ca_pem, 0644);
  write_file_atomically(certificate(), cert_pem, 0644);  // last: marks enrollment done
}

std::optional<policy::HostPolicy> StateDir::load_policy(std::string& error) const {
  if (!std::filesystem::exists(policy())) return std::nullopt;
  auto parsed = policy::from_json_text(read_file(policy()));
  if (!parsed) {
    error = fmt::format("{}: {}", policy().string(), parsed.error().to_string());
    return std::nullopt;
  }
  policy::canonicalize(*parsed);
  return *parsed;
}

void StateDir::save_policy(const policy::HostPolicy& p) const {
  write_file_atomically(policy(), policy::to_json_text(p, 2) + "\n", 0644);
}

}  // namespace vnet::agent
