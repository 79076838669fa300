// One RFC 9293 transition per test, RFC 5961 RST/SYN handling in every synchronized state, and at
// the end a check that the scenarios of this file exercised every transition in TRANSITIONS.

import t from 'tap';
import { ACK, FIN, RST, SYN, flags as segFlags } from '../../../src/net/wire/tcp.js';
import { TRANSITIONS } from '../../../src/net/tcp/state.js';
import type { TcpLayer } from '../../../src/net/tcp/layer.js';
import type { TcpSocket } from '../../../src/net/tcp/socket.js';
import type { TcpConnectionInfo } from '../../../src/net/tcp/types.js';
import { Collector, SimNet, forge, ip, parsed } from './sim.js';

const A = ip('198.18.0.1');
const B = ip('198.18.0.2');
/** An address with no host behind it: segments to it vanish (a peer the test plays by hand). */
const C = ip('198.18.0.3');
const seen = new Set<string>();
const enc = new TextEncoder();

interface Pair {
  net: SimNet;
  a: TcpLayer;
  b: TcpLayer;
  client: TcpSocket;
  cc: Collector;
  server: () => TcpSocket;
  sc: Collector;
}

function pair(seed = 1, timeWaitMs = 2000): Pair {
  const net = new SimNet(seed, {}, seen);
  const a = net.addHost(A, { timeWaitMs, finWait2TimeoutMs: 5000 });
  const b = net.addHost(B, { timeWaitMs, finWait2TimeoutMs: 5000 });
  let server: TcpSocket | null = null;
  const sc = new Collector();
  b.listen({ ip: B, port: 80, onConnection: (s) => { server = s; s.setHandler(sc); } });
  const client = a.connect({ localIp: A, remoteIp: B, remotePort: 80 });
  const cc = new Collector();
  client.setHandler(cc);
  return {
    net, a, b, client, cc, sc,
    server: () => {
      if (server === null) throw new Error('no server socket yet');
      return server;
    },
  };
}

function established(p: Pair): void {
  p.net.run(() => p.cc.connected && p.client.state === 'ESTABLISHED' && p.net.hosts.get(B)!.connectionCount === 1 && p.sc.closed === null && (() => { try { return p.server().state === 'ESTABLISHED'; } catch { return false; } })(), 10_000);
}

function conn(layer: TcpLayer, remotePort: number): TcpConnectionInfo | undefined {
  for (const c of layer.connections()) if (c.remotePort === remotePort && c.state !== 'LISTEN') return c;
  return undefined;
}

t.test('three-way handshake: CLOSED -> SYN-SENT -> ESTABLISHED and LISTEN -> SYN-RECEIVED -> ESTABLISHED (RFC 9293 3.5)', async (t) => {
  const p = pair();
  const states: string[] = [];
  p.a.onTransition = (from, to) => { states.push(`A ${from}>${to}`); p.net.transitions.add(`${from}>${to}`); };
  p.b.onTransition = (from, to) => { states.push(`B ${from}>${to}`); p.net.transitions.add(`${from}>${to}`); };
  t.equal(p.client.state, 'SYN-SENT');
  established(p);
  t.same(states, ['B LISTEN>SYN-RECEIVED', 'A SYN-SENT>ESTABLISHED', 'B SYN-RECEIVED>ESTABLISHED']);
  t.ok(p.cc.connected, 'onConnect fired');
  t.equal(p.server().state, 'ESTABLISHED');
  const st = p.client.stats();
  t.ok(st.timestamps && st.sack, 'timestamps and SACK negotiated');
  t.equal(st.sndWscale, 3, 'window scale from a 256 KiB buffer');
  t.equal(st.mss, 1460 - 12, 'MSS from the MTU less the timestamps option');
});

t.test('orderly close: FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT and CLOSE-WAIT -> LAST-ACK -> CLOSED (RFC 9293 3.6)', async (t) => {
  const p = pair();
  established(p);
  p.client.write(enc.encode('request'));
  p.client.end();
  t.equal(p.client.state, 'FIN-WAIT-1');
  p.net.run(() => p.client.state === 'FIN-WAIT-2' && p.server().state === 'CLOSE-WAIT');
  t.ok(p.sc.ended, 'server saw the FIN as onEnd');
  t.equal(p.sc.text(), 'request');
  p.server().write(enc.encode('response'));
  p.server().end();
  t.equal(p.server().state, 'LAST-ACK');
  p.net.run(() => p.client.state === 'TIME-WAIT' && p.sc.closed !== null);
  t.equal(p.cc.text(), 'response');
  t.equal(p.sc.closed, 'closed');
  t.equal(p.cc.closed, 'closed', 'the client socket is finished once in TIME-WAIT');
  t.equal(p.b.connectionCount, 0, 'LAST-ACK -> CLOSED removed the server TCB');
});

