/* The benchmark's sink: counts IPv4 frames and their bytes per CPU and drops
 * them, so the receiving side costs no userspace CPU; ARP passes, so the
 * sender's next hop still resolves. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct sink_count {
  __u64 packets;
  __u64 bytes;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct sink_count);
} counts SEC(".maps");

SEC("xdp")
int sink(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return XDP_DROP;
  if (eth->h_proto == bpf_htons(ETH_P_ARP)) return XDP_PASS;
  __u32 zero = 0;
  struct sink_count *c = bpf_map_lookup_elem(&counts, &zero);
  if (c) {
    c->packets++;
    c->bytes += (__u64)(data_end - data);
  }
  return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
