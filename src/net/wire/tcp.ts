// TCP header (RFC 9293 3.1) as functions over (buf, off): a segment is read and written in place,
// never turned into an object on the hot path. Options (RFC 9293 3.2, RFC 7323, RFC 2018) parse
// into a caller-owned, reused TcpOptions record. `describe()` builds an object for logs and tests.

import { finish, pseudoHeaderSum, sum16 } from './checksum.js';

export const TCP_PROTO = 6;
export const TCP_HEADER_MIN = 20;
/** Data offset is 4 bits of 32-bit words: 60 bytes of header at most, so 40 of options. */
export const TCP_HEADER_MAX = 60;

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;
export const ECE = 0x40;
export const CWR = 0x80;

export const OPT_EOL = 0;
export const OPT_NOP = 1;
export const OPT_MSS = 2;
export const OPT_WSCALE = 3;
export const OPT_SACK_PERMITTED = 4;
export const OPT_SACK = 5;
export const OPT_TIMESTAMPS = 8;

/** RFC 7323 2.3: a shift above 14 is treated as 14. */
export const MAX_WSCALE = 14;

export function srcPort(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}
export function dstPort(b: Uint8Array, o: number): number {
  return (b[o + 2] << 8) | b[o + 3];
}
function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}
function setU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}
function setU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}
export function seqNum(b: Uint8Array, o: number): number {
  return u32(b, o + 4);
}
export function ackNum(b: Uint8Array, o: number): number {
  return u32(b, o + 8);
}
/** Header length in bytes (data offset * 4). */
export function headerLen(b: Uint8Array, o: number): number {
  return (b[o + 12] >>> 4) << 2;
}
export function flags(b: Uint8Array, o: number): number {
  return b[o + 13];
}
export function windowField(b: Uint8Array, o: number): number {
  return (b[o + 14] << 8) | b[o + 15];
}
export function checksumField(b: Uint8Array, o: number): number {
  return (b[o + 16] << 8) | b[o + 17];
}
export function urgentPtr(b: Uint8Array, o: number): number {
  return (b[o + 18] << 8) | b[o + 19];
}