t.test('TIME-WAIT -> CLOSED after 2*MSL, not before (RFC 9293 3.10.8)', async (t) => {
  const p = pair(1, 5000);
  established(p);
  p.client.end();
  p.net.run(() => p.sc.ended);
  p.server().end();
  p.net.run(() => p.client.state === 'TIME-WAIT');
  const entered = p.net.now;
  p.net.run(() => p.a.connectionCount === 0, 20_000);
  t.ok(p.net.now - entered >= 5000 - 2 && p.net.now - entered <= 5000 + 50, `closed after ${p.net.now - entered} ms`);
  t.equal(p.a.counters.states['TIME-WAIT'], 0);
});

t.test('TIME-WAIT acks a retransmitted FIN and restarts the 2*MSL timer (RFC 9293 3.10.7.4 eighth)', async (t) => {
  const p = pair(1, 5000);
  established(p);
  p.client.end();
  p.net.run(() => p.sc.ended);
  const srv = conn(p.b, p.client.localPort)!;
  p.server().end();
  p.net.run(() => p.client.state === 'TIME-WAIT');
  p.net.advance(3000);
  const before = p.a.counters.segmentsOut;
  // The server's FIN again, as if our ACK had been lost: seq is the FIN's own sequence.
  p.net.inject(B, A, forge(B, A, { sport: 80, dport: p.client.localPort, seq: srv.sndNxt, ack: srv.rcvNxt, flags: FIN | ACK }));
  p.net.advance(1);
  t.equal(p.a.counters.segmentsOut, before + 1, 'answered with an ACK');
  p.net.advance(3000);
  t.equal(p.client.state, 'TIME-WAIT', 'still in TIME-WAIT 6 s after entering it: the timer restarted');
  p.net.run(() => p.a.connectionCount === 0, 10_000);
  t.equal(p.a.connectionCount, 0);
});

t.test('simultaneous open goes SYN-SENT -> SYN-RECEIVED -> ESTABLISHED (RFC 9293 3.5 figure 8)', async (t) => {
  const net = new SimNet(2, {}, seen);
  const a = net.addHost(A);
  const b = net.addHost(B);
  const log: string[] = [];
  a.onTransition = (f, to) => { log.push(`${f}>${to}`); net.transitions.add(`${f}>${to}`); };
  const sa = a.connect({ localIp: A, localPort: 5000, remoteIp: B, remotePort: 6000 });
  const sb = b.connect({ localIp: B, localPort: 6000, remoteIp: A, remotePort: 5000 });
  const ca = new Collector();
  const cb = new Collector();
  sa.setHandler(ca);
  sb.setHandler(cb);
  net.run(() => sa.state === 'ESTABLISHED' && sb.state === 'ESTABLISHED', 10_000);
  t.same(log, ['CLOSED>SYN-SENT', 'SYN-SENT>SYN-RECEIVED', 'SYN-RECEIVED>ESTABLISHED']);
  t.ok(ca.connected && cb.connected);
  sa.write(enc.encode('ping'));
  sb.write(enc.encode('pong'));
  net.run(() => ca.bytes === 4 && cb.bytes === 4, 10_000);
  t.equal(ca.text(), 'pong');
  t.equal(cb.text(), 'ping');
});

t.test('CLOSE in SYN-RECEIVED enters FIN-WAIT-1 and the close completes (RFC 9293 3.10.4)', async (t) => {
  const net = new SimNet(3, {}, seen);
  const a = net.addHost(A);
  const b = net.addHost(B);
  const sa = a.connect({ localIp: A, localPort: 5001, remoteIp: B, remotePort: 6001 });
  const sb = b.connect({ localIp: B, localPort: 6001, remoteIp: A, remotePort: 5001 });
  const ca = new Collector();
  const cb = new Collector();
  sa.setHandler(ca);
  sb.setHandler(cb);
  net.run(() => sa.state === 'SYN-RECEIVED', 10_000);
  sa.end();
  t.equal(sa.state, 'FIN-WAIT-1');
  net.run(() => cb.ended, 10_000);
  sb.end();
  net.run(() => ca.closed !== null && cb.closed !== null, 10_000);
  t.ok(ca.ended && cb.ended);
  t.equal(ca.closed, 'closed');
});

