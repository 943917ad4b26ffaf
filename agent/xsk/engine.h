// The AF_XDP packet engine: one UMEM shared by every socket (XDP_SHARED_UMEM):
// one per uplink queue and one per VM port. One engine thread per uplink
// queue polls that queue's socket and the VM ports given to it, in batches of
// 64, runs each frame through the pure pipeline and moves the descriptor to
// the socket the verdict names: itself when that socket is its own, through
// a lock-free ring to the thread owning it otherwise (handoff.h). No
// allocation, lock or syscall per packet: syscalls are TX kicks (copy mode
// sends at most 32 frames per kick) and poll() when every ring is idle.
//
// What the threads see (tables, sockets, who owns which) is one immutable
// plan, swapped between batches. Sockets are created and closed by the
// calling (control) thread while the engine threads forward: a new socket is
// handed over in the next plan, a released one is closed once every thread
// has taken a plan without it.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/bpf/xdp_program.h"
#include "agent/dataplane/nat.h"
#include "agent/dataplane/reason.h"
#include "agent/tables/tables.h"
#include "agent/xsk/handoff.h"

namespace vnet::agent::xsk {

struct EngineOptions {
  uint32_t frames = 8192;      // UMEM frames
  uint32_t frame_size = 4096;  // bytes each; 256 of them are XDP headroom
  uint32_t ring_size = 2048;   // RX, TX, fill and completion rings
  uint32_t batch = 64;
  uint32_t threads = 1;         // engine threads = uplink queues served (0 .. threads-1)
  dataplane::NatOptions nat{};  // the gateways' flow table
  // UMEM frames are `frames` per thread; each pair of threads has a ring of
  // `handoff` descriptors each way.
  uint32_t handoff = 4096;
  // The uplink's capacity in Mbit/s for weighted sharing between the ports
  // (issue 19; docs/port-profiles.md); 0: the ports are not shared out.
  uint32_t uplink_mbps = 0;
};

// The uplink's sharing between the ports, as last computed.
struct SharingSnapshot {
  uint32_t capacity_mbps = 0;  // 0: not shared
  bool congested = false;
  uint64_t congested_intervals = 0;                      // of kShareEveryNs, since the start
  std::vector<std::pair<std::string, uint32_t>> shares;  // interface, Mbit/s (congested only)
};

// One gateway's NAT counters as the engine saw them.
struct GatewaySnapshot {
  net::Ipv4Address external_ip;
  uint64_t flows = 0, created = 0, expired = 0, table_full = 0, ports_exhausted = 0,
           unsolicited = 0;
};

// The NAT table's flows (at most `limit` of them), with the time they were
// taken at, for `vnet-agent show nat`.
struct NatSnapshot {
  uint64_t now = 0;
  size_t size = 0;
  size_t capacity = 0;
  size_t memory_bytes = 0;
  std::vector<dataplane::NatFlow> flows;
};

// What one socket saw; written by the engine thread only, read by anyone.
struct SocketCounters {
  std::array<std::atomic<uint64_t>, dataplane::kReasonCount> reasons{};
  std::atomic<uint64_t> rx_packets{0};
  std::atomic<uint64_t> rx_bytes{0};
  std::atomic<uint64_t> tx_packets{0};
  std::atomic<uint64_t> tx_bytes{0};
};

// One uplink queue's socket.
struct QueueSnapshot {
  uint32_t queue = 0;
  uint64_t rx_packets = 0, tx_packets = 0;
};

struct SocketSnapshot {
  std::string interface;
  bool uplink = false;  // the uplink's queues, summed (`queues` has each)
  bool external = false;
  bool native_xdp = false;
  uint32_t thread = 0;  // the engine thread that polls it (the uplink: queue i's is thread i)
  std::vector<QueueSnapshot> queues;
  uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
  std::array<uint64_t, dataplane::kReasonCount> reasons{};
  bpf::XdpStats xdp;
};

// One engine thread: frames it gave to other threads, and those it could not
// (the ring to that thread was full) or that came for a socket no longer
// there.
struct ThreadSnapshot {
  uint32_t thread = 0;
  size_t sockets = 0;
  uint64_t handed_off = 0, handoff_full = 0, handoff_stale = 0;
};

class Engine {
 public:
  // Attaches XDP to the uplink, creates the UMEM and a socket on each of the
  // uplink's first `threads` queues and starts the threads. Throws
  // std::runtime_error naming what failed.
  Engine(const std::string& uplink, EngineOptions options = {});
  // Stops the thread, closes every socket and detaches the programs it attached.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Makes `tables` the ones the next batch uses; returns once the engine
  // thread has taken them (or after a second if it is stuck).
  void publish(std::shared_ptr<const dataplane::Tables> tables);
  // The uplink program's PA and rewrite PAs.
  bpf::XdpProgram& uplink_program();

