import t, { type Test } from 'tap';
import { createMemoryWire, type MemoryWire, type MemoryWireOptions, type WireDirectionStats } from '../../src/io/memory.js';
import { createFrameBatch, type FrameBatch } from '../../src/io/port.js';
import { Rng } from '../../src/io/rng.js';
import { SluiceError } from '../../src/errors.js';

// Frame k: 14-byte Ethernet header, then k as u32, then bytes derived from k; length 60..1514.
function frameLength(k: number): number {
  return 60 + ((k * 7919) % 1455);
}
function fill(batch: FrameBatch, slot: number, k: number): void {
  const len = frameLength(k);
  const o = slot * batch.slotSize;
  const d = batch.data;
  for (let i = 0; i < len; i++) d[o + i] = (k * 31 + i * 17) & 0xff;
  d[o + 14] = k >>> 24;
  d[o + 15] = (k >>> 16) & 0xff;
  d[o + 16] = (k >>> 8) & 0xff;
  d[o + 17] = k & 0xff;
  batch.lengths[slot] = len;
}
function idOf(batch: FrameBatch, slot: number): number {
  const o = slot * batch.slotSize + 14;
  const d = batch.data;
  return ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;
}
/** Number of bits that differ from the pristine frame k (0 = intact). */
function bitErrors(batch: FrameBatch, slot: number, k: number): number {
  const len = batch.lengths[slot]!;
  if (len !== frameLength(k)) return -1;
  const o = slot * batch.slotSize;
  let bits = 0;
  for (let i = 0; i < len; i++) {
    let want = (k * 31 + i * 17) & 0xff;
    if (i >= 14 && i < 18) want = (k >>> (8 * (17 - i))) & 0xff;
    let x = batch.data[o + i]! ^ want;
    while (x) {
      bits += x & 1;
      x >>>= 1;
    }
  }
  return bits;
}

interface Delivery {
  id: number;
  at: number;
  bits: number;
}

/**
 * Sends `total` frames a->b, `perMs` per simulated millisecond, receiving as it goes, then drains.
 * The id is read from a corruption-proof side table (send order) when the id bytes were hit.
 */
function run(wire: MemoryWire, total: number, perMs: number): { got: Delivery[]; sentAt: Float64Array } {
  const tx = createFrameBatch(64, 1536);
  const rx = createFrameBatch(64, 1536);
  const sentAt = new Float64Array(total);
  const got: Delivery[] = [];
  let next = 0;
  const receive = (): void => {
    for (;;) {
      const n = wire.b.rxBurst(rx);
      for (let i = 0; i < n; i++) {
        let id = idOf(rx, i);
        let bits = id < total ? bitErrors(rx, i, id) : -1;
        if (bits < 0 || bits > 1) {
          // The flipped bit hit the id itself: find the one id whose pristine frame is 1 bit away.
          for (let b = 0; b < 32; b++) {
            const cand = (id ^ (1 << b)) >>> 0;
            if (cand < total && bitErrors(rx, i, cand) === 1) {
              id = cand;
              bits = 1;
              break;
            }
          }
        }
        got.push({ id, at: wire.now(), bits });
      }
      if (n < rx.capacity) break;
    }
  };
  while (next < total) {
    let n = 0;
    while (n < perMs && next < total) {
      fill(tx, n, next);
      sentAt[next] = wire.now();
      n++;
      next++;
    }
    wire.a.txBurst(tx, n);
    receive();
    wire.advance(1);
  }
  while (wire.nextDeliveryAt() !== Infinity) {
    wire.setTime(Math.max(wire.now(), wire.nextDeliveryAt()));
    receive();
  }
  return { got, sentAt };
}

function explains(t: Test, s: WireDirectionStats, label: string): void {
  t.equal(s.sent - s.tooBig - s.lost + s.duplicated, s.ringFull + s.delivered + s.rxTooBig + s.inFlight, `${label}: every frame is accounted for ${JSON.stringify(s)}`);
}