t.test('simultaneous close goes FIN-WAIT-1 -> CLOSING -> TIME-WAIT (RFC 9293 3.6)', async (t) => {
  const p = pair(4);
  established(p);
  const log: string[] = [];
  p.a.onTransition = (f, to) => { log.push(`${f}>${to}`); p.net.transitions.add(`${f}>${to}`); };
  p.client.end();
  p.server().end();
  p.net.run(() => p.client.state === 'TIME-WAIT' && p.server().state === 'TIME-WAIT', 10_000);
  t.same(log, ['ESTABLISHED>FIN-WAIT-1', 'FIN-WAIT-1>CLOSING', 'CLOSING>TIME-WAIT']);
  t.equal(p.b.counters.states.CLOSING, 0);
  t.equal(p.b.counters.states['TIME-WAIT'], 1, 'both ends hold TIME-WAIT after a simultaneous close');
});

t.test('connection refused: RST in SYN-SENT -> CLOSED (RFC 9293 3.10.7.3)', async (t) => {
  const net = new SimNet(5, {}, seen);
  const a = net.addHost(A);
  const b = net.addHost(B);
  const s = a.connect({ localIp: A, remoteIp: B, remotePort: 81 });
  const c = new Collector();
  s.setHandler(c);
  net.run(() => c.closed !== null, 10_000);
  t.equal(c.closed, 'refused');
  t.equal(b.counters.resetsSent, 1, 'the closed port answered with RST (3.10.7.1)');
  t.equal(a.counters.resetsReceived, 1);
  t.equal(a.connectionCount, 0);
});

t.test('SYN retransmissions exhaust: SYN-SENT -> CLOSED with a timeout, RTO doubling each time (RFC 6298 5.5)', async (t) => {
  const net = new SimNet(6, {}, seen);
  const a = net.addHost(A, { synRetries: 4 });
  net.capture = [];
  const s = a.connect({ localIp: A, remoteIp: C, remotePort: 80 });
  const c = new Collector();
  s.setHandler(c);
  net.run(() => c.closed !== null, 600_000);
  t.equal(c.closed, 'timeout');
  const times = net.capture.map((x) => x.at);
  t.same(times, [0, 1000, 3000, 7000, 15000], 'SYN sent at 0 then after 1, 2, 4, 8 s');
  t.equal(net.now, 31000, 'gave up after the last RTO (16 s) expired');
});

t.test('destroy() sends RST: ESTABLISHED -> CLOSED on both ends (RFC 9293 3.10.5)', async (t) => {
  const p = pair(7);
  established(p);
  p.client.write(enc.encode('will be dropped'));
  p.client.destroy();
  t.equal(p.client.state, 'CLOSED');
  t.equal(p.cc.closed, 'aborted');
  p.net.run(() => p.sc.closed !== null, 10_000);
  t.equal(p.sc.closed, 'peer_reset');
  t.equal(p.a.counters.resetsSent, 1);
  t.equal(p.b.connectionCount, 0);
});

t.test('destroy in FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT and CLOSING ends in CLOSED (RFC 9293 3.10.5)', async (t) => {
  for (const target of ['FIN-WAIT-1', 'FIN-WAIT-2', 'CLOSE-WAIT', 'CLOSING'] as const) {
    const p = pair(8);
    established(p);
    let victim: TcpSocket = p.client;
    if (target === 'FIN-WAIT-1') {
      p.net.filter = (src) => src !== A;
      p.client.end();
    } else if (target === 'FIN-WAIT-2') {
      p.client.end();
      p.net.run(() => p.client.state === 'FIN-WAIT-2');
    } else if (target === 'CLOSE-WAIT') {
      p.client.end();
      p.net.run(() => p.server().state === 'CLOSE-WAIT');
      victim = p.server();
    } else {
      p.net.filter = (_s, _d, seg) => (segFlags(seg, 0) & FIN) !== 0 && !(p.client.state === 'CLOSING' && p.server().state === 'CLOSING');
      p.client.end();
      p.server().end();
      p.net.run(() => p.client.state === 'CLOSING' && p.server().state === 'CLOSING', 10_000);
    }
    t.equal(victim.state, target, `reached ${target}`);
    victim.destroy();
    t.equal(victim.state, 'CLOSED', `${target} -> CLOSED`);
  }
});

