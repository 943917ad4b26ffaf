// A value or an error, for parsers and other functions whose failure is an
// ordinary outcome. A subset of C++23 std::expected (g++ 12 has none and
// Debian 12 packages no tl::expected); switch to std::expected with C++23.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace vnet {

template <class E>
class Unexpected {
 public:
  explicit constexpr Unexpected(E error) : error_(std::move(error)) {}
  constexpr const E& error() const& { return error_; }
  constexpr E&& error() && { return std::move(error_); }

 private:
  E error_;
};

template <class E>
Unexpected(E) -> Unexpected<E>;

template <class T, class E>
class [[nodiscard]] Expected {
 public:
  using value_type = T;
  using error_type = E;

  constexpr Expected(T value) : storage_(std::in_place_index<0>, std::move(value)) {}
  template <class G>
  requires std::is_constructible_v<E, G>
  constexpr Expected(Unexpected<G> u) : storage_(std::in_place_index<1>, E(std::move(u).error())) {}

  constexpr bool has_value() const { return storage_.index() == 0; }
  constexpr explicit operator bool() const { return has_value(); }

  constexpr T& value() & {
    assert(has_value());
    return *std::get_if<0>(&storage_);
  }
  constexpr const T& value() const& {
    assert(has_value());
    return *std::get_if<0>(&storage_);
  }
  constexpr T&& value() && {
    assert(has_value());
    return std::move(*std::get_if<0>(&storage_));
  }
  constexpr const E& error() const {
    assert(!has_value());
    return *std::get_if<1>(&storage_);
  }

  constexpr T& operator*() & { return value(); }
  constexpr const T& operator*() const& { return value(); }
  constexpr T&& operator*() && { return std::move(*this).value(); }
  constexpr T* operator->() { return &value(); }
  constexpr const T* operator->() const { return &value(); }

  // Equal when both hold equal values or equal errors.
  bool operator==(const Expected&) const = default;

  template <class U>
  constexpr T value_or(U&& fallback) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, E> storage_;
};

}  // namespace vnet
