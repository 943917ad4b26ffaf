// A real controller (store, service, router, Beast server) on 127.0.0.1:0
// with a temporary data directory, and a small HTTP client to talk to it.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "controller/api/router.h"
#include "controller/api/server.h"
#include "controller/app/controller.h"
#include "controller/model/service.h"

namespace vnet::testing {

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// One request on a new connection.
HttpResult http(uint16_t port, const std::string& method, const std::string& target,
                const std::string& body = "", const std::string& token = "",
                std::map<std::string, std::string> headers = {});

class Controller {
 public:
  // southbound_port 0: any free port (a restart passes the old one, so
  // agents find it again).
  // store: the database URL (default test_store_url(dir)); replicas share
  // one, and its store key (default: store.key in dir).
  explicit Controller(std::filesystem::path dir, uint16_t southbound_port = 0,
                      std::string store = "", std::filesystem::path store_key = {});
  ~Controller();
  void stop();

  uint16_t port() const { return app_->api_port(); }
  uint16_t southbound_port() const { return app_->southbound_port(); }
  const std::string& admin_token() const { return admin_token_; }
  model::Service& service() { return app_->service(); }
  app::Controller& app() { return *app_; }
  const std::filesystem::path& dir() const { return dir_; }

  // Requests as the admin or with a given token; bodies are JSON.
  HttpResult call(const std::string& method, const std::string& target,
                  const nlohmann::json& body = nullptr, const std::string& token = "",
                  std::map<std::string, std::string> headers = {});
  // POST and expect 201; returns the object.
  nlohmann::json create(const std::string& collection, const nlohmann::json& body,
                        const std::string& token = "");

 private:
  std::filesystem::path dir_;
  std::unique_ptr<app::Controller> app_;
  std::thread thread_;
  std::string admin_token_;
};

// The database of a test's controller in `dir`: vnet.db there, or, when
// VNET_TEST_POSTGRESQL names the state file of tests/support/postgresql.py,
// a new schema on that server (the same schema again for the same dir, so a
// restarted controller finds its data).
std::string test_store_url(const std::filesystem::path& dir);
bool testing_postgresql();
// The test server's URL (no schema), or empty.
std::string postgresql_server_url();

// A temporary directory removed at the end of the test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace vnet::testing
