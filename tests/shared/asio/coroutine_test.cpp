// Proves the toolchain the daemons are built on: Boost 1.81's Asio compiled
// once, C++20 coroutines with g++ 12, over a real loopback socket.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <string>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<void> echo_once(tcp::acceptor& acceptor) {
  tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
  char data[5];
  co_await asio::async_read(socket, asio::buffer(data), asio::use_awaitable);
  co_await asio::async_write(socket, asio::buffer(data), asio::use_awaitable);
}

asio::awaitable<std::string> ask(tcp::endpoint server) {
  tcp::socket socket(co_await asio::this_coro::executor);
  co_await socket.async_connect(server, asio::use_awaitable);
  co_await asio::async_write(socket, asio::buffer(std::string("hello")), asio::use_awaitable);
  std::string reply(5, '\0');
  co_await asio::async_read(socket, asio::buffer(reply), asio::use_awaitable);
  co_return reply;
}

TEST(Asio, CoroutinesEchoOverLoopback) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::co_spawn(io, echo_once(acceptor), asio::detached);
  std::string reply;
  asio::co_spawn(io, ask(acceptor.local_endpoint()), [&](std::exception_ptr e, std::string r) {
    if (e) std::rethrow_exception(e);
    reply = std::move(r);
  });
  io.run_for(std::chrono::seconds(10));
  EXPECT_EQ(reply, "hello");
}

}  // namespace
