// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Sluice's packet filter pushed down into XDP: the CIDR deny/allow lists and the per-source SYN
// limit of src/net/filter.ts, run on the interface where client traffic enters, before any
// user-space copy. Policy (which rules, which counter slot a rule owns) stays in TypeScript
// (src/io/xdp.ts); this program only reads the maps it is given.
//
// Scope: IPv4 packets whose destination is cfg.dst (0 = any). Everything else (ARP, IPv6, other
// hosts' traffic when the program sits on a NIC in front of a TAP router) passes untouched and
// uncounted, so the program can share an interface with the host.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

// Keep in step with native/src/xdp.cc and src/io/xdp.ts.
#define MAX_RULES 1024
#define SLOT_PASS 0        // passed every check
#define SLOT_NOT_ALLOWED 1 // allow list non-empty and the source is outside it
#define SLOT_SYN_RATE 2    // TCP SYN over the per-source bucket
#define SLOT_FIRST_DENY 3  // deny rule i counts in slot SLOT_FIRST_DENY + i
#define SLOTS (SLOT_FIRST_DENY + MAX_RULES)
#define MAX_SOURCES 65536 // same default as PacketFilter.maxTrackedSources

struct lpm_v4 {
  __u32 prefixlen;
  __u32 addr; // network byte order, as in the IPv4 header
};

struct config {
  __u32 dst;         // network byte order; 0 = every IPv4 destination
  __u32 allow_on;    // 1 when the allow list is non-empty
  __u64 syn_interval_ns;  // 1e9 / rate; 0 = no SYN limit
  __u64 syn_tolerance_ns; // (burst - 1) * interval: how far ahead of now a source may run
};

struct counter {
  __u64 packets;
  __u64 bytes;
};

// deny: value = counter slot of the rule (SLOT_FIRST_DENY + i)
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, MAX_RULES);
  __uint(map_flags, BPF_F_NO_PREALLOC); // required for LPM tries
  __type(key, struct lpm_v4);
  __type(value, __u32);
} deny_v4 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, MAX_RULES);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct lpm_v4);
  __type(value, __u32);
} allow_v4 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct config);
} config SEC(".maps");

// Source -> theoretical arrival time (GCRA form of a token bucket with depth `burst`): integer
// only, one u64 per source, and the LRU evicts the least recently active source like
// PacketFilter's table does.
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, MAX_SOURCES);
  __type(key, __u32);
  __type(value, __u64);
} syn_tat SEC(".maps");

#ifdef SLUICE_XSK
// Built a second time with -DSLUICE_XSK (filter_xsk.bpf.o) for DPDK's net_af_xdp: given to the
// PMD as its xdp_prog, the program steers what it passes into the AF_XDP socket of the receive
// queue (the PMD fills xsks_map), and the kernel stack gets what has no socket.
struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u32);
} xsks_map SEC(".maps");
#define PASS(ctx) bpf_redirect_map(&xsks_map, (ctx)->rx_queue_index, XDP_PASS)
#else
#define PASS(ctx) XDP_PASS
#endif

// Per-CPU so the hot path never contends on a cache line; the loader sums the CPUs.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, SLOTS);
  __type(key, __u32);
  __type(value, struct counter);
} counters SEC(".maps");

static __always_inline int count(__u32 slot, __u64 len, int verdict) {
  struct counter *c = bpf_map_lookup_elem(&counters, &slot);
  if (c) {
    c->packets++;
    c->bytes += len;
  }
  return verdict;
}

// GCRA: allow when now >= tat - tolerance, then tat = max(tat, now) + interval. Two CPUs racing
// on one source may both pass; the bound is then off by one SYN, which is acceptable for a flood
// limit (the software filter behind it keeps the exact count).
static __always_inline int syn_allowed(__u32 src, const struct config *cfg) {
  __u64 now = bpf_ktime_get_ns();
  __u64 *tat = bpf_map_lookup_elem(&syn_tat, &src);
  if (!tat) {
    __u64 next = now + cfg->syn_interval_ns;
    bpf_map_update_elem(&syn_tat, &src, &next, BPF_ANY);
    return 1;
  }
  __u64 t = *tat;
  if (t > now + cfg->syn_tolerance_ns) return 0;
  *tat = (t > now ? t : now) + cfg->syn_interval_ns;
  return 1;
}

SEC("xdp")
int sluice_filter(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  __u64 len = end - data;

  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end) return PASS(ctx);
  if (eth->h_proto != bpf_htons(ETH_P_IP)) return PASS(ctx);
  struct iphdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > end) return PASS(ctx);
  // A malformed header is the stack's business (it counts bad_ip_header); pass it on.
  if (ip->ihl < 5) return PASS(ctx);

  __u32 zero = 0;
  struct config *cfg = bpf_map_lookup_elem(&config, &zero);
  if (!cfg) return PASS(ctx);
  if (cfg->dst != 0 && ip->daddr != cfg->dst) return PASS(ctx);

  struct lpm_v4 key = {.prefixlen = 32, .addr = ip->saddr};
  __u32 *slot = bpf_map_lookup_elem(&deny_v4, &key);
  if (slot) {
    __u32 s = *slot;
    if (s >= SLOTS) s = SLOT_NOT_ALLOWED; // cannot happen with the loader's slots; keeps a count
    return count(s, len, XDP_DROP);
  }
  if (cfg->allow_on && !bpf_map_lookup_elem(&allow_v4, &key)) return count(SLOT_NOT_ALLOWED, len, XDP_DROP);

  // Only the first fragment carries the TCP header.
  if (cfg->syn_interval_ns != 0 && ip->protocol == IPPROTO_TCP &&
      (ip->frag_off & bpf_htons(0x1fff)) == 0) {
    struct tcphdr *tcp = (void *)ip + ip->ihl * 4;
    if ((void *)(tcp + 1) <= end && tcp->syn && !tcp->ack && !syn_allowed(ip->saddr, cfg))
      return count(SLOT_SYN_RATE, len, XDP_DROP);
  }
  return count(SLOT_PASS, len, PASS(ctx));
}

// The kernel checks this string for GPL-only helpers; none is used, but BPF programs are
// conventionally dual-licensed so they can later call them.
char LICENSE[] SEC("license") = "Dual BSD/GPL";
