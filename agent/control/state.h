// The agent's state directory (--state-dir, default /var/lib/vnet-agent):
//   agent.key    its private key (0600), made at enrollment
//   agent.crt    its certificate, CN = host id, from the controller's CA
//   ca.crt       the controller's CA, pinned by --ca-sha256 at enrollment
//   policy.json  the last policy applied, written atomically; the agent
//                starts from it, so a host forwards while the controller is away
//   agent.sock   the local admin socket (vnet-agent show ...)
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "shared/policy/host_policy.h"

namespace vnet::agent {

class StateDir {
 public:
  explicit StateDir(std::filesystem::path dir) : dir_(std::move(dir)) {}

  const std::filesystem::path& path() const { return dir_; }
  std::filesystem::path key() const { return dir_ / "agent.key"; }
  std::filesystem::path certificate() const { return dir_ / "agent.crt"; }
  std::filesystem::path ca() const { return dir_ / "ca.crt"; }
  std::filesystem::path policy() const { return dir_ / "policy.json"; }
  std::filesystem::path socket() const { return dir_ / "agent.sock"; }

  // Creates the directory (0700) if needed; throws with the reason.
  void ensure() const;
  bool enrolled() const;
  void save_identity(const std::string& key_pem, const std::string& cert_pem,
                     const std::string& ca_pem) const;
  // The last policy, if there is one; a file that does not parse or
  // validate is reported in `error` and ignored.
  std::optional<policy::HostPolicy> load_policy(std::string& error) const;
  void save_policy(const policy::HostPolicy& policy) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace vnet::agent
