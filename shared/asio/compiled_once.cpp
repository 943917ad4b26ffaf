// The one translation unit that compiles Boost.Asio, Asio's SSL support and
// Boost.Beast (separate compilation, see shared/asio/README.md). Every other
// file that uses them gets BOOST_ASIO_SEPARATE_COMPILATION and
// BOOST_BEAST_SEPARATE_COMPILATION from the vnet_asio target and so only
// declarations, which keeps builds on two cores tolerable.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
