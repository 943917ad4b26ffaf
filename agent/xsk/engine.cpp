#include "agent/xsk/engine.h"

#include <linux/if_xdp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <xdp/xsk.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "agent/dataplane/pipeline.h"
#include "agent/tables/huge_array.h"
#include "shared/log/log.h"

namespace vnet::agent::xsk {
namespace {

constexpr uint16_t kFree = 0xffff;
constexpr uint16_t kInEngine = 0xfffe;
constexpr size_t kMaxSockets = 4096;
constexpr int kIdleLoopsBeforePoll = 16;
constexpr int kPollMilliseconds = 10;
constexpr uint32_t kMaxBatch = 64;  // frames[] below is on the stack, built per batch
constexpr uint64_t kExpireEveryNs = 1'000'000;

void count(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  // One writer (the engine thread): a plain add, visible to readers.
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace

struct Engine::Umem {
  // 2 MiB aligned and advised for transparent huge pages, as the tables
  // are, so that the frames of a batch do not each cost a TLB miss; zeroed,
  // so populated as MAP_POPULATE did.
  dataplane::HugeArray<uint8_t> memory;
  uint8_t* area = nullptr;
  size_t size = 0;
  xsk_umem* umem = nullptr;
  // The UMEM's own fill and completion rings: the uplink socket uses them.
  xsk_ring_prod fill{};
  xsk_ring_cons comp{};

  ~Umem() {
    if (umem != nullptr) xsk_umem__delete(umem);
  }
};

struct Engine::Socket {
  std::string interface;
  bool uplink = false;
  bool external = false;
  uint16_t id = 0;  // owner id of its frames
  std::unique_ptr<bpf::XdpProgram> program;
  xsk_socket* xsk = nullptr;
  xsk_ring_cons rx{};
  xsk_ring_prod tx{};
  xsk_ring_prod own_fill{};
  xsk_ring_cons own_comp{};
  xsk_ring_prod* fill = nullptr;
  xsk_ring_cons* comp = nullptr;
  int fd = -1;
  uint16_t port = dataplane::kNoPort;  // index into the current tables
  uint32_t in_fill = 0;                // frames handed to the kernel to receive into
  uint32_t in_tx = 0;                  // frames submitted and not completed
  std::vector<xdp_desc> pending;       // this batch's frames for its TX ring
  SocketCounters counters;

  ~Socket() {
    if (xsk != nullptr) xsk_socket__delete(xsk);
    program.reset();  // detaches after the socket is gone
  }
};

Engine::Engine(const std::string& uplink, EngineOptions options)
    : options_(options), nat_(options.nat) {
  options_.batch = std::min(options_.batch, kMaxBatch);
  // Frames are pinned memory; root's limit may still be 8 MiB on old kernels.
  rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
  setrlimit(RLIMIT_MEMLOCK, &unlimited);

  umem_ = std::make_unique<Umem>();
  umem_->size = size_t{options_.frames} * options_.frame_size;
  umem_->memory = dataplane::HugeArray<uint8_t>(umem_->size);
  umem_->area = umem_->memory.data();
  const xsk_umem_config config{.fill_size = options_.ring_size,
                               .comp_size = options_.ring_size,
                               .frame_size = options_.frame_size,
                               .frame_headroom = 0,
                               .flags = 0};
  if (const int err = xsk_umem__create(&umem_->umem, umem_->area, umem_->size, &umem_->fill,
                                       &umem_->comp, &config);
      err != 0) {
    throw std::runtime_error(std::string("UMEM: ") + std::strerror(-err));
  }
  free_frames_.reserve(options_.frames);
  for (uint32_t i = options_.frames; i-- > 0;) {
    free_frames_.push_back(uint64_t{i} * options_.frame_size);
  }
  owner_.assign(options_.frames, kFree);
  ids_in_use_.assign(kMaxSockets, false);

  sockets_.push_back(open_socket(uplink, Role::kUplink));
  thread_ = std::thread([this] { run(); });
}

Engine::~Engine() {
  stop_ = true;
  {
    std::lock_guard lock(mutex_);
    pause_requested_ = false;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Port sockets first: the uplink's socket owns the UMEM's rings.
  while (sockets_.size() > 1) sockets_.pop_back();
  sockets_.clear();
  umem_.reset();
}

std::unique_ptr<Engine::Socket> Engine::open_socket(const std::string& interface, Role role) {
  const bool uplink = role == Role::kUplink;
  auto s = std::make_unique<Socket>();
  s->interface = interface;
  s->uplink = uplink;
  s->external = role == Role::kExternal;
  size_t id = 0;
  while (id < kMaxSockets && ids_in_use_[id]) ++id;
  if (id == kMaxSockets) throw std::runtime_error(interface + ": too many ports");
  s->id = static_cast<uint16_t>(id);
  s->pending.reserve(options_.ring_size);

  s->program =
      bpf::XdpProgram::attach(interface, role == Role::kUplink     ? bpf::XdpMode::kUplink
                                         : role == Role::kExternal ? bpf::XdpMode::kExternal
                                                                   : bpf::XdpMode::kPort);
  xsk_socket_config config{};
  config.rx_size = options_.ring_size;
  config.tx_size = options_.ring_size;
  config.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;  // our own program, above
  config.xdp_flags = 0;
  config.bind_flags = XDP_USE_NEED_WAKEUP;
  int err;
  if (uplink) {
    s->fill = &umem_->fill;
    s->comp = &umem_->comp;
    err = xsk_socket__create(&s->xsk, interface.c_str(), 0, umem_->umem, &s->rx, &s->tx, &config);
  } else {
    s->fill = &s->own_fill;
    s->comp = &s->own_comp;
    err = xsk_socket__create_shared(&s->xsk, interface.c_str(), 0, umem_->umem, &s->rx, &s->tx,
                                    s->fill, s->comp, &config);
  }
  if (err != 0) {
    throw std::runtime_error("AF_XDP socket on " + interface + ": " + std::strerror(-err));
  }
  s->fd = xsk_socket__fd(s->xsk);
  // Frames to receive into before the XDP program can redirect to it: a
  // frame redirected to an empty fill ring is dropped (the engine thread is
  // paused or not started here, so its pool is ours to take from).
  ids_in_use_[id] = true;
  refill(*s);
  if (const int e = xsk_socket__update_xskmap(s->xsk, s->program->xsks_map_fd()); e != 0) {
    s.reset();  // closes it: the kernel lets go of its fill ring
    reclaim(static_cast<uint16_t>(id));
    throw std::runtime_error("AF_XDP socket on " + interface + ": XSKMAP: " + std::strerror(-e));
  }
  spdlog::info("socket_bound interface={} role={} xdp={} copy_mode=true", interface,
               uplink        ? "uplink"
               : s->external ? "external"
                             : "port",
               s->program->native() ? "native" : "generic");
  return s;
}

// --- control side ---------------------------------------------------------

void Engine::pause() {
  std::unique_lock lock(mutex_, std::adopt_lock);
  pause_requested_ = true;
  cv_.wait(lock, [&] { return paused_ || !thread_.joinable(); });
  lock.release();  // the caller keeps mutex_ until resume()
}

void Engine::resume() {
  pause_requested_ = false;
  mutex_.unlock();
  cv_.notify_all();
}

void Engine::publish(std::shared_ptr<const dataplane::Tables> tables) {
  uint64_t ticket;
  {
    std::lock_guard lock(mutex_);
    next_tables_ = std::move(tables);
    ticket = ++tables_published_;
    tables_changed_ = true;
  }
  // The engine takes them at its next loop; it polls at most 10 ms at a time.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (tables_taken_.load() < ticket && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

bpf::XdpProgram& Engine::uplink_program() { return *sockets_[0]->program; }

void Engine::bind_port(const std::string& interface) {
  if (has_port(interface)) return;
  mutex_.lock();
  pause();
  try {
    sockets_.push_back(open_socket(interface, Role::kPort));
  } catch (...) {
    resume();
    throw;
  }
  remap_ports();
  resume();
}

void Engine::release_port(const std::string& interface) {
  mutex_.lock();
  pause();
  for (size_t i = 1; i < sockets_.size(); ++i) {
    if (sockets_[i]->interface != interface || sockets_[i]->external) continue;
    const uint16_t id = sockets_[i]->id;
    sockets_.erase(sockets_.begin() + static_cast<ptrdiff_t>(i));  // closes it: the kernel lets go
    reclaim(id);
    spdlog::info("socket_released interface={}", interface);
    break;
  }
  remap_ports();
  resume();
}

bool Engine::has_port(const std::string& interface) const {
  std::lock_guard lock(mutex_);
  for (size_t i = 1; i < sockets_.size(); ++i) {
    if (sockets_[i]->interface == interface && !sockets_[i]->external) return true;
  }
  return false;
}

std::vector<std::string> Engine::ports() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (size_t i = 1; i < sockets_.size(); ++i) {
    if (!sockets_[i]->external) names.push_back(sockets_[i]->interface);
  }
  return names;
}

void Engine::bind_external(const std::string& interface) {
  if (external() == interface) return;
  release_external();
  mutex_.lock();
  pause();
  try {
    sockets_.push_back(open_socket(interface, Role::kExternal));
  } catch (...) {
    resume();
    throw;
  }
  remap_ports();
  resume();
}

void Engine::release_external() {
  mutex_.lock();
  pause();
  for (size_t i = 1; i < sockets_.size(); ++i) {
    if (!sockets_[i]->external) continue;
    const uint16_t id = sockets_[i]->id;
    const std::string name = sockets_[i]->interface;
    sockets_.erase(sockets_.begin() + static_cast<ptrdiff_t>(i));
    reclaim(id);
    spdlog::info("socket_released interface={} role=external", name);
    break;
  }
  remap_ports();
  resume();
}

std::string Engine::external() const {
  std::lock_guard lock(mutex_);
  return external_socket_ >= 0 ? sockets_[static_cast<size_t>(external_socket_)]->interface : "";
}

bpf::XdpProgram* Engine::external_program() {
  std::lock_guard lock(mutex_);
  return external_socket_ >= 0 ? sockets_[static_cast<size_t>(external_socket_)]->program.get()
                               : nullptr;
}

std::vector<GatewaySnapshot> Engine::gateways() const {
  // The engine thread changes the NAT table's set of gateways only while it
  // holds mutex_ (a tables swap); the counters are atomics.
  std::lock_guard lock(mutex_);
  std::vector<GatewaySnapshot> out;
  if (!tables_) return out;
  for (const net::Ipv4Address& ip : tables_->external_addresses()) {
    GatewaySnapshot g{ip};
    if (const dataplane::NatCounters* c = nat_.counters(ip)) {
      g.flows = c->flows.load();
      g.created = c->created.load();
      g.expired = c->expired.load();
      g.table_full = c->table_full.load();
      g.ports_exhausted = c->ports_exhausted.load();
      g.unsolicited = c->unsolicited.load();
    }
    out.push_back(g);
  }
  return out;
}

NatSnapshot Engine::nat(size_t limit) {
  mutex_.lock();
  pause();
  NatSnapshot out;
  out.now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::steady_clock::now().time_since_epoch())
                                      .count());
  out.size = nat_.size();
  out.capacity = nat_.capacity();
  out.memory_bytes = nat_.memory_bytes();
  for (const dataplane::NatFlow& f : nat_.flows()) {
    if (out.flows.size() >= limit) break;
    if (f.external_ip != 0 && !nat_.expired(f, out.now)) out.flows.push_back(f);
  }
  resume();
  return out;
}

std::vector<SocketSnapshot> Engine::counters() const {
  std::lock_guard lock(mutex_);
  std::vector<SocketSnapshot> out;
  for (const auto& s : sockets_) {
    SocketSnapshot snap;
    snap.interface = s->interface;
    snap.uplink = s->uplink;
    snap.external = s->external;
    snap.native_xdp = s->program->native();
    snap.rx_packets = s->counters.rx_packets.load();
    snap.rx_bytes = s->counters.rx_bytes.load();
    snap.tx_packets = s->counters.tx_packets.load();
    snap.tx_bytes = s->counters.tx_bytes.load();
    for (size_t r = 0; r < dataplane::kReasonCount; ++r)
      snap.reasons[r] = s->counters.reasons[r].load();
    snap.xdp = s->program->stats();
    out.push_back(std::move(snap));
  }
  return out;
}

void Engine::reclaim(uint16_t id) {
  // Every frame a closed socket held (in its fill, RX or TX ring) is ours again.
  for (size_t f = 0; f < owner_.size(); ++f) {
    if (owner_[f] == id) {
      owner_[f] = kFree;
      free_frames_.push_back(uint64_t{f} * options_.frame_size);
    }
  }
  ids_in_use_[id] = false;
}

void Engine::remap_ports() {
  socket_of_port_.assign(tables_ ? tables_->ports.size() : 0, dataplane::kNoPort);
  external_socket_ = -1;
  for (size_t i = 0; i < sockets_.size(); ++i) {
    Socket& s = *sockets_[i];
    if (s.external) external_socket_ = static_cast<int>(i);
    s.port = s.uplink || s.external || !tables_ ? dataplane::kNoPort
                                                : tables_->port_by_interface(s.interface);
    if (s.port != dataplane::kNoPort) socket_of_port_[s.port] = static_cast<uint16_t>(i);
  }
}

// --- the engine thread ----------------------------------------------------

void Engine::run() {
  std::vector<pollfd> fds;
  int idle = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    if (pause_requested_.load(std::memory_order_acquire)) {
      std::unique_lock lock(mutex_);
      paused_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !pause_requested_ || stop_; });
      paused_ = false;
      continue;
    }
    if (tables_changed_.load(std::memory_order_acquire)) {
      std::lock_guard lock(mutex_);
      tables_ = std::move(next_tables_);
      tables_changed_ = false;
      remap_ports();
      // The gateways run here now: flows of the others go (between batches:
      // this allocates).
      std::vector<dataplane::NatTable::Gateway> gateways;
      if (tables_) {
        for (const dataplane::GatewayEntry& g : tables_->gateways) {
          if (!g.local || g.kind != policy::GatewayKind::kNat) continue;
          dataplane::NatTable::Gateway entry{g.external_ip, {}};
          for (const policy::NatRule& r : g.nat_rules)
            entry.rule_ports.emplace_back(static_cast<uint8_t>(r.protocol), r.external_port);
          gateways.push_back(std::move(entry));
        }
      }
      nat_.sync(gateways);
      tables_taken_ = tables_published_;
    }

