// Writes frames to a classic pcap file (link type Ethernet), so independent
// decoders such as tshark can check what vnet puts on the wire.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vnet::testing {

// Returns false when the file cannot be written.
bool write_pcap(const std::string& path, const std::vector<std::vector<uint8_t>>& frames);

}  // namespace vnet::testing