function within(t: { ok: (v: boolean, m: string) => void }, name: string, count: number, trials: number, p: number): void {
  const rate = count / trials;
  const sigma = Math.sqrt((p * (1 - p)) / trials);
  t.ok(Math.abs(rate - p) <= 5 * sigma, `${name}: ${count}/${trials} = ${rate.toFixed(5)} vs ${p} (5 sigma = ${(5 * sigma).toFixed(5)})`);
}

t.test('the same seed gives the same loss, duplication and reordering pattern; another seed does not', async (t) => {
  const opts: MemoryWireOptions = { seed: 42, loss: 0.1, duplicate: 0.05, reorder: 0.05, corrupt: 0.02, delayMs: 2, jitterMs: 3 };
  const one = run(createMemoryWire(opts), 20_000, 16).got;
  const two = run(createMemoryWire(opts), 20_000, 16).got;
  const other = run(createMemoryWire({ ...opts, seed: 43 }), 20_000, 16).got;
  t.same(two, one, 'same seed: identical deliveries (ids, times, bit errors)');
  t.not(JSON.stringify(other.map((d) => d.id)), JSON.stringify(one.map((d) => d.id)), 'another seed: a different pattern');
  // Streams are independent per impairment: turning duplication off keeps the loss pattern.
  const noDup = run(createMemoryWire({ ...opts, duplicate: 0, reorder: 0, corrupt: 0 }), 20_000, 16).got;
  const lostIds = (ds: Delivery[]): number[] => {
    const seen = new Uint8Array(20_000);
    for (const d of ds) seen[d.id] = 1;
    return [...seen.keys()].filter((k) => seen[k] === 0);
  };
  t.same(lostIds(noDup), lostIds(one), 'the loss pattern does not depend on the other rates');
});

t.test('impairment rates are within 5 sigma over 100k frames and the counters explain every frame', async (t) => {
  const p = { loss: 0.05, duplicate: 0.03, reorder: 0.02, corrupt: 0.01 };
  const wire = createMemoryWire({ seed: 7, ...p, delayMs: 10, jitterMs: 5, capacity: 4096 });
  const N = 100_000;
  const { got, sentAt } = run(wire, N, 32);
  const s = wire.stats().aToB;
  explains(t, s, 'a->b');
  t.equal(s.sent, N);
  t.equal(s.ringFull, 0, 'the ring never filled');
  t.equal(s.inFlight, 0, 'drained');
  within(t, 'loss', s.lost, N, p.loss);
  within(t, 'duplicate', s.duplicated, N - s.lost, p.duplicate);
  within(t, 'reorder', s.reordered, N - s.lost, p.reorder);
  // A duplicated corrupted frame is corrupted in both copies, so count draws, not copies.
  const corruptedDraws = got.filter((d, i) => d.bits === 1 && !(i > 0 && got[i - 1]!.id === d.id)).length;
  within(t, 'corrupt', corruptedDraws, N - s.lost, p.corrupt);

  t.equal(got.length, s.delivered, 'every delivery was seen by rxBurst');
  t.equal(got.filter((d) => d.bits === 1).length, s.corrupted, 'corrupted frames carry exactly one flipped bit');
  t.equal(got.filter((d) => d.bits !== 0 && d.bits !== 1).length, 0, 'no other damage');
  const copies = new Map<number, number>();
  for (const d of got) copies.set(d.id, (copies.get(d.id) ?? 0) + 1);
  t.equal([...copies.values()].filter((c) => c === 2).length, s.duplicated, 'each duplicate arrives exactly twice');
  t.equal(N - copies.size, s.lost, 'missing ids are exactly the lost frames');

  // Delay: in-order frames take delayMs + [0, jitterMs]; held frames reorderHoldMs (= 15) more.
  let minD = Infinity;
  let maxD = 0;
  let held = 0;
  for (const d of got) {
    const delay = d.at - sentAt[d.id]!;
    if (delay > 15) held++;
    else {
      minD = Math.min(minD, delay);
      maxD = Math.max(maxD, delay);
    }
  }
  t.ok(minD >= 10 && maxD <= 15, `in-order delay within [10, 15] ms: [${minD}, ${maxD}]`);
  t.ok(held >= s.reordered && held <= s.reordered * 2, `held frames (${held}) are the reordered ones and their copies (${s.reordered})`);
  t.ok(s.deliveredOutOfOrder > 0 && s.deliveredOutOfOrder <= s.reordered + s.duplicated, `observed out-of-order deliveries: ${s.deliveredOutOfOrder}`);
});

