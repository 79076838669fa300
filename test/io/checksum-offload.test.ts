// The native bursts' checksum offload (native/src/checksum.cc) against the stack's JavaScript
// checksums, through the addon's device-free entries csumVerifyBurst / csumFillBurst (the same
// code tapRxBurst/dpdkRxBurst and tapTxBurst/dpdkTxBurst run per frame): byte fixtures captured
// from Linux (IPv4 options, odd TCP lengths), edge cases (fragments, other protocols, truncated
// frames, Ethernet padding, the two encodings of a zero checksum) and a seeded fuzz. Frames sit
// in slots of an odd size, so they start at every alignment.

import t, { type Test } from 'tap';
import { createMemoryWire } from '../../src/io/memory.js';
import { loadNative } from '../../src/io/native.js';
import { PortPump } from '../../src/io/poll.js';
import {
  createFrameBatch,
  RX_CSUM_BAD,
  RX_CSUM_GOOD,
  RX_CSUM_NONE,
  RX_L4_SHIFT,
  TX_IP_CSUM,
  TX_TCP_CSUM,
  type FrameBatch,
  type PacketPort,
} from '../../src/io/port.js';
import { Rng } from '../../src/io/rng.js';
import { simulate } from '../../src/io/simulate.js';
import { OffloadPort, ThrottledPort } from './processors.js';
import { checksum } from '../../src/net/wire/checksum.js';
import { fillIpv4Checksum, ipDst, ipHeaderLength, ipIsFragment, ipProtocol, ipSrc, ipTotalLength } from '../../src/net/wire/ipv4.js';
import { fillChecksum, segmentChecksum } from '../../src/net/wire/tcp.js';
import { fixture } from '../net/fixtures.js';
import { patternSink, patternSource, tcpHost } from '../net/hosts.js';

/** Loaded per use: a missing build fails each test with SLUICE_NATIVE_MISSING and the fix. */
const addon = () => loadNative();
const SLOT = 2047;
const GOOD = RX_CSUM_GOOD | (RX_CSUM_GOOD << RX_L4_SHIFT);
const IP_ONLY = RX_CSUM_GOOD;

/** The verdicts the stack's own checks would give (checkIpv4's checksum, TcpLayer's), same rules. */
function jsVerdicts(f: Uint8Array, off: number, len: number): number {
  if (len < 34 || f[off + 12] !== 0x08 || f[off + 13] !== 0x00) return RX_CSUM_NONE;
  const ip = off + 14;
  const hl = ipHeaderLength(f, ip);
  if (f[ip]! >>> 4 !== 4 || hl < 20 || hl > len - 14) return RX_CSUM_NONE;
  if (checksum(f, ip, hl) !== 0) return RX_CSUM_BAD;
  const total = ipTotalLength(f, ip);
  if (total < hl || total > len - 14 || ipIsFragment(f, ip) || ipProtocol(f, ip) !== 6 || total - hl < 20) return RX_CSUM_GOOD;
  const l4 = segmentChecksum(f, ip + hl, total - hl, ipSrc(f, ip), ipDst(f, ip)) === 0 ? RX_CSUM_GOOD : RX_CSUM_BAD;
  return RX_CSUM_GOOD | (l4 << RX_L4_SHIFT);
}

/** What the port's fill must leave, computed with the stack's functions. */
function jsFill(f: Uint8Array, off: number, len: number, want: number): void {
  if (len < 34 || f[off + 12] !== 0x08 || f[off + 13] !== 0x00) return;
  const ip = off + 14;
  const hl = ipHeaderLength(f, ip);
  if (f[ip]! >>> 4 !== 4 || hl < 20 || hl > len - 14) return;
  if (want & TX_IP_CSUM) fillIpv4Checksum(f, ip);
  const total = ipTotalLength(f, ip);
  if (!(want & TX_TCP_CSUM) || total < hl || total > len - 14 || ipIsFragment(f, ip) || ipProtocol(f, ip) !== 6 || total - hl < 20) return;
  fillChecksum(f, ip + hl, total - hl, ipSrc(f, ip), ipDst(f, ip));
}

function load(batch: FrameBatch, frames: Uint8Array[]): void {
  batch.data.fill(0xa5);
  frames.forEach((f, i) => {
    batch.data.set(f, i * batch.slotSize);
    batch.lengths[i] = f.length;
  });
}

