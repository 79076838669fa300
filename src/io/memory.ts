// The in-process memory wire: two MemoryPorts joined by a simulated link with seeded impairments
// (loss, duplication, reordering, corruption, delay, jitter). Time is injected: a frame carries a
// deliver-at time and rxBurst hands over only the frames due at the wire's current time, so a
// simulated-time test can run hours of retransmission timers in milliseconds.
//
// Each direction owns a bounded, preallocated frame store (capacity slots of frameMax bytes). Frames
// in link order wait in a FIFO ring (their deliver-at times never decrease); only frames held back
// for reordering go to a binary heap ordered by (deliverAt, send sequence), so the common path is
// O(1). Nothing is allocated per frame. Every frame
// offered to the wire ends in exactly one counter, so a test can explain every loss:
//   sent - tooBig - lost + duplicated = ringFull + delivered + rxTooBig + inFlight

import { SluiceError } from '../errors.js';
import { Rng } from './rng.js';
import { NO_OFFLOADS, type FrameBatch, type PacketPort, type PortCounters } from './port.js';

export interface MemoryWireOptions {
  /** PRNG seed: the same seed and the same traffic give the same impairments. */
  seed: number;
  /** Probability a frame is lost. */
  loss?: number;
  /** Probability a frame is delivered twice (the copy right after the original). */
  duplicate?: number;
  /** Probability a frame is held back by reorderHoldMs so later frames overtake it. */
  reorder?: number;
  /** Probability one random bit of the frame is flipped (no FCS here: upper-layer checksums must catch it). */
  corrupt?: number;
  /** One-way delay, ms. */
  delayMs?: number;
  /** Extra uniform delay in [0, jitterMs), ms. Jitter alone never reorders (a link is FIFO). */
  jitterMs?: number;
  /** How much longer a reordered frame takes, ms. Default max(1, delayMs + jitterMs). */
  reorderHoldMs?: number;
  /** IP MTU of both ports; frames up to mtu + 18 bytes. Default 1500. */
  mtu?: number;
  /** Frames in flight per direction; a full wire drops and counts (ringFull). Default 1024. */
  capacity?: number;
  /**
   * Clock in ms. Default: the wire's own simulated time, moved only by setTime/advance. Pass e.g.
   * `() => performance.now()` to run the wire in real time under a PollLoop.
   */
  now?: () => number;
  macA?: Uint8Array;
  macB?: Uint8Array;
}

export interface WireDirectionStats {
  /** Frames offered by txBurst. */
  sent: number;
  /** Larger than mtu + 18: refused by the sending port (also its txDropped). */
  tooBig: number;
  lost: number;
  /** Extra copies made. */
  duplicated: number;
  /** Frames held back to be overtaken. */
  reordered: number;
  /** Frames (originals or copies) with a flipped bit. */
  corrupted: number;
  /** Dropped because the direction already held `capacity` frames. */
  ringFull: number;
  delivered: number;
  /** Delivered after a frame sent later than it (observed reordering). */
  deliveredOutOfOrder: number;
  /** Delivered to an rx batch whose slots are too small: dropped (also the receiver's rxDropped). */
  rxTooBig: number;
  /** Waiting in the wire now. */
  inFlight: number;
}

const ETH_OVERHEAD = 18;

function checkProbability(name: string, v: number | undefined): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
    throw new SluiceError('SLUICE_PORT_CONFIG', `memory wire: option '${name}' must be a probability in [0, 1], got ${String(v)}`, {
      field: name,
    });
  }
  return v;
}

function checkNonNegative(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new SluiceError('SLUICE_PORT_CONFIG', `memory wire: option '${name}' must be a finite number >= 0, got ${String(v)}`, {
      field: name,
    });
  }
  return v;
}

function checkInt(name: string, v: number | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new SluiceError('SLUICE_PORT_CONFIG', `memory wire: option '${name}' must be an integer in [${min}, ${max}], got ${String(v)}`, {
      field: name,
    });
  }
  return v;
}

interface Impairments {
  loss: number;
  duplicate: number;
  reorder: number;
  corrupt: number;
  delayMs: number;
  jitterMs: number;
  reorderHoldMs: number;
}

