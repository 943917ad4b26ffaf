// `vnet-agent show status|policy|lookup-records|customer-routes|ports|counters|
// gateways|nat`:
// asks the running agent over its admin socket and prints a table (the
// Get-NetVirtualization* cmdlets' columns) or, with -o json, the JSON.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace vnet::agent {

// Returns the exit code; errors go to stderr.
int show(const std::filesystem::path& state_dir, const std::string& what,
         const std::string& output);

// `vnet-agent trace --from NIC|INTERFACE --to IP [--protocol P --port N --src IP]`:
// the path of a packet from a port through the running agent's live tables.
int trace(const std::filesystem::path& state_dir, const nlohmann::json& request,
          const std::string& output);

}  // namespace vnet::agent
