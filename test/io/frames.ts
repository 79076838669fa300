// Hand-built Ethernet/ARP/IPv4/ICMP/UDP frames for the packet-port tests. Deliberately independent
// of src/net/: these tests check the port against the kernel's own stack, not against ours.

export function macBytes(s: string): Uint8Array {
  return new Uint8Array(s.split(':').map((h) => parseInt(h, 16)));
}

export function ipBytes(s: string): Uint8Array {
  return new Uint8Array(s.split('.').map((d) => parseInt(d, 10)));
}

export function macString(b: Uint8Array, off = 0): string {
  return Array.from(b.subarray(off, off + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

export function ipString(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** RFC 1071 Internet checksum of b[off, off + len). */
export function inetChecksum(b: Uint8Array, off: number, len: number): number {
  let sum = 0;
  for (let i = 0; i + 1 < len; i += 2) sum += (b[off + i]! << 8) | b[off + i + 1]!;
  if (len & 1) sum += b[off + len - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ethHeader(out: Uint8Array, dst: Uint8Array, src: Uint8Array, type: number): void {
  out.set(dst, 0);
  out.set(src, 6);
  out[12] = type >> 8;
  out[13] = type & 0xff;
}

/** ARP (RFC 826) over Ethernet/IPv4; op 1 request, 2 reply. Padded to the 60-byte minimum. */
export function arpFrame(op: 1 | 2, srcMac: Uint8Array, srcIp: Uint8Array, dstMac: Uint8Array, dstIp: Uint8Array, ethDst: Uint8Array): Uint8Array {
  const f = new Uint8Array(60);
  ethHeader(f, ethDst, srcMac, 0x0806);
  const a = 14;
  f.set([0, 1, 0x08, 0x00, 6, 4, 0, op], a);
  f.set(srcMac, a + 8);
  f.set(srcIp, a + 14);
  f.set(dstMac, a + 18);
  f.set(dstIp, a + 24);
  return f;
}

function ipv4(f: Uint8Array, proto: number, src: Uint8Array, dst: Uint8Array, payloadLen: number, id: number): void {
  const o = 14;
  f[o] = 0x45;
  f[o + 1] = 0;
  const total = 20 + payloadLen;
  f[o + 2] = total >> 8;
  f[o + 3] = total & 0xff;
  f[o + 4] = id >> 8;
  f[o + 5] = id & 0xff;
  f[o + 6] = 0x40; // DF
  f[o + 8] = 64;
  f[o + 9] = proto;
  f.set(src, o + 12);
  f.set(dst, o + 16);
  const ck = inetChecksum(f, o, 20);
  f[o + 10] = ck >> 8;
  f[o + 11] = ck & 0xff;
}

export function icmpEcho(srcMac: Uint8Array, dstMac: Uint8Array, src: Uint8Array, dst: Uint8Array, ident: number, seq: number, payload: Uint8Array): Uint8Array {
  const len = 8 + payload.length;
  const f = new Uint8Array(Math.max(60, 14 + 20 + len));
  ethHeader(f, dstMac, srcMac, 0x0800);
  ipv4(f, 1, src, dst, len, seq);
  const o = 34;
  f[o] = 8; // echo request
  f[o + 4] = ident >> 8;
  f[o + 5] = ident & 0xff;
  f[o + 6] = seq >> 8;
  f[o + 7] = seq & 0xff;
  f.set(payload, o + 8);
  const ck = inetChecksum(f, o, len);
  f[o + 2] = ck >> 8;
  f[o + 3] = ck & 0xff;
  return f;
}

/** UDP with checksum 0 (allowed over IPv4, RFC 768). */
export function udpFrame(srcMac: Uint8Array, dstMac: Uint8Array, src: Uint8Array, dst: Uint8Array, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const len = 8 + payload.length;
  const f = new Uint8Array(Math.max(60, 14 + 20 + len));
  ethHeader(f, dstMac, srcMac, 0x0800);
  ipv4(f, 17, src, dst, len, 1);
  const o = 34;
  f[o] = sport >> 8;
  f[o + 1] = sport & 0xff;
  f[o + 2] = dport >> 8;
  f[o + 3] = dport & 0xff;
  f[o + 4] = len >> 8;
  f[o + 5] = len & 0xff;
  f.set(payload, o + 8);
  return f;
}

export interface FrameSummary {
  len: number;
  dst: string;
  src: string;
  type: number;
  arp?: { op: number; senderMac: string; senderIp: string; targetIp: string };
  ip?: { proto: number; src: string; dst: string; icmpType?: number; ident?: number; seq?: number; sport?: number; dport?: number; payload: Uint8Array };
}

export function summarize(b: Uint8Array, off: number, len: number): FrameSummary {
  const f = b.subarray(off, off + len);
  const type = (f[12]! << 8) | f[13]!;
  const s: FrameSummary = { len, dst: macString(f, 0), src: macString(f, 6), type };
  if (type === 0x0806 && len >= 42) {
    s.arp = { op: (f[20]! << 8) | f[21]!, senderMac: macString(f, 22), senderIp: ipString(f, 28), targetIp: ipString(f, 38) };
  } else if (type === 0x0800 && len >= 34) {
    const ihl = (f[14]! & 0x0f) * 4;
    const total = (f[16]! << 8) | f[17]!;
    const p = 14 + ihl;
    const proto = f[23]!;
    const ip: NonNullable<FrameSummary['ip']> = { proto, src: ipString(f, 26), dst: ipString(f, 30), payload: f.subarray(p, 14 + total) };
    if (proto === 1) {
      ip.icmpType = f[p]!;
      ip.ident = (f[p + 4]! << 8) | f[p + 5]!;
      ip.seq = (f[p + 6]! << 8) | f[p + 7]!;
      ip.payload = f.subarray(p + 8, 14 + total);
    } else if (proto === 17) {
      ip.sport = (f[p]! << 8) | f[p + 1]!;
      ip.dport = (f[p + 2]! << 8) | f[p + 3]!;
      ip.payload = f.subarray(p + 8, 14 + total);
    }
    s.ip = ip;
  }
  return s;
}
