#include "agent/xsk/engine.h"

#include <linux/if_xdp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "agent/dataplane/pipeline.h"
#include "agent/tables/huge_array.h"
#include "agent/xsk/multi_frame.h"
#include "shared/log/log.h"

namespace vnet::agent::xsk {
namespace {

constexpr uint16_t kFree = 0xffff;
constexpr uint16_t kInEngine = 0xfffe;
constexpr size_t kMaxSockets = 4096;
constexpr int kIdleLoopsBeforePoll = 16;
constexpr int kPollMilliseconds = 10;
constexpr uint32_t kMaxBatch = 64;
constexpr uint32_t kMinBatch = 32;  // frames[] below is on the stack, built per batch
constexpr uint64_t kExpireEveryNs = 1'000'000;
// The uplink is shared out again this often (Engine::share): long enough to
// measure a rate from a few hundred packets, short enough to follow a VM
// that starts or stops sending.
constexpr uint64_t kShareEveryNs = 100'000'000;
constexpr uint32_t kMaxThreads = 64;
// Multi-buffer (XDP_USE_SG, Linux 6.6): a packet larger than a frame comes
// as several descriptors, each but the last with XDP_PKT_CONTD. Older
// headers lack the names.
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif
constexpr uint32_t kPacketGoesOn = XDP_PKT_CONTD;
constexpr uint32_t kMaxPieces = 8;            // frames of one packet: 8 x 3,840 bytes > 9,216
constexpr uint32_t kLinearHeadroom = 256;     // as XDP gives a frame
constexpr size_t kLinearSize = 16384;         // a thread's buffer for such a packet
constexpr uint32_t kMaxFill = 4096;           // a fill target is at most half a ring
constexpr uint32_t kMaxHandoffPerLoop = 256;  // from each other thread

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
  // The UMEM's own fill and completion rings: the socket on uplink queue 0
  // uses them.
  xsk_ring_prod fill{};
  xsk_ring_cons comp{};

  ~Umem() {
    if (umem != nullptr) xsk_umem__delete(umem);
  }
};

struct Engine::Socket {
  std::string interface;
  Role role = Role::kPort;
  uint16_t id = 0;      // owner id of its frames
  uint32_t serial = 0;  // never reused: tells a handed-off frame's socket from a later one
  uint32_t queue = 0;
  uint32_t thread = 0;  // the engine thread that polls it and alone touches its rings
  bpf::XdpProgram* program = nullptr;
  std::unique_ptr<bpf::XdpProgram> own_program;  // a port's or the external interface's
  xsk_socket* xsk = nullptr;
  xsk_ring_cons rx{};
  xsk_ring_prod tx{};
  xsk_ring_prod own_fill{};
  xsk_ring_cons own_comp{};
  xsk_ring_prod* fill = nullptr;
  xsk_ring_cons* comp = nullptr;
  int fd = -1;
  uint32_t in_fill = 0;           // frames handed to the kernel to receive into
  uint32_t in_tx = 0;             // frames submitted and not completed
  std::vector<xdp_desc> pending;  // this loop's frames for its TX ring
  SocketCounters counters;

  bool uplink() const { return role == Role::kUplink; }
  bool external() const { return role == Role::kExternal; }

  ~Socket() {
    if (xsk != nullptr) xsk_socket__delete(xsk);
    own_program.reset();  // detaches after the socket is gone
  }
};

// What every engine thread forwards by, immutable once published.
struct Engine::Plan {
  uint64_t generation = 0;
  std::shared_ptr<const dataplane::Tables> tables;
  bool nat = false;               // a NAT gateway runs here: loops hold nat_mutex_
  std::vector<Socket*> by_port;   // tables port index -> socket; null when unbound
  std::vector<Socket*> by_id;     // socket id -> socket (handed-off frames name the id)
  std::vector<uint16_t> port_of;  // socket id -> its port index in `tables`
  std::vector<Socket*> uplink;    // per thread: its uplink queue's socket
  Socket* external = nullptr;
  std::vector<std::vector<Socket*>> polled;  // per thread: the sockets it polls
  uint32_t fill_target = 64;                 // frames each socket keeps in its fill ring
  // Each port's share of a congested uplink, by port index of `tables`;
  // kept across plans of the same tables.
  std::shared_ptr<Shares> shares;
};

struct Engine::Worker {
  uint32_t index = 0;
  std::shared_ptr<const Plan> plan;
  std::atomic<uint64_t> taken{0};  // the generation of `plan`
  FrameCache frames;
  // [source thread]: frames other threads give this one (null for itself).
  std::vector<std::unique_ptr<HandoffRing>> inbound;
  std::vector<HandoffRing*> outbound;  // [destination thread]: this thread's rings to it
  int wake_fd = -1;                    // eventfd: a sleeping thread's reason to wake
  std::atomic<bool> sleeping{false};
  std::atomic<uint64_t> handed_off{0}, handoff_full{0}, handoff_stale{0};
  std::vector<uint64_t> scratch;                                    // refill's frames
  std::vector<uint8_t> linear = std::vector<uint8_t>(kLinearSize);  // a multi-frame packet
  uint64_t now = 0;                                                 // ns, read once per loop
  uint64_t last_expire = 0;
  // The token buckets of the ports' bandwidth limits, by port index of
  // `metered` (the tables they were made for): only the thread polling a
  // port meters it. New tables carry each port's bucket over.
  std::vector<dataplane::PortMeter> meters;
  std::shared_ptr<const dataplane::Tables> metered;
  std::thread thread;

