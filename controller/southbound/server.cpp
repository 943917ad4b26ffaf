#include "controller/southbound/server.h"

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <unordered_map>

#include "controller/policy/engine.h"
#include "controller/policy/realization.h"
#include "controller/southbound/ca.h"
#include "controller/southbound/enrollment.h"
#include "controller/southbound/protocol.h"
#include "shared/asio/tls_ops.h"
#include "shared/log/limiter.h"
#include "shared/log/log.h"
#include "shared/proto/southbound.h"
#include "shared/tls/x509.h"
#include "shared/util/json_text.h"
#include "shared/util/time.h"

namespace vnet::southbound {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using nlohmann::json;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

using tls_ops::TlsStream;
using Socket = tls_ops::TlsWebSocket;

namespace {

// One agent's channel. Lives on the server's single thread; what the
// protocol decides is in `state` (protocol.h), the rest is I/O.
struct Session : std::enable_shared_from_this<Session> {
  Session(TlsStream stream, std::string h)
      : ws(std::move(stream)), state{.host = std::move(h)}, wake(ws.get_executor()) {}
  Socket ws;
  SessionState state;
  const std::string& host() const { return state.host; }
  asio::steady_timer wake;
  // (type, text) of messages to send before any policy: pongs (at most
  // kMaxQueuedPongs) and a renewed certificate.
  std::deque<std::pair<std::string, std::string>> control;
  bool closing = false;
  bool ended = false;
  std::string close_code = "disconnected";
  std::string close_message;

  void close(std::string code, std::string message) {
    if (closing) return;
    closing = true;
    close_code = std::move(code);
    close_message = std::move(message);
    wake.cancel();
  }
};

}  // namespace

struct Server::Impl {
  std::function<void(const std::string&, uint16_t, uint16_t)> mtu_observer;
  ServerOptions options;
  compiler::Engine& engine;
  compiler::Realization& realization;
  const CertificateAuthority& ca;
  Enrollment& enrollment;
  asio::io_context io{1};
  ssl::context tls{ssl::context::tls_server};
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::unordered_map<std::string, std::shared_ptr<Session>> sessions;  // io thread only

  mutable std::mutex counters_mutex;
  std::map<std::string, uint64_t> closed;                            // by reason code
  std::map<std::pair<std::string, std::string>, uint64_t> messages;  // (direction, type)
  std::map<std::string, uint64_t> refused;      // connections refused, by reason code
  std::map<std::string, uint64_t> enrollments;  // by result
  std::map<std::string, uint64_t> throttled;    // messages held back or dropped, by type
  std::atomic<uint64_t> open_sessions{0};
  size_t connections = 0;  // io thread only
  log::Limiter accept_log;
  log::Limiter full_log;
  log::Limiter refused_log;

  Impl(ServerOptions o, compiler::Engine& e, compiler::Realization& r,
       const CertificateAuthority& c, Enrollment& en)
      : options(std::move(o)), engine(e), realization(r), ca(c), enrollment(en) {}

  void count(std::map<std::string, uint64_t>& m, const std::string& key) {
    std::lock_guard lock(counters_mutex);
    ++m[key];
  }
  void count_message(const char* direction, const std::string& type) {
    // Types come from agents: only known names become keys (and labels).
    static const std::set<std::string> known = {"hello",    "ack",   "stats", "ping",       "pong",
                                                "snapshot", "delta", "renew", "certificate"};
    std::lock_guard lock(counters_mutex);
    ++messages[{direction, known.contains(type) ? type : "other"}];
  }

  void configure_tls() {
    SSL_CTX* ctx = tls.native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    tls.use_certificate_chain(asio::buffer(ca.server_cert_pem() + ca.ca_pem()));
    tls.use_private_key(asio::buffer(ca.server_key_pem()), ssl::context::pem);
    tls.add_certificate_authority(asio::buffer(ca.ca_pem()));
    // Ask for a certificate, but let enrollment proceed without one; the
    // agent channel refuses a connection that did not present a valid one.
    tls.set_verify_mode(ssl::verify_peer);
  }

