// IPv4 host logic: our address and on-link prefix, next-hop choice, source sanity, and fragment
// reassembly with hard limits. Header bytes are handled by wire/ipv4.ts; time is injected (ms).
//
// This stack only ever originates datagrams with DF set (TCP sizes segments by MSS, ICMP replies
// that would not fit are dropped), so there is no fragmentation on output.

import {
  ipDstI32,
  ipFragmentOffset,
  ipHeaderLength,
  ipId,
  ipMoreFragments,
  ipProtocol,
  ipSrcI32,
  ipTotalLength,
  IPV4_MAX_TOTAL,
  prefixMask,
} from './wire/ipv4.js';
import type { NetStats } from './stats.js';
import { positive } from './options.js';
import { SluiceError } from '../errors.js';
import { copyBytes } from './wire/bytes.js';

/** nextHop() result when there is no route: outside both the uint32 and the int32 ranges. */
export const NO_ROUTE = -0x1_0000_0001;

/**
 * Methods accept an address as uint32 or int32 (the same 32 bits; per-frame code uses int32, see
 * ipSrcI32) and compare in int32 form.
 */
export class Ipv4Host {
  readonly mask: number;
  readonly network: number;
  readonly broadcast: number;
  private readonly mask32: number;
  private readonly network32: number;
  private readonly broadcast32: number;
  private readonly address32: number;

  /** `gateway` is -1 when there is none (only on-link destinations are reachable). */
  constructor(
    readonly address: number,
    readonly prefixLength: number,
    readonly gateway: number,
  ) {
    this.mask = prefixMask(prefixLength);
    this.network = (address & this.mask) >>> 0;
    this.broadcast = (this.network | ~this.mask) >>> 0;
    this.mask32 = this.mask | 0;
    this.network32 = this.network | 0;
    this.broadcast32 = this.broadcast | 0;
    this.address32 = address | 0;
  }

  isOnLink(ip: number): boolean {
    return (ip & this.mask32) === this.network32;
  }

  /**
   * Where a datagram to `dst` goes at L2: `dst` itself on-link (in the form given), else the
   * gateway (uint32), else NO_ROUTE. Callers key tables by `hop | 0`.
   */
  nextHop(dst: number): number {
    if (this.isOnLink(dst)) return dst;
    return this.gateway < 0 ? NO_ROUTE : this.gateway;
  }

  /**
   * RFC 1122 3.2.1.3 / RFC 1812 5.3.7: a source that cannot be a single host is discarded:
   * 0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/4 multicast, 240.0.0.0/4 (incl. 255.255.255.255), our own
   * address (spoofed or looped), and our subnet's broadcast address.
   */
  isMartianSource(src: number): boolean {
    const top = src >>> 24;
    if (top === 0 || top === 127 || top >= 224) return true;
    const s32 = src | 0;
    if (s32 === this.address32) return true;
    return this.prefixLength < 31 && s32 === this.broadcast32;
  }
}

export interface ReassemblyOptions {
  /** Datagrams held at once; a fragment of a new datagram beyond this is dropped. */
  maxDatagrams?: number;
  /** Largest reassembled datagram (header + payload) accepted, bytes (<= 65535). */
  maxDatagramBytes?: number;
  /** Fragments per datagram. */
  maxFragments?: number;
  /** A datagram not complete this long after its first fragment is discarded (RFC 791 timer). */
  timeoutMs?: number;
}

/** Outcome of feeding one fragment: held, completed, or the drop reason (a stats label). */
export type FragmentResult =
  | 'held'
  | 'complete'
  | 'fragment_bad'
  | 'fragment_overlap'
  | 'fragment_duplicate'
  | 'fragment_table_full'
  | 'fragment_too_big'
  | 'fragment_too_many';

/** Room kept before the payload for the first fragment's header (IHL max 15 * 4). */
const HEADER_ROOM = 60;

class Datagram {
  inUse = false;
  src = 0;
  dst = 0;
  proto = 0;
  id = 0;
  expiresAt = 0;
  /** Allocated on first use of this slot, then reused: memory is bounded by maxDatagrams. */
  buf: Uint8Array | null = null;
  /** Header length of the offset-0 fragment; 0 until it arrives. */
  headerLength = 0;
  /** Payload length, known once the last fragment (MF clear) arrives; -1 before. */
  total = -1;
  received = 0;
  /** [start, end) of each fragment held, sorted by start; never overlapping. */
  readonly ranges: Int32Array;
  nranges = 0;
  /** Largest end offset seen. */
  maxEnd = 0;

