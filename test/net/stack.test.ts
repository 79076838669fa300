import t from 'tap';
import { createFrameBatch, type FrameBatch } from '../../src/io/port.js';
import { NetStack, type NetStackOptions, type TransportProtocol } from '../../src/net/stack.js';
import type { SegmentSink } from '../../src/net/tcp/sink.js';
import { SluiceError } from '../../src/errors.js';
import { checksum, pseudoHeaderSum } from '../../src/net/wire/checksum.js';
import { ARP_OP_REPLY, ARP_OP_REQUEST, arpOperation, arpTargetIp, writeArp } from '../../src/net/wire/arp.js';
import { dstMac, etherType, ETHERTYPE_ARP, ETHERTYPE_IPV4, MAC_BROADCAST, writeEthernet } from '../../src/net/wire/ethernet.js';
import {
  checkIpv4,
  ipDontFragment,
  ipDst,
  ipProtocol,
  ipSrc,
  ipTotalLength,
  ipTtl,
  IPV4_FLAG_MF,
  parseIpv4,
  writeIpv4Header,
} from '../../src/net/wire/ipv4.js';
import { ICMP_DEST_UNREACHABLE, ICMP_ECHO_REPLY, icmpCode, icmpType } from '../../src/net/wire/icmp.js';
import { fixture } from './fixtures.js';
import { describeFrame } from '../../src/net/wire/describe.js';

const MAC_A = new Uint8Array([2, 0, 0, 0, 0, 1]);
const MAC_B = new Uint8Array([2, 0, 0, 0, 0, 2]);
const A = parseIpv4('198.18.0.1');
const B = parseIpv4('198.18.0.2');

function stackA(over: Partial<NetStackOptions> = {}): NetStack {
  return new NetStack({ mac: MAC_A, ip: '198.18.0.1', prefixLength: 24, mtu: 1500, ...over });
}
function stackB(over: Partial<NetStackOptions> = {}): NetStack {
  return new NetStack({ mac: MAC_B, ip: '198.18.0.2', prefixLength: 24, mtu: 1500, ...over });
}

/** Frames of one output() as copies, for inspection. */
function drain(s: NetStack, batch: FrameBatch, now: number): Uint8Array[] {
  const n = s.output(batch, now);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) out.push(batch.data.slice(i * batch.slotSize, i * batch.slotSize + batch.lengths[i]));
  return out;
}

/** Move frames both ways until both stacks are quiet; returns frames moved. */
function pump(a: NetStack, b: NetStack, now: number, rounds = 10): number {
  const batch = createFrameBatch(32, 2048);
  let moved = 0;
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const k = from.output(batch, now);
      for (let i = 0; i < k; i++) to.input(batch.data, i * batch.slotSize, batch.lengths[i], now);
      n += k;
    }
    moved += n;
    if (n === 0) break;
  }
  return moved;
}

function accounted(s: NetStack): boolean {
  return s.stats.acceptedTotal() + s.stats.rxDropped() === s.stats.framesIn;
}

t.test('two stacks resolve each other with ARP and ping both ways', async (t) => {
  const a = stackA();
  const b = stackB();
  const replies: string[] = [];
  a.icmp.onEchoReply = (src, id, seq) => replies.push(`a<-${src === B ? 'B' : src} ${id}/${seq}`);
  b.icmp.onEchoReply = (src, id, seq) => replies.push(`b<-${src === A ? 'A' : src} ${id}/${seq}`);
  a.announce();
  t.ok(a.ping('198.18.0.2', 7, 1, 56, 0));
  t.equal(a.nextDeadline(), 0, 'work queued');
  pump(a, b, 0);
  t.same(replies, ['a<-B 7/1']);
  t.equal(a.stats.arp.requestsSent, 1);
  t.equal(b.stats.arp.repliesSent, 1);
  t.equal(a.stats.arp.announcementsSent, 1);
  t.equal(b.arp.peek(A), 0x020000000001, 'B learned A from its request');
  t.equal(a.arp.peek(B), 0x020000000002, 'A learned B from the reply');
  t.ok(b.ping(A, 9, 2, 0, 10));
  pump(a, b, 10);
  t.same(replies, ['a<-B 7/1', 'b<-A 9/2'], 'no second ARP needed');
  t.equal(b.stats.arp.requestsSent, 0);
  t.equal(a.stats.icmp.echoRepliesSent + b.stats.icmp.echoRepliesSent, 2);
  t.ok(accounted(a) && accounted(b), 'every frame accounted');
  t.equal(a.stats.txDropped() + b.stats.txDropped(), 0);
});

