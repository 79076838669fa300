// Behaviour beyond the state machine: flow control (zero window, persist), keepalive, SYN cookies
// under a flood, ISNs, window scaling / timestamps / PAWS, SACK against NewReno, RTO backoff,
// delayed ACKs, write coalescing, backpressure, the connection table and its hooks.

import t from 'tap';
import { ACK, SYN, headerLen, parseOptions, createOptions, flags as segFlags } from '../../../src/net/wire/tcp.js';
import { SequenceSecrets } from '../../../src/net/tcp/isn.js';
import type { TcpLayer } from '../../../src/net/tcp/layer.js';
import type { TcpSocket } from '../../../src/net/tcp/socket.js';
import type { TcpConfig, TcpConnectionInfo } from '../../../src/net/tcp/types.js';
import { Collector, Prng, SimNet, forge, ip, parsed } from './sim.js';

const A = ip('198.18.0.1');
const B = ip('198.18.0.2');
const enc = new TextEncoder();

function bytes(n: number, seed: number): Uint8Array {
  const r = new Prng(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (r.next() * 256) | 0;
  return b;
}

function setup(seed: number, cfgA: Partial<TcpConfig> = {}, cfgB: Partial<TcpConfig> = {}, onServer?: (s: TcpSocket, c: Collector) => void) {
  const net = new SimNet(seed);
  const a = net.addHost(A, cfgA);
  const b = net.addHost(B, cfgB);
  const servers: TcpSocket[] = [];
  const sc = new Collector();
  b.listen({ ip: B, port: 80, onConnection: (s) => { servers.push(s); s.setHandler(sc); onServer?.(s, sc); } });
  const client = a.connect({ localIp: A, remoteIp: B, remotePort: 80 });
  const cc = new Collector();
  client.setHandler(cc);
  net.run(() => servers.length === 1 && client.state === 'ESTABLISHED');
  return { net, a, b, client, cc, server: servers[0], sc };
}

function conn(layer: TcpLayer, pred: (c: TcpConnectionInfo) => boolean): TcpConnectionInfo | undefined {
  for (const c of layer.connections()) if (c.state !== 'LISTEN' && pred(c)) return c;
  return undefined;
}

function dataSegs(net: SimNet, src: number) {
  return net.capture!.filter((x) => x.src === src).map((x) => ({ at: x.at, ...parsed(x.bytes) })).filter((s) => s.len > 0);
}

t.test('zero window: a paused receiver closes the window, the sender probes with backoff and resumes when it opens (RFC 9293 3.8.6.1)', async (t) => {
  const s = setup(1, {}, { recvBufferBytes: 16384 }, (srv) => srv.pause());
  const payload = bytes(100_000, 1);
  s.client.write(payload);
  s.net.capture = [];
  s.net.advance(20_000);
  t.equal(s.server.recvQueueBytes, 16384, 'the receive buffer filled');
  t.equal(s.client.stats().sndWnd, 0, 'the sender sees a zero window');
  const probes = dataSegs(s.net, A).filter((x) => x.len === 1);
  t.ok(probes.length >= 3, `${probes.length} one-byte window probes`);
  const gaps = probes.slice(1).map((p, i) => p.at - probes[i].at);
  t.ok(gaps.every((g, i) => i === 0 || g >= gaps[i - 1]), `probe intervals back off: ${gaps.join(', ')}`);
  t.equal(s.a.counters.windowProbes, probes.length);
  s.server.resume();
  s.net.run(() => s.sc.bytes === payload.length, 60_000);
  t.same(Buffer.concat(s.sc.chunks), Buffer.from(payload), 'every byte arrives, in order, once');
});

t.test('pause() makes the advertised window shrink by what is buffered (receive backpressure)', async (t) => {
  const s = setup(2, {}, { recvBufferBytes: 60000, windowScaling: false }, (srv) => srv.pause());
  s.client.write(bytes(10_000, 2));
  s.net.run(() => s.server.recvQueueBytes === 10_000);
  s.net.advance(100); // the delayed ACK carries the window
  t.equal(s.sc.bytes, 0, 'nothing delivered while paused');
  t.equal(s.server.stats().rcvWnd, 60000 - 10_000);
  t.equal(s.client.stats().sndWnd, 60000 - 10_000, 'the sender learned the smaller window');
  s.server.resume();
  t.equal(s.sc.bytes, 10_000, 'resume delivers what was queued at once');
});

t.test('keepalive probes an idle peer and gives up after the configured unanswered probes (RFC 9293 3.8.4)', async (t) => {
  const s = setup(3);
  s.client.setKeepAlive({ idleMs: 1000, intervalMs: 500, count: 3 });
  s.net.advance(5000);
  t.ok(s.a.counters.keepaliveProbes >= 4, `${s.a.counters.keepaliveProbes} probes answered while the peer is up`);
  t.equal(s.client.state, 'ESTABLISHED');
  s.net.filter = (src) => src !== B;
  const start = s.net.now;
  s.net.run(() => s.cc.closed !== null, 60_000);
  t.equal(s.cc.closed, 'keepalive');
  t.ok(s.net.now - start <= 1000 + 4 * 500 + 10, `gave up after ${s.net.now - start} ms`);
  t.equal(s.a.counters.timeouts, 1);
});

t.test('SYN flood: with the SYN queue full, legitimate clients still connect through SYN cookies (RFC 4987)', async (t) => {
  const net = new SimNet(4);
  const a = net.addHost(A);
  const b = net.addHost(B);
  let accepted = 0;
  b.listen({
    ip: B, port: 80, synBacklog: 16, backlog: 64,
    onConnection: (s) => {
      accepted++;
      s.setHandler({ onData: (c) => s.write(c), onEnd: () => s.end(), onDrain() {}, onClose() {} });
    },
  });
  // 500 SYNs from spoofed sources that will never answer the SYN-ACK.
  const r = new Prng(4);
  for (let i = 0; i < 500; i++) {
    const src = ip('198.19.0.0') + ((r.next() * 65535) | 0);
    net.inject(src, B, forge(src, B, { sport: 1024 + i, dport: 80, seq: (r.next() * 2 ** 32) >>> 0, flags: SYN, mss: 1460 }));
  }
  net.advance(1);
  t.equal(b.counters.states['SYN-RECEIVED'], 16, 'the SYN queue is full of half-open connections');
  const clients: Collector[] = [];
  for (let i = 0; i < 20; i++) {
    const s = a.connect({ localIp: A, remoteIp: B, remotePort: 80 });
    const c = new Collector();
    s.setHandler(c);
    s.write(enc.encode(`hello ${i}`));
    s.end();
    clients.push(c);
  }
  net.run(() => clients.every((c) => c.closed !== null), 60_000);
  t.ok(clients.every((c, i) => c.text() === `hello ${i}` && c.closed === 'closed'), 'all 20 clients got their echo and closed cleanly');
  t.equal(accepted, 20);
  t.equal(b.counters.synCookiesValid, 20, 'each came in through a cookie');
  t.ok(b.counters.synCookiesSent >= 500 - 16 + 20, `${b.counters.synCookiesSent} cookies sent`);
  // A forged ACK with a wrong cookie is refused.
  const spoof = ip('198.19.9.9');
  net.inject(spoof, B, forge(spoof, B, { sport: 999, dport: 80, seq: 1234, ack: 0xdeadbeef, flags: ACK }));
  net.advance(1);
  t.equal(b.counters.synCookiesInvalid, 1);
});

t.test('ISNs differ per 4-tuple, advance with a 4 µs clock and depend on the secret (RFC 6528)', async (t) => {
  const k = new SequenceSecrets(new Uint8Array(32).fill(1));
  const base = k.isn(A, 40000, B, 443, 0);
  t.not(k.isn(A, 40001, B, 443, 0), base, 'another local port, another ISN');
  t.not(k.isn(A, 40000, B + 1, 443, 0), base, 'another remote address, another ISN');
  t.equal((k.isn(A, 40000, B, 443, 1) - base) >>> 0, 250, 'the same tuple 1 ms later: +250 (one tick per 4 µs)');
  t.not(new SequenceSecrets(new Uint8Array(32).fill(2)).isn(A, 40000, B, 443, 0), base, 'another secret, another ISN');
  // Across 200 real connections the ISSs are distinct and show no fixed step.
  const net = new SimNet(5);
  const a = net.addHost(A);
  const isss = new Set<number>();
  const steps = new Set<number>();
  let prev = -1;
  for (let i = 0; i < 200; i++) {
    const s = a.connect({ localIp: A, remoteIp: B, remotePort: 80 });
    const v = conn(a, (c) => c.localPort === s.localPort)!.iss;
    isss.add(v);
    if (prev >= 0) steps.add((v - prev) >>> 0);
    prev = v;
  }
  t.equal(isss.size, 200);
  t.ok(steps.size > 190, 'successive ISSs are not a fixed increment');
});

t.test('window scaling and timestamps are negotiated, and PAWS drops an old duplicate (RFC 7323)', async (t) => {
  const s = setup(6, { recvBufferBytes: 1 << 20 }, { recvBufferBytes: 4 << 20 });
  s.server.write(enc.encode('hi'));
  s.net.advance(50);
  const ca = s.client.stats();
  t.equal(ca.rcvWscale, 5, '1 MiB buffer: shift 5 (2^20 >> 5 fits 16 bits)');
  t.equal(ca.sndWscale, 7, 'the peer\'s 4 MiB buffer: shift 7');
  t.ok(ca.timestamps);
  t.equal(ca.sndWnd, 4 << 20, 'the scaled window covers the peer\'s whole buffer');
  // Take the peer's latest TSval from the wire, then replay older and newer data segments.
  s.net.capture = [];
  s.server.write(enc.encode('x'));
  s.net.advance(50);
  const last = s.net.capture.filter((x) => x.src === B).pop()!;
  const o = createOptions();
  parseOptions(last.bytes, 0, o);
  const info = conn(s.a, () => true)!;
  const forgeData = (tsVal: number, text: string) =>
    forge(B, A, { sport: 80, dport: s.client.localPort, seq: info.rcvNxt, ack: info.sndNxt, flags: ACK, data: enc.encode(text), ts: [tsVal, o.tsEcr] });
  s.net.inject(B, A, forgeData(o.tsVal - 1000, 'old'));
  s.net.advance(5);
  t.equal(s.a.counters.drops.paws, 1, 'TSval older than TS.Recent: dropped (RFC 7323 5.3)');
  t.equal(s.cc.text(), 'hix');
  s.net.inject(B, A, forgeData(o.tsVal + 1, 'new'));
  s.net.advance(5);
  t.equal(s.cc.text(), 'hixnew', 'a newer timestamp is accepted');
});

/** Transfer `size` bytes A -> B with the given data segments (by index of first transmission) dropped. */
function transferWithDrops(sack: boolean, size: number, dropIdx: number[]) {
  const net = new SimNet(7, { delayMs: 10 });
  const a = net.addHost(A, { sack });
  const b = net.addHost(B, { sack });
  const sc = new Collector(false);
  b.listen({ ip: B, port: 80, onConnection: (s) => s.setHandler(sc) });
  const c = a.connect({ localIp: A, remoteIp: B, remotePort: 80 });
  c.setHandler(new Collector());
  net.run(() => c.state === 'ESTABLISHED');
  const seenSeq = new Set<number>();
  let idx = 0;
  net.filter = (src, _dst, seg) => {
    const hl = headerLen(seg, 0);
    if (src !== A || seg.length === hl) return true;
    const p = parsed(seg);
    if (seenSeq.has(p.seq)) return true; // retransmissions pass
    seenSeq.add(p.seq);
    return !dropIdx.includes(idx++);
  };
  const start = net.now;
  c.write(bytes(size, 7));
  net.run(() => sc.bytes === size, 600_000);
  return { done: sc.bytes === size, ms: net.now - start, retxBytes: a.counters.retransmittedBytes, rto: a.counters.rtoExpirations };
}

t.test('SACK repairs four losses in one window in one round trip; NewReno needs one per loss (RFC 2018, RFC 6675, RFC 6582)', async (t) => {
  // Grow the window first (segments 0..39 pass), then lose four segments of one flight.
  const drops = [60, 64, 68, 72];
  const withSack = transferWithDrops(true, 400_000, drops);
  const without = transferWithDrops(false, 400_000, drops);
  t.ok(withSack.done && without.done);
  t.comment(JSON.stringify({ withSack, without }));
  t.equal(withSack.retxBytes, 4 * 1448, 'SACK resends exactly the four lost segments');
  t.ok(withSack.retxBytes <= without.retxBytes, `retransmitted bytes: SACK ${withSack.retxBytes}, NewReno ${without.retxBytes}`);
  // RTT is 20 ms: NewReno learns of one hole per partial ACK, so it needs three more round trips.
  t.ok(without.ms - withSack.ms >= 3 * 20 - 5, `completion: SACK ${withSack.ms} ms, NewReno ${without.ms} ms`);
  t.equal(withSack.rto, 0, 'no retransmission timeout with SACK');
});

t.test('ten losses spread over two windows: SACK repairs them without a timeout, in fewer round trips than NewReno', async (t) => {
  const drops = [100, 105, 110, 115, 120, 125, 130, 135, 140, 145];
  const withSack = transferWithDrops(true, 400_000, drops);
  const without = transferWithDrops(false, 400_000, drops);
  t.comment(JSON.stringify({ withSack, without }));
  t.ok(withSack.done && without.done);
  t.equal(withSack.retxBytes, 10 * 1448, 'SACK resends exactly the ten lost segments');
  t.equal(withSack.rto, 0);
  t.ok(withSack.ms * 1.5 < without.ms, `completion: SACK ${withSack.ms} ms, NewReno ${without.ms} ms`);
});

t.test('RTO backs off exponentially while the peer is unreachable and resets after a new sample (RFC 6298 5.5-5.7)', async (t) => {
  const s = setup(8);
  s.net.capture = [];
  s.net.filter = (src) => src !== A;
  s.client.write(enc.encode('are you there?'));
  s.net.advance(8000);
  const sends = dataSegs(s.net, A).map((x) => x.at);
  const gaps = sends.slice(1).map((x, i) => Math.round(x - sends[i]));
  t.ok(gaps[0] < 200, `a tail loss probe first, ${gaps[0]} ms after the send (RFC 8985 7: 2*SRTT + delayed-ACK allowance)`);
  t.equal(s.a.counters.tailLossProbes, 1, 'one probe per flight');
  t.same(gaps.slice(1, 5), [200, 400, 800, 1600], 'then the RTO doubles: 200, 400, 800, 1600 ms');
  t.ok(s.client.stats().rtoMs >= 3200);
  s.net.filter = null;
  s.net.run(() => s.sc.bytes === 14, 20_000);
  s.client.write(enc.encode('again'));
  s.net.run(() => s.sc.bytes === 19, 20_000);
  s.net.advance(100); // the (delayed) ACK brings the sample
  t.equal(s.client.stats().rtoMs, 200, `a fresh RTT sample clears the backoff (RFC 6298 5.7): ${JSON.stringify(s.client.stats())}`);
});

t.test('delayed ACK: one ACK for two full segments, a lone segment acked after 40 ms (RFC 9293 3.8.6.3)', async (t) => {
  const s = setup(9);
  s.net.capture = [];
  const t0 = s.net.now;
  s.client.write(enc.encode('one'));
  s.net.advance(100);
  const acks = s.net.capture.filter((x) => x.src === B).map((x) => ({ at: x.at, ...parsed(x.bytes) }));
  t.equal(acks.length, 1);
  t.equal(Math.round(acks[0].at - t0), 1 + 40, 'acked 40 ms after the segment arrived');
  s.net.capture = [];
  const t1 = s.net.now;
  s.client.write(bytes(2 * 1448, 9));
  s.net.advance(100);
  const acks2 = s.net.capture.filter((x) => x.src === B);
  t.equal(acks2.length, 1, 'one ACK for two full segments');
  t.equal(Math.round(acks2[0].at - t1), 1, 'sent as soon as the second arrived');
});

t.test('small writes queued between output passes coalesce into full segments (Nagle off, no tiny segments)', async (t) => {
  const s = setup(10);
  s.net.capture = [];
  for (let i = 0; i < 300; i++) s.client.write(enc.encode('0123456789'));
  s.net.advance(100);
  const segs = dataSegs(s.net, A);
  t.same(segs.map((x) => x.len), [1448, 1448, 104], '3000 bytes in three segments');
  t.equal(s.sc.bytes, 3000);
});

t.test('write() returns false above the send buffer mark and onDrain follows (send backpressure)', async (t) => {
  const s = setup(11, { sendBufferBytes: 65536 });
  t.equal(s.client.write(bytes(60_000, 1)), true);
  t.equal(s.client.write(bytes(10_000, 2)), false, 'above 64 KiB queued');
  t.equal(s.client.sendQueueBytes, 70_000);
  s.net.run(() => s.cc.drains > 0);
  t.equal(s.cc.drains, 1);
  t.ok(s.client.sendQueueBytes < 65536);
  s.net.run(() => s.sc.bytes === 70_000);
  t.equal(s.sc.bytes, 70_000);
});

t.test('hundreds of connections between the same two hosts stay apart in the 4-tuple table', async (t) => {
  const net = new SimNet(12, { loss: 0.01, reorder: 0.05, dup: 0.01 });
  const a = net.addHost(A, { timeWaitMs: 600_000 });
  const b = net.addHost(B);
  let opened = 0;
  let closed = 0;
  b.onConnectionOpened = (rip) => { if (rip === A) opened++; };
  b.onConnectionClosed = (rip) => { if (rip === A) closed++; };
  b.listen({ ip: B, port: 80, onConnection: (s) => s.setHandler({ onData: (c) => s.write(c), onEnd: () => s.end(), onDrain() {}, onClose() {} }) });
  const cs: Collector[] = [];
  for (let i = 0; i < 300; i++) {
    const s = a.connect({ localIp: A, remoteIp: B, remotePort: 80 });
    const c = new Collector();
    s.setHandler(c);
    s.write(enc.encode(`connection ${i} `.repeat(50)));
    s.end();
    cs.push(c);
  }
  net.run(() => cs.every((c) => c.closed !== null) && b.connectionCount === 0, 120_000);
  t.ok(cs.every((c, i) => c.text() === `connection ${i} `.repeat(50)), 'every connection got its own bytes back');
  t.equal(opened, 300, 'onConnectionOpened once per connection');
  t.equal(closed, 300, 'onConnectionClosed once per connection');
  t.equal(b.connectionCount, 0);
  t.equal(a.counters.states['TIME-WAIT'], 300, 'the active closers hold TIME-WAIT');
  const netstat = [...a.connections()];
  t.equal(netstat.length, 300);
  t.ok(netstat.every((c) => c.state === 'TIME-WAIT' && c.remoteIp === B));
  void segFlags;
});

t.test('an echo that pauses on a full send queue and resumes in onDrain receives everything (no stall after the last ACK)', async (t) => {
  // Found against Linux (kernel.test.ts): resume() inside onDrain came after the receive queue had
  // been drained for this input, and no later segment arrived to deliver the rest.
  const net = new SimNet(13, { delayMs: 0.2 });
  const a = net.addHost(A);
  const b = net.addHost(B, { sendBufferBytes: 16 * 1024 });
  b.listen({
    ip: B,
    port: 7,
    onConnection: (s) =>
      s.setHandler({
        onData: (c) => {
          if (!s.write(c)) s.pause();
        },
        onDrain: () => s.resume(),
        onEnd: () => s.end(),
        onClose() {},
      }),
  });
  const c = a.connect({ localIp: A, remoteIp: B, remotePort: 7 });
  const col = new Collector(false);
  c.setHandler(col);
  const payload = bytes(2 << 20, 13);
  c.write(payload);
  c.end();
  net.run(() => col.closed !== null, 600_000);
  t.equal(col.bytes, payload.length, 'all echoed');
  t.equal(col.closed, 'closed');
});

/** One loss once cwnd reaches 600 segments on a 100 ms path; the window 3 s later. */
function afterOneLoss(cc: 'newreno' | 'cubic') {
  const cfg = { congestionControl: cc, sendBufferBytes: 64 << 20, recvBufferBytes: 32 << 20 } as const;
  const net = new SimNet(14, { delayMs: 50 });
  const a = net.addHost(A, cfg);
  const b = net.addHost(B, cfg);
  b.listen({ ip: B, port: 80, onConnection: (s) => s.setHandler(new Collector(false)) });
  const c = a.connect({ localIp: A, remoteIp: B, remotePort: 80 });
  c.setHandler(new Collector(false));
  net.run(() => c.state === 'ESTABLISHED');
  let dropAt = -1;
  let wBefore = 0;
  net.filter = (src, _d, seg) => {
    if (src !== A || seg.length === headerLen(seg, 0) || dropAt >= 0) return true;
    if (c.stats().cwnd < 600 * 1448) return true;
    dropAt = net.now;
    wBefore = c.stats().cwnd;
    return false;
  };
  c.write(new Uint8Array(48 << 20));
  net.run(() => dropAt >= 0 && net.now >= dropAt + 3000, 60_000);
  const st = c.stats();
  return { wBefore: wBefore / 1448, cwnd: st.cwnd / 1448, ssthresh: st.ssthresh / 1448, rto: a.counters.rtoExpirations };
}

t.test('CUBIC (RFC 9438) takes back the window after a loss sooner than NewReno on a 100 ms path', async (t) => {
  const reno = afterOneLoss('newreno');
  const cubic = afterOneLoss('cubic');
  t.comment(JSON.stringify({ reno, cubic }));
  t.equal(reno.rto + cubic.rto, 0, 'both repaired the loss by fast recovery');
  t.ok(Math.abs(cubic.ssthresh - Math.floor(cubic.wBefore * 0.7)) <= 2, `CUBIC backs off to 0.7 W (ssthresh ${cubic.ssthresh} of W ${cubic.wBefore})`);
  t.ok(reno.ssthresh <= reno.wBefore * 0.5 + 2, `NewReno to 0.5 W (ssthresh ${reno.ssthresh})`);
  t.ok(cubic.cwnd > reno.cwnd * 1.3, `3 s later: CUBIC ${cubic.cwnd.toFixed(0)} segments, NewReno ${reno.cwnd.toFixed(0)}`);
});
