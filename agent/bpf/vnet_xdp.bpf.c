/* The XDP program of vnet (DESIGN.md section 4, I/O). One object is loaded
 * per interface. On the uplink it redirects to the engine's AF_XDP socket
 * only NVGRE addressed to this host's PA, IPv4 to one of its rewrite PAs and
 * ARP asking for one, and passes everything else to the kernel (the agent's
 * own TLS session, SSH, the underlay's ARP). On a VM port it redirects
 * everything; without a socket bound yet it drops, so no tenant frame ever
 * reaches the host's stack. On a gateway host's external interface it
 * redirects only IPv4 to the gateways' external addresses (the rewrite_pas
 * map holds them there) and to forwarding gateways' prefixes; ARP and the
 * rest stay the kernel's, which owns the external network.
 *
 * It is loaded as `xdp.frags` (multi-buffer aware): an interface whose MTU
 * is larger than a page (jumbo frames) accepts it, and such a frame reaches
 * the engine's socket in several UMEM frames. It reads only the headers,
 * which are in the first buffer. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "vnet_xdp.h"

struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, VNET_XDP_MAX_QUEUES);
  __type(key, __u32);
  __type(value, __u32);
} xsks SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct vnet_xdp_config);
} config SEC(".maps");

/* Rewrite PAs this host answers for (network byte order) -> 1. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, VNET_XDP_MAX_REWRITE_PAS);
  __type(key, __u32);
  __type(value, __u8);
} rewrite_pas SEC(".maps");

/* Forwarding gateways' advertised prefixes (external mode). */
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, VNET_XDP_MAX_PREFIXES);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct vnet_xdp_prefix);
  __type(value, __u8);
} prefixes SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct vnet_xdp_stats);
} stats SEC(".maps");

struct arp_ipv4 {
  __be16 htype, ptype;
  __u8 hlen, plen;
  __be16 op;
  __u8 sha[6];
  __be32 spa;
  __u8 tha[6];
  __be32 tpa;
} __attribute__((packed));

static __always_inline int redirect(struct xdp_md *ctx, struct vnet_xdp_stats *st, int fallback) {
  int action = bpf_redirect_map(&xsks, ctx->rx_queue_index, fallback);
  if (st) {
    if (action == XDP_REDIRECT)
      st->redirected++;
    else if (action == XDP_PASS)
      st->passed++;
    else
      st->dropped++;
  }
  return action;
}

static __always_inline int pass(struct vnet_xdp_stats *st) {
  if (st) st->passed++;
  return XDP_PASS;
}

SEC("xdp.frags")
int vnet_xdp(struct xdp_md *ctx) {
  __u32 zero = 0;
  struct vnet_xdp_config *cfg = bpf_map_lookup_elem(&config, &zero);
  struct vnet_xdp_stats *st = bpf_map_lookup_elem(&stats, &zero);
  if (!cfg) return XDP_PASS;
  if (cfg->mode == VNET_XDP_MODE_PORT) return redirect(ctx, st, XDP_DROP);
  if (cfg->mode != VNET_XDP_MODE_UPLINK && cfg->mode != VNET_XDP_MODE_EXTERNAL) return pass(st);

  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return pass(st);

  if (cfg->mode == VNET_XDP_MODE_EXTERNAL) {
    if (eth->h_proto != bpf_htons(ETH_P_IP)) return pass(st);
    struct iphdr *xip = (void *)(eth + 1);
    if ((void *)(xip + 1) > data_end) return pass(st);
    if (bpf_map_lookup_elem(&rewrite_pas, &xip->daddr)) return redirect(ctx, st, XDP_PASS);
    struct vnet_xdp_prefix key = {.prefixlen = 32, .address = xip->daddr};
    if (bpf_map_lookup_elem(&prefixes, &key)) return redirect(ctx, st, XDP_PASS);
    return pass(st);
  }
  if (eth->h_proto == bpf_htons(ETH_P_ARP)) {
    struct arp_ipv4 *arp = (void *)(eth + 1);
    if ((void *)(arp + 1) > data_end) return pass(st);
    if (arp->op == bpf_htons(1) && bpf_map_lookup_elem(&rewrite_pas, &arp->tpa)) {
      return redirect(ctx, st, XDP_PASS);
    }
    return pass(st);
  }
  if (eth->h_proto != bpf_htons(ETH_P_IP)) return pass(st);
  struct iphdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > data_end) return pass(st);
  if (ip->protocol == IPPROTO_GRE && cfg->pa != 0 && ip->daddr == cfg->pa) {
    return redirect(ctx, st, XDP_PASS);
  }
  if (bpf_map_lookup_elem(&rewrite_pas, &ip->daddr)) return redirect(ctx, st, XDP_PASS);
  return pass(st);
}

char _license[] SEC("license") = "GPL";