  // Binds a VM port (XDP program + socket on queue 0) and gives it to the
  // thread with the fewest; throws when the interface cannot take one.
  // Releasing returns the socket's frames to the pool. Neither stops the
  // engine threads.
  void bind_port(const std::string& interface);
  void release_port(const std::string& interface);
  bool has_port(const std::string& interface) const;
  std::vector<std::string> ports() const;

  // A gateway host's external interface (XDP in external mode + a socket);
  // at most one. Its program's addresses and prefixes are the caller's.
  void bind_external(const std::string& interface);
  void release_external();
  std::string external() const;  // "" when none
  bpf::XdpProgram* external_program();

  // The NAT counters of the gateways the current tables run here.
  std::vector<GatewaySnapshot> gateways() const;
  // A copy of the NAT table's flows; holds the NAT table for the copy.
  NatSnapshot nat(size_t limit);

  std::vector<SocketSnapshot> counters() const;
  std::vector<ThreadSnapshot> threads() const;
  SharingSnapshot sharing() const;
  // Whether the sockets carry packets larger than one frame (AF_XDP
  // multi-buffer, XDP_USE_SG): jumbo frames up to kMaxMtu.
  bool multi_buffer() const { return multi_buffer_; }
  static constexpr uint16_t kMaxMtu = 9216;
  bool zero_copy() const { return false; }

 private:
  struct Socket;
  struct Umem;
  struct Plan;
  struct Worker;
  enum class Role : uint8_t { kUplink, kPort, kExternal };

  // --- control side (mutex_) ---
  std::unique_ptr<Socket> open_socket(const std::string& interface, Role role, uint32_t queue,
                                      uint32_t thread);
  uint32_t least_loaded_thread() const;
  // Publishes a plan of sockets_ and tables_; true once every thread took it
  // (false after `deadline_ms`).
  bool publish_plan(int deadline_ms);
  // Closes a socket no thread polls any more and returns its frames.
  void retire(std::unique_ptr<Socket> socket);
  void release_where(bool external, const std::string& interface);

  // --- engine threads ---
  void run(Worker& w);
  bool receive(Worker& w, const Plan& plan, Socket& s);
  bool drain_handoffs(Worker& w, const Plan& plan);
  bool transmit(Worker& w, Socket& s);
  bool complete(Worker& w, Socket& s);
  void refill(Worker& w, const Plan& plan, Socket& s);
  void free_frame(Worker& w, uint64_t chunk);
  void wake(Worker& w);

  EngineOptions options_;
  uint32_t total_frames_ = 0;
  std::unique_ptr<Umem> umem_;
  std::unique_ptr<bpf::XdpProgram> uplink_program_;
  std::unique_ptr<std::atomic<uint16_t>[]> owner_;  // per frame: socket id, kFree or kInEngine
  FrameDepot depot_;
  std::vector<std::unique_ptr<Worker>> workers_;

  mutable std::mutex mutex_;  // the control side: the fields below, and callers' order
  std::vector<std::unique_ptr<Socket>> sockets_;  // every open socket; [0..threads) the uplink's
  std::vector<std::unique_ptr<Socket>> stuck_;    // released while a thread did not answer
  std::vector<bool> ids_in_use_;
  uint32_t next_serial_ = 1;
  std::shared_ptr<const dataplane::Tables> tables_;

  std::mutex plan_mutex_;  // next_plan_; taken by an engine thread only when the generation moved
  std::shared_ptr<const Plan> next_plan_;
  std::atomic<uint64_t> plan_generation_{0};

  mutable std::mutex nat_mutex_;  // the table; held by engine threads for a loop on gateway hosts
  dataplane::NatTable nat_;

  // Weighted sharing of the uplink (share_uplink): whichever engine thread
  // finds the interval over takes share_mutex_ (try_lock: no thread waits)
  // and sets the plan's shares from the ports' received bytes.
  void share(const Plan& plan, uint64_t now);
  using Shares = std::vector<std::atomic<uint32_t>>;     // Mbit/s by port index; 0: none
  std::shared_ptr<Shares> shares_;                       // mutex_: the latest plan's
  std::shared_ptr<const dataplane::Tables> shares_for_;  // mutex_: the tables they index
  std::mutex share_mutex_;
  uint64_t shared_at_ = 0;                           // share_mutex_
  std::vector<std::pair<uint32_t, uint64_t>> sent_;  // share_mutex_: [socket id] serial, rx bytes
  std::atomic<uint64_t> next_share_{0};
  std::atomic<bool> congested_{false};
  std::atomic<uint64_t> congested_intervals_{0};

  std::atomic<bool> stop_{false};
  bool multi_buffer_ = true;  // until the kernel refuses XDP_USE_SG (the first socket)
};

}  // namespace vnet::agent::xsk
