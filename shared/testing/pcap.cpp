#include "shared/testing/pcap.h"

#include <cstdio>
#include <cstring>

namespace vnet::testing {
namespace {

void put32(std::vector<uint8_t>& out, uint32_t v) {
  // pcap headers are in the writer's byte order; the magic number tells
  // readers which. Write little-endian explicitly.
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v));
  out.push_back(static_cast<uint8_t>(v >> 8));
}

}  // namespace

bool write_pcap(const std::string& path, const std::vector<std::vector<uint8_t>>& frames) {
  std::vector<uint8_t> out;
  put32(out, 0xa1b2c3d4);  // microsecond timestamps
  put16(out, 2);
  put16(out, 4);
  put32(out, 0);      // thiszone
  put32(out, 0);      // sigfigs
  put32(out, 65535);  // snaplen
  put32(out, 1);      // LINKTYPE_ETHERNET
  uint32_t second = 1;
  for (const auto& frame : frames) {
    put32(out, second++);
    put32(out, 0);
    put32(out, static_cast<uint32_t>(frame.size()));
    put32(out, static_cast<uint32_t>(frame.size()));
    out.insert(out.end(), frame.begin(), frame.end());
  }
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace vnet::testing
