// A segment-level simulated wire for TCP tests: TcpLayers whose output sinks feed each other's
// input through a queue with seeded loss, reordering, duplication and delay. Time is simulated:
// the loop jumps to the next packet arrival or layer deadline, so hours of timers take
// milliseconds and every run with the same seed is the same run.

import { TcpLayer } from '../../../src/net/tcp/layer.js';
import type { SegmentSink } from '../../../src/net/tcp/sink.js';
import type { TcpConfig } from '../../../src/net/tcp/types.js';
import * as wire from '../../../src/net/wire/tcp.js';
const describeSegment = wire.describe;

/** mulberry32: a small deterministic PRNG; good enough to choose which packet to drop. */
export class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

export function ip(s: string): number {
  return s.split('.').reduce((a, o) => a * 256 + Number(o), 0) >>> 0;
}

const SLOT = 2048;

/** A burst buffer: a fixed number of slots, each holding one TCP segment. */
export class BurstSink implements SegmentSink {
  readonly buf: Uint8Array;
  readonly maxSegmentBytes = SLOT;
  used = 0;
  readonly lens: Uint32Array;
  readonly srcs: Uint32Array;
  readonly dsts: Uint32Array;
  constructor(readonly slots: number) {
    this.buf = new Uint8Array(slots * SLOT);
    this.lens = new Uint32Array(slots);
    this.srcs = new Uint32Array(slots);
    this.dsts = new Uint32Array(slots);
  }
  reserve(_remoteIp: number): number {
    return this.used < this.slots ? this.used * SLOT : -1;
  }
  commit(localIp: number, remoteIp: number, tcpLen: number): void {
    this.lens[this.used] = tcpLen;
    this.srcs[this.used] = localIp;
    this.dsts[this.used] = remoteIp;
    this.used++;
  }
}

export interface LinkOptions {
  /** Probability a segment is lost. */
  loss?: number;
  /** Probability a segment is delivered twice. */
  dup?: number;
  /** Probability a segment gets an extra random delay (so later ones overtake it). */
  reorder?: number;
  /** One-way delay in ms. */
  delayMs?: number;
  /** Extra delay (up to) for reordered segments. */
  reorderMs?: number;
}

interface Packet {
  at: number;
  seq: number;
  src: number;
  dst: number;
  bytes: Uint8Array;
}

export interface Host {
  ip: number;
  layer: TcpLayer;
}

/** What a filter sees; return false to drop the segment (tests that need a precise loss). */
export type WireFilter = (src: number, dst: number, seg: Uint8Array, now: number) => boolean;

export class SimNet {
  now = 0;
  readonly hosts = new Map<number, TcpLayer>();
  private queue: Packet[] = [];
  private order = 0;
  private readonly rng: Prng;
  private readonly sink = new BurstSink(64);
  readonly link: Required<LinkOptions>;
  filter: WireFilter | null = null;
  /** Every state transition seen on any host, 'FROM>TO'. */
  readonly transitions: Set<string> = new Set<string>();
  delivered = 0;
  lost = 0;
  duplicated = 0;
  trace: string[] | null = null;
  /** When set, every segment put on the wire (before loss) is recorded here. */
  capture: Array<{ at: number; src: number; dst: number; bytes: Uint8Array }> | null = null;

  constructor(seed: number, link: LinkOptions = {}, transitions?: Set<string>) {
    if (transitions) this.transitions = transitions;
    this.rng = new Prng(seed);
    this.link = { loss: 0, dup: 0, reorder: 0, delayMs: 1, reorderMs: 3, ...link };
  }

  addHost(addr: number, cfg: Partial<TcpConfig> = {}): TcpLayer {
    const layer = new TcpLayer({ timeWaitMs: 2000, secret: new Uint8Array(32).fill(addr & 0xff), ...cfg });
    layer.onTransition = (from, to) => this.transitions.add(`${from}>${to}`);
    this.hosts.set(addr, layer);
    return layer;
  }

  /** Put a raw segment on the wire (tests that forge segments). */
  inject(src: number, dst: number, seg: Uint8Array, delay = 0): void {
    this.enqueue({ at: this.now + delay, seq: this.order++, src, dst, bytes: seg });
  }

