// Seeded fuzzing of NetStack.input: valid frames of every kind, mutated copies of them and random
// bytes, with time advancing and output() draining between bursts. The stack must never throw,
// its tables must stay inside their limits, and every frame must land in exactly one counter.
import t from 'tap';
import { createFrameBatch } from '../../src/io/port.js';
import { NetStack, type TransportProtocol } from '../../src/net/stack.js';
import type { SegmentSink } from '../../src/net/tcp/sink.js';
import { writeArp, ARP_OP_REPLY, ARP_OP_REQUEST } from '../../src/net/wire/arp.js';
import { writeEthernet, ETHERTYPE_ARP, ETHERTYPE_IPV4, MAC_BROADCAST } from '../../src/net/wire/ethernet.js';
import { writeIpv4Header, IPV4_FLAG_MF, parseIpv4 } from '../../src/net/wire/ipv4.js';
import { writeIcmpEcho, ICMP_ECHO_REQUEST } from '../../src/net/wire/icmp.js';

/** mulberry32: small, fast, good enough to spread test inputs; seeded for reproducibility. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const OUR_MAC = 0x020000000002;
const OUR_IP = parseIpv4('198.18.0.2');

class CountingTransport implements TransportProtocol {
  segments = 0;
  input(_s: number, _d: number, _b: Uint8Array, _o: number, len: number): void {
    if (len < 20) throw new Error('stack delivered a short segment');
    this.segments++;
  }
  output(_now: number, _sink: SegmentSink): void {}
  nextDeadline(): number {
    return Infinity;
  }
}

const SEED = Number(process.env.NET_FUZZ_SEED ?? 0x5eed);
const MAX_FRAMES = 200_000;
const MAX_MS = 5_000;

t.test(`fuzz NetStack.input (seed ${SEED}, ${MAX_FRAMES} frames or ${MAX_MS} ms)`, async (t) => {
  const rnd = prng(SEED);
  const int = (n: number) => Math.floor(rnd() * n);
  const stack = new NetStack({
    mac: new Uint8Array([2, 0, 0, 0, 0, 2]),
    ip: '198.18.0.2',
    prefixLength: 16,
    gateway: '198.18.0.1',
    mtu: 1500,
    arp: { maxEntries: 64, reachableMs: 5000, retryMs: 200, maxRetries: 2 },
    reassembly: { maxDatagrams: 8, maxFragments: 16, timeoutMs: 2000 },
    filter: { allow: [], deny: ['198.18.1.0/24'], maxConnectionsPerSource: 4, synRatePerSource: 50, synBurstPerSource: 5 },
  });
  const tcp = new CountingTransport();
  stack.attachTransport(tcp);
  const batch = createFrameBatch(32, 2048);
  const frame = new Uint8Array(2048);

  // A peer address: mostly a small set (so caches and fragments collide), sometimes anything.
  const peer = () => (rnd() < 0.8 ? (OUR_IP & 0xffff0000) + 1 + int(300) : (int(0x100000000) >>> 0));

  function valid(): number {
    const kind = int(6);
    const src = peer();
    const srcMac = 0x020000000000 + int(1000);
    if (kind === 0) {
      writeEthernet(frame, 0, rnd() < 0.5 ? MAC_BROADCAST : OUR_MAC, srcMac, ETHERTYPE_ARP);
      writeArp(frame, 14, rnd() < 0.7 ? ARP_OP_REQUEST : ARP_OP_REPLY, srcMac, src, rnd() < 0.5 ? OUR_MAC : 0, rnd() < 0.8 ? OUR_IP : peer());
      return 60;
    }
    writeEthernet(frame, 0, OUR_MAC, srcMac, ETHERTYPE_IPV4);
    const id = int(8);
    if (kind === 1) {
      const dl = int(200);
      writeIcmpEcho(frame, 34, 8 + dl, ICMP_ECHO_REQUEST, int(65536), int(65536));
      writeIpv4Header(frame, 14, 28 + dl, id, 0x4000, 64, 1, src, OUR_IP);
      return 14 + 28 + dl;
    }
    if (kind === 2 || kind === 3) {
      const pl = int(600);
      frame.fill(0, 34, 54);
      frame[46] = 5 << 4;
      frame[47] = [0x02, 0x10, 0x12, 0x18, 0x11, 0x04][int(6)];
      writeIpv4Header(frame, 14, 40 + pl, id, 0x4000, 64, 6, src, OUR_IP);
      return 14 + 40 + pl;
    }
    if (kind === 4) {
      // a fragment: offsets on a coarse grid so overlaps, duplicates and completions all happen
      // and few (source, id) keys so datagrams actually fill up
      const start = int(4) * 64 + (rnd() < 0.1 ? 32 : 0);
      const more = rnd() < 0.75;
      const len = more ? 64 : 1 + int(64);
      const fsrc = (OUR_IP & 0xffff0000) + 1 + int(3);
      writeIpv4Header(frame, 14, 20 + len, int(3), (more ? IPV4_FLAG_MF : 0) | (start >> 3), 64, rnd() < 0.5 ? 6 : 1, fsrc, OUR_IP);
      return 14 + 20 + len;
    }
    writeIpv4Header(frame, 14, 20 + 16, id, 0, 64, 17 + int(100), src, OUR_IP);
    return 14 + 36;
  }

  function mutate(len: number): number {
    const flips = 1 + int(4);
    for (let i = 0; i < flips; i++) frame[int(Math.min(len, 64))] = int(256);
    if (rnd() < 0.2) return int(len + 1); // truncate
    if (rnd() < 0.1) {
      const extra = int(100);
      for (let i = 0; i < extra; i++) frame[len + i] = int(256);
      return len + extra;
    }
    return len;
  }

  const started = Date.now();
  let fed = 0;
  let now = 0;
  let maxArp = 0;
  let maxReasm = 0;
  let maxPending = 0;
  while (fed < MAX_FRAMES && Date.now() - started < MAX_MS) {
    for (let k = 0; k < 64; k++) {
      const r = rnd();
      let len: number;
      if (r < 0.45) len = valid();
      else if (r < 0.9) len = mutate(valid());
      else {
        len = int(200);
        for (let i = 0; i < len; i++) frame[i] = int(256);
      }
      stack.input(frame, 0, len, now);
      fed++;
    }
    now += int(50);
    if (rnd() < 0.5) {
      stack.filter.connectionOpened(peer());
      stack.filter.connectionClosed(peer());
    }
    while (stack.output(batch, now) === batch.capacity);
    maxArp = Math.max(maxArp, stack.arp.size);
    maxReasm = Math.max(maxReasm, stack.reassembler.active);
    maxPending = Math.max(maxPending, stack.pending.size);
  }
  const s = stack.stats;
  t.ok(fed >= 10_000, `fed ${fed} frames`);
  t.equal(s.framesIn, fed);
  t.equal(s.acceptedTotal() + s.rxDropped(), fed, 'sum of drop counters + accepted frames equals frames fed');
  t.ok(maxArp <= 64, `ARP table within limit (max ${maxArp})`);
  t.ok(maxReasm <= 8, `reassembly within limit (max ${maxReasm})`);
  t.ok(maxPending <= stack.pending.slots, `pending queue within limit (max ${maxPending})`);
  t.ok(stack.reassembler.allocatedBytes <= 8 * (65535 + 60));
  t.ok(stack.filter.trackedSources <= stack.filter.maxTrackedSources);
  t.equal(s.accepted.tcp, tcp.segments);
  // Every path was exercised (otherwise the fuzzer is not fuzzing what we think).
  for (const k of ['arp', 'icmp', 'tcp', 'fragment'] as const) t.ok(s.accepted[k] > 0, `accepted ${k}: ${s.accepted[k]}`);
  for (const k of ['short_frame', 'bad_ip_checksum', 'bad_ip_header', 'bad_ip_length', 'not_for_us', 'fragment_overlap', 'filter_deny', 'unknown_protocol', 'bad_arp'] as const) {
    t.ok(s.rxDrop[k] > 0, `drop ${k}: ${s.rxDrop[k]}`);
  }
  t.ok(s.reassembly.completed > 0, `reassembled ${s.reassembly.completed}`);
  t.ok(s.reassembly.timedOut > 0, `timed out ${s.reassembly.timedOut}`);
  t.comment(JSON.stringify({ fed, ms: Date.now() - started, accepted: s.accepted, rxDrop: s.rxDrop, txDrop: s.txDrop }));
});
