// IPv4 header (RFC 791). Functions over (buf, off); addresses are uint32 numbers in host order
// (198.18.0.1 = 0xc6120001). checkIpv4 is the one up-front validation of a received header;
// after it passes, every accessor is in bounds.

import { checksum } from './checksum.js';
import { RX_CSUM_BAD, RX_CSUM_GOOD, RX_CSUM_NONE } from '../../io/port.js';

export const IPV4_MIN_HEADER = 20;
export const IPV4_MAX_TOTAL = 65535;
export const IP_PROTO_ICMP = 1;
export const IP_PROTO_TCP = 6;
export const IP_PROTO_UDP = 17;

export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
const FRAG_OFFSET_MASK = 0x1fff;

/** Why checkIpv4 refused a header. The names are the netstack's drop-counter labels. */
export type Ipv4Error = 'bad_ip_version' | 'bad_ip_header' | 'bad_ip_length' | 'bad_ip_checksum';

/**
 * Validate the header at buf[off, off + len) where `len` is what the link layer delivered
 * (it may include Ethernet padding beyond the total length). Checks, in order: version 4;
 * IHL >= 5 and the header fits; total length >= header length and <= len; header checksum.
 * `verdict` is a port's finding on the header checksum (RX_CSUM_*, checksum offload): GOOD and
 * BAD stand in for summing it here, NONE sums it.
 */
export function checkIpv4(buf: Uint8Array, off: number, len: number, verdict = RX_CSUM_NONE): Ipv4Error | null {
  if (len < IPV4_MIN_HEADER) return 'bad_ip_header';
  if (buf[off] >>> 4 !== 4) return 'bad_ip_version';
  const hl = (buf[off] & 0x0f) << 2;
  if (hl < IPV4_MIN_HEADER || hl > len) return 'bad_ip_header';
  const total = (buf[off + 2] << 8) | buf[off + 3];
  if (total < hl || total > len) return 'bad_ip_length';
  if (verdict === RX_CSUM_GOOD) return null;
  if (verdict === RX_CSUM_BAD || checksum(buf, off, hl) !== 0) return 'bad_ip_checksum';
  return null;
}

export function ipVersion(buf: Uint8Array, off: number): number {
  return buf[off] >>> 4;
}
/** Header length in bytes (IHL * 4), options included. */
export function ipHeaderLength(buf: Uint8Array, off: number): number {
  return (buf[off] & 0x0f) << 2;
}
export function ipTos(buf: Uint8Array, off: number): number {
  return buf[off + 1];
}
export function ipTotalLength(buf: Uint8Array, off: number): number {
  return (buf[off + 2] << 8) | buf[off + 3];
}
export function ipId(buf: Uint8Array, off: number): number {
  return (buf[off + 4] << 8) | buf[off + 5];
}
/** Flags and fragment offset word: test with IPV4_FLAG_DF / IPV4_FLAG_MF. */
export function ipFlagsFragment(buf: Uint8Array, off: number): number {
  return (buf[off + 6] << 8) | buf[off + 7];
}
export function ipMoreFragments(buf: Uint8Array, off: number): boolean {
  return (buf[off + 6] & 0x20) !== 0;
}
export function ipDontFragment(buf: Uint8Array, off: number): boolean {
  return (buf[off + 6] & 0x40) !== 0;
}
/** Fragment offset in bytes (the field counts 8-byte units). */
export function ipFragmentOffset(buf: Uint8Array, off: number): number {
  return (ipFlagsFragment(buf, off) & FRAG_OFFSET_MASK) << 3;
}
/** True when the packet is a fragment (MF set or a non-zero offset). */
export function ipIsFragment(buf: Uint8Array, off: number): boolean {
  return (ipFlagsFragment(buf, off) & (IPV4_FLAG_MF | FRAG_OFFSET_MASK)) !== 0;
}
export function ipTtl(buf: Uint8Array, off: number): number {
  return buf[off + 8];
}
export function ipProtocol(buf: Uint8Array, off: number): number {
  return buf[off + 9];
}
export function ipHeaderChecksum(buf: Uint8Array, off: number): number {
  return (buf[off + 10] << 8) | buf[off + 11];
}
export function ipSrc(buf: Uint8Array, off: number): number {
  return ((buf[off + 12] << 24) | (buf[off + 13] << 16) | (buf[off + 14] << 8) | buf[off + 15]) >>> 0;
}
export function ipDst(buf: Uint8Array, off: number): number {
  return ((buf[off + 16] << 24) | (buf[off + 17] << 16) | (buf[off + 18] << 8) | buf[off + 19]) >>> 0;
}

