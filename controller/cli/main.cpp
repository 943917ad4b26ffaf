// vnetctl: see controller/cli/vnetctl.cpp and docs/cli.md.
#include "controller/cli/vnetctl.h"

int main(int argc, char** argv) { return vnet::cli::run(argc, argv); }
