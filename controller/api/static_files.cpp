#include "controller/api/static_files.h"

#include <fmt/format.h>

#include <array>
#include <fstream>
#include <sstream>
#include <string_view>
#include <utility>

#include "controller/api/router.h"

namespace vnet::api {
namespace {

constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kTypes = {{
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
    {".woff2", "font/woff2"},
}};

// The console loads nothing from elsewhere (no CDN), runs no inline script
// and cannot be framed. Inline styles stay allowed: cytoscape and uPlot
// size their canvases with them.
constexpr std::string_view kPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'";

std::string_view type_of(std::string_view path) {
  const size_t dot = path.rfind('.');
  if (dot == std::string_view::npos) return {};
  for (const auto& [ext, type] : kTypes)
    if (path.substr(dot) == ext) return type;
  return {};
}

// A relative path of plain segments: no "..", no dot files (.git, .env),
// no backslashes or NULs, nothing from npm's own files.
bool safe(std::string_view rel) {
  if (rel.empty() || rel.find('\\') != std::string_view::npos ||
      rel.find('\0') != std::string_view::npos)
    return false;
  while (!rel.empty()) {
    const size_t slash = rel.find('/');
    const std::string_view segment = rel.substr(0, slash);
    if (segment.empty() || segment.front() == '.' || segment == "node_modules") return false;
    if (slash == std::string_view::npos) break;
    rel.remove_prefix(slash + 1);
  }
  return true;
}

Response not_found(const Request& request, const std::string& detail) {
  Response r = problem_response(404, "Not Found", detail, request.request_id);
  r.route = "/{console}";
  return r;
}

}  // namespace

StaticFiles::StaticFiles(std::filesystem::path root) : root_(std::move(root)) {}

bool StaticFiles::installed() const {
  std::error_code ec;
  return std::filesystem::is_regular_file(root_ / "index.html", ec);
}

Response StaticFiles::serve(const Request& request, const std::string& path) const {
  const std::string rel = path == "/" ? "index.html" : path.substr(1);
  const std::string_view type = type_of(rel);
  if (type.empty() || !safe(rel)) {
    return not_found(request,
                     fmt::format("there is nothing at {}; the API is under /api/v1/", path));
  }
  const std::filesystem::path file = root_ / rel;
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  const auto mtime =
      ec ? std::filesystem::file_time_type{} : std::filesystem::last_write_time(file, ec);
  if (ec || !std::filesystem::is_regular_file(file, ec)) {
    if (path == "/") {
      return not_found(request, fmt::format("the web console is not installed: {} has no "
                                            "index.html (see --web-dir)",
                                            root_.string()));
    }
    return not_found(request, fmt::format("there is nothing at {}", path));
  }
  const std::string etag = fmt::format("\"{:x}-{:x}\"", size, mtime.time_since_epoch().count());
  Response r;
  r.route = "/{console}";
  r.headers.emplace_back("ETag", etag);
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (type.starts_with("text/html")) {
    r.headers.emplace_back("Content-Security-Policy", std::string(kPolicy));
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  if (request.header("if-none-match") == etag) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream body;
  body << in.rdbuf();
  if (!in) return not_found(request, fmt::format("there is nothing at {}", path));
  r.content_type = std::string(type);
  r.body = std::move(body).str();
  return r;
}

}  // namespace vnet::api
