// ARP neighbour cache (RFC 826, with the timers of RFC 1122 2.3.2.1) and the queue of packets
// parked while their next hop resolves. Time is injected (ms); nothing here reads a clock or
// touches a buffer owned by the poll loop. The stack asks `popDue()` which requests to send.
//
// States: INCOMPLETE (request outstanding, no MAC yet), REACHABLE (confirmed within
// reachableMs), PROBE (confirmation expired while the entry was still in use: keep using the old
// MAC, re-request; RFC 1122 2.3.2.1 asks for exactly this to avoid a blackout on busy flows).
// An entry that reaches the end of REACHABLE unused is removed; one that exhausts its retries in
// INCOMPLETE or PROBE is removed and its parked packets are dropped (counted by the stack).

import type { NetStats } from './stats.js';
import { positive } from './options.js';
import { copyBytes } from './wire/bytes.js';
import { macHigh, macLow, writeMacParts } from './wire/ethernet.js';

export interface ArpOptions {
  /** How long an answer is trusted (ms). */
  reachableMs?: number;
  /** Interval between requests while resolving (ms). RFC 1122: at most one per second per address. */
  retryMs?: number;
  /** Requests sent before giving up on an address. */
  maxRetries?: number;
  /** Table size bound. */
  maxEntries?: number;
}

const INCOMPLETE = 1;
const REACHABLE = 2;
const PROBE = 3;

interface Entry {
  ip: number;
  /** 48-bit MAC, or -1 while INCOMPLETE. */
  mac: number;
  /** The MAC as int32 halves, for writing frames without boxing (see macHigh). */
  macHi: number;
  macLo: number;
  state: number;
  /** REACHABLE: when confirmation lapses. INCOMPLETE/PROBE: when the next request is due. */
  timer: number;
  /** Requests sent in the current resolution round. */
  sent: number;
  confirmedAt: number;
  usedAt: number;
  /** Queued in `due` and not yet sent. */
  queued: boolean;
}

export class ArpCache {
  readonly reachableMs: number;
  readonly retryMs: number;
  readonly maxRetries: number;
  readonly maxEntries: number;
  /**
   * Keyed by the address as int32 (`ip | 0`): int32 values are small integers to V8, so lookups
   * never box a heap number the way uint32 addresses >= 128.0.0.0 would.
   */
  private readonly entries = new Map<number, Entry>();
  /** Keys (int32) of entries whose request must go out at the next output(). */
  private readonly due: number[] = [];
  private deadline = Infinity;

