// Bulk transfer across the simulated wire with loss, reordering and duplication: the data must
// arrive intact (compared by hash) and the counters must add up.

import t from 'tap';
import { createHash } from 'node:crypto';
import type { TcpConfig } from '../../../src/net/tcp/types.js';
import { Collector, Prng, SimNet, ip } from './sim.js';

const A = ip('198.18.0.1');
const B = ip('198.18.0.2');
const MB = 1024 * 1024;

function payload(n: number, seed: number): Uint8Array {
  const r = new Prng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i + 4 <= n; i += 4) b.writeUInt32LE((r.next() * 2 ** 32) >>> 0, i);
  return b;
}

const DATA = payload(50 * MB, 42);
const DATA_HASH = createHash('sha256').update(DATA).digest('hex');

function bulk(seed: number, loss: number, cfg: Partial<TcpConfig> = {}) {
  const net = new SimNet(seed, { loss, reorder: 0.02, dup: 0.01, delayMs: 5, reorderMs: 3 });
  const a = net.addHost(A, cfg);
  const b = net.addHost(B, cfg);
  const h = createHash('sha256');
  let got = 0;
  let ended = false;
  b.listen({
    ip: B,
    port: 80,
    onConnection: (s) => s.setHandler({ onData: (c) => { h.update(c); got += c.length; }, onEnd: () => { ended = true; s.end(); }, onDrain() {}, onClose() {} }),
  });
  const s = a.connect({ localIp: A, remoteIp: B, remotePort: 80 });
  let off = 0;
  const pump = () => {
    while (off < DATA.length) {
      const n = Math.min(64 * 1024, DATA.length - off);
      const ok = s.write(DATA.subarray(off, off + n));
      off += n;
      if (!ok) return;
    }
    s.end();
  };
  const c = new Collector();
  c.onDrain = pump;
  s.setHandler(c);
  pump();
  const t0 = performance.now();
  const done = net.run(() => ended && c.closed !== null && b.connectionCount === 0, 24 * 3600_000);
  const wallMs = performance.now() - t0;
  return { done, got, hash: h.digest('hex'), wallMs, simMs: net.now, net, a, b, stats: s.stats() };
}

for (const [loss, seed, cfg] of [
  [0.01, 1, {}],
  [0.05, 2, {}],
  [0.1, 3, {}],
  [0.05, 4, { sack: false }],
] as const) {
  const name = `${(loss * 100).toFixed(0)}% loss, 2% reordering, 1% duplication${'sack' in cfg ? ', no SACK (NewReno)' : ''}`;
  t.test(`50 MB arrive intact with ${name}`, async (t) => {
    const r = bulk(seed, loss, cfg);
    t.ok(r.done, 'transfer and close completed');
    t.equal(r.got, DATA.length, 'byte count');
    t.equal(r.hash, DATA_HASH, 'sha256 of what arrived equals what was sent');
    const ac = r.a.counters;
    const bc = r.b.counters;
    // Counters that must add up.
    t.equal(ac.checksumErrors + bc.checksumErrors, 0);
    t.equal(ac.resetsSent + bc.resetsSent, 0, 'no resets in an orderly transfer');
    t.equal(ac.timeouts + bc.timeouts, 0, 'no connection gave up');
    t.equal(bc.segmentsIn + ac.segmentsIn, r.net.delivered, 'every delivered segment was counted in');
    t.equal(ac.segmentsOut + bc.segmentsOut, r.net.delivered + r.net.lost - r.net.duplicated, 'every sent segment was delivered, lost or duplicated');
    t.ok(ac.retransmits >= r.net.lost * 0.5 * (r.stats.segmentsOut / (r.stats.segmentsOut + r.stats.segmentsIn)), `retransmits (${ac.retransmits}) cover the data segments lost`);
    t.ok(ac.retransmittedBytes <= DATA.length * loss * 4, `retransmitted ${(ac.retransmittedBytes / MB).toFixed(1)} MB for ${(loss * 100).toFixed(0)}% loss`);
    t.equal(r.stats.bytesOut, DATA.length, 'bytes acknowledged');
    t.equal(ac.states.ESTABLISHED + bc.states.ESTABLISHED, 0);
    t.comment(
      `${name}: wall ${r.wallMs.toFixed(0)} ms (${(DATA.length / 1e6 / (r.wallMs / 1000)).toFixed(1)} MB/s of CPU), ` +
        `simulated ${(r.simMs / 1000).toFixed(1)} s (${(DATA.length / 1e6 / (r.simMs / 1000)).toFixed(2)} MB/s on the wire), ` +
        `lost ${r.net.lost}, retransmits ${ac.retransmits}, RTOs ${ac.rtoExpirations}, fast recoveries ${ac.fastRecoveries}, TLPs ${ac.tailLossProbes}`,
    );
  });
}

t.test('bidirectional: 10 MB each way at once with 3% loss', async (t) => {
  const net = new SimNet(9, { loss: 0.03, reorder: 0.02, dup: 0.01, delayMs: 3 });
  const a = net.addHost(A);
  const b = net.addHost(B);
  const part = DATA.subarray(0, 10 * MB);
  const want = createHash('sha256').update(part).digest('hex');
  const hb = createHash('sha256');
  const ha = createHash('sha256');
  let gotB = 0;
  let gotA = 0;
  const feed = (s: { write(c: Uint8Array): boolean; end(): void }) => {
    let off = 0;
    return () => {
      while (off < part.length) {
        const n = Math.min(32 * 1024, part.length - off);
        const ok = s.write(part.subarray(off, off + n));
        off += n;
        if (!ok) return;
      }
      s.end();
    };
  };
  let closedB = false;
  b.listen({
    ip: B,
    port: 80,
    onConnection: (s) => {
      const pump = feed(s);
      s.setHandler({ onData: (c) => { hb.update(c); gotB += c.length; }, onEnd() {}, onDrain: pump, onClose: () => { closedB = true; } });
      pump();
    },
  });
  const s = a.connect({ localIp: A, remoteIp: B, remotePort: 80 });
  const pumpA = feed(s);
  let closedA = false;
  s.setHandler({ onData: (c) => { ha.update(c); gotA += c.length; }, onEnd() {}, onDrain: pumpA, onClose: () => { closedA = true; } });
  pumpA();
  net.run(() => closedA && closedB, 24 * 3600_000);
  t.equal(gotA, part.length);
  t.equal(gotB, part.length);
  t.equal(ha.digest('hex'), want);
  t.equal(hb.digest('hex'), want);
});
