#include "tests/controller/api_fixture.h"

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>

#include <random>

#include "controller/store/postgresql.h"

namespace vnet::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http_ns = beast::http;

HttpResult http(uint16_t port, const std::string& method, const std::string& target,
                const std::string& body, const std::string& token,
                std::map<std::string, std::string> headers) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(30));
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http_ns::request<http_ns::string_body> req{http_ns::string_to_verb(method), target, 11};
  req.method_string(method);
  req.set(http_ns::field::host, "127.0.0.1");
  if (!token.empty()) req.set(http_ns::field::authorization, "Bearer " + token);
  if (!body.empty() && !headers.count("Content-Type"))
    req.set(http_ns::field::content_type, "application/json");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  beast::error_code write_error;
  http_ns::write(stream, req, write_error);  // a server may answer (413) before reading it all
  beast::flat_buffer buffer;
  http_ns::response_parser<http_ns::string_body> parser;
  parser.body_limit(64 << 20);
  http_ns::read(stream, buffer, parser);
  HttpResult out;
  out.status = parser.get().result_int();
  for (const auto& f : parser.get()) {
    std::string name(f.name_string());
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    out.headers[name] = std::string(f.value());
  }
  out.body = parser.get().body();
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  return out;
}

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("vnet-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}
TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

bool testing_postgresql() { return std::getenv("VNET_TEST_POSTGRESQL") != nullptr; }

std::string postgresql_server_url() {
  const char* state = std::getenv("VNET_TEST_POSTGRESQL");
  if (state == nullptr) return {};
  std::ifstream in(state);
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("url")) {
    ADD_FAILURE() << "VNET_TEST_POSTGRESQL=" << state
                  << ": no server state there (tests/support/postgresql.py start writes it)";
    return {};
  }
  return j.at("url");
}

std::string test_store_url(const std::filesystem::path& dir) {
  if (!testing_postgresql()) return "sqlite:" + (dir / "vnet.db").string();
  const auto remembered = dir / "store.url";
  if (std::ifstream in(remembered); in) {
    std::string url;
    std::getline(in, url);
    return url;
  }
  std::error_code ignored;  // a test of a data directory that cannot be made gets a schema too
  std::filesystem::create_directories(dir, ignored);
  const std::string server = postgresql_server_url();
  std::random_device rd;
  const std::string schema = fmt::format("t_{:08x}{:08x}", rd(), rd());
  store::PostgresDatabase(server).exec("CREATE SCHEMA " + schema);
  const std::string url = server + "?options=-csearch_path%3D" + schema;
  std::ofstream(remembered) << url << "\n";
  return url;
}

Controller::Controller(std::filesystem::path dir, uint16_t southbound_port, std::string store,
                       std::filesystem::path store_key)
    : dir_(std::move(dir)) {
  app::Options options;
  options.data_dir = dir_.string();
  options.store = store.empty() ? test_store_url(dir_) : store;
  options.store_key = store_key.string();
  options.listen = "127.0.0.1:0";
  options.southbound = "127.0.0.1:" + std::to_string(southbound_port);
  options.log_level = "warn";
  options.api_threads = 2;
  app_ = std::make_unique<app::Controller>(options);
  if (app_->first_admin_token()) {
    admin_token_ = *app_->first_admin_token();
  } else {
    // A restart (or a second replica): make a fresh admin token to keep talking.
    model::Principal admin{model::Role::kAdmin, "", ""};
    admin_token_ = service()
                       .create(admin, model::kind("tokens"), {{"name", "test restart"}})
                       .object.at("token");
  }
  thread_ = std::thread([this] { app_->run(); });
}

void Controller::stop() {
  if (thread_.joinable()) {
    app_->stop();
    thread_.join();
  }
}

Controller::~Controller() { stop(); }

HttpResult Controller::call(const std::string& method, const std::string& target,
                            const nlohmann::json& body, const std::string& token,
                            std::map<std::string, std::string> headers) {
  return http(port(), method, target, body.is_null() ? "" : body.dump(),
              token.empty() ? admin_token_ : token, std::move(headers));
}

nlohmann::json Controller::create(const std::string& collection, const nlohmann::json& body,
                                  const std::string& token) {
  const auto r = call("POST", "/api/v1/" + collection, body, token);
  EXPECT_EQ(r.status, 201) << collection << ": " << r.body;
  return r.json();
}

}  // namespace vnet::testing
