#include "agent/bpf/xdp_program.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>

#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <stdexcept>

#include <spdlog/spdlog.h>
#include "agent/bpf/vnet_xdp.h"

#include "shared/log/log.h"

namespace vnet::bpf_objects {
extern const uint8_t kVnetXdp[];
extern const size_t kVnetXdpSize;
}  // namespace vnet::bpf_objects

namespace vnet::agent::bpf {

namespace {

constexpr const char* kProgramName = "vnet_xdp";

int libbpf_to_log(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[512];
  std::vsnprintf(line, sizeof line, format, args);
  std::string text(line);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (level == LIBBPF_WARN) {
    spdlog::warn("libbpf detail={}", log::quote(text));
  } else {
    spdlog::info("libbpf detail={}", log::quote(text));
  }
  return 0;
}

[[noreturn]] void fail(const std::string& ifname, const std::string& what, int error) {
  throw std::runtime_error("XDP on " + ifname + ": " + what + ": " + std::strerror(error));
}

// The name of the XDP program attached to `ifindex` in `flags`' mode, or "".
std::string attached_program(int ifindex, uint32_t flags) {
  uint32_t id = 0;
  if (bpf_xdp_query_id(ifindex, static_cast<int>(flags), &id) != 0 || id == 0) return "";
  const int fd = bpf_prog_get_fd_by_id(id);
  if (fd < 0) return "?";
  bpf_prog_info info{};
  uint32_t len = sizeof info;
  std::string name = "?";
  if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) name = info.name;
  close(fd);
  return name;
}

uint32_t mode_number(XdpMode mode) {
  switch (mode) {
    case XdpMode::kUplink: return VNET_XDP_MODE_UPLINK;
    case XdpMode::kExternal: return VNET_XDP_MODE_EXTERNAL;
    default: return VNET_XDP_MODE_PORT;
  }
}

}  // namespace

std::unique_ptr<XdpProgram> XdpProgram::attach(const std::string& ifname, XdpMode mode) {
  libbpf_set_print(libbpf_to_log);
  std::unique_ptr<XdpProgram> p(new XdpProgram());
  p->ifname_ = ifname;
  p->mode_ = mode;
  p->ifindex_ = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (p->ifindex_ == 0) fail(ifname, "no such interface", errno);

  const std::string other = attached_program(p->ifindex_, 0);
  if (!other.empty() && other != kProgramName) {
    throw std::runtime_error("XDP on " + ifname + ": the interface already runs XDP program \"" +
                             other + "\"; vnet does not replace it (detach it with `ip link set " +
                             ifname + " xdp off`)");
  }

  LIBBPF_OPTS(bpf_object_open_opts, open_opts, .object_name = kProgramName);
  p->object_ = bpf_object__open_mem(bpf_objects::kVnetXdp, bpf_objects::kVnetXdpSize, &open_opts);
  if (p->object_ == nullptr) fail(ifname, "cannot open the embedded XDP object", errno);
  if (const int err = bpf_object__load(p->object_); err != 0) {
    fail(ifname, "cannot load the XDP program (needs root or CAP_BPF+CAP_NET_ADMIN)", -err);
  }
  bpf_program* prog = bpf_object__find_program_by_name(p->object_, kProgramName);
  if (prog == nullptr) fail(ifname, "no program vnet_xdp in the object", ENOENT);
  p->prog_fd_ = bpf_program__fd(prog);
  p->xsks_fd_ = bpf_object__find_map_fd_by_name(p->object_, "xsks");
  p->config_fd_ = bpf_object__find_map_fd_by_name(p->object_, "config");
  p->rewrite_fd_ = bpf_object__find_map_fd_by_name(p->object_, "rewrite_pas");
  p->stats_fd_ = bpf_object__find_map_fd_by_name(p->object_, "stats");
  p->prefixes_fd_ = bpf_object__find_map_fd_by_name(p->object_, "prefixes");

  const uint32_t key = 0;
  vnet_xdp_config config{.mode = mode_number(mode), .pa = 0};
  if (bpf_map_update_elem(p->config_fd_, &key, &config, BPF_ANY) != 0) {
    fail(ifname, "cannot write the program's configuration", errno);
  }

  // Native (driver) mode first; generic (skb) mode where the driver has none.
  int err = bpf_xdp_attach(p->ifindex_, p->prog_fd_, XDP_FLAGS_DRV_MODE, nullptr);
  p->native_ = err == 0;
  if (err != 0) {
    const int native_error = -err;
    err = bpf_xdp_attach(p->ifindex_, p->prog_fd_, XDP_FLAGS_SKB_MODE, nullptr);
    if (err != 0) fail(ifname, "cannot attach in native or generic mode", -err);
    spdlog::warn("xdp_attached interface={} mode=generic native_error={}", ifname,
                 log::quote(std::strerror(native_error)));
  } else {
    spdlog::info("xdp_attached interface={} mode=native", ifname);
  }
  return p;
}

