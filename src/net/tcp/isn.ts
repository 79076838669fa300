// Initial sequence numbers (RFC 6528) and SYN cookies (RFC 4987 3.6). Both use one keyed hash
// (HMAC-SHA256 under a per-layer random secret) computed once per SYN, or once per cookie ACK,
// never per data segment.

import { createHmac, randomBytes } from 'node:crypto';

export class SequenceSecrets {
  private readonly key: Buffer;
  /** Scratch for the hashed tuple, reused: 4-tuple + two extra words. */
  private readonly msg = Buffer.alloc(20);

  constructor(key?: Uint8Array) {
    this.key = key ? Buffer.from(key) : randomBytes(32);
  }

  private hash32(lip: number, lport: number, rip: number, rport: number, a: number, b: number): number {
    const m = this.msg;
    m.writeUInt32BE(lip >>> 0, 0);
    m.writeUInt16BE(lport, 4);
    m.writeUInt32BE(rip >>> 0, 6);
    m.writeUInt16BE(rport, 10);
    m.writeUInt32BE(a >>> 0, 12);
    m.writeUInt32BE(b >>> 0, 16);
    return createHmac('sha256', this.key).update(m).digest().readUInt32BE(0);
  }

  /**
   * RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a timer that
   * ticks every 4 microseconds (from the injected clock in ms).
   */
  isn(lip: number, lport: number, rip: number, rport: number, nowMs: number): number {
    const m = Math.floor(nowMs * 250) >>> 0;
    return (m + this.hash32(lip, lport, rip, rport, 0, 0)) >>> 0;
  }

  /**
   * SYN cookie, the ISN of a SYN-ACK for which no state is kept: 5 bits of a 64 s counter, 3 bits
   * of MSS index, 24 bits of keyed hash over the 4-tuple, the client's ISN and the counter.
   * Timestamps, window scaling and SACK are not encoded, so a connection born from a cookie runs
   * without them (what the SYN asked for is lost: the price of keeping no state).
   */
  cookie(lip: number, lport: number, rip: number, rport: number, clientIsn: number, mssIndex: number, nowMs: number): number {
    const t = Math.floor(nowMs / COOKIE_PERIOD_MS) & 31;
    const h = this.hash32(lip, lport, rip, rport, clientIsn, t) & 0xffffff;
    return ((t << 27) | ((mssIndex & 7) << 24) | h) >>> 0;
  }

  /**
   * Check the cookie echoed in an ACK (ack - 1) against the client's ISN (seq - 1). Returns the
   * MSS it encodes, or -1 when the hash does not match or it is older than two periods.
   */
  checkCookie(lip: number, lport: number, rip: number, rport: number, clientIsn: number, cookie: number, nowMs: number): number {
    const t = cookie >>> 27;
    const now = Math.floor(nowMs / COOKIE_PERIOD_MS) & 31;
    const age = (now - t) & 31;
    if (age > 1) return -1;
    const h = this.hash32(lip, lport, rip, rport, clientIsn, t) & 0xffffff;
    if (h !== (cookie & 0xffffff)) return -1;
    return COOKIE_MSS[(cookie >>> 24) & 7];
  }
}

export const COOKIE_PERIOD_MS = 64_000;

/** MSS values a cookie can encode: common path MTUs (PPPoE, tunnels, Ethernet, jumbo). */
export const COOKIE_MSS = [536, 1220, 1300, 1360, 1400, 1440, 1460, 8960] as const;

/** Index of the largest table MSS not above the one the client offered. */
export function cookieMssIndex(mss: number): number {
  let idx = 0;
  for (let i = 0; i < COOKIE_MSS.length; i++) if (COOKIE_MSS[i] <= mss) idx = i;
  return idx;
}
