// ICMPv4 host behaviour (RFC 792, RFC 1122 3.2.2): answer echo requests, report protocol
// unreachable, both rate-limited so the stack cannot be used as an amplifier. Other ICMP types
// are counted and ignored: TCP recovers with its own timers, and acting on unauthenticated
// unreachable/redirect messages is a known attack surface (RFC 5927).

import {
  checkIcmp,
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_ERROR_QUOTE_DATA,
  ICMP_HEADER_LEN,
  ICMP_UNREACH_PROTOCOL,
  icmpEchoId,
  icmpEchoSeq,
  icmpType,
  setIcmpChecksum,
  writeIcmpEcho,
  writeIcmpError,
} from './wire/icmp.js';
import { IP_PROTO_ICMP } from './wire/ipv4.js';
import { copyBytes } from './wire/bytes.js';
import type { NetStats, RxDropReason } from './stats.js';
import { positive } from './options.js';

/** Where locally originated datagrams go (the stack queues them until their next hop resolves). */
export interface IpOutput {
  readonly buf: Uint8Array;
  /**
   * Room for a datagram to `dst` carrying `payloadLen` bytes: returns the offset in `buf` where
   * the payload goes, or -1 (no route, too big for the MTU, queue full: counted by the output).
   */
  alloc(dst: number, payloadLen: number): number;
  /** The payload at the offset alloc() returned is written: finish the IPv4 header around it. */
  commit(dst: number, protocol: number, payloadLen: number): void;
}

/** A token bucket over injected time: `ratePerSec` tokens per second, at most `burst` banked. */
export class TokenBucket {
  private tokens: number;
  private last = -Infinity;

  constructor(
    private ratePerSec: number,
    private burst: number,
  ) {
    this.tokens = burst;
  }

  set(ratePerSec: number, burst: number): void {
    this.ratePerSec = ratePerSec;
    this.burst = burst;
    if (this.tokens > burst) this.tokens = burst;
  }

  /** Take one token if there is one. */
  take(now: number): boolean {
    if (now > this.last) {
      if (this.last !== -Infinity) {
        this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSec) / 1000);
      }
      this.last = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }
}

export interface IcmpOptions {
  /** Echo replies per second (and burst) before requests are dropped. */
  echoRatePerSec?: number;
  echoBurst?: number;
  /** ICMP errors (protocol unreachable) per second and burst. */
  errorRatePerSec?: number;
  errorBurst?: number;
}

export class IcmpLayer {
  /** Called for each echo reply received (diagnostics: `sluice` health probes, tests); src is uint32. */
  onEchoReply: ((src: number, id: number, seq: number, now: number) => void) | null = null;
  private readonly echoBucket: TokenBucket;
  private readonly errorBucket: TokenBucket;

  constructor(
    private readonly stats: NetStats,
    private readonly out: IpOutput,
    opts: IcmpOptions = {},
  ) {
    // Defaults follow Linux's spirit (icmp_msgs_per_sec 1000, burst 50) for echo, and an order
    // of magnitude less for errors, which nobody legitimately needs in bulk from a gateway.
    const echoRate = opts.echoRatePerSec ?? 1000;
    const echoBurst = opts.echoBurst ?? 50;
    const errorRate = opts.errorRatePerSec ?? 100;
    const errorBurst = opts.errorBurst ?? 10;
    positive('netstack.icmp.echoRatePerSec', echoRate, false);
    positive('netstack.icmp.echoBurst', echoBurst, true);
    positive('netstack.icmp.errorRatePerSec', errorRate, false);
    positive('netstack.icmp.errorBurst', errorBurst, true);
    this.echoBucket = new TokenBucket(echoRate, echoBurst);
    this.errorBucket = new TokenBucket(errorRate, errorBurst);
  }

  /**
   * One ICMP message from `src` to our address at buf[off, off + len). Returns null when the
   * message was acted on (reply queued or found no room: that is a tx drop, counted there), else
   * the drop reason for the frame.
   */
  input(src: number, buf: Uint8Array, off: number, len: number, now: number): RxDropReason | null {
    const err = checkIcmp(buf, off, len);
    if (err !== null) return err;
    const type = icmpType(buf, off);
    if (type === ICMP_ECHO_REPLY) {
      this.stats.icmp.echoRepliesReceived++;
      if (this.onEchoReply !== null) this.onEchoReply(src >>> 0, icmpEchoId(buf, off), icmpEchoSeq(buf, off), now);
      return null;
    }
    if (type !== ICMP_ECHO_REQUEST) return 'icmp_ignored';
    if (!this.echoBucket.take(now)) return 'icmp_rate';
    const at = this.out.alloc(src, len);
    if (at < 0) return null;
    const ob = this.out.buf;
    // RFC 792: the reply echoes identifier, sequence number and data; only type and checksum change.
    copyBytes(ob, at, buf, off, len);
    ob[at] = ICMP_ECHO_REPLY;
    ob[at + 1] = 0;
    setIcmpChecksum(ob, at, len);
    this.out.commit(src, IP_PROTO_ICMP, len);
    this.stats.icmp.echoRepliesSent++;
    return null;
  }

  /**
   * Queue an echo request to `dst` with `dataLen` bytes of pattern data (the byte index); false
   * when it could not be queued (no route, too big, queue full: counted as tx drops).
   */
  echoRequest(dst: number, id: number, seq: number, dataLen: number): boolean {
    const len = ICMP_HEADER_LEN + dataLen;
    const at = this.out.alloc(dst, len);
    if (at < 0) return false;
    const ob = this.out.buf;
    for (let i = 0; i < dataLen; i++) ob[at + ICMP_HEADER_LEN + i] = i;
    writeIcmpEcho(ob, at, len, ICMP_ECHO_REQUEST, id, seq);
    this.out.commit(dst, IP_PROTO_ICMP, len);
    this.stats.icmp.echoRequestsSent++;
    return true;
  }

  /**
   * Send destination unreachable (protocol) for the datagram whose header is at `ipOff` and whose
   * payload is `dataLen` bytes, quoting the header and the first 8 data bytes (RFC 792). Callers
   * only ask for unicast datagrams to us from a sane source, per RFC 1122 3.2.2.
   */
  protocolUnreachable(src: number, buf: Uint8Array, ipOff: number, headerLen: number, dataLen: number, now: number): void {
    if (!this.errorBucket.take(now)) {
      this.stats.txDrop.icmp_rate++;
      return;
    }
    const quote = headerLen + Math.min(dataLen, ICMP_ERROR_QUOTE_DATA);
    const len = ICMP_HEADER_LEN + quote;
    const at = this.out.alloc(src, len);
    if (at < 0) return;
    const ob = this.out.buf;
    copyBytes(ob, at + ICMP_HEADER_LEN, buf, ipOff, quote);
    writeIcmpError(ob, at, len, ICMP_DEST_UNREACHABLE, ICMP_UNREACH_PROTOCOL);
    this.out.commit(src, IP_PROTO_ICMP, len);
    this.stats.icmp.unreachablesSent++;
  }
}