  asio::awaitable<void> accept_loop() {
    asio::steady_timer pause(io);
    std::chrono::milliseconds backoff{0};
    for (;;) {
      while (connections >= options.max_connections) {
        if (auto suppressed = full_log.allow(std::chrono::steady_clock::now())) {
          spdlog::warn("southbound_connections_at_limit limit={} suppressed={}",
                       options.max_connections, *suppressed);
        }
        pause.expires_after(std::chrono::milliseconds(20));
        if (auto [ec] = co_await pause.async_wait(kTuple); ec) co_return;
      }
      auto [ec, socket] = co_await acceptor.async_accept(kTuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        backoff = log::accept_backoff(log::out_of_resources(ec.value()), backoff);
        if (auto suppressed = accept_log.allow(std::chrono::steady_clock::now())) {
          spdlog::warn("southbound_accept_failed error={} retry_in_ms={} suppressed={}",
                       log::quote(ec.message()), backoff.count(), *suppressed);
        }
        if (backoff.count() > 0) {
          pause.expires_after(backoff);
          if (auto [tec] = co_await pause.async_wait(kTuple); tec) co_return;
        }
        continue;
      }
      backoff = std::chrono::milliseconds(0);
      ++connections;
      asio::co_spawn(io, connection(std::move(socket)),
                     [this](std::exception_ptr) { --connections; });
    }
  }

  static http::response<http::string_body> problem(int status, const std::string& detail) {
    http::response<http::string_body> r{static_cast<http::status>(status), 11};
    r.set(http::field::content_type, "application/problem+json");
    r.body() = json{
        {"type", "about:blank"},
        {"title", std::string(http::obsolete_reason(static_cast<http::status>(status)))},
        {"status", status},
        {"detail",
         detail}}.dump();
    r.prepare_payload();
    return r;
  }

  http::response<http::string_body> enroll(const http::request<http::string_body>& req,
                                           const std::string& peer) {
    const json body = parse_untrusted(req.body()).value_or(json());
    if (!body.is_object() || !body.contains("host_id") || !body["host_id"].is_string() ||
        !body.contains("token") || !body["token"].is_string() || !body.contains("csr") ||
        !body["csr"].is_string()) {
      count(enrollments, "refused");
      return problem(400, "the body must be {\"host_id\", \"token\", \"csr\"} as strings");
    }
    const std::string host = body["host_id"];
    try {
      const auto cert = enrollment.redeem(host, body["token"], body["csr"]);
      count(enrollments, "ok");
      spdlog::info("host_enrolled host={} serial={} peer={}", host, cert.serial, peer);
      http::response<http::string_body> r{http::status::ok, 11};
      r.set(http::field::content_type, "application/json");
      r.body() = json{{"certificate", cert.pem}, {"ca_certificate", ca.ca_pem()}}.dump();
      r.prepare_payload();
      return r;
    } catch (const EnrollError& e) {
      count(enrollments, "refused");
      spdlog::warn("enrollment_refused host={} peer={} reason={}", log::quote(host), peer,
                   log::quote(e.what()));
      return problem(e.status, e.what());
    }
  }

  asio::awaitable<void> connection(tcp::socket socket) {
    beast::error_code ignored;
    // Small messages (deltas, acks) must not wait for Nagle and delayed ACKs.
    socket.set_option(tcp::no_delay(true), ignored);
    const auto ep = socket.remote_endpoint(ignored);
    const std::string peer = fmt::format("{}:{}", ep.address().to_string(), ep.port());
    TlsStream stream(beast::tcp_stream(std::move(socket)), tls);
    beast::get_lowest_layer(stream).expires_after(options.handshake_timeout);
    if (auto ec = co_await tls_ops::handshake(stream, ssl::stream_base::server); ec) {
      count(refused, "tls_handshake");
      // Anyone can open connections: one line per 10 s, the rest counted.
      if (auto suppressed = refused_log.allow(std::chrono::steady_clock::now())) {
        spdlog::info("southbound_refused peer={} reason=tls_handshake error={} suppressed={}", peer,
                     log::quote(ec.message()), *suppressed);
      }
      co_return;
    }
    beast::flat_buffer buffer;
    http::request_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);
    if (co_await tls_ops::read(stream, buffer, parser)) co_return;
    http::request<http::string_body> req = parser.release();

