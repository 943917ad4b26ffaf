#include "agent/control/agent.h"

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <random>

#include "agent/control/follower.h"
#include "agent/control/state.h"
#include "shared/asio/tls_ops.h"
#include "shared/log/log.h"
#include "shared/policy/delta.h"
#include "shared/policy/json.h"
#include "shared/proto/southbound.h"
#include "shared/tls/x509.h"
#include "shared/util/file.h"
#include "shared/util/json_text.h"
#include "shared/util/systemd.h"
#include "shared/util/time.h"

namespace vnet::agent {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using nlohmann::json;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds kConnectTimeout{10};
constexpr size_t kNatShowLimit = 10000;  // flows `show nat` lists (the total is given too)

namespace {

// The controller said no (a 4xx): retrying will not help.
struct Refused : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::pair<std::string, std::string> split_address(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    throw std::runtime_error(
        fmt::format("--controller \"{}\" is not ADDR:PORT, e.g. 192.168.0.5:6641", text));
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return {host, text.substr(colon + 1)};
}

// --controller A[,B...]: each ADDR:PORT.
std::vector<std::pair<std::string, std::string>> split_addresses(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    const std::string one = text.substr(start, comma == std::string::npos ? comma : comma - start);
    if (one.empty())
      throw std::runtime_error(
          fmt::format("--controller \"{}\" has an empty address: ADDR:PORT[,ADDR:PORT...]", text));
    out.push_back(split_address(one));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

std::string error_text(const beast::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() ? fmt::format("TLS: {}", ec.message())
                                                          : ec.message();
}

}  // namespace

struct Agent::Impl {
  AgentOptions options;
  std::unique_ptr<Dataplane> dataplane;
  StateDir state;
  // --controller's replicas; the agent talks to one at a time and moves to
  // the next when a session or an attempt fails.
  std::vector<std::pair<std::string, std::string>> controllers;
  size_t current_controller = 0;
  std::string controller_address() const {
    const auto& [h, p] = controllers[current_controller];
    return (h.find(':') == std::string::npos ? h : "[" + h + "]") + ":" + p;
  }
  asio::io_context io{1};
  asio::signal_set signals{io};
  asio::local::stream_protocol::acceptor admin{io};
  int exit_code = 0;
  bool stopping = false;

  // What `show status` reports.
  std::shared_ptr<const policy::HostPolicy> current;
  std::vector<proto::Problem> last_problems;
  uint16_t sent_uplink_mtu = 0;    // what the last hello said of the uplink's MTU
  uint16_t sent_external_mtu = 0;  // and of the external interface's
  // A hello with what the dataplane says of its links now.
  nlohmann::json hello() {
    sent_uplink_mtu = dataplane->uplink_mtu();
    sent_external_mtu = dataplane->external_mtu();
    return proto::hello(options.host_id, current ? current->generation : 0, dataplane->uplink(),
                        sent_uplink_mtu, sent_external_mtu);
  }
  bool connected = false;
  bool established = false;  // the current attempt reached the controller
  std::string last_error;
  std::string connected_since;
  std::string last_applied;
  uint64_t reconnects = 0;
  uint64_t deltas = 0;
  uint64_t snapshots = 0;
  uint64_t rejected = 0;

  // The live session, if any (for stop()).
  std::function<void()> close_session;
  // Queues a message on the live session, if any (io thread only).
  std::function<void(const json&)> send_now;

  Impl(AgentOptions o, std::unique_ptr<Dataplane> d)
      : options(std::move(o)), dataplane(std::move(d)), state(options.state_dir) {}

  // --- enrollment ------------------------------------------------------

