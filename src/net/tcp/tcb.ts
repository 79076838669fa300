// One TCP connection: the transmission control block of RFC 9293 3.3.1 and its state machine.
// Input is one parsed segment (fields read once by the layer into a reused Seg record); output is
// written straight into the burst buffer through a SegmentSink. Time is the caller's `now` in ms.
//
// Section references are to RFC 9293 unless another RFC is named.
//
// Choices, and why:
// - Minimum RTO 200 ms, not RFC 6298's 1 s (rtt.ts): a gateway's peers are mostly close;
//   `rtoMinMs: 1000` restores the RFC value. Backoff doubles up to rtoMaxMs (120 s), Karn's rule
//   for timed segments, and for timestamps an echo older than the last RTO is not a sample.
// - Loss recovery: NewReno (RFC 5681, 6582) without SACK; with SACK a simplified RFC 6675 (pipe =
//   un-SACKed bytes above the highest SACK + retransmitted holes). Limited transmit (RFC 3042),
//   early retransmit (RFC 5827) and a tail loss probe (RFC 8985 7) keep small windows and tail
//   losses out of the RTO. No RACK, no CUBIC (RFC 9438) yet.
// - Nagle is off (a gateway wants latency), but data is segmented only when output() runs, so
//   writes made between two poll passes coalesce into full segments.
// - Delayed ACK: every second full segment, else after delayedAckMs (40 ms); at once for
//   out-of-order data (one duplicate ACK per such segment, SACK blocks rotated across them), a
//   filled hole, a FIN or a window reopening.
// - RST in TIME-WAIT is ignored (RFC 1337 TWA-1); a new SYN with a higher sequence or timestamp
//   reopens a TIME-WAIT tuple when a listener exists (RFC 6191).
// - FIN-WAIT-2 gives up after finWait2TimeoutMs without a segment (Linux's tcp_fin_timeout; the
//   RFC has no such timer, but a half-closed peer that never closes must not hold state forever).
// - The urgent pointer is ignored and URG data is delivered inline (RFC 6093 recommends against
//   its use; nothing Sluice serves needs it).
// - A TIME-WAIT connection keeps only its sequence state; its buffers are released.

import {
  ACK,
  FIN,
  PSH,
  RST,
  SYN,
  emitHeader,
  emitMss,
  emitSack,
  emitSackPermitted,
  emitTimestamps,
  emitWscale,
  fillChecksum,
  type TcpOptions,
} from '../wire/tcp.js';
import type { SegmentSink } from './sink.js';
import { ByteRing, Reassembly, Scoreboard } from './buffers.js';
import { RttEstimator } from './rtt.js';
import { Cubic } from './cubic.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax } from './seq.js';
import { TcpState, stateName } from './state.js';
import type { SequenceSecrets } from './isn.js';
import type { TcpCloseReason, TcpConfig, TcpConnectionInfo, TcpCounters } from './types.js';
import type { TcpListener, TcpSocket } from './socket.js';

/** A received segment, parsed once by the layer. Reused for every segment: never keep it. */
export interface Seg {
  buf: Uint8Array;
  /** Offset of the TCP header. */
  off: number;
  seq: number;
  ack: number;
  flags: number;
  wnd: number;
  /** Payload at buf[dataOff, dataOff + dataLen). */
  dataOff: number;
  dataLen: number;
  opts: TcpOptions;
}

export interface TcpSocketHandler {
  /** Active open completed (client side). */
  onConnect?(): void;
  /** In-order bytes. The view is valid only during the call: copy to keep. */
  onData(chunk: Uint8Array): void;
  /** The peer sent FIN: no more data will come. We may still write. */
  onEnd(): void;
  /** The send queue fell below its mark after write() returned false. */
  onDrain(): void;
  /** The connection is finished (both directions, reset or timeout). Called once. */
  onClose(reason: TcpCloseReason, error?: Error): void;
}

/** What a TCB needs from its layer. */
export interface TcbHost {
  readonly cfg: TcpConfig;
  readonly counters: TcpCounters;
  readonly secrets: SequenceSecrets;
  markPending(t: Tcb): void;
  /** A timer of `t` is now due at `at` (the layer keeps the earliest per connection in a heap). */
  noteDeadline(t: Tcb, at: number): void;
  transition(t: Tcb, from: TcpState, to: TcpState): void;
  /** The TCB reached CLOSED: take it out of the table. */
  remove(t: Tcb): void;
  /** Queue a control segment (RST) for a tuple that may no longer have a TCB. */
  sendControl(lip: number, lport: number, rip: number, rport: number, seq: number, ack: number, flags: number): void;
  allowChallengeAck(now: number): boolean;
  /** A passive connection reached ESTABLISHED: hand it to its listener's accept queue. */
  accepted(t: Tcb): void;
}

export interface KeepaliveConfig {
  idleMs: number;
  intervalMs: number;
  count: number;
}

const TS_LEN = 12;
/** RFC 9293 3.7.1: the MSS to assume when the peer sends no MSS option. */
const DEFAULT_MSS = 536;

export class Tcb {
  state: TcpState = TcpState.CLOSED;
  /** Hash chain in the layer's connection table. */
  nextInBucket: Tcb | null = null;
  pending = false;
  /** The time of this connection's entry in the layer's timer heap (Infinity: none). */
  heapAt = Infinity;
  handler: TcpSocketHandler | null = null;
  /** Passive opens: the listener's accept queue owns the socket until accepted. */
  readonly passive: boolean;
  /** Set by the layer right after construction. */
  socket!: TcpSocket;
  listener: TcpListener | null = null;
  /** Counted in the listener's SYN queue (SYN-RECEIVED, passive). */
  inSynQueue = false;

  // Send sequence space (3.3.1)
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  /** Highest sequence ever sent (+1): go-back-N after an RTO rewinds sndNxt, not this. */
  sndMax = 0;
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  maxSndWnd = 0;
  sndShift = 0;
  /** Bytes [bufSeq, bufSeq + sndBuf.length): written, not yet acknowledged. */
  readonly sndBuf: ByteRing;
  bufSeq = 0;
  finQueued = false;

  // Receive sequence space
  irs = 0;
  rcvNxt = 0;
  rcvShift = 0;
  readonly rcvCap: number;
  /** In-order bytes the application has not taken (paused, or queued behind earlier bytes). */
  readonly rcvBuf: ByteRing;
  readonly reasm = new Reassembly();
  /** Right edge of the window we last advertised: it must not move left (3.8.6). */
  rcvAdvRight = 0;
  /** The peer's FIN at this sequence is known but not yet in order. */
  rcvFinKnown = false;
  rcvFinSeq = 0;
  paused = false;

  // Negotiated options
  peerMss = DEFAULT_MSS;
  /** Payload bytes per full segment (MSS minus the timestamps option, RFC 6691). */
  smss = DEFAULT_MSS;
  tsOk = false;
  sackOk = false;
  tsRecent = 0;
  tsRecentSet = false;
  tsOffset = 0;
  lastAckSent = 0;

  // Congestion control (RFC 5681, RFC 6582, RFC 6675)
  cwnd = 0;
  ssthresh = 0x7fffffff;
  bytesAckedCa = 0;
  /** RFC 9438 state when congestionControl is 'cubic'. */
  readonly cubic: Cubic | null;
  dupAcks = 0;
  inRecovery = false;
  recover = 0;
  /** NewReno (no SACK): retransmit the segment at SND.UNA on the next output. */
  rtxNow = false;
  /** SACK recovery: holes below this were already retransmitted. */
  rtxHigh = 0;
  readonly board = new Scoreboard();
  readonly rtt: RttEstimator;
  rttActive = false;
  rttSeq = 0;
  rttTime = 0;
  /** TSval at the last RTO: echoes older than this are not RTT samples. */
  tsRtoMark = 0;
  retries = 0;

  // Timers: absolute ms, Infinity when off.
  tRtx = Infinity;
  tDelack = Infinity;
  tPersist = Infinity;
  persistBackoff = 0;
  tKeep = Infinity;
  keepProbes = 0;
  keepalive: KeepaliveConfig | null = null;
  /** TIME-WAIT expiry or the FIN-WAIT-2 timeout. */
  tLinger = Infinity;
  /** Tail loss probe (RFC 8985 7): fires before the RTO when the end of a flight may be lost. */
  tTlp = Infinity;
  private tlpOut = false;
  private tlpProbe = false;

