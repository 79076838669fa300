// Byte storage for one connection: a growable ring for the send queue and for received bytes the
// application has not taken yet (paused), and a reassembly list for out-of-order segments.

import { seqAdd, seqDiff, seqGt, seqLe, seqLt } from './seq.js';

const NONE = new Uint8Array(0);
/** Below this many bytes a JS loop beats TypedArray.set on a fresh subarray. */
const SMALL_COPY = 128;

/**
 * Ring storage that no ring holds, by capacity: released rings (idle, TIME-WAIT, CLOSED) leave
 * theirs here and rings that need room take from here, so a connection coming back from idle
 * reuses a buffer instead of allocating and zeroing a new one. Bounded: beyond POOL_MAX_BYTES a
 * released buffer is left to the GC.
 */
const POOL_MAX_BYTES = 4 * 1024 * 1024;
const pool = new Map<number, Uint8Array[]>();
let pooledBytes = 0;

function takeStorage(cap: number): Uint8Array {
  const free = pool.get(cap);
  if (free !== undefined && free.length > 0) {
    pooledBytes -= cap;
    return free.pop()!;
  }
  return new Uint8Array(cap);
}

function giveStorage(buf: Uint8Array): void {
  const cap = buf.length;
  if (cap === 0 || pooledBytes + cap > POOL_MAX_BYTES) return;
  let free = pool.get(cap);
  if (free === undefined) {
    free = [];
    pool.set(cap, free);
  }
  free.push(buf);
  pooledBytes += cap;
}

/** Bytes of ring storage waiting in the shared pool (for tests and diagnostics). */
export function ringPoolBytes(): number {
  return pooledBytes;
}

/** Smallest ring storage. */
const MIN_CAPACITY = 1024;

/**
 * A ring of bytes. Storage is taken on first use (a receive ring stays empty while the
 * application keeps up), sized to what is pushed (a small response takes 1 KiB, not a whole
 * send buffer), grows by doubling, and goes back to the shared pool on release() (the connection
 * is done with it) or on sweep() (it has been empty and unused for a whole sweep period: an idle
 * keep-alive connection holds no buffer). A busy ring keeps its storage between uses, so the
 * per-segment path neither allocates nor pools anything.
 */
export class ByteRing {
  private buf: Uint8Array = NONE;
  private head = 0;
  length = 0;
  /** Pushed to since the last sweep(). */
  private used = false;

  /** @param firstMax The first storage is at most this large (unless one push needs more). */
  constructor(private readonly firstMax: number) {}

  get capacity(): number {
    return this.buf.length;
  }

  push(src: Uint8Array, off = 0, n = src.length - off): void {
    this.used = true;
    if (this.length + n > this.buf.length) this.grow(this.length + n);
    const cap = this.buf.length;
    let tail = this.head + this.length;
    if (tail >= cap) tail -= cap;
    if (n <= SMALL_COPY) {
      // Small copies by hand: set() on a subarray costs a view object and a native call, which
      // dominated the small-message case of bench/tcp-memory.ts.
      const b = this.buf;
      for (let i = 0; i < n; i++) {
        b[tail++] = src[off + i];
        if (tail === cap) tail = 0;
      }
      this.length += n;
      return;
    }
    const first = Math.min(n, cap - tail);
    this.buf.set(first === src.length && off === 0 ? src : src.subarray(off, off + first), tail);
    if (first < n) this.buf.set(src.subarray(off + first, off + n), 0);
    this.length += n;
  }

  /** Copy n bytes starting `at` bytes after the head into dst[dstOff..]. */
  copyOut(at: number, dst: Uint8Array, dstOff: number, n: number): void {
    const cap = this.buf.length;
    let start = this.head + at;
    if (start >= cap) start -= cap;
    if (n <= SMALL_COPY) {
      const b = this.buf;
      for (let i = 0; i < n; i++) {
        dst[dstOff + i] = b[start++];
        if (start === cap) start = 0;
      }
      return;
    }
    const first = Math.min(n, cap - start);
    dst.set(this.buf.subarray(start, start + first), dstOff);
    if (first < n) dst.set(this.buf.subarray(0, n - first), dstOff + first);
  }

  /** The longest contiguous run at the head, up to n bytes (a view; valid until the next push). */
  peekContiguous(n: number): Uint8Array {
    const run = Math.min(n, this.length, this.buf.length - this.head);
    return this.buf.subarray(this.head, this.head + run);
  }

  consume(n: number): void {
    this.head += n;
    if (this.head >= this.buf.length) this.head -= this.buf.length;
    this.length -= n;
    if (this.length === 0) this.head = 0;
  }