  asio::awaitable<void> enroll() {
    spdlog::info("enrolling controller={} host={}", controller_address(), options.host_id);
    ssl::context ctx{ssl::context::tls_client};
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_3_VERSION);
    // Nothing is trusted yet: the chain is checked against the pin below,
    // before the token leaves this host.
    ctx.set_verify_mode(ssl::verify_none);
    tls_ops::TlsStream stream(io, ctx);
    SSL_set_tlsext_host_name(stream.native_handle(), std::string(proto::kControllerName).c_str());
    co_await connect(beast::get_lowest_layer(stream));
    beast::get_lowest_layer(stream).expires_after(kConnectTimeout);
    if (auto ec = co_await tls_ops::handshake(stream, ssl::stream_base::client); ec)
      throw std::runtime_error(fmt::format("enrollment handshake: {}", error_text(ec)));
    if (auto why = tls::check_pinned_peer(stream.native_handle(), options.ca_sha256,
                                          proto::kControllerName))
      throw Refused(fmt::format("not enrolling: {}", *why));

    const std::string key = tls::generate_key();
    http::request<http::string_body> req{http::verb::post, std::string(proto::kEnrollPath), 11};
    req.set(http::field::host, controllers[current_controller].first);
    req.set(http::field::content_type, "application/json");
    req.body() = json{{"host_id", options.host_id},
                      {"token", options.enrollment_token},
                      {"csr", tls::make_csr(key, options.host_id)}}
                     .dump();
    req.prepare_payload();
    if (auto ec = co_await tls_ops::write(stream, req); ec)
      throw std::runtime_error(fmt::format("enrollment request: {}", error_text(ec)));
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    if (auto ec = co_await tls_ops::read(stream, buffer, res); ec)
      throw std::runtime_error(fmt::format("enrollment answer: {}", error_text(ec)));
    const json body = parse_untrusted(res.body()).value_or(json());
    if (res.result_int() != 200) {
      const std::string detail = body.is_object() ? body.value("detail", res.body()) : res.body();
      throw Refused(
          fmt::format("the controller refused the enrollment ({}): {}", res.result_int(), detail));
    }
    if (!body.is_object() || !body.contains("certificate") || !body.contains("ca_certificate"))
      throw std::runtime_error("the enrollment answer has no certificate");
    const std::string ca = body["ca_certificate"];
    if (tls::certificate_sha256(ca) != options.ca_sha256)
      throw Refused("the CA certificate the controller sent does not match --ca-sha256");
    state.save_identity(key, body["certificate"], ca);
    spdlog::info("enrolled host={} certificate={}", options.host_id,
                 log::quote(state.certificate().string()));
  }

  asio::awaitable<void> connect(beast::tcp_stream& stream) {
    tcp::resolver resolver(io);
    const auto [host, port] = controllers[current_controller];
    auto [ec, endpoints] = co_await resolver.async_resolve(host, port, kTuple);
    if (ec) throw std::runtime_error(fmt::format("cannot resolve {}: {}", host, ec.message()));
    stream.expires_after(kConnectTimeout);
    auto [cec, ep] = co_await stream.async_connect(endpoints, kTuple);
    if (cec)
      throw std::runtime_error(
          fmt::format("cannot connect to {}: {}", controller_address(), cec.message()));
    beast::error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);  // acks go out at once
  }

  // --- policy ------------------------------------------------------------

  // Publishes to the data plane, then to disk; returns the problems to ack.
  std::vector<proto::Problem> install(policy::HostPolicy next) {
    policy::canonicalize(next);
    auto problems = dataplane->publish(next);
    last_problems = problems;
    state.save_policy(next);
    current = std::make_shared<const policy::HostPolicy>(std::move(next));
    last_applied = rfc3339(std::chrono::system_clock::now());
    spdlog::info(
        "policy_applied generation={} ports={} lookup_records={} customer_routes={} "
        "problems={}",
        current->generation, current->ports.size(), current->lookup_records.size(),
        current->customer_routes.size(), problems.size());
    return problems;
  }

  // --- certificate renewal (over the session: no token needed) ----------

  std::string renewal_key;  // the key of the renewal asked for, until answered
  std::chrono::steady_clock::time_point next_renewal_check{};

