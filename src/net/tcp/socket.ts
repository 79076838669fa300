// The application's handle on one TCP connection, and a listener's. Thin: the state lives in the
// TCB (tcb.ts); this is the part of it an application may touch.

import { SluiceError } from '../../errors.js';
import type { KeepaliveConfig, Tcb, TcpSocketHandler } from './tcb.js';
import { TcpState, stateName, type TcpStateName } from './state.js';
import type { TcpConnectionInfo } from './types.js';

export type { TcpSocketHandler, KeepaliveConfig };

export class TcpSocket {
  readonly #tcb: Tcb;
  readonly #clock: () => number;

  /** @internal created by TcpLayer */
  constructor(tcb: Tcb, clock: () => number) {
    this.#tcb = tcb;
    this.#clock = clock;
  }

  get localIp(): number {
    return this.#tcb.localIp;
  }
  get localPort(): number {
    return this.#tcb.localPort;
  }
  get remoteIp(): number {
    return this.#tcb.remoteIp;
  }
  get remotePort(): number {
    return this.#tcb.remotePort;
  }
  get state(): TcpStateName {
    return stateName(this.#tcb.state);
  }
  /** True once the connection is finished (CLOSED or TIME-WAIT) from the application's view. */
  get closed(): boolean {
    return this.#tcb.state === TcpState.CLOSED || this.#tcb.state === TcpState.TIME_WAIT;
  }

  /** Attach the consumer. Queued events (data that arrived before, a FIN, a close) follow at once. */
  setHandler(h: TcpSocketHandler): void {
    this.#tcb.handler = h;
    this.#tcb.attached();
  }

  /**
   * Queue bytes (copied). Returns false when the send queue is at or above its mark; wait for
   * onDrain. Throws after end() or once the connection is closed.
   */
  write(chunk: Uint8Array): boolean {
    const t = this.#tcb;
    if (t.finQueued) throw new SluiceError('SLUICE_IO', 'TCP write after end()', { remotePort: t.remotePort });
    if (t.state === TcpState.CLOSED || t.state === TcpState.TIME_WAIT) {
      throw new SluiceError('SLUICE_IO', `TCP write on a ${stateName(t.state)} connection`, { remotePort: t.remotePort });
    }
    return t.write(chunk);
  }

  /** Half-close: FIN after the queued bytes (RFC 9293 3.10.4). Reading continues until the peer's FIN. */
  end(): void {
    this.#tcb.close();
  }

  /** Close at once: RST to the peer, queued bytes dropped (RFC 9293 3.10.5). */
  destroy(err?: Error): void {
    this.#tcb.abort('aborted', err);
  }

  /** Stop delivering data; the receive buffer fills and the advertised window closes. */
  pause(): void {
    this.#tcb.pause();
  }

  resume(): void {
    this.#tcb.resume();
  }

  get paused(): boolean {
    return this.#tcb.paused;
  }

  /** RFC 9293 3.8.4 / RFC 1122 4.2.3.6: off by default. */
  setKeepAlive(k: KeepaliveConfig | null): void {
    this.#tcb.setKeepalive(k, this.#clock());
  }

  /** Bytes written and not yet acknowledged. */
  get sendQueueBytes(): number {
    return this.#tcb.sndBuf.length;
  }
  /** Bytes written and not yet handed to the wire. */
  get unsentBytes(): number {
    return this.#tcb.unsent;
  }
  /** Bytes received and not yet delivered (paused). */
  get recvQueueBytes(): number {
    return this.#tcb.rcvBuf.length;
  }

  /** Bytes of buffer storage the connection holds now (send and receive rings). */
  get bufferBytes(): number {
    return this.#tcb.sndBuf.capacity + this.#tcb.rcvBuf.capacity;
  }

  /**
   * Gives back the storage of rings that are empty and were not used since the previous call
   * (ByteRing.sweep). Called every second or so, it leaves idle connections holding no buffer
   * and busy ones untouched. Returns the bytes released.
   */
  sweepIdleBuffers(): number {
    return this.#tcb.sndBuf.sweep() + this.#tcb.rcvBuf.sweep();
  }

  stats(): TcpConnectionInfo {
    return this.#tcb.info();
  }
}

export interface TcpListenerOptions {
  /** Local address (uint32), 0 for any of the layer's addresses. */
  ip: number;
  port: number;
  /** Accept queue length: established connections not yet accepted. */
  backlog?: number;
  /** SYN-RECEIVED connections held at once; beyond it, SYN cookies answer. */
  synBacklog?: number;
  /** Answer with SYN cookies when a queue is full (default true); false drops the SYN instead. */
  synCookies?: boolean;
  /** Called for each new established connection; without it, call accept(). */
  onConnection?: (socket: TcpSocket) => void;
}

export class TcpListener {
  readonly ip: number;
  readonly port: number;
  readonly backlog: number;
  readonly synBacklog: number;
  readonly synCookies: boolean;
  onConnection: ((socket: TcpSocket) => void) | null;
  /** @internal */
  readonly queue: TcpSocket[] = [];
  /** @internal SYN-RECEIVED count */
  synCount = 0;
  /** @internal last time a cookie was sent: cookie ACKs are checked only while that is recent. */
  lastCookieAt = -Infinity;
  closed = false;
  readonly #onClose: (l: TcpListener) => void;

  /** @internal created by TcpLayer.listen */
  constructor(o: TcpListenerOptions, onClose: (l: TcpListener) => void) {
    this.ip = o.ip >>> 0;
    this.port = o.port;
    this.backlog = o.backlog ?? 511;
    this.synBacklog = o.synBacklog ?? 1024;
    this.synCookies = o.synCookies ?? true;
    this.onConnection = o.onConnection ?? null;
    this.#onClose = onClose;
  }

  /** The oldest established connection not yet taken, or null. */
  accept(): TcpSocket | null {
    // A connection reset while it waited is still handed out (its onClose says why), like
    // accept(2) returning a socket whose first read fails with ECONNRESET.
    return this.queue.shift() ?? null;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Stop listening. Connections already accepted or queued are not affected. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#onClose(this);
  }
}
