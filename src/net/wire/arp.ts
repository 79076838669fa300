// ARP (RFC 826) for Ethernet hardware and IPv4 protocol addresses only: a fixed 28-byte body
// after the Ethernet header. Other hardware/protocol combinations are rejected by checkArp.

import { formatMac, readMac, writeMac } from './ethernet.js';
import { formatIpv4 } from './ipv4.js';

export const ARP_LEN = 28;
export const ARP_HTYPE_ETHERNET = 1;
export const ARP_PTYPE_IPV4 = 0x0800;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;

/**
 * The one up-front check: `len` bytes from `off` hold an Ethernet/IPv4 ARP request or reply.
 * Returns false for anything else (short, other hardware or protocol, other operation).
 */
export function checkArp(buf: Uint8Array, off: number, len: number): boolean {
  if (len < ARP_LEN) return false;
  if (((buf[off] << 8) | buf[off + 1]) !== ARP_HTYPE_ETHERNET) return false;
  if (((buf[off + 2] << 8) | buf[off + 3]) !== ARP_PTYPE_IPV4) return false;
  if (buf[off + 4] !== 6 || buf[off + 5] !== 4) return false;
  const op = arpOperation(buf, off);
  return op === ARP_OP_REQUEST || op === ARP_OP_REPLY;
}

export function arpOperation(buf: Uint8Array, off: number): number {
  return (buf[off + 6] << 8) | buf[off + 7];
}

export function arpSenderMac(buf: Uint8Array, off: number): number {
  return readMac(buf, off + 8);
}

export function arpSenderIp(buf: Uint8Array, off: number): number {
  return ((buf[off + 14] << 24) | (buf[off + 15] << 16) | (buf[off + 16] << 8) | buf[off + 17]) >>> 0;
}

export function arpTargetMac(buf: Uint8Array, off: number): number {
  return readMac(buf, off + 18);
}

export function arpTargetIp(buf: Uint8Array, off: number): number {
  return ((buf[off + 24] << 24) | (buf[off + 25] << 16) | (buf[off + 26] << 8) | buf[off + 27]) >>> 0;
}

function writeIp(buf: Uint8Array, off: number, ip: number): void {
  buf[off] = ip >>> 24;
  buf[off + 1] = ip >>> 16;
  buf[off + 2] = ip >>> 8;
  buf[off + 3] = ip;
}

/** Emit a 28-byte ARP body at `off`. */
export function writeArp(
  buf: Uint8Array,
  off: number,
  op: number,
  senderMac: number,
  senderIp: number,
  targetMac: number,
  targetIp: number,
): void {
  buf[off] = 0;
  buf[off + 1] = ARP_HTYPE_ETHERNET;
  buf[off + 2] = ARP_PTYPE_IPV4 >>> 8;
  buf[off + 3] = ARP_PTYPE_IPV4 & 0xff;
  buf[off + 4] = 6;
  buf[off + 5] = 4;
  buf[off + 6] = op >>> 8;
  buf[off + 7] = op;
  writeMac(buf, off + 8, senderMac);
  writeIp(buf, off + 14, senderIp);
  writeMac(buf, off + 18, targetMac);
  writeIp(buf, off + 24, targetIp);
}

export function describeArp(buf: Uint8Array, off: number, len: number): string {
  if (!checkArp(buf, off, len)) return `arp invalid(${len})`;
  const op = arpOperation(buf, off);
  const s = `${formatIpv4(arpSenderIp(buf, off))} (${formatMac(arpSenderMac(buf, off))})`;
  const t = `${formatIpv4(arpTargetIp(buf, off))} (${formatMac(arpTargetMac(buf, off))})`;
  return op === ARP_OP_REQUEST ? `arp who-has ${t} tell ${s}` : `arp reply ${s} to ${t}`;
}
