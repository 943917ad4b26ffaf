// Parse and NVGRE encapsulation/decapsulation of 64- and 1500-byte frames,
// in ns per packet next to a memcpy of the same frame measured in the same
// run. The figure to watch: parse + encap of a 64-byte frame, target within
// 3x the memcpy baseline (issue 2).
//
//   build/main/tests/bench/packet_bench
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>

#include "shared/packet/ethernet.h"
#include "shared/packet/ipv4.h"
#include "shared/packet/nvgre.h"
#include "shared/packet/udp.h"
#include "shared/testing/fixtures.h"
#include "shared/testing/packet_builder.h"

namespace {

using namespace vnet;
using namespace vnet::packet;

constexpr size_t kHeadroom = 256;

// A UDP frame of exactly `size` bytes (without FCS) from Blue 10.0.0.5.
testing::Bytes frame_of(size_t size) {
  const size_t headers = kEthernetHeaderLen + kIpv4MinHeaderLen + kUdpHeaderLen;
  return testing::PacketBuilder()
      .eth(testing::mac("00:1D:D8:B7:1C:05"), testing::mac("00:1D:D8:B7:1C:07"))
      .ipv4(testing::ipv4("10.0.0.5"), testing::ipv4("10.0.0.7"))
      .udp(4000, 5000)
      .payload(testing::Bytes(size - headers, 0xab))
      .build();
}

const NvgreTunnel kTunnel{.src_mac = testing::mac("02:00:00:00:01:10"),
                          .dst_mac = testing::mac("02:00:00:00:01:01"),
                          .src_pa = testing::ipv4("192.168.1.10"),
                          .dst_pa = testing::ipv4("192.168.2.20"),
                          .vsid = testing::vsid(5001)};

// A buffer laid out as an AF_XDP frame: headroom, then the frame.
struct UmemFrame {
  explicit UmemFrame(const testing::Bytes& frame)
      : bytes(kHeadroom + frame.size()), len(frame.size()) {
    std::memcpy(bytes.data() + kHeadroom, frame.data(), frame.size());
  }
  std::span<uint8_t> frame() { return std::span(bytes).subspan(kHeadroom, len); }
  testing::Bytes bytes;
  size_t len;
};

void BM_Memcpy(benchmark::State& state) {
  const auto frame = frame_of(static_cast<size_t>(state.range(0)));
  testing::Bytes out(frame.size());
  for (auto _ : state) {
    std::memcpy(out.data(), frame.data(), frame.size());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
}

// Ethernet + IPv4 + UDP, reading what the pipeline classifies on.
void BM_Parse(benchmark::State& state) {
  const auto frame = frame_of(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(frame.data());
    auto eth = EthernetView::parse(frame);
    auto ip = Ipv4View::parse(eth->payload());
    auto udp = UdpView::parse(ip->payload());
    uint64_t key = uint64_t{ip->dst().to_u32()} << 16 ^ udp->dst_port() ^ eth->src().to_u64();
    benchmark::DoNotOptimize(key);
  }
}

// Parse the VM's frame, then write the outer headers in the headroom from
// the tunnel's prepared encapsulator, as the data path does.
void BM_ParseEncap(benchmark::State& state) {
  UmemFrame umem(frame_of(static_cast<size_t>(state.range(0))));
  const NvgreEncapsulator encapsulator(kTunnel);
  for (auto _ : state) {
    benchmark::DoNotOptimize(umem.bytes.data());
    auto eth = EthernetView::parse(umem.frame());
    auto ip = Ipv4View::parse(eth->payload());
    benchmark::DoNotOptimize(ip->dst());
    auto out = encapsulator.encapsulate(umem.bytes, kHeadroom, umem.len, 0);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
}

// The same, building the outer headers from scratch for every packet.
void BM_ParseEncapUnprepared(benchmark::State& state) {
  UmemFrame umem(frame_of(static_cast<size_t>(state.range(0))));
  for (auto _ : state) {
    benchmark::DoNotOptimize(umem.bytes.data());
    auto eth = EthernetView::parse(umem.frame());
    auto ip = Ipv4View::parse(eth->payload());
    benchmark::DoNotOptimize(ip->dst());
    auto out = encapsulate_nvgre(umem.bytes, kHeadroom, umem.len, kTunnel);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
}

// Validate the outer headers and find the inner frame and its destination.
void BM_Decap(benchmark::State& state) {
  const auto inner = frame_of(static_cast<size_t>(state.range(0)));
  testing::Bytes encapsulated(kNvgreOverhead + inner.size());
  std::memcpy(encapsulated.data() + kNvgreOverhead, inner.data(), inner.size());
  encapsulate_nvgre(encapsulated, kNvgreOverhead, inner.size(), kTunnel);
  for (auto _ : state) {
    benchmark::DoNotOptimize(encapsulated.data());
    auto nvgre = NvgreFrame::parse(encapsulated);
    auto inner_eth = EthernetView::parse(nvgre->inner());
    benchmark::DoNotOptimize(nvgre->vsid());
    benchmark::DoNotOptimize(inner_eth->dst());
  }
}

BENCHMARK(BM_Memcpy)->Arg(64)->Arg(1500);
BENCHMARK(BM_Parse)->Arg(64)->Arg(1500);
BENCHMARK(BM_ParseEncap)->Arg(64)->Arg(1500);
BENCHMARK(BM_ParseEncapUnprepared)->Arg(64)->Arg(1500);
BENCHMARK(BM_Decap)->Arg(64)->Arg(1500);

// Keeps each benchmark's ns/iteration (the median when repeated) to print
// the ratio table at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  RatioReporter() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_Defaults : OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      const std::string name = run.run_name.str();
      const double ns = run.GetAdjustedCPUTime();  // default unit: ns
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name == "median") {
        ns_[name] = ns;
        medians_.insert(name);
      } else if (run.run_type == Run::RT_Iteration && run.iterations > 0 && !medians_.count(name)) {
        ns_[name] = ns;
      }
    }
  }
  void PrintRatios() const {
    std::printf("\n%-20s %12s %10s %12s %10s\n", "operation", "64 B ns/pkt", "x memcpy",
                "1500 B ns/pkt", "x memcpy");
    for (const char* op :
         {"BM_Memcpy", "BM_Parse", "BM_ParseEncap", "BM_ParseEncapUnprepared", "BM_Decap"}) {
      std::printf("%-20s", op + 3);
      for (const char* size : {"64", "1500"}) {
        const auto it = ns_.find(std::string(op) + "/" + size);
        const auto base = ns_.find(std::string("BM_Memcpy/") + size);
        if (it == ns_.end() || base == ns_.end()) {
          std::printf(" %12s %10s", "-", "-");
          continue;
        }
        std::printf(" %12.2f %10.2f", it->second, it->second / base->second);
      }
      std::printf("\n");
    }
    const auto encap = ns_.find("BM_ParseEncap/64");
    const auto base = ns_.find("BM_Memcpy/64");
    if (encap != ns_.end() && base != ns_.end()) {
      const double ratio = encap->second / base->second;
      std::printf("\nparse + encap, 64 B: %.2fx memcpy (target <= 3x: %s)\n", ratio,
                  ratio <= 3.0 ? "met" : "NOT met");
    }
  }

 private:
  std::map<std::string, double> ns_;
  std::set<std::string> medians_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