    if (req.target() == proto::kEnrollPath) {
      auto r = req.method() == http::verb::post ? enroll(req, peer)
                                                : problem(405, "enrollment is POST /enroll");
      r.keep_alive(false);
      if (!co_await tls_ops::write(stream, r)) co_await tls_ops::shutdown(stream);
      co_return;
    }
    if (req.target() != proto::kAgentPath || !websocket::is_upgrade(req)) {
      auto r = problem(404, "the southbound port serves POST /enroll and the /agent WebSocket");
      r.keep_alive(false);
      co_await tls_ops::write(stream, r);
      co_return;
    }
    // Who is this? A certificate from our CA, for an existing host, with the
    // serial we issued last (a revoked or superseded one is refused).
    std::string host;
    std::string refusal;
    int status = 403;
    X509* cert = SSL_get1_peer_certificate(stream.native_handle());
    if (cert == nullptr) {
      status = 401;
      refusal = "no client certificate: enroll the host first";
    } else {
      const tls::Identity id = tls::identity(cert);
      X509_free(cert);
      host = id.common_name;
      if (SSL_get_verify_result(stream.native_handle()) != X509_V_OK) {
        refusal = "the client certificate is not from this controller's CA";
      } else if (!engine.knows(host)) {
        refusal = fmt::format("host {} does not exist", host);
      } else if (!enrollment.is_current(host, id.serial)) {
        refusal = fmt::format("the certificate of host {} was revoked or replaced", host);
      }
    }
    if (!refusal.empty()) {
      count(refused, status == 401 ? "no_certificate" : "certificate");
      if (auto suppressed = refused_log.allow(std::chrono::steady_clock::now())) {
        spdlog::warn("southbound_refused peer={} host={} reason={} suppressed={}", peer,
                     log::quote(host), log::quote(refusal), *suppressed);
      }
      auto r = problem(status, refusal);
      r.keep_alive(false);
      co_await tls_ops::write(stream, r);
      co_return;
    }
    beast::get_lowest_layer(stream).expires_never();
    auto session = std::make_shared<Session>(std::move(stream), host);
    co_await serve(session, std::move(req), peer);
  }

  // Sends what the agent lacks: the delta from its generation when that is
  // the one the engine kept, else the whole policy; then waits to be woken.
  asio::awaitable<void> writer(std::shared_ptr<Session> s) {
    while (!s->ended) {
      std::string text;
      std::string type;
      if (s->closing) {
        websocket::close_reason reason(websocket::close_code::policy_error);
        reason.reason = s->close_message.substr(0, 120);  // a close frame holds 123 bytes
        co_await tls_ops::close(s->ws, reason);
        co_return;
      }
      if (!s->control.empty()) {
        std::tie(type, text) = std::move(s->control.front());
        s->control.pop_front();
      } else if (!s->state.registered) {
        s->wake.expires_at(asio::steady_timer::time_point::max());
        co_await s->wake.async_wait(kTuple);
        continue;
      } else if (const auto c = engine.policy(s->host()); !c) {
        if (!engine.knows(s->host())) {
          s->close("host_deleted", "the host was deleted");
          continue;
        }
        // Held back (policy_invalid): nothing to send until it is valid.
        s->wake.expires_at(asio::steady_timer::time_point::max());
        co_await s->wake.async_wait(kTuple);
        continue;
      } else if (c->policy.generation != s->state.sent &&
                 std::chrono::steady_clock::now() < s->state.hold_until) {
        s->wake.expires_at(s->state.hold_until);
        co_await s->wake.async_wait(kTuple);
        continue;
      } else if (c->policy.generation != s->state.sent) {
        const bool as_delta = c->delta && c->delta->from == s->state.sent;
        type = as_delta ? "delta" : "snapshot";
        text = (as_delta ? proto::delta(*c->delta) : proto::snapshot(c->policy)).dump();
        s->state.sent = c->policy.generation;
        spdlog::debug("policy_sent host={} type={} generation={} bytes={}", s->host(), type,
                      s->state.sent, text.size());
      } else {
        s->wake.expires_at(asio::steady_timer::time_point::max());
        co_await s->wake.async_wait(kTuple);
        continue;
      }
      s->ws.text(true);
      if (co_await tls_ops::write(s->ws, asio::buffer(text))) co_return;
      count_message("out", type);
    }
  }

