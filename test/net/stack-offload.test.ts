// NetStack + TcpLayer with a port's checksum offload (src/io/port.ts PortOffloads): rx verdicts
// stand in for the stack's own IPv4 and TCP checks with the same drop reasons and counters, a
// reassembled datagram is always checked here, and with tx offload TCP frames leave their IPv4
// and TCP checksums to the port (batch.flags) while every other frame (ARP, a datagram parked for
// ARP) leaves complete. The port's side is played by the stack's own fill functions here; the
// native one is checked against them in test/io/checksum-offload.test.ts.

import t from 'tap';
import {
  CHECKSUM_OFFLOADS,
  createFrameBatch,
  NO_OFFLOADS,
  RX_CSUM_BAD,
  RX_CSUM_GOOD,
  RX_L4_SHIFT,
  TX_IP_CSUM,
  TX_TCP_CSUM,
  type FrameBatch,
} from '../../src/io/port.js';
import type { NetStack } from '../../src/net/stack.js';
import { checksum } from '../../src/net/wire/checksum.js';
import { ETHERTYPE_IPV4, writeEthernet } from '../../src/net/wire/ethernet.js';
import { checkIpv4, fillIpv4Checksum, ipHeaderLength, IPV4_FLAG_DF, IPV4_FLAG_MF, parseIpv4, writeIpv4Header } from '../../src/net/wire/ipv4.js';
import { emitHeader, fillChecksum, segmentChecksum, SYN } from '../../src/net/wire/tcp.js';
import { patternSink, tcpHost } from './hosts.js';

const A = parseIpv4('198.18.0.1');
const B = parseIpv4('198.18.0.2');
const MAC_A = 0x020000000001;
const MAC_B = 0x020000000002;
const IP_GOOD = RX_CSUM_GOOD;
const IP_BAD = RX_CSUM_BAD;
const L4_GOOD = RX_CSUM_GOOD << RX_L4_SHIFT;
const L4_BAD = RX_CSUM_BAD << RX_L4_SHIFT;

/** A SYN from A:sport to B:80, both checksums right. */
function syn(sport = 40000): Uint8Array {
  const f = new Uint8Array(54);
  writeEthernet(f, 0, MAC_B, MAC_A, ETHERTYPE_IPV4);
  writeIpv4Header(f, 14, 40, 7, IPV4_FLAG_DF, 64, 6, A, B);
  emitHeader(f, 34, sport, 80, 1000, 0, 20, SYN, 65535);
  fillChecksum(f, 34, 20, A, B);
  return f;
}

function spoilTcp(f: Uint8Array): Uint8Array {
  const g = f.slice();
  g[34 + 16]! ^= 0x5a;
  return g;
}

function spoilIp(f: Uint8Array): Uint8Array {
  const g = f.slice();
  g[14 + 10]! ^= 0x5a;
  return g;
}

t.test('rx verdicts: GOOD is trusted, BAD drops with the reasons and counters of the stack own checks', async (t) => {
  const { net, tcp } = tcpHost('198.18.0.2', 2);
  tcp.listen({ ip: 0, port: 80, backlog: 64, onConnection: () => {} });
  const feed = (f: Uint8Array, flags: number) => net.input(f, 0, f.length, 0, flags);

  feed(syn(40001), 0);
  t.equal(tcp.counters.passiveOpens, 1, 'no verdict: checked here, accepted');
  feed(spoilTcp(syn(40002)), IP_GOOD | L4_GOOD);
  t.equal(tcp.counters.passiveOpens, 2, 'a TCP verdict GOOD is trusted (the port summed it)');
  t.equal(tcp.counters.checksumErrors, 0);

  feed(spoilTcp(syn(40003)), 0);
  t.equal(tcp.counters.checksumErrors, 1, 'no verdict, wrong checksum: caught here');
  feed(syn(40004), IP_GOOD | L4_BAD);
  t.equal(tcp.counters.checksumErrors, 2, 'verdict BAD: the same counter');
  t.equal(tcp.counters.drops.checksum, 2, "and the same drop reason 'checksum'");
  t.equal(tcp.counters.passiveOpens, 2);
  t.equal(net.stats.accepted.tcp, 4, 'handed to TCP as before (TCP counts the checksum drop)');

  feed(spoilIp(syn(40005)), 0);
  t.equal(net.stats.rxDrop.bad_ip_checksum, 1, 'no verdict, wrong IPv4 checksum: caught here');
  feed(syn(40006), IP_BAD);
  t.equal(net.stats.rxDrop.bad_ip_checksum, 2, "IPv4 verdict BAD: 'bad_ip_checksum'");
  feed(spoilIp(syn(40007)), IP_GOOD | L4_GOOD);
  t.equal(net.stats.rxDrop.bad_ip_checksum, 2, 'IPv4 verdict GOOD is trusted');
  t.equal(tcp.counters.passiveOpens, 3);

  // The header checks before the checksum keep their order: a bad length is a bad length.
  const long = syn(40008);
  long[17] = 200;
  feed(long, IP_BAD);
  t.equal(net.stats.rxDrop.bad_ip_length, 1, 'a verdict never hides an earlier header error');
  // A TCP verdict never hides a short header either.
  const short = syn(40009);
  short[34 + 12] = 4 << 4;
  feed(short, IP_GOOD | L4_BAD);
  t.equal(tcp.counters.drops.bad_header, 1);
  t.equal(tcp.counters.checksumErrors, 2);
});

