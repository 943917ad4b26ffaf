#pragma once
// The TLS, HTTP and WebSocket operations of the southbound channel, as
// awaitables instantiated once, in tls_ops.cpp and tls_ops_websocket.cpp.
//
// Each Beast composed operation awaited with use_awaitable costs g++ 12
// seconds of template instantiation in every file that awaits it (8 s at -O2
// for a WebSocket read over TLS, 30 s for an accept); the controller's
// southbound server, the agent and the southbound benchmark awaited the same
// dozen, so CI compiled them three times in each of two builds. Callers here
// await a plain coroutine instead; the extra frame per message is nothing
// next to the TLS record it carries.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <string_view>
#include <utility>

namespace vnet::tls_ops {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using boost::system::error_code;

using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using TlsWebSocket = websocket::stream<TlsStream>;

// TLS.
asio::awaitable<error_code> handshake(TlsStream& s, asio::ssl::stream_base::handshake_type side);
// The same with bytes already read from the socket (a server that looked at
// the first bytes); returns how many of them the handshake used.
asio::awaitable<std::pair<error_code, size_t>> handshake(
    TlsStream& s, asio::ssl::stream_base::handshake_type side, asio::const_buffer already_read);
asio::awaitable<error_code> shutdown(TlsStream& s);

// One HTTP/1.1 message over TLS (enrollment and the WebSocket upgrade).
asio::awaitable<error_code> read(TlsStream& s, beast::flat_buffer& buffer,
                                 http::request_parser<http::string_body>& parser);
asio::awaitable<error_code> read(TlsStream& s, beast::flat_buffer& buffer,
                                 http::response<http::string_body>& response);
asio::awaitable<error_code> write(TlsStream& s, const http::request<http::string_body>& request);
asio::awaitable<error_code> write(TlsStream& s, const http::response<http::string_body>& response);

// WebSocket over TLS. handshake() fills `upgrade` with the server's answer,
// so a refusal's problem detail can be shown.
asio::awaitable<error_code> accept(TlsWebSocket& ws, const http::request<http::string_body>& req);
asio::awaitable<error_code> handshake(TlsWebSocket& ws, websocket::response_type& upgrade,
                                      std::string_view host, std::string_view target);
asio::awaitable<error_code> read(TlsWebSocket& ws, beast::flat_buffer& buffer);
asio::awaitable<error_code> write(TlsWebSocket& ws, asio::const_buffer message);
asio::awaitable<error_code> close(TlsWebSocket& ws, const websocket::close_reason& reason);

}  // namespace vnet::tls_ops
