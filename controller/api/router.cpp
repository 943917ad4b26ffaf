#include "controller/api/router.h"

#include "controller/store/database.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "controller/model/kinds.h"
#include "controller/model/problem.h"
#include "controller/model/types.h"
#include "shared/log/log.h"
#include "shared/util/json_text.h"

namespace vnet::api {
namespace {

using model::Problem;
using nlohmann::json;

constexpr std::string_view kApi = "/api/v1/";

// Never throws: bytes that are not UTF-8 (from a client, echoed in a
// message) come out as U+FFFD rather than ending the connection unanswered.
std::string dump(const json& body) {
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

Response json_response(int status, const json& body) {
  Response r;
  r.status = status;
  r.body = dump(body);
  return r;
}

// RFC 3629: what nlohmann::json accepts, checked before anything echoes it.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = cp << 6 | (d & 0x3f);
    }
    const uint32_t min = n == 1 ? 0x80 : n == 2 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

Response problem_of(const Problem& p, const std::string& request_id) {
  json body = {{"type", "about:blank"},
               {"title", p.title()},
               {"status", p.status()},
               {"detail", p.detail()},
               {"request_id", request_id}};
  if (!p.errors().empty()) {
    json errors = json::array();
    for (const auto& e : p.errors()) errors.push_back({{"field", e.field}, {"message", e.message}});
    body["errors"] = std::move(errors);
  }
  Response r;
  r.status = p.status();
  r.content_type = "application/problem+json";
  r.body = dump(body);
  return r;
}

std::string percent_decode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%' && i + 2 < in.size() &&
               std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (!pair.empty()) {
      out[percent_decode(pair.substr(0, eq))] =
          eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

// The media type without parameters, lower case.
std::string media_type(const std::string& content_type) {
  std::string type = content_type.substr(0, content_type.find(';'));
  type.erase(std::remove_if(type.begin(), type.end(), ::isspace), type.end());
  std::transform(type.begin(), type.end(), type.begin(), ::tolower);
  return type;
}

json parse_body(const Request& request, bool patch) {
  const std::string type = media_type(request.header("content-type"));
  const bool ok = type == "application/json" || (patch && type == "application/merge-patch+json");
  if (!ok) {
    throw Problem(415, "Unsupported Media Type",
                  fmt::format("send the body as application/json{} (got \"{}\")",
                              patch ? " or application/merge-patch+json" : "",
                              request.header("content-type")));
  }
  if (request.body.size() > kMaxBodyBytes) {
    throw Problem(413, "Content Too Large", "the body is over 1 MiB");
  }
  if (json_depth(request.body) > kMaxJsonDepth) {
    throw model::bad_request(
        fmt::format("the body nests arrays and objects deeper than {} levels", kMaxJsonDepth));
  }
  try {
    return json::parse(request.body);  // also refuses strings that are not UTF-8
  } catch (const json::exception& e) {
    throw model::bad_request(fmt::format("the body is not valid JSON: {}", e.what()));
  }
}

// ?wait=realized[&timeout=SECONDS]: how long a write may wait for its
// change to reach the hosts (default 30 s, at most 300 s).
std::optional<std::chrono::milliseconds> wait_of(const std::string& query) {
  auto params = parse_query(query);
  const auto wait = params.find("wait");
  if (wait == params.end()) {
    if (params.contains("timeout")) throw model::invalid("?timeout", "goes with ?wait=realized");
    return std::nullopt;
  }
  if (wait->second != "realized") throw model::invalid("?wait", "the only value is \"realized\"");
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  if (auto t = params.find("timeout"); t != params.end()) {
    const std::string& v = t->second;
    const bool digits = !v.empty() && v.size() <= 3 && std::all_of(v.begin(), v.end(), ::isdigit);
    if (!digits || std::stoul(v) < 1 || std::stoul(v) > 300)
      throw model::invalid("?timeout", "must be a number of seconds from 1 to 300");
    timeout = std::chrono::seconds(std::stoul(v));
  }
  return timeout;
}

model::Principal authenticate(model::Service& service, const Request& request) {
  const std::string auth = request.header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.size() <= kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), auth.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    throw Problem(401, "Unauthorized", "send a token: Authorization: Bearer <token>");
  }
  auto who = service.authenticate(std::string_view(auth).substr(kBearer.size()));
  if (!who) throw Problem(401, "Unauthorized", "the token is not valid (revoked, or never issued)");
  return *who;
}

std::optional<std::string> if_match(const Request& request) {
  const auto it = request.headers.find("if-match");
  if (it == request.headers.end()) return std::nullopt;
  return it->second;
}

Response item_response(int status, const json& object) {
  Response r = json_response(status, object);
  r.headers.emplace_back("ETag", fmt::format("\"{}\"", object.at("etag").get<std::string>()));
  return r;
}

Response method_not_allowed(const std::vector<std::string>& allowed, const std::string& method) {
  std::string list;
  for (const auto& m : allowed) list += (list.empty() ? "" : ", ") + m;
  Problem p(405, "Method Not Allowed",
            fmt::format("{} is not allowed here; allowed: {}", method, list));
  Response r = problem_of(p, "");
  r.headers.emplace_back("Allow", list);
  return r;
}

}  // namespace

