// The byte stores of a connection checked against simple models: the ring, the reassembly list
// (and the SACK blocks it produces), and the sender's scoreboard.

import t from 'tap';
import { ByteRing, Reassembly, Scoreboard } from '../../../src/net/tcp/buffers.js';
import { Prng } from './sim.js';

t.test('ByteRing: pushes, partial reads and consumes across the wrap match a plain array, growing on demand', async (t) => {
  const r = new ByteRing(16);
  const model: number[] = [];
  const rng = new Prng(1);
  let next = 0;
  let bad = 0;
  for (let step = 0; step < 2000; step++) {
    if (rng.next() < 0.55) {
      const n = (rng.next() * 40) | 0;
      const chunk = new Uint8Array(n);
      for (let i = 0; i < n; i++) chunk[i] = next++ & 0xff;
      r.push(chunk);
      model.push(...chunk);
    } else if (r.length > 0) {
      const at = (rng.next() * r.length) | 0;
      const n = Math.min(r.length - at, (rng.next() * 30) | 0);
      const out = new Uint8Array(n);
      r.copyOut(at, out, 0, n);
      if (out.some((v, i) => v !== model[at + i])) bad++;
      const head = r.peekContiguous(1000);
      if (head.some((v, i) => v !== model[i])) bad++;
      const k = Math.min(r.length, (rng.next() * 30) | 0);
      r.consume(k);
      model.splice(0, k);
    }
    if (r.length !== model.length) bad++;
  }
  t.equal(bad, 0);
  t.ok(r.capacity >= 16);
  r.clear();
  r.release();
  t.equal(r.capacity, 0, 'release() frees the storage');
});

t.test('Reassembly: out-of-order pieces with overlaps and duplicates come back in order, once', async (t) => {
  const rng = new Prng(2);
  const base = 0xfffff000; // crosses the 2^32 wrap
  const total = 20_000;
  const data = new Uint8Array(total);
  for (let i = 0; i < total; i++) data[i] = (i * 7) & 0xff;
  const re = new Reassembly();
  let rcvNxt = base;
  const out: number[] = [];
  for (let i = 0; i < 3000 && out.length < total; i++) {
    const start = (rng.next() * total) | 0;
    const len = Math.min(total - start, 1 + ((rng.next() * 1500) | 0));
    const seq = (base + start) >>> 0;
    const delivered = (rcvNxt - base) >>> 0;
    if (start <= delivered) {
      // In order (or overlapping what we have): take the new part, then drain reassembly.
      const skip = delivered - start;
      if (skip < len) {
        const piece = data.subarray(start + skip, start + len);
        out.push(...piece);
        rcvNxt = (rcvNxt + piece.length) >>> 0;
      }
      for (let p = re.takeAt(rcvNxt); p !== null; p = re.takeAt(rcvNxt)) {
        out.push(...p);
        rcvNxt = (rcvNxt + p.length) >>> 0;
      }
    } else {
      re.insert(seq, data.subarray(start, start + len));
    }
  }
  // Fill whatever is left in order.
  while (out.length < total) {
    const start = out.length;
    out.push(...data.subarray(start, Math.min(total, start + 1000)));
    rcvNxt = (base + out.length) >>> 0;
    for (let p = re.takeAt(rcvNxt); p !== null; p = re.takeAt(rcvNxt)) {
      out.push(...p);
      rcvNxt = (rcvNxt + p.length) >>> 0;
    }
  }
  t.equal(out.length, total);
  t.ok(out.every((v, i) => v === data[i]), 'bytes in order and intact');
});

t.test('Reassembly SACK blocks: merged, the latest segment first, rotation reaches every block', async (t) => {
  const re = new Reassembly();
  const seg = (s: number) => re.insert(s, new Uint8Array(100));
  for (const s of [1100, 1200, 1400, 1600, 1800, 1300]) seg(s);
  // Held: [1100,1500) merged, [1600,1700), [1800,1900); the latest insert was 1300.
  const L = new Uint32Array(4);
  const R = new Uint32Array(4);
  const n = re.sackBlocks(L, R, 3);
  t.equal(n, 3);
  t.same([L[0], R[0]], [1100, 1500], 'the block holding the most recent segment comes first (RFC 2018 4)');
  t.same([...L.subarray(1, 3)], [1800, 1600], 'then the others, highest first');
  for (const s of [2000, 2200]) seg(s);
  const seen = new Set<number>();
  for (let k = 0; k < 4; k++) {
    const m = re.sackBlocks(L, R, 3, k);
    for (let i = 0; i < m; i++) seen.add(L[i]);
  }
  t.same([...seen].sort((a, b) => a - b), [1100, 1600, 1800, 2000, 2200], 'over a few ACKs, every block is reported');
});

t.test('Scoreboard: merges SACKed ranges, counts bytes, finds holes and forgets what is cumulatively acked', async (t) => {
  const sb = new Scoreboard();
  sb.add(2000, 3000);
  sb.add(5000, 6000);
  sb.add(2500, 4000);
  t.same([sb.left, sb.right], [[2000, 5000], [4000, 6000]]);
  t.equal(sb.sacked, 3000);
  t.equal(sb.high, 6000);
  t.ok(sb.isSacked(3999) && !sb.isSacked(4000));
  t.equal(sb.holeEnd(1000), 2000, 'hole [1000, 2000)');
  t.equal(sb.holeEnd(2500), -1, 'inside a SACKed range');
  t.equal(sb.skipSacked(2500), 4000);
  t.equal(sb.holesBelow(1000, 6000), 1000 + 1000);
  sb.advance(2500);
  t.equal(sb.sacked, 2500, 'bytes below the ACK no longer count');
  sb.advance(7000);
  t.ok(sb.empty);
  t.equal(sb.sacked, 0);
});