t.test('a frame-level echo reply matches the request (fixture in, reply out)', async (t) => {
  const b = stackB();
  const f = fixture('icmp-echo-request.hex');
  b.arp.learn(A, 0x020000000001, 0, true);
  b.input(f, 0, f.length, 0);
  const batch = createFrameBatch(8, 2048);
  const [reply] = drain(b, batch, 0);
  t.equal(dstMac(reply, 0), 0x020000000001);
  t.equal(etherType(reply, 0), ETHERTYPE_IPV4);
  t.equal(checkIpv4(reply, 14, reply.length - 14), null);
  t.equal(ipSrc(reply, 14), B);
  t.equal(ipDst(reply, 14), A);
  t.ok(ipDontFragment(reply, 14));
  t.equal(ipTtl(reply, 14), 64);
  t.equal(icmpType(reply, 34), ICMP_ECHO_REPLY);
  t.same(reply.subarray(38), f.subarray(38), 'id, seq and data echoed');
  t.equal(checksum(reply, 34, ipTotalLength(reply, 14) - 20), 0);
});

t.test('unanswered ARP: parked packets dropped and counted after the retries', async (t) => {
  const a = stackA({ arp: { retryMs: 1000, maxRetries: 3 } });
  t.ok(a.ping(B, 1, 1, 8, 0));
  t.ok(a.ping(B, 1, 2, 8, 0));
  const batch = createFrameBatch(8, 2048);
  let requests = 0;
  for (let now = 0; now <= 5000; now += 250) {
    for (const f of drain(a, batch, now)) {
      t.equal(etherType(f, 0), ETHERTYPE_ARP);
      t.equal(dstMac(f, 0), MAC_BROADCAST);
      t.equal(arpOperation(f, 14), ARP_OP_REQUEST);
      t.equal(arpTargetIp(f, 14), B);
      t.equal(f.length, 60, 'padded to the Ethernet minimum');
      requests++;
    }
  }
  t.equal(requests, 3);
  t.equal(a.stats.txDrop.arp_unresolved, 2);
  t.equal(a.pending.size, 0);
  t.equal(a.arp.size, 0);
  t.equal(a.nextDeadline(), Infinity);
});

t.test('off-link destinations go to the gateway MAC; no gateway means no_route', async (t) => {
  const a = stackA({ gateway: '198.18.0.254' });
  a.arp.learn(parseIpv4('198.18.0.254'), 0x0200000000fe, 0, true);
  t.ok(a.ping('203.0.113.5', 1, 1, 0, 0));
  const [f] = drain(a, createFrameBatch(4, 2048), 0);
  t.equal(dstMac(f, 0), 0x0200000000fe);
  t.equal(ipDst(f, 14), parseIpv4('203.0.113.5'));
  const c = stackA();
  t.notOk(c.ping('203.0.113.5', 1, 1, 0, 0));
  t.equal(c.stats.txDrop.no_route, 1);
});