t.test('jitter alone never reorders: the link stays FIFO', async (t) => {
  const wire = createMemoryWire({ seed: 3, delayMs: 1, jitterMs: 20 });
  const { got } = run(wire, 5000, 8);
  t.equal(wire.stats().aToB.deliveredOutOfOrder, 0);
  t.ok(
    got.every((d, i) => i === 0 || d.id > got[i - 1]!.id),
    'ids arrive in send order',
  );
});

t.test('the ring is bounded: a full direction drops and counts, and frees slots as it delivers', async (t) => {
  const wire = createMemoryWire({ seed: 1, capacity: 64, delayMs: 5 });
  const tx = createFrameBatch(100, 1536);
  for (let k = 0; k < 100; k++) fill(tx, k, k);
  t.equal(wire.a.txBurst(tx, 100), 100, 'a wire takes every frame (drops are the wire’s, as on a real link)');
  let s = wire.stats().aToB;
  t.equal(s.inFlight, 64);
  t.equal(s.ringFull, 36);
  const rx = createFrameBatch(32, 1536);
  t.equal(wire.b.rxBurst(rx), 0, 'nothing is due before the delay');
  t.equal(wire.nextDeliveryAt(), 5);
  wire.advance(5);
  t.equal(wire.b.rxBurst(rx), 32, 'one burst fills the batch');
  t.same([idOf(rx, 0), idOf(rx, 31)], [0, 31], 'the first 64 frames were kept, in order');
  t.equal(wire.b.rxBurst(rx), 32);
  t.equal(wire.b.rxBurst(rx), 0);
  s = wire.stats().aToB;
  explains(t, s, 'after drain');
  t.equal(wire.a.txBurst(tx, 64), 64);
  t.equal(wire.stats().aToB.ringFull, 36, 'freed slots are reused');
  t.equal(wire.stats().aToB.inFlight, 64);
});

t.test('oversize frames: refused at tx above mtu + 18, dropped at rx when the slot is smaller', async (t) => {
  const wire = createMemoryWire({ seed: 1, mtu: 1000 });
  const tx = createFrameBatch(3, 2048);
  tx.lengths.set([1018, 1019, 600]);
  t.equal(wire.a.txBurst(tx, 3), 3);
  t.equal(wire.stats().aToB.tooBig, 1);
  t.equal(wire.a.counters().txDropped, 1);
  t.equal(wire.a.counters().txFrames, 2);
  const small = createFrameBatch(4, 700);
  t.equal(wire.b.rxBurst(small), 1, 'only the 600-byte frame fits a 700-byte slot');
  t.equal(small.lengths[0], 600);
  t.equal(wire.b.counters().rxDropped, 1);
  const s = wire.stats().aToB;
  t.equal(s.rxTooBig, 1);
  explains(t, s, 'oversize');
  t.same(wire.b.counters(), { rxFrames: 1, rxBytes: 600, txFrames: 0, txBytes: 0, rxDropped: 1, txDropped: 0 });
});

