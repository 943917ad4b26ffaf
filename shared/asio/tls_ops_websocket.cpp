#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "shared/asio/tls_ops.h"

// The WebSocket half of tls_ops.h, apart from the TLS and HTTP half so that
// two cores compile them side by side (this one takes g++ 12 a minute).

namespace vnet::tls_ops {

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
}

asio::awaitable<error_code> accept(TlsWebSocket& ws, const http::request<http::string_body>& req) {
  auto [ec] = co_await ws.async_accept(req, kTuple);
  co_return ec;
}

asio::awaitable<error_code> handshake(TlsWebSocket& ws, websocket::response_type& upgrade,
                                      std::string_view host, std::string_view target) {
  auto [ec] = co_await ws.async_handshake(upgrade, host, target, kTuple);
  co_return ec;
}

asio::awaitable<error_code> read(TlsWebSocket& ws, beast::flat_buffer& buffer) {
  auto [ec, n] = co_await ws.async_read(buffer, kTuple);
  co_return ec;
}

asio::awaitable<error_code> write(TlsWebSocket& ws, asio::const_buffer message) {
  auto [ec, n] = co_await ws.async_write(message, kTuple);
  co_return ec;
}

asio::awaitable<error_code> close(TlsWebSocket& ws, const websocket::close_reason& reason) {
  auto [ec] = co_await ws.async_close(reason, kTuple);
  co_return ec;
}

}  // namespace vnet::tls_ops
