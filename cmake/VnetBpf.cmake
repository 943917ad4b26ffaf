# vnet_bpf_object(NAME SOURCE SYMBOL [INCLUDES dirs...] [DEPENDS headers...]): compiles SOURCE with
# clang -target bpf and turns the object into ${NAME}_object.cpp, which
# defines `extern const uint8_t <SYMBOL>[]` and `<SYMBOL>Size` in namespace
# vnet::bpf_objects, so programs carry their XDP code inside the binary.
# Sets ${NAME}_SOURCE to the generated file.
find_program(VNET_BPF_CLANG NAMES clang clang-14 REQUIRED)
set(VNET_BPF_EMBED ${CMAKE_CURRENT_LIST_DIR}/../agent/bpf/embed.cmake)

function(vnet_bpf_object name source symbol)
  cmake_parse_arguments(B "" "" "INCLUDES;DEPENDS" ${ARGN})
  set(object ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  set(generated ${CMAKE_CURRENT_BINARY_DIR}/${name}_object.cpp)
  set(includes -I${CMAKE_CURRENT_SOURCE_DIR})
  foreach(dir IN LISTS B_INCLUDES)
    list(APPEND includes -I${dir})
  endforeach()
  add_custom_command(
    OUTPUT ${object}
    COMMAND ${VNET_BPF_CLANG} -O2 -g -Wall -Werror -target bpf ${includes}
            -I/usr/include/${CMAKE_LIBRARY_ARCHITECTURE} -c ${CMAKE_CURRENT_SOURCE_DIR}/${source}
            -o ${object}
    DEPENDS ${source} ${B_DEPENDS}
    COMMENT "clang -target bpf ${source}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${generated}
    COMMAND ${CMAKE_COMMAND} -DINPUT=${object} -DOUTPUT=${generated} -DSYMBOL=${symbol} -P
            ${VNET_BPF_EMBED}
    DEPENDS ${object} ${VNET_BPF_EMBED}
    VERBATIM)
  set(${name}_SOURCE ${generated} PARENT_SCOPE)
endfunction()