t.test('options are validated with the field named', async (t) => {
  const bad: [Partial<NetStackOptions>, RegExp][] = [
    [{ mac: new Uint8Array(5) }, /netstack\.mac/],
    [{ mac: new Uint8Array([1, 0, 0, 0, 0, 1]) }, /netstack\.mac: .* unicast/],
    [{ ip: '198.18.0' }, /netstack\.ip: "198\.18\.0" is not a dotted-quad/],
    [{ ip: '127.0.0.1' }, /netstack\.ip/],
    [{ prefixLength: 33 }, /netstack\.prefixLength: 33/],
    [{ gateway: '10.0.0.1' }, /netstack\.gateway: "10\.0\.0\.1" must be another address inside 198\.18\.0\.1\/24/],
    [{ mtu: 67 }, /netstack\.mtu: 67/],
    [{ ttl: 0 }, /netstack\.ttl: 0 must be an integer 1-255/],
    [{ arp: { retryMs: 0 } }, /netstack\.arp\.retryMs: 0 must be a positive number/],
    [{ arp: { maxEntries: 2.5 } }, /netstack\.arp\.maxEntries: 2\.5 must be a positive integer/],
    [{ reassembly: { maxDatagramBytes: 100 } }, /netstack\.reassembly\.maxDatagramBytes: 100 must be an integer 576-65535/],
    [{ reassembly: { timeoutMs: -1 } }, /netstack\.reassembly\.timeoutMs/],
    [{ pendingPackets: 0 }, /netstack\.pendingPackets: 0/],
    [{ pendingPerHop: 1.5 }, /netstack\.pendingPerHop: 1\.5/],
    [{ filter: { allow: ['1.2.3.4/99'], deny: [], maxConnectionsPerSource: 0, synRatePerSource: 0, synBurstPerSource: 0 } }, /netstack\.filter\.allow\[0\]/],
  ];
  for (const [o, re] of bad) {
    try {
      stackA(o);
      t.fail(`accepted ${re.source}`);
    } catch (e) {
      t.ok(e instanceof SluiceError && e.code === 'SLUICE_CONFIG_INVALID', 'SLUICE_CONFIG_INVALID');
      t.match((e as Error).message, re);
    }
  }
});

/** A TCP layer stand-in: records what the stack delivers, sends what the test queues. */
class RecordingTransport implements TransportProtocol {
  readonly got: { src: number; dst: number; flags: number; len: number }[] = [];
  readonly toSend: { remote: number; flags: number; payload: number }[] = [];
  deadline = Infinity;
  constructor(private readonly local: number) {}
  input(srcIp: number, dstIp: number, buf: Uint8Array, off: number, len: number): void {
    this.got.push({ src: srcIp, dst: dstIp, flags: buf[off + 13], len });
  }
  output(_now: number, sink: SegmentSink): void {
    while (this.toSend.length > 0) {
      const seg = this.toSend[0];
      const at = sink.reserve(seg.remote);
      if (at < 0) return;
      const len = 20 + seg.payload;
      if (len > sink.maxSegmentBytes) throw new Error('segment too big for sink');
      const b = sink.buf;
      b.fill(0, at, at + len);
      b[at] = 0x1f; // src port 8080
      b[at + 1] = 0x90;
      b[at + 2] = 0xc0; // dst port 49152
      b[at + 12] = 5 << 4;
      b[at + 13] = seg.flags;
      b[at + 14] = 0xff;
      const ck = checksum(b, at, len, pseudoHeaderSum(this.local, seg.remote, 6, len));
      b[at + 16] = ck >> 8;
      b[at + 17] = ck & 0xff;
      sink.commit(this.local, seg.remote, len);
      this.toSend.shift();
    }
  }
  nextDeadline(): number {
    return this.deadline;
  }
}

function tcpFrame(src: number, dst: number, flags: number, payload = 0, dstMacBytes = MAC_B): Uint8Array {
  const len = 20 + payload;
  const f = new Uint8Array(14 + 20 + len);
  writeEthernet(f, 0, 0x020000000002, 0x020000000001, ETHERTYPE_IPV4);
  f.set(dstMacBytes, 0);
  writeIpv4Header(f, 14, 20 + len, 1, 0x4000, 64, 6, src, dst);
  f[34 + 12] = 5 << 4;
  f[34 + 13] = flags;
  return f;
}

