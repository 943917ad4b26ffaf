#include "controller/cli/http_client.h"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>
#include <stdexcept>

namespace vnet::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

Url parse_url(const std::string& text) {
  Url url;
  std::string_view scheme = "http://";
  if (text.rfind("https://", 0) == 0) {
    url.tls = true;
    scheme = "https://";
  } else if (text.rfind("http://", 0) != 0) {
    throw std::invalid_argument(
        fmt::format("\"{}\" is not a URL like https://controller.example:8080", text));
  }
  std::string rest = text.substr(scheme.size());
  const size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    url.base = rest.substr(slash);
    rest.resize(slash);
    while (!url.base.empty() && url.base.back() == '/') url.base.pop_back();
  }
  std::string host = rest;
  std::string port = url.tls ? "443" : "80";
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
        fmt::format("\"{}\" is not a URL like https://controller.example:8080", text));
  url.host = host;
  url.port = port;
  return url;
}

struct HttpClient::Impl {
  Url url;
  std::string token;
  std::string ca_cert_file;
  asio::io_context io;
  std::optional<asio::ssl::context> tls_context;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;

  bool connected() const { return plain.has_value() || secure.has_value(); }
  void disconnect() {
    beast::error_code ignored;
    if (plain) plain->socket().shutdown(tcp::socket::shutdown_both, ignored);
    if (secure)
      beast::get_lowest_layer(*secure).socket().shutdown(tcp::socket::shutdown_both, ignored);
    plain.reset();
    secure.reset();
    buffer.clear();
  }
  std::string where() const { return url.scheme() + "://" + url.authority(); }

  void connect() {
    tcp::resolver resolver(io);
    beast::error_code ec;
    const auto endpoints = resolver.resolve(url.host, url.port, ec);
    if (ec) throw std::runtime_error(fmt::format("cannot resolve {}: {}", url.host, ec.message()));
    if (!url.tls) {
      for (const auto& e : endpoints) {
        if (!e.endpoint().address().is_loopback()) {
          throw std::runtime_error(fmt::format(
              "{} is not a loopback address: vnetctl sends a token only over HTTPS there (use "
              "https://, and --ca-cert FILE or VNET_CA_CERT if the controller's certificate is "
              "from its own CA)",
              where()));
        }
      }
    }
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(endpoints, ec);
    if (ec) {
      throw std::runtime_error(
          fmt::format("cannot reach the controller at {}: {}", where(), ec.message()));
    }
    if (!url.tls) {
      plain.emplace(std::move(stream));
      return;
    }
    if (!tls_context) {
      tls_context.emplace(asio::ssl::context::tls_client);
      SSL_CTX_set_min_proto_version(tls_context->native_handle(), TLS1_2_VERSION);
      tls_context->set_verify_mode(asio::ssl::verify_peer);
      if (ca_cert_file.empty()) {
        tls_context->set_default_verify_paths(ec);
      } else {
        tls_context->load_verify_file(ca_cert_file, ec);
        if (ec) {
          tls_context.reset();
          throw std::runtime_error(
              fmt::format("--ca-cert {}: not a readable PEM file of CA certificates ({})",
                          ca_cert_file, ec.message()));
        }
      }
    }
    secure.emplace(std::move(stream), *tls_context);
    SSL* ssl = secure->native_handle();
    // The certificate must name the host vnetctl was given: a DNS name (sent
    // as SNI too) or an IP address.
    beast::error_code not_ip;
    asio::ip::make_address(url.host, not_ip);
    if (not_ip) {
      SSL_set_tlsext_host_name(ssl, url.host.c_str());
      SSL_set1_host(ssl, url.host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host.c_str());
    }
    secure->handshake(asio::ssl::stream_base::client, ec);
    if (ec) {
      const long verify = SSL_get_verify_result(ssl);
      secure.reset();
      if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        throw std::runtime_error(fmt::format(
            "the controller at {} presented a certificate that does not name {}: use a name "
            "it does name, or add {} to the controller's --api-names (its own certificate) or "
            "to the operator's certificate",
            where(), url.host, url.host));
      }
      if (verify != X509_V_OK) {
        throw std::runtime_error(fmt::format(
            "the controller at {} presented a certificate vnetctl does not trust: {}; give the "
            "CA that issued it with --ca-cert FILE or VNET_CA_CERT (a controller's own CA is "
            "ca.crt in its data directory){}",
            where(), X509_verify_cert_error_string(verify),
            ca_cert_file.empty() ? "" : fmt::format(" (trusted now: {})", ca_cert_file)));
      }
      throw std::runtime_error(
          fmt::format("no TLS with the controller at {}: {}", where(), ec.message()));
    }
  }

  template <class Stream>
  beast::error_code exchange(Stream& stream, const http::request<http::string_body>& req,
                             http::response_parser<http::string_body>& parser) {
    beast::error_code ec;
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(330));  // ?wait: 300 s
    http::write(stream, req, ec);
    if (!ec) http::read(stream, buffer, parser, ec);
    return ec;
  }
};

HttpClient::HttpClient(Url url, std::string token, std::string ca_cert_file)
    : impl_(std::make_unique<Impl>()) {
  impl_->url = std::move(url);
  impl_->token = std::move(token);
  impl_->ca_cert_file = std::move(ca_cert_file);
}

HttpClient::~HttpClient() { impl_->disconnect(); }

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
    const bool fresh = !impl_->connected();
    if (fresh) impl_->connect();
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    const beast::error_code ec = impl_->plain ? impl_->exchange(*impl_->plain, req, parser)
                                              : impl_->exchange(*impl_->secure, req, parser);
    if (ec) {
      impl_->disconnect();
      if (!fresh && attempt == 0 && !parser.got_some()) continue;
      throw std::runtime_error(fmt::format("the connection to the controller at {} broke: {}",
                                           impl_->where(), ec.message()));
    }
    auto& res = parser.get();
    Reply reply;
    reply.status = static_cast<int>(res.result_int());
    reply.content_type = std::string(res[http::field::content_type]);
    reply.etag = std::string(res[http::field::etag]);
    reply.realization = std::string(res["Vnet-Realization"]);
    reply.body = std::move(res.body());
    if (!res.keep_alive()) impl_->disconnect();
    return reply;
  }
}

}  // namespace vnet::cli