  clear(): void {
    this.head = 0;
    this.length = 0;
  }

  /** Give the storage back to the pool (only when the ring is empty). */
  release(): void {
    if (this.length === 0) {
      giveStorage(this.buf);
      this.buf = NONE;
      this.head = 0;
    }
  }

  /**
   * Called periodically (every second or so): releases the storage of a ring that was empty at
   * the previous call and has not been pushed to since, i.e. idle for at least one whole period.
   * Returns the bytes released.
   */
  sweep(): number {
    const cap = this.buf.length;
    if (this.used || this.length > 0 || cap === 0) {
      // In use during this period (bytes still held count as use): look again next time.
      this.used = this.length > 0;
      return 0;
    }
    this.release();
    return cap;
  }

  private grow(need: number): void {
    let cap: number;
    if (this.buf.length > 0) {
      cap = this.buf.length * 2;
    } else {
      cap = MIN_CAPACITY;
      while (cap < need && cap < this.firstMax) cap *= 2;
      if (cap > this.firstMax) cap = Math.max(this.firstMax, MIN_CAPACITY);
    }
    while (cap < need) cap *= 2;
    const next = takeStorage(cap);
    this.copyOut(0, next, 0, this.length);
    giveStorage(this.buf);
    this.buf = next;
    this.head = 0;
  }
}

interface Piece {
  seq: number;
  data: Uint8Array;
}

/**
 * Out-of-order segments above RCV.NXT (RFC 9293 3.10.7.4 seventh: "segments with higher
 * beginning sequence numbers may be held"), kept sorted and non-overlapping. Each piece is a copy,
 * made only when a segment arrives out of order. Also the source of the SACK blocks we send.
 */
export class Reassembly {
  private pieces: Piece[] = [];
  bytes = 0;
  /** Start of the segment received most recently: its block goes first (RFC 2018 4). */
  private lastSeq = 0;

  get empty(): boolean {
    return this.pieces.length === 0;
  }

  /** Store data (a view, copied here) at seq, trimming what is already held. */
  insert(seq: number, data: Uint8Array): void {
    this.lastSeq = seq;
    let s = seq;
    let d = data;
    const ps = this.pieces;
    let i = 0;
    while (i < ps.length && seqLe(seqAdd(ps[i].seq, ps[i].data.length), s)) i++;
    // Walk the pieces that overlap or follow [s, s + len), inserting the uncovered parts.
    while (d.length > 0) {
      if (i >= ps.length || seqLe(seqAdd(s, d.length), ps[i].seq)) {
        ps.splice(i, 0, { seq: s, data: d.slice() });
        this.bytes += d.length;
        return;
      }
      const p = ps[i];
      if (seqLt(s, p.seq)) {
        const gap = seqDiff(p.seq, s);
        ps.splice(i, 0, { seq: s, data: d.slice(0, gap) });
        this.bytes += gap;
        i++;
        d = d.subarray(gap);
        s = p.seq;
        continue;
      }
      // s is inside p: skip the covered part.
      const covered = seqDiff(seqAdd(p.seq, p.data.length), s);
      if (covered >= d.length) return;
      d = d.subarray(covered);
      s = seqAdd(s, covered);
      i++;
    }
  }

  /** Remove and return the piece starting at or before rcvNxt, trimmed to start at rcvNxt. */
  takeAt(rcvNxt: number): Uint8Array | null {
    const ps = this.pieces;
    while (ps.length > 0) {
      const p = ps[0];
      if (seqGt(p.seq, rcvNxt)) return null;
      ps.shift();
      this.bytes -= p.data.length;
      const skip = seqDiff(rcvNxt, p.seq);
      if (skip < p.data.length) return skip === 0 ? p.data : p.data.subarray(skip);
    }
    return null;
  }

