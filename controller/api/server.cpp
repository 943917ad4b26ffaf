#include "controller/api/server.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "controller/api/router.h"
#include "shared/asio/tls_ops.h"
#include "shared/log/limiter.h"
#include "shared/log/log.h"

namespace vnet::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using tls_ops::TlsStream;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// One HTTP message in or out, on plain TCP or over TLS (tls_ops, where the
// TLS instantiations live once).
asio::awaitable<beast::error_code> read_request(beast::tcp_stream& s, beast::flat_buffer& buffer,
                                                http::request_parser<http::string_body>& parser) {
  auto [ec, n] = co_await http::async_read(s, buffer, parser, kTuple);
  co_return ec;
}
asio::awaitable<beast::error_code> read_request(TlsStream& s, beast::flat_buffer& buffer,
                                                http::request_parser<http::string_body>& parser) {
  co_return co_await tls_ops::read(s, buffer, parser);
}
asio::awaitable<beast::error_code> send(beast::tcp_stream& s,
                                        const http::response<http::string_body>& res) {
  auto [ec, n] = co_await http::async_write(s, res, kTuple);
  co_return ec;
}
asio::awaitable<beast::error_code> send(TlsStream& s,
                                        const http::response<http::string_body>& res) {
  co_return co_await tls_ops::write(s, res);
}
asio::awaitable<void> close(beast::tcp_stream& s) {
  beast::error_code ignored;
  s.socket().shutdown(tcp::socket::shutdown_send, ignored);
  co_return;
}
asio::awaitable<void> close(TlsStream& s) {
  beast::get_lowest_layer(s).expires_after(std::chrono::seconds(1));
  co_await tls_ops::shutdown(s);  // close_notify; the peer's answer is not awaited for long
  beast::error_code ignored;
  beast::get_lowest_layer(s).socket().shutdown(tcp::socket::shutdown_send, ignored);
}

// A TLS 1.2+ server context for a PEM chain (leaf first) and key; throws
// std::runtime_error saying which part OpenSSL refused.
std::shared_ptr<asio::ssl::context> server_context(const std::string& chain_pem,
                                                   const std::string& key_pem) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression |
                   asio::ssl::context::single_dh_use);
  boost::system::error_code ec;
  ctx->use_certificate_chain(asio::buffer(chain_pem), ec);
  if (ec) throw std::runtime_error(fmt::format("the certificate is unusable: {}", ec.message()));
  ctx->use_private_key(asio::buffer(key_pem), asio::ssl::context::pem, ec);
  if (ec && ec.category() == asio::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH)
    throw std::runtime_error("the private key does not belong to the certificate");
  if (ec) throw std::runtime_error(fmt::format("the private key is unusable: {}", ec.message()));
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    throw std::runtime_error("the private key does not belong to the certificate");
  return ctx;
}

struct Server::Impl {
  ServerOptions options;
  Handler handler;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  asio::signal_set signals{io};
  std::atomic<int> in_flight{0};
  // The timers of the ?wait=realized requests in progress, with the strand
  // each lives on (cancelled there, at shutdown).
  std::mutex waits_mutex;
  std::map<asio::steady_timer*, asio::any_io_executor> waits;
  std::atomic<size_t> connections{0};
  log::Limiter accept_log;
  log::Limiter full_log;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> next_request_id{1};
  // HTTPS when set; replaced whole when the certificate is renewed, so a
  // connection keeps the context it began with.
  mutable std::mutex tls_mutex;
  std::shared_ptr<asio::ssl::context> tls_context;

  std::shared_ptr<asio::ssl::context> current_tls() const {
    std::lock_guard lock(tls_mutex);
    return tls_context;
  }

  Impl(ServerOptions o, Handler h) : options(std::move(o)), handler(std::move(h)) {}

