// The byte stores of a connection checked against simple models: the ring, the reassembly list
// (and the SACK blocks it produces), and the sender's scoreboard.

import t from 'tap';
import { ByteRing, Reassembly, Scoreboard, ringPoolBytes } from '../../../src/net/tcp/buffers.js';
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

t.test('ByteRing: storage sized to what is pushed, up to firstMax, then doubling', async (t) => {
  const r = new ByteRing(64 * 1024);
  r.push(new Uint8Array(300));
  t.equal(r.capacity, 1024, 'a small write takes 1 KiB, not the 64 KiB a whole send buffer might need');
  r.push(new Uint8Array(1000));
  t.equal(r.capacity, 2048, 'doubles when it must');
  const big = new ByteRing(64 * 1024);
  big.push(new Uint8Array(40_000));
  t.equal(big.capacity, 64 * 1024, 'one large push: the power of two that holds it');
  const huge = new ByteRing(64 * 1024);
  huge.push(new Uint8Array(100_000));
  t.equal(huge.capacity, 128 * 1024, 'beyond firstMax: doubling from firstMax');
  const odd = new ByteRing(3000);
  odd.push(new Uint8Array(2500));
  t.equal(odd.capacity, 3000, 'a firstMax that is no power of two caps the first storage');
});

t.test('ByteRing.sweep: releases a ring only after it stayed empty and unused for a whole period', async (t) => {
  const r = new ByteRing(64 * 1024);
  t.equal(r.sweep(), 0, 'nothing held, nothing released');
  r.push(new Uint8Array(500).fill(1));
  t.equal(r.sweep(), 0, 'holding bytes: kept');
  r.consume(500);
  t.equal(r.capacity, 1024, 'emptied by a consume: kept (a busy connection reuses it)');
  t.equal(r.sweep(), 0, 'empty, but pushed to since the previous sweep: kept');
  r.push(new Uint8Array(10));
  r.consume(10);
  t.equal(r.sweep(), 0, 'used again during the period: kept');
  const pooled = ringPoolBytes();
  t.equal(r.sweep(), 1024, 'a whole period empty and unused: released');
  t.equal(r.capacity, 0);
  t.equal(ringPoolBytes(), pooled + 1024, 'into the shared pool');
  t.equal(r.sweep(), 0, 'nothing left to release');
});

t.test('ByteRing pool: released storage is reused by the next ring of that size, and the pool is bounded', async (t) => {
  // 3000: a size no other test here releases, so the pool starts with none of it.
  const a = new ByteRing(3000);
  a.push(new Uint8Array(2500).fill(9));
  t.equal(a.capacity, 3000);
  const pooled0 = ringPoolBytes();
  a.consume(2500);
  a.release();
  t.equal(ringPoolBytes(), pooled0 + 3000, 'released into the pool');
  const b = new ByteRing(3000);
  b.push(new Uint8Array(2500).fill(1));
  t.equal(ringPoolBytes(), pooled0, 'taken back out by the next ring that needs that size');
  const out = new Uint8Array(2500);
  b.copyOut(0, out, 0, 2500);
  t.ok(out.every((v) => v === 1), 'a reused buffer holds exactly what was pushed');
  b.push(new Uint8Array(1000));
  t.equal(b.capacity, 6000, 'grown');
  t.equal(ringPoolBytes(), pooled0 + 3000, 'the outgrown buffer went to the pool');
  b.release();
  t.equal(b.capacity, 6000, 'release() keeps storage that still holds bytes');

  const rings = Array.from({ length: 100 }, () => new ByteRing(64 * 1024));
  for (const r of rings) r.push(new Uint8Array(40_000));
  for (const r of rings) {
    r.consume(40_000);
    r.release();
  }
  t.equal(rings.filter((r) => r.capacity > 0).length, 0, 'no ring holds storage');
  t.ok(ringPoolBytes() <= 4 * 1024 * 1024, `the pool holds ${ringPoolBytes()} bytes, at most 4 MiB`);
  t.ok(ringPoolBytes() > 4 * 1024 * 1024 - 64 * 1024, 'and is full: the other buffers were left to the GC');
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