  constructor(
    private readonly stats: NetStats,
    opts: ArpOptions = {},
  ) {
    this.reachableMs = opts.reachableMs ?? 60_000;
    this.retryMs = opts.retryMs ?? 1_000;
    this.maxRetries = opts.maxRetries ?? 3;
    this.maxEntries = opts.maxEntries ?? 1024;
    positive('netstack.arp.reachableMs', this.reachableMs, false);
    positive('netstack.arp.retryMs', this.retryMs, false);
    positive('netstack.arp.maxRetries', this.maxRetries, true);
    positive('netstack.arp.maxEntries', this.maxEntries, true);
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The MAC for `ip` (48-bit number), or -1 when not (yet) known. A miss starts resolution:
   * an INCOMPLETE entry is created and a request is queued for the next output().
   */
  lookup(ip: number, now: number): number {
    const e = this.entries.get(ip | 0);
    if (e !== undefined) {
      if (e.state === INCOMPLETE) return -1;
      e.usedAt = now;
      return e.mac;
    }
    this.insert(ip, -1, INCOMPLETE, now);
    return -1;
  }

  /** Start resolving `ip` unless it has an entry; true when its MAC is known. */
  ensure(ip: number, now: number): boolean {
    const e = this.entries.get(ip | 0);
    if (e !== undefined) return e.state !== INCOMPLETE;
    this.insert(ip, -1, INCOMPLETE, now);
    return false;
  }

  /**
   * The per-frame form of lookup(): write the MAC for `ip` as 6 bytes at buf[off] (an Ethernet
   * destination field) and return true; or start resolution and return false.
   */
  resolve(ip: number, now: number, buf: Uint8Array, off: number): boolean {
    const e = this.entries.get(ip | 0);
    if (e !== undefined) {
      if (e.state === INCOMPLETE) return false;
      e.usedAt = now;
      writeMacParts(buf, off, e.macHi, e.macLo);
      return true;
    }
    this.insert(ip, -1, INCOMPLETE, now);
    return false;
  }

  /** The MAC for `ip` without starting resolution or marking use; -1 when unknown. */
  peek(ip: number): number {
    const e = this.entries.get(ip | 0);
    return e === undefined || e.state === INCOMPLETE ? -1 : e.mac;
  }

  /** True while `ip` has an entry (resolved or still resolving). */
  has(ip: number): boolean {
    return this.entries.has(ip | 0);
  }

  /**
   * Record `ip` is at `mac` (RFC 826 merge). An existing entry is always updated; a new one is
   * created only when `create` (the packet was addressed to us: RFC 826 adds the sender then, so
   * that the reply we are about to send needs no request of its own). Unsolicited replies to
   * unknown addresses are ignored, which keeps strangers from filling the table.
   */
  learn(ip: number, mac: number, now: number, create: boolean): boolean {
    const e = this.entries.get(ip | 0);
    if (e === undefined) {
      if (!create) return false;
      this.insert(ip, mac, REACHABLE, now);
      this.stats.arp.learned++;
      return true;
    }
    e.mac = mac;
    e.macHi = macHigh(mac);
    e.macLo = macLow(mac);
    e.state = REACHABLE;
    e.timer = now + this.reachableMs;
    e.sent = 0;
    e.confirmedAt = now;
    if (e.timer < this.deadline) this.deadline = e.timer;
    this.stats.arp.learned++;
    return true;
  }

  /**
   * Run timers due at `now`: lapse REACHABLE entries (to PROBE if used, else remove), queue
   * retries for INCOMPLETE/PROBE, give up after maxRetries.
   */
  service(now: number): void {
    if (now < this.deadline) return;
    let next = Infinity;
    for (const e of this.entries.values()) {
      if (e.timer <= now) {
        if (e.state === REACHABLE) {
          if (e.usedAt > e.confirmedAt) {
            e.state = PROBE;
            e.sent = 0;
            this.queue(e);
          } else {
            this.remove(e);
            continue;
          }
        } else if (!e.queued) {
          if (e.sent >= this.maxRetries) {
            this.stats.arp.failed++;
            this.remove(e);
            continue;
          }
          this.queue(e);
        }
      }
      if (!e.queued && e.timer < next) next = e.timer;
    }
    // Queued requests not yet sent keep the deadline at `now` so the loop comes back for them.
    this.deadline = this.due.length > 0 ? now : next;
  }

  /**
   * The next address to send a request for (after service()), or -1. The caller sends it and
   * calls requestSent(); if it has no room it simply does not pop.
   */
  popDue(): number {
    while (this.due.length > 0) {
      const e = this.entries.get(this.due.pop()!);
      if (e !== undefined && e.queued) {
        e.queued = false;
        return e.ip;
      }
    }
    return -1;
  }

  /** Number of requests waiting to go out. */
  get dueCount(): number {
    return this.due.length;
  }

  requestSent(ip: number, now: number): void {
    const e = this.entries.get(ip | 0);
    if (e === undefined) return;
    e.sent++;
    e.timer = now + this.retryMs;
    if (this.due.length === 0) this.recompute();
    else if (e.timer < this.deadline) this.deadline = e.timer;
  }

  /** Exact earliest timer once nothing waits in `due` (bounded by maxEntries, only after sends). */
  private recompute(): void {
    let next = Infinity;
    for (const e of this.entries.values()) if (e.timer < next) next = e.timer;
    this.deadline = next;
  }

  /** Earliest time service() has work; Infinity when none. */
  nextDeadline(): number {
    return this.deadline;
  }

  /** For netstat: [ip, mac (-1 while resolving), state name, ms until the entry's timer]. */
  list(now: number): { ip: number; mac: number; state: 'incomplete' | 'reachable' | 'probe'; timerMs: number }[] {
    const out: { ip: number; mac: number; state: 'incomplete' | 'reachable' | 'probe'; timerMs: number }[] = [];
    for (const e of this.entries.values()) {
      const state = e.state === INCOMPLETE ? 'incomplete' : e.state === REACHABLE ? 'reachable' : 'probe';
      out.push({ ip: e.ip >>> 0, mac: e.mac, state, timerMs: e.timer - now });
    }
    return out;
  }

  private queue(e: Entry): void {
    e.queued = true;
    this.due.push(e.ip | 0);
  }

  private remove(e: Entry): void {
    e.queued = false;
    this.entries.delete(e.ip | 0);
  }

  private insert(ip: number, mac: number, state: number, now: number): void {
    if (this.entries.size >= this.maxEntries) this.evict(now);
    const e: Entry = {
      ip,
      mac,
      macHi: mac < 0 ? 0 : macHigh(mac),
      macLo: mac < 0 ? 0 : macLow(mac),
      state,
      timer: state === REACHABLE ? now + this.reachableMs : now,
      sent: 0,
      confirmedAt: state === REACHABLE ? now : -Infinity,
      usedAt: now,
      queued: false,
    };
    this.entries.set(ip | 0, e);
    if (state === INCOMPLETE) {
      this.queue(e);
      this.deadline = now;
    } else if (e.timer < this.deadline) {
      this.deadline = e.timer;
    }
  }

  /**
   * Make room: prefer the oldest entry still resolving or idle for a whole reachable period, else
   * the least recently used of the first candidates, so a flood of new senders cannot push out a
   * neighbour (the gateway) that carries live traffic. Looks at a bounded number of candidates.
   */
  private evict(now: number): void {
    let victim: Entry | undefined;
    let looked = 0;
    for (const e of this.entries.values()) {
      if (e.state === INCOMPLETE || now - e.usedAt >= this.reachableMs) {
        victim = e;
        break;
      }
      if (victim === undefined || e.usedAt < victim.usedAt) victim = e;
      if (++looked >= 16) break;
    }
    if (victim !== undefined) {
      this.remove(victim);
      this.stats.arp.evicted++;
    }
  }
}

/**
 * Packets (IPv4 datagrams, no Ethernet header) waiting for their next hop's MAC. One
 * preallocated pool shared by all next hops, with a per-hop limit so one dead neighbour cannot
 * take every slot. Dropping instead of queueing would also be correct for TCP (it retransmits),
 * but parking a few avoids losing the first SYN-ACK/reply of every new neighbour to a full RTO.
 */
export class PendingQueue {
  readonly buf: Uint8Array;
  private readonly hop: Int32Array;
  private readonly len: Uint32Array;
  /** Slot indices in arrival order: order[0..count). */
  private readonly order: Int32Array;
  private readonly free: Int32Array;
  private freeCount: number;
  private count = 0;

