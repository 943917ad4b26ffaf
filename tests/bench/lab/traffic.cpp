// The lab throughput benchmark's tools (tests/bench/lab/throughput.py):
//
//   traffic send IFACE SIZE SECONDS SRC_MAC DST_MAC SRC_IP DST_IP [OPTIONS]
//       UDP frames of SIZE bytes, as fast as AF_PACKET with sendmmsg and
//       qdisc bypass goes (or, with --xdp, an AF_XDP socket's TX ring);
//       prints "sent PACKETS SECONDS". Options:
//         --xdp        send from an AF_XDP socket (copy mode, need_wakeup,
//                      batches of 64 from a UMEM of prepared frames): the
//                      generator issue 18 asks for, faster than AF_PACKET
//         --flows N    N flows (UDP source ports 1024... and then destination
//                      ports 9...), in turn (default 1)
//         --destinations N
//                      flow i goes to DST_IP + i % N (N destinations; the
//                      flows are at least N)
//         --hash       (AF_PACKET) through the device's queue selection, so
//                      flows spread over its queues by hash; without it the
//                      qdisc is bypassed and the CPU picks the queue
//         --once       each flow's frame once (a flood of new flows), then stop
//         --nvgre SRC_MAC,DST_MAC,SRC_PA,DST_PA,VSID
//                      each frame inside NVGRE (42 bytes more) from SRC_PA
//   traffic sink IFACE SECONDS
//       attaches an XDP program that counts IPv4 frames and drops them;
//       prints "received PACKETS BYTES" after SECONDS.
//   traffic forward FROM TO SECONDS
//       the bare AF_XDP forwarder: every frame from FROM out of TO, with the
//       engine's settings (agent/xsk/engine.h: one UMEM, 4096-byte frames,
//       rings of 2048, batches of 64, need_wakeup, copy mode, the vnet XDP
//       program on FROM) and no processing; prints "forwarded PACKETS".
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/if_xdp.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/bpf/xdp_program.h"
#include "shared/testing/fixtures.h"
#include "shared/testing/packet_builder.h"

namespace vnet::bpf_objects {
extern const uint8_t kSink[];
extern const size_t kSinkSize;
}  // namespace vnet::bpf_objects

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "traffic: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

struct SendOptions {
  size_t flows = 1;
  size_t destinations = 1;
  bool once = false;
  bool xdp = false;
  bool hash = false;
  std::optional<vnet::packet::NvgreTunnel> nvgre;
};

