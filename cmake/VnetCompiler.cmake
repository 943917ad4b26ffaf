# Compiler settings shared by every target of vnet.

find_program(VNET_CCACHE ccache)
if(VNET_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER ${VNET_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${VNET_CCACHE})
endif()

add_compile_options(-Wall -Wextra -Wpedantic -Wshadow)
if(VNET_WERROR)
  add_compile_options(-Werror)
endif()

if(VNET_SANITIZE)
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