  // Output requests
  ackNow = false;
  dupAcksOwed = 0;
  unackedSegs = 0;
  /** Whoever sent FIN first decides the close reason; we also need it for the socket's onClose. */
  closeNotified = false;
  private endNotified = false;
  private drainWanted = false;
  private connectNotify = false;
  private closeReason: TcpCloseReason = 'closed';
  private closeError: Error | undefined;
  private fastDeliver: Uint8Array | null = null;
  private inCallback = false;

  // Stats
  retransmits = 0;
  bytesIn = 0;
  bytesOut = 0;
  segsIn = 0;
  segsOut = 0;

  readonly highWater: number;

  constructor(
    readonly host: TcbHost,
    readonly localIp: number,
    readonly localPort: number,
    readonly remoteIp: number,
    readonly remotePort: number,
    passive: boolean,
  ) {
    const cfg = host.cfg;
    this.passive = passive;
    this.highWater = cfg.sendBufferBytes;
    this.sndBuf = new ByteRing(Math.min(cfg.sendBufferBytes, 64 * 1024));
    this.rcvCap = cfg.recvBufferBytes;
    this.rcvBuf = new ByteRing(Math.min(cfg.recvBufferBytes, 16 * 1024));
    this.rtt = new RttEstimator(cfg);
    this.cubic = cfg.congestionControl === 'cubic' ? new Cubic() : null;
    if (cfg.windowScaling) {
      // RFC 7323 2.3: the smallest shift that lets the 16-bit field cover the whole buffer.
      while (this.rcvShift < 14 && this.rcvCap >> this.rcvShift > 0xffff) this.rcvShift++;
    }
  }

  get ourMss(): number {
    return this.host.cfg.mtu - 40;
  }

  // ---- state changes -------------------------------------------------------------------------