t.test('TCP segments reach the transport through the filter; SYNs are gated', async (t) => {
  const b = stackB({ filter: { allow: [], deny: ['198.18.0.66'], maxConnectionsPerSource: 1, synRatePerSource: 1, synBurstPerSource: 2 } });
  const tcp = new RecordingTransport(B);
  b.attachTransport(tcp);
  const feed = (f: Uint8Array, now = 0) => b.input(f, 0, f.length, now);
  feed(tcpFrame(A, B, 0x02)); // SYN
  feed(tcpFrame(A, B, 0x10, 100)); // ACK with data: not a SYN, never rate-limited
  feed(tcpFrame(A, B, 0x12)); // SYN-ACK: answers our connect, not gated
  feed(tcpFrame(A, B, 0x02));
  feed(tcpFrame(A, B, 0x02)); // third SYN in the same instant: over the burst
  t.equal(b.stats.rxDrop.filter_syn_rate, 1);
  b.filter.connectionOpened(A);
  feed(tcpFrame(A, B, 0x02, 0), 5000);
  t.equal(b.stats.rxDrop.filter_conn_limit, 1);
  feed(tcpFrame(parseIpv4('198.18.0.66'), B, 0x10));
  t.equal(b.stats.rxDrop.filter_deny, 1);
  t.same(
    tcp.got.map((g) => [g.src === A, g.flags, g.len]),
    [
      [true, 0x02, 20],
      [true, 0x10, 120],
      [true, 0x12, 20],
      [true, 0x02, 20],
    ],
  );
  t.equal(b.stats.accepted.tcp, 4);
  t.ok(accounted(b));
});

t.test('TCP output: IPv4 + Ethernet written around the segment; ARP first when unresolved', async (t) => {
  const a = stackA();
  const b = stackB();
  const tcpB = new RecordingTransport(B);
  b.attachTransport(tcpB);
  const tcpA = new RecordingTransport(A);
  a.attachTransport(tcpA);
  tcpB.toSend.push({ remote: A, flags: 0x12, payload: 0 }, { remote: A, flags: 0x18, payload: 1000 });
  const batch = createFrameBatch(8, 2048);
  const first = drain(b, batch, 0);
  t.equal(first.length, 0, 'segments parked while A resolves');
  t.equal(b.pending.size, 2);
  t.equal(b.nextDeadline(), 0);
  const req = drain(b, batch, 0);
  t.equal(req.length, 1);
  t.equal(arpOperation(req[0], 14), ARP_OP_REQUEST);
  a.input(req[0], 0, req[0].length, 0);
  const [rep] = drain(a, batch, 0);
  t.equal(arpOperation(rep, 14), ARP_OP_REPLY);
  b.input(rep, 0, rep.length, 1);
  const segs = drain(b, batch, 1);
  t.equal(segs.length, 2);
  for (const s of segs) {
    t.equal(checkIpv4(s, 14, s.length - 14), null);
    t.equal(ipProtocol(s, 14), 6);
    t.ok(ipDontFragment(s, 14));
    const tl = ipTotalLength(s, 14);
    t.equal(checksum(s, 34, tl - 20, pseudoHeaderSum(B, A, 6, tl - 20)), 0, 'TCP checksum intact');
    a.input(s, 0, s.length, 1);
  }
  t.equal(segs[0].length, 60, 'bare SYN-ACK padded to 60');
  t.equal(ipTotalLength(segs[1], 14), 1040);
  t.same(tcpA.got.map((g) => g.len), [20, 1020]);
  // Resolved now: the next segment goes out directly in the same output.
  tcpB.toSend.push({ remote: A, flags: 0x10, payload: 1460 });
  const direct = drain(b, batch, 2);
  t.equal(direct.length, 1);
  t.equal(direct[0].length, 1514);
  t.equal(b.stats.tcp.segmentsOut, 3);
});

t.test('output honours the batch capacity: TCP keeps what does not fit', async (t) => {
  const b = stackB();
  b.arp.learn(A, 0x020000000001, 0, true);
  const tcp = new RecordingTransport(B);
  b.attachTransport(tcp);
  for (let i = 0; i < 10; i++) tcp.toSend.push({ remote: A, flags: 0x10, payload: 100 });
  const batch = createFrameBatch(4, 2048);
  t.equal(b.output(batch, 0), 4);
  t.equal(tcp.toSend.length, 6);
  t.equal(b.output(batch, 0), 4);
  t.equal(b.output(batch, 0), 2);
  t.equal(b.stats.framesOut, 10);
});