t.test('checkIpv4 takes the verdict in place of summing, after the structural checks', async (t) => {
  const f = syn();
  const wrong = spoilIp(f);
  t.equal(checkIpv4(f, 14, 40), null);
  t.equal(checkIpv4(wrong, 14, 40), 'bad_ip_checksum');
  t.equal(checkIpv4(wrong, 14, 40, RX_CSUM_GOOD), null);
  t.equal(checkIpv4(f, 14, 40, RX_CSUM_BAD), 'bad_ip_checksum');
  t.equal(checkIpv4(f, 14, 19, RX_CSUM_GOOD), 'bad_ip_header');
});

t.test('a reassembled segment is checked here whatever its fragments said', async (t) => {
  const { net, tcp } = tcpHost('198.18.0.2', 2);
  net.arp.learn(A, MAC_A, 0, true);
  tcp.listen({ ip: 0, port: 80, onConnection: () => {} });
  // A 1,000-byte SYN (data on a SYN is legal) in two fragments.
  const seg = new Uint8Array(1000);
  emitHeader(seg, 0, 40001, 80, 5000, 0, 20, SYN, 65535);
  fillChecksum(seg, 0, seg.length, A, B);
  const frags = (s: Uint8Array, id: number) =>
    [
      [0, 512, true],
      [512, 488, false],
    ].map(([start, len, more]) => {
      const f = new Uint8Array(34 + (len as number));
      writeEthernet(f, 0, MAC_B, MAC_A, ETHERTYPE_IPV4);
      writeIpv4Header(f, 14, 20 + (len as number), id, (more ? IPV4_FLAG_MF : 0) | ((start as number) >> 3), 64, 6, A, B);
      f.set(s.subarray(start as number, (start as number) + (len as number)), 34);
      return f;
    });
  const bad = seg.slice();
  bad[700]! ^= 1;
  // Even a port that (wrongly) vouched for the TCP checksum of a fragment is not listened to.
  for (const f of frags(bad, 1)) net.input(f, 0, f.length, 0, IP_GOOD | L4_GOOD);
  t.equal(tcp.counters.checksumErrors, 1, 'the reassembled segment failed the check here');
  for (const f of frags(seg, 2)) net.input(f, 0, f.length, 0, IP_GOOD);
  t.equal(tcp.counters.checksumErrors, 1);
  t.equal(tcp.counters.passiveOpens, 1, 'the intact one opened a connection');
  t.equal(net.stats.reassembly.completed, 2);
});

/** The port's side of tx offload, done with the stack's own fill functions. */
function portFill(batch: FrameBatch, n: number): void {
  for (let i = 0; i < n; i++) {
    const want = batch.flags[i]!;
    if (want === 0) continue;
    const ip = i * batch.slotSize + 14;
    if (want & TX_IP_CSUM) fillIpv4Checksum(batch.data, ip);
    if (want & TX_TCP_CSUM) {
      const hl = ipHeaderLength(batch.data, ip);
      const total = (batch.data[ip + 2]! << 8) | batch.data[ip + 3]!;
      const src = ((batch.data[ip + 12]! << 24) | (batch.data[ip + 13]! << 16) | (batch.data[ip + 14]! << 8) | batch.data[ip + 15]!) >>> 0;
      const dst = ((batch.data[ip + 16]! << 24) | (batch.data[ip + 17]! << 16) | (batch.data[ip + 18]! << 8) | batch.data[ip + 19]!) >>> 0;
      fillChecksum(batch.data, ip + hl, total - hl, src, dst);
    }
  }
}