/** One direction of the wire. */
class Lane {
  readonly stats: WireDirectionStats = {
    sent: 0,
    tooBig: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    corrupted: 0,
    ringFull: 0,
    delivered: 0,
    deliveredOutOfOrder: 0,
    rxTooBig: 0,
    inFlight: 0,
  };
  private readonly data: Uint8Array;
  private readonly len: Uint32Array;
  private readonly at: Float64Array;
  private readonly seq: Float64Array;
  private readonly fifo: Int32Array;
  private fifoHead = 0;
  private fifoSize = 0;
  private readonly heap: Int32Array;
  private heapSize = 0;
  private readonly free: Int32Array;
  private freeTop: number;
  private nextSeq = 0;
  private fifoTail = -Infinity;
  private maxDeliveredSeq = -1;
  // One stream per impairment, each drawn once per frame whatever the outcome, so changing one
  // rate never shifts another's pattern.
  private readonly rLoss: Rng;
  private readonly rDup: Rng;
  private readonly rReorder: Rng;
  private readonly rCorrupt: Rng;
  private readonly rJitter: Rng;

  constructor(
    readonly frameMax: number,
    readonly capacity: number,
    private readonly imp: Impairments,
    seed: number,
    lane: number,
  ) {
    this.data = new Uint8Array(capacity * frameMax);
    this.len = new Uint32Array(capacity);
    this.at = new Float64Array(capacity);
    this.seq = new Float64Array(capacity);
    this.fifo = new Int32Array(capacity);
    this.heap = new Int32Array(capacity);
    this.free = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.freeTop = capacity;
    const base = lane * 8;
    this.rLoss = new Rng(seed, base);
    this.rDup = new Rng(seed, base + 1);
    this.rReorder = new Rng(seed, base + 2);
    this.rCorrupt = new Rng(seed, base + 3);
    this.rJitter = new Rng(seed, base + 4);
  }

  /** Earliest deliver-at time waiting, or Infinity. */
  nextAt(): number {
    const f = this.fifoSize > 0 ? this.at[this.fifo[this.fifoHead]!]! : Infinity;
    const h = this.heapSize > 0 ? this.at[this.heap[0]!]! : Infinity;
    return f < h ? f : h;
  }

  offer(src: Uint8Array, off: number, length: number, now: number): void {
    const s = this.stats;
    s.sent++;
    // A stream is drawn only when its rate is non-zero; streams are separate, so that never shifts
    // another impairment's pattern.
    const imp = this.imp;
    const uLoss = imp.loss > 0 ? this.rLoss.next() : 1;
    const uDup = imp.duplicate > 0 ? this.rDup.next() : 1;
    const uReorder = imp.reorder > 0 ? this.rReorder.next() : 1;
    const uCorrupt = imp.corrupt > 0 ? this.rCorrupt.next() : 1;
    const corruptBit = imp.corrupt > 0 ? this.rCorrupt.nextU32() : 0;
    const uJitter = imp.jitterMs > 0 ? this.rJitter.next() : 0;
    if (length > this.frameMax) {
      s.tooBig++;
      return;
    }
    if (uLoss < imp.loss) {
      s.lost++;
      return;
    }
    let at = now + imp.delayMs + uJitter * imp.jitterMs;
    if (at < this.fifoTail) at = this.fifoTail;
    const held = uReorder < imp.reorder;
    if (held) {
      s.reordered++;
      at += imp.reorderHoldMs;
    } else {
      this.fifoTail = at;
    }
    const flip = uCorrupt < imp.corrupt && length > 0 ? corruptBit % (length * 8) : -1;
    this.put(src, off, length, at, flip, held);
    if (uDup < imp.duplicate) {
      s.duplicated++;
      this.put(src, off, length, at, flip, held);
    }
  }

  private put(src: Uint8Array, off: number, length: number, at: number, flipBit: number, held: boolean): void {
    if (this.freeTop === 0) {
      this.stats.ringFull++;
      return;
    }
    const slot = this.free[--this.freeTop]!;
    const base = slot * this.frameMax;
    this.data.set(src.subarray(off, off + length), base);
    if (flipBit >= 0) {
      this.data[base + (flipBit >>> 3)]! ^= 1 << (flipBit & 7);
      this.stats.corrupted++;
    }
    this.len[slot] = length;
    this.at[slot] = at;
    this.seq[slot] = this.nextSeq++;
    if (held) this.push(slot);
    else this.fifo[(this.fifoHead + this.fifoSize++) % this.capacity] = slot;
    this.stats.inFlight++;
  }