  constructor(maxFragments: number) {
    this.ranges = new Int32Array(maxFragments * 2);
  }
}

/**
 * IPv4 fragment reassembly (RFC 791 3.2, RFC 815 hole bookkeeping as a sorted range list).
 * Limits: datagrams held, bytes per datagram, fragments per datagram, time. A fragment that
 * overlaps data already held discards the whole datagram: overlapping fragments have no benign
 * use and different overlap policies are how reassembly-based evasion works (RFC 5722 makes the
 * same call for IPv6). An exact duplicate (a retransmitted copy) is dropped alone.
 *
 * After input() returns 'complete', out* describe the datagram; they stay valid until the next
 * input() call, so the caller hands them up synchronously.
 */
export class Reassembler {
  readonly maxDatagrams: number;
  readonly maxDatagramBytes: number;
  readonly maxFragments: number;
  readonly timeoutMs: number;
  private readonly slots: Datagram[] = [];
  private deadline = Infinity;
  private activeCount = 0;

  outBuf: Uint8Array = new Uint8Array(0);
  /** Offset of the reassembled datagram's header (the offset-0 fragment's, as received). */
  outHeaderOff = 0;
  outHeaderLength = 0;
  /** Offset and length of the reassembled payload. */
  outOff = 0;
  outLen = 0;
  /** Addresses in int32 form (`>>> 0` for uint32). */
  outSrc = 0;
  outDst = 0;
  outProto = 0;

  constructor(
    private readonly stats: NetStats,
    opts: ReassemblyOptions = {},
  ) {
    this.maxDatagrams = opts.maxDatagrams ?? 16;
    this.maxDatagramBytes = opts.maxDatagramBytes ?? IPV4_MAX_TOTAL;
    this.maxFragments = opts.maxFragments ?? 64;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    positive('netstack.reassembly.maxDatagrams', this.maxDatagrams, true);
    positive('netstack.reassembly.maxFragments', this.maxFragments, true);
    positive('netstack.reassembly.timeoutMs', this.timeoutMs, false);
    const mdb = opts.maxDatagramBytes ?? IPV4_MAX_TOTAL;
    // RFC 791: every host must accept 576-byte datagrams (in fragments or not).
    if (!Number.isInteger(mdb) || mdb < 576 || mdb > IPV4_MAX_TOTAL) {
      throw new SluiceError('SLUICE_CONFIG_INVALID', `netstack.reassembly.maxDatagramBytes: ${JSON.stringify(mdb)} must be an integer 576-65535 (RFC 791)`, {
        field: 'netstack.reassembly.maxDatagramBytes',
        value: mdb,
      });
    }
    for (let i = 0; i < this.maxDatagrams; i++) this.slots.push(new Datagram(this.maxFragments));
  }

  /** Datagrams currently held. */
  get active(): number {
    return this.activeCount;
  }

  /** Bytes of reassembly buffers allocated so far (bounded by maxDatagrams * (maxDatagramBytes + 60)). */
  get allocatedBytes(): number {
    let n = 0;
    for (const d of this.slots) if (d.buf !== null) n += d.buf.length;
    return n;
  }

  nextDeadline(): number {
    return this.deadline;
  }

  /** Discard datagrams whose timer ran out. */
  service(now: number): void {
    if (now < this.deadline) return;
    let next = Infinity;
    for (const d of this.slots) {
      if (!d.inUse) continue;
      if (d.expiresAt <= now) {
        this.release(d);
        this.stats.reassembly.timedOut++;
      } else if (d.expiresAt < next) {
        next = d.expiresAt;
      }
    }
    this.deadline = next;
  }

