// libFuzzer entry points. Each target is this file compiled with one
// VNET_FUZZ_<NAME> defined (tests/fuzz/CMakeLists.txt); each parses the input
// and then reads every accessor of what it got, so the sanitizers see any
// read outside the input.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "shared/net/ip.h"
#include "shared/net/mac.h"
#include "shared/net/vsid.h"
#include "shared/packet/arp.h"
#include "shared/packet/dhcp.h"
#include "shared/packet/ethernet.h"
#include "shared/packet/gre.h"
#include "shared/packet/icmp.h"
#include "shared/packet/ipv4.h"
#include "shared/packet/ipv6.h"
#include "shared/packet/nvgre.h"
#include "shared/packet/tcp.h"
#include "shared/packet/udp.h"
#include "shared/policy/json.h"
#include "shared/util/uuid.h"

namespace {

using namespace vnet;
using namespace vnet::packet;

// Keeps the compiler from dropping reads whose results are unused.
volatile uint64_t sink;
[[maybe_unused]] void use(uint64_t v) { sink = sink + v; }
[[maybe_unused]] void use(std::span<const uint8_t> s) {
  for (uint8_t b : s) use(b);
}

[[maybe_unused]] void fuzz(std::span<const uint8_t> in) {
#if defined(VNET_FUZZ_ETHERNET)
  if (auto v = EthernetView::parse(in)) {
    use(v->dst().to_u64() + v->src().to_u64() + v->vlan_tci() + v->ether_type());
    use(v->payload());
  }
#elif defined(VNET_FUZZ_ARP)
  if (auto v = ArpView::parse(in)) {
    use(v->operation() + v->sender_mac().to_u64() + v->sender_ip().to_u32() +
        v->target_mac().to_u64() + v->target_ip().to_u32());
  }
#elif defined(VNET_FUZZ_IPV4)
  if (auto v = Ipv4View::parse(in)) {
    use(v->tos() + v->identification() + v->fragment_offset() + v->is_fragment() + v->ttl() +
        v->protocol() + v->src().to_u32() + v->dst().to_u32() + v->checksum_ok() +
        v->compute_checksum());
    use(v->options());
    use(v->payload());
  }
#elif defined(VNET_FUZZ_IPV6)
  if (auto v = Ipv6View::parse(in)) {
    use(v->traffic_class() + v->flow_label() + v->next_header() + v->hop_limit() +
        v->src().bytes()[15] + v->dst().bytes()[15]);
    use(v->payload());
  }
#elif defined(VNET_FUZZ_ICMP)
  if (auto v = IcmpView::parse(in)) {
    use(v->type() + v->code() + v->identifier() + v->sequence() + v->next_hop_mtu() +
        v->checksum_ok());
    use(v->body());
  }
#elif defined(VNET_FUZZ_UDP)
  if (auto v = UdpView::parse(in)) {
    use(v->src_port() + v->dst_port() + v->length() + v->checksum_ok({}, {}));
    use(v->payload());
  }
#elif defined(VNET_FUZZ_TCP)
  if (auto v = TcpView::parse(in)) {
    use(v->src_port() + v->dst_port() + v->sequence() + v->acknowledgement() + v->flags() +
        v->window() + v->urgent_pointer() + v->checksum_ok({}, {}));
    use(v->options());
    use(v->payload());
  }
#elif defined(VNET_FUZZ_GRE)
  if (auto v = GreView::parse(in)) {
    use(v->protocol() + v->checksum().value_or(0) + v->key().value_or(0) +
        v->sequence().value_or(0));
    use(v->payload());
  }
#elif defined(VNET_FUZZ_NVGRE)
  if (auto v = NvgreFrame::parse(in)) {
    use(v->vsid().value() + v->flow_id() + v->outer_ipv4().src().to_u32());
    if (auto inner = EthernetView::parse(v->inner())) use(inner->dst().to_u64());
  }
#elif defined(VNET_FUZZ_DHCP)
  if (auto v = DhcpView::parse(in)) {
    use(v->op() + v->xid() + v->flags() + v->ciaddr().to_u32() + v->yiaddr().to_u32() +
        v->client_mac().value_or(net::MacAddress()).to_u64());
    for (int code = 0; code < 256; ++code) {
      if (auto o = v->option(static_cast<uint8_t>(code))) use(*o);
    }
    use(v->message_type().has_value() + v->subnet_mask().has_value() + v->router().has_value() +
        v->lease_time().value_or(0) + v->interface_mtu().value_or(0) +
        v->dns_servers().has_value());
  }
#elif defined(VNET_FUZZ_HOST_POLICY)
  const std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());
  if (auto policy = policy::from_json_text(text)) {
    // Whatever parses must write back to JSON that parses to the same policy.
    auto again = policy::from_json_text(policy::to_json_text(*policy));
    if (!again || !(*again == *policy)) __builtin_trap();
  }
#elif defined(VNET_FUZZ_NET_TEXT)
  const std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());
  // Each parser's output must format back to text that parses to the same value.
  if (auto a = net::IpAddress::parse(text)) {
    if (!(net::IpAddress::parse(a->to_string()).value() == *a)) __builtin_trap();
  }
  if (auto p = net::IpPrefix::parse(text)) {
    if (!(net::IpPrefix::parse(p->to_string()).value() == *p)) __builtin_trap();
    use(p->size() + p->contains(p->last()));
  }
  if (auto m = net::MacAddress::parse(text)) {
    if (!(net::MacAddress::parse(m->to_string()).value() == *m)) __builtin_trap();
  }
  if (auto v = net::Vsid::parse(text)) use(v->value());
  if (auto u = Uuid::parse(text)) {
    if (!(Uuid::parse(u->to_string()).value() == *u)) __builtin_trap();
  }
#else
#error "define one VNET_FUZZ_<TARGET>"
#endif
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz(std::span<const uint8_t>(data, size));
  return 0;
}