/**
 * The same addresses as int32 (198.18.0.1 = -971898879; `x >>> 0` gives the uint32). Per-frame
 * code uses these: V8 keeps int32 values as small integers, while a uint32 >= 2^31 (any address
 * from 128.0.0.0 up) becomes a heap allocation whenever it crosses a call that is not inlined.
 */
export function ipSrcI32(buf: Uint8Array, off: number): number {
  return (buf[off + 12] << 24) | (buf[off + 13] << 16) | (buf[off + 14] << 8) | buf[off + 15];
}
export function ipDstI32(buf: Uint8Array, off: number): number {
  return (buf[off + 16] << 24) | (buf[off + 17] << 16) | (buf[off + 18] << 8) | buf[off + 19];
}

export function writeIpv4Address(buf: Uint8Array, off: number, ip: number): void {
  buf[off] = ip >>> 24;
  buf[off + 1] = ip >>> 16;
  buf[off + 2] = ip >>> 8;
  buf[off + 3] = ip;
}

/**
 * Emit a 20-byte header (no options) at `off`, checksum included unless `withChecksum` is false
 * (the port fills it: checksum offload; the field is left 0). `flagsFragment` is the raw
 * flags/offset word (IPV4_FLAG_DF for everything this stack originates: it never fragments).
 */
export function writeIpv4Header(
  buf: Uint8Array,
  off: number,
  totalLength: number,
  id: number,
  flagsFragment: number,
  ttl: number,
  protocol: number,
  src: number,
  dst: number,
  tos = 0,
  withChecksum = true,
): void {
  buf[off] = 0x45;
  buf[off + 1] = tos;
  buf[off + 2] = totalLength >>> 8;
  buf[off + 3] = totalLength;
  buf[off + 4] = id >>> 8;
  buf[off + 5] = id;
  buf[off + 6] = flagsFragment >>> 8;
  buf[off + 7] = flagsFragment;
  buf[off + 8] = ttl;
  buf[off + 9] = protocol;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  writeIpv4Address(buf, off + 12, src);
  writeIpv4Address(buf, off + 16, dst);
  if (withChecksum) fillIpv4Checksum(buf, off);
}

/** Zero the header checksum field, compute it over the header (options included) and store it. */
export function fillIpv4Checksum(buf: Uint8Array, off: number): void {
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  const ck = checksum(buf, off, ipHeaderLength(buf, off));
  buf[off + 10] = ck >>> 8;
  buf[off + 11] = ck;
}

export function formatIpv4(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

/**
 * Strict dotted-quad parse: four decimal octets 0-255 without leading zeros (a leading zero is
 * octal to inet_aton, so '010.0.0.1' is ambiguous and refused). Returns -1 when invalid; callers
 * that take config input turn that into an error naming the field.
 */
export function parseIpv4(s: string): number {
  const parts = s.split('.');
  if (parts.length !== 4) return -1;
  let ip = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return -1;
    const v = Number(p);
    if (v > 255) return -1;
    ip = ip * 256 + v;
  }
  return ip;
}

/** Network mask for a prefix length 0..32 as uint32. */
export function prefixMask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffff_ffff << (32 - prefixLength)) >>> 0;
}

export function describeIpv4(buf: Uint8Array, off: number, len: number): string {
  const err = checkIpv4(buf, off, len);
  if (err !== null) return `ipv4 invalid(${err}, ${len})`;
  const ff = ipFlagsFragment(buf, off);
  const flags = `${ff & IPV4_FLAG_DF ? 'DF' : ''}${ff & IPV4_FLAG_MF ? 'MF' : ''}`;
  return (
    `ipv4 ${formatIpv4(ipSrc(buf, off))} > ${formatIpv4(ipDst(buf, off))} proto ${ipProtocol(buf, off)} ` +
    `ttl ${ipTtl(buf, off)} id ${ipId(buf, off)} len ${ipTotalLength(buf, off)} hl ${ipHeaderLength(buf, off)}` +
    (flags ? ` ${flags}` : '') +
    (ipFragmentOffset(buf, off) ? ` frag ${ipFragmentOffset(buf, off)}` : '')
  );
}