function verify(frames: Uint8Array[]): number[] {
  const b = createFrameBatch(Math.max(1, frames.length), SLOT);
  load(b, frames);
  b.flags.fill(0xff);
  t.equal(addon().csumVerifyBurst(b.data, b.lengths, b.slotSize, frames.length, undefined, b.flags), frames.length);
  return Array.from(b.flags.subarray(0, frames.length));
}

/** Fills with the addon and with JavaScript; returns both slot images. */
function fill(frames: Uint8Array[], want: number): { native: Uint8Array; js: Uint8Array } {
  const b = createFrameBatch(Math.max(1, frames.length), SLOT);
  load(b, frames);
  const js = b.data.slice();
  frames.forEach((f, i) => jsFill(js, i * SLOT, f.length, want));
  b.flags.fill(want);
  addon().csumFillBurst(b.data, b.lengths, frames.length, b.slotSize, undefined, b.flags);
  return { native: b.data, js };
}

const NAMES = ['tcp-syn-ipopts.hex', 'tcp-synack.hex', 'tcp-ack.hex', 'tcp-data-5-ipopts.hex', 'tcp-data-1001-ipopts.hex'];
const captured = NAMES.map((n) => fixture(n));

function withL4Checksum(f: Uint8Array, v: number): Uint8Array {
  const g = f.slice();
  const o = 14 + ipHeaderLength(g, 14) + 16;
  g[o] = v >>> 8;
  g[o + 1] = v & 0xff;
  return g;
}

function flip(f: Uint8Array, byte: number, bit = 0): Uint8Array {
  const g = f.slice();
  g[byte]! ^= 1 << bit;
  return g;
}

t.test('Linux-made frames (IPv4 options, odd TCP lengths) verify good, like the stack says', async (t) => {
  for (const f of captured) t.equal(jsVerdicts(f, 0, f.length), GOOD, 'the fixture is valid for the stack');
  t.same(verify(captured), captured.map(() => GOOD));
  // One slot frame at a time too: start addresses of every parity across the slots above.
  for (let i = 0; i < captured.length; i++) t.same(verify([captured[i]!]), [GOOD], NAMES[i]);
});

t.test('a flipped bit anywhere is caught by the right checksum', async (t) => {
  const f = captured[4]!; // IHL 6, 1001 payload bytes
  const frames: Uint8Array[] = [];
  const want: number[] = [];
  for (let byte = 14; byte < f.length; byte += 7) {
    const g = flip(f, byte, byte % 8);
    frames.push(g);
    want.push(jsVerdicts(g, 0, g.length));
  }
  const got = verify(frames);
  t.same(got, want, 'native verdicts equal the stack checks');
  t.ok(got.includes(RX_CSUM_BAD), 'header bits: IP bad (TCP not looked at)');
  t.ok(got.includes(RX_CSUM_GOOD | (RX_CSUM_BAD << RX_L4_SHIFT)), 'payload bits: IP good, TCP bad');
  // The odd last byte is summed (as its high-order half word).
  t.same(verify([flip(f, f.length - 1, 7)]), [RX_CSUM_GOOD | (RX_CSUM_BAD << RX_L4_SHIFT)], 'the odd trailing byte counts');
});

