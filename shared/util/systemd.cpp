#include "shared/util/systemd.h"

#include <systemd/sd-daemon.h>

namespace vnet::systemd {

void ready(const std::string& status) {
  const std::string message = "READY=1\nSTATUS=" + status;
  sd_notify(0, message.c_str());
}

void stopping() { sd_notify(0, "STOPPING=1"); }

}  // namespace vnet::systemd