  asio::awaitable<void> accept_loop() {
    asio::steady_timer pause(io);
    std::chrono::milliseconds backoff{0};
    for (;;) {
      // At the connection limit: let the kernel hold new ones until a slot frees.
      while (connections >= options.max_connections && !stopping) {
        if (auto suppressed = full_log.allow(std::chrono::steady_clock::now())) {
          spdlog::warn("connections_at_limit limit={} suppressed={}", options.max_connections,
                       *suppressed);
        }
        pause.expires_after(std::chrono::milliseconds(20));
        co_await pause.async_wait(kTuple);
      }
      // Each connection on its own strand, so a deferred response's wake-up
      // (posted from another thread) is ordered with the session's steps.
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io), kTuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;  // stop()
        backoff = log::accept_backoff(log::out_of_resources(ec.value()), backoff);
        if (auto suppressed = accept_log.allow(std::chrono::steady_clock::now())) {
          spdlog::warn("accept_failed error={} retry_in_ms={} suppressed={}",
                       log::quote(ec.message()), backoff.count(), *suppressed);
        }
        if (backoff.count() > 0) {
          pause.expires_after(backoff);
          co_await pause.async_wait(kTuple);
        }
        continue;
      }
      backoff = std::chrono::milliseconds(0);
      auto executor = socket.get_executor();
      ++connections;
      auto done = [this](std::exception_ptr) { --connections; };
      if (auto tls = current_tls()) {
        asio::co_spawn(executor, tls_session(beast::tcp_stream(std::move(socket)), std::move(tls)),
                       done);
      } else {
        asio::co_spawn(executor, plain_session(beast::tcp_stream(std::move(socket))), done);
      }
    }
  }

  // Counts a request in flight for exactly as long as this lives, however
  // the request ends (an exception included).
  struct InFlight {
    explicit InFlight(std::atomic<int>& n) : count(n) { ++count; }
    ~InFlight() { --count; }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;
    std::atomic<int>& count;
  };

  static std::string peer_of(beast::tcp_stream& stream) {
    beast::error_code ec;
    auto ep = stream.socket().remote_endpoint(ec);
    return ec ? std::string("?") : fmt::format("{}:{}", ep.address().to_string(), ep.port());
  }

  asio::awaitable<void> plain_session(beast::tcp_stream stream) {
    const std::string peer = peer_of(stream);
    co_await session(stream, beast::flat_buffer(), peer);
  }

  // HTTPS: the client's first bytes must open a TLS handshake. Plain HTTP
  // gets one plain 400 saying where to go, and nothing it sent (a token
  // included) is read as a request.
  asio::awaitable<void> tls_session(beast::tcp_stream tcp,
                                    std::shared_ptr<asio::ssl::context> context) {
    const std::string peer = peer_of(tcp);
    beast::flat_buffer buffer;
    tcp.expires_after(options.idle_timeout);
    auto [ec, n] = co_await tcp.async_read_some(buffer.prepare(1024), kTuple);
    if (ec) co_return;
    buffer.commit(n);
    const auto* first = static_cast<const unsigned char*>(buffer.data().data());
    if (first[0] != 0x16) {  // not a TLS handshake record
      const std::string request_id = fmt::format("{:x}", next_request_id++);
      const Response r = problem_response(
          400, "Bad Request",
          "this address serves HTTPS only (tokens never cross a network in clear text): use "
          "https:// with the controller's CA (ca.crt in its data directory, or the operator's)",
          request_id);
      co_await write(tcp, r, 11, false);
      spdlog::info("request id={} peer={} status=400 error=plain_http_on_https", request_id, peer);
      co_await close(tcp);
      co_return;
    }
    TlsStream stream(std::move(tcp), *context);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    auto [handshake_ec, used] = co_await tls_ops::handshake(stream, asio::ssl::stream_base::server,
                                                            asio::const_buffer(buffer.data()));
    if (handshake_ec) {
      spdlog::debug("tls_handshake_failed peer={} error={}", peer,
                    log::quote(handshake_ec.message()));
      co_return;
    }
    buffer.consume(used);
    co_await session(stream, std::move(buffer), peer);
  }

  template <class Stream>
  asio::awaitable<void> session(Stream& stream, beast::flat_buffer buffer,
                                const std::string& peer) {
    while (!stopping) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(kMaxBodyBytes);
      parser.header_limit(16 * 1024);
      beast::get_lowest_layer(stream).expires_after(options.idle_timeout);
      const beast::error_code ec = co_await read_request(stream, buffer, parser);
      if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
          ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
          ec == asio::error::eof) {
        break;
      }
      const std::string request_id = fmt::format("{:x}", next_request_id++);
      if (ec) {
        // Unreadable requests get a problem document, then the connection ends.
        const bool too_big = ec == http::error::body_limit;
        const Response r = problem_response(
            too_big ? 413 : 400, too_big ? "Content Too Large" : "Bad Request",
            too_big ? "the body is over 1 MiB"
                    : fmt::format("the request could not be read: {}", ec.message()),
            request_id);
        co_await write(stream, r, 11, false);
        spdlog::info("request id={} peer={} status={} error={}", request_id, peer, r.status,
                     log::quote(ec.message()));
        break;
      }
      const InFlight counted(in_flight);
      const auto started = std::chrono::steady_clock::now();
      auto& message = parser.get();
      Request request;
      request.method = std::string(message.method_string());
      request.target = std::string(message.target());
      for (const auto& field : message) {
        std::string name(field.name_string());
        std::transform(name.begin(), name.end(), name.begin(), ::tolower);
        request.headers[name] = std::string(field.value());
      }
      request.body = std::move(message.body());
      request.request_id = request_id;
      Response response;
      try {
        response = handler(request);
      } catch (const std::exception& e) {
        // The router answers every error itself; this is a last resort.
        // What failed goes to the log, never to the client.
        spdlog::error("request_failed request_id={} error={}", request_id, log::quote(e.what()));
        response = problem_response(500, "Internal Server Error",
                                    fmt::format("the controller failed; its log names the error "
                                                "under request id {}",
                                                request_id),
                                    request_id);
      }
      if (response.deferred) response = co_await wait(std::move(response.deferred));
      response.headers.emplace_back("X-Request-Id", request_id);
      const bool keep_alive = message.keep_alive() && !stopping;
      co_await write(stream, response, message.version(), keep_alive, request.method == "HEAD");
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      spdlog::info("request id={} method={} path={} status={} duration_ms={:.3f} peer={}",
                   request_id, request.method,
                   log::quote(request.target.substr(0, request.target.find('?'))), response.status,
                   seconds * 1000, peer);
      if (!keep_alive) break;
    }
    co_await close(stream);
  }

  // Waits until the deferred response's subscription wakes us or its
  // timeout passes, without holding a thread.
  asio::awaitable<Response> wait(std::shared_ptr<Deferred> d) {
    auto executor = co_await asio::this_coro::executor;
    auto timer = std::make_shared<asio::steady_timer>(executor, d->timeout);
    auto woken = std::make_shared<bool>(false);
    const uint64_t handle = d->subscribe([executor, timer, woken] {
      asio::post(executor, [timer, woken] {
        *woken = true;
        timer->cancel();
      });
    });
    // A shutdown answers every wait at once ("pending") rather than
    // holding the process for the waits' timeouts.
    {
      std::lock_guard lock(waits_mutex);
      if (stopping) timer->expires_at(asio::steady_timer::time_point::min());
      waits.emplace(timer.get(), executor);
    }
    co_await timer->async_wait(kTuple);
    {
      std::lock_guard lock(waits_mutex);
      waits.erase(timer.get());
    }
    d->cancel(handle);
    co_return d->finish(*woken);
  }

  // Ends every ?wait=realized in progress (drain).
  void end_waits() {
    std::lock_guard lock(waits_mutex);
    for (const auto& [timer, executor] : waits) {
      asio::post(executor, [this, timer = timer] {
        std::lock_guard inner(waits_mutex);
        if (waits.contains(timer)) timer->cancel();
      });
    }
  }

  // Stops accepting, waits for requests in flight (up to `grace`), then ends
  // every session by stopping the io_context.
  asio::awaitable<void> drain(std::chrono::milliseconds grace) {
    {
      std::lock_guard lock(waits_mutex);
      if (stopping.exchange(true)) co_return;
    }
    boost::system::error_code ignored;
    acceptor.close(ignored);
    end_waits();
    const auto deadline = std::chrono::steady_clock::now() + grace;
    asio::steady_timer timer(io);
    while (in_flight != 0 && std::chrono::steady_clock::now() < deadline) {
      timer.expires_after(std::chrono::milliseconds(10));
      co_await timer.async_wait(kTuple);
    }
    if (in_flight != 0) spdlog::warn("shutdown requests_abandoned={}", in_flight.load());
    io.stop();
  }

  template <class Stream>
  asio::awaitable<void> write(Stream& stream, const Response& r, unsigned version, bool keep_alive,
                              bool head = false) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::server, "vnet-controller");
    if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) res.set(name, value);
    res.body() = head ? std::string() : r.body;
    res.keep_alive(keep_alive);
    res.prepare_payload();
    if (head) res.content_length(r.body.size());
    beast::get_lowest_layer(stream).expires_after(options.idle_timeout);
    co_await send(stream, res);
  }
};