  explicit Worker(FrameDepot& depot) : frames(depot) { scratch.reserve(kMaxFill); }
  ~Worker() {
    if (wake_fd >= 0) close(wake_fd);
  }
};

Engine::Engine(const std::string& uplink, EngineOptions options)
    : options_(options), nat_(options.nat) {
  // A packet of several frames is taken whole, so a peek must hold the
  // longest the kernel makes (MAX_SKB_FRAGS + 1 = 18 frames).
  options_.batch = std::clamp(options_.batch, kMinBatch, kMaxBatch);
  options_.threads = std::max<uint32_t>(1, options_.threads);
  if (options_.threads > kMaxThreads) {
    throw std::runtime_error("at most " + std::to_string(kMaxThreads) + " engine threads");
  }
  // Frames are pinned memory; root's limit may still be 8 MiB on old kernels.
  rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
  setrlimit(RLIMIT_MEMLOCK, &unlimited);

  total_frames_ = options_.frames * options_.threads;
  umem_ = std::make_unique<Umem>();
  umem_->size = size_t{total_frames_} * options_.frame_size;
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
  depot_.reserve(total_frames_);
  for (uint32_t i = total_frames_; i-- > 0;) depot_.put(uint64_t{i} * options_.frame_size);
  owner_ = std::make_unique<std::atomic<uint16_t>[]>(total_frames_);
  for (uint32_t i = 0; i < total_frames_; ++i) owner_[i].store(kFree, std::memory_order_relaxed);
  ids_in_use_.assign(kMaxSockets, false);

  for (uint32_t t = 0; t < options_.threads; ++t) {
    auto w = std::make_unique<Worker>(depot_);
    w->index = t;
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
    w->inbound.resize(options_.threads);
    for (uint32_t from = 0; from < options_.threads; ++from) {
      if (from != t) w->inbound[from] = std::make_unique<HandoffRing>(options_.handoff);
    }
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) {
    w->outbound.assign(options_.threads, nullptr);
    for (uint32_t to = 0; to < options_.threads; ++to) {
      if (to != w->index) w->outbound[to] = workers_[to]->inbound[w->index].get();
    }
  }

  uplink_program_ = bpf::XdpProgram::attach(uplink, bpf::XdpMode::kUplink);
  {
    std::lock_guard lock(mutex_);
    for (uint32_t q = 0; q < options_.threads; ++q) {
      sockets_.push_back(open_socket(uplink, Role::kUplink, q, q));
    }
    publish_plan(0);  // no thread runs yet: each starts from this plan
  }
  for (auto& w : workers_) {
    Worker* worker = w.get();
    worker->thread = std::thread([this, worker] { run(*worker); });
  }
}

Engine::~Engine() {
  stop_ = true;
  for (auto& w : workers_) wake(*w);
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  // Ports and the external interface first, then the uplink's queues, the
  // one on queue 0 last: it was created on the UMEM's own rings.
  std::lock_guard lock(mutex_);
  while (!sockets_.empty()) sockets_.pop_back();
  stuck_.clear();
  uplink_program_.reset();
  umem_.reset();
}

std::unique_ptr<Engine::Socket> Engine::open_socket(const std::string& interface, Role role,
                                                    uint32_t queue, uint32_t thread) {
  auto s = std::make_unique<Socket>();
  s->interface = interface;
  s->role = role;
  s->queue = queue;
  s->thread = thread;
  size_t id = 0;
  while (id < kMaxSockets && ids_in_use_[id]) ++id;
  if (id == kMaxSockets) throw std::runtime_error(interface + ": too many ports");
  s->id = static_cast<uint16_t>(id);
  s->serial = next_serial_++;
  s->pending.reserve(options_.ring_size);

  if (role == Role::kUplink) {
    s->program = uplink_program_.get();
  } else {
    s->own_program = bpf::XdpProgram::attach(
        interface, role == Role::kExternal ? bpf::XdpMode::kExternal : bpf::XdpMode::kPort);
    s->program = s->own_program.get();
  }
  xsk_socket_config config{};
  config.rx_size = options_.ring_size;
  config.tx_size = options_.ring_size;
  config.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;  // our own program, above
  config.xdp_flags = 0;
  config.bind_flags = XDP_USE_NEED_WAKEUP | (multi_buffer_ ? XDP_USE_SG : 0);
  int err;
  if (role == Role::kUplink && queue == 0) {
    s->fill = &umem_->fill;
    s->comp = &umem_->comp;
    err =
        xsk_socket__create(&s->xsk, interface.c_str(), queue, umem_->umem, &s->rx, &s->tx, &config);
    if ((err == -EINVAL || err == -EOPNOTSUPP) && multi_buffer_) {
      // A kernel before 6.6 has no multi-buffer AF_XDP: frames stop at one
      // UMEM frame (the dataplane caps the MTU it reports accordingly).
      spdlog::warn("multi_buffer_unavailable interface={} error={} detail={}", interface,
                   log::quote(std::strerror(-err)),
                   log::quote("frames larger than 3,840 bytes are not carried"));
      multi_buffer_ = false;
      config.bind_flags = XDP_USE_NEED_WAKEUP;
      err = xsk_socket__create(&s->xsk, interface.c_str(), queue, umem_->umem, &s->rx, &s->tx,
                               &config);
    }
  } else {
    s->fill = &s->own_fill;
    s->comp = &s->own_comp;
    err = xsk_socket__create_shared(&s->xsk, interface.c_str(), queue, umem_->umem, &s->rx, &s->tx,
                                    s->fill, s->comp, &config);
  }
  if (err != 0) {
    throw std::runtime_error("AF_XDP socket on " + interface + " queue " + std::to_string(queue) +
                             ": " + std::strerror(-err));
  }
  s->fd = xsk_socket__fd(s->xsk);
  ids_in_use_[id] = true;
  // Frames to receive into before the XDP program can redirect to it: a
  // frame redirected to an empty fill ring is dropped. Its thread takes
  // over the fill ring with the plan that hands it the socket.
  std::vector<uint64_t> frames;
  const uint32_t sockets = static_cast<uint32_t>(sockets_.size()) + 1;
  const uint32_t target =
      std::min(options_.ring_size / 2, std::max<uint32_t>(total_frames_ / (2 * sockets), 64));
  depot_.take(frames, target);
  uint32_t index = 0;
  const uint32_t got =
      xsk_ring_prod__reserve(s->fill, static_cast<uint32_t>(frames.size()), &index);
  for (uint32_t i = 0; i < got; ++i) {
    owner_[frames[i] / options_.frame_size].store(s->id, std::memory_order_relaxed);
    *xsk_ring_prod__fill_addr(s->fill, index + i) = frames[i];
  }
  xsk_ring_prod__submit(s->fill, got);
  s->in_fill = got;
  for (size_t i = got; i < frames.size(); ++i) depot_.put(frames[i]);
  if (const int e = xsk_socket__update_xskmap(s->xsk, s->program->xsks_map_fd()); e != 0) {
    retire(std::move(s));
    throw std::runtime_error("AF_XDP socket on " + interface + ": XSKMAP: " + std::strerror(-e));
  }
  spdlog::info(
      "socket_bound interface={} role={} queue={} thread={} xdp={} copy_mode=true "
      "multi_buffer={}",
      interface,
      role == Role::kUplink     ? "uplink"
      : role == Role::kExternal ? "external"
                                : "port",
      queue, thread, s->program->native() ? "native" : "generic", multi_buffer_);
  return s;
}

// --- control side ---------------------------------------------------------

bool Engine::publish_plan(int deadline_ms) {
  auto plan = std::make_shared<Plan>();
  plan->tables = tables_;
  plan->by_id.assign(kMaxSockets, nullptr);
  plan->port_of.assign(kMaxSockets, dataplane::kNoPort);
  plan->uplink.assign(options_.threads, nullptr);
  plan->polled.resize(options_.threads);
  plan->by_port.assign(tables_ ? tables_->ports.size() : 0, nullptr);
  if (tables_) {
    for (const dataplane::GatewayEntry& g : tables_->gateways) {
      plan->nat |= g.local && g.kind == policy::GatewayKind::kNat;
    }
  }
  for (const auto& owned : sockets_) {
    Socket& s = *owned;
    plan->by_id[s.id] = &s;
    plan->polled[s.thread].push_back(&s);
    if (s.uplink()) {
      plan->uplink[s.thread] = &s;
    } else if (s.external()) {
      plan->external = &s;
    }
    const uint16_t port = s.uplink() || s.external() || !tables_
                              ? dataplane::kNoPort
                              : tables_->port_by_interface(s.interface);
    plan->port_of[s.id] = port;
    if (port != dataplane::kNoPort) plan->by_port[port] = &s;
  }
  if (shares_for_ != tables_ || !shares_) {
    shares_ = std::make_shared<Shares>(tables_ ? tables_->ports.size() : 0);
    shares_for_ = tables_;
  }
  plan->shares = shares_;
  const auto count = std::max<uint32_t>(1, static_cast<uint32_t>(sockets_.size()));
  plan->fill_target =
      std::min(options_.ring_size / 2, std::max<uint32_t>(total_frames_ / (2 * count), 64));
  uint64_t generation;
  {
    std::lock_guard lock(plan_mutex_);
    generation = plan_generation_.load() + 1;
    plan->generation = generation;
    next_plan_ = std::move(plan);
    plan_generation_.store(generation, std::memory_order_release);
  }
  if (deadline_ms <= 0) return false;
  for (auto& w : workers_) wake(*w);
  // Each thread takes it at its next loop; one asleep polls at most 10 ms.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ms);
  for (;;) {
    bool all = true;
    for (auto& w : workers_) all &= w->taken.load(std::memory_order_acquire) >= generation;
    if (all) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

void Engine::retire(std::unique_ptr<Socket> socket) {
  // Nothing polls it: close it (the kernel lets go of its rings), then every
  // frame it held (fill, RX or TX ring) is free again.
  const uint16_t id = socket->id;
  socket.reset();
  std::vector<uint64_t> frames;
  for (uint32_t f = 0; f < total_frames_; ++f) {
    if (owner_[f].load(std::memory_order_relaxed) == id) {
      owner_[f].store(kFree, std::memory_order_relaxed);
      frames.push_back(uint64_t{f} * options_.frame_size);
    }
  }
  depot_.give(frames, frames.size());
  ids_in_use_[id] = false;
}

uint32_t Engine::least_loaded_thread() const {
  std::vector<size_t> load(options_.threads, 0);
  for (const auto& s : sockets_) {
    if (!s->uplink()) ++load[s->thread];
  }
  return static_cast<uint32_t>(std::min_element(load.begin(), load.end()) - load.begin());
}

void Engine::publish(std::shared_ptr<const dataplane::Tables> tables) {
  std::lock_guard lock(mutex_);
  tables_ = std::move(tables);
  // The gateways that run here now: flows of the others go. Here, on the
  // calling thread (this allocates), under the table's lock.
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
  {
    std::lock_guard nat_lock(nat_mutex_);
    nat_.sync(gateways);
  }
  publish_plan(1000);
}

bpf::XdpProgram& Engine::uplink_program() { return *uplink_program_; }

void Engine::bind_port(const std::string& interface) {
  std::lock_guard lock(mutex_);
  for (const auto& s : sockets_) {
    if (s->interface == interface && s->role == Role::kPort) return;
  }
  sockets_.push_back(open_socket(interface, Role::kPort, 0, least_loaded_thread()));
  publish_plan(1000);
}

void Engine::release_where(bool external, const std::string& interface) {
  std::lock_guard lock(mutex_);
  for (auto it = sockets_.begin(); it != sockets_.end(); ++it) {
    Socket& s = **it;
    if (s.uplink() || s.external() != external || (!external && s.interface != interface)) continue;
    std::unique_ptr<Socket> socket = std::move(*it);
    sockets_.erase(it);
    const std::string name = socket->interface;
    // Closed only once no thread can touch it: every one took a plan without it.
    if (publish_plan(5000)) {
      retire(std::move(socket));
    } else {
      spdlog::error("socket_not_released interface={} detail={}", name,
                    log::quote("an engine thread did not take the new plan in 5 s; the socket "
                               "stays open"));
      stuck_.push_back(std::move(socket));
    }
    spdlog::info("socket_released interface={} role={}", name, external ? "external" : "port");
    return;
  }
}

void Engine::release_port(const std::string& interface) { release_where(false, interface); }

bool Engine::has_port(const std::string& interface) const {
  std::lock_guard lock(mutex_);
  for (const auto& s : sockets_) {
    if (s->interface == interface && s->role == Role::kPort) return true;
  }
  return false;
}

std::vector<std::string> Engine::ports() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const auto& s : sockets_) {
    if (s->role == Role::kPort) names.push_back(s->interface);
  }
  return names;
}

void Engine::bind_external(const std::string& interface) {
  if (external() == interface) return;
  release_external();
  std::lock_guard lock(mutex_);
  sockets_.push_back(open_socket(interface, Role::kExternal, 0, least_loaded_thread()));
  publish_plan(1000);
}

void Engine::release_external() { release_where(true, ""); }

std::string Engine::external() const {
  std::lock_guard lock(mutex_);
  for (const auto& s : sockets_) {
    if (s->external()) return s->interface;
  }
  return "";
}

bpf::XdpProgram* Engine::external_program() {
  std::lock_guard lock(mutex_);
  for (const auto& s : sockets_) {
    if (s->external()) return s->program;
  }
  return nullptr;
}

std::vector<GatewaySnapshot> Engine::gateways() const {
  std::lock_guard lock(mutex_);
  std::vector<GatewaySnapshot> out;
  if (!tables_) return out;
  std::lock_guard nat_lock(nat_mutex_);
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
  std::lock_guard lock(nat_mutex_);
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
  return out;
}

std::vector<SocketSnapshot> Engine::counters() const {
  // The uplink's queues are one interface: their counters are summed here.
  std::lock_guard lock(mutex_);
  std::vector<SocketSnapshot> out;
  for (const auto& s : sockets_) {
    SocketSnapshot one;
    one.interface = s->interface;
    one.uplink = s->uplink();
    one.external = s->external();
    one.native_xdp = s->program->native();
    one.thread = s->thread;
    one.rx_packets = s->counters.rx_packets.load();
    one.rx_bytes = s->counters.rx_bytes.load();
    one.tx_packets = s->counters.tx_packets.load();
    one.tx_bytes = s->counters.tx_bytes.load();
    for (size_t r = 0; r < dataplane::kReasonCount; ++r)
      one.reasons[r] = s->counters.reasons[r].load();
    if (s->uplink()) {
      one.queues.push_back({s->queue, one.rx_packets, one.tx_packets});
      if (!out.empty() && out.front().uplink) {
        SocketSnapshot& sum = out.front();
        sum.rx_packets += one.rx_packets;
        sum.rx_bytes += one.rx_bytes;
        sum.tx_packets += one.tx_packets;
        sum.tx_bytes += one.tx_bytes;
        for (size_t r = 0; r < dataplane::kReasonCount; ++r) sum.reasons[r] += one.reasons[r];
        sum.queues.push_back(one.queues.front());
        continue;
      }
    }
    one.xdp = s->program->stats();
    out.push_back(std::move(one));
  }
  return out;
}

std::vector<ThreadSnapshot> Engine::threads() const {
  std::lock_guard lock(mutex_);
  std::vector<ThreadSnapshot> out;
  for (const auto& w : workers_) {
    ThreadSnapshot t{w->index};
    for (const auto& s : sockets_) t.sockets += s->thread == w->index ? 1 : 0;
    t.handed_off = w->handed_off.load();
    t.handoff_full = w->handoff_full.load();
    t.handoff_stale = w->handoff_stale.load();
    out.push_back(t);
  }
  return out;
}

// --- the engine threads ---------------------------------------------------

void Engine::wake(Worker& w) {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = write(w.wake_fd, &one, sizeof one);
}

void Engine::run(Worker& w) {
  std::vector<pollfd> fds;
  int idle = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    if (plan_generation_.load(std::memory_order_acquire) !=
        w.taken.load(std::memory_order_relaxed)) {
      std::lock_guard lock(plan_mutex_);
      w.plan = next_plan_;
      w.taken.store(w.plan->generation, std::memory_order_release);
    }
    const Plan& plan = *w.plan;
    if (w.metered != plan.tables && plan.tables != nullptr) {
      w.meters = dataplane::carry_meters(w.metered.get(), w.meters, *plan.tables);
      w.metered = plan.tables;
    }
    const std::vector<Socket*>& mine = plan.polled[w.index];

    // One clock read per loop: the pipeline is given the time (pipeline.h).
    w.now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::steady_clock::now().time_since_epoch())
                                      .count());
    if (options_.uplink_mbps != 0 && w.now >= next_share_.load(std::memory_order_relaxed))
      share(plan, w.now);
    bool work = false;
    {
      // A gateway host's NAT table is one, shared: the threads take turns a
      // loop at a time. Hosts without a NAT gateway never take the lock.
      std::unique_lock nat_lock(nat_mutex_, std::defer_lock);
      if (plan.nat) nat_lock.lock();
      // Timed-out NAT flows go in a sweep of the whole table each second, a
      // slice every millisecond (flows are also found expired when looked
      // up): walking the table every loop cost a cache miss per slot.
      if (plan.nat && w.index == 0 && nat_.size() > 0 && w.now - w.last_expire >= kExpireEveryNs) {
        nat_.expire(w.now, std::max<uint32_t>(64, static_cast<uint32_t>(nat_.capacity() / 1000)));
        w.last_expire = w.now;
      }
      for (Socket* s : mine) work |= receive(w, plan, *s);
    }
    // What this loop gave other threads becomes theirs to see; one that
    // sleeps is woken (the fence pairs with the one before it sleeps).
    for (uint32_t t = 0; t < w.outbound.size(); ++t) {
      if (w.outbound[t] == nullptr || !w.outbound[t]->publish()) continue;
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (workers_[t]->sleeping.load(std::memory_order_relaxed)) wake(*workers_[t]);
    }
    work |= drain_handoffs(w, plan);
    for (Socket* s : mine) work |= transmit(w, *s);
    for (Socket* s : mine) work |= complete(w, *s);
    for (Socket* s : mine) refill(w, plan, *s);

    if (work) {
      idle = 0;
      continue;
    }
    if (++idle < kIdleLoopsBeforePoll) continue;
    // Nothing to do: sleep in poll() until a ring has something, another
    // thread hands over a frame or a new plan comes, so an idle host spends
    // no CPU on its engine.
    w.sleeping.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    bool handed = false;
    for (const auto& ring : w.inbound) handed |= ring != nullptr && !ring->empty();
    if (!handed && !stop_.load(std::memory_order_relaxed) &&
        plan_generation_.load(std::memory_order_acquire) == w.taken.load()) {
      fds.clear();
      for (Socket* s : mine) fds.push_back(pollfd{s->fd, POLLIN, 0});
      fds.push_back(pollfd{w.wake_fd, POLLIN, 0});
      poll(fds.data(), fds.size(), kPollMilliseconds);
      if (fds.back().revents & POLLIN) {
        uint64_t ignored;
        [[maybe_unused]] const ssize_t n = read(w.wake_fd, &ignored, sizeof ignored);
      }
    }
    w.sleeping.store(false, std::memory_order_relaxed);
    idle = 0;
  }
  w.frames.flush();
}