// The frames, each in UMEM frames of its own (copies of `frames` in turn),
// sent from an AF_XDP socket's TX ring in batches of 64 as long as the
// completion ring gives frames back. TX only: no XDP program is loaded.
int send_xdp(const std::string& iface, const std::vector<vnet::testing::Bytes>& frames,
             double seconds, bool once) {
  constexpr uint32_t kFrames = 4096, kFrameSize = 4096, kRing = 2048, kBatch = 64;
  void* area = mmap(nullptr, size_t{kFrames} * kFrameSize, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (area == MAP_FAILED) die("mmap");
  auto* bytes = static_cast<uint8_t*>(area);
  // UMEM frame i holds frames[i % frames.size()]: a flow's frame is never
  // rewritten while the kernel may still be reading it.
  for (uint32_t i = 0; i < kFrames; ++i) {
    const auto& f = frames[i % frames.size()];
    std::memcpy(bytes + size_t{i} * kFrameSize, f.data(), f.size());
  }
  xsk_umem* umem = nullptr;
  xsk_ring_prod fill{};
  xsk_ring_cons comp{};
  const xsk_umem_config ucfg{kRing, kRing, kFrameSize, 0, 0};
  if (xsk_umem__create(&umem, area, size_t{kFrames} * kFrameSize, &fill, &comp, &ucfg)) die("umem");
  xsk_socket_config cfg{};
  cfg.rx_size = 0;
  cfg.tx_size = kRing;
  cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
  cfg.bind_flags = XDP_USE_NEED_WAKEUP | XDP_COPY;
  xsk_socket* xsk = nullptr;
  xsk_ring_prod tx{};
  if (xsk_socket__create(&xsk, iface.c_str(), 0, umem, nullptr, &tx, &cfg)) die("socket " + iface);
  const int fd = xsk_socket__fd(xsk);
  std::vector<uint32_t> free_frames;
  for (uint32_t i = kFrames; i-- > 0;) free_frames.push_back(i);
  uint64_t sent = 0, submitted = 0;
  const uint64_t limit = once ? frames.size() : UINT64_MAX;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  size_t next = 0;  // the next flow, when they are more than the UMEM's frames
  while (Clock::now() < end && sent < limit) {
    uint32_t want = std::min<uint32_t>(kBatch, static_cast<uint32_t>(free_frames.size()));
    want = static_cast<uint32_t>(std::min<uint64_t>(want, limit - submitted));
    uint32_t idx = 0;
    const uint32_t got = want > 0 ? xsk_ring_prod__reserve(&tx, want, &idx) : 0;
    for (uint32_t i = 0; i < got; ++i) {
      const uint32_t frame = free_frames.back();
      free_frames.pop_back();
      // Up to kFrames flows, UMEM frame k holds flow k % flows already; more
      // flows than that are written into the frame in turn.
      const size_t flow = frames.size() <= kFrames ? frame % frames.size() : next++ % frames.size();
      const auto& f = frames[flow];
      if (frames.size() > kFrames)
        std::memcpy(bytes + size_t{frame} * kFrameSize, f.data(), f.size());
      *xsk_ring_prod__tx_desc(&tx, idx + i) =
          xdp_desc{uint64_t{frame} * kFrameSize, static_cast<uint32_t>(f.size()), 0};
    }
    xsk_ring_prod__submit(&tx, got);
    submitted += got;
    if (xsk_ring_prod__needs_wakeup(&tx) || got == 0)
      sendto(fd, nullptr, 0, MSG_DONTWAIT, nullptr, 0);
    uint32_t c_idx = 0;
    const uint32_t done = xsk_ring_cons__peek(&comp, kRing, &c_idx);
    for (uint32_t i = 0; i < done; ++i) {
      free_frames.push_back(
          static_cast<uint32_t>(*xsk_ring_cons__comp_addr(&comp, c_idx + i) / kFrameSize));
    }
    xsk_ring_cons__release(&comp, done);
    sent += done;
  }
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("sent %llu %.6f\n", static_cast<unsigned long long>(sent), took);
  xsk_socket__delete(xsk);
  xsk_umem__delete(umem);
  munmap(area, size_t{kFrames} * kFrameSize);
  return 0;
}

int send(const std::string& iface, size_t size, double seconds, const std::string& src_mac,
         const std::string& dst_mac, const std::string& src_ip, const std::string& dst_ip,
         const SendOptions& options) {
  using namespace vnet::testing;
  const size_t headers = 14 + 20 + 8;
  std::vector<Bytes> frames;
  const size_t flows = std::max(options.flows, options.destinations);
  frames.reserve(flows);
  for (size_t i = 0; i < flows; ++i) {
    const auto destination = vnet::net::Ipv4Address::from_u32(
        ipv4(dst_ip).to_u32() + static_cast<uint32_t>(i % options.destinations));
    const Bytes inner =
        PacketBuilder()
            .eth(mac(src_mac), mac(dst_mac))
            .ipv4(ipv4(src_ip), destination)
            .udp(static_cast<uint16_t>(1024 + i % 64000), static_cast<uint16_t>(9 + i / 64000))
            .payload(Bytes(size > headers ? size - headers : 0, 0x5a))
            .build();
    frames.push_back(options.nvgre ? PacketBuilder().nvgre(*options.nvgre).payload(inner).build()
                                   : inner);
  }
  if (options.xdp) return send_xdp(iface, frames, seconds, options.once);
  const int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) die("socket");
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
  if (addr.sll_ifindex == 0) die(iface);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("bind");
  const int one = 1;
  if (!options.hash) setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  constexpr size_t kBatch = 64;
  std::vector<iovec> iov(kBatch);
  std::vector<mmsghdr> msgs(kBatch);
  for (size_t i = 0; i < kBatch; ++i) {
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  uint64_t sent = 0;
  size_t next = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < end && !(options.once && sent >= frames.size())) {
    size_t batch = kBatch;
    if (options.once) batch = std::min(batch, static_cast<size_t>(frames.size() - sent));
    for (size_t i = 0; i < batch; ++i) {
      const Bytes& f = frames[(next + i) % frames.size()];
      iov[i] = iovec{const_cast<uint8_t*>(f.data()), f.size()};
    }
    const int n = sendmmsg(fd, msgs.data(), static_cast<unsigned>(batch), 0);
    if (n > 0) {
      sent += static_cast<uint64_t>(n);
      next = (next + static_cast<size_t>(n)) % frames.size();
    }
  }
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("sent %llu %.6f\n", static_cast<unsigned long long>(sent), took);
  return 0;
}

