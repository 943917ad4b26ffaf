#include "shared/asio/tls_ops.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <sstream>
#include <string>

namespace vnet::tls_ops {

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// The channel's HTTP messages are small (an enrollment, a refusal):
// serialized into a string and written with one asio::async_write, instead
// of http::async_write, whose serializer over TLS costs g++ 12 some 18 s to
// instantiate per message type.
template <class Message>
std::string serialize(const Message& m) {
  std::ostringstream os;
  os << m;
  return std::move(os).str();
}

asio::awaitable<error_code> write_bytes(TlsStream& s, std::string bytes) {
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(bytes), kTuple);
  co_return ec;
}

}  // namespace

asio::awaitable<error_code> handshake(TlsStream& s, asio::ssl::stream_base::handshake_type side) {
  auto [ec] = co_await s.async_handshake(side, kTuple);
  co_return ec;
}

asio::awaitable<std::pair<error_code, size_t>> handshake(
    TlsStream& s, asio::ssl::stream_base::handshake_type side, asio::const_buffer already_read) {
  auto [ec, used] = co_await s.async_handshake(side, already_read, kTuple);
  co_return std::pair{ec, used};
}

asio::awaitable<error_code> shutdown(TlsStream& s) {
  auto [ec] = co_await s.async_shutdown(kTuple);
  co_return ec;
}

asio::awaitable<error_code> read(TlsStream& s, beast::flat_buffer& buffer,
                                 http::request_parser<http::string_body>& parser) {
  auto [ec, n] = co_await http::async_read(s, buffer, parser, kTuple);
  co_return ec;
}

asio::awaitable<error_code> read(TlsStream& s, beast::flat_buffer& buffer,
                                 http::response<http::string_body>& response) {
  auto [ec, n] = co_await http::async_read(s, buffer, response, kTuple);
  co_return ec;
}

asio::awaitable<error_code> write(TlsStream& s, const http::request<http::string_body>& request) {
  co_return co_await write_bytes(s, serialize(request));
}

asio::awaitable<error_code> write(TlsStream& s, const http::response<http::string_body>& response) {
  co_return co_await write_bytes(s, serialize(response));
}

}  // namespace vnet::tls_ops
