// Robustness: a live connection keeps working while a storm of mutated segments hits both ends
// (each with a valid checksum, so it reaches the state machine). The mutations start from real
// segments recorded early in the transfer, replayed once both streams have moved on by more than
// a window: stale sequence numbers must be rejected whatever else is wrong with the segment.
// (A forgery carrying the exact next sequence number cannot be told from the real thing by any
// TCP; RFC 5961 narrows that to exact matches, and states.test.ts covers those cases.)

import t from 'tap';
import { createHash } from 'node:crypto';
import { fillChecksum, headerLen, TCP_HEADER_MIN } from '../../../src/net/wire/tcp.js';
import { Collector, Prng, SimNet, ip } from './sim.js';

const A = ip('198.18.0.1');
const B = ip('198.18.0.2');

t.test('20 000 mutated stale segments against a live echo connection: no exception, both streams intact', async (t) => {
  const net = new SimNet(1, { loss: 0.01, reorder: 0.02 });
  const a = net.addHost(A);
  const b = net.addHost(B);
  const rng = new Prng(99);
  b.listen({ ip: B, port: 80, onConnection: (s) => s.setHandler({ onData: (c) => s.write(c), onEnd: () => s.end(), onDrain() {}, onClose() {} }) });
  const data = new Uint8Array(4 * 1024 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (rng.next() * 256) | 0;
  const s = a.connect({ localIp: A, remoteIp: B, remotePort: 80 });
  const h = createHash('sha256');
  const c = new Collector(false);
  const onData = c.onData.bind(c);
  c.onData = (chunk) => {
    h.update(chunk);
    onData(chunk);
  };
  s.setHandler(c);
  s.write(data);
  s.end();
  const samples: Uint8Array[] = [];
  net.filter = (_src, _dst, seg) => {
    if (samples.length < 100) samples.push(seg.slice());
    return true;
  };
  let injected = 0;
  const kinds = [0, 0, 0, 0];
  const ok = net.run(() => {
    if (c.bytes >= 1024 * 1024 && injected < 20_000) {
      for (let k = 0; k < 20; k++) {
        let m = samples[(rng.next() * samples.length) | 0].slice();
        const hl = Math.max(TCP_HEADER_MIN, Math.min(headerLen(m, 0), m.length));
        const kind = (rng.next() * 4) | 0;
        kinds[kind]++;
        if (kind === 0) {
          // flip bits anywhere in the header and options, data offset and flags included
          for (let j = 0; j < 3; j++) m[(rng.next() * hl) | 0] ^= 1 << ((rng.next() * 8) | 0);
        } else if (kind === 1) {
          // any flags at all
          m[13] = (rng.next() * 256) | 0;
        } else if (kind === 2) {
          // random sequence and acknowledgment numbers on a header-only segment (a guessed
          // in-window sequence carrying data would be blind injection, out of scope here)
          m = m.slice(0, hl);
          for (let j = 4; j < 12; j++) m[j] = (rng.next() * 256) | 0;
          m[13] &= ~0x05; // a random sequence is at RCV.NXT with odds 2^-32; keep the test exact
        } else {
          // garbage in the options area
          for (let j = 20; j < hl; j++) if (rng.next() < 0.5) m[j] = (rng.next() * 256) | 0;
        }
        const fromA = ((m[0] << 8) | m[1]) !== 80;
        const src = fromA ? A : B;
        const dst = fromA ? B : A;
        fillChecksum(m, 0, m.length, src, dst);
        net.inject(src, dst, m, rng.next() * 5);
        injected++;
      }
    }
    return c.closed !== null && b.connectionCount === 0;
  }, 3_600_000);
  t.equal(injected, 20_000, `mutations by kind (bit flips, flags, seq/ack, options): ${kinds.join(', ')}`);
  t.ok(ok, 'transfer and close completed');
  t.equal(c.closed, 'closed', `closed: ${c.closed} ${c.closeError?.message ?? ''}`);
  t.equal(c.bytes, data.length, 'every byte echoed');
  t.equal(h.digest('hex'), createHash('sha256').update(data).digest('hex'), 'and intact');
  t.comment(`A drops: ${JSON.stringify(a.counters.drops)}; B drops: ${JSON.stringify(b.counters.drops)}; challenge ACKs ${a.counters.challengeAcks + b.counters.challengeAcks}`);
});