  constructor(
    readonly slots: number,
    readonly slotSize: number,
    readonly perHop: number,
  ) {
    this.buf = new Uint8Array(slots * slotSize);
    this.hop = new Int32Array(slots);
    this.len = new Uint32Array(slots);
    this.order = new Int32Array(slots);
    this.free = new Int32Array(slots);
    for (let i = 0; i < slots; i++) this.free[i] = slots - 1 - i;
    this.freeCount = slots;
  }

  get size(): number {
    return this.count;
  }

  /**
   * Take a slot for a `len`-byte packet to `nextHop` and return its offset in `buf` (the caller
   * writes the packet there), or -1 when the pool or the hop's share is full.
   */
  alloc(nextHop: number, len: number): number {
    if (this.freeCount === 0 || len > this.slotSize) return -1;
    // Hops are kept in int32 form so a uint32 and an int32 spelling of one address count together.
    const hop = nextHop | 0;
    let held = 0;
    for (let i = 0; i < this.count; i++) if (this.hop[this.order[i]] === hop) held++;
    if (held >= this.perHop) return -1;
    const slot = this.free[--this.freeCount];
    this.hop[slot] = hop;
    this.len[slot] = len;
    this.order[this.count++] = slot;
    return slot * this.slotSize;
  }

  /** Copy buf[off, off + len) in as a packet for `nextHop`; false when there is no room for it. */
  park(nextHop: number, src: Uint8Array, off: number, len: number): boolean {
    const at = this.alloc(nextHop, len);
    if (at < 0) return false;
    copyBytes(this.buf, at, src, off, len);
    return true;
  }

  /** Next hop of the i-th waiting packet (0 = oldest), int32 form (`>>> 0` for uint32). */
  hopAt(i: number): number {
    return this.hop[this.order[i]];
  }
  /** Offset in `buf` of the i-th waiting packet. */
  offsetAt(i: number): number {
    return this.order[i] * this.slotSize;
  }
  lengthAt(i: number): number {
    return this.len[this.order[i]];
  }

  /** Remove the i-th waiting packet; later ones move down by one. */
  removeAt(i: number): void {
    const slot = this.order[i];
    this.order.copyWithin(i, i + 1, this.count);
    this.count--;
    this.free[this.freeCount++] = slot;
  }
}
