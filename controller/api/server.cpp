#include "controller/api/server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
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
#include "shared/log/limiter.h"
#include "shared/log/log.h"

namespace vnet::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

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
      asio::co_spawn(executor, session(beast::tcp_stream(std::move(socket))),
                     [this](std::exception_ptr) { --connections; });
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

  asio::awaitable<void> session(beast::tcp_stream stream) {
    beast::flat_buffer buffer;
    const std::string peer = [&] {
      beast::error_code ec;
      auto ep = stream.socket().remote_endpoint(ec);
      return ec ? std::string("?") : fmt::format("{}:{}", ep.address().to_string(), ep.port());
    }();
    while (!stopping) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(kMaxBodyBytes);
      parser.header_limit(16 * 1024);
      stream.expires_after(options.idle_timeout);
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, kTuple);
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
        response = problem_response(500, "Internal Server Error",
                                    fmt::format("the controller failed: {}", e.what()), request_id);
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
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
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

  // Closing a socket with unread input makes the kernel send RST, which can
  // destroy the answer (a 413) before the client reads it. So: stop sending,
  // then read and drop what the client still sends, for a second at most.
  asio::awaitable<void> lingering_close(beast::tcp_stream& stream) {
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.expires_after(std::chrono::seconds(1));
    std::array<char, 16384> sink;
    size_t dropped = 0;
    while (!ec && dropped < 4 * kMaxBodyBytes) {
      auto [read_ec, n] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
      ec = read_ec;
      dropped += n;
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

  asio::awaitable<void> write(beast::tcp_stream& stream, const Response& r, unsigned version,
                              bool keep_alive, bool head = false) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::server, "vnet-controller");
    if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) res.set(name, value);
    res.body() = head ? std::string() : r.body;
    res.keep_alive(keep_alive);
    res.prepare_payload();
    if (head) res.content_length(r.body.size());
    stream.expires_after(options.idle_timeout);
    co_await http::async_write(stream, res, kTuple);
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
