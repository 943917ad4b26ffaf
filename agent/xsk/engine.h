// The AF_XDP packet engine: one UMEM shared by the uplink's socket and every
// VM port's socket (XDP_SHARED_UMEM), one thread that polls their rings in
// batches of 64, runs each frame through the pure pipeline and moves the
// descriptor to the socket the verdict names. No allocation, lock or syscall
// per packet: syscalls are TX kicks (copy mode sends at most 32 frames per
// kick) and poll() when every ring is idle.
//
// The tables are swapped between batches (publish()); binding and releasing
// ports pauses the thread for the few milliseconds a socket takes to create.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
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

namespace vnet::agent::xsk {

struct EngineOptions {
  uint32_t frames = 8192;      // UMEM frames
  uint32_t frame_size = 4096;  // bytes each; 256 of them are XDP headroom
  uint32_t ring_size = 2048;   // RX, TX, fill and completion rings
  uint32_t batch = 64;
  dataplane::NatOptions nat{};  // the gateways' flow table
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

struct SocketSnapshot {
  std::string interface;
  bool uplink = false;
  bool external = false;
  bool native_xdp = false;
  uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
  std::array<uint64_t, dataplane::kReasonCount> reasons{};
  bpf::XdpStats xdp;
};

class Engine {
 public:
  // Attaches XDP to the uplink, creates the UMEM and the uplink's socket and
  // starts the thread. Throws std::runtime_error naming what failed.
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

  // Binds a VM port (XDP program + socket); throws when the interface cannot
  // take one. Releasing returns the socket's frames to the pool.
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
  // A copy of the NAT table's flows; pauses forwarding for the copy.
  NatSnapshot nat(size_t limit);

  std::vector<SocketSnapshot> counters() const;
  bool zero_copy() const { return false; }

 private:
  struct Socket;
  struct Umem;

  void run();
  void pause();
  void resume();
  void remap_ports();  // tables port index -> socket, with the thread paused
  bool receive(Socket& s);
  bool transmit(Socket& s);
  bool complete(Socket& s);
  void refill(Socket& s);
  void free_frame(uint64_t addr);
  void reclaim(uint16_t socket_id);  // a closed socket's frames back to the pool
  enum class Role : uint8_t { kUplink, kPort, kExternal };
  std::unique_ptr<Socket> open_socket(const std::string& interface, Role role);

  EngineOptions options_;
  std::unique_ptr<Umem> umem_;
  std::vector<std::unique_ptr<Socket>> sockets_;  // [0] is the uplink
  std::vector<uint16_t> socket_of_port_;          // tables port index -> sockets_ index
  int external_socket_ = -1;                      // sockets_ index of the external interface
  dataplane::NatTable nat_;                       // the engine thread's (pipeline.h, Context)
  std::vector<uint64_t> free_frames_;
  std::vector<uint16_t> owner_;  // per frame: socket id, kFree or kInEngine
  std::vector<bool> ids_in_use_;
  std::shared_ptr<const dataplane::Tables> tables_;

  mutable std::mutex mutex_;  // guards the hand-over fields below and the socket list for readers
  std::condition_variable cv_;
  std::shared_ptr<const dataplane::Tables> next_tables_;
  std::atomic<bool> tables_changed_{false};
  std::atomic<uint64_t> tables_taken_{0};
  uint64_t tables_published_ = 0;
  std::atomic<bool> pause_requested_{false};
  bool paused_ = false;
  std::atomic<bool> stop_{false};
  uint64_t now_ = 0;  // ns, read once per loop by the engine thread
  uint64_t last_expire_ = 0;
  std::thread thread_;
};

}  // namespace vnet::agent::xsk
