# Compiler settings shared by every target of vnet.

find_program(VNET_CCACHE ccache)
if(VNET_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER ${VNET_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${VNET_CCACHE})
endif()

add_compile_options(-Wall -Wextra -Wpedantic -Wshadow)

# LLVM's linker when it is there (scripts/setup installs lld for the XDP
# programs and the fuzzers anyway): GNU ld took 10 s to link one sanitized
# test binary, lld 2.6 s, and CI links some forty binaries per build.
find_program(VNET_LLD ld.lld)
if(VNET_LLD)
  add_link_options(-fuse-ld=lld)
endif()

# Line tables only (-g1) in the default build: backtraces and sanitizer
# reports keep file:line, and Beast-heavy files compile about 25% faster than
# with full -g (southbound server.cpp: 82 s against 111 s, measured
# 2026-11-22), which keeps CI on two cores under its time budget.
set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "-O2 -g1 -DNDEBUG")
set(CMAKE_C_FLAGS_RELWITHDEBINFO "-O2 -g1 -DNDEBUG")
if(VNET_WERROR)
  add_compile_options(-Werror)
endif()

# The sanitizer build is compiled at -O0, fully instrumented. g++ 12 with
# AddressSanitizer spends minutes on Asio/Beast coroutine files at -O2
# (southbound server.cpp: 419 s, against 120 s at -O0), and about three
# times as long on ordinary files too (store_test.cpp: 31 s at -O2, 20 s at
# -O1, 11 s at -O0; measured 2026-11-22). The sanitizer stage's tests take
# seconds either way; the build was half of CI's time.
if(VNET_SANITIZE)
  set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "-O0 -g1 -DNDEBUG")
  set(CMAKE_C_FLAGS_RELWITHDEBINFO "-O0 -g1 -DNDEBUG")
  add_compile_options(-fsanitize=${VNET_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${VNET_SANITIZE})
endif()

if(VNET_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "VNET_FUZZ=ON needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang")
  endif()
  # Coverage instrumentation for everything; the fuzz targets link libFuzzer.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()