  private enqueue(p: Packet): void {
    const q = this.queue;
    let lo = 0;
    let hi = q.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = q[mid];
      if (m.at < p.at || (m.at === p.at && m.seq < p.seq)) lo = mid + 1;
      else hi = mid;
    }
    q.splice(lo, 0, p);
  }

  /** Collect output from every host onto the wire. Returns how many segments were sent. */
  private flush(): number {
    let n = 0;
    const l = this.link;
    for (const layer of this.hosts.values()) {
      for (;;) {
        const s = this.sink;
        s.used = 0;
        layer.output(this.now, s);
        for (let i = 0; i < s.used; i++) {
          const bytes = s.buf.slice(i * SLOT, i * SLOT + s.lens[i]);
          const src = s.srcs[i];
          const dst = s.dsts[i];
          n++;
          if (this.capture) this.capture.push({ at: this.now, src, dst, bytes });
          if (this.trace) this.trace.push(`${this.now} ${src & 0xff}>${dst & 0xff} ${JSON.stringify(describeSegment(bytes, 0, bytes.length))}`);
          if (this.filter !== null && !this.filter(src, dst, bytes, this.now)) {
            this.lost++;
            continue;
          }
          if (l.loss > 0 && this.rng.next() < l.loss) {
            this.lost++;
            continue;
          }
          let at = this.now + l.delayMs;
          if (l.reorder > 0 && this.rng.next() < l.reorder) at += this.rng.next() * l.reorderMs;
          this.enqueue({ at, seq: this.order++, src, dst, bytes });
          if (l.dup > 0 && this.rng.next() < l.dup) {
            this.duplicated++;
            this.enqueue({ at: at + this.rng.next() * l.reorderMs, seq: this.order++, src, dst, bytes });
          }
        }
        if (s.used < s.slots) break;
      }
    }
    return n;
  }

  private deliverDue(): number {
    let n = 0;
    const q = this.queue;
    while (q.length > 0 && q[0].at <= this.now) {
      const p = q.shift()!;
      const layer = this.hosts.get(p.dst);
      if (layer === undefined) continue;
      layer.input(p.src, p.dst, p.bytes, 0, p.bytes.length, this.now);
      this.delivered++;
      n++;
    }
    return n;
  }

  /**
   * Run until `done()` or `limitMs` of simulated time pass. Returns done()'s final value.
   * Each round: every host sends what is due, packets due now arrive; when nothing happens at
   * this instant, time jumps to the next arrival or deadline.
   */
  run(done: () => boolean, limitMs = 600_000): boolean {
    const end = this.now + limitMs;
    let idle = 0;
    while (!done()) {
      const sent = this.flush();
      const got = this.deliverDue();
      if (sent > 0 || got > 0) {
        idle = 0;
        continue;
      }
      let next = this.queue.length > 0 ? this.queue[0].at : Infinity;
      for (const layer of this.hosts.values()) {
        const d = layer.nextDeadline();
        if (d < next) next = d;
      }
      if (next <= this.now) {
        // A deadline at or before now with nothing sent: timers ran; give it a couple of rounds.
        if (++idle > 3) next = this.now + 1;
        else continue;
      }
      if (next === Infinity) return done();
      if (next > end) {
        this.now = end;
        return done();
      }
      this.now = next;
    }
    return true;
  }

  /**
   * Process everything due at `now` (a real clock, for tests that run on Node's event loop) and
   * return the time of the next event: a packet arrival or a layer deadline.
   */
  pump(now: number): number {
    if (now > this.now) this.now = now;
    for (let i = 0; i < 1000; i++) {
      const sent = this.flush();
      const got = this.deliverDue();
      if (sent === 0 && got === 0) break;
    }
    let next = this.queue.length > 0 ? this.queue[0].at : Infinity;
    for (const layer of this.hosts.values()) {
      const d = layer.nextDeadline();
      if (d < next) next = d;
    }
    return next;
  }

  /** Advance simulated time by ms, processing everything on the way. */
  advance(ms: number): void {
    const end = this.now + ms;
    this.run(() => false, ms);
    if (this.now < end) this.now = end;
  }
}

/** Collects a socket's data and events. */
export class Collector {
  chunks: Uint8Array[] = [];
  bytes = 0;
  ended = false;
  closed: string | null = null;
  closeError: Error | undefined;
  connected = false;
  drains = 0;
  keep: boolean;
  constructor(keep = true) {
    this.keep = keep;
  }
  onConnect(): void {
    this.connected = true;
  }
  onData(c: Uint8Array): void {
    this.bytes += c.length;
    if (this.keep) this.chunks.push(c.slice());
  }
  onEnd(): void {
    this.ended = true;
  }
  onDrain(): void {
    this.drains++;
  }
  onClose(reason: string, err?: Error): void {
    this.closed = reason;
    this.closeError = err;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString();
  }
}

export interface ForgeOptions {
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  flags: number;
  wnd?: number;
  data?: Uint8Array;
  mss?: number;
  wscale?: number;
  sackPermitted?: boolean;
  ts?: [number, number];
}