XdpProgram::~XdpProgram() {
  if (prog_fd_ >= 0) {
    // Only our program: the kernel refuses if another one replaced it.
    LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = prog_fd_);
    const uint32_t flags = native_ ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
    if (const int err = bpf_xdp_detach(ifindex_, flags | XDP_FLAGS_REPLACE, &opts); err != 0) {
      spdlog::warn("xdp_detach_failed interface={} error={}", ifname_,
                   log::quote(std::strerror(-err)));
    }
  }
  if (object_ != nullptr) bpf_object__close(object_);
}

void XdpProgram::set_pa(net::Ipv4Address pa) {
  const uint32_t key = 0;
  vnet_xdp_config config{.mode = mode_number(mode_), .pa = htonl(pa.to_u32())};
  if (bpf_map_update_elem(config_fd_, &key, &config, BPF_ANY) != 0) {
    fail(ifname_, "cannot write the PA", errno);
  }
}

void XdpProgram::set_rewrite_pas(const std::vector<net::Ipv4Address>& pas) {
  const uint8_t one = 1;
  for (const net::Ipv4Address& pa : pas) {
    const uint32_t key = htonl(pa.to_u32());
    if (bpf_map_update_elem(rewrite_fd_, &key, &one, BPF_ANY) != 0) {
      fail(ifname_, "cannot add rewrite PA " + pa.to_string(), errno);
    }
  }
  for (const net::Ipv4Address& old : rewrite_pas_) {
    if (std::find(pas.begin(), pas.end(), old) != pas.end()) continue;
    const uint32_t key = htonl(old.to_u32());
    bpf_map_delete_elem(rewrite_fd_, &key);
  }
  rewrite_pas_ = pas;
}

void XdpProgram::set_prefixes(const std::vector<net::IpPrefix>& prefixes) {
  const uint8_t one = 1;
  auto key_of = [](const net::IpPrefix& p) {
    return vnet_xdp_prefix{.prefixlen = p.length(), .address = htonl(p.address().v4().to_u32())};
  };
  for (const net::IpPrefix& p : prefixes) {
    const vnet_xdp_prefix key = key_of(p);
    if (bpf_map_update_elem(prefixes_fd_, &key, &one, BPF_ANY) != 0) {
      fail(ifname_, "cannot add prefix " + p.to_string(), errno);
    }
  }
  for (const net::IpPrefix& old : prefixes_) {
    if (std::find(prefixes.begin(), prefixes.end(), old) != prefixes.end()) continue;
    const vnet_xdp_prefix key = key_of(old);
    bpf_map_delete_elem(prefixes_fd_, &key);
  }
  prefixes_ = prefixes;
}

XdpStats XdpProgram::stats() const {
  const int cpus = libbpf_num_possible_cpus();
  std::vector<vnet_xdp_stats> per_cpu(static_cast<size_t>(std::max(cpus, 1)));
  const uint32_t key = 0;
  XdpStats total;
  if (bpf_map_lookup_elem(stats_fd_, &key, per_cpu.data()) != 0) return total;
  for (const vnet_xdp_stats& s : per_cpu) {
    total.redirected += s.redirected;
    total.passed += s.passed;
    total.dropped += s.dropped;
  }
  return total;
}

}  // namespace vnet::agent::bpf