    // One clock read per loop: the pipeline is given the time (pipeline.h).
    now_ = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
    // Timed-out NAT flows go in a sweep of the whole table each second, a
    // slice every millisecond (flows are also found expired when looked up):
    // walking the table every loop cost a cache miss per slot, per batch.
    if (nat_.size() > 0 && now_ - last_expire_ >= kExpireEveryNs) {
      nat_.expire(now_, std::max<uint32_t>(64, static_cast<uint32_t>(nat_.capacity() / 1000)));
      last_expire_ = now_;
    }
    bool work = false;
    for (auto& s : sockets_) work |= receive(*s);
    for (auto& s : sockets_) work |= transmit(*s);
    for (auto& s : sockets_) work |= complete(*s);
    for (auto& s : sockets_) refill(*s);

    if (work) {
      idle = 0;
      continue;
    }
    if (++idle < kIdleLoopsBeforePoll) continue;
    // Nothing to do: sleep in poll() until a ring has something, so an idle
    // host spends no CPU on its engine.
    fds.clear();
    for (auto& s : sockets_) fds.push_back(pollfd{s->fd, POLLIN, 0});
    poll(fds.data(), fds.size(), kPollMilliseconds);
    idle = 0;
  }
}

bool Engine::receive(Socket& s) {
  uint32_t index = 0;
  const uint32_t n = xsk_ring_cons__peek(&s.rx, options_.batch, &index);
  if (n == 0) {
    if (xsk_ring_prod__needs_wakeup(s.fill))
      recvfrom(s.fd, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    return false;
  }
  const uint64_t chunk_mask = ~uint64_t{options_.frame_size - 1};
  const dataplane::Tables* tables = tables_.get();
  dataplane::Context context{&nat_, now_};
  std::array<dataplane::Frame, kMaxBatch> frames;
  for (uint32_t i = 0; i < n; ++i) {
    const xdp_desc* desc = xsk_ring_cons__rx_desc(&s.rx, index + i);
    const uint64_t chunk = desc->addr & chunk_mask;
    owner_[chunk / options_.frame_size] = kInEngine;
    frames[i] = dataplane::Frame{std::span(umem_->area + chunk, options_.frame_size),
                                 static_cast<uint32_t>(desc->addr - chunk), desc->len};
    count(s.counters.rx_bytes, desc->len);
  }
  s.in_fill -= n;
  count(s.counters.rx_packets, n);
  xsk_ring_cons__release(&s.rx, n);
  // The look-ups of the whole batch wait for memory together (pipeline.h).
  if (tables != nullptr && !s.uplink && !s.external) {
    for (uint32_t i = 0; i < n; ++i) dataplane::prefetch_from_port(*tables, s.port, frames[i], 0);
    for (uint32_t i = 0; i < n; ++i) dataplane::prefetch_from_port(*tables, s.port, frames[i], 1);
  }
  for (uint32_t i = 0; i < n; ++i) {
    dataplane::Frame& frame = frames[i];
    const uint64_t chunk = static_cast<uint64_t>(frame.buffer.data() - umem_->area);
    dataplane::Verdict verdict{dataplane::Reason::kPortUnbound, dataplane::kNoPort};
    if (tables != nullptr) {
      verdict = s.uplink     ? dataplane::from_uplink(*tables, context, frame)
                : s.external ? dataplane::from_external(*tables, context, frame)
                             : dataplane::from_port(*tables, context, s.port, frame);
    }
    Socket* out = nullptr;
    if (verdict.out == dataplane::kUplink) {
      out = sockets_[0].get();
    } else if (verdict.out == dataplane::kExternal) {
      if (external_socket_ >= 0) {
        out = sockets_[static_cast<size_t>(external_socket_)].get();
      } else {
        verdict.reason = dataplane::Reason::kPortUnbound;  // no external socket (yet)
      }
    } else if (verdict.out < socket_of_port_.size() &&
               socket_of_port_[verdict.out] != dataplane::kNoPort) {
      out = sockets_[socket_of_port_[verdict.out]].get();
    } else if (!verdict.dropped()) {
      verdict.reason = dataplane::Reason::kPortUnbound;  // its interface is not bound (yet)
    }
    if (out != nullptr && out->pending.size() == out->pending.capacity()) {
      out = nullptr;
      verdict.reason = dataplane::Reason::kNoFrame;
    }
    count(s.counters.reasons[static_cast<size_t>(verdict.reason)]);
    if (out == nullptr) {
      free_frame(chunk);
      continue;
    }
    out->pending.push_back(xdp_desc{chunk + frame.offset, frame.length, 0});
  }
  return true;
}

bool Engine::transmit(Socket& s) {
  bool work = false;
  if (!s.pending.empty()) {
    uint32_t index = 0;
    const auto want = static_cast<uint32_t>(s.pending.size());
    const uint32_t got = xsk_ring_prod__reserve(&s.tx, want, &index);
    for (uint32_t i = 0; i < got; ++i) {
      *xsk_ring_prod__tx_desc(&s.tx, index + i) = s.pending[i];
      owner_[s.pending[i].addr / options_.frame_size] = s.id;
      count(s.counters.tx_packets);
      count(s.counters.tx_bytes, s.pending[i].len);
    }
    xsk_ring_prod__submit(&s.tx, got);
    s.in_tx += got;
    for (uint32_t i = got; i < want; ++i) {  // the TX ring is full: dropped, counted
      count(s.counters.reasons[static_cast<size_t>(dataplane::Reason::kNoFrame)]);
      free_frame(s.pending[i].addr & ~uint64_t{options_.frame_size - 1});
    }
    s.pending.clear();
    work = true;
  }
  // Copy mode sends at most 32 frames per kick: kick while any are in flight.
  if (s.in_tx > 0 && xsk_ring_prod__needs_wakeup(&s.tx)) {
    sendto(s.fd, nullptr, 0, MSG_DONTWAIT, nullptr, 0);
  }
  return work;
}

bool Engine::complete(Socket& s) {
  if (s.in_tx == 0) return false;
  uint32_t index = 0;
  const uint32_t n = xsk_ring_cons__peek(s.comp, options_.ring_size, &index);
  for (uint32_t i = 0; i < n; ++i) {
    free_frame(*xsk_ring_cons__comp_addr(s.comp, index + i) & ~uint64_t{options_.frame_size - 1});
  }
  xsk_ring_cons__release(s.comp, n);
  s.in_tx -= n;
  return n > 0 || s.in_tx > 0;
}

void Engine::refill(Socket& s) {
  // Each socket keeps up to half the ring filled, less when many sockets
  // share the UMEM, so one port cannot starve the others.
  const auto sockets = std::max<uint32_t>(1, static_cast<uint32_t>(sockets_.size()));
  const uint32_t share = options_.frames / (2 * sockets);
  const uint32_t target = std::min(options_.ring_size / 2, std::max<uint32_t>(share, 64));
  if (s.in_fill >= target || free_frames_.empty()) return;
  const uint32_t want =
      std::min<uint32_t>(target - s.in_fill, static_cast<uint32_t>(free_frames_.size()));
  uint32_t index = 0;
  const uint32_t got = xsk_ring_prod__reserve(s.fill, want, &index);
  for (uint32_t i = 0; i < got; ++i) {
    const uint64_t addr = free_frames_.back();
    free_frames_.pop_back();
    owner_[addr / options_.frame_size] = s.id;
    *xsk_ring_prod__fill_addr(s.fill, index + i) = addr;
  }
  xsk_ring_prod__submit(s.fill, got);
  s.in_fill += got;
}

void Engine::free_frame(uint64_t chunk) {
  owner_[chunk / options_.frame_size] = kFree;
  free_frames_.push_back(chunk);
}

}  // namespace vnet::agent::xsk