void Engine::share(const Plan& plan, uint64_t now) {
  std::unique_lock lock(share_mutex_, std::try_to_lock);
  if (!lock.owns_lock() || now < next_share_.load(std::memory_order_relaxed)) return;
  next_share_.store(now + kShareEveryNs, std::memory_order_relaxed);
  const uint64_t elapsed = shared_at_ == 0 ? 0 : now - shared_at_;
  shared_at_ = now;
  if (!plan.tables || !plan.shares) return;
  // What each port's VM sent since the last time: its socket's received
  // bytes (a socket seen for the first time, or a new one under a reused
  // id, starts from now).
  const auto& ports = plan.tables->ports;
  std::vector<dataplane::PortDemand> demands(ports.size());
  sent_.resize(kMaxSockets);
  for (size_t i = 0; i < ports.size(); ++i) {
    demands[i] = {.min_mbps = ports[i].bandwidth_min_mbps,
                  .max_mbps = ports[i].bandwidth_max_mbps,
                  .weight = ports[i].weight};
    const Socket* s = i < plan.by_port.size() ? plan.by_port[i] : nullptr;
    if (s == nullptr) continue;
    const uint64_t bytes = s->counters.rx_bytes.load(std::memory_order_relaxed);
    auto& [serial, last] = sent_[s->id];
    if (serial == s->serial && elapsed != 0 && bytes >= last) {
      demands[i].offered_mbps =
          static_cast<uint32_t>(std::min<uint64_t>((bytes - last) * 8 * 1000 / elapsed, 4'000'000));
    }
    serial = s->serial;
    last = bytes;
  }
  std::vector<uint32_t> rates(ports.size());
  const bool congested =
      elapsed != 0 && dataplane::share_uplink(options_.uplink_mbps, demands, rates);
  Shares& shares = *plan.shares;
  for (size_t i = 0; i < rates.size() && i < shares.size(); ++i)
    shares[i].store(rates[i], std::memory_order_relaxed);
  congested_.store(congested, std::memory_order_relaxed);
  if (congested) congested_intervals_.fetch_add(1, std::memory_order_relaxed);
}

