// A packet in several UMEM frames (AF_XDP multi-buffer, a jumbo frame):
// the engine gathers it into one buffer for the pipeline, which reads one
// contiguous span, and scatters the result back into the packet's own
// frames to leave (docs/decisions.md, "Jumbo frames").
#pragma once

#include <linux/if_xdp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>

namespace vnet::agent::xsk {

#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)  // older headers lack it (Linux 6.6)
#endif

// Copies the pieces (UMEM addresses in `area`) one after the other into
// `into`; returns the bytes copied, or 0 when they do not fit.
inline uint32_t gather(std::span<const xdp_desc> pieces, const uint8_t* area,
                       std::span<uint8_t> into) {
  uint32_t total = 0;
  for (const xdp_desc& d : pieces) {
    if (total + d.len > into.size()) return 0;
    std::memcpy(into.data() + total, area + d.addr, d.len);
    total += d.len;
  }
  return total;
}

// Writes `bytes` back into the frames of `pieces` (each from the start of
// its frame, `frame_size` bytes at most), as descriptors in `out` with
// XDP_PKT_CONTD on all but the last; returns how many it used, 0 when the
// frames cannot hold it. The frames not used are the caller's to free.
inline uint32_t scatter(std::span<const uint8_t> bytes, std::span<const xdp_desc> pieces,
                        uint8_t* area, uint32_t frame_size, std::span<xdp_desc> out) {
  const size_t needed = (bytes.size() + frame_size - 1) / frame_size;
  if (needed == 0 || needed > pieces.size() || needed > out.size()) return 0;
  for (size_t j = 0; j < needed; ++j) {
    const uint64_t chunk = pieces[j].addr & ~uint64_t{frame_size - 1};
    const size_t at = j * frame_size;
    const auto len = static_cast<uint32_t>(std::min<size_t>(frame_size, bytes.size() - at));
    std::memcpy(area + chunk, bytes.data() + at, len);
    out[j] = xdp_desc{chunk, len, j + 1 < needed ? uint32_t{XDP_PKT_CONTD} : 0u};
  }
  return static_cast<uint32_t>(needed);
}

}  // namespace vnet::agent::xsk
