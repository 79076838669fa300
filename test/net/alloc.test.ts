// The per-frame paths allocate nothing: 3 million frames through input() and output() leave no
// allocation under Sluice's code in V8's sampling heap profile. Addresses are in 198.18.0.0/15 on
// purpose: as uint32 they are >= 2^31, which V8 boxes as heap numbers whenever they cross a call
// that is not inlined, so the stack carries them as int32 on its per-frame paths (see ipSrcI32)
// and this test keeps it honest. Times are whole milliseconds, as the poll loop hands them over
// (src/io/poll.ts): a fractional `now` is boxed the same way, once per frame, whenever V8 does not
// inline the transport's input() (this test's first version counted scavenges and caught that
// only when the JIT happened not to inline it).
import t from 'tap';
import { Session } from 'node:inspector/promises';
import { createFrameBatch } from '../../src/io/port.js';
import { NetStack, type TransportProtocol } from '../../src/net/stack.js';
import type { SegmentSink } from '../../src/net/tcp/sink.js';
import { writeEthernet, ETHERTYPE_IPV4 } from '../../src/net/wire/ethernet.js';
import { writeIpv4Header, parseIpv4 } from '../../src/net/wire/ipv4.js';
import { writeIcmpEcho, ICMP_ECHO_REQUEST } from '../../src/net/wire/icmp.js';
import { checksum, pseudoHeaderSum } from '../../src/net/wire/checksum.js';

/** The parts of V8's sampling heap profile read here (HeapProfiler.SamplingHeapProfile). */
interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}
interface SamplingProfile {
  head: SamplingNode;
}

const A = parseIpv4('198.18.0.1');
const B = parseIpv4('198.18.0.2');

/** Receives segments and answers each with a 20-byte ACK through the sink. */
class AckingTransport implements TransportProtocol {
  pending = 0;
  got = 0;
  input(): void {
    this.got++;
    this.pending++;
  }
  output(_now: number, sink: SegmentSink): void {
    while (this.pending > 0) {
      const at = sink.reserve(A);
      if (at < 0) return;
      const b = sink.buf;
      b.fill(0, at, at + 20);
      b[at + 12] = 0x50;
      b[at + 13] = 0x10;
      const ck = checksum(b, at, 20, pseudoHeaderSum(B, A, 6, 20));
      b[at + 16] = ck >>> 8;
      b[at + 17] = ck;
      sink.commit(B, A, 20);
      this.pending--;
    }
  }
  nextDeadline(): number {
    return this.pending > 0 ? 0 : Infinity;
  }
}

t.test('input/output of echo and TCP frames allocate nothing per frame', async (t) => {
  const stack = new NetStack({
    mac: new Uint8Array([2, 0, 0, 0, 0, 2]),
    ip: '198.18.0.2',
    prefixLength: 24,
    mtu: 1500,
    icmp: { echoRatePerSec: 1e9, echoBurst: 1e9 },
    arp: { reachableMs: 1e9 }, // the test clock runs 600 s and nobody answers a re-probe here
    filter: { allow: ['198.18.0.0/15'], deny: ['198.19.9.0/24'], maxConnectionsPerSource: 100, synRatePerSource: 1e6, synBurstPerSource: 1e6 },
  });
  stack.arp.learn(A, 0x020000000001, 0, true);
  const tcp = new AckingTransport();
  stack.attachTransport(tcp);
  const echo = new Uint8Array(98);
  writeEthernet(echo, 0, 0x020000000002, 0x020000000001, ETHERTYPE_IPV4);
  writeIcmpEcho(echo, 34, 64, ICMP_ECHO_REQUEST, 1, 1);
  writeIpv4Header(echo, 14, 84, 1, 0x4000, 64, 1, A, B);
  const seg = new Uint8Array(14 + 40 + 100);
  writeEthernet(seg, 0, 0x020000000002, 0x020000000001, ETHERTYPE_IPV4);
  seg[46] = 0x50;
  seg[47] = 0x10;
  writeIpv4Header(seg, 14, 140, 1, 0x4000, 64, 6, A, B);
  const batch = createFrameBatch(32, 2048);
  let out = 0;
  const run = (n: number, t0: number) => {
    // Like the poll loop: one whole-millisecond timestamp per burst of 8.
    let now = t0;
    for (let i = 0; i < n; i++) {
      stack.input(echo, 0, echo.length, now);
      stack.input(seg, 0, seg.length, now);
      if ((i & 7) === 7) {
        out += stack.output(batch, now);
        now += 1;
      }
    }
  };
  run(200_000, 0); // warm up: let the JIT settle
  // V8's sampling heap profiler records the JavaScript stack of about one allocation per 64 bytes
  // allocated, collected or not: what was allocated under Sluice's own code (a frame from src/ on
  // the stack) during
  // 1.5M echo + 1.5M TCP frames. A per-frame allocation of even 8 bytes would show as ~24 MB.
  // (Counting scavenges, as this test did first, also counted the test runner's own chatter: one
  // scavenge per round under load, none when idle.)
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', { samplingInterval: 64, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  const started = performance.now();
  for (let r = 0; r < 3; r++) run(500_000, 100_000 * (r + 1));
  const ms = performance.now() - started;
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: SamplingProfile };
  session.disconnect();
  const sites = new Map<string, number>();
  const walk = (n: SamplingNode, ours: string | null): void => {
    const here = n.callFrame.url.includes('/src/') ? `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/src/')[1]}:${n.callFrame.lineNumber + 1}` : null;
    const site = here ?? ours;
    if (site !== null && n.selfSize > 0) sites.set(site, (sites.get(site) ?? 0) + n.selfSize);
    for (const c of n.children) walk(c, site);
  };
  walk(profile.head, null);
  const bytes = [...sites.values()].reduce((a, b) => a + b, 0);
  const frames = 3 * 2 * 500_000;
  t.comment(`${frames.toLocaleString('en')} frames in ${ms.toFixed(0)} ms; sampled allocations under src/: ${bytes} bytes (${(bytes / frames).toFixed(4)} per frame)`);
  const iterations = 200_000 + 3 * 500_000;
  t.equal(stack.stats.accepted.tcp, iterations);
  t.equal(stack.stats.accepted.icmp, iterations);
  t.equal(out, 2 * iterations, 'every echo reply and ACK went out');
  t.equal(stack.stats.txDropped(), 0);
  t.ok(bytes < 256 * 1024, `under 256 KiB allocated by Sluice's code over ${frames.toLocaleString('en')} frames: ${bytes} bytes at ${JSON.stringify([...sites].sort((a, b) => b[1] - a[1]).slice(0, 5))}`);
});