int sink(const std::string& iface, double seconds) {
  bpf_object* object =
      bpf_object__open_mem(vnet::bpf_objects::kSink, vnet::bpf_objects::kSinkSize, nullptr);
  if (object == nullptr || bpf_object__load(object) != 0) die("load the sink program");
  const int prog = bpf_program__fd(bpf_object__find_program_by_name(object, "sink"));
  const int counts = bpf_object__find_map_fd_by_name(object, "counts");
  const int ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
  if (bpf_xdp_attach(ifindex, prog, XDP_FLAGS_DRV_MODE, nullptr) != 0) die("attach to " + iface);
  std::printf("ready\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const int cpus = libbpf_num_possible_cpus();
  std::vector<uint64_t> values(2 * static_cast<size_t>(cpus));
  const uint32_t key = 0;
  bpf_map_lookup_elem(counts, &key, values.data());
  uint64_t packets = 0, bytes = 0;
  for (int c = 0; c < cpus; ++c) {
    packets += values[2 * static_cast<size_t>(c)];
    bytes += values[2 * static_cast<size_t>(c) + 1];
  }
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = prog);
  bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE | XDP_FLAGS_REPLACE, &opts);
  bpf_object__close(object);
  std::printf("received %llu %llu\n", static_cast<unsigned long long>(packets),
              static_cast<unsigned long long>(bytes));
  return 0;
}

