// libFuzzer target for the REST API's pure request handler (router.h): the
// input is a request as text, "METHOD TARGET\n", header lines "name: value",
// an empty line, then the body; its first byte picks the token (admin,
// tenant, none). The router runs on a real model in a temporary SQLite
// database. Whatever the bytes, it answers: a status from 200 to 599, a
// body that is JSON when it says so (problem documents included), never an
// exception, never a crash.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "controller/api/metrics.h"
#include "controller/api/router.h"
#include "controller/model/service.h"
#include "controller/store/store.h"

namespace {

using namespace vnet;

struct World {
  std::filesystem::path dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<model::Service> service;
  api::Metrics metrics;
  std::unique_ptr<api::Router> router;
  std::string admin;
  std::string tenant;

  World() {
    char path[] = "/tmp/vnet-fuzz-router-XXXXXX";
    dir = ::mkdtemp(path);
    store = std::make_unique<store::Store>((dir / "vnet.db").string());
    service = std::make_unique<model::Service>(*store);
    router = std::make_unique<api::Router>(*service, metrics);
    admin = *service->bootstrap_admin_token();
    const model::Principal system{model::Role::kAdmin, "", ""};
    const auto t = service->create(system, model::kind("tenants"), {{"name", "fuzz"}});
    tenant = service
                 ->create(system, model::kind("tokens"),
                          {{"name", "fuzz"}, {"tenant_id", t.object.at("id")}})
                 .object.at("token");
    const auto ln = service->create(system, model::kind("logical-networks"), {{"name", "dc"}});
    (void)ln;
  }
  ~World() {
    router.reset();
    service.reset();
    store.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

World& world() {
  static World w;
  return w;
}

api::Request parse(std::string_view in, const World& w) {
  api::Request r;
  if (in.empty()) return r;
  const uint8_t who = static_cast<uint8_t>(in[0]) % 3;
  in.remove_prefix(1);
  auto line = [&]() {
    const size_t nl = in.find('\n');
    std::string_view l = in.substr(0, nl);
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
    return l;
  };
  const std::string_view first = line();
  const size_t space = first.find(' ');
  r.method = std::string(first.substr(0, space));
  r.target = space == std::string_view::npos ? "/" : std::string(first.substr(space + 1));
  for (std::string_view h = line(); !h.empty(); h = line()) {
    const size_t colon = h.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(h.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = h.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    r.headers[name] = std::string(value);
  }
  r.body = std::string(in);
  if (who == 0) r.headers["authorization"] = "Bearer " + w.admin;
  if (who == 1) r.headers["authorization"] = "Bearer " + w.tenant;
  if (!r.body.empty() && !r.headers.contains("content-type"))
    r.headers["content-type"] = "application/json";
  r.request_id = "fuzz";
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > api::kMaxBodyBytes) return 0;  // the server answers 413 before the router
  World& w = world();
  const api::Request request =
      parse(std::string_view(reinterpret_cast<const char*>(data), size), w);
  const api::Response response = w.router->handle(request);
  if (response.status < 200 || response.status > 599) std::abort();
  if (response.deferred) return 0;  // ?wait=realized: the server's to finish
  const bool json_type = response.content_type == "application/json" ||
                         response.content_type == "application/problem+json";
  if (json_type && !response.body.empty() && request.method != "HEAD") {
    const auto parsed = nlohmann::json::parse(response.body, nullptr, false);
    if (parsed.is_discarded()) std::abort();
    if (response.content_type == "application/problem+json" &&
        parsed.value("status", 0) != response.status)
      std::abort();
  }
  if (response.route.empty()) std::abort();
  return 0;
}