t.test('nextDeadline is the minimum of ARP, reassembly and TCP', async (t) => {
  const b = stackB({ reassembly: { timeoutMs: 30_000 } });
  const tcp = new RecordingTransport(B);
  b.attachTransport(tcp);
  t.equal(b.nextDeadline(), Infinity);
  tcp.deadline = 50_000;
  t.equal(b.nextDeadline(), 50_000);
  const f = new Uint8Array(14 + 28);
  writeEthernet(f, 0, 0x020000000002, 0x020000000001, ETHERTYPE_IPV4);
  writeIpv4Header(f, 14, 28, 5, IPV4_FLAG_MF, 64, 6, A, B);
  b.input(f, 0, f.length, 1000);
  t.equal(b.stats.accepted.fragment, 1);
  t.equal(b.nextDeadline(), 31_000);
  b.arp.learn(A, 0x020000000001, 2000, true);
  b.output(createFrameBatch(4, 2048), 2000);
  t.equal(b.nextDeadline(), 31_000);
  b.output(createFrameBatch(4, 2048), 31_000);
  t.equal(b.stats.reassembly.timedOut, 1);
  t.equal(b.nextDeadline(), 50_000);
});

t.test('fragmented TCP and ICMP datagrams are reassembled and delivered', async (t) => {
  const b = stackB();
  b.arp.learn(A, 0x020000000001, 0, true);
  const tcp = new RecordingTransport(B);
  b.attachTransport(tcp);
  const seg = new Uint8Array(2000);
  seg[12] = 5 << 4;
  seg[13] = 0x10;
  const frag = (start: number, len: number, more: boolean, proto: number, data: Uint8Array, id: number) => {
    const f = new Uint8Array(34 + len);
    writeEthernet(f, 0, 0x020000000002, 0x020000000001, ETHERTYPE_IPV4);
    writeIpv4Header(f, 14, 20 + len, id, (more ? IPV4_FLAG_MF : 0) | (start >> 3), 64, proto, A, B);
    f.set(data.subarray(start, start + len), 34);
    return f;
  };
  for (const f of [frag(1480, 520, false, 6, seg, 77), frag(0, 1480, true, 6, seg, 77)]) b.input(f, 0, f.length, 0);
  t.same(tcp.got.map((g) => g.len), [2000]);
  // A 3000-byte ping in fragments: the reply would need fragmenting, which we never do.
  const ping = new Uint8Array(3000);
  ping[0] = 8;
  const ck = checksum(ping, 0, 3000);
  ping[2] = ck >> 8;
  ping[3] = ck & 0xff;
  for (const f of [frag(0, 1480, true, 1, ping, 78), frag(1480, 1480, true, 1, ping, 78), frag(2960, 40, false, 1, ping, 78)]) {
    b.input(f, 0, f.length, 0);
  }
  t.equal(b.stats.accepted.icmp, 1);
  t.equal(b.stats.txDrop.too_big, 1);
  t.equal(b.stats.accepted.fragment, 3);
  t.ok(accounted(b));
});