  // Asks for a new certificate when the one held expires within
  // renew_before; at most once per renew_check_interval.
  template <class Send>
  void maybe_renew(Send& send) {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_renewal_check) return;
    next_renewal_check = now + options.renew_check_interval;
    try {
      const auto expires = tls::not_after(read_file(state.certificate()));
      if (std::chrono::system_clock::now() + options.renew_before < expires) return;
      renewal_key = tls::generate_key();
      send(proto::renew(tls::make_csr(renewal_key, options.host_id)));
      spdlog::info("certificate_renewal_asked expires_at={}", rfc3339(expires));
    } catch (const std::exception& e) {
      spdlog::warn("certificate_renewal_failed error={}", log::quote(e.what()));
    }
  }

  // The controller's answer: checked against the pinned CA and our host,
  // then stored; the next connection uses it.
  void store_renewed(const std::string& cert, const std::string& ca) {
    try {
      if (renewal_key.empty()) throw std::runtime_error("no renewal was asked for");
      if (tls::certificate_sha256(ca) != tls::certificate_sha256(read_file(state.ca())))
        throw std::runtime_error("the certificate comes from another CA");
      if (tls::common_name(cert) != options.host_id)
        throw std::runtime_error("the certificate is for another host");
      state.save_identity(renewal_key, cert, ca);
      renewal_key.clear();
      spdlog::info("certificate_renewed serial={} expires_at={}", tls::serial(cert),
                   rfc3339(tls::not_after(cert)));
    } catch (const std::exception& e) {
      spdlog::warn("certificate_refused error={}", log::quote(e.what()));
    }
  }

  // --- the session -------------------------------------------------------

  asio::awaitable<void> session() {
    ssl::context ctx{ssl::context::tls_client};
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_3_VERSION);
    ctx.use_certificate_chain_file(state.certificate().string());
    ctx.use_private_key_file(state.key().string(), ssl::context::pem);
    ctx.load_verify_file(state.ca().string());
    ctx.set_verify_mode(ssl::verify_peer);
    tls_ops::TlsWebSocket ws(io, ctx);
    SSL* native = ws.next_layer().native_handle();
    const std::string name(proto::kControllerName);
    SSL_set_tlsext_host_name(native, name.c_str());
    SSL_set1_host(native, name.c_str());  // the controller's certificate, not a host's
    co_await connect(beast::get_lowest_layer(ws));
    beast::get_lowest_layer(ws).expires_after(kConnectTimeout);
    if (auto ec = co_await tls_ops::handshake(ws.next_layer(), ssl::stream_base::client); ec)
      throw std::runtime_error(
          fmt::format("handshake with {}: {}", controller_address(), error_text(ec)));
    beast::get_lowest_layer(ws).expires_never();
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    ws.read_message_max(proto::kMaxControllerMessage);
    websocket::response_type upgrade;
    if (auto ec = co_await tls_ops::handshake(ws, upgrade, controllers[current_controller].first,
                                              proto::kAgentPath);
        ec) {
      if (upgrade.result_int() >= 400 && upgrade.result_int() < 500) {
        const json body = parse_untrusted(upgrade.body()).value_or(json());
        throw std::runtime_error(fmt::format(
            "the controller refused the session ({}): {}", upgrade.result_int(),
            body.is_object() ? body.value("detail", std::string("")) : std::string("")));
      }
      throw std::runtime_error(fmt::format("WebSocket handshake: {}", ec.message()));
    }

    // One writer, fed by a queue: acks from the reader, stats from a timer.
    std::deque<std::string> out;
    asio::steady_timer wake(io);
    bool done = false;
    auto send = [&](const json& m) {
      out.push_back(m.dump());
      wake.cancel();
    };
    send_now = send;
    close_session = [&] {
      done = true;
      beast::get_lowest_layer(ws).close();
    };
    auto writer = [&]() -> asio::awaitable<void> {
      while (!done) {
        if (out.empty()) {
          wake.expires_at(asio::steady_timer::time_point::max());
          co_await wake.async_wait(kTuple);
          continue;
        }
        const std::string text = std::move(out.front());
        out.pop_front();
        ws.text(true);
        if (co_await tls_ops::write(ws, asio::buffer(text))) {
          done = true;
          beast::get_lowest_layer(ws).close();
        }
      }
    };
    asio::steady_timer stats_timer(io);
    auto stats = [&]() -> asio::awaitable<void> {
      while (!done) {
        stats_timer.expires_after(options.stats_interval);
        if (auto [ec] = co_await stats_timer.async_wait(kTuple); ec || done) co_return;
        send(proto::stats(dataplane->counters()));
        maybe_renew(send);
      }
    };
    auto writer_done = std::make_shared<bool>(false);
    asio::co_spawn(io, writer(), [writer_done](std::exception_ptr) { *writer_done = true; });
    asio::co_spawn(io, stats(), asio::detached);

    send(hello());
    // What we hold is realized as far as we know: say so with its problems,
    // so a restarted controller sees the host realized without resending.
    if (current) send(proto::ack(current->generation, last_problems));
    maybe_renew(send);
    connected = true;
    established = true;
    connected_since = rfc3339(std::chrono::system_clock::now());
    last_error.clear();
    spdlog::info("connected controller={} generation={}", controller_address(),
                 current ? current->generation : 0);

    Follower follower(options.host_id, options.policy_backoff_initial, options.policy_backoff_max);
    std::mt19937_64 rng(std::random_device{}());
    std::uniform_real_distribution<double> jitter(0.0, 1.0);
    asio::steady_timer resync(io);
    auto session_alive = std::make_shared<bool>(true);
    beast::flat_buffer buffer;
    std::string reason;
    while (!done) {
      buffer.clear();
      const auto ec = co_await tls_ops::read(ws, buffer);
      if (ec) {
        reason = ec == websocket::error::closed
                     ? fmt::format("closed by the controller: {}", ws.reason().reason.c_str())
                     : error_text(ec);
        break;
      }
      // Not JSON or too deep: an empty message, which the follower ignores.
      const json m =
          parse_untrusted(beast::buffers_to_string(buffer.data())).value_or(json::object());
      FollowerStep step = follower.on_message(m, current.get(), last_problems, jitter(rng));
      if (!step.ignored.empty()) spdlog::warn("message_ignored type={}", log::quote(step.ignored));
      if (step.certificate) store_renewed(step.certificate->first, step.certificate->second);
      if (step.install) {
        if (m.value("type", "") == "snapshot")
          ++snapshots;
        else
          ++deltas;
        const uint64_t generation = step.install->generation;
        std::vector<proto::Problem> problems;
        try {
          problems = install(std::move(*step.install));
        } catch (const std::exception& e) {
          problems.push_back({"policy_apply_failed", e.what(), "", ""});
          spdlog::error("policy_apply_failed generation={} error={}", generation,
                        log::quote(e.what()));
        }
        send(proto::ack(generation, problems));
      }
      for (const json& message : step.send) send(message);
      if (step.resync_after) {
        ++rejected;
        spdlog::warn("policy_rejected error={} action=resync retry_in_ms={}",
                     log::quote(step.rejected), step.resync_after->count());
        // Asks for a snapshot later; a newer policy meanwhile changes nothing
        // (the hello only says which generation this host holds).
        resync.expires_after(*step.resync_after);
        resync.async_wait(
            [&, alive = std::weak_ptr<bool>(session_alive)](beast::error_code waited) {
              if (waited || alive.expired() || done) return;
              send(hello());
            });
      }
    }
    done = true;
    session_alive.reset();
    resync.cancel();
    close_session = nullptr;
    send_now = nullptr;
    wake.cancel();
    stats_timer.cancel();
    connected = false;
    beast::error_code ignored;
    beast::get_lowest_layer(ws).socket().close(ignored);
    // The writer holds references into this frame: let it finish first.
    while (!*writer_done) {
      asio::steady_timer t(io, std::chrono::milliseconds(1));
      co_await t.async_wait(kTuple);
    }
    throw std::runtime_error(reason.empty() ? "session ended" : reason);
  }

  asio::awaitable<void> control_loop() {
    std::mt19937_64 rng(std::random_device{}());
    auto backoff = options.backoff_initial;
    while (!stopping) {
      std::string error;
      bool refused = false;
      try {
        if (!state.enrolled()) co_await enroll();
        co_await session();
      } catch (const Refused& e) {
        error = e.what();
        refused = true;
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (stopping) break;
      last_error = error;
      if (refused && !state.enrolled()) {
        spdlog::error("enrollment_failed error={}", log::quote(error));
        fmt::print(stderr, "vnet-agent: {}\n", error);
        exit_code = 1;
        stop();
        co_return;
      }
      ++reconnects;
      // A session that got through starts the backoff over.
      if (established) backoff = options.backoff_initial;
      established = false;
      // The next attempt goes to the next replica: the one that failed may
      // be gone (a replica's death moves its agents to the others).
      const std::string failed = controller_address();
      current_controller = (current_controller + 1) % controllers.size();
      if (controllers.size() > 1)
        spdlog::info("controller_next failed={} next={}", failed, controller_address());
      // Capped exponential backoff with full jitter in [backoff/2, backoff].
      std::uniform_int_distribution<int64_t> jitter(backoff.count() / 2, backoff.count());
      const auto delay = std::chrono::milliseconds(jitter(rng));
      spdlog::warn("disconnected error={} retry_in_ms={}", log::quote(error), delay.count());
      asio::steady_timer t(io, delay);
      co_await t.async_wait(kTuple);
      backoff = std::min(backoff * 2, options.backoff_max);
    }
  }

  // --- admin socket ------------------------------------------------------

  json answer(const std::string& what) {
    if (what == "status") {
      return {{"host_id", options.host_id},
              {"controller", controller_address()},
              {"controllers", options.controller},
              {"connected", connected},
              {"connected_since", connected ? json(connected_since) : json()},
              {"generation", current ? json(current->generation) : json()},
              {"last_applied", last_applied.empty() ? json() : json(last_applied)},
              {"last_error", last_error.empty() ? json() : json(last_error)},
              {"reconnects", reconnects},
              {"snapshots", snapshots},
              {"deltas", deltas},
              {"rejected", rejected},
              {"dataplane", dataplane->name()},
              {"problems", problems_text()},
              {"state_dir", state.path().string()}};
    }
    if (what == "counters") return dataplane->counters();
    if (what == "gateways") return dataplane->gateways();
    if (what == "nat") return dataplane->nat(kNatShowLimit);
    if (!current) return json{{"error", "no policy yet: the agent has never been synchronised"}};
    const json p = policy::to_json(*current);
    if (what == "policy") return p;
    if (what == "lookup-records") return p.at("lookup_records");
    if (what == "customer-routes") return p.at("customer_routes");
    if (what == "ports") return p.at("ports");
    return json{{"error", fmt::format("unknown request \"{}\"", what)}};
  }

  // What is not realized, for `show status`: "code (nic): message; ...".
  std::string problems_text() const {
    std::string out;
    for (const auto& p : last_problems) {
      if (!out.empty()) out += "; ";
      const std::string& object = p.nic_id.empty() ? p.gateway_id : p.nic_id;
      out += p.code + (object.empty() ? "" : " (" + object + ")") + ": " + p.message;
    }
    return out.empty() ? "-" : out;
  }

  asio::awaitable<void> admin_loop() {
    for (;;) {
      auto [ec, socket] = co_await admin.async_accept(kTuple);
      if (ec) co_return;
      asio::streambuf line(4096);
      auto [rec, n] = co_await asio::async_read_until(socket, line, '\n', kTuple);
      if (rec) continue;
      std::string request(asio::buffers_begin(line.data()),
                          asio::buffers_begin(line.data()) + static_cast<long>(n));
      const json r = parse_untrusted(request).value_or(json());
      json reply;
      try {
        if (r.is_object() && r.contains("trace") && r["trace"].is_object()) {
          reply = dataplane->trace(r["trace"]);
        } else if (r.is_object() && r.contains("show") && r["show"].is_string()) {
          reply = answer(r["show"]);
        } else {
          reply = json{{"error", "send one line: {\"show\": \"status\"}"}};
        }
      } catch (const std::exception& e) {  // one bad request must not end the admin socket
        reply = json{{"error", e.what()}};
      }
      const std::string text = reply.dump() + "\n";
      co_await asio::async_write(socket, asio::buffer(text), kTuple);
    }
  }

  void start_admin() {
    const std::string path = state.socket().string();
    ::unlink(path.c_str());  // a stale socket of an earlier run
    admin.open();
    admin.bind(asio::local::stream_protocol::endpoint(path));
    ::chmod(path.c_str(), 0600);
    admin.listen();
    asio::co_spawn(io, admin_loop(), asio::detached);
  }

  void stop() {
    stopping = true;
    if (close_session) close_session();
    io.stop();
  }
};