  /** Feed one fragment whose IPv4 header at `off` already passed checkIpv4. */
  input(buf: Uint8Array, off: number, now: number): FragmentResult {
    this.service(now);
    const hl = ipHeaderLength(buf, off);
    const len = ipTotalLength(buf, off) - hl;
    const start = ipFragmentOffset(buf, off);
    const end = start + len;
    const more = ipMoreFragments(buf, off);
    // RFC 791: every fragment but the last carries a multiple of 8 bytes; none is empty; the
    // datagram cannot exceed 65535 bytes.
    if (len === 0 || (more && (len & 7) !== 0) || end + hl > IPV4_MAX_TOTAL) return 'fragment_bad';

    const src = ipSrcI32(buf, off);
    const dst = ipDstI32(buf, off);
    const proto = ipProtocol(buf, off);
    const id = ipId(buf, off);
    let d: Datagram | undefined;
    let free: Datagram | undefined;
    for (const s of this.slots) {
      if (s.inUse) {
        if (s.id === id && s.src === src && s.dst === dst && s.proto === proto) {
          d = s;
          break;
        }
      } else if (free === undefined) {
        free = s;
      }
    }
    if (d === undefined) {
      // Refuse before taking a slot: payload end plus the smallest header must fit the limit.
      if (end + 20 > this.maxDatagramBytes) return 'fragment_too_big';
      if (free === undefined) return 'fragment_table_full';
      d = free;
      d.inUse = true;
      d.src = src;
      d.dst = dst;
      d.proto = proto;
      d.id = id;
      d.expiresAt = now + this.timeoutMs;
      d.headerLength = 0;
      d.total = -1;
      d.received = 0;
      d.nranges = 0;
      d.maxEnd = 0;
      if (d.buf === null) d.buf = new Uint8Array(HEADER_ROOM + this.maxDatagramBytes);
      this.activeCount++;
      if (d.expiresAt < this.deadline) this.deadline = d.expiresAt;
    }

    // Size limit: the payload plus the smallest possible header must fit.
    if (end + 20 > this.maxDatagramBytes) {
      this.release(d);
      return 'fragment_too_big';
    }
    if (!more) {
      // The last fragment fixes the length; a second, different "last" or data beyond it is bogus.
      if ((d.total !== -1 && d.total !== end) || d.maxEnd > end) {
        if (d.total === end && this.isDuplicate(d, start, end)) return 'fragment_duplicate';
        this.release(d);
        return 'fragment_bad';
      }
    } else if (d.total !== -1 && end > d.total) {
      this.release(d);
      return 'fragment_bad';
    }

    // Find the insertion point in the sorted range list and test both neighbours for overlap.
    const r = d.ranges;
    let i = 0;
    while (i < d.nranges && r[i * 2] < start) i++;
    if (i < d.nranges && r[i * 2] === start && r[i * 2 + 1] === end) return 'fragment_duplicate';
    if ((i > 0 && r[(i - 1) * 2 + 1] > start) || (i < d.nranges && r[i * 2] < end)) {
      this.release(d);
      this.stats.reassembly.overlapDiscarded++;
      return 'fragment_overlap';
    }
    if (d.nranges >= this.maxFragments) {
      this.release(d);
      return 'fragment_too_many';
    }
    r.copyWithin((i + 1) * 2, i * 2, d.nranges * 2);
    r[i * 2] = start;
    r[i * 2 + 1] = end;
    d.nranges++;
    d.received += len;
    if (end > d.maxEnd) d.maxEnd = end;
    if (!more) d.total = end;

    const dbuf = d.buf!;
    copyBytes(dbuf, HEADER_ROOM + start, buf, off + hl, len);
    if (start === 0) {
      d.headerLength = hl;
      copyBytes(dbuf, HEADER_ROOM - hl, buf, off, hl);
    }

    if (d.total === -1 || d.received !== d.total) return 'held';
    // Complete: ranges never overlap, so received === total means [0, total) is covered.
    this.outBuf = dbuf;
    this.outHeaderLength = d.headerLength;
    this.outHeaderOff = HEADER_ROOM - d.headerLength;
    this.outOff = HEADER_ROOM;
    this.outLen = d.total;
    this.outSrc = d.src;
    this.outDst = d.dst;
    this.outProto = d.proto;
    this.release(d);
    this.stats.reassembly.completed++;
    return 'complete';
  }

  private isDuplicate(d: Datagram, start: number, end: number): boolean {
    for (let i = 0; i < d.nranges; i++) if (d.ranges[i * 2] === start && d.ranges[i * 2 + 1] === end) return true;
    return false;
  }

  private release(d: Datagram): void {
    if (!d.inUse) return;
    d.inUse = false;
    this.activeCount--;
  }
}