t.test('simulated time: an hour of delay passes in no wall time; time never goes back', async (t) => {
  const wire = createMemoryWire({ seed: 9, delayMs: 3_600_000 });
  const tx = createFrameBatch(1, 128);
  fill(tx, 0, 123);
  const started = performance.now();
  wire.b.txBurst(tx, 1);
  const rx = createFrameBatch(1, 1536);
  wire.advance(3_599_999);
  t.equal(wire.a.rxBurst(rx), 0, 'not yet due');
  wire.advance(1);
  t.equal(wire.a.rxBurst(rx), 1, 'due after exactly one simulated hour');
  t.equal(idOf(rx, 0), 123);
  t.ok(performance.now() - started < 1000, `in ${(performance.now() - started).toFixed(1)} ms of wall time`);
  t.throws(() => wire.setTime(5), { code: 'SLUICE_PORT_CONFIG', message: /time must not go back \(at 3600000, asked 5\)/ });
  const real = createMemoryWire({ seed: 1, now: () => 42 });
  t.equal(real.now(), 42);
  t.throws(() => real.advance(1), { code: 'SLUICE_PORT_CONFIG', message: /need the simulated clock/ });
});

t.test('both directions are independent and ports are memory backends without a wait fd', async (t) => {
  const wire = createMemoryWire({ seed: 5, loss: 0.5 });
  t.equal(wire.a.backend, 'memory');
  t.equal(wire.a.waitFd, -1);
  t.not(Buffer.from(wire.a.mac).toString('hex'), Buffer.from(wire.b.mac).toString('hex'));
  const tx = createFrameBatch(64, 1536);
  for (let k = 0; k < 64; k++) fill(tx, k, k);
  wire.a.txBurst(tx, 64);
  wire.b.txBurst(tx, 64);
  const s = wire.stats();
  t.equal(s.aToB.sent, 64);
  t.equal(s.bToA.sent, 64);
  t.not(s.aToB.lost, 0);
  const rx = createFrameBatch(64, 1536);
  t.equal(wire.b.rxBurst(rx), 64 - s.aToB.lost);
  t.equal(wire.a.rxBurst(rx), 64 - s.bToA.lost);
  wire.a.close();
  t.throws(() => wire.a.rxBurst(rx), { code: 'SLUICE_IO', message: /memory-a: rxBurst on a closed port/ });
});

t.test('bad options name the field', async (t) => {
  const bad = (o: unknown): SluiceError => {
    try {
      createMemoryWire(o as MemoryWireOptions);
    } catch (e) {
      return e as SluiceError;
    }
    throw new Error('accepted');
  };
  t.match(bad({}), { code: 'SLUICE_PORT_CONFIG', message: /'seed' must be a finite number/ });
  t.match(bad({ seed: 1, loss: 1.5 }), { message: /'loss' must be a probability in \[0, 1\], got 1.5/ });
  t.match(bad({ seed: 1, jitterMs: -1 }), { message: /'jitterMs' must be a finite number >= 0/ });
  t.match(bad({ seed: 1, capacity: 0 }), { message: /'capacity' must be an integer/ });
  t.match(bad({ seed: 1, macA: new Uint8Array(5) }), { message: /'macA' must be 6 bytes, got 5/ });
});

t.test('Rng: deterministic per (seed, stream), uniform enough, full 32-bit range', async (t) => {
  const a = new Rng(1234);
  const b = new Rng(1234);
  const c = new Rng(1234, 1);
  const xs = Array.from({ length: 8 }, () => a.nextU32());
  t.same(Array.from({ length: 8 }, () => b.nextU32()), xs);
  t.not(Array.from({ length: 8 }, () => c.nextU32()).join(), xs.join(), 'another stream differs');
  t.not(new Rng(2 ** 32 + 5).nextU32(), new Rng(5).nextU32(), 'the high half of the seed matters');
  const r = new Rng(99);
  const buckets = new Array<number>(16).fill(0);
  const n = 160_000;
  let max = 0;
  for (let i = 0; i < n; i++) {
    const u = r.nextU32();
    if (u > max) max = u;
    buckets[u >>> 28]!++;
  }
  // chi-square with 15 degrees of freedom: 37.7 is the 0.999 quantile
  const chi = buckets.reduce((acc, k) => acc + (k - n / 16) ** 2 / (n / 16), 0);
  t.ok(chi < 37.7, `chi-square ${chi.toFixed(2)} < 37.7`);
  t.ok(max > 0xfff00000, 'reaches the top of the range');
});
