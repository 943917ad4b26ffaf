#include "controller/cli/http_client.h"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <stdexcept>

namespace vnet::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

Url parse_url(const std::string& text) {
  constexpr std::string_view kScheme = "http://";
  if (text.rfind("https://", 0) == 0) {
    throw std::invalid_argument(fmt::format(
        "\"{}\": vnetctl speaks plain HTTP to the controller's --listen address; reach a remote "
        "controller through an SSH tunnel or a TLS proxy on this machine",
        text));
  }
  if (text.rfind(kScheme, 0) != 0)
    throw std::invalid_argument(
        fmt::format("\"{}\" is not a URL like http://127.0.0.1:8080", text));
  std::string rest = text.substr(kScheme.size());
  Url url;
  const size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    url.base = rest.substr(slash);
    rest.resize(slash);
    while (!url.base.empty() && url.base.back() == '/') url.base.pop_back();
  }
  std::string host = rest;
  std::string port = "80";
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string::npos)
      throw std::invalid_argument(fmt::format("\"{}\": unclosed [ in the host", text));
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else if (const size_t colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  const bool digits = !port.empty() && port.size() <= 5 &&
                      port.find_first_not_of("0123456789") == std::string::npos &&
                      std::stoul(port) <= 65535;
  if (host.empty() || !digits)
    throw std::invalid_argument(
        fmt::format("\"{}\" is not a URL like http://127.0.0.1:8080", text));
  url.host = host;
  url.port = port;
  return url;
}

struct HttpClient::Impl {
  Url url;
  std::string token;
  asio::io_context io;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  void connect() {
    tcp::resolver resolver(io);
    beast::error_code ec;
    const auto endpoints = resolver.resolve(url.host, url.port, ec);
    if (ec) throw std::runtime_error(fmt::format("cannot resolve {}: {}", url.host, ec.message()));
    stream.emplace(io);
    stream->expires_after(std::chrono::seconds(10));
    stream->connect(endpoints, ec);
    if (ec) {
      stream.reset();
      throw std::runtime_error(fmt::format("cannot reach the controller at http://{}: {}",
                                           url.authority(), ec.message()));
    }
  }
};

HttpClient::HttpClient(Url url, std::string token) : impl_(std::make_unique<Impl>()) {
  impl_->url = std::move(url);
  impl_->token = std::move(token);
}

HttpClient::~HttpClient() {
  if (impl_->stream) {
    beast::error_code ignored;
    impl_->stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
  }
}

Reply HttpClient::request(const std::string& method, const std::string& target,
                          const std::string& body,
                          const std::vector<std::pair<std::string, std::string>>& headers) {
  http::request<http::string_body> req{http::string_to_verb(method), impl_->url.base + target, 11};
  req.set(http::field::host, impl_->url.authority());
  req.set(http::field::user_agent, "vnetctl");
  req.set(http::field::accept, "application/json");
  if (!impl_->token.empty()) req.set(http::field::authorization, "Bearer " + impl_->token);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.keep_alive(true);
  req.prepare_payload();

  // A kept-alive connection the server closed meanwhile is retried once on
  // a fresh one; a write is never sent twice after its answer began.
  for (int attempt = 0;; ++attempt) {
    const bool fresh = !impl_->stream;
    if (fresh) impl_->connect();
    beast::error_code ec;
    impl_->stream->expires_after(std::chrono::seconds(330));  // ?wait=realized: up to 300 s
    http::write(*impl_->stream, req, ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (!ec) http::read(*impl_->stream, impl_->buffer, parser, ec);
    if (ec) {
      impl_->stream.reset();
      impl_->buffer.clear();
      if (!fresh && attempt == 0 && !parser.got_some()) continue;
      throw std::runtime_error(
          fmt::format("the connection to the controller at http://{} broke: {}",
                      impl_->url.authority(), ec.message()));
    }
    auto& res = parser.get();
    Reply reply;
    reply.status = static_cast<int>(res.result_int());
    reply.content_type = std::string(res[http::field::content_type]);
    reply.etag = std::string(res[http::field::etag]);
    reply.realization = std::string(res["Vnet-Realization"]);
    reply.body = std::move(res.body());
    if (!res.keep_alive()) impl_->stream.reset();
    return reply;
  }
}

}  // namespace vnet::cli
