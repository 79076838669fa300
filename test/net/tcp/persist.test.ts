// Zero-window probes (RFC 9293 3.8.6.1) are flow control, not loss recovery: a sender probing a
// paused receiver on a lossless link counts them in windowProbes and never as retransmissions,
// the ACKs that answer them are not duplicate ACKs (no fast retransmit into a closed window), and
// the data sent when the window reopens (starting at the probe byte) is not a retransmission
// either. Real losses around a zero window are still counted.

import t from 'tap';
import { SimNet, Collector, Prng, ip, parsed } from './sim.js';
import type { TcpSocket } from '../../../src/net/tcp/socket.js';
import type { TcpConfig } from '../../../src/net/tcp/types.js';

const A = ip('198.18.0.1');
const B = ip('198.18.0.2');

function bytes(n: number, seed: number): Uint8Array {
  const r = new Prng(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (r.next() * 256) | 0;
  return b;
}

/** A (sender) -> B (receiver with a 16 KiB buffer, paused from the start). */
function pausedReceiver(seed: number, cfgA: Partial<TcpConfig> = {}) {
  const net = new SimNet(seed);
  const a = net.addHost(A, cfgA);
  const b = net.addHost(B, { recvBufferBytes: 16384 });
  const servers: TcpSocket[] = [];
  const sc = new Collector();
  b.listen({ ip: B, port: 80, onConnection: (s) => { servers.push(s); s.setHandler(sc); s.pause(); } });
  const client = a.connect({ localIp: A, remoteIp: B, remotePort: 80 });
  client.setHandler(new Collector());
  net.run(() => servers.length === 1 && client.state === 'ESTABLISHED');
  return { net, a, b, client, server: servers[0]!, sc };
}

for (const sack of [true, false]) {
  t.test(`lossless slow reader (${sack ? 'SACK' : 'NewReno'}): probes are counted as probes, never as retransmissions`, async (t) => {
    const s = pausedReceiver(11, { sack });
    const payload = bytes(100_000, 11);
    s.client.write(payload);
    s.net.run(() => s.client.stats().sndWnd === 0, 5000);
    t.equal(s.client.stats().sndWnd, 0, 'the window closed');
    s.net.capture = [];
    s.net.advance(20_000);
    const fromA = s.net.capture.filter((x) => x.src === A).map((x) => parsed(x.bytes));
    const data = fromA.filter((x) => x.len > 0);
    t.ok(data.length >= 4, `${data.length} segments with data while the window was closed`);
    t.same([...new Set(data.map((x) => x.len))], [1], 'every one of them a one-byte probe: nothing else goes into a closed window');
    t.same([...new Set(data.map((x) => x.seq))], [s.client.stats().sndUna], 'all at SND.UNA');
    const c = s.a.counters;
    t.equal(c.windowProbes, data.length, 'windowProbes counts each probe, the first and the repeats');
    t.equal(c.retransmits, 0, 'no probe counted as a retransmission');
    t.equal(c.retransmittedBytes, 0);
    t.equal(c.fastRecoveries, 0, 'the zero-window ACKs answering the probes are not duplicate ACKs');
    t.equal(c.rtoExpirations, 0, 'the retransmission timer stays off while persisting');
    t.ok(s.b.counters.zeroWindowAdvertised >= data.length, `the receiver advertised a zero window ${s.b.counters.zeroWindowAdvertised} times (each probe answered)`);
    t.equal(s.b.counters.windowProbes, 0, 'the receiver sent no probes');

    s.server.resume();
    s.net.run(() => s.sc.bytes === payload.length, 60_000);
    t.same(Buffer.concat(s.sc.chunks), Buffer.from(payload), 'every byte arrives, in order, once');
    t.equal(c.retransmits, 0, 'the data that follows the reopening (from the probe byte on) is no retransmission either');
    t.equal(s.client.stats().retransmits, 0, 'nor in the per-connection count (netstat Retx)');
    t.equal(s.net.lost, 0, 'lossless link');
  });
}

t.test('a real loss before the window closes is still a retransmission; the probes after it are not', async (t) => {
  const s = pausedReceiver(12);
  // Drop the first transmission of the third data segment from A.
  let dataSeen = 0;
  let dropped = 0;
  s.net.filter = (src, _dst, seg) => {
    if (src !== A || parsed(seg).len === 0) return true;
    if (++dataSeen === 3) {
      dropped++;
      return false;
    }
    return true;
  };
  const payload = bytes(100_000, 12);
  s.client.write(payload);
  s.net.advance(20_000);
  const c = s.a.counters;
  t.equal(dropped, 1);
  t.equal(s.server.recvQueueBytes, 16384, 'the hole was repaired and the buffer filled');
  t.ok(c.windowProbes >= 3, `${c.windowProbes} probes`);
  t.equal(c.retransmits, 1, 'exactly the one lost segment was retransmitted');
  s.server.resume();
  s.net.run(() => s.sc.bytes === payload.length, 60_000);
  t.same(Buffer.concat(s.sc.chunks), Buffer.from(payload), 'intact');
  t.equal(c.retransmits, 1, 'still one after the reopening');
});