t.test('not checked: fragments, other protocols, non-IPv4, unsound or truncated headers', async (t) => {
  const f = captured[3]!; // 75 bytes, IHL 6
  const patch = (edit: (g: Uint8Array) => void, fixIp = true): Uint8Array => {
    const g = f.slice();
    edit(g);
    if (fixIp) fillIpv4Checksum(g, 14);
    return g;
  };
  const cases: [string, Uint8Array, number][] = [
    ['MF set (first fragment)', patch((g) => (g[20] = 0x20)), IP_ONLY],
    ['fragment offset 8 (a later fragment)', patch((g) => (g[21] = 1)), IP_ONLY],
    ['highest offset bits', patch((g) => (g[20] = 0x1f)), IP_ONLY],
    ['DF alone is not a fragment', patch((g) => (g[20] = 0x40)), GOOD],
    ['UDP', patch((g) => (g[23] = 17)), IP_ONLY],
    ['ICMP', patch((g) => (g[23] = 1)), IP_ONLY],
    ['total length beyond the frame', patch((g) => (g[17] = 0x3e)), IP_ONLY],
    ['total length below the header', patch((g) => ((g[16] = 0), (g[17] = 20))), IP_ONLY],
    ['TCP shorter than its header (19 bytes)', patch((g) => (g[17] = 24 + 19)), IP_ONLY],
    ['IP bad: TCP never looked at', patch((g) => (g[22] = 1), false), RX_CSUM_BAD],
    ['IPv6 EtherType', patch((g) => ((g[12] = 0x86), (g[13] = 0xdd)), false), RX_CSUM_NONE],
    ['802.1Q tag', patch((g) => ((g[12] = 0x81), (g[13] = 0x00)), false), RX_CSUM_NONE],
    ['version 6 in the header', patch((g) => (g[14] = 0x66)), RX_CSUM_NONE],
    ['IHL 4', patch((g) => (g[14] = 0x44), false), RX_CSUM_NONE],
    ['IHL 15: header beyond the frame', patch((g) => (g[14] = 0x4f), false).slice(0, 70), RX_CSUM_NONE],
    ['frame cut inside the IPv4 header', f.slice(0, 33), RX_CSUM_NONE],
    ['frame cut inside the TCP payload', f.slice(0, 70), IP_ONLY],
    ['Ethernet header only', f.slice(0, 14), RX_CSUM_NONE],
    ['empty frame', new Uint8Array(0), RX_CSUM_NONE],
  ];
  const got = verify(cases.map((c) => c[1]));
  cases.forEach(([name, g, want], i) => {
    t.equal(got[i], want, name);
    t.equal(jsVerdicts(g, 0, g.length), want, `${name}: the same as the stack's rules`);
  });
});

t.test('Ethernet padding after the datagram is not summed', async (t) => {
  const ack = captured[2]!; // 66 bytes: short TCP, as a minimum-size frame would carry padding
  const padded = new Uint8Array(ack.length + 11);
  padded.set(ack);
  padded.fill(0x77, ack.length);
  t.same(verify([padded]), [GOOD]);
});

t.test('a zero checksum: 0x0000 is what both fill, and 0x0000 and 0xffff both verify', async (t) => {
  // Choose the last two payload bytes so the segment sums to 0xffff, i.e. its checksum is 0.
  const f = captured[4]!.slice(0, captured[4]!.length - 1); // even: drop the odd byte
  f[17] = (f.length - 14) & 0xff; // total length - 1
  f[16] = (f.length - 14) >>> 8;
  fillIpv4Checksum(f, 14);
  const tcp = 14 + 24;
  const tl = f.length - tcp;
  f[f.length - 2] = 0;
  f[f.length - 1] = 0;
  fillChecksum(f, tcp, tl, ipSrc(f, 14), ipDst(f, 14));
  const c = (f[tcp + 16]! << 8) | f[tcp + 17]!;
  f[f.length - 2] = c >>> 8;
  f[f.length - 1] = c & 0xff;
  fillChecksum(f, tcp, tl, ipSrc(f, 14), ipDst(f, 14));
  t.equal((f[tcp + 16]! << 8) | f[tcp + 17]!, 0, 'the JavaScript fill gives 0x0000');
  const { native } = fill([withL4Checksum(f, 0x1234)], TX_TCP_CSUM);
  t.equal((native[tcp + 16]! << 8) | native[tcp + 17]!, 0, 'the native fill gives 0x0000 too (TCP has no "no checksum" value)');
  t.same(verify([withL4Checksum(f, 0x0000), withL4Checksum(f, 0xffff)]), [GOOD, GOOD], 'both zeros verify (RFC 1624 3)');
  t.equal(jsVerdicts(withL4Checksum(f, 0xffff), 0, f.length), GOOD, 'as they do in the stack');
  t.same(verify([withL4Checksum(f, 0x0001)]), [RX_CSUM_GOOD | (RX_CSUM_BAD << RX_L4_SHIFT)]);
});