  /** Moves frames due at `now` into `batch`; returns [delivered, dropped as too big for the slots]. */
  deliver(batch: FrameBatch, now: number, out: { dropped: number; bytes: number }): number {
    let n = 0;
    out.dropped = 0;
    out.bytes = 0;
    const s = this.stats;
    while (n < batch.capacity && (this.fifoSize > 0 || this.heapSize > 0)) {
      let slot: number;
      const fromFifo = this.fifoSize > 0 && (this.heapSize === 0 || this.before(this.fifo[this.fifoHead]!, this.heap[0]!));
      if (fromFifo) {
        slot = this.fifo[this.fifoHead]!;
        if (this.at[slot]! > now) break;
        this.fifoHead = (this.fifoHead + 1) % this.capacity;
        this.fifoSize--;
      } else {
        slot = this.heap[0]!;
        if (this.at[slot]! > now) break;
        this.pop();
      }
      s.inFlight--;
      this.free[this.freeTop++] = slot;
      const length = this.len[slot]!;
      if (length > batch.slotSize) {
        s.rxTooBig++;
        out.dropped++;
        continue;
      }
      const base = slot * this.frameMax;
      batch.data.set(this.data.subarray(base, base + length), n * batch.slotSize);
      batch.lengths[n] = length;
      const sq = this.seq[slot]!;
      if (sq < this.maxDeliveredSeq) s.deliveredOutOfOrder++;
      else this.maxDeliveredSeq = sq;
      s.delivered++;
      out.bytes += length;
      n++;
    }
    return n;
  }

  private before(x: number, y: number): boolean {
    const ax = this.at[x]!;
    const ay = this.at[y]!;
    return ax < ay || (ax === ay && this.seq[x]! < this.seq[y]!);
  }

  private push(slot: number): void {
    const h = this.heap;
    let i = this.heapSize++;
    h[i] = slot;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(h[i]!, h[p]!)) break;
      const tmp = h[p]!;
      h[p] = h[i]!;
      h[i] = tmp;
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = --this.heapSize;
    h[0] = h[last]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= last) break;
      const r = l + 1;
      const m = r < last && this.before(h[r]!, h[l]!) ? r : l;
      if (!this.before(h[m]!, h[i]!)) break;
      const tmp = h[m]!;
      h[m] = h[i]!;
      h[i] = tmp;
      i = m;
    }
  }
}

export class MemoryPort implements PacketPort {
  readonly backend = 'memory' as const;
  readonly waitFd = -1;
  /** None: the stack computes and checks every checksum, so injected corruption meets its checks. */
  readonly offloads = NO_OFFLOADS;
  private readonly c: PortCounters = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxDropped: 0, txDropped: 0 };
  private readonly out = { dropped: 0, bytes: 0 };
  private isClosed = false;

  /** @internal built by createMemoryWire */
  constructor(
    readonly name: string,
    readonly mac: Uint8Array,
    readonly mtu: number,
    private readonly inbound: Lane,
    private readonly outbound: Lane,
    private readonly clock: () => number,
  ) {}

  get frameMax(): number {
    return this.mtu + ETH_OVERHEAD;
  }

  rxBurst(batch: FrameBatch): number {
    this.check('rxBurst');
    const n = this.inbound.deliver(batch, this.clock(), this.out);
    this.c.rxFrames += n;
    this.c.rxBytes += this.out.bytes;
    this.c.rxDropped += this.out.dropped;
    return n;
  }

  txBurst(batch: FrameBatch, count: number): number {
    this.check('txBurst');
    const now = this.clock();
    const max = this.outbound.frameMax;
    for (let i = 0; i < count; i++) {
      const len = batch.lengths[i]!;
      this.outbound.offer(batch.data, i * batch.slotSize, len, now);
      if (len > max) {
        this.c.txDropped++;
      } else {
        this.c.txFrames++;
        this.c.txBytes += len;
      }
    }
    return count;
  }

  counters(): PortCounters {
    return { ...this.c };
  }

  close(): void {
    this.isClosed = true;
  }

  private check(op: string): void {
    if (this.isClosed) throw new SluiceError('SLUICE_IO', `memory port ${this.name}: ${op} on a closed port`, { op });
  }
}