t.test('FIN-WAIT-2 gives up when the peer never closes (FIN-WAIT-2 -> CLOSED)', async (t) => {
  const p = pair(9);
  established(p);
  p.client.end();
  p.net.run(() => p.client.state === 'FIN-WAIT-2');
  p.net.run(() => p.cc.closed !== null, 20_000);
  t.equal(p.cc.closed, 'timeout');
  t.equal(p.a.counters.timeouts, 1);
});

t.test('a SYN cookie ACK creates the connection in ESTABLISHED (LISTEN -> ESTABLISHED, RFC 4987)', async (t) => {
  const net = new SimNet(10, {}, seen);
  const a = net.addHost(A);
  const b = net.addHost(B);
  const got: TcpSocket[] = [];
  const sc = new Collector();
  b.listen({ ip: B, port: 80, synBacklog: 0, onConnection: (s) => { got.push(s); s.setHandler(sc); } });
  const s = a.connect({ localIp: A, remoteIp: B, remotePort: 80 });
  const c = new Collector();
  s.setHandler(c);
  s.write(enc.encode('via cookie'));
  net.run(() => sc.bytes === 10, 10_000);
  t.equal(b.counters.synCookiesSent, 1);
  t.equal(b.counters.synCookiesValid, 1);
  t.equal(sc.text(), 'via cookie');
  t.notOk(got[0].stats().timestamps, 'no timestamps on a cookie connection (not encoded)');
  t.ok(net.transitions.has('LISTEN>ESTABLISHED'));
});

t.test('retransmitted SYN in SYN-RECEIVED brings the SYN-ACK again', async (t) => {
  const net = new SimNet(11, {}, seen);
  const b = net.addHost(B);
  b.listen({ ip: B, port: 80 });
  net.capture = [];
  const syn = forge(C, B, { sport: 4000, dport: 80, seq: 1000, flags: SYN, mss: 1460 });
  net.inject(C, B, syn);
  net.advance(5);
  net.inject(C, B, syn);
  net.advance(5);
  const synacks = net.capture.filter((x) => x.src === B).map((x) => parsed(x.bytes));
  t.equal(synacks.length, 2);
  t.equal(synacks[0].flags, SYN | ACK);
  t.equal(synacks[1].seq, synacks[0].seq, 'same ISS');
  t.equal(synacks[1].ack, 1001);
  t.equal(b.counters.states['SYN-RECEIVED'], 1, 'one TCB, not two');
});

t.test('an ACK on a listener without a SYN gets RST <SEQ=SEG.ACK> (RFC 9293 3.10.7.2)', async (t) => {
  const net = new SimNet(12, {}, seen);
  const b = net.addHost(B);
  b.listen({ ip: B, port: 80 });
  net.capture = [];
  net.inject(C, B, forge(C, B, { sport: 4001, dport: 80, seq: 5, ack: 777, flags: ACK }));
  net.advance(2);
  const out = net.capture.filter((x) => x.src === B).map((x) => parsed(x.bytes));
  t.equal(out.length, 1);
  t.equal(out[0].flags, RST);
  t.equal(out[0].seq, 777);
});

t.test('a segment for no connection gets RST|ACK with ACK = SEG.SEQ + SEG.LEN (RFC 9293 3.10.7.1)', async (t) => {
  const net = new SimNet(13, {}, seen);
  const b = net.addHost(B);
  net.capture = [];
  net.inject(C, B, forge(C, B, { sport: 4002, dport: 9, seq: 100, flags: PSH_NONE(), data: enc.encode('abc') }));
  net.inject(C, B, forge(C, B, { sport: 4002, dport: 9, seq: 100, flags: RST }));
  net.advance(2);
  const out = net.capture.filter((x) => x.src === B).map((x) => parsed(x.bytes));
  t.equal(out.length, 1, 'nothing is sent in answer to a RST');
  t.equal(out[0].flags, RST | ACK);
  t.equal(out[0].ack, 103);
  t.equal(b.counters.drops.no_socket, 2);
});

function PSH_NONE(): number {
  return 0;
}

