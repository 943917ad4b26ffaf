/* What the XDP program and the agent both read: one definition, included by
 * the BPF C program and by C++ (agent/bpf/xdp_program.cpp), with the sizes
 * checked on both sides. */
#ifndef VNET_AGENT_BPF_VNET_XDP_H
#define VNET_AGENT_BPF_VNET_XDP_H

#include <linux/types.h>

/* config[0].mode */
#define VNET_XDP_MODE_UPLINK 1 /* redirect NVGRE to our PA and rewrite PAs, pass the rest */
#define VNET_XDP_MODE_PORT 2   /* redirect everything: a VM port belongs to vnet */
#define VNET_XDP_MODE_EXTERNAL                                   \
  3 /* a gateway host's external interface: redirect IPv4 to the \
       gateways' addresses and forwarding prefixes, pass the rest */

#define VNET_XDP_MAX_QUEUES 64
#define VNET_XDP_MAX_REWRITE_PAS 65536
#define VNET_XDP_MAX_PREFIXES 4096

/* A forwarding gateway's advertised prefix (LPM trie key). */
struct vnet_xdp_prefix {
  __u32 prefixlen;
  __u32 address; /* network byte order */
};

struct vnet_xdp_config {
  __u32 mode;
  __u32 pa; /* network byte order; 0 until the policy names one */
};

/* Per-CPU counters of what the program decided, read by `show counters`. */
struct vnet_xdp_stats {
  __u64 redirected;
  __u64 passed;
  __u64 dropped; /* no socket bound yet on a VM port */
};

#ifdef __cplusplus
static_assert(sizeof(struct vnet_xdp_config) == 8, "vnet_xdp_config is shared with BPF");
static_assert(sizeof(struct vnet_xdp_stats) == 24, "vnet_xdp_stats is shared with BPF");
#else
_Static_assert(sizeof(struct vnet_xdp_config) == 8, "vnet_xdp_config is shared with C++");
_Static_assert(sizeof(struct vnet_xdp_stats) == 24, "vnet_xdp_stats is shared with C++");
#endif

#endif
