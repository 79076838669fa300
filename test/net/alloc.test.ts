// The per-frame paths allocate nothing: a million frames through input() and output() must not
// trigger a young-generation GC. Addresses are in 198.18.0.0/15 on purpose: as uint32 they are
// >= 2^31, which V8 boxes as heap numbers whenever they cross a call that is not inlined, so the
// stack carries them as int32 on its per-frame paths (see ipSrcI32) and this test keeps it honest.
import t from 'tap';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createFrameBatch } from '../../src/io/port.js';
import { NetStack, type TransportProtocol } from '../../src/net/stack.js';
import type { SegmentSink } from '../../src/net/tcp/sink.js';
import { writeEthernet, ETHERTYPE_IPV4 } from '../../src/net/wire/ethernet.js';
import { writeIpv4Header, parseIpv4 } from '../../src/net/wire/ipv4.js';
import { writeIcmpEcho, ICMP_ECHO_REQUEST } from '../../src/net/wire/icmp.js';
import { checksum, pseudoHeaderSum } from '../../src/net/wire/checksum.js';

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
    // Like the poll loop: one fractional performance.now()-style timestamp per burst of 8.
    let now = t0 + 0.125;
    for (let i = 0; i < n; i++) {
      stack.input(echo, 0, echo.length, now);
      stack.input(seg, 0, seg.length, now);
      if ((i & 7) === 7) {
        out += stack.output(batch, now);
        now += 0.731;
      }
    }
  };
  run(200_000, 0); // warm up: let the JIT settle
  // Start from an empty young generation, so a scavenge during the run means the run allocated
  // (about a semispace, i.e. several bytes per frame), not that setup left it nearly full.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  // A per-frame allocation scavenges in every round; a stray GC from the test harness or the
  // runtime (seen once in CI) hits one round at most. So: three rounds, the quietest must be clean.
  let minor = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (((e as unknown as { detail?: { kind?: number } }).detail)?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
  });
  obs.observe({ entryTypes: ['gc'] });
  const rounds: { minor: number; ms: number }[] = [];
  for (let r = 0; r < 3; r++) {
    gc();
    await new Promise((res) => setTimeout(res, 20));
    minor = 0;
    const started = performance.now();
    run(500_000, 100_000 * (r + 1));
    const ms = performance.now() - started;
    await new Promise((res) => setTimeout(res, 50));
    rounds.push({ minor, ms });
  }
  obs.disconnect();
  for (const { minor: m, ms } of rounds) {
    t.comment(`1,000,000 frames in ${ms.toFixed(0)} ms (${ms.toFixed(0)} ns/frame), ${m} minor GCs`);
  }
  const iterations = 200_000 + 3 * 500_000;
  t.equal(stack.stats.accepted.tcp, iterations);
  t.equal(stack.stats.accepted.icmp, iterations);
  t.equal(out, 2 * iterations, 'every echo reply and ACK went out');
  t.equal(stack.stats.txDropped(), 0);
  t.equal(Math.min(...rounds.map((x) => x.minor)), 0, `a round of 1M frames without any young-generation GC (per round: ${rounds.map((x) => x.minor).join(', ')})`);
});
