// ICMPv4 (RFC 792): the 8-byte header common to echo and error messages. The checksum covers
// the whole ICMP message (no pseudo-header).

import { checksum } from './checksum.js';

export const ICMP_HEADER_LEN = 8;
export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;

export const ICMP_UNREACH_NET = 0;
export const ICMP_UNREACH_HOST = 1;
export const ICMP_UNREACH_PROTOCOL = 2;
export const ICMP_UNREACH_PORT = 3;
export const ICMP_UNREACH_NEEDFRAG = 4;

/** RFC 792: an error quotes the offending IP header plus the first 64 bits of its data. */
export const ICMP_ERROR_QUOTE_DATA = 8;

export type IcmpError = 'bad_icmp';

/** The one up-front check: a full header and a valid checksum over the `len`-byte message. */
export function checkIcmp(buf: Uint8Array, off: number, len: number): IcmpError | null {
  if (len < ICMP_HEADER_LEN) return 'bad_icmp';
  if (checksum(buf, off, len) !== 0) return 'bad_icmp';
  return null;
}

export function icmpType(buf: Uint8Array, off: number): number {
  return buf[off];
}
export function icmpCode(buf: Uint8Array, off: number): number {
  return buf[off + 1];
}
export function icmpChecksum(buf: Uint8Array, off: number): number {
  return (buf[off + 2] << 8) | buf[off + 3];
}
export function icmpEchoId(buf: Uint8Array, off: number): number {
  return (buf[off + 4] << 8) | buf[off + 5];
}
export function icmpEchoSeq(buf: Uint8Array, off: number): number {
  return (buf[off + 6] << 8) | buf[off + 7];
}

/** Compute and store the checksum of the `len`-byte message at `off`. */
export function setIcmpChecksum(buf: Uint8Array, off: number, len: number): void {
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  const ck = checksum(buf, off, len);
  buf[off + 2] = ck >>> 8;
  buf[off + 3] = ck;
}

/** Emit an echo request or reply header; the payload is already at off + 8. Sets the checksum. */
export function writeIcmpEcho(buf: Uint8Array, off: number, len: number, type: number, id: number, seq: number): void {
  buf[off] = type;
  buf[off + 1] = 0;
  buf[off + 4] = id >>> 8;
  buf[off + 5] = id;
  buf[off + 6] = seq >>> 8;
  buf[off + 7] = seq;
  setIcmpChecksum(buf, off, len);
}

/**
 * Emit an error header (destination unreachable, time exceeded) with the 4 unused bytes zeroed;
 * the quoted datagram is already at off + 8. Sets the checksum over `len` bytes.
 */
export function writeIcmpError(buf: Uint8Array, off: number, len: number, type: number, code: number): void {
  buf[off] = type;
  buf[off + 1] = code;
  buf[off + 4] = 0;
  buf[off + 5] = 0;
  buf[off + 6] = 0;
  buf[off + 7] = 0;
  setIcmpChecksum(buf, off, len);
}

export function describeIcmp(buf: Uint8Array, off: number, len: number): string {
  if (len < ICMP_HEADER_LEN) return `icmp short(${len})`;
  const type = icmpType(buf, off);
  const ok = checksum(buf, off, len) === 0 ? '' : ' bad-checksum';
  if (type === ICMP_ECHO_REQUEST || type === ICMP_ECHO_REPLY) {
    return `icmp echo ${type === ICMP_ECHO_REQUEST ? 'request' : 'reply'} id ${icmpEchoId(buf, off)} seq ${icmpEchoSeq(
      buf,
      off,
    )} len ${len}${ok}`;
  }
  return `icmp type ${type} code ${icmpCode(buf, off)} len ${len}${ok}`;
}