t.test('every malformed or unwanted frame class is dropped and counted by reason', async (t) => {
  const b = stackB();
  b.arp.learn(A, 0x020000000001, 0, true);
  const echo = fixture('icmp-echo-request.hex');
  const reseal = (f: Uint8Array) => {
    const hl = (f[14] & 15) * 4;
    f[24] = 0;
    f[25] = 0;
    const c = checksum(f, 14, Math.min(hl, f.length - 14));
    f[24] = c >> 8;
    f[25] = c & 0xff;
    return f;
  };
  const mutate = (fn: (f: Uint8Array) => void, seal = true) => {
    const f = echo.slice();
    fn(f);
    return seal ? reseal(f) : f;
  };
  const arp = fixture('arp-request.hex');
  const cases: [string, Uint8Array][] = [
    ['short_frame', echo.slice(0, 13)],
    ['not_for_us', mutate((f) => (f[5] = 9), false)],
    ['not_for_us', mutate((f) => f.fill(0xff, 0, 6), false)], // IPv4 to the broadcast MAC
    ['not_for_us', mutate((f) => (f[33] = 3))], // IP destination not ours
    ['vlan_tagged', mutate((f) => ((f[12] = 0x81), (f[13] = 0)), false)],
    ['bad_ethertype', mutate((f) => ((f[12] = 0x86), (f[13] = 0xdd)), false)],
    ['bad_arp', arp.slice(0, 14 + 27)],
    ['bad_arp', mutate((f) => f, false).fill(0, 14).map((v, i) => (i === 12 ? 8 : i === 13 ? 6 : v))],
    // who-has someone else, from a sender not in our table (known senders are merged: RFC 826)
    ['arp_other', (() => { const f = arp.slice(); f[41] = 99; f[31] = 50; return f; })()],
    ['bad_ip_version', mutate((f) => (f[14] = 0x65))],
    ['bad_ip_header', mutate((f) => (f[14] = 0x44), false)],
    ['bad_ip_header', echo.slice(0, 14 + 19)],
    ['bad_ip_length', mutate((f) => (f[17] = 0xff))],
    ['bad_ip_length', mutate((f) => ((f[16] = 0), (f[17] = 10)))],
    ['bad_ip_checksum', mutate((f) => (f[25] ^= 0xff), false)],
    ['bad_ip_source', mutate((f) => (f[26] = 127))],
    ['bad_ip_source', mutate((f) => f.set([198, 18, 0, 2], 26))],
    ['bad_ip_source', mutate((f) => f.set([224, 0, 0, 1], 26))],
    ['ttl', mutate((f) => (f[22] = 0))],
    ['bad_icmp', mutate((f) => (f[40] ^= 1))],
    ['icmp_ignored', mutate((f) => ((f[34] = 13), (f[36] = 0), (f[37] = 0), ((c) => ((f[36] = c >> 8), (f[37] = c & 255)))(checksum(f, 34, 40))))],
    ['unknown_protocol', mutate((f) => (f[23] = 17))],
    ['bad_tcp', mutate((f) => (f[23] = 6))], // 40 bytes of "TCP" is fine... shorten below
    ['fragment_bad', mutate((f) => ((f[20] = 0x20), (f[21] = 0), (f[16] = 0), (f[17] = 20 + 12)))], // MF, 12 bytes
  ];
  // make the bad_tcp case really short: total length 20 + 10
  const tcpShort = cases.find((c) => c[0] === 'bad_tcp')![1];
  tcpShort[16] = 0;
  tcpShort[17] = 30;
  reseal(tcpShort);
  const expected: Record<string, number> = {};
  for (const [reason, f] of cases) {
    const before = { ...b.stats.rxDrop };
    b.input(f, 0, f.length, 0);
    expected[reason] = (expected[reason] ?? 0) + 1;
    const changed = Object.entries(b.stats.rxDrop).filter(([k, v]) => v !== before[k as keyof typeof before]);
    t.same(changed, [[reason, expected[reason]]], `${reason} counted once`);
  }
  t.equal(b.stats.rxDropped(), cases.length);
  t.ok(accounted(b));
  // the unknown protocol earned a protocol-unreachable that quotes header + 8 bytes
  const out = drain(b, createFrameBatch(8, 2048), 0);
  const unreach = out.find((f) => etherType(f, 0) === ETHERTYPE_IPV4 && icmpType(f, 34) === ICMP_DEST_UNREACHABLE)!;
  t.ok(unreach);
  t.equal(icmpCode(unreach, 34), 2);
  t.equal(ipTotalLength(unreach, 14), 20 + 8 + 20 + 8);
  t.equal(checksum(unreach, 34, 36), 0);
  t.equal(b.stats.icmp.unreachablesSent, 1);
});