  asio::awaitable<void> serve(std::shared_ptr<Session> s, http::request<http::string_body> req,
                              const std::string& peer) {
    // The size limit is the read buffer's: Beast's own message limit would
    // fail the connection with a close handshake whose error hides the cause.
    s->ws.read_message_max(0);
    websocket::stream_base::timeout timeouts{options.handshake_timeout, options.idle_timeout, true};
    s->ws.set_option(timeouts);
    if (co_await tls_ops::accept(s->ws, req)) co_return;

    // The writer runs from the start: it sends close frames for sessions
    // refused before their hello, and policies once registered.
    asio::co_spawn(io, writer(s), asio::detached);
    beast::flat_buffer buffer(proto::kMaxAgentMessage);
    std::string code = "disconnected";
    std::string message;
    for (;;) {
      buffer.clear();
      const auto ec = co_await tls_ops::read(s->ws, buffer);
      if (ec) {
        if (ec == websocket::error::buffer_overflow || ec == websocket::error::message_too_big) {
          code = "oversized";
          message = fmt::format("a message over {} bytes", proto::kMaxAgentMessage);
          beast::error_code ignored;
          beast::get_lowest_layer(s->ws).socket().close(ignored);
        } else if (s->closing) {
          code = s->close_code;
          message = s->close_message;
        } else {
          message = ec.message();
        }
        break;
      }
      if (!s->ws.got_text()) {
        s->close("bad_frame", "binary frames are not part of the protocol");
        continue;
      }
      if (s->closing) continue;  // draining until the close completes
      // Not JSON, or nested too deep: null, which the protocol refuses.
      const json m = parse_untrusted(beast::buffers_to_string(buffer.data())).value_or(json());
      try {
        handle(*s, m, peer);
      } catch (const std::exception& e) {
        // Whatever a field's type: the session ends, through the same
        // cleanup as every other end, and the controller lives on.
        s->close("bad_frame", fmt::format("a malformed message: {}", e.what()));
      }
    }
    end_session(s, peer, code, message);
  }

  // Carries out what the protocol decided for one message.
  void handle(Session& session, const json& m, const std::string& peer) {
    Session* s = &session;
    const SessionStep step =
        on_agent_message(s->state, m, std::chrono::steady_clock::now(), s->control.size());
    count_message("in", step.type);
    if (step.close) {
      s->close(step.close->first, step.close->second);
      return;
    }
    if (step.registered) {
      if (auto old = sessions.find(s->host()); old != sessions.end())
        old->second->close("replaced", "a newer session of this host replaced it");
      sessions[s->host()] = session.shared_from_this();
      ++open_sessions;
      realization.connected(s->host(), step.uplink);
      spdlog::info("agent_connected host={} peer={} generation={} uplink={}", s->host(), peer,
                   s->state.sent, log::quote(step.uplink));
    }
    if ((step.uplink_mtu != 0 || step.external_mtu != 0) && mtu_observer)
      mtu_observer(s->host(), step.uplink_mtu, step.external_mtu);
    if (step.seen) realization.seen(s->host());
    if (step.ack) realization.acked(s->host(), step.ack->first, step.ack->second);
    if (step.pong) s->control.emplace_back("pong", proto::pong().dump());
    if (!step.renew_csr.empty()) {
      try {
        const auto cert = enrollment.renew(s->host(), step.renew_csr);
        s->control.emplace_back("certificate", proto::certificate(cert.pem, ca.ca_pem()).dump());
        s->wake.cancel();
        spdlog::info("certificate_renewed host={} serial={} not_after={}", s->host(), cert.serial,
                     rfc3339_from_unix(cert.not_after));
      } catch (const EnrollError& e) {
        s->close("bad_renewal", e.what());
        return;
      }
    }
    if (!step.throttled.empty()) count(throttled, step.throttled);
    if (step.wake) s->wake.cancel();
  }