interface TxSeen {
  flagged: number;
  unflaggedTcp: number;
  blankFields: number;
  completeUnflagged: number;
}

/** Moves frames both ways; `a` has tx offload and its frames pass through portFill unless `skipFill`. */
function run(a: NetStack, b: NetStack, done: () => boolean, seen: TxSeen, skipFill = false, limitMs = 30_000): void {
  const batch = createFrameBatch(64, 2048);
  let now = 0;
  while (!done() && now < limitMs) {
    let moved = 0;
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      batch.flags.fill(0xee); // stale values: output() must set every frame's flags
      const n = from.output(batch, now);
      if (from === a) {
        for (let i = 0; i < n; i++) {
          const o = i * batch.slotSize;
          const tcpFrame = batch.data[o + 12] === 0x08 && batch.data[o + 13] === 0 && batch.data[o + 23] === 6;
          if (batch.flags[i] !== 0) {
            seen.flagged++;
            if (batch.flags[i] === (TX_IP_CSUM | TX_TCP_CSUM) && batch.data[o + 24] === 0 && batch.data[o + 25] === 0 && batch.data[o + 50] === 0 && batch.data[o + 51] === 0) seen.blankFields++;
          } else if (tcpFrame) {
            seen.unflaggedTcp++;
            const total = (batch.data[o + 16]! << 8) | batch.data[o + 17]!;
            if (checksum(batch.data, o + 14, 20) === 0 && segmentChecksum(batch.data, o + 34, total - 20, A, B) === 0) seen.completeUnflagged++;
          }
        }
        if (!skipFill) portFill(batch, n);
      }
      for (let i = 0; i < n; i++) to.input(batch.data, i * batch.slotSize, batch.lengths[i]!, now);
      moved += n;
    }
    if (moved === 0) {
      const next = Math.min(a.nextDeadline(), b.nextDeadline());
      now = next <= now ? now + 1 : Math.min(next, now + 10);
    } else {
      now += 0.1;
    }
  }
}

t.test('tx offload: TCP frames leave both checksums to the port; ARP and parked datagrams leave complete', async (t) => {
  const a = tcpHost('198.18.0.1', 1);
  const b = tcpHost('198.18.0.2', 2);
  a.net.useOffloads(CHECKSUM_OFFLOADS);
  b.net.useOffloads(NO_OFFLOADS);
  const N = 200_000;
  const sink = patternSink(b.tcp, 80, 13);
  const data = new Uint8Array(N).map((_, i) => (i * 13) & 0xff);
  const c = a.tcp.connect({ localIp: A, remoteIp: B, remotePort: 80, now: 0 });
  c.setHandler({ onConnect: () => void c.write(data), onData() {}, onEnd() {}, onDrain() {}, onClose() {} });
  const seen: TxSeen = { flagged: 0, unflaggedTcp: 0, blankFields: 0, completeUnflagged: 0 };
  run(a.net, b.net, () => sink.received === N, seen);
  t.equal(sink.received, N);
  t.ok(sink.intact, 'every byte intact');
  t.equal(b.tcp.counters.checksumErrors, 0, 'every frame the port filled verified at the receiver');
  t.equal(b.net.stats.rxDrop.bad_ip_checksum, 0);
  t.ok(seen.flagged > 100, `${seen.flagged} frames asked the port for their checksums`);
  t.equal(seen.blankFields, seen.flagged, 'and left both fields zero');
  t.equal(seen.unflaggedTcp, 1, 'one TCP frame went out unflagged: the SYN, parked while ARP resolved');
  t.equal(seen.completeUnflagged, 1, 'with both checksums already filled');
  t.ok(a.net.stats.arp.requestsSent >= 1);
});

t.test('tx offload without the port filling: the receiver drops them (the flags matter)', async (t) => {
  const a = tcpHost('198.18.0.1', 1);
  const b = tcpHost('198.18.0.2', 2);
  a.net.useOffloads(CHECKSUM_OFFLOADS);
  b.tcp.listen({ ip: 0, port: 80, onConnection: () => {} });
  a.tcp.connect({ localIp: A, remoteIp: B, remotePort: 80, now: 0 });
  const seen: TxSeen = { flagged: 0, unflaggedTcp: 0, blankFields: 0, completeUnflagged: 0 };
  run(a.net, b.net, () => b.net.stats.rxDrop.bad_ip_checksum > 0, seen, true, 5000);
  t.ok(b.net.stats.rxDrop.bad_ip_checksum > 0, 'an unfilled IPv4 header fails the check');
});