export function setSrcPort(b: Uint8Array, o: number, v: number): void {
  setU16(b, o, v);
}
export function setDstPort(b: Uint8Array, o: number, v: number): void {
  setU16(b, o + 2, v);
}
export function setSeq(b: Uint8Array, o: number, v: number): void {
  setU32(b, o + 4, v);
}
export function setAck(b: Uint8Array, o: number, v: number): void {
  setU32(b, o + 8, v);
}
/** Sets data offset from a header length in bytes (a multiple of 4, 20..60) and the flags byte. */
export function setHeaderLenAndFlags(b: Uint8Array, o: number, hlen: number, fl: number): void {
  b[o + 12] = (hlen >>> 2) << 4;
  b[o + 13] = fl;
}
export function setWindow(b: Uint8Array, o: number, v: number): void {
  setU16(b, o + 14, v);
}
export function setChecksumField(b: Uint8Array, o: number, v: number): void {
  setU16(b, o + 16, v);
}
export function setUrgentPtr(b: Uint8Array, o: number, v: number): void {
  setU16(b, o + 18, v);
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
let viewsOf: ArrayBufferLike | null = null;
let words16: Uint16Array<ArrayBufferLike> = new Uint16Array(0);
let words32: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/**
 * Ones' complement partial sum of b[o, o + len), like checksum.ts's sum16 but reading 32-bit
 * words through a Uint32Array view (after at most one 16-bit word to reach 4-byte alignment; a
 * segment in a burst slot starts at slot + 14 + 20, which is 2 mod 4). Words are read in host
 * order; RFC 1071 2(B): the sum of byte-swapped words is the byte-swapped sum, so one swap of the
 * folded total fixes it. The byte loop is kept for odd addresses, short data and big-endian hosts.
 * 32-bit words summed in a double stay exact far beyond any segment (2^53 / 2^32 words).
 */
export function sum16Fast(b: Uint8Array, o: number, len: number, initial: number): number {
  let abs = b.byteOffset + o;
  if (!LITTLE_ENDIAN || (abs & 1) !== 0 || len < 64) return sum16(b, o, len, initial);
  if (viewsOf !== b.buffer) {
    viewsOf = b.buffer;
    words16 = new Uint16Array(b.buffer, 0, b.buffer.byteLength >>> 1);
    words32 = new Uint32Array(b.buffer, 0, b.buffer.byteLength >>> 2);
  }
  let s = 0;
  let rest = len;
  if ((abs & 2) !== 0) {
    s = words16[abs >>> 1];
    abs += 2;
    rest -= 2;
  }
  const w = words32;
  let i = abs >>> 2;
  const n = rest >>> 2;
  const end4 = i + (n & ~3);
  const end = i + n;
  for (; i < end4; i += 4) s += w[i] + w[i + 1] + w[i + 2] + w[i + 3];
  for (; i < end; i++) s += w[i];
  if (rest & 2) s += words16[(abs + (n << 2)) >>> 1];
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  let total = ((s & 0xff) << 8) | (s >>> 8);
  if (len & 1) total += b[o + len - 1] << 8;
  return total + initial;
}

/** The checksum of a whole segment with its IPv4 pseudo header; 0 when a received segment is valid. */
export function segmentChecksum(b: Uint8Array, o: number, len: number, srcIp: number, dstIp: number): number {
  return finish(sum16Fast(b, o, len, pseudoHeaderSum(srcIp, dstIp, TCP_PROTO, len)));
}

/** Zero the field, compute and store the checksum of a segment we are about to send. */
export function fillChecksum(b: Uint8Array, o: number, len: number, srcIp: number, dstIp: number): void {
  b[o + 16] = 0;
  b[o + 17] = 0;
  setU16(b, o + 16, segmentChecksum(b, o, len, srcIp, dstIp));
}

/** Options of one segment. Reused: `parseOptions` resets every field. */
export interface TcpOptions {
  /** -1 when absent. */
  mss: number;
  /** -1 when absent; else the shift, clamped to 14 (RFC 7323 2.3). */
  wscale: number;
  sackPermitted: boolean;
  hasTimestamps: boolean;
  tsVal: number;
  tsEcr: number;
  /** Number of SACK blocks (0..4); block i is [sackLeft[i], sackRight[i]). */
  sackCount: number;
  readonly sackLeft: Uint32Array;
  readonly sackRight: Uint32Array;
}

export function createOptions(): TcpOptions {
  return {
    mss: -1,
    wscale: -1,
    sackPermitted: false,
    hasTimestamps: false,
    tsVal: 0,
    tsEcr: 0,
    sackCount: 0,
    sackLeft: new Uint32Array(4),
    sackRight: new Uint32Array(4),
  };
}

/** Why option parsing failed; 0 is success. Stable strings become drop counters. */
export const enum OptionError {
  None = 0,
  /** An option's length byte runs past the header, or is below 2. */
  Truncated = 1,
  /** A known option with the wrong length (MSS != 4, WS != 3, SACK-permitted != 2, TS != 10, SACK not 2 + 8n). */
  BadLength = 2,
}

export function optionErrorName(e: OptionError): string {
  return e === OptionError.Truncated ? 'options_truncated' : 'options_bad_length';
}

/**
 * Parse the options of the segment at `o` (header length already checked against the buffer).
 * Unknown options are skipped by their length (RFC 9293 3.2: must be ignored).
 */
export function parseOptions(b: Uint8Array, o: number, out: TcpOptions): OptionError {
  out.mss = -1;
  out.wscale = -1;
  out.sackPermitted = false;
  out.hasTimestamps = false;
  out.sackCount = 0;
  const end = o + headerLen(b, o);
  let i = o + TCP_HEADER_MIN;
  while (i < end) {
    const kind = b[i];
    if (kind === OPT_EOL) break;
    if (kind === OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return OptionError.Truncated;
    const len = b[i + 1];
    if (len < 2 || i + len > end) return OptionError.Truncated;
    switch (kind) {
      case OPT_MSS:
        if (len !== 4) return OptionError.BadLength;
        out.mss = (b[i + 2] << 8) | b[i + 3];
        break;
      case OPT_WSCALE:
        if (len !== 3) return OptionError.BadLength;
        out.wscale = b[i + 2] > MAX_WSCALE ? MAX_WSCALE : b[i + 2];
        break;
      case OPT_SACK_PERMITTED:
        if (len !== 2) return OptionError.BadLength;
        out.sackPermitted = true;
        break;
      case OPT_TIMESTAMPS:
        if (len !== 10) return OptionError.BadLength;
        out.hasTimestamps = true;
        out.tsVal = u32(b, i + 2);
        out.tsEcr = u32(b, i + 6);
        break;
      case OPT_SACK: {
        if (len < 10 || (len - 2) % 8 !== 0) return OptionError.BadLength;
        const n = (len - 2) >>> 3;
        for (let k = 0; k < n && k < 4; k++) {
          out.sackLeft[k] = u32(b, i + 2 + k * 8);
          out.sackRight[k] = u32(b, i + 6 + k * 8);
        }
        out.sackCount = n > 4 ? 4 : n;
        break;
      }
      default:
        break;
    }
    i += len;
  }
  return OptionError.None;
}

// Emitters return the new write position. Every option is padded with NOPs to keep 32-bit
// alignment, the layout stacks commonly use (RFC 7323 Appendix A).

export function emitMss(b: Uint8Array, i: number, mss: number): number {
  b[i] = OPT_MSS;
  b[i + 1] = 4;
  setU16(b, i + 2, mss);
  return i + 4;
}
export function emitWscale(b: Uint8Array, i: number, shift: number): number {
  b[i] = OPT_NOP;
  b[i + 1] = OPT_WSCALE;
  b[i + 2] = 3;
  b[i + 3] = shift;
  return i + 4;
}
export function emitSackPermitted(b: Uint8Array, i: number): number {
  b[i] = OPT_NOP;
  b[i + 1] = OPT_NOP;
  b[i + 2] = OPT_SACK_PERMITTED;
  b[i + 3] = 2;
  return i + 4;
}
export function emitTimestamps(b: Uint8Array, i: number, tsVal: number, tsEcr: number): number {
  b[i] = OPT_NOP;
  b[i + 1] = OPT_NOP;
  b[i + 2] = OPT_TIMESTAMPS;
  b[i + 3] = 10;
  setU32(b, i + 4, tsVal);
  setU32(b, i + 8, tsEcr);
  return i + 12;
}
/** SACK blocks [left[k], right[k]) for k < count (count <= 4; 3 when timestamps share the header). */
export function emitSack(b: Uint8Array, i: number, left: Uint32Array, right: Uint32Array, count: number): number {
  b[i] = OPT_NOP;
  b[i + 1] = OPT_NOP;
  b[i + 2] = OPT_SACK;
  b[i + 3] = 2 + 8 * count;
  let p = i + 4;
  for (let k = 0; k < count; k++) {
    setU32(b, p, left[k]);
    setU32(b, p + 4, right[k]);
    p += 8;
  }
  return p;
}

/** Write the fixed 20-byte header. Checksum and urgent pointer are zeroed. */
export function emitHeader(
  b: Uint8Array,
  o: number,
  sport: number,
  dport: number,
  seq: number,
  ack: number,
  hlen: number,
  fl: number,
  wnd: number,
): void {
  setU16(b, o, sport);
  setU16(b, o + 2, dport);
  setU32(b, o + 4, seq);
  setU32(b, o + 8, ack);
  b[o + 12] = (hlen >>> 2) << 4;
  b[o + 13] = fl;
  setU16(b, o + 14, wnd);
  b[o + 16] = 0;
  b[o + 17] = 0;
  b[o + 18] = 0;
  b[o + 19] = 0;
}

export function flagNames(fl: number): string {
  const names: string[] = [];
  if (fl & SYN) names.push('SYN');
  if (fl & ACK) names.push('ACK');
  if (fl & FIN) names.push('FIN');
  if (fl & RST) names.push('RST');
  if (fl & PSH) names.push('PSH');
  if (fl & URG) names.push('URG');
  return names.join('|');
}

/** A readable summary of one segment, for logs and tests (allocates; not for the hot path). */
export function describe(b: Uint8Array, o: number, len: number): Record<string, unknown> {
  const opts = createOptions();
  const err = parseOptions(b, o, opts);
  const hl = headerLen(b, o);
  return {
    srcPort: srcPort(b, o),
    dstPort: dstPort(b, o),
    seq: seqNum(b, o),
    ack: ackNum(b, o),
    flags: flagNames(flags(b, o)),
    window: windowField(b, o),
    headerLen: hl,
    payloadLen: len - hl,
    options: err === OptionError.None
      ? {
          mss: opts.mss,
          wscale: opts.wscale,
          sackPermitted: opts.sackPermitted,
          timestamps: opts.hasTimestamps ? [opts.tsVal, opts.tsEcr] : null,
          sack: Array.from({ length: opts.sackCount }, (_, k) => [opts.sackLeft[k], opts.sackRight[k]]),
        }
      : optionErrorName(err),
  };
}