Server::Server(ServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {
  auto& acceptor = impl_->acceptor;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(impl_->options.address, ec);
  if (ec)
    throw std::runtime_error(fmt::format("\"{}\" is not an IP address", impl_->options.address));
  const tcp::endpoint endpoint(address, impl_->options.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error(fmt::format("cannot listen on {}:{}: {}", impl_->options.address,
                                         impl_->options.port, ec.message()));
  }
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
}

Server::~Server() = default;

uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::use_certificate(const std::string& chain_pem, const std::string& key_pem) {
  auto context = server_context(chain_pem, key_pem);
  std::lock_guard lock(impl_->tls_mutex);
  impl_->tls_context = std::move(context);
}

bool Server::tls() const { return impl_->current_tls() != nullptr; }

void Server::run() {
  std::vector<std::thread> threads;
  for (int i = 1; i < impl_->options.threads; ++i)
    threads.emplace_back([this] { impl_->io.run(); });
  impl_->io.run();
  for (auto& t : threads) t.join();
}

void Server::stop(std::chrono::milliseconds grace) {
  asio::co_spawn(impl_->io, impl_->drain(grace), asio::detached);
}

void Server::stop_on_signals() {
  impl_->signals.add(SIGTERM);
  impl_->signals.add(SIGINT);
  impl_->signals.async_wait([this](boost::system::error_code ec, int signal) {
    if (ec) return;
    spdlog::info("shutdown signal={} in_flight={}", signal, impl_->in_flight.load());
    stop();
  });
}

}  // namespace vnet::api