Response problem_response(int status, const std::string& title, const std::string& detail,
                          const std::string& request_id) {
  return problem_of(Problem(status, title, detail), request_id);
}

std::vector<std::pair<std::string, std::vector<std::string>>> Router::routes() {
  std::vector<std::pair<std::string, std::vector<std::string>>> out = {
      {"/healthz", {"GET"}},
      {"/metrics", {"GET"}},
      {"/api/v1/openapi.json", {"GET"}},
      {"/api/v1/whoami", {"GET"}},
      {"/api/v1/trace", {"GET"}}};
  for (const auto& k : model::kinds()) {
    out.push_back({"/api/v1/" + k.collection, {"GET", "POST"}});
    out.push_back({"/api/v1/" + k.collection + "/{id}", {"GET", "PUT", "PATCH", "DELETE"}});
  }
  out.push_back({"/api/v1/hosts/{id}/policy", {"GET"}});
  out.push_back({"/api/v1/hosts/{id}/enrollment", {"POST", "DELETE"}});
  return out;
}

// The route template a path matches ("/api/v1/vm-nics/{id}"), for metrics:
// a fixed set, so no client can grow /metrics by inventing paths.
std::string Router::route_of(const std::string& path) {
  static const std::vector<std::string> templates = [] {
    std::vector<std::string> out;
    for (const auto& [route, methods] : routes()) out.push_back(route);
    return out;
  }();
  for (const std::string& t : templates) {
    const size_t id = t.find("{id}");
    if (id == std::string::npos) {
      if (path == t) return t;
      continue;
    }
    const std::string_view prefix = std::string_view(t).substr(0, id);
    const std::string_view suffix = std::string_view(t).substr(id + 4);
    if (path.size() <= prefix.size() + suffix.size() ||
        path.compare(0, prefix.size(), prefix) != 0 ||
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string_view segment =
        std::string_view(path).substr(prefix.size(), path.size() - prefix.size() - suffix.size());
    if (segment.find('/') == std::string_view::npos) return t;
  }
  if (path.rfind(kApi, 0) != 0 && path != "/api/v1") return "console";
  return "unmatched";
}

namespace {

// A 500: what failed goes to the log under the request id, never to the
// client (a database error names tables, constraints, where the database
// is; a tenant has no business with any of it).
Response internal_failure(const std::string& request_id, const std::exception& e) {
  spdlog::error("request_failed request_id={} error={}", request_id, log::quote(e.what()));
  return problem_of(Problem(500, "Internal Server Error",
                            fmt::format("the controller failed; its log names the error under "
                                        "request id {}",
                                        request_id)),
                    request_id);
}

}  // namespace

Response Router::handle(const Request& request) {
  const size_t q = request.target.find('?');
  const std::string path = request.target.substr(0, q);
  const std::string query = q == std::string::npos ? "" : request.target.substr(q + 1);
  Response response;
  try {
    if (!valid_utf8(request.target) || !valid_utf8(percent_decode(request.target))) {
      throw model::bad_request("the request target holds bytes that are not UTF-8");
    }
    response = dispatch(request, path, query);
  } catch (const Problem& p) {
    response = problem_of(p, request.request_id);
    if (p.status() == 401) response.headers.emplace_back("WWW-Authenticate", "Bearer");
  } catch (const json::type_error& e) {
    // A value of the wrong JSON type that a check let through: the
    // client's mistake all the same.
    response =
        problem_of(model::bad_request(fmt::format("a field has the wrong JSON type: {}", e.what())),
                   request.request_id);
  } catch (const store::StoreError& e) {
    if (e.is_unavailable() || e.is_busy()) {
      // The database is away (PostgreSQL restarting, the network): the
      // write did not happen; the next connection is made on the next try.
      // Where the database is stays in the log, not in the answer.
      spdlog::warn("database_unavailable request_id={} error={}", request.request_id,
                   log::quote(e.what()));
      response = problem_of(Problem(503, "Service Unavailable",
                                    "the database is unavailable; nothing was changed, try again"),
                            request.request_id);
      response.headers.emplace_back("Retry-After", "1");
    } else {
      response = internal_failure(request.request_id, e);
    }
  } catch (const std::exception& e) {
    // A bug or a broken disk, never the client's fault: say so, keep serving.
    response = internal_failure(request.request_id, e);
  }
  response.route = route_of(path);
  return response;
}

Response Router::dispatch(const Request& request, const std::string& path,
                          const std::string& query) {
  const std::string& method = request.method;
  if (path == "/healthz") {
    if (method != "GET" && method != "HEAD") return method_not_allowed({"GET"}, method);
    return json_response(200, {{"status", "ok"}});
  }
  if (path == "/metrics") {
    if (method != "GET" && method != "HEAD") return method_not_allowed({"GET"}, method);
    Response r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = metrics_.render(service_.counts());
    if (agents_ != nullptr) r.body += agents_->metrics();
    return r;
  }
  if (path == "/api/v1/openapi.json") {
    if (method != "GET" && method != "HEAD") return method_not_allowed({"GET"}, method);
    return json_response(200, openapi());
  }
  if (path == "/api/v1/whoami") {
    if (method != "GET" && method != "HEAD") return method_not_allowed({"GET"}, method);
    return json_response(200, whoami(authenticate(service_, request)));
  }
  if (path == "/api/v1/trace") {
    if (method != "GET" && method != "HEAD") return method_not_allowed({"GET"}, method);
    const model::Principal who = authenticate(service_, request);
    auto params = parse_query(query);
    for (const auto& [name, value] : params) {
      if (name != "from" && name != "to" && name != "protocol" && name != "port" && name != "src")
        throw model::invalid("?" + name,
                             "is not a parameter of /trace (from, to, protocol, port, src)");
    }
    if (!allow_trace(who.token_id)) {
      Response r = problem_response(
          429, "Too Many Requests",
          fmt::format("at most {} traces a second per token (a burst of {}); try again in a "
                      "second",
                      kTracesPerSecond, kTraceBurst),
          request.request_id);
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    if (!params.contains("from")) throw model::invalid("?from", "is required: the VM NIC's id");
    if (!params.contains("to"))
      throw model::invalid("?to", "is required: the destination IPv4 address");
    // The NIC as the caller may see it: another tenant's is a 404.
    const json nic = service_.get(who, model::kind("vm-nics"), params.at("from"));
    if (agents_ == nullptr)
      throw Problem(503, "Service Unavailable", "the southbound side is not running");
    return json_response(200, agents_->trace(nic, params));
  }
  if (path.rfind(kApi, 0) != 0) {
    if (web_ != nullptr && (method == "GET" || method == "HEAD") && path != "/api/v1")
      return web_->serve(request, path);
    throw model::not_found(fmt::format("there is nothing at {}; the API is under /api/v1/", path));
  }
  const std::string rest = path.substr(kApi.size());
  if (rest.rfind("hosts/", 0) == 0) {
    const size_t second = rest.find('/', 6);
    if (second != std::string::npos && second > 6)
      return host_action(request, rest.substr(6, second - 6), rest.substr(second + 1));
  }
  const size_t slash = rest.find('/');
  const model::Kind* kind = model::find_kind(rest.substr(0, slash));
  const std::string id = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (kind == nullptr ||
      (slash != std::string::npos && (id.empty() || id.find('/') != std::string::npos))) {
    throw model::not_found(fmt::format("there is no collection or object at {}", path));
  }

  if (id.empty()) {
    if (method != "GET" && method != "POST") return method_not_allowed({"GET", "POST"}, method);
    const model::Principal who = authenticate(service_, request);
    if (method == "POST") {
      const auto wait = wait_of(query);
      const model::Written created = service_.create(who, *kind, parse_body(request, false));
      const std::string created_id = created.object.at("id");
      Response r = item_response(201, created.object);
      r.headers.emplace_back("Location", "/api/v1/" + kind->collection + "/" + created_id);
      if (wait) defer_until_realized(r, *wait, who, *kind, created_id, false, created.sequence);
      return r;
    }
    auto params = parse_query(query);
    size_t limit = model::Service::kDefaultLimit;
    if (auto it = params.find("limit"); it != params.end()) {
      const std::string& v = it->second;
      const bool digits = !v.empty() && v.size() <= 4 && std::all_of(v.begin(), v.end(), ::isdigit);
      if (!digits || std::stoul(v) < 1 || std::stoul(v) > model::Service::kMaxLimit) {
        throw model::invalid(
            "?limit", fmt::format("must be a number from 1 to {}", model::Service::kMaxLimit));
      }
      limit = std::stoul(v);
      params.erase(it);
    }
    std::string cursor;
    if (auto it = params.find("cursor"); it != params.end()) {
      cursor = it->second;
      params.erase(it);
    }
    const model::Page page = service_.list(who, *kind, params, limit, cursor);
    return json_response(200,
                         {{"items", page.items}, {"next", page.next ? json(*page.next) : json()}});
  }

  if (method != "GET" && method != "PUT" && method != "PATCH" && method != "DELETE") {
    return method_not_allowed({"GET", "PUT", "PATCH", "DELETE"}, method);
  }
  const model::Principal who = authenticate(service_, request);
  if (method == "GET") return item_response(200, service_.get(who, *kind, id));
  const auto wait = wait_of(query);
  Response r;
  uint64_t sequence = 0;
  if (method == "PUT") {
    const auto result = service_.put(who, *kind, id, parse_body(request, false), if_match(request));
    r = item_response(result.created ? 201 : 200, result.object);
    sequence = result.sequence;
    if (result.created)
      r.headers.emplace_back("Location", "/api/v1/" + kind->collection + "/" + id);
  } else if (method == "PATCH") {
    const auto result =
        service_.patch(who, *kind, id, parse_body(request, true), if_match(request));
    r = item_response(200, result.object);
    sequence = result.sequence;
  } else {
    sequence = service_.remove(who, *kind, id, if_match(request));
    r.status = 204;
    r.content_type.clear();
  }
  if (wait) defer_until_realized(r, *wait, who, *kind, id, method == "DELETE", sequence);
  return r;
}

// Who the token is: what a client (the console) needs to choose its view
// without probing for 403s. A tenant learns its own tenant's name here and
// nothing else of the admin collections.
bool Router::allow_trace(const std::string& token_id) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(trace_mutex_);
  if (trace_budget_.size() > 10000) trace_budget_.clear();  // bounded: tokens come and go
  auto [it, fresh] = trace_budget_.try_emplace(token_id, kTraceBurst, now);
  auto& [tokens, last] = it->second;
  if (!fresh) {
    tokens = std::min(
        kTraceBurst, tokens + std::chrono::duration<double>(now - last).count() * kTracesPerSecond);
    last = now;
  }
  if (tokens < 1) return false;
  tokens -= 1;
  return true;
}

json Router::whoami(const model::Principal& who) {
  const model::Principal system{.role = model::Role::kAdmin, .tenant_id = "", .token_id = ""};
  json out = {{"role", who.is_admin() ? "admin" : "tenant"}, {"token_id", who.token_id}};
  try {
    out["token_name"] = service_.get(system, model::kind("tokens"), who.token_id).at("name");
  } catch (const Problem&) {
    out["token_name"] = nullptr;
  }
  if (who.is_admin()) {
    out["tenant_id"] = nullptr;
    out["tenant_name"] = nullptr;
  } else {
    out["tenant_id"] = who.tenant_id;
    json tenant = service_.get(system, model::kind("tenants"), who.tenant_id);
    out["tenant_name"] = tenant.at("name");
    // What the administrator granted, by name: the choices of the tenant's
    // VM network and gateway forms.
    auto named = [&](const char* grants, const char* collection) {
      json list = json::array();
      for (const auto& id : tenant.value(grants, json::array())) {
        try {
          const json object = service_.get(system, model::kind(collection), id.get<std::string>());
          list.push_back({{"id", id}, {"name", object.value("name", "")}});
        } catch (const Problem&) {
          // Deleted since: nothing to offer.
        }
      }
      return list;
    };
    out["logical_networks"] = named("logical_network_ids", "logical-networks");
    out["external_pools"] = named("external_pool_ids", "ip-pools");
    // The port profiles its NICs may name, and the one they get otherwise.
    // Without port_profile_ids: the built-in profiles (those still there).
    tenant["port_profile_ids"] = model::granted_port_profiles(
        tenant.contains("port_profile_ids")
            ? std::optional(tenant["port_profile_ids"].get<std::vector<std::string>>())
            : std::nullopt);
    out["port_profiles"] = named("port_profile_ids", "port-profiles");
    if (const auto d = tenant.find("default_port_profile_id"); d != tenant.end())
      out["default_port_profile_id"] = *d;
  }
  return out;
}

Response Router::host_action(const Request& request, const std::string& host_id,
                             const std::string& action) {
  const std::string& method = request.method;
  const std::vector<std::string> allowed = action == "policy" ? std::vector<std::string>{"GET"}
                                           : action == "enrollment"
                                               ? std::vector<std::string>{"POST", "DELETE"}
                                               : std::vector<std::string>{};
  if (allowed.empty())
    throw model::not_found(fmt::format("there is nothing at /api/v1/hosts/{}/{}", host_id, action));
  if (std::find(allowed.begin(), allowed.end(), method) == allowed.end())
    return method_not_allowed(allowed, method);
  const model::Principal who = authenticate(service_, request);
  service_.get(who, model::kind("hosts"), host_id);  // 404 (or 403 for tenants) first
  if (agents_ == nullptr)
    throw Problem(503, "Service Unavailable", "the southbound side is not running");
  if (action == "policy") {
    auto text = agents_->policy(host_id);
    if (!text) throw model::not_found(fmt::format("host {} has no compiled policy yet", host_id));
    Response r;
    r.body = std::move(*text);
    return r;
  }
  if (method == "POST") return json_response(201, agents_->enroll(host_id, request.header("host")));
  if (!agents_->revoke(host_id)) {
    throw model::not_found(fmt::format("host {} has no certificate to revoke", host_id));
  }
  Response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

void Router::defer_until_realized(Response& response, std::chrono::milliseconds timeout,
                                  const model::Principal& who, const model::Kind& kind,
                                  const std::string& id, bool deleted, uint64_t sequence) {
  if (agents_ == nullptr)
    throw Problem(503, "Service Unavailable", "the southbound side is not running");
  auto d = std::make_shared<Deferred>();
  d->timeout = timeout;
  Agents* agents = agents_;
  d->subscribe = [agents, sequence](std::function<void()> wake) {
    return agents->when_realized(sequence, std::move(wake));
  };
  d->cancel = [agents](uint64_t handle) { agents->cancel_wait(handle); };
  // The answer is the write's, with realization shown as it is now.
  // The answer is the write's, with realization shown as it is now:
  // realized only when every host the change concerns applied it; failed
  // when it did and the object says failure (a NIC whose interface is
  // missing); pending otherwise (a host not connected, or the time ran out).
  // The object's configuration_state carries the codes.
  d->finish = [this, first = response, who, &kind, id, deleted, agents, sequence](bool) {
    Response r = first;
    r.deferred.reset();
    json object;
    if (!deleted) {
      try {
        object = service_.get(who, kind, id);
        r.body = object.dump();
      } catch (const Problem&) {  // deleted meanwhile: the write's own answer stands
      }
    }
    std::string state = agents->realized(sequence) ? "realized" : "pending";
    if (state == "realized" && object.is_object() && object.contains("configuration_state") &&
        object["configuration_state"].value("status", "") == "failure")
      state = "failed";
    r.headers.emplace_back("Vnet-Realization", state);
    return r;
  };
  response.deferred = std::move(d);
}

}  // namespace vnet::api