export interface MemoryWire {
  readonly a: MemoryPort;
  readonly b: MemoryPort;
  /** Current time on the wire's clock (ms). */
  now(): number;
  /** Sets the simulated time; it never goes back. Only without the `now` option. */
  setTime(now: number): void;
  /** Moves the simulated time forward by `ms`. Only without the `now` option. */
  advance(ms: number): void;
  /** Earliest time a frame becomes deliverable in either direction; Infinity when the wire is empty. */
  nextDeliveryAt(): number;
  /** Per-direction counters: a->b is what port a sent. */
  stats(): { aToB: WireDirectionStats; bToA: WireDirectionStats };
}

const DEFAULT_MAC_A = new Uint8Array([0x02, 0x00, 0x00, 0x00, 0x00, 0x0a]);
const DEFAULT_MAC_B = new Uint8Array([0x02, 0x00, 0x00, 0x00, 0x00, 0x0b]);

export function createMemoryWire(opts: MemoryWireOptions): MemoryWire {
  if (typeof opts !== 'object' || opts === null || typeof opts.seed !== 'number' || !Number.isFinite(opts.seed)) {
    throw new SluiceError('SLUICE_PORT_CONFIG', `memory wire: option 'seed' must be a finite number, got ${String(opts?.seed)}`, {
      field: 'seed',
    });
  }
  const delayMs = checkNonNegative('delayMs', opts.delayMs, 0);
  const jitterMs = checkNonNegative('jitterMs', opts.jitterMs, 0);
  const imp: Impairments = {
    loss: checkProbability('loss', opts.loss),
    duplicate: checkProbability('duplicate', opts.duplicate),
    reorder: checkProbability('reorder', opts.reorder),
    corrupt: checkProbability('corrupt', opts.corrupt),
    delayMs,
    jitterMs,
    reorderHoldMs: checkNonNegative('reorderHoldMs', opts.reorderHoldMs, Math.max(1, delayMs + jitterMs)),
  };
  const mtu = checkInt('mtu', opts.mtu, 1500, 68, 65535 - ETH_OVERHEAD);
  const capacity = checkInt('capacity', opts.capacity, 1024, 1, 1 << 20);
  for (const [name, mac] of [
    ['macA', opts.macA],
    ['macB', opts.macB],
  ] as const) {
    if (mac !== undefined && mac.length !== 6) {
      throw new SluiceError('SLUICE_PORT_CONFIG', `memory wire: option '${name}' must be 6 bytes, got ${mac.length}`, { field: name });
    }
  }
  const frameMax = mtu + ETH_OVERHEAD;
  const aToB = new Lane(frameMax, capacity, imp, opts.seed, 0);
  const bToA = new Lane(frameMax, capacity, imp, opts.seed, 1);
  let simTime = 0;
  const external = opts.now;
  const clock = external ?? (() => simTime);
  const a = new MemoryPort('memory-a', new Uint8Array(opts.macA ?? DEFAULT_MAC_A), mtu, bToA, aToB, clock);
  const b = new MemoryPort('memory-b', new Uint8Array(opts.macB ?? DEFAULT_MAC_B), mtu, aToB, bToA, clock);

  const setTime = (now: number): void => {
    if (external) throw new SluiceError('SLUICE_PORT_CONFIG', 'memory wire: setTime/advance need the simulated clock (no `now` option)');
    if (!Number.isFinite(now) || now < simTime) {
      throw new SluiceError('SLUICE_PORT_CONFIG', `memory wire: time must not go back (at ${simTime}, asked ${now})`, { field: 'now' });
    }
    simTime = now;
  };
  return {
    a,
    b,
    now: clock,
    setTime,
    advance: (ms: number) => setTime(simTime + ms),
    nextDeliveryAt: () => Math.min(aToB.nextAt(), bToA.nextAt()),
    stats: () => ({ aToB: { ...aToB.stats }, bToA: { ...bToA.stats } }),
  };
}
