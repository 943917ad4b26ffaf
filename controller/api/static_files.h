// The web console's files (web/ of the repository, --web-dir of the
// controller), served read-only at `/`. Only known file types, no dot files,
// no way out of the directory; revalidated by ETag on every load, so a new
// release of the console is seen on the next page load.
#pragma once

#include <filesystem>
#include <string>

#include "controller/api/http.h"

namespace vnet::api {

class StaticFiles {
 public:
  explicit StaticFiles(std::filesystem::path root);

  // True when the directory holds index.html (the controller logs a
  // warning at start otherwise, and `/` answers 404 saying why).
  bool installed() const;
  const std::filesystem::path& root() const { return root_; }

  // GET or HEAD of `path` ("/" is index.html). 404 problem documents for
  // anything that is not a console file; 304 when If-None-Match matches.
  Response serve(const Request& request, const std::string& path) const;

 private:
  std::filesystem::path root_;
};

}  // namespace vnet::api