/** Build one TCP segment with a valid checksum (tests that play the peer by hand). */
export function forge(src: number, dst: number, o: ForgeOptions): Uint8Array {
  const b = new Uint8Array(60 + (o.data?.length ?? 0));
  let i = 20;
  if (o.mss !== undefined) i = wire.emitMss(b, i, o.mss);
  if (o.wscale !== undefined) i = wire.emitWscale(b, i, o.wscale);
  if (o.sackPermitted) i = wire.emitSackPermitted(b, i);
  if (o.ts !== undefined) i = wire.emitTimestamps(b, i, o.ts[0], o.ts[1]);
  wire.emitHeader(b, 0, o.sport, o.dport, o.seq >>> 0, (o.ack ?? 0) >>> 0, i, o.flags, o.wnd ?? 65535);
  if (o.data) b.set(o.data, i);
  const len = i + (o.data?.length ?? 0);
  const seg = b.slice(0, len);
  wire.fillChecksum(seg, 0, len, src, dst);
  return seg;
}

/** A parsed view of a captured segment, for assertions. */
export function parsed(seg: Uint8Array): { seq: number; ack: number; flags: number; wnd: number; len: number; sport: number; dport: number } {
  const hl = wire.headerLen(seg, 0);
  return {
    sport: wire.srcPort(seg, 0),
    dport: wire.dstPort(seg, 0),
    seq: wire.seqNum(seg, 0),
    ack: wire.ackNum(seg, 0),
    flags: wire.flags(seg, 0),
    wnd: wire.windowField(seg, 0),
    len: seg.length - hl,
  };
}

/**
 * Drive a SimNet from Node's event loop with the real clock, the way the poll loop drives a
 * stack: run what is due, then sleep until the next deadline or until a layer reports pending
 * output (a write from application code). Returns a stop function.
 */
export function driveRealtime(net: SimNet): () => void {
  const t0 = performance.now();
  let imm: NodeJS.Immediate | null = null;
  let tmo: NodeJS.Timeout | null = null;
  let stopped = false;
  const clock = () => performance.now() - t0;
  const tick = () => {
    imm = null;
    if (tmo !== null) {
      clearTimeout(tmo);
      tmo = null;
    }
    if (stopped) return;
    schedule(net.pump(clock()));
  };
  const schedule = (next: number) => {
    if (stopped || imm !== null) return;
    const delay = next - clock();
    if (delay <= 0) {
      imm = setImmediate(tick);
      return;
    }
    if (next === Infinity) return;
    if (tmo !== null) clearTimeout(tmo);
    tmo = setTimeout(tick, Math.min(Math.ceil(delay), 1000));
  };
  for (const layer of net.hosts.values()) layer.onOutputPending(() => schedule(0));
  schedule(0);
  return () => {
    stopped = true;
    if (imm !== null) clearImmediate(imm);
    if (tmo !== null) clearTimeout(tmo);
    for (const layer of net.hosts.values()) layer.onOutputPending(null);
  };
}

/**
 * Every connection of every host, one line each (state, sequence state, queues, windows, timers),
 * and the wire's queue: what a test prints when a wait on a simulated network runs out of time.
 */
export function describeNet(net: SimNet): string {
  const lines = [`sim now ${net.now.toFixed(1)} ms, ${net.delivered} delivered, ${net.lost} lost, ${net.duplicated} duplicated`];
  for (const [addr, layer] of net.hosts) {
    lines.push(`host .${addr & 0xff}: next deadline ${layer.nextDeadline().toFixed(1)} ms, counters ${JSON.stringify(layer.counters)}`);
    for (const c of layer.connections()) {
      lines.push(
        `  ${c.state} :${c.localPort} -> .${c.remoteIp & 0xff}:${c.remotePort} sndUna ${c.sndUna} sndNxt ${c.sndNxt} rcvNxt ${c.rcvNxt}` +
          ` sendQ ${c.sendQueue} recvQ ${c.recvQueue} sndWnd ${c.sndWnd} rcvWnd ${c.rcvWnd} cwnd ${c.cwnd} ssthresh ${c.ssthresh}` +
          ` rto ${c.rtoMs} srtt ${c.srttMs.toFixed(1)} retransmits ${c.retransmits} in ${c.bytesIn} out ${c.bytesOut}`,
      );
    }
  }
  return lines.join('\n');
}

/**
 * `promise`, or a rejection after `ms` whose message carries `dump()`: a test that would otherwise
 * hang until tap's timeout fails on time and says where it stuck.
 */
export async function within<T>(promise: Promise<T>, ms: number, what: string, dump: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms} ms\n${dump()}`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
