// Why a packet could not be parsed. Parsers return these instead of throwing,
// so the data path can count them by name.
#pragma once

#include <cstdint>
#include <string_view>

#include "shared/util/expected.h"

namespace vnet::packet {

enum class ParseError : uint8_t {
  kTruncated,        // the span ends before the header or the length it declares
  kBadVersion,       // IP version, GRE version
  kBadHeaderLength,  // IHL, TCP data offset below the minimum
  kBadLength,        // a length field smaller than its own header
  kBadFlags,         // flags a receiver must discard (GRE reserved0 bits 1, 4, 5)
  kUnsupported,      // well-formed but not what vnet carries (ARP for non-IPv4, GRE without NVGRE's
                     // flags)
  kBadMagic,         // DHCP magic cookie
  kBadOption,        // an option runs past the end of the packet
};

constexpr std::string_view to_string(ParseError e) {
  switch (e) {
    case ParseError::kTruncated: return "truncated";
    case ParseError::kBadVersion: return "bad_version";
    case ParseError::kBadHeaderLength: return "bad_header_length";
    case ParseError::kBadLength: return "bad_length";
    case ParseError::kBadFlags: return "bad_flags";
    case ParseError::kUnsupported: return "unsupported";
    case ParseError::kBadMagic: return "bad_magic";
    case ParseError::kBadOption: return "bad_option";
  }
  return "unknown";
}

template <class View>
using Parsed = Expected<View, ParseError>;

// Views come in a read-only (const uint8_t) and a writable (uint8_t) flavour.
template <class Byte>
concept PacketByte = std::is_same_v<std::remove_const_t<Byte>, uint8_t>;
template <class Byte>
concept Writable = PacketByte<Byte> && !std::is_const_v<Byte>;

}  // namespace vnet::packet
