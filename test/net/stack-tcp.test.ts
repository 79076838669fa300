// NetStack + the real TcpLayer on both ends of a simulated Ethernet link: ARP, IPv4, the filter
// and the SegmentSink carry a TCP connection end to end, with injected time and a seeded lossy wire.
import t from 'tap';
import { createFrameBatch } from '../../src/io/port.js';
import type { NetStack } from '../../src/net/stack.js';
import type { TcpSocket } from '../../src/net/tcp/socket.js';
import { parseIpv4 } from '../../src/net/wire/ipv4.js';
import { tcpHost } from './hosts.js';

const A = parseIpv4('198.18.0.1');
const B = parseIpv4('198.18.0.2');

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

/**
 * Run the link until `done()` or the simulated time limit: each step moves every frame both ways
 * (dropping a seeded fraction), then advances the clock to the next deadline (at most 10 ms).
 */
function run(a: NetStack, b: NetStack, loss: number, seed: number, done: () => boolean, limitMs = 120_000): number {
  const rnd = prng(seed);
  const batch = createFrameBatch(64, 2048);
  let now = 0;
  while (!done() && now < limitMs) {
    let moved = 0;
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const n = from.output(batch, now);
      for (let i = 0; i < n; i++) {
        if (rnd() < loss) continue;
        to.input(batch.data, i * batch.slotSize, batch.lengths[i], now);
      }
      moved += n;
    }
    if (moved === 0) {
      const next = Math.min(a.nextDeadline(), b.nextDeadline());
      now = next <= now ? now + 1 : Math.min(next, now + 10);
    } else {
      now += 0.1;
    }
  }
  return now;
}

function transfer(loss: number, seed: number, bytes: number) {
  const a = tcpHost('198.18.0.1', 1);
  const b = tcpHost('198.18.0.2', 2);
  a.net.announce();
  b.net.announce();
  const data = new Uint8Array(bytes).map((_, i) => (i * 31 + (i >> 8)) & 0xff);
  const echoed: Uint8Array[] = [];
  let echoedLen = 0;
  let closed = 0;
  b.tcp.listen({
    ip: B,
    port: 8080,
    onConnection: (s: TcpSocket) => {
      s.setHandler({
        onData: (c) => void s.write(c.slice()),
        onEnd: () => s.end(),
        onDrain: () => {},
        onClose: () => closed++,
      });
    },
  });
  const c = a.tcp.connect({ localIp: A, remoteIp: B, remotePort: 8080, now: 0 });
  c.setHandler({
    onConnect: () => {
      c.write(data);
      c.end();
    },
    onData: (chunk) => {
      echoed.push(chunk.slice());
      echoedLen += chunk.length;
    },
    onEnd: () => {},
    onDrain: () => {},
    onClose: () => closed++,
  });
  const ms = run(a.net, b.net, loss, seed, () => closed === 2);
  const got = new Uint8Array(echoedLen);
  let o = 0;
  for (const e of echoed) {
    got.set(e, o);
    o += e.length;
  }
  return { a, b, data, got, closed, ms };
}

t.test('a TCP connection over two NetStacks: ARP, handshake, 256 KiB echoed, close', async (t) => {
  const r = transfer(0, 1, 256 * 1024);
  t.equal(r.closed, 2, `both ends closed (simulated ${r.ms.toFixed(0)} ms)`);
  t.equal(r.got.length, r.data.length);
  t.same(Buffer.from(r.got).equals(Buffer.from(r.data)), true, 'bytes intact');
  t.equal(r.a.net.stats.arp.requestsSent + r.b.net.stats.arp.requestsSent, 1, 'one ARP exchange (B learned A from its request)');
  for (const s of [r.a.net.stats, r.b.net.stats]) {
    t.equal(s.acceptedTotal() + s.rxDropped(), s.framesIn);
    // the only frame not taken: the peer's gratuitous ARP, for an address not yet in the table
    t.ok(s.rxDropped() === s.rxDrop.arp_other && s.rxDrop.arp_other <= 1, JSON.stringify(Object.entries(s.rxDrop).filter(([, v]) => v > 0)));
    t.equal(s.txDropped(), 0, JSON.stringify(s.txDrop));
  }
  t.equal(r.b.net.filter.connectionsFrom(A), 0, 'filter connection count back to zero after close');
});

t.test('the same over a wire losing 3% of frames (seeded): retransmits recover', async (t) => {
  const r = transfer(0.03, 42, 128 * 1024);
  t.equal(r.closed, 2, `both ends closed (simulated ${r.ms.toFixed(0)} ms)`);
  t.ok(Buffer.from(r.got).equals(Buffer.from(r.data)), 'bytes intact');
});

t.test('filter at the stack: a denied source never reaches TCP; SYN rate limit holds', async (t) => {
  const a = tcpHost('198.18.0.1', 1);
  const b = tcpHost('198.18.0.2', 2, { allow: [], deny: ['198.18.0.1/32'], maxConnectionsPerSource: 0, synRatePerSource: 0, synBurstPerSource: 0 });
  let accepted = 0;
  b.tcp.listen({ ip: B, port: 8080, onConnection: () => accepted++ });
  const c = a.tcp.connect({ localIp: A, remoteIp: B, remotePort: 8080, now: 0 });
  let closed = false;
  c.setHandler({ onData: () => {}, onEnd: () => {}, onDrain: () => {}, onClose: () => (closed = true) });
  run(a.net, b.net, 0, 3, () => closed, 5_000);
  t.equal(accepted, 0);
  t.ok(b.net.stats.rxDrop.filter_deny >= 1, `denied SYNs: ${b.net.stats.rxDrop.filter_deny}`);
  t.equal(b.net.stats.accepted.tcp, 0);

  b.net.filter.setRules({ allow: [], deny: [], maxConnectionsPerSource: 2, synRatePerSource: 0, synBurstPerSource: 0 });
  const socks: TcpSocket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = a.tcp.connect({ localIp: A, remoteIp: B, remotePort: 8080, now: 0 });
    s.setHandler({ onData: () => {}, onEnd: () => {}, onDrain: () => {}, onClose: () => {} });
    socks.push(s);
  }
  run(a.net, b.net, 0, 4, () => accepted >= 2 && b.net.stats.rxDrop.filter_conn_limit > 0, 5_000);
  t.equal(accepted, 2, 'two connections admitted');
  t.equal(b.net.filter.connectionsFrom(A), 2);
  t.ok(b.net.stats.rxDrop.filter_conn_limit >= 2, `over-limit SYNs dropped: ${b.net.stats.rxDrop.filter_conn_limit}`);
});
