// Ethernet II header (IEEE 802.3 with an EtherType): destination MAC, source MAC, EtherType.
// Functions over (buf, off) read and write fields in place. MAC addresses are 48-bit unsigned
// numbers (exact in a double), so comparing, hashing and storing them allocates nothing;
// macFromBytes/macToBytes convert at the edges where a Uint8Array(6) is given (PacketPort.mac).

export const ETH_HEADER_LEN = 14;
/** Minimum frame length without FCS; shorter frames are padded on emit (IEEE 802.3 64-byte minimum incl. FCS). */
export const ETH_MIN_FRAME = 60;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100; // IEEE 802.1Q
export const ETHERTYPE_QINQ = 0x88a8; // IEEE 802.1ad

export const MAC_BROADCAST = 0xffff_ffff_ffff;
export const MAC_ZERO = 0;

const TWO32 = 0x1_0000_0000;

export function readMac(buf: Uint8Array, off: number): number {
  return (
    ((buf[off] << 8) | buf[off + 1]) * TWO32 +
    (((buf[off + 2] << 24) | (buf[off + 3] << 16) | (buf[off + 4] << 8) | buf[off + 5]) >>> 0)
  );
}

export function writeMac(buf: Uint8Array, off: number, mac: number): void {
  const hi = Math.floor(mac / TWO32);
  const lo = mac >>> 0;
  buf[off] = hi >>> 8;
  buf[off + 1] = hi;
  buf[off + 2] = lo >>> 24;
  buf[off + 3] = lo >>> 16;
  buf[off + 4] = lo >>> 8;
  buf[off + 5] = lo;
}

/**
 * The same MAC as two small integers (high 16 bits, low 32 bits as int32). On per-frame paths a
 * 48-bit number returned or passed through a non-inlined call becomes a heap number in V8; two
 * int32 halves never do.
 */
export function macHigh(mac: number): number {
  return Math.floor(mac / TWO32);
}
export function macLow(mac: number): number {
  return mac % TWO32 | 0;
}
export function writeMacParts(buf: Uint8Array, off: number, hi: number, lo: number): void {
  buf[off] = hi >>> 8;
  buf[off + 1] = hi;
  buf[off + 2] = lo >>> 24;
  buf[off + 3] = lo >>> 16;
  buf[off + 4] = lo >>> 8;
  buf[off + 5] = lo;
}

/** buf[off, off + 6) equals the MAC given as halves (no 48-bit number is built). */
export function macEquals(buf: Uint8Array, off: number, hi: number, lo: number): boolean {
  return (
    ((buf[off] << 8) | buf[off + 1]) === hi &&
    ((buf[off + 2] << 24) | (buf[off + 3] << 16) | (buf[off + 4] << 8) | buf[off + 5]) === lo
  );
}

export function macFromBytes(mac: Uint8Array): number {
  if (mac.length !== 6) throw new RangeError(`MAC address must be 6 bytes, got ${mac.length}`);
  return readMac(mac, 0);
}

export function macToBytes(mac: number): Uint8Array {
  const b = new Uint8Array(6);
  writeMac(b, 0, mac);
  return b;
}

export function formatMac(mac: number): string {
  const b = macToBytes(mac);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Group bit (I/G): multicast and broadcast destinations. */
export function isMulticastMac(mac: number): boolean {
  return Math.floor(mac / 0x100_0000_0000) % 2 === 1;
}

export function dstMac(buf: Uint8Array, off: number): number {
  return readMac(buf, off);
}

export function srcMac(buf: Uint8Array, off: number): number {
  return readMac(buf, off + 6);
}

export function etherType(buf: Uint8Array, off: number): number {
  return (buf[off + 12] << 8) | buf[off + 13];
}

/** The one length check: a frame carries at least a full Ethernet header. */
export function checkEthernet(len: number): boolean {
  return len >= ETH_HEADER_LEN;
}

export function writeEthernet(buf: Uint8Array, off: number, dst: number, src: number, type: number): void {
  writeMac(buf, off, dst);
  writeMac(buf, off + 6, src);
  buf[off + 12] = type >>> 8;
  buf[off + 13] = type;
}

export function describeEthernet(buf: Uint8Array, off: number, len: number): string {
  if (!checkEthernet(len)) return `eth short(${len})`;
  return `eth ${formatMac(srcMac(buf, off))} > ${formatMac(dstMac(buf, off))} type 0x${etherType(buf, off)
    .toString(16)
    .padStart(4, '0')} len ${len}`;
}