  /**
   * Fill up to `max` SACK blocks, merging adjacent pieces, the block holding the latest segment
   * first (RFC 2018 4). Returns the count.
   */
  sackBlocks(left: Uint32Array, right: Uint32Array, max: number, rotate = 0): number {
    const ps = this.pieces;
    if (ps.length === 0 || max === 0) return 0;
    let n = 0;
    let firstIdx = -1;
    // Merge contiguous pieces into blocks on the fly; remember which one holds lastSeq.
    let bl = ps[0].seq;
    let br = seqAdd(ps[0].seq, ps[0].data.length);
    const blocksL: number[] = [];
    const blocksR: number[] = [];
    for (let i = 1; i <= ps.length; i++) {
      if (i < ps.length && ps[i].seq === br) {
        br = seqAdd(ps[i].seq, ps[i].data.length);
        continue;
      }
      if (firstIdx < 0 && seqLe(bl, this.lastSeq) && seqLt(this.lastSeq, br)) firstIdx = blocksL.length;
      blocksL.push(bl);
      blocksR.push(br);
      if (i < ps.length) {
        bl = ps[i].seq;
        br = seqAdd(ps[i].seq, ps[i].data.length);
      }
    }
    if (firstIdx < 0) firstIdx = blocksL.length - 1;
    left[n] = blocksL[firstIdx];
    right[n] = blocksR[firstIdx];
    n++;
    // Then the other blocks, highest first. When several ACKs go out in one burst (`rotate` counts
    // them), each starts further down the list, so that between them the sender hears of every
    // block even when there are more than fit in one option.
    const others: number[] = [];
    for (let k = blocksL.length - 1; k >= 0; k--) if (k !== firstIdx) others.push(k);
    const start = others.length > 0 ? (rotate * (max - 1)) % others.length : 0;
    for (let j = 0; j < others.length && n < max; j++) {
      const k = others[(start + j) % others.length];
      left[n] = blocksL[k];
      right[n] = blocksR[k];
      n++;
    }
    return n;
  }

  clear(): void {
    this.pieces = [];
    this.bytes = 0;
  }
}

/**
 * The sender's SACK scoreboard (RFC 2018, RFC 6675 3): sorted, merged [left, right) ranges above
 * SND.UNA that the peer has reported holding.
 */
export class Scoreboard {
  readonly left: number[] = [];
  readonly right: number[] = [];
  sacked = 0;

  get empty(): boolean {
    return this.left.length === 0;
  }

  /** Highest sequence the peer has SACKed (exclusive); only meaningful when not empty. */
  get high(): number {
    return this.right[this.right.length - 1];
  }

  add(l: number, r: number): void {
    const L = this.left;
    const R = this.right;
    let i = 0;
    while (i < L.length && seqLt(R[i], l)) i++;
    let nl = l;
    let nr = r;
    let j = i;
    while (j < L.length && seqLe(L[j], nr)) {
      if (seqLt(L[j], nl)) nl = L[j];
      if (seqGt(R[j], nr)) nr = R[j];
      this.sacked -= seqDiff(R[j], L[j]);
      j++;
    }
    L.splice(i, j - i, nl);
    R.splice(i, j - i, nr);
    this.sacked += seqDiff(nr, nl);
  }

  /** Forget everything below the cumulative ACK. */
  advance(una: number): void {
    const L = this.left;
    const R = this.right;
    let k = 0;
    while (k < L.length && seqLe(R[k], una)) {
      this.sacked -= seqDiff(R[k], L[k]);
      k++;
    }
    if (k > 0) {
      L.splice(0, k);
      R.splice(0, k);
    }
    if (L.length > 0 && seqLt(L[0], una)) {
      this.sacked -= seqDiff(una, L[0]);
      L[0] = una;
    }
  }

  isSacked(seq: number): boolean {
    for (let k = 0; k < this.left.length; k++) {
      if (seqLt(seq, this.left[k])) return false;
      if (seqLt(seq, this.right[k])) return true;
    }
    return false;
  }

  /**
   * The first hole at or after `from` and below the highest SACKed byte: returns its end (the
   * next SACKed left edge) or -1 when `from` is not in a hole below high. `from` must be >= una.
   */
  holeEnd(from: number): number {
    for (let k = 0; k < this.left.length; k++) {
      if (seqLt(from, this.left[k])) return this.left[k];
      if (seqLt(from, this.right[k])) return -1;
    }
    return -1;
  }

  /** Next unSACKed sequence at or after `from` (skips over a SACKed range containing it). */
  skipSacked(from: number): number {
    for (let k = 0; k < this.left.length; k++) {
      if (seqLt(from, this.left[k])) return from;
      if (seqLt(from, this.right[k])) return this.right[k];
    }
    return from;
  }

  /** Bytes in holes within [una, upTo). */
  holesBelow(una: number, upTo: number): number {
    let holes = 0;
    let cur = una;
    for (let k = 0; k < this.left.length && seqLt(cur, upTo); k++) {
      const l = seqLt(this.left[k], upTo) ? this.left[k] : upTo;
      if (seqGt(l, cur)) holes += seqDiff(l, cur);
      if (seqGt(this.right[k], cur)) cur = this.right[k];
    }
    return holes;
  }

  clear(): void {
    this.left.length = 0;
    this.right.length = 0;
    this.sacked = 0;
  }
}
