# Turns a compiled XDP object into a C++ source file, so a program carries
# its XDP code inside its binary and never looks for a file at run time.
# cmake -DINPUT=x.o -DOUTPUT=x.cpp -DSYMBOL=kName -P embed.cmake
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE ${OUTPUT} "// Generated from ${INPUT} by agent/bpf/embed.cmake.\n#include <cstddef>\n#include <cstdint>\nnamespace vnet::bpf_objects {\nextern const uint8_t ${SYMBOL}[] = {\n${bytes}\n};\nextern const size_t ${SYMBOL}Size = ${size};\n}  // namespace vnet::bpf_objects\n")
