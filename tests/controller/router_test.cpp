// The router as a pure function: Request values in, Response values out,
// no sockets (Beast's handle_request pattern).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "controller/api/router.h"
#include "tests/controller/api_fixture.h"

namespace vnet::testing {
namespace {

using nlohmann::json;

class RouterTest : public ::testing::Test {
 protected:
  TempDir dir;
  store::Store store{test_store_url(dir.path())};
  model::Service service{store};
  api::Metrics metrics;
  api::Router router{service, metrics};
  std::string admin = service.bootstrap_admin_token().value();

  api::Response call(std::string method, std::string target, std::string body = "",
                     std::map<std::string, std::string> headers = {}) {
    api::Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    r.headers = std::move(headers);
    if (!r.headers.count("authorization")) r.headers["authorization"] = "Bearer " + admin;
    if (!r.body.empty() && !r.headers.count("content-type"))
      r.headers["content-type"] = "application/json";
    r.request_id = "t1";
    return router.handle(r);
  }
};

TEST_F(RouterTest, CreatesAndReadsWithoutASocket) {
  const auto created = call("POST", "/api/v1/tenants", R"({"name":"contoso"})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.route, "/api/v1/tenants");
  const std::string id = json::parse(created.body).at("id");
  const auto read = call("GET", "/api/v1/tenants/" + id);
  EXPECT_EQ(read.status, 200);
  EXPECT_EQ(read.route, "/api/v1/tenants/{id}");
  EXPECT_EQ(json::parse(read.body).at("name"), "contoso");
}

TEST_F(RouterTest, MediaTypesWithParametersAndMergePatch) {
  auto r = call("POST", "/api/v1/tenants", R"({"name":"a"})",
                {{"content-type", "Application/JSON; charset=utf-8"}});
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string id = json::parse(r.body).at("id");
  r = call("PATCH", "/api/v1/tenants/" + id, R"({"name":"b"})",
           {{"content-type", "application/merge-patch+json"}});
  EXPECT_EQ(r.status, 200) << r.body;
  r = call("POST", "/api/v1/tenants", R"({"name":"c"})",
           {{"content-type", "application/merge-patch+json"}});
  EXPECT_EQ(r.status, 415);  // merge patch is for PATCH only
  r = call("POST", "/api/v1/tenants", R"({"name":"c"})", {{"content-type", "text/plain"}});
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(r.content_type, "application/problem+json");
}

TEST_F(RouterTest, BodiesOverOneMebibyteAre413EvenWithoutTheServer) {
  const auto r = call("POST", "/api/v1/tenants", std::string(api::kMaxBodyBytes + 1, ' '));
  EXPECT_EQ(r.status, 413);
}

TEST_F(RouterTest, QueryStringsAreDecoded) {
  call("POST", "/api/v1/tenants", R"({"name":"a b"})");
  auto r = call("GET", "/api/v1/tenants?limit=%31");  // "1"
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).at("items").size(), 1u);
  r = call("GET", "/api/v1/tenants?limit=1&limit=2&cursor=");
  EXPECT_EQ(r.status, 200);
  r = call("GET", "/api/v1/vm-networks?logical_network_id=x%2Fy");
  EXPECT_EQ(r.status, 200);  // a filter on a reference column, nothing matches
  EXPECT_TRUE(json::parse(r.body).at("items").empty());
}

TEST_F(RouterTest, PathsThatAreAlmostRoutesAre404) {
  for (const char* target : {"/api/v1/", "/api/v1/tenants/", "/api/v1/tenants/a/b",
                             "/api/v2/tenants", "/api/v1/Tenants", "/"}) {
    const auto r = call("GET", target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(r.content_type, "application/problem+json") << target;
  }
}

TEST_F(RouterTest, AnInternalFailureIsA500ProblemNotACrash) {
  // A broken database underneath: the router answers 500 and keeps going.
  store.write([](store::Database& db) { db.exec("DROP TABLE routes"); });
  const auto r = call("GET", "/api/v1/routes");
  EXPECT_EQ(r.status, 500);
  // What failed (SQLite: "no such table: routes"; PostgreSQL: "relation
  // "routes" does not exist") is the log's, not the client's: the answer
  // gives the request id to look it up by.
  const std::string detail = json::parse(r.body).at("detail");
  EXPECT_EQ(detail.find("routes"), std::string::npos) << detail;
  EXPECT_EQ(detail.find("table"), std::string::npos) << detail;
  EXPECT_NE(detail.find("request id t1"), std::string::npos) << detail;
  EXPECT_EQ(call("GET", "/healthz").status, 200);
}

// The console's files at `/`, from a directory of the test's own.
class ConsoleFilesTest : public RouterTest {
 protected:
  ConsoleFilesTest() {
    std::filesystem::create_directories(web_dir.path() / "app");
    std::filesystem::create_directories(web_dir.path() / ".git");
    write("index.html", "<!doctype html><title>vnet</title>");
    write("app/main.js", "export const x = 1;\n");
    write("package.json", "{}");
    write(".git/config", "secret");
    std::ofstream(dir.path() / "outside.js") << "not-served";
  }
  void write(const std::string& rel, const std::string& text) {
    std::ofstream(web_dir.path() / rel) << text;
  }
  api::Response get(const std::string& target, std::map<std::string, std::string> headers = {}) {
    api::Request r;
    r.method = "GET";
    r.target = target;
    r.headers = std::move(headers);
    r.request_id = "t2";
    return console.handle(r);
  }
  static std::string header(const api::Response& r, const std::string& name) {
    for (const auto& [n, v] : r.headers)
      if (n == name) return v;
    return "";
  }
  TempDir web_dir;
  api::StaticFiles files{web_dir.path()};
  api::Router console{service, metrics, nullptr, &files};
};

TEST_F(ConsoleFilesTest, ServesIndexAndModulesWithTheirTypesAndPolicy) {
  const auto index = get("/");
  ASSERT_EQ(index.status, 200) << index.body;
  EXPECT_EQ(index.body, "<!doctype html><title>vnet</title>");
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_NE(header(index, "Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(header(index, "Cache-Control"), "no-cache");
  const auto module = get("/app/main.js?v=1");
  ASSERT_EQ(module.status, 200);
  EXPECT_EQ(module.body, "export const x = 1;\n");
  EXPECT_EQ(module.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(header(module, "X-Content-Type-Options"), "nosniff");
  // No token needed for the console itself; the API still wants one.
  EXPECT_EQ(get("/api/v1/tenants").status, 401);
}

TEST_F(ConsoleFilesTest, RevalidatesByEtag) {
  const auto first = get("/app/main.js");
  const std::string etag = header(first, "ETag");
  ASSERT_FALSE(etag.empty());
  const auto again = get("/app/main.js", {{"if-none-match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(get("/app/main.js", {{"if-none-match", "\"other\""}}).status, 200);
}

TEST_F(ConsoleFilesTest, NothingOutsideTheConsoleFiles) {
  for (const std::string target :
       {"/../outside.js", "/app/../../outside.js", "/.git/config", "/package.json",
        "/node_modules/x.js", "/app//main.js", "/missing.js", "/app", "/app/main.js/"}) {
    const auto r = get(target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(r.content_type, "application/problem+json") << target;
    EXPECT_EQ(r.body.find("secret"), std::string::npos) << target;
    EXPECT_EQ(r.body.find("not-served"), std::string::npos) << target;
  }
  api::Request post;
  post.method = "POST";
  post.target = "/";
  EXPECT_EQ(console.handle(post).status, 404);
}

TEST_F(ConsoleFilesTest, SaysWhenTheConsoleIsNotInstalled) {
  api::StaticFiles none{web_dir.path() / "absent"};
  EXPECT_FALSE(none.installed());
  EXPECT_TRUE(files.installed());
  api::Router bare{service, metrics, nullptr, &none};
  api::Request r;
  r.method = "GET";
  r.target = "/";
  const auto answer = bare.handle(r);
  EXPECT_EQ(answer.status, 404);
  EXPECT_NE(answer.body.find("the web console is not installed"), std::string::npos) << answer.body;
}

}  // namespace
}  // namespace vnet::testing