  void end_session(const std::shared_ptr<Session>& s, const std::string& peer,
                   const std::string& code, const std::string& message) {
    const bool registered = s->state.registered;
    s->ended = true;
    s->wake.cancel();
    // Counted before the host shows disconnected: whoever sees it
    // disconnected (GET /hosts/{id}) finds the close in /metrics too.
    count(closed, code);
    if (registered) {
      --open_sessions;
      if (auto it = sessions.find(s->host()); it != sessions.end() && it->second == s) {
        sessions.erase(it);
        realization.disconnected(s->host());
      }
    }
    spdlog::info("agent_disconnected host={} peer={} reason={} detail={}", s->host(), peer, code,
                 log::quote(message));
  }
};

Server::Server(ServerOptions options, compiler::Engine& engine, compiler::Realization& realization,
               const CertificateAuthority& ca, Enrollment& enrollment)
    : impl_(std::make_unique<Impl>(std::move(options), engine, realization, ca, enrollment)) {
  impl_->configure_tls();
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(impl_->options.address, ec);
  if (ec)
    throw std::runtime_error(
        fmt::format("--southbound {}: not an IP address", impl_->options.address));
  const tcp::endpoint endpoint(address, impl_->options.port);
  auto& a = impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error(fmt::format("--southbound {}:{}: cannot listen: {}",
                                         impl_->options.address, impl_->options.port,
                                         ec.message()));
}

Server::~Server() { stop(); }

uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::start() {
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

void Server::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->io.stop();
  impl_->thread.join();
}

void Server::policy_changed(const std::string& host) {
  asio::post(impl_->io, [impl = impl_.get(), host] {
    if (auto it = impl->sessions.find(host); it != impl->sessions.end()) it->second->wake.cancel();
  });
}

void Server::close_host(const std::string& host, const std::string& code,
                        const std::string& message) {
  asio::post(impl_->io, [impl = impl_.get(), host, code, message] {
    if (auto it = impl->sessions.find(host); it != impl->sessions.end())
      it->second->close(code, message);
  });
}

void Server::on_link_mtus(std::function<void(const std::string&, uint16_t, uint16_t)> observer) {
  impl_->mtu_observer = std::move(observer);
}

std::string Server::metrics() const {
  std::lock_guard lock(impl_->counters_mutex);
  std::string out;
  out += "# HELP vnet_southbound_sessions Agent sessions open now.\n";
  out += "# TYPE vnet_southbound_sessions gauge\n";
  out += fmt::format("vnet_southbound_sessions {}\n", impl_->open_sessions.load());
  out += "# HELP vnet_southbound_sessions_closed_total Agent sessions ended, by reason.\n";
  out += "# TYPE vnet_southbound_sessions_closed_total counter\n";
  for (const auto& [reason, n] : impl_->closed)
    out += fmt::format("vnet_southbound_sessions_closed_total{{reason=\"{}\"}} {}\n", reason, n);
  out += "# HELP vnet_southbound_refused_total Connections refused before a session, by reason.\n";
  out += "# TYPE vnet_southbound_refused_total counter\n";
  for (const auto& [reason, n] : impl_->refused)
    out += fmt::format("vnet_southbound_refused_total{{reason=\"{}\"}} {}\n", reason, n);
  out += "# HELP vnet_southbound_messages_total Messages by direction and type.\n";
  out += "# TYPE vnet_southbound_messages_total counter\n";
  for (const auto& [key, n] : impl_->messages) {
    out += fmt::format("vnet_southbound_messages_total{{direction=\"{}\",type=\"{}\"}} {}\n",
                       key.first, key.second, n);
  }
  out += "# HELP vnet_southbound_throttled_total Agent messages held back or dropped, by type.\n";
  out += "# TYPE vnet_southbound_throttled_total counter\n";
  for (const auto& [type, n] : impl_->throttled)
    out += fmt::format("vnet_southbound_throttled_total{{type=\"{}\"}} {}\n", type, n);
  out += "# HELP vnet_southbound_enrollments_total Enrollment requests, by result.\n";
  out += "# TYPE vnet_southbound_enrollments_total counter\n";
  for (const auto& [result, n] : impl_->enrollments)
    out += fmt::format("vnet_southbound_enrollments_total{{result=\"{}\"}} {}\n", result, n);
  return out;
}

}  // namespace vnet::southbound