Agent::Agent(AgentOptions options, std::unique_ptr<Dataplane> dataplane)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(dataplane))) {
  auto& o = impl_->options;
  // Problems that change without a policy (an interface appears or goes
  // away) reach the controller as a fresh ack of the generation held.
  impl_->dataplane->on_problems([impl = impl_.get()](std::vector<proto::Problem> problems) {
    asio::post(impl->io, [impl, problems = std::move(problems)]() mutable {
      impl->last_problems = std::move(problems);
      if (impl->current && impl->send_now) {
        impl->send_now(proto::ack(impl->current->generation, impl->last_problems));
      }
      // The uplink's (or the external interface's) MTU changed under a
      // running session: a hello says so (the controller recompiles the
      // ports' MTU from the uplink's).
      const uint16_t mtu = impl->dataplane->uplink_mtu();
      const uint16_t external = impl->dataplane->external_mtu();
      if (impl->send_now && ((mtu != 0 && mtu != impl->sent_uplink_mtu) ||
                             (external != 0 && external != impl->sent_external_mtu))) {
        impl->send_now(impl->hello());
        spdlog::info("link_mtu_changed uplink_mtu={} external_mtu={}", mtu, external);
      }
      spdlog::info("problems_changed count={}", impl->last_problems.size());
    });
  });
  if (!Uuid::parse(o.host_id))
    throw std::runtime_error(fmt::format("--host-id \"{}\" is not a UUID", o.host_id));
  impl_->controllers = split_addresses(o.controller);
  // Agents spread over the replicas by host, the same one first after a
  // restart.
  impl_->current_controller = first_controller(o.host_id, impl_->controllers.size());
  impl_->state.ensure();
  if (!impl_->state.enrolled() && (o.enrollment_token.empty() || o.ca_sha256.empty())) {
    throw std::runtime_error(fmt::format(
        "{} holds no certificate yet: enroll with --enrollment-token and --ca-sha256 (POST "
        "/api/v1/hosts/{}/enrollment gives the whole command)",
        impl_->state.path().string(), o.host_id));
  }
  std::string error;
  if (auto last = impl_->state.load_policy(error)) {
    if (last->host_id.to_string() != o.host_id) {
      spdlog::warn("policy_file_ignored reason={}", log::quote("it is for another host"));
    } else {
      impl_->install(std::move(*last));
      spdlog::info("started_from_disk generation={}", impl_->current->generation);
    }
  } else if (!error.empty()) {
    spdlog::warn("policy_file_ignored reason={}", log::quote(error));
  }
}

Agent::~Agent() {
  impl_->dataplane->on_problems(nullptr);  // its thread may outlive io otherwise
  ::unlink(impl_->state.socket().c_str());
}

size_t first_controller(const std::string& host_id, size_t count) {
  // FNV-1a: the same on every build (std::hash need not be).
  uint64_t h = 1469598103934665603ull;
  for (const char c : host_id) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return count == 0 ? 0 : static_cast<size_t>(h % count);
}

int Agent::run() {
  impl_->start_admin();
  asio::co_spawn(impl_->io, impl_->control_loop(), asio::detached);
  // Serving: the engine carries the last policy while the session comes up.
  systemd::ready("running; controller " + impl_->options.controller);
  impl_->io.run();
  systemd::stopping();
  return impl_->exit_code;
}

void Agent::stop() {
  asio::post(impl_->io, [impl = impl_.get()] { impl->stop(); });
}

void Agent::stop_on_signals() {
  impl_->signals.add(SIGINT);
  impl_->signals.add(SIGTERM);
  impl_->signals.async_wait([impl = impl_.get()](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("stopping signal={}", sig);
    impl->stop();
  });
}

}  // namespace vnet::agent