int forward(const std::string& from, const std::string& to, double seconds) {
  constexpr uint32_t kFrames = 8192, kFrameSize = 4096, kRing = 2048, kBatch = 64;
  auto program = vnet::agent::bpf::XdpProgram::attach(from, vnet::agent::bpf::XdpMode::kPort);
  void* area = mmap(nullptr, size_t{kFrames} * kFrameSize, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (area == MAP_FAILED) die("mmap");
  xsk_umem* umem = nullptr;
  xsk_ring_prod fill_out{}, fill_in{};
  xsk_ring_cons comp_out{}, comp_in{};
  const xsk_umem_config ucfg{kRing, kRing, kFrameSize, 0, 0};
  if (xsk_umem__create(&umem, area, size_t{kFrames} * kFrameSize, &fill_out, &comp_out, &ucfg))
    die("umem");
  xsk_socket_config cfg{};
  cfg.rx_size = kRing;
  cfg.tx_size = kRing;
  cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
  cfg.bind_flags = XDP_USE_NEED_WAKEUP;
  xsk_socket *out = nullptr, *in = nullptr;
  xsk_ring_cons rx_out{}, rx_in{};
  xsk_ring_prod tx_out{}, tx_in{};
  if (xsk_socket__create(&out, to.c_str(), 0, umem, &rx_out, &tx_out, &cfg)) die("socket " + to);
  if (xsk_socket__create_shared(&in, from.c_str(), 0, umem, &rx_in, &tx_in, &fill_in, &comp_in,
                                &cfg))
    die("socket " + from);
  if (xsk_socket__update_xskmap(in, program->xsks_map_fd())) die("xskmap");
  std::vector<uint64_t> free_frames;
  for (uint32_t i = 0; i < kFrames; ++i) free_frames.push_back(uint64_t{i} * kFrameSize);
  uint32_t in_fill = 0, in_tx = 0;
  uint64_t forwarded = 0;
  std::printf("ready\n");
  std::fflush(stdout);
  const int in_fd = xsk_socket__fd(in), out_fd = xsk_socket__fd(out);
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  int idle = 0;
  while (Clock::now() < end) {
    // Fill, as the engine does: up to half the ring.
    if (in_fill < kRing / 2 && !free_frames.empty()) {
      uint32_t idx;
      const uint32_t want = std::min<uint32_t>(kRing / 2 - in_fill, free_frames.size());
      const uint32_t got = xsk_ring_prod__reserve(&fill_in, want, &idx);
      for (uint32_t i = 0; i < got; ++i) {
        *xsk_ring_prod__fill_addr(&fill_in, idx + i) = free_frames.back();
        free_frames.pop_back();
      }
      xsk_ring_prod__submit(&fill_in, got);
      in_fill += got;
    }
    uint32_t rx_idx;
    const uint32_t n = xsk_ring_cons__peek(&rx_in, kBatch, &rx_idx);
    if (n > 0) {
      uint32_t tx_idx;
      const uint32_t got = xsk_ring_prod__reserve(&tx_out, n, &tx_idx);
      for (uint32_t i = 0; i < n; ++i) {
        const xdp_desc* d = xsk_ring_cons__rx_desc(&rx_in, rx_idx + i);
        if (i < got) {
          *xsk_ring_prod__tx_desc(&tx_out, tx_idx + i) = *d;
        } else {
          free_frames.push_back(d->addr & ~uint64_t{kFrameSize - 1});
        }
      }
      xsk_ring_prod__submit(&tx_out, got);
      xsk_ring_cons__release(&rx_in, n);
      in_fill -= n;
      in_tx += got;
      forwarded += got;
    }
    if (in_tx > 0 && xsk_ring_prod__needs_wakeup(&tx_out)) {
      sendto(out_fd, nullptr, 0, MSG_DONTWAIT, nullptr, 0);
    }
    uint32_t c_idx;
    const uint32_t done = xsk_ring_cons__peek(&comp_out, kRing, &c_idx);
    for (uint32_t i = 0; i < done; ++i) {
      free_frames.push_back(*xsk_ring_cons__comp_addr(&comp_out, c_idx + i) &
                            ~uint64_t{kFrameSize - 1});
    }
    xsk_ring_cons__release(&comp_out, done);
    in_tx -= done;
    if (n == 0 && done == 0 && in_tx == 0 && ++idle > 16) {
      pollfd fd{in_fd, POLLIN, 0};
      poll(&fd, 1, 10);
      idle = 0;
    }
  }
  std::printf("forwarded %llu\n", static_cast<unsigned long long>(forwarded));
  xsk_socket__delete(in);
  xsk_socket__delete(out);
  xsk_umem__delete(umem);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() >= 8 && a[0] == "send") {
    SendOptions options;
    for (size_t i = 8; i < a.size(); ++i) {
      if (a[i] == "--flows" && i + 1 < a.size()) {
        options.flows = std::max<size_t>(1, std::stoul(a[++i]));
      } else if (a[i] == "--destinations" && i + 1 < a.size()) {
        options.destinations = std::max<size_t>(1, std::stoul(a[++i]));
      } else if (a[i] == "--hash") {
        options.hash = true;
      } else if (a[i] == "--once") {
        options.once = true;
      } else if (a[i] == "--xdp") {
        options.xdp = true;
      } else if (a[i] == "--nvgre" && i + 1 < a.size()) {
        std::vector<std::string> f;
        std::string part;
        for (char c : a[++i] + ",") {
          if (c == ',') {
            f.push_back(part);
            part.clear();
          } else {
            part += c;
          }
        }
        if (f.size() != 5) {
          std::fprintf(stderr, "traffic: --nvgre SRC_MAC,DST_MAC,SRC_PA,DST_PA,VSID\n");
          return 2;
        }
        using namespace vnet::testing;
        options.nvgre =
            vnet::packet::NvgreTunnel{.src_mac = mac(f[0]),
                                      .dst_mac = mac(f[1]),
                                      .src_pa = ipv4(f[2]),
                                      .dst_pa = ipv4(f[3]),
                                      .vsid = vsid(static_cast<uint32_t>(std::stoul(f[4]))),
                                      .flow_id = 0,
                                      .ttl = 64};
      } else {
        std::fprintf(stderr, "traffic: send: unknown option %s\n", a[i].c_str());
        return 2;
      }
    }
    return send(a[1], std::stoul(a[2]), std::stod(a[3]), a[4], a[5], a[6], a[7], options);
  }
  if (a.size() == 3 && a[0] == "sink") return sink(a[1], std::stod(a[2]));
  if (a.size() == 4 && a[0] == "forward") return forward(a[1], a[2], std::stod(a[3]));
  std::fprintf(stderr,
               "usage: traffic send IFACE SIZE SECONDS SRC_MAC DST_MAC SRC_IP DST_IP [--flows N]\n"
               "                    [--destinations N] [--hash] [--once] [--xdp] [--nvgre "
               "SRC_MAC,DST_MAC,SRC_PA,DST_PA,VSID]\n"
               "       traffic sink IFACE SECONDS\n"
               "       traffic forward FROM TO SECONDS\n");
  return 2;
}