  setState(to: TcpState): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.host.transition(this, from, to);
  }

  private initIss(now: number): void {
    this.iss = this.host.secrets.isn(this.localIp, this.localPort, this.remoteIp, this.remotePort, now);
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.bufSeq = seqAdd(this.iss, 1);
    this.recover = this.iss;
    // RFC 7323 5.4: a random offset per connection keeps TSval from revealing uptime.
    this.tsOffset = (this.iss * 2654435761) >>> 0;
    this.tsRtoMark = this.tsNow(now);
  }

  /** 3.10.1 OPEN, active: CLOSED -> SYN-SENT. */
  openActive(now: number): void {
    this.initIss(now);
    this.cwnd = this.initialCwnd(this.ourMss);
    this.setState(TcpState.SYN_SENT);
    this.host.markPending(this);
  }

  /** 3.10.7.2 SYN on a listener: LISTEN -> SYN-RECEIVED. */
  openPassive(s: Seg, now: number): void {
    this.initIss(now);
    this.irs = s.seq;
    this.rcvNxt = seqAdd(s.seq, 1);
    this.acceptSynOptions(s, now);
    this.sndWnd = s.wnd; // windows in SYN segments are never scaled (RFC 7323 2.2)
    this.sndWl1 = s.seq;
    this.sndWl2 = s.ack;
    this.maxSndWnd = this.sndWnd;
    this.cwnd = this.initialCwnd(this.smss);
    this.setState(TcpState.SYN_RECEIVED);
    this.host.markPending(this);
  }

  /** The ACK of a valid SYN cookie (RFC 4987 3.6): LISTEN -> ESTABLISHED with no options but MSS. */
  openFromCookie(s: Seg, mss: number, now: number): void {
    this.iss = seqAdd(s.ack, -1);
    this.sndUna = s.ack;
    this.sndNxt = s.ack;
    this.sndMax = s.ack;
    this.bufSeq = s.ack;
    this.recover = s.ack;
    this.irs = seqAdd(s.seq, -1);
    this.rcvNxt = s.seq;
    this.peerMss = mss;
    this.smss = Math.min(mss, this.ourMss);
    this.rcvShift = 0; // the SYN-ACK carried no window scale option
    this.sndWnd = s.wnd;
    this.sndWl1 = s.seq;
    this.sndWl2 = s.ack;
    this.maxSndWnd = s.wnd;
    this.cwnd = this.initialCwnd(this.smss);
    this.rcvAdvRight = seqAdd(this.rcvNxt, Math.min(this.rcvCap, 0xffff));
    this.setState(TcpState.ESTABLISHED);
    this.armKeepalive(now);
    this.host.accepted(this);
  }

  /** RFC 6928: IW = min(10*MSS, max(2*MSS, 14600)). */
  private initialCwnd(mss: number): number {
    return Math.min(10 * mss, Math.max(2 * mss, 14600));
  }

  private acceptSynOptions(s: Seg, now: number): void {
    const o = s.opts;
    const cfg = this.host.cfg;
    this.peerMss = o.mss > 0 ? o.mss : DEFAULT_MSS;
    this.wsOffered = o.wscale >= 0;
    if (cfg.windowScaling && o.wscale >= 0) {
      this.sndShift = o.wscale;
    } else {
      this.sndShift = 0;
      this.rcvShift = 0;
    }
    this.sackOk = cfg.sack && o.sackPermitted;
    if (cfg.timestamps && o.hasTimestamps) {
      this.tsOk = true;
      this.tsRecent = o.tsVal;
      this.tsRecentSet = true;
    } else {
      this.tsOk = false;
    }
    this.smss = Math.min(this.peerMss, this.ourMss) - (this.tsOk ? TS_LEN : 0);
    void now;
  }

  // ---- user calls (3.10.2 - 3.10.5) ----------------------------------------------------------

  write(chunk: Uint8Array): boolean {
    if (chunk.length > 0) {
      this.sndBuf.push(chunk);
      if (this.state !== TcpState.SYN_SENT && this.state !== TcpState.SYN_RECEIVED) this.host.markPending(this);
    }
    const ok = this.sndBuf.length < this.highWater;
    if (!ok) this.drainWanted = true;
    return ok;
  }

  /** 3.10.4 CLOSE: our direction ends after the queued bytes. */
  close(): void {
    if (this.finQueued) return;
    switch (this.state) {
      case TcpState.SYN_SENT:
        // Queued until the handshake completes; then ESTABLISHED -> FIN-WAIT-1 at once.
        this.finQueued = true;
        return;
      case TcpState.SYN_RECEIVED: // 3.10.4: form a FIN, enter FIN-WAIT-1
      case TcpState.ESTABLISHED: // 3.10.4: queue the FIN after the data, enter FIN-WAIT-1
        this.finQueued = true;
        this.setState(TcpState.FIN_WAIT_1);
        break;
      case TcpState.CLOSE_WAIT: // 3.10.4: queue the FIN, enter LAST-ACK
        this.finQueued = true;
        this.setState(TcpState.LAST_ACK);
        break;
      default:
        return;
    }
    this.host.markPending(this);
  }

  /** 3.10.5 ABORT: RST in synchronized states, then CLOSED. */
  abort(reason: TcpCloseReason, err?: Error): void {
    switch (this.state) {
      case TcpState.CLOSED:
      case TcpState.TIME_WAIT:
        if (this.state === TcpState.TIME_WAIT) this.enterClosed('closed');
        return;
      case TcpState.SYN_SENT:
        break;
      default:
        this.host.sendControl(this.localIp, this.localPort, this.remoteIp, this.remotePort, this.sndNxt, 0, RST);
    }
    this.enterClosed(reason, err);
    this.notify();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (!this.inCallback) this.notify();
  }

  private enterClosed(reason: TcpCloseReason, err?: Error): void {
    if (this.state === TcpState.CLOSED) return;
    if (!this.closeNotified) {
      this.closeReason = reason;
      this.closeError = err;
    }
    this.setState(TcpState.CLOSED);
    this.tRtx = this.tDelack = this.tPersist = this.tKeep = this.tLinger = this.tTlp = Infinity;
    this.sndBuf.clear();
    this.sndBuf.release();
    this.reasm.clear();
    this.host.remove(this);
  }

  /** The socket is finished for the application once both directions are done or it reset. */
  private finished(reason: TcpCloseReason, err?: Error): void {
    if (this.closeNotified) return;
    this.closeReason = reason;
    this.closeError = err;
  }

  // ---- input (3.10.7) ------------------------------------------------------------------------

  input(s: Seg, now: number): void {
    this.segsIn++;
    if (this.keepalive !== null) {
      this.keepProbes = 0;
      this.armKeepalive(now);
    }
    switch (this.state) {
      case TcpState.SYN_SENT:
        this.inputSynSent(s, now);
        break;
      case TcpState.CLOSED:
      case TcpState.LISTEN:
        return;
      default:
        this.inputSynchronized(s, now);
    }
    this.notify();
  }

  /** 3.10.7.3 SYN-SENT. */
  private inputSynSent(s: Seg, now: number): void {
    const fl = s.flags;
    // first: the ACK bit
    if (fl & ACK) {
      if (seqLe(s.ack, this.iss) || seqGt(s.ack, this.sndMax)) {
        if (!(fl & RST)) this.host.sendControl(this.localIp, this.localPort, this.remoteIp, this.remotePort, s.ack, 0, RST);
        this.drop('bad_ack');
        return;
      }
    }
    // second: the RST bit; acceptable only if it acknowledges our SYN (RFC 5961 3.2 keeps this)
    if (fl & RST) {
      if (fl & ACK) {
        this.enterClosed('refused', new Error('connection refused (RST in SYN-SENT)'));
      } else this.drop('rst_no_ack');
      return;
    }
    // fourth: the SYN bit
    if (!(fl & SYN)) {
      this.drop('no_syn');
      return;
    }
    this.irs = s.seq;
    this.rcvNxt = seqAdd(s.seq, 1);
    this.acceptSynOptions(s, now);
    this.cwnd = this.initialCwnd(this.smss);
    if (fl & ACK) {
      // SYN-SENT -> ESTABLISHED (3.10.7.3 fourth, our SYN acknowledged)
      this.sndUna = s.ack;
      this.sndWnd = s.wnd; // unscaled in a SYN (RFC 7323 2.2)
      this.sndWl1 = s.seq;
      this.sndWl2 = s.ack;
      this.maxSndWnd = this.sndWnd;
      this.ackedSyn(now, s);
      this.setState(TcpState.ESTABLISHED);
      this.connectNotify = true;
      this.armKeepalive(now);
      if (this.finQueued) this.setState(TcpState.FIN_WAIT_1);
      this.ackNow = true;
      this.host.markPending(this);
    } else {
      // SYN-SENT -> SYN-RECEIVED: simultaneous open (3.5 figure 8); resend our SYN with an ACK.
      this.sndWnd = s.wnd;
      this.sndWl1 = s.seq;
      this.sndWl2 = s.ack;
      this.maxSndWnd = this.sndWnd;
      this.sndNxt = this.iss;
      this.setState(TcpState.SYN_RECEIVED);
      this.host.markPending(this);
    }
  }

  /** Our SYN was acknowledged: stop its timer, take the RTT sample unless it was retransmitted (Karn). */
  private ackedSyn(now: number, s: Seg): void {
    if (this.tsOk && s.opts.hasTimestamps && s.opts.tsEcr !== 0) {
      this.rtt.sample(this.tsNow(now) - s.opts.tsEcr);
    } else if (this.retries === 0 && this.rttActive) {
      this.rtt.sample(now - this.rttTime);
    }
    this.rttActive = false;
    this.retries = 0;
    this.tRtx = Infinity;
    if (seqGt(s.ack, this.sndMax)) this.sndMax = s.ack;
    if (seqLt(this.sndNxt, s.ack)) this.sndNxt = s.ack;
  }

  /** 3.10.7.4: SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT. */
  private inputSynchronized(s: Seg, now: number): void {
    const c = this.host.counters;
    let fl = s.flags;
    // A retransmitted SYN in SYN-RECEIVED: our SYN-ACK was lost; send it again.
    if (this.state === TcpState.SYN_RECEIVED && fl & SYN && !(fl & (ACK | RST)) && s.seq === this.irs) {
      this.sndNxt = this.iss;
      this.host.markPending(this);
      return;
    }
    // RFC 7323 5.3 PAWS: a timestamp older than TS.Recent marks an old duplicate.
    if (this.tsOk && s.opts.hasTimestamps && this.tsRecentSet && !(fl & RST) && seqLt(s.opts.tsVal, this.tsRecent)) {
      this.drop('paws');
      this.ackNow = true;
      this.host.markPending(this);
      return;
    }
    // first: sequence number (3.10.7.4 table of four cases)
    let seq = s.seq;
    let len = s.dataLen;
    const segLen = len + (fl & SYN ? 1 : 0) + (fl & FIN ? 1 : 0);
    const wnd = this.rcvWindow();
    let ok: boolean;
    if (segLen === 0) {
      ok = wnd === 0 ? seq === this.rcvNxt : seqLe(this.rcvNxt, seq) && seqLt(seq, seqAdd(this.rcvNxt, wnd));
    } else if (wnd === 0) {
      ok = false;
    } else {
      const last = seqAdd(seq, segLen - 1);
      const end = seqAdd(this.rcvNxt, wnd);
      ok = (seqLe(this.rcvNxt, seq) && seqLt(seq, end)) || (seqLe(this.rcvNxt, last) && seqLt(last, end));
    }
    if (!ok) {
      // In TIME-WAIT the peer's retransmitted FIN lands here (seq < RCV.NXT): ack it, restart 2 MSL.
      if (this.state === TcpState.TIME_WAIT && fl & FIN && !(fl & RST)) {
        this.tLinger = now + this.host.cfg.timeWaitMs;
        this.host.noteDeadline(this, this.tLinger);
      }
      if (!(fl & RST)) {
        this.ackNow = true;
        this.host.markPending(this);
      }
      this.drop('out_of_window');
      return;
    }
    // Trim to the window: bytes before RCV.NXT are duplicates, bytes past the right edge unwanted.
    let dataOff = s.dataOff;
    if (seqLt(seq, this.rcvNxt)) {
      let skip = seqDiff(this.rcvNxt, seq);
      if (fl & SYN) {
        fl &= ~SYN;
        skip--;
        seq = seqAdd(seq, 1);
      }
      if (skip > len) skip = len;
      dataOff += skip;
      len -= skip;
      seq = seqAdd(seq, skip);
    }
    const right = seqAdd(this.rcvNxt, wnd);
    if (seqGt(seqAdd(seq, len), right)) {
      len = Math.max(0, seqDiff(right, seq));
      fl &= ~FIN;
    }
    // RFC 7323 4.3: remember the peer's timestamp for our echo (and PAWS).
    if (this.tsOk && s.opts.hasTimestamps && seqLe(seq, this.lastAckSent)) {
      this.tsRecent = s.opts.tsVal;
      this.tsRecentSet = true;
    }

    // second: RST (RFC 5961 3.2): exact match resets; otherwise in window -> challenge ACK.
    if (fl & RST) {
      if (this.state === TcpState.TIME_WAIT) {
        // RFC 1337 remedy TWA-1: a RST must not cut TIME-WAIT short (our own ACK of a stray
        // segment draws exactly such a RST from a peer that has already closed).
        this.drop('time_wait_rst');
        return;
      }
      if (seq === this.rcvNxt) {
        // SYN-RECEIVED -> CLOSED (passive: the listener stays in LISTEN); every other state -> CLOSED.
        this.enterClosed('peer_reset', new Error('connection reset by peer'));
      } else {
        this.challengeAck(now);
      }
      return;
    }

    // fourth: SYN in a synchronized state (RFC 5961 4.2): challenge ACK, whatever its sequence.
    if (fl & SYN) {
      this.challengeAck(now);
      return;
    }

    // fifth: ACK
    if (!(fl & ACK)) {
      this.drop('no_ack');
      return;
    }
    if (this.state === TcpState.SYN_RECEIVED) {
      if (seqLt(this.sndUna, s.ack) && seqLe(s.ack, this.sndMax)) {
        // SYN-RECEIVED -> ESTABLISHED (3.10.7.4 fifth)
        this.sndWnd = s.wnd << this.sndShift;
        this.sndWl1 = seq;
        this.sndWl2 = s.ack;
        this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
        this.ackedSyn(now, s);
        this.sndUna = seqAdd(this.iss, 1);
        const wasFinWait = this.finQueued;
        this.setState(TcpState.ESTABLISHED);
        this.armKeepalive(now);
        if (this.passive) this.host.accepted(this);
        else this.connectNotify = true;
        if (wasFinWait) this.setState(TcpState.FIN_WAIT_1);
        this.host.markPending(this);
      } else {
        this.host.sendControl(this.localIp, this.localPort, this.remoteIp, this.remotePort, s.ack, 0, RST);
        this.drop('bad_ack');
        return;
      }
    } else if (this.state === TcpState.FIN_WAIT_1 && seqLe(this.sndUna, this.iss)) {
      // Closed from SYN-RECEIVED before the handshake finished: this ACK completes it.
      if (seqGt(s.ack, this.iss) && seqLe(s.ack, this.sndMax)) {
        this.ackedSyn(now, s);
        this.sndUna = seqAdd(this.iss, 1);
        if (this.passive) this.host.accepted(this);
      }
    }
    // RFC 5961 5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT]; others get a challenge ACK.
    if (seqGt(s.ack, this.sndMax) || seqLt(s.ack, seqAdd(this.sndUna, -this.maxSndWnd))) {
      this.challengeAck(now);
      this.drop('bad_ack');
      return;
    }
    let finAcked = false;
    if (seqGt(s.ack, this.sndUna)) {
      finAcked = this.onAckAdvance(s, now);
    } else if (s.ack === this.sndUna) {
      if (this.sackOk && s.opts.sackCount > 0) this.takeSack(s);
      // RFC 5681 2: a duplicate ACK carries no data, no SYN/FIN, the same window, and data is outstanding.
      // One that keeps the window at zero answers a window probe (or data past the window): that is
      // flow control, not loss, and a fast retransmit would only go into the closed window.
      if (len === 0 && !(fl & FIN) && this.sndWnd !== 0 && (s.wnd << this.sndShift) === this.sndWnd && this.sndMax !== this.sndUna) {
        this.onDupAck(now);
      }
    }
    // Window update (3.10.7.4 fifth): only from a segment newer than the last update.
    if (seqLt(this.sndWl1, seq) || (this.sndWl1 === seq && seqLe(this.sndWl2, s.ack))) {
      const w = s.wnd << this.sndShift;
      const wasZero = this.sndWnd === 0;
      this.sndWnd = w;
      this.sndWl1 = seq;
      this.sndWl2 = s.ack;
      if (w > this.maxSndWnd) this.maxSndWnd = w;
      if (wasZero && w > 0) {
        // Leaving persist: a probe byte the peer did not take goes again with the data.
        this.tPersist = Infinity;
        this.persistBackoff = 0;
        if (seqGt(this.sndNxt, this.sndUna)) this.sndNxt = this.sndUna;
        this.host.markPending(this);
      }
    }

    switch (this.state) {
      case TcpState.FIN_WAIT_1:
        if (finAcked) {
          // FIN-WAIT-1 -> FIN-WAIT-2 (3.10.7.4 fifth)
          this.setState(TcpState.FIN_WAIT_2);
          this.tLinger = now + this.host.cfg.finWait2TimeoutMs;
          this.host.noteDeadline(this, this.tLinger);
        }
        break;
      case TcpState.CLOSING:
        if (finAcked) {
          // CLOSING -> TIME-WAIT (3.10.7.4 fifth)
          this.enterTimeWait(now);
          return;
        }
        break;
      case TcpState.LAST_ACK:
        if (finAcked) {
          // LAST-ACK -> CLOSED (3.10.7.4 fifth)
          this.enterClosed('closed');
          return;
        }
        break;
      case TcpState.TIME_WAIT:
        // Only a retransmitted FIN is expected; it is acked below and restarts the timer.
        break;
      default:
        break;
    }

    // seventh: segment text (ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2)
    if (len > 0) {
      if (this.state === TcpState.ESTABLISHED || this.state === TcpState.FIN_WAIT_1 || this.state === TcpState.FIN_WAIT_2) {
        if (this.state === TcpState.FIN_WAIT_2) this.tLinger = now + this.host.cfg.finWait2TimeoutMs;
        this.receiveText(s.buf, dataOff, len, seq, now);
      }
    }

    // eighth: FIN
    if (fl & FIN) {
      const finSeq = seqAdd(seq, len);
      if (this.state === TcpState.TIME_WAIT) {
        // 3.10.7.4 eighth, TIME-WAIT: ack it and restart the 2 MSL timeout.
        this.tLinger = now + this.host.cfg.timeWaitMs;
        this.host.noteDeadline(this, this.tLinger);
        this.ackNow = true;
        this.host.markPending(this);
      } else if (
        this.state === TcpState.ESTABLISHED ||
        this.state === TcpState.FIN_WAIT_1 ||
        this.state === TcpState.FIN_WAIT_2
      ) {
        if (finSeq === this.rcvNxt) this.receiveFin(now, finAcked);
        else {
          // A FIN beyond a gap: processed once the gap fills.
          this.rcvFinKnown = true;
          this.rcvFinSeq = finSeq;
          this.ackNow = true;
          this.host.markPending(this);
        }
      } else if (this.state === TcpState.CLOSE_WAIT || this.state === TcpState.CLOSING || this.state === TcpState.LAST_ACK) {
        // A retransmitted FIN: our ACK was lost. Ack again.
        this.ackNow = true;
        this.host.markPending(this);
      }
    }
  }

  /** The peer's FIN is in order (3.10.7.4 eighth). */
  private receiveFin(now: number, ourFinAcked: boolean): void {
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.rcvFinKnown = false;
    this.ackNow = true;
    this.host.markPending(this);
    switch (this.state) {
      case TcpState.ESTABLISHED:
        // ESTABLISHED -> CLOSE-WAIT
        this.setState(TcpState.CLOSE_WAIT);
        break;
      case TcpState.FIN_WAIT_1:
        if (ourFinAcked || this.finIsAcked()) {
          // FIN-WAIT-1 -> TIME-WAIT: the FIN also acknowledged ours
          this.enterTimeWait(now);
        } else {
          // FIN-WAIT-1 -> CLOSING: simultaneous close (3.6)
          this.setState(TcpState.CLOSING);
        }
        break;
      case TcpState.FIN_WAIT_2:
        // FIN-WAIT-2 -> TIME-WAIT
        this.enterTimeWait(now);
        break;
      default:
        break;
    }
  }

  private finIsAcked(): boolean {
    return this.finQueued && this.sndUna === seqAdd(this.bufSeq, this.sndBuf.length + 1) && this.sndBuf.length === 0;
  }

  private enterTimeWait(now: number): void {
    this.setState(TcpState.TIME_WAIT);
    // Everything we sent is acknowledged; TIME-WAIT keeps only sequence state (RFC 9293 3.6).
    this.sndBuf.release();
    this.reasm.clear();
    this.tRtx = this.tPersist = this.tKeep = this.tDelack = Infinity;
    this.tLinger = now + this.host.cfg.timeWaitMs;
    this.host.noteDeadline(this, this.tLinger);
    this.ackNow = true;
    this.host.markPending(this);
  }

  private receiveText(buf: Uint8Array, off: number, len: number, seq: number, now: number): void {
    if (seq === this.rcvNxt) {
      const view = buf.subarray(off, off + len);
      if (!this.paused && this.rcvBuf.length === 0 && this.fastDeliver === null && this.handler !== null) {
        this.fastDeliver = view;
      } else {
        this.rcvBuf.push(view);
      }
      this.rcvNxt = seqAdd(this.rcvNxt, len);
      this.bytesIn += len;
      let filled = false;
      if (!this.reasm.empty) {
        for (let piece = this.reasm.takeAt(this.rcvNxt); piece !== null; piece = this.reasm.takeAt(this.rcvNxt)) {
          this.rcvBuf.push(piece);
          this.rcvNxt = seqAdd(this.rcvNxt, piece.length);
          this.bytesIn += piece.length;
          filled = true;
        }
      }
      if (this.rcvFinKnown && this.rcvFinSeq === this.rcvNxt) this.receiveFin(now, this.finIsAcked());
      // RFC 9293 3.8.6.3 / RFC 5681 4.2: ack at least every second full segment; at once when a hole fills.
      this.unackedSegs += len >= this.smss ? 2 : 1;
      if (filled || this.unackedSegs >= 4 || !this.reasm.empty) {
        this.ackNow = true;
        this.host.markPending(this);
      } else if (this.tDelack === Infinity) {
        this.tDelack = now + this.host.cfg.delayedAckMs;
        this.host.noteDeadline(this, this.tDelack);
      }
    } else {
      // Out of order: hold it and send a duplicate ACK at once (RFC 5681 4.2), with SACK blocks.
      this.reasm.insert(seq, buf.subarray(off, off + len));
      // One duplicate ACK per out-of-order segment, even when a burst of them arrives between
      // two output passes: the sender counts them to trigger fast retransmit (RFC 5681 3.2).
      if (this.dupAcksOwed < 16) this.dupAcksOwed++;
      this.ackNow = true;
      this.host.markPending(this);
    }
  }

  private takeSack(s: Seg): void {
    const o = s.opts;
    for (let k = 0; k < o.sackCount; k++) {
      const l = o.sackLeft[k];
      const r = o.sackRight[k];
      // RFC 2018 + 5961-style sanity: only blocks inside what we actually sent and above the ACK.
      if (seqLe(r, l) || seqLe(r, this.sndUna) || seqGt(r, this.sndMax)) continue;
      this.board.add(seqLt(l, this.sndUna) ? this.sndUna : l, r);
    }
  }

  /** SND.UNA < SEG.ACK <= SND.MAX: new data acknowledged. Returns true when it covers our FIN. */
  private onAckAdvance(s: Seg, now: number): boolean {
    const ack = s.ack;
    const acked = seqDiff(ack, this.sndUna);
    let dataAcked = seqDiff(ack, this.bufSeq);
    if (dataAcked > this.sndBuf.length) dataAcked = this.sndBuf.length;
    if (dataAcked > 0) {
      this.sndBuf.consume(dataAcked);
      this.bufSeq = seqAdd(this.bufSeq, dataAcked);
      this.bytesOut += dataAcked;
    }
    const finAcked = this.finQueued && this.sndBuf.length === 0 && ack === seqAdd(this.bufSeq, 1);
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
    this.retries = 0;
    // RTT (RFC 6298 3, RFC 7323 4.1): timestamps give a sample for every ACK that advances;
    // otherwise one timed segment at a time, never a retransmitted one (Karn).
    if (this.tsOk && s.opts.hasTimestamps && s.opts.tsEcr !== 0) {
      // Karn's rule for timestamps: after an RTO, an ACK provoked by a go-back-N duplicate echoes
      // the TSval of a segment sent before the timeout (RFC 7323 4.3 echoes TS.Recent, which only
      // in-order data updates), so its "RTT" would include the whole timeout. Ignore such echoes.
      if (seqGe(s.opts.tsEcr, this.tsRtoMark)) this.rtt.sample(this.tsNow(now) - s.opts.tsEcr);
    } else if (this.rttActive && seqGt(ack, this.rttSeq)) {
      this.rtt.sample(now - this.rttTime);
      this.rttActive = false;
    }
    if (this.sackOk) {
      this.board.advance(ack);
      if (s.opts.sackCount > 0) this.takeSack(s);
    }
    this.congestionOnAck(acked, now);
    // RFC 6298 5.2 / 5.3
    if (this.sndUna === this.sndMax) this.tRtx = Infinity;
    else this.armRtx(now);
    this.tlpOut = false;
    this.armTlp(now);
    if (this.drainWanted && this.sndBuf.length < this.highWater) {
      // delivered in notify()
    }
    this.host.markPending(this);
    return finAcked;
  }

  /** RFC 5681 3.1 slow start and congestion avoidance; RFC 6582 / 6675 recovery exit and partial ACKs. */
  private congestionOnAck(acked: number, now: number): void {
    const mss = this.smss;
    if (this.inRecovery) {
      if (seqGe(this.sndUna, this.recover)) {
        // Full acknowledgment (RFC 6582 3.2 step 3 option 1).
        const flight = seqDiff(this.sndMax, this.sndUna);
        this.cwnd = Math.min(this.ssthresh, Math.max(flight, mss) + mss);
        this.inRecovery = false;
        this.dupAcks = 0;
      } else if (!this.sackOk) {
        // Partial ACK (RFC 6582 3.2 step 4): retransmit the next hole, deflate by what was acked.
        this.rtxNow = true;
        this.cwnd = Math.max(this.cwnd - acked + (acked >= mss ? mss : 0), mss);
        if (this.dupAcks > 0) {
          this.armRtx(now);
          this.dupAcks = 0;
        }
      } else if (seqLt(this.rtxHigh, this.sndUna)) {
        this.rtxHigh = this.sndUna;
      }
      return;
    }
    this.dupAcks = 0;
    if (this.cwnd < this.ssthresh) {
      // Slow start counts the bytes acknowledged (RFC 3465), without RFC 5681's one-SMSS cap per
      // ACK: a poll-driven receiver (ours, or one with GRO) ACKs a whole burst at once, and with
      // the cap the window grew by one segment per round trip (measured: 11 -> 22 segments in
      // 1.1 s at 100 ms RTT). Linux's slow start does the same; bounded by ssthresh.
      this.cwnd = Math.min(this.cwnd + acked, Math.max(this.ssthresh, this.cwnd + mss));
    } else if (this.cubic !== null) {
      this.cwnd = Math.floor(this.cubic.onAck(this.cwnd, mss, acked, now, this.rtt.hasSample ? this.rtt.srtt : 100));
    } else {
      this.bytesAckedCa += acked;
      if (this.bytesAckedCa >= this.cwnd) {
        this.bytesAckedCa -= this.cwnd;
        this.cwnd += mss;
      }
    }
  }

  private onDupAck(now: number): void {
    const mss = this.smss;
    this.dupAcks++;
    if (this.inRecovery) {
      if (!this.sackOk) this.cwnd += mss; // RFC 6582 3.2 step 3: inflate
      this.host.markPending(this);
      return;
    }
    // RFC 5827 early retransmit: with fewer than four segments outstanding and nothing new to
    // send, three duplicates can never come; lower the threshold to outstanding - 1.
    const outstanding = Math.ceil(seqDiff(this.sndMax, this.sndUna) / mss);
    const nothingNew = this.unsent === 0;
    const thresh = nothingNew && outstanding < 4 ? Math.max(1, outstanding - 1) : 3;
    const sackLoss = this.sackOk && this.board.sacked >= thresh * mss;
    if (this.dupAcks >= thresh || sackLoss) {
      // RFC 6582 3.2 step 2: only if this loss is newer than the last recovery.
      if (!seqGt(this.sndUna, this.recover) && this.recover !== this.iss) {
        if (seqGt(this.recover, this.sndUna)) return;
      }
      const flight = seqDiff(this.sndMax, this.sndUna);
      // RFC 5681 eq. 4 (Reno: half the flight), RFC 9438 4.6 (CUBIC: 0.7 of the window)
      this.ssthresh = this.cubic !== null ? this.cubic.onCongestion(this.cwnd, mss) : Math.max(flight >>> 1, 2 * mss);
      this.recover = this.sndMax;
      this.inRecovery = true;
      this.host.counters.fastRecoveries++;
      if (this.sackOk) {
        this.cwnd = this.ssthresh; // RFC 6675 5 step 4: pipe decides what goes out ...
        this.rtxHigh = this.sndUna;
        this.rtxNow = true; // ... after the first hole, which goes at once (step 4.3)
      } else {
        this.cwnd = this.ssthresh + 3 * mss;
        this.rtxNow = true;
      }
      this.rttActive = false;
      void now;
      this.host.markPending(this);
    }
  }

  private challengeAck(now: number): void {
    const c = this.host.counters;
    if (this.host.allowChallengeAck(now)) {
      c.challengeAcks++;
      this.ackNow = true;
      this.host.markPending(this);
    } else {
      c.challengeAcksLimited++;
    }
  }

  private drop(reason: string): void {
    const d = this.host.counters.drops;
    d[reason] = (d[reason] ?? 0) + 1;
  }

  // ---- application notifications --------------------------------------------------------------

  /** Deliver what input or a user call made ready, in order, stopping if the app closes us. */
  private notify(): void {
    if (this.inCallback) return;
    this.inCallback = true;
    try {
      const h = this.handler;
      if (h !== null) {
        if (this.connectNotify) {
          this.connectNotify = false;
          h.onConnect?.();
        }
        const fast = this.fastDeliver;
        if (fast !== null) {
          this.fastDeliver = null;
          if (this.paused) this.rcvBuf.push(fast);
          else h.onData(fast);
        }
        // Callbacks can change what is deliverable: an onDrain that resumes reading (an echo
        // that paused on a full send queue) must see the bytes queued meanwhile delivered now,
        // not at the next segment, which may never come. So repeat until nothing moves.
        for (let pass = 0; pass < 8; pass++) {
          let moved = false;
          if (this.rcvBuf.length > 0 && !this.paused && this.state !== TcpState.CLOSED) {
            this.drainReceive(h);
            moved = true;
          }
          if (!this.endNotified && this.rcvBuf.length === 0 && this.peerFinReceived()) {
            this.endNotified = true;
            h.onEnd();
          }
          if (this.drainWanted && this.sndBuf.length < this.highWater && this.state !== TcpState.CLOSED) {
            this.drainWanted = false;
            h.onDrain();
            moved = true;
          }
          if (!moved) break;
        }
      } else if (this.fastDeliver !== null) {
        this.rcvBuf.push(this.fastDeliver);
        this.fastDeliver = null;
      }
      this.maybeFinished(h);
    } finally {
      this.inCallback = false;
    }
  }

  private drainReceive(h: TcpSocketHandler): void {
    const before = this.rcvWindow();
    while (this.rcvBuf.length > 0 && !this.paused && this.state !== TcpState.CLOSED) {
      const chunk = this.rcvBuf.peekContiguous(64 * 1024);
      const n = chunk.length;
      h.onData(chunk);
      this.rcvBuf.consume(n);
    }
    // Receiver SWS avoidance (3.8.6.2.2): announce the reopened window once it grew by a useful amount.
    const gain = this.rcvWindow() - before;
    if (gain > 0 && (before < this.smss || gain >= Math.min(this.rcvCap >>> 1, 2 * this.smss))) {
      this.ackNow = true;
      this.host.markPending(this);
    }
  }

  private peerFinReceived(): boolean {
    switch (this.state) {
      case TcpState.CLOSE_WAIT:
      case TcpState.LAST_ACK:
      case TcpState.CLOSING:
      case TcpState.TIME_WAIT:
        return true;
      case TcpState.CLOSED:
        return this.closeReason === 'closed';
      default:
        return false;
    }
  }

  private maybeFinished(h: TcpSocketHandler | null): void {
    if (this.closeNotified) return;
    const st = this.state;
    if (st === TcpState.CLOSED || st === TcpState.TIME_WAIT) {
      if (st === TcpState.TIME_WAIT) this.finished('closed');
      // An orderly close is reported after the application has read everything and seen onEnd.
      if (this.closeReason === 'closed' && (this.rcvBuf.length > 0 || !this.endNotified) && h !== null) return;
      if (h === null && this.passive) return; // still in an accept queue; reported when accepted
      this.closeNotified = true;
      h?.onClose(this.closeReason, this.closeError);
    }
  }

  /** The application attached a handler: flush what waited for it. */
  attached(): void {
    if (this.state === TcpState.CLOSED || this.state === TcpState.TIME_WAIT) {
      this.notify();
      return;
    }
    this.notify();
  }

  // ---- timers ---------------------------------------------------------------------------------

  deadline(): number {
    let d = this.tRtx;
    if (this.tDelack < d) d = this.tDelack;
    if (this.tPersist < d) d = this.tPersist;
    if (this.tKeep < d) d = this.tKeep;
    if (this.tLinger < d) d = this.tLinger;
    if (this.tTlp < d) d = this.tTlp;
    return d;
  }

  private armRtx(now: number): void {
    this.tRtx = now + this.rtt.rto;
    this.host.noteDeadline(this, this.tRtx);
  }

  /**
   * RFC 8985 7.2: PTO = 2 * SRTT (plus the peer's delayed-ACK time when one segment is out),
   * only with an RTT sample, outside recovery, one probe per flight, and only if it beats the RTO.
   */
  private armTlp(now: number): void {
    if (!this.rtt.hasSample || this.inRecovery || this.tlpOut || this.retries > 0 || this.sndUna === this.sndMax || this.sndWnd === 0) {
      this.tTlp = Infinity;
      return;
    }
    let pto = 2 * this.rtt.srtt;
    if (seqDiff(this.sndMax, this.sndUna) <= this.smss) pto += this.host.cfg.delayedAckMs;
    if (pto < 10) pto = 10;
    const at = now + pto;
    if (at >= this.tRtx) {
      this.tTlp = Infinity;
      return;
    }
    this.tTlp = at;
    this.host.noteDeadline(this, at);
  }

  private armKeepalive(now: number): void {
    if (this.keepalive === null) {
      this.tKeep = Infinity;
      return;
    }
    this.tKeep = now + (this.keepProbes > 0 ? this.keepalive.intervalMs : this.keepalive.idleMs);
    this.host.noteDeadline(this, this.tKeep);
  }

  setKeepalive(k: KeepaliveConfig | null, now: number): void {
    this.keepalive = k;
    this.keepProbes = 0;
    if (this.state === TcpState.ESTABLISHED || this.state === TcpState.CLOSE_WAIT) this.armKeepalive(now);
  }

  private keepaliveProbe = false;

  /** Fire every timer due at `now`. */
  timers(now: number): void {
    const cfg = this.host.cfg;
    if (this.tLinger <= now) {
      this.tLinger = Infinity;
      if (this.state === TcpState.TIME_WAIT) {
        // TIME-WAIT -> CLOSED (3.10.8 time-wait timeout)
        this.enterClosed('closed');
        this.notify();
        return;
      }
      if (this.state === TcpState.FIN_WAIT_2) {
        this.host.counters.timeouts++;
        this.abort('timeout', new Error('FIN-WAIT-2 timeout: the peer never closed'));
        return;
      }
    }
    if (this.tTlp <= now) {
      this.tTlp = Infinity;
      if (!this.inRecovery && this.sndUna !== this.sndMax && this.state !== TcpState.TIME_WAIT) {
        this.tlpProbe = true;
        this.tlpOut = true;
        this.host.counters.tailLossProbes++;
        this.host.markPending(this);
      }
    }
    if (this.tDelack <= now) {
      this.tDelack = Infinity;
      this.ackNow = true;
      this.host.markPending(this);
    }
    if (this.tRtx <= now) {
      this.tRtx = Infinity;
      this.onRtoExpired(now);
      if (this.state === TcpState.CLOSED) return;
    }
    if (this.tPersist <= now) {
      this.tPersist = Infinity;
      // RFC 9293 3.8.6.1: probe the zero window with one byte; back off like the RTO.
      if (this.unsentOrProbe() > 0 && this.sndWnd < this.smss) {
        this.sndNxt = this.sndUna;
        this.persistProbe = true;
        this.persistBackoff++;
        this.host.markPending(this);
      }
    }
    if (this.tKeep <= now && this.keepalive !== null) {
      this.tKeep = Infinity;
      if (this.state === TcpState.ESTABLISHED || this.state === TcpState.CLOSE_WAIT) {
        if (this.keepProbes >= this.keepalive.count) {
          this.host.counters.timeouts++;
          this.abort('keepalive', new Error(`keepalive: ${this.keepProbes} probes unanswered`));
          return;
        }
        this.keepProbes++;
        this.host.counters.keepaliveProbes++;
        this.keepaliveProbe = true;
        this.host.markPending(this);
        this.armKeepalive(now);
      }
    }
    void cfg;
  }

  persistProbe = false;
  /**
   * Set while the sequence space from zwpSeq up to SND.MAX went out only as zero-window probe
   * bytes (3.8.6.1): sending it once the window opens is its first transmission as data, not a
   * retransmission. Cleared by the next data segment.
   */
  private zwpOnly = false;
  private zwpSeq = 0;

  /** Whether a segment from `seq` sends data again: below SND.MAX and not only ever a window probe. */
  private isResend(seq: number): boolean {
    return seqLt(seq, this.sndMax) && !(this.zwpOnly && seqGe(seq, this.zwpSeq));
  }

  private unsentOrProbe(): number {
    return seqDiff(seqAdd(this.bufSeq, this.sndBuf.length), this.sndUna);
  }

  /** RFC 6298 5.4 - 5.7, RFC 5681 3.1 (loss window), Karn's algorithm. */
  private onRtoExpired(now: number): void {
    const cfg = this.host.cfg;
    const c = this.host.counters;
    c.rtoExpirations++;
    this.retries++;
    if (this.state === TcpState.SYN_SENT || this.state === TcpState.SYN_RECEIVED) {
      if (this.retries > cfg.synRetries) {
        c.timeouts++;
        if (this.state === TcpState.SYN_RECEIVED) {
          this.host.sendControl(this.localIp, this.localPort, this.remoteIp, this.remotePort, this.sndNxt, 0, RST);
        }
        this.enterClosed('timeout', new Error(`handshake timed out after ${cfg.synRetries} retransmissions`));
        this.notify();
        return;
      }
      this.sndNxt = this.iss;
    } else {
      if (this.retries > cfg.maxRetries) {
        c.timeouts++;
        this.abort('timeout', new Error(`retransmission timeout after ${cfg.maxRetries} attempts`));
        return;
      }
      if (this.retries === 1) {
        const flight = seqDiff(this.sndMax, this.sndUna);
        this.ssthresh = this.cubic !== null ? this.cubic.onTimeout(this.cwnd, this.smss) : Math.max(flight >>> 1, 2 * this.smss);
      }
      this.cwnd = this.smss;
      this.bytesAckedCa = 0;
      this.sndNxt = this.sndUna; // go back N
      this.inRecovery = false;
      this.rtxNow = false;
      this.dupAcks = 0;
      this.recover = this.sndMax; // RFC 6582 4.1: no fast retransmit for the duplicates this causes
      this.board.clear(); // RFC 2018 8: the receiver may have reneged
    }
    this.rttActive = false;
    this.tTlp = Infinity;
    this.tsRtoMark = this.tsNow(now);
    this.rtt.backOff();
    this.armRtx(now);
    this.host.markPending(this);
  }

  // ---- output ---------------------------------------------------------------------------------

  private tsNow(now: number): number {
    return (Math.floor(now) + this.tsOffset) >>> 0;
  }

  /** The window we can offer: free receive buffer (3.8.6), never shrinking the right edge. */
  rcvWindow(): number {
    const free = this.rcvCap - this.rcvBuf.length;
    return free < 0 ? 0 : free;
  }

  private windowField(): number {
    let w = this.rcvWindow();
    const right = seqAdd(this.rcvNxt, w);
    if (seqLt(right, this.rcvAdvRight)) w = seqDiff(this.rcvAdvRight, this.rcvNxt);
    else this.rcvAdvRight = right;
    const f = w >>> this.rcvShift;
    return f > 0xffff ? 0xffff : f;
  }

  /** Options of a non-SYN segment: timestamps, then SACK blocks when data waits in reassembly. */
  private optionsLen(): number {
    let n = this.tsOk ? TS_LEN : 0;
    if (this.sackOk && !this.reasm.empty) n += 4 + 8 * (this.tsOk ? 3 : 4);
    return n;
  }

  private static sackL = new Uint32Array(4);
  private static sackR = new Uint32Array(4);

  /**
   * Write one segment. Returns false when the sink has no room (the caller stops and keeps the
   * connection pending). Payload comes from the send queue at `seq`.
   */
  private emitSegment(now: number, sink: SegmentSink, seq: number, len: number, fl: number): boolean {
    const off = sink.reserve(this.remoteIp);
    if (off < 0) return false;
    const b = sink.buf;
    let i = off + 20;
    if (fl & SYN) {
      i = emitMss(b, i, this.ourMss);
      const cfg = this.host.cfg;
      const syn = !(fl & ACK);
      // In a SYN-ACK only echo what the SYN offered (RFC 7323 1.3, RFC 2018 2).
      if (cfg.windowScaling && (syn || this.wsOffered)) i = emitWscale(b, i, this.rcvShift);
      if (cfg.sack && (syn || this.sackOk)) i = emitSackPermitted(b, i);
      if (cfg.timestamps && (syn || this.tsOk)) i = emitTimestamps(b, i, this.tsNow(now), this.tsOk ? this.tsRecent : 0);
    } else {
      if (this.tsOk) i = emitTimestamps(b, i, this.tsNow(now), this.tsRecent);
      if (this.sackOk && !this.reasm.empty && fl & ACK) {
        const n = this.reasm.sackBlocks(Tcb.sackL, Tcb.sackR, this.tsOk ? 3 : 4, this.dupAcksOwed);
        i = emitSack(b, i, Tcb.sackL, Tcb.sackR, n);
      }
    }
    const hlen = i - off;
    if (len > 0) this.sndBuf.copyOut(seqDiff(seq, this.bufSeq), b, i, len);
    const wnd = fl & SYN ? Math.min(this.rcvWindow(), 0xffff) : this.windowField();
    if (fl & SYN) this.rcvAdvRight = seqAdd(this.rcvNxt, wnd);
    else if (wnd === 0) this.host.counters.zeroWindowAdvertised++;
    const ack = fl & ACK ? this.rcvNxt : 0;
    emitHeader(b, off, this.localPort, this.remotePort, seq, ack, hlen, fl, wnd);
    const total = hlen + len;
    if (this.host.cfg.checksums && sink.checksumOffload !== true) fillChecksum(b, off, total, this.localIp, this.remoteIp);
    sink.commit(this.localIp, this.remoteIp, total);
    this.segsOut++;
    this.host.counters.segmentsOut++;
    if (fl & ACK) {
      this.lastAckSent = this.rcvNxt;
      this.ackNow = false;
      this.unackedSegs = 0;
      this.tDelack = Infinity;
    }
    return true;
  }

  /** Set when the SYN we answer carried a window scale option. */
  wsOffered = false;

  /**
   * Send everything due: SYN / SYN-ACK, retransmissions, new data within min(cwnd, peer window),
   * FIN, and a pure ACK if one is owed. Returns false when the sink filled up.
   */
  emit(now: number, sink: SegmentSink): boolean {
    const st = this.state;
    if (st === TcpState.CLOSED || st === TcpState.LISTEN) return true;
    const c = this.host.counters;

    // Our SYN is not yet acknowledged (SYN-SENT, SYN-RECEIVED, or FIN-WAIT-1 entered from SYN-RECEIVED).
    if (seqLe(this.sndUna, this.iss) && st !== TcpState.TIME_WAIT) {
      if (this.sndNxt === this.iss) {
        const fl = st === TcpState.SYN_SENT ? SYN : SYN | ACK;
        const retrans = this.sndMax !== this.iss;
        if (!this.emitSegment(now, sink, this.iss, 0, fl)) return false;
        if (retrans) {
          this.retransmits++;
          c.retransmits++;
        } else {
          this.rttActive = true;
          this.rttTime = now;
          this.rttSeq = this.iss;
        }
        this.sndNxt = seqAdd(this.iss, 1);
        if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
        if (this.tRtx === Infinity) this.armRtx(now);
      }
      if (this.ackNow && st !== TcpState.SYN_SENT) {
        // An unacceptable segment in SYN-RECEIVED (e.g. the peer's SYN-ACK in a simultaneous
        // open, 3.5 figure 8) is answered with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
        if (!this.emitSegment(now, sink, this.sndNxt, 0, ACK)) return false;
      }
      this.ackNow = false;
      return true;
    }

    if (st !== TcpState.TIME_WAIT && seqGt(this.sndUna, this.iss)) {
      if (!this.emitData(now, sink)) return false;
    }
    if (this.keepaliveProbe) {
      // RFC 9293 3.8.4: SEG.SEQ = SND.NXT - 1, no data: the peer must answer with an ACK.
      if (!this.emitSegment(now, sink, seqAdd(this.sndNxt, -1), 0, ACK)) return false;
      this.keepaliveProbe = false;
    }
    while (this.dupAcksOwed > 0) {
      if (!this.emitSegment(now, sink, this.sndNxt, 0, ACK)) return false;
      this.dupAcksOwed--;
    }
    if (this.ackNow) {
      if (!this.emitSegment(now, sink, this.sndNxt, 0, ACK)) return false;
    }
    return true;
  }

  private emitData(now: number, sink: SegmentSink): boolean {
    const c = this.host.counters;
    const dataEnd = seqAdd(this.bufSeq, this.sndBuf.length);
    const finSeq = dataEnd; // valid when finQueued: the FIN follows the last byte
    const canFin = this.finQueued && (this.state === TcpState.FIN_WAIT_1 || this.state === TcpState.LAST_ACK || this.state === TcpState.CLOSING);

    // Persist timer fired: a zero-window probe of one byte (3.8.6.1), or, when the window is
    // open but smaller than a segment, the sender SWS override: send what fits (3.8.6.2.1).
    if (this.persistProbe) {
      this.persistProbe = false;
      if (seqLt(this.sndUna, dataEnd)) {
        const probe = this.sndWnd === 0;
        const len = probe ? 1 : Math.min(this.sndWnd, seqDiff(dataEnd, this.sndUna), this.smss);
        if (!this.emitSegment(now, sink, this.sndUna, len, ACK)) return false;
        this.sndNxt = seqAdd(this.sndUna, len);
        if (probe) {
          // A zero-window probe counts as one, never as a retransmission, however often it repeats;
          // a byte first sent in one is not retransmitted by the data that follows the reopening.
          c.windowProbes++;
          if (seqGt(this.sndNxt, this.sndMax)) {
            if (!this.zwpOnly) {
              this.zwpOnly = true;
              this.zwpSeq = this.sndUna;
            }
            this.sndMax = this.sndNxt;
          }
        } else {
          // The sender SWS override (3.8.6.2.1): data into a small open window.
          if (this.isResend(this.sndUna)) {
            this.retransmits++;
            c.retransmits++;
            c.retransmittedBytes += Math.min(len, seqDiff(this.sndMax, this.sndUna));
          }
          if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
          this.zwpOnly = false;
        }
        this.tPersist = now + Math.min(this.rtt.baseRto * 2 ** this.persistBackoff, this.host.cfg.rtoMaxMs);
        this.host.noteDeadline(this, this.tPersist);
        return true;
      }
    }

    // RFC 8985 7.3: the probe is one new segment if the peer's window allows, else the last
    // segment sent again. Either draws an ACK (with SACK) that can start fast recovery.
    if (this.tlpProbe) {
      this.tlpProbe = false;
      const newLen = Math.min(this.smss - this.sackOptExtra(), seqDiff(dataEnd, this.sndNxt), seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt));
      if (newLen <= 0 && seqLe(this.sndMax, dataEnd)) {
        const len = Math.min(this.smss - this.sackOptExtra(), seqDiff(this.sndMax, this.bufSeq));
        if (len > 0) {
          const seq = seqAdd(this.sndMax, -len);
          if (!this.emitSegment(now, sink, seq, len, ACK | PSH)) return false;
          if (this.isResend(seq)) {
            this.retransmits++;
            c.retransmits++;
            c.retransmittedBytes += len;
          }
          this.zwpOnly = false;
        }
      } else if (newLen > 0) {
        if (!this.emitSegment(now, sink, this.sndNxt, newLen, ACK | (newLen === seqDiff(dataEnd, this.sndNxt) ? PSH : 0))) return false;
        this.sndNxt = seqAdd(this.sndNxt, newLen);
        if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
        this.zwpOnly = false;
      }
      this.armRtx(now);
    }

    // NewReno fast retransmit / partial ACK: one segment at SND.UNA, outside cwnd (RFC 6582 3.2).
    if (this.rtxNow) {
      const len = Math.min(this.smss - this.sackOptExtra(), seqDiff(dataEnd, this.sndUna));
      const fin = canFin && seqAdd(this.sndUna, len) === finSeq && len >= 0;
      if (len > 0 || fin) {
        if (!this.emitSegment(now, sink, this.sndUna, len, ACK | (fin ? FIN : 0) | (len > 0 ? PSH : 0))) return false;
        if (this.isResend(this.sndUna)) {
          this.retransmits++;
          c.retransmits++;
          c.retransmittedBytes += len;
        }
        if (len > 0) this.zwpOnly = false;
        const end = seqAdd(this.sndUna, len + (fin ? 1 : 0));
        if (seqGt(end, this.sndNxt)) this.sndNxt = end;
        if (this.sackOk && this.inRecovery && seqGt(end, this.rtxHigh)) this.rtxHigh = end;
        // Restart the timer with the retransmission of the head (as Linux does): armed when the
        // original went out, it would otherwise expire about when this repair's ACK is due.
        this.armRtx(now);
      }
      this.rtxNow = false;
    }

    for (;;) {
      const mss = this.smss - this.sackOptExtra();
      let seq = this.sndNxt;
      let retransHole = false;
      let limit: number;
      if (this.inRecovery && this.sackOk && !this.board.empty) {
        // RFC 6675 5 step (C): fill holes below the highest SACKed byte while pipe < cwnd.
        const pipe = this.pipe();
        if (pipe >= this.cwnd) break;
        let nx = seqLt(this.rtxHigh, this.sndUna) ? this.sndUna : this.rtxHigh;
        nx = this.board.skipSacked(nx);
        if (seqLt(nx, this.board.high) && seqLt(nx, this.sndNxt)) {
          const he = this.board.holeEnd(nx);
          seq = nx;
          limit = he < 0 ? 0 : seqDiff(he, nx);
          retransHole = limit > 0;
          if (!retransHole) break;
        } else {
          limit = this.cwnd - pipe;
        }
      } else {
        const flight = seqDiff(this.sndNxt, this.sndUna) - (this.sackOk ? this.board.sacked : 0);
        // RFC 3042 limited transmit: the first two duplicate ACKs each let one new segment out,
        // so small windows still collect the three duplicates fast retransmit needs.
        limit = this.cwnd - flight + (this.inRecovery ? 0 : Math.min(this.dupAcks, 2) * this.smss);
      }
      const wndRight = seqAdd(this.sndUna, this.sndWnd);
      const avail = seqDiff(dataEnd, seq);
      let len = Math.min(mss, avail);
      if (!retransHole) {
        const inWnd = seqDiff(wndRight, seq);
        if (len > inWnd) len = inWnd;
      }
      if (len > limit) len = limit;
      if (len < 0) len = 0;
      // The FIN rides on the segment that ends the data, first time or after a go-back-N rewind.
      const sendFin = canFin && !retransHole && seqAdd(seq, len) === finSeq && seqLe(this.sndNxt, finSeq);
      if (len === 0 && !sendFin) break;
      // Sender SWS avoidance (3.8.6.2.1): a short segment goes only if it carries all we have
      // (Nagle is off: a gateway wants low latency) or half the largest window the peer offered.
      if (len > 0 && len < mss && len < avail && len < this.maxSndWnd >>> 1 && !retransHole) break;
      if (!this.emitSegment(now, sink, seq, len, ACK | (sendFin ? FIN : 0) | (len > 0 && len === avail ? PSH : 0))) return false;
      const end = seqAdd(seq, len + (sendFin ? 1 : 0));
      if (seqLt(seq, this.sndMax)) {
        // Karn: never time a segment whose sequence space went out before, probe byte included.
        if (this.isResend(seq)) {
          this.retransmits++;
          c.retransmits++;
          c.retransmittedBytes += len;
        }
      } else if (!this.rttActive && !this.tsOk) {
        this.rttActive = true;
        this.rttTime = now;
        this.rttSeq = seq;
      }
      if (len > 0) this.zwpOnly = false;
      if (retransHole) this.rtxHigh = end;
      else if (seqGt(end, this.sndNxt)) this.sndNxt = end;
      if (seqGt(end, this.sndMax)) this.sndMax = end;
      if (this.tRtx === Infinity) this.armRtx(now);
      if (sendFin) break;
    }

    if (this.tTlp === Infinity) this.armTlp(now);

    // RFC 9293 3.8.6.1: data waiting, a zero (or, 3.8.6.2.1, too small to use) window and
    // nothing in flight -> persist timer.
    if (seqLt(this.sndNxt, dataEnd) && this.sndNxt === this.sndUna && this.sndWnd < Math.min(this.smss, seqDiff(dataEnd, this.sndNxt))) {
      this.tRtx = Infinity;
      if (this.tPersist === Infinity) {
        this.tPersist = now + Math.min(this.rtt.baseRto * 2 ** this.persistBackoff, this.host.cfg.rtoMaxMs);
        this.host.noteDeadline(this, this.tPersist);
      }
    }
    return true;
  }

  /** RFC 6675 4 SetPipe, simplified: un-SACKed bytes above the highest SACK plus retransmitted holes. */
  private pipe(): number {
    const high = this.board.high;
    const above = seqGt(this.sndNxt, high) ? seqDiff(this.sndNxt, high) : 0;
    const upTo = seqLt(this.rtxHigh, high) ? this.rtxHigh : high;
    return above + (seqGt(upTo, this.sndUna) ? this.board.holesBelow(this.sndUna, upTo) : 0);
  }

  private sackOptExtra(): number {
    return this.sackOk && !this.reasm.empty ? 4 + 8 * (this.tsOk ? 3 : 4) : 0;
  }

  // ---- introspection ---------------------------------------------------------------------------

  info(): TcpConnectionInfo {
    return {
      state: stateName(this.state),
      localIp: this.localIp,
      localPort: this.localPort,
      remoteIp: this.remoteIp,
      remotePort: this.remotePort,
      sendQueue: this.sndBuf.length,
      recvQueue: this.rcvBuf.length,
      srttMs: this.rtt.srtt,
      rtoMs: this.rtt.rto,
      cwnd: this.cwnd,
      ssthresh: this.ssthresh,
      sndWnd: this.sndWnd,
      rcvWnd: this.rcvWindow(),
      mss: this.smss,
      retransmits: this.retransmits,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      segmentsIn: this.segsIn,
      segmentsOut: this.segsOut,
      iss: this.iss,
      sndUna: this.sndUna,
      sndNxt: this.sndNxt,
      irs: this.irs,
      rcvNxt: this.rcvNxt,
      timestamps: this.tsOk,
      sack: this.sackOk,
      sndWscale: this.sndShift,
      rcvWscale: this.rcvShift,
    };
  }

  /** Bytes written but not yet sent. */
  get unsent(): number {
    return Math.max(0, seqDiff(seqAdd(this.bufSeq, this.sndBuf.length), seqMax(this.sndNxt, this.bufSeq)));
  }
}