// RFC 5961 in every synchronized state: an exact RST resets, an in-window RST or any SYN draws a
// challenge ACK, an out-of-window RST is ignored.
type Target = 'SYN-RECEIVED' | 'ESTABLISHED' | 'FIN-WAIT-1' | 'FIN-WAIT-2' | 'CLOSE-WAIT' | 'CLOSING' | 'LAST-ACK' | 'TIME-WAIT';
const TARGETS: Target[] = ['SYN-RECEIVED', 'ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2', 'CLOSE-WAIT', 'CLOSING', 'LAST-ACK', 'TIME-WAIT'];

/** Drive a connection into `target`; returns the layer holding it, the peer's address and the ports. */
function into(target: Target, seed: number): { net: SimNet; layer: TcpLayer; peer: number; self: number; lport: number; rport: number } {
  if (target === 'SYN-RECEIVED') {
    const net = new SimNet(seed, {}, seen);
    const b = net.addHost(B);
      b.listen({ ip: B, port: 80 });
    net.inject(C, B, forge(C, B, { sport: 4100, dport: 80, seq: 5000, flags: SYN, mss: 1460 }));
    net.advance(2);
    return { net, layer: b, peer: C, self: B, lport: 80, rport: 4100 };
  }
  const p = pair(seed, 60_000);
  established(p);
  const clientSide = { net: p.net, layer: p.a, peer: B, self: A, lport: p.client.localPort, rport: 80 };
  const serverSide = { net: p.net, layer: p.b, peer: A, self: B, lport: 80, rport: p.client.localPort };
  switch (target) {
    case 'ESTABLISHED':
      return clientSide;
    case 'FIN-WAIT-1':
      p.net.filter = (src) => src !== A;
      p.client.end();
      p.net.advance(2);
      return clientSide;
    case 'FIN-WAIT-2':
      p.client.end();
      p.net.run(() => p.client.state === 'FIN-WAIT-2');
      return clientSide;
    case 'CLOSE-WAIT':
      p.client.end();
      p.net.run(() => p.server().state === 'CLOSE-WAIT');
      return serverSide;
    case 'LAST-ACK':
      p.client.end();
      p.net.run(() => p.server().state === 'CLOSE-WAIT');
      p.net.filter = (src) => src !== B;
      p.server().end();
      p.net.advance(2);
      return serverSide;
    case 'CLOSING': {
      let frozen = false;
      p.net.filter = (_s, _d, seg) => !frozen && (segFlags(seg, 0) & FIN) !== 0;
      p.client.end();
      p.server().end();
      p.net.run(() => (frozen = p.client.state === 'CLOSING' && p.server().state === 'CLOSING'), 10_000);
      return clientSide;
    }
    case 'TIME-WAIT':
      p.client.end();
      p.net.run(() => p.sc.ended);
      p.server().end();
      p.net.run(() => p.client.state === 'TIME-WAIT');
      return clientSide;
  }
}

for (const target of TARGETS) {
  t.test(`RFC 5961 in ${target}: in-window RST and SYN get challenge ACKs, out-of-window RST is ignored, exact RST resets (TIME-WAIT: RFC 1337)`, async (t) => {
    const s = into(target, 20 + TARGETS.indexOf(target));
    const find = () => conn(s.layer, s.rport);
    const info = find();
    t.equal(info?.state, target, `reached ${target}`);
    if (!info) return;
    const c = s.layer.counters;
    const send = (seq: number, fl: number) => {
      s.net.inject(s.peer, s.self, forge(s.peer, s.self, { sport: s.rport, dport: s.lport, seq, ack: info.sndNxt, flags: fl }));
      s.net.advance(1);
    };
    const ch0 = c.challengeAcks;
    if (target === 'TIME-WAIT') {
      // RFC 1337 TWA-1: every RST is ignored in TIME-WAIT, even at RCV.NXT, and draws no ACK.
      send(info.rcvNxt + 10, RST);
      send(info.rcvNxt, RST);
      t.equal(c.challengeAcks, ch0, 'no challenge ACK for a RST in TIME-WAIT');
      t.equal(c.drops.time_wait_rst, 2);
      t.equal(find()?.state, 'TIME-WAIT', 'TIME-WAIT survives (RFC 1337)');
      send(info.rcvNxt + 7, SYN);
      t.equal(c.challengeAcks, ch0 + 1, 'SYN in TIME-WAIT without a listener: challenge ACK (RFC 5961 4.2)');
      t.equal(find()?.state, 'TIME-WAIT');
      return;
    }
    send(info.rcvNxt + 10, RST);
    t.equal(c.challengeAcks, ch0 + 1, 'RST inside the window but not at RCV.NXT: challenge ACK (RFC 5961 3.2)');
    t.equal(find()?.state, target, 'state unchanged');
    send(info.rcvNxt + 0x40000000, RST);
    t.equal(c.challengeAcks, ch0 + 1, 'RST outside the window: dropped without an answer');
    t.equal(find()?.state, target);
    send(info.rcvNxt + 7, SYN);
    t.equal(c.challengeAcks, ch0 + 2, 'SYN in a synchronized state: challenge ACK (RFC 5961 4.2)');
    t.equal(find()?.state, target, 'state unchanged');
    send(info.rcvNxt, RST);
    t.equal(find(), undefined, 'RST at exactly RCV.NXT: connection reset (CLOSED)');
  });
}

