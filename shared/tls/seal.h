// Authenticated encryption of small secrets at rest (the controller CA's key
// in a shared database): AES-256-GCM with a random 96-bit nonce, as
// "v1:" + base64(nonce | ciphertext | tag). `context` is authenticated, not
// stored: a sealed value opens only for the purpose it was sealed for.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vnet::tls {

inline constexpr size_t kSealKeyBytes = 32;

// `key` must be kSealKeyBytes long (std::invalid_argument otherwise).
std::string seal(std::string_view key, std::string_view plaintext, std::string_view context);
// The plaintext, or nullopt when the key, the context or the bytes differ.
std::optional<std::string> unseal(std::string_view key, std::string_view sealed,
                                  std::string_view context);
// kSealKeyBytes from the system's random source.
std::string random_key();

}  // namespace vnet::tls