SharingSnapshot Engine::sharing() const {
  SharingSnapshot out;
  out.capacity_mbps = options_.uplink_mbps;
  out.congested = congested_.load(std::memory_order_relaxed);
  out.congested_intervals = congested_intervals_.load(std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  if (!shares_ || !shares_for_) return out;
  for (size_t i = 0; i < shares_->size() && i < shares_for_->ports.size(); ++i) {
    const uint32_t rate = (*shares_)[i].load(std::memory_order_relaxed);
    if (rate != 0) out.shares.emplace_back(shares_for_->ports[i].interface, rate);
  }
  return out;
}

bool Engine::receive(Worker& w, const Plan& plan, Socket& s) {
  uint32_t index = 0;
  uint32_t n = xsk_ring_cons__peek(&s.rx, options_.batch, &index);
  if (n == 0) {
    if (xsk_ring_prod__needs_wakeup(s.fill))
      recvfrom(s.fd, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    return false;
  }
  // A packet in several frames (multi-buffer) is taken whole: the frames of
  // one whose end is not in this peek are left for the next.
  uint32_t whole = n;
  while (whole > 0 && (xsk_ring_cons__rx_desc(&s.rx, index + whole - 1)->options & kPacketGoesOn))
    --whole;
  if (whole < n) {
    xsk_ring_cons__cancel(&s.rx, n - whole);
    n = whole;
    if (n == 0) return false;  // cannot be: a peek holds kMinBatch frames
  }
  const uint64_t chunk_mask = ~uint64_t{options_.frame_size - 1};
  const dataplane::Tables* tables = plan.tables.get();
  dataplane::Context context{plan.nat ? &nat_ : nullptr, w.now, w.meters};
  if (plan.shares) context.shares = *plan.shares;
  std::array<xdp_desc, kMaxBatch> descs;
  std::array<dataplane::Frame, kMaxBatch> frames;
  std::array<uint8_t, kMaxBatch> pieces;  // frames of packet k (from descs[first[k]])
  std::array<uint8_t, kMaxBatch> first;
  uint32_t packets = 0;
  for (uint32_t i = 0; i < n; ++i) {
    descs[i] = *xsk_ring_cons__rx_desc(&s.rx, index + i);
    const uint64_t chunk = descs[i].addr & chunk_mask;
    owner_[chunk / options_.frame_size].store(kInEngine, std::memory_order_relaxed);
    count(s.counters.rx_bytes, descs[i].len);
    const bool starts = i == 0 || !(descs[i - 1].options & kPacketGoesOn);
    if (starts) {
      first[packets] = static_cast<uint8_t>(i);
      pieces[packets] = 1;
      frames[packets] =
          dataplane::Frame{std::span(umem_->area + chunk, options_.frame_size),
                           static_cast<uint32_t>(descs[i].addr - chunk), descs[i].len};
      ++packets;
    } else {
      ++pieces[packets - 1];
    }
  }
  s.in_fill -= n;
  count(s.counters.rx_packets, packets);
  xsk_ring_cons__release(&s.rx, n);
  // The look-ups of the whole batch wait for memory together (pipeline.h).
  const uint16_t port = plan.port_of[s.id];
  if (tables != nullptr && s.role == Role::kPort) {
    for (uint32_t k = 0; k < packets; ++k)
      dataplane::prefetch_from_port(*tables, port, frames[k], 0);
    for (uint32_t k = 0; k < packets; ++k)
      dataplane::prefetch_from_port(*tables, port, frames[k], 1);
  }
  for (uint32_t k = 0; k < packets; ++k) {
    const xdp_desc* chain = &descs[first[k]];
    const uint32_t parts = pieces[k];
    // A packet in several frames goes through the pipeline whole: copied
    // into this thread's buffer, and back into its frames after.
    dataplane::Frame frame = frames[k];
    bool fits = parts <= kMaxPieces;
    if (parts > 1 && fits) {
      const uint32_t total = gather(std::span(chain, parts), umem_->area,
                                    std::span(w.linear).subspan(kLinearHeadroom));
      fits = total > 0;
      frame = dataplane::Frame{std::span(w.linear), kLinearHeadroom, total};
    }
    dataplane::Verdict verdict{dataplane::Reason::kPortUnbound, dataplane::kNoPort};
    if (!fits) {
      verdict.reason = dataplane::Reason::kTooBig;  // more than any MTU this engine carries
    } else if (tables != nullptr) {
      verdict = s.uplink()     ? dataplane::from_uplink(*tables, context, frame)
                : s.external() ? dataplane::from_external(*tables, context, frame)
                               : dataplane::from_port(*tables, context, port, frame);
    }
    Socket* out = nullptr;
    if (verdict.dropped()) {
      // Counted below.
    } else if (verdict.out == dataplane::kUplink) {
      out = plan.uplink[w.index];
    } else if (verdict.out == dataplane::kExternal) {
      out = plan.external;
      if (out == nullptr) verdict.reason = dataplane::Reason::kPortUnbound;  // none (yet)
    } else if (verdict.out < plan.by_port.size() && plan.by_port[verdict.out] != nullptr) {
      out = plan.by_port[verdict.out];
    } else {
      verdict.reason = dataplane::Reason::kPortUnbound;  // its interface is not bound (yet)
    }
    // What leaves: the frame where the pipeline left it, or the packet
    // written back into its frames (at most as many as it came in: each
    // holds 4,096 bytes where it received 3,840).
    std::array<xdp_desc, kMaxPieces> leave;
    uint32_t used = 0;
    if (out != nullptr && parts == 1) {
      const uint64_t chunk = static_cast<uint64_t>(frame.buffer.data() - umem_->area);
      leave[used++] = xdp_desc{chunk + frame.offset, frame.length, 0};
    } else if (out != nullptr) {
      used =
          scatter(frame.bytes(), std::span(chain, parts), umem_->area, options_.frame_size, leave);
      if (used == 0) {  // cannot be: each frame holds 4,096 where it received 3,840
        out = nullptr;
        verdict.reason = dataplane::Reason::kTooBig;
      }
    }
    if (out != nullptr && out->thread == w.index) {
      if (out->pending.size() + used > out->pending.capacity()) {
        out = nullptr;
        verdict.reason = dataplane::Reason::kNoFrame;
      } else {
        out->pending.insert(out->pending.end(), leave.begin(), leave.begin() + used);
      }
    } else if (out != nullptr) {
      // Another thread's socket: its thread alone writes that TX ring.
      HandoffRing& ring = *w.outbound[out->thread];
      if (used == 1 ? ring.push(Handoff{leave[0].addr, leave[0].len, out->id, false, out->serial})
                    : ring.room() >= used) {
        for (uint32_t j = 0; used > 1 && j < used; ++j) {
          ring.push(Handoff{leave[j].addr, leave[j].len, out->id, j + 1 < used, out->serial});
        }
        count(w.handed_off);
      } else {
        count(w.handoff_full);
        out = nullptr;
        verdict.reason = dataplane::Reason::kNoFrame;
      }
    }
    count(s.counters.reasons[static_cast<size_t>(verdict.reason)]);
    // Frames the packet no longer needs (all of them when it was dropped).
    for (uint32_t j = out == nullptr ? 0 : (parts == 1 ? 1 : used); j < parts; ++j) {
      free_frame(w, chain[j].addr & chunk_mask);
    }
  }
  return true;
}

bool Engine::drain_handoffs(Worker& w, const Plan& plan) {
  const uint64_t chunk_mask = ~uint64_t{options_.frame_size - 1};
  bool work = false;
  for (const auto& ring : w.inbound) {
    if (ring == nullptr) continue;
    // The entries of one packet come together (HandoffRing): it is kept or
    // dropped whole, decided at its first entry.
    Socket* out = nullptr;
    bool starts = true;
    work |= ring->drain(kMaxHandoffPerLoop, [&](const Handoff& h) {
      if (starts) {
        // The socket it was given for may be gone since (released,
        // its id perhaps reused): the serial tells.
        out = plan.by_id[h.socket];
        if (out == nullptr || out->serial != h.serial || out->thread != w.index) {
          count(w.handoff_stale);
          out = nullptr;
        } else if (out->pending.size() + kMaxPieces > out->pending.capacity()) {
          count(out->counters.reasons[static_cast<size_t>(dataplane::Reason::kNoFrame)]);
          out = nullptr;
        }
      }
      if (out != nullptr) {
        out->pending.push_back(xdp_desc{h.addr, h.length, h.more ? kPacketGoesOn : 0u});
      } else {
        free_frame(w, h.addr & chunk_mask);
      }
      starts = !h.more;
    }) > 0;
  }
  return work;
}

bool Engine::transmit(Worker& w, Socket& s) {
  bool work = false;
  if (!s.pending.empty()) {
    uint32_t index = 0;
    const auto want = static_cast<uint32_t>(s.pending.size());
    // As many as the ring has room for, ending on a whole packet (a
    // reservation is all or nothing: asking for all would send none).
    uint32_t fit = std::min(want, xsk_prod_nb_free(&s.tx, want));
    while (fit > 0 && (s.pending[fit - 1].options & kPacketGoesOn)) --fit;
    const uint32_t got = fit > 0 ? xsk_ring_prod__reserve(&s.tx, fit, &index) : 0;
    for (uint32_t i = 0; i < got; ++i) {
      *xsk_ring_prod__tx_desc(&s.tx, index + i) = s.pending[i];
      owner_[s.pending[i].addr / options_.frame_size].store(s.id, std::memory_order_relaxed);
      if (!(s.pending[i].options & kPacketGoesOn)) count(s.counters.tx_packets);
      count(s.counters.tx_bytes, s.pending[i].len);
    }
    xsk_ring_prod__submit(&s.tx, got);
    s.in_tx += got;
    // What the ring had no room for: dropped, counted (whole packets).
    for (uint32_t i = got; i < want; ++i) {
      if (!(s.pending[i].options & kPacketGoesOn))
        count(s.counters.reasons[static_cast<size_t>(dataplane::Reason::kNoFrame)]);
      free_frame(w, s.pending[i].addr & ~uint64_t{options_.frame_size - 1});
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

bool Engine::complete(Worker& w, Socket& s) {
  if (s.in_tx == 0) return false;
  uint32_t index = 0;
  const uint32_t n = xsk_ring_cons__peek(s.comp, options_.ring_size, &index);
  for (uint32_t i = 0; i < n; ++i) {
    free_frame(w,
               *xsk_ring_cons__comp_addr(s.comp, index + i) & ~uint64_t{options_.frame_size - 1});
  }
  xsk_ring_cons__release(s.comp, n);
  s.in_tx -= n;
  return n > 0 || s.in_tx > 0;
}

void Engine::refill(Worker& w, const Plan& plan, Socket& s) {
  // Each socket keeps up to half its ring filled, less when many sockets
  // share the UMEM, so one port cannot starve the others.
  if (s.in_fill >= plan.fill_target) return;
  w.scratch.clear();
  for (uint32_t want = plan.fill_target - s.in_fill; want > 0; --want) {
    uint64_t addr = 0;
    if (!w.frames.take(addr)) break;
    w.scratch.push_back(addr);
  }
  uint32_t index = 0;
  const uint32_t got =
      xsk_ring_prod__reserve(s.fill, static_cast<uint32_t>(w.scratch.size()), &index);
  for (uint32_t i = 0; i < got; ++i) {
    owner_[w.scratch[i] / options_.frame_size].store(s.id, std::memory_order_relaxed);
    *xsk_ring_prod__fill_addr(s.fill, index + i) = w.scratch[i];
  }
  xsk_ring_prod__submit(s.fill, got);
  s.in_fill += got;
  for (size_t i = got; i < w.scratch.size(); ++i) w.frames.put(w.scratch[i]);
}

void Engine::free_frame(Worker& w, uint64_t chunk) {
  owner_[chunk / options_.frame_size].store(kFree, std::memory_order_relaxed);
  w.frames.put(chunk);
}

}  // namespace vnet::agent::xsk
