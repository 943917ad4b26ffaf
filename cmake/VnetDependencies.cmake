# Third-party libraries, all from Debian 12 packages (scripts/setup installs them).
# Each find_package fails configuration with the package name to install.

find_package(Threads REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(fmt 9 REQUIRED)
find_package(spdlog 1.10 REQUIRED)

# Boost 1.81 exactly: Debian 12's default 1.74 cannot compile Asio's C++20
# coroutines with g++ 12 or clang 14. Asio and Beast are header-only.
find_package(Boost 1.81...<1.82 REQUIRED CONFIG)
find_package(OpenSSL 3 REQUIRED)

if(VNET_TESTS)
  find_package(GTest 1.12 REQUIRED)
endif()
if(VNET_TESTS AND VNET_BENCH)
  find_package(benchmark 1.7 REQUIRED)
endif()
