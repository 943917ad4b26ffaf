# Turns the compiled XDP object into a C++ source file, so the agent carries
# its program inside its binary and never looks for a file at run time.
# cmake -DINPUT=x.o -DOUTPUT=x.cpp -P embed.cmake
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE ${OUTPUT} "// Generated from ${INPUT} by agent/bpf/embed.cmake.\n#include <cstddef>\n#include <cstdint>\nnamespace vnet::agent::bpf {\nextern const uint8_t kXdpObject[] = {\n${bytes}\n};\nextern const size_t kXdpObjectSize = ${size};\n}  // namespace vnet::agent::bpf\n")
