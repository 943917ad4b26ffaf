// Files that must never be seen half-written: keys, certificates, the
// agent's last policy. Errors are std::runtime_error naming the file.
#pragma once

#include <filesystem>
#include <string>

namespace vnet {

// Writes `content` to `path` atomically: a temporary file beside it, fsync,
// rename over `path`, fsync of the directory. `mode` is set on the new file.
void write_file_atomically(const std::filesystem::path& path, const std::string& content,
                           unsigned mode);
std::string read_file(const std::filesystem::path& path);

}  // namespace vnet
