// Telling systemd how the daemon is doing (Type=notify units, sd_notify(3)
// from libsystemd): ready once it serves, stopping when it stops. Without
// NOTIFY_SOCKET (not started by systemd) these do nothing.
#pragma once

#include <string>

namespace vnet::systemd {

void ready(const std::string& status);
void stopping();

}  // namespace vnet::systemd
