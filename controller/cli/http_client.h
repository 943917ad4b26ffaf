// vnetctl's HTTP/1.1 client: one request at a time over a kept-alive
// connection, plain on loopback or over TLS (Boost.Beast, synchronous),
// kept out of this header so the command code does not compile Beast.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace vnet::cli {

struct Url {
  bool tls = false;  // https://
  std::string host;  // "127.0.0.1", "[::1]" without brackets
  std::string port;  // "8080"
  std::string base;  // path prefix without trailing slash: "" or "/vnet"

  std::string scheme() const { return tls ? "https" : "http"; }

  // "127.0.0.1:8080", "[::1]:8080": the Host header, and messages.
  std::string authority() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
  }
};

// "http[s]://HOST[:PORT][/BASE]" (port 80 or 443 by default); throws
// std::invalid_argument with a sentence for anything else.
Url parse_url(const std::string& text);

struct Reply {
  int status = 0;
  std::string content_type;
  std::string etag;
  std::string realization;  // the Vnet-Realization header of a ?wait=realized write
  std::string body;
};

class HttpClient {
 public:
  // https: the controller's certificate must verify against `ca_cert_file`
  // (PEM; the controller's own ca.crt, or the operator's CA) or, when it is
  // empty, the system's trusted CAs, and name the URL's host. http: only to
  // a loopback address, so a token never crosses a network in clear text.
  HttpClient(Url url, std::string token, std::string ca_cert_file = "");
  ~HttpClient();

  // Sends `method target` (target relative to the base: "/api/v1/hosts")
  // with the bearer token; throws std::runtime_error when the controller
  // cannot be reached or the connection breaks.
  Reply request(const std::string& method, const std::string& target, const std::string& body = "",
                const std::vector<std::pair<std::string, std::string>>& headers = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vnet::cli