t.test('fill: what the stack would have written, only where asked, never past the frame', async (t) => {
  const blank = captured.map((f) => {
    const g = withL4Checksum(f, 0);
    g[24] = 0;
    g[25] = 0;
    return g;
  });
  const both = fill(blank, TX_IP_CSUM | TX_TCP_CSUM);
  t.same(both.native, both.js, 'IPv4 and TCP filled as fillIpv4Checksum + fillChecksum do');
  for (let i = 0; i < captured.length; i++) {
    t.same(both.native.subarray(i * SLOT, i * SLOT + captured[i]!.length), captured[i], `${NAMES[i]}: the kernel's own bytes again`);
  }
  const tcpOnly = fill(blank, TX_TCP_CSUM);
  t.same(tcpOnly.native, tcpOnly.js, 'TCP only: the IPv4 field stays 0');
  t.equal(tcpOnly.native[24], 0);
  const ipOnly = fill(blank, TX_IP_CSUM);
  t.same(ipOnly.native, ipOnly.js, 'IPv4 only');
  const none = fill(blank, 0);
  t.same(none.native, none.js, 'flags 0: untouched');

  // Asked, but nothing to fill: a fragment, UDP, a truncated frame keep their bytes (but the IPv4
  // header, which is sound, still gets its checksum when asked).
  const frag = blank[3]!.slice();
  frag[20] = 0x20;
  const udp = blank[3]!.slice();
  udp[23] = 17;
  const cut = blank[4]!.slice(0, 200);
  const odd = fill([frag, udp, cut], TX_IP_CSUM | TX_TCP_CSUM);
  t.same(odd.native, odd.js);
  t.equal((odd.native[38 + 16]! << 8) | odd.native[38 + 17]!, 0, 'fragment: TCP field untouched');
  t.equal((odd.native[SLOT + 38 + 16]! << 8) | odd.native[SLOT + 38 + 17]!, 0, 'UDP: untouched');
  t.ok(odd.native.subarray(2 * SLOT + 200, 3 * SLOT).every((b) => b === 0xa5), 'nothing written past a frame');
});

t.test('seeded fuzz: native verdicts and fill equal the stack rules on mangled frames', async (t) => {
  const rng = new Rng(20261125, 0);
  const int = (n: number) => Math.floor(rng.next() * n);
  const frames: Uint8Array[] = [];
  for (let k = 0; k < 4000; k++) {
    const base = captured[int(captured.length)]!;
    let g = base.slice();
    const edits = int(4);
    for (let e = 0; e < edits; e++) {
      const what = int(8);
      if (what === 0) g[14] = 0x40 | (5 + int(11)); // IHL 5..15
      else if (what === 1) ((g[16] = int(256) & 0x07), (g[17] = int(256))); // total length
      else if (what === 2) g[20] = [0, 0x40, 0x20, 0x01, 0x60][int(5)]!; // flags / offset
      else if (what === 3) g[23] = [6, 6, 17, 1, 0][int(5)]!; // protocol
      else if (what === 4) g = g.slice(0, int(g.length + 1)); // truncate
      else if (what === 5 && g.length > 15) g[14 + int(g.length - 14)]! ^= 1 << int(8); // a bit anywhere
      else if (what === 6 && g.length >= 34) fillIpv4Checksum(g, 14); // keep the header sound
      else {
        const p = new Uint8Array(g.length + int(40)); // padding or extra bytes
        p.set(g);
        g = p;
      }
    }
    frames.push(g);
  }
  const b = createFrameBatch(frames.length, SLOT);
  load(b, frames);
  b.flags.fill(0xff);
  addon().csumVerifyBurst(b.data, b.lengths, b.slotSize, frames.length, undefined, b.flags);
  let mismatches = 0;
  const kinds = new Set<number>();
  frames.forEach((g, i) => {
    const want = jsVerdicts(g, 0, g.length);
    kinds.add(want);
    if (b.flags[i] !== want) mismatches++;
  });
  t.equal(mismatches, 0, `verdicts of ${frames.length} frames`);
  t.same([...kinds].sort(), [0, 1, 2, 5, 9], 'the fuzz reached none, IP bad, IP only, good and TCP bad');
  for (const want of [TX_IP_CSUM, TX_TCP_CSUM, TX_IP_CSUM | TX_TCP_CSUM]) {
    const r = fill(frames, want);
    t.ok(Buffer.compare(r.native, r.js) === 0, `fill ${want} of ${frames.length} frames equals the JavaScript fill`);
  }
});