t.test('an ACK for data never sent gets an ACK and is dropped (RFC 5961 5.2)', async (t) => {
  const p = pair(30);
  established(p);
  const info = conn(p.a, 80)!;
  const ch0 = p.a.counters.challengeAcks;
  p.net.inject(B, A, forge(B, A, { sport: 80, dport: p.client.localPort, seq: info.rcvNxt, ack: info.sndNxt + 100000, flags: ACK, data: enc.encode('x') }));
  p.net.advance(2);
  t.equal(p.a.counters.challengeAcks, ch0 + 1);
  t.equal(p.cc.bytes, 0, 'its data was not accepted');
  t.equal(p.client.state, 'ESTABLISHED');
});

t.test('challenge ACKs are rate limited per second (RFC 5961 7)', async (t) => {
  const net = new SimNet(31, {}, seen);
  const a = net.addHost(A, { challengeAckLimit: 5 });
  const b = net.addHost(B);
  b.listen({ ip: B, port: 80 });
  const s = a.connect({ localIp: A, remoteIp: B, remotePort: 80 });
  s.setHandler(new Collector());
  net.run(() => s.state === 'ESTABLISHED');
  const info = conn(a, 80)!;
  for (let i = 0; i < 20; i++) net.inject(B, A, forge(B, A, { sport: 80, dport: s.localPort, seq: info.rcvNxt + 5 + i, flags: RST }));
  net.advance(1);
  t.equal(a.counters.challengeAcks, 5);
  t.equal(a.counters.challengeAcksLimited, 15);
  net.advance(1500);
  net.inject(B, A, forge(B, A, { sport: 80, dport: s.localPort, seq: info.rcvNxt + 50, flags: RST }));
  net.advance(1);
  t.equal(a.counters.challengeAcks, 6, `the budget refills after a second (limited ${a.counters.challengeAcksLimited}, drops ${JSON.stringify(a.counters.drops)})`);
});

t.test('a segment failing the checksum or with malformed options is dropped and counted', async (t) => {
  const net = new SimNet(32, {}, seen);
  const b = net.addHost(B);
  b.listen({ ip: B, port: 80 });
  const bad = forge(C, B, { sport: 4200, dport: 80, seq: 1, flags: SYN, mss: 1460 });
  bad[bad.length - 1] ^= 0xff;
  net.inject(C, B, bad);
  // MSS option with length 5: parse error, even though the checksum is right.
  const opt = forge(C, B, { sport: 4201, dport: 80, seq: 1, flags: SYN, mss: 1460 });
  opt[21] = 5;
  opt[16] = 0;
  opt[17] = 0;
  const { fillChecksum } = await import('../../../src/net/wire/tcp.js');
  fillChecksum(opt, 0, opt.length, C, B);
  net.inject(C, B, opt);
  net.advance(2);
  t.equal(b.counters.checksumErrors, 1);
  t.equal(b.counters.drops.checksum, 1);
  t.equal(b.counters.drops.options_truncated ?? b.counters.drops.options_bad_length, 1);
  t.equal(b.counters.states['SYN-RECEIVED'], 0, 'neither created a connection');
});

t.test('every transition of the state machine was exercised by this file', async (t) => {
  const missing = TRANSITIONS.filter((x) => !seen.has(x));
  const unknown = [...seen].filter((x) => !TRANSITIONS.includes(x));
  t.same(missing, [], 'no transition left untested');
  t.same(unknown, [], 'no transition outside the documented list');
});