t.test('ARP: answers requests for us, ignores others, never learns our own address', async (t) => {
  const b = stackB();
  const f = new Uint8Array(60);
  writeEthernet(f, 0, MAC_BROADCAST, 0x020000000009, ETHERTYPE_ARP);
  writeArp(f, 14, ARP_OP_REQUEST, 0x020000000009, B, 0, A); // someone claims B's address
  b.input(f, 0, 60, 0);
  t.equal(b.stats.arp.conflicts, 1);
  t.equal(b.arp.size, 0);
  writeArp(f, 14, ARP_OP_REQUEST, 0x020000000009, parseIpv4('10.9.9.9'), 0, B); // off-link sender
  b.input(f, 0, 60, 0);
  t.equal(b.arp.size, 0, 'off-link sender not learned');
  t.equal(b.stats.accepted.arp, 1, 'still answered');
  writeArp(f, 14, ARP_OP_REPLY, 0x020000000009, parseIpv4('198.18.0.9'), 0x020000000002, B); // unsolicited reply
  b.input(f, 0, 60, 0);
  t.equal(b.arp.size, 0, 'unsolicited reply creates nothing');
  t.equal(b.stats.rxDrop.arp_other, 2);
  writeArp(f, 14, ARP_OP_REQUEST, 0x020000000009, 0, 0, B); // RFC 5227 probe for our address
  b.input(f, 0, 60, 0);
  const out = drain(b, createFrameBatch(8, 2048), 0);
  t.equal(out.length, 2);
  t.ok(out.every((o) => arpOperation(o, 14) === ARP_OP_REPLY && dstMac(o, 0) === 0x020000000009));
});

t.test('ICMP echo replies are rate-limited', async (t) => {
  const b = stackB({ icmp: { echoRatePerSec: 10, echoBurst: 5 } });
  b.arp.learn(A, 0x020000000001, 0, true);
  const f = fixture('icmp-echo-request.hex');
  for (let i = 0; i < 20; i++) b.input(f, 0, f.length, 0);
  t.equal(b.stats.icmp.echoRepliesSent, 5);
  t.equal(b.stats.rxDrop.icmp_rate, 15);
  for (let i = 0; i < 20; i++) b.input(f, 0, f.length, 1000);
  t.equal(b.stats.icmp.echoRepliesSent, 10, 'refilled 10 tokens/s, capped at the burst of 5');
  t.ok(accounted(b));
});

t.test('netstat view and describeFrame for logs', async (t) => {
  const a = stackA({ gateway: '198.18.0.254' });
  a.ping(B, 1, 1, 8, 0);
  const batch = createFrameBatch(4, 2048);
  const [req] = drain(a, batch, 0);
  t.equal(describeFrame(req, 0, req.length), 'eth 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff type 0x0806 len 60 | arp who-has 198.18.0.2 (00:00:00:00:00:00) tell 198.18.0.1 (02:00:00:00:00:01)');
  const echo = fixture('icmp-echo-request.hex');
  t.match(describeFrame(echo, 0, echo.length), /\| ipv4 198\.18\.0\.1 > 198\.18\.0\.2 proto 1 .* \| icmp echo request id 66 seq 1 len 40$/);
  const syn = tcpFrame(A, B, 0x02);
  t.match(describeFrame(syn, 0, syn.length), /\| tcp 0 > 0 \[SYN\] seq 0 ack 0 win 0 len 0$/);
  t.equal(describeFrame(echo, 0, 10), 'short frame (10 bytes)');
  const v = a.netstat(100);
  t.equal(v.address, '198.18.0.1');
  t.equal(v.gateway, '198.18.0.254');
  t.equal(v.mac, '02:00:00:00:00:01');
  t.same(v.neighbours, [{ ip: '198.18.0.2', mac: null, state: 'incomplete', timerMs: 900 }]);
  t.equal(v.tables.pendingPackets, 1);
  t.equal(v.counters.arp.requestsSent, 1);
  t.equal(v.counters.icmp.echoRequestsSent, 1);
  t.same(JSON.parse(JSON.stringify(v)), v, 'plain data');
});