t.test('argument errors are typed and name the argument', async (t) => {
  const b = createFrameBatch(4, 64);
  t.throws(() => addon().csumVerifyBurst(b.data, b.lengths, 64, 4, undefined, new Uint8Array(2)), {
    code: 'SLUICE_PORT_CONFIG',
    message: /batch too small: capacity 4 x slotSize 64 needs 256 data bytes, 4 lengths and flags, got 256, 4 and 2/,
  });
  t.throws(() => addon().csumFillBurst(b.data, b.lengths, 4, 64, undefined, new Uint16Array(4) as unknown as Uint8Array), {
    code: 'SLUICE_PORT_CONFIG',
    message: "argument 'flags' must be a Uint8Array",
  });
  t.throws(() => addon().csumFillBurst(b.data, b.lengths, 4, 64, undefined, undefined as unknown as Uint8Array), {
    code: 'SLUICE_PORT_CONFIG',
    message: "argument 'flags' must be a Uint8Array",
  });
  b.lengths[0] = 65;
  t.equal(addon().csumFillBurst(b.data, b.lengths, 1, 64, undefined, b.flags), 0, 'a frame longer than its slot is not sendable, not read');
});

/** OffloadPort (the addon's fill and verdicts around the memory wire) counting the verdicts it gives. */
class CountingOffloadPort extends OffloadPort {
  verdicts = new Map<number, number>();

  override rxBurst(batch: FrameBatch): number {
    const n = super.rxBurst(batch);
    for (let i = 0; i < n; i++) this.verdicts.set(batch.flags[i]!, (this.verdicts.get(batch.flags[i]!) ?? 0) + 1);
    return n;
  }
}

function transfer(t: Test, corrupt: number, throttle: number) {
  const wire = createMemoryWire({ seed: 77, corrupt, loss: corrupt > 0 ? 0.01 : 0, delayMs: 5, capacity: 4096 });
  const mk = (port: PacketPort, addr: string) => {
    const h = tcpHost(addr, port.mac);
    return { ...h, pump: new PortPump(port, h.net, { burst: 32 }) };
  };
  const pa = new CountingOffloadPort(wire.a, addon());
  const pb = new CountingOffloadPort(wire.b, addon());
  const a = mk(throttle > 0 ? new ThrottledPort(pa, throttle) : pa, '198.18.1.1');
  const b = mk(pb, '198.18.1.2');
  const N = 300 * 1024;
  const sink = patternSink(b.tcp, 9000, 11);
  patternSource(a.tcp, { localIp: 0xc6120101, remoteIp: 0xc6120102, remotePort: 9000, now: 0 }, N, 11);
  const r = simulate(wire, [a.pump, b.pump], { done: () => sink.received === N, untilMs: 600_000 });
  t.equal(r.done, true, `stopped: ${r.stop} at ${r.now.toFixed(0)} simulated ms`);
  t.equal(sink.received, N);
  t.ok(sink.intact, 'bytes intact and in order');
  return { wire, a, b, pa, pb };
}

t.test('a TCP transfer with native offload on both ends, through a wire that flips bits', async (t) => {
  const { wire, b, pb } = transfer(t, 0.05, 0);
  const s = wire.stats();
  t.ok(s.aToB.corrupted > 3, `${s.aToB.corrupted} frames a->b had a flipped bit`);
  const caught = b.tcp.counters.checksumErrors + b.net.stats.rxDrop.bad_ip_checksum;
  t.ok(caught > 0, `the native verdicts caught ${b.tcp.counters.checksumErrors} TCP and ${b.net.stats.rxDrop.bad_ip_checksum} IPv4 checksum errors`);
  t.ok((pb.verdicts.get(RX_CSUM_GOOD | (RX_CSUM_GOOD << RX_L4_SHIFT)) ?? 0) > 200, 'most frames arrived with both verdicts good');
});

t.test('a device taking 5 frames per tx burst: the flags stay with their frames across retries', async (t) => {
  const { b, a } = transfer(t, 0, 5);
  t.equal(b.tcp.counters.checksumErrors, 0, 'no frame went out with a stale or missing fill');
  t.equal(b.net.stats.rxDrop.bad_ip_checksum, 0);
  t.equal(a.tcp.counters.retransmits, 0);
});
