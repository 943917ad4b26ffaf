// vnetctl's entry point: parses the command line, calls the controller's
// REST API, prints a table or JSON. Exit status: 0 done, 1 the controller
// refused or could not be reached, 2 bad usage (CLI11's own codes for
// unknown flags).
#pragma once

namespace vnet::cli {

int run(int argc, char** argv);

}  // namespace vnet::cli
