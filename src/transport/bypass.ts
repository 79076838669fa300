// The bypass data path's transport: Sluice's own TCP sockets (src/net/tcp) seen as (a) a Node
// Duplex, so Node's TLS can run on top (`new tls.TLSSocket(duplex, { isServer: true })`), and
// (b) a Connection for plain listeners. The sockets are driven by the poll loop: a write here
// only queues bytes and marks the connection pending; TcpLayer.onOutputPending tells the loop.

import { Duplex, type DuplexOptions } from 'node:stream';
import type { TcpSocket, TcpSocketHandler } from '../net/tcp/socket.js';
import type { TcpCloseReason } from '../net/tcp/types.js';
import { formatIpv4 } from '../net/wire/ipv4.js';
import type { CloseReason, Connection, ConnectionHandler, ConnectionInfo, TlsInfo, TransportKind } from './connection.js';
import { nextConnectionId } from './stream.js';

/** Errors that look like the kernel's, so code written for net.Socket (and TLSSocket) maps them. */
function socketError(reason: TcpCloseReason, err?: Error): Error | null {
  const code =
    reason === 'peer_reset' ? 'ECONNRESET'
    : reason === 'refused' ? 'ECONNREFUSED'
    : reason === 'timeout' || reason === 'keepalive' ? 'ETIMEDOUT'
    : null;
  if (code === null) return null;
  const e = new Error(err?.message ?? code) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

/**
 * The idle buffer sweep: every SWEEP_MS the TCP sockets under TcpDuplex and TcpConnection give
 * back ring storage that has been empty and unused for a whole period (TcpSocket.sweepIdleBuffers),
 * so an idle keep-alive connection holds no send or receive buffer, while busy connections keep
 * theirs and never pay for it per segment. One unref'd timer per process, running only while such
 * sockets exist; a socket leaves the set when it closes.
 */
const SWEEP_MS = 1000;
const swept = new Set<TcpSocket>();
let sweepTimer: NodeJS.Timeout | null = null;

function trackBuffers(socket: TcpSocket): void {
  swept.add(socket);
  if (sweepTimer === null) {
    sweepTimer = setInterval(sweepIdleBuffers, SWEEP_MS);
    sweepTimer.unref();
  }
}

function untrackBuffers(socket: TcpSocket): void {
  swept.delete(socket);
  if (swept.size === 0 && sweepTimer !== null) {
    clearInterval(sweepTimer);
    sweepTimer = null;
  }
}

/** One sweep over the bypass transport's sockets now (the timer's work). Returns the bytes released. */
export function sweepIdleBuffers(): number {
  let released = 0;
  for (const s of swept) {
    if (s.closed) untrackBuffers(s);
    else released += s.sweepIdleBuffers();
  }
  return released;
}

/** Sockets the sweep is watching (for tests). */
export function sweptSocketCount(): number {
  return swept.size;
}

/**
 * The TcpSocket's handler for a TcpDuplex: one small object with its methods on the prototype,
 * instead of five closures and their scope per connection (idle connections keep their handler).
 */
class DuplexEvents implements TcpSocketHandler {
  constructor(private readonly d: TcpDuplex) {}
  onConnect(): void {
    this.d.emit('connect');
  }
  onData(chunk: Uint8Array): void {
    this.d.tcpData(chunk);
  }
  onEnd(): void {
    this.d.push(null);
  }
  onDrain(): void {
    this.d.tcpDrain();
  }
  onClose(reason: TcpCloseReason, err?: Error): void {
    this.d.tcpClose(reason, err);
  }
}

/**
 * A Duplex over one TcpSocket. Backpressure both ways: push() returning false pauses the socket
 * (its receive buffer fills and the advertised window closes) until _read; a write the socket
 * refuses completes only on its onDrain. end() sends FIN after queued bytes; the peer's FIN is
 * 'end'; destroy() sends RST.
 */
export class TcpDuplex extends Duplex {
  readonly socket: TcpSocket;
  private writeCb: ((err?: Error | null) => void) | null = null;
  private tcpClosed = false;
  private finalCalled = false;

  constructor(socket: TcpSocket, opts: DuplexOptions = {}) {
    super({ allowHalfOpen: true, ...opts });
    this.socket = socket;
    trackBuffers(socket);
    socket.setHandler(new DuplexEvents(this));
  }

  /** @internal TcpSocketHandler.onData */
  tcpData(chunk: Uint8Array): void {
    // The view is only valid during the call; a Duplex keeps what it is pushed: copy.
    if (!this.push(Buffer.from(chunk))) this.socket.pause();
  }

  /** @internal TcpSocketHandler.onDrain */
  tcpDrain(): void {
    const cb = this.writeCb;
    this.writeCb = null;
    cb?.();
  }

  /** @internal TcpSocketHandler.onClose */
  tcpClose(reason: TcpCloseReason, err?: Error): void {
    this.tcpClosed = true;
    untrackBuffers(this.socket);
    const e = socketError(reason, err);
    const cb = this.writeCb;
    this.writeCb = null;
    if (e !== null) {
      cb?.(e);
      this.destroy(e);
    } else if (cb !== null) {
      cb(reason === 'closed' ? null : new Error(`TCP connection ${reason}`));
    }
    if (reason === 'aborted' && !this.destroyed) this.destroy();
  }

  get remoteAddress(): string {
    return formatIpv4(this.socket.remoteIp);
  }
  get remotePort(): number {
    return this.socket.remotePort;
  }
  get localAddress(): string {
    return formatIpv4(this.socket.localIp);
  }
  get localPort(): number {
    return this.socket.localPort;
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    let ok: boolean;
    try {
      ok = this.socket.write(chunk);
    } catch (e) {
      cb(e as Error);
      return;
    }
    if (ok) cb();
    else this.writeCb = cb;
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.finalCalled = true;
    if (!this.tcpClosed) this.socket.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // After end() a plain destroy (autoDestroy once both sides are done) lets TCP finish its
    // close (LAST-ACK, FIN-WAIT, TIME-WAIT); before it, or with an error, it is an abort: RST.
    if (!this.tcpClosed && !this.socket.closed && (err !== null || !this.finalCalled)) this.socket.destroy(err ?? undefined);
    cb(err);
  }
}

export interface TcpConnectionOptions {
  /** Name of the listener (from config) that accepted the connection. */
  listener: string;
  transport?: Extract<TransportKind, 'tap' | 'dpdk' | 'memory'>;
  tls?: TlsInfo | null;
}

function closeReasonOf(r: TcpCloseReason): CloseReason {
  switch (r) {
    case 'closed':
      return 'peer_closed';
    case 'peer_reset':
    case 'refused':
      return 'peer_reset';
    case 'aborted':
      return 'local_closed';
    case 'timeout':
    case 'keepalive':
      return 'idle_timeout';
  }
}

/** A Connection over a TcpSocket, for plain-HTTP listeners on the bypass path. */
export class TcpConnection implements Connection {
  readonly info: ConnectionInfo;
  private handler: ConnectionHandler | null = null;
  private closed = false;
  private localReason: CloseReason | null = null;
  private localError: Error | undefined;
  private endedByUs = false;
  private peerEndedFirst = false;

  constructor(private readonly socket: TcpSocket, opts: TcpConnectionOptions) {
    this.info = {
      id: nextConnectionId(),
      transport: opts.transport ?? 'tap',
      remoteAddress: formatIpv4(socket.remoteIp),
      remotePort: socket.remotePort,
      localAddress: formatIpv4(socket.localIp),
      localPort: socket.localPort,
      tls: opts.tls ?? null,
      listener: opts.listener,
    };
    // Connections start paused (the contract): bytes wait in the TCP receive buffer.
    socket.pause();
    trackBuffers(socket);
  }

  setHandler(handler: ConnectionHandler): void {
    if (this.handler) throw new Error('connection handler already set');
    this.handler = handler;
    this.socket.setHandler({
      onData: (chunk) => handler.onData(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)),
      onEnd: () => {
        if (!this.endedByUs) this.peerEndedFirst = true;
        handler.onEnd();
      },
      onDrain: () => handler.onDrain(),
      onClose: (reason, err) => {
        this.closed = true;
        untrackBuffers(this.socket);
        // An orderly close belongs to whoever sent the first FIN.
        const r = this.localReason ?? (reason === 'closed' && !this.peerEndedFirst ? 'local_closed' : closeReasonOf(reason));
        handler.onClose(r, this.localError ?? (reason === 'closed' || reason === 'aborted' ? undefined : err));
      },
    });
    this.socket.resume();
  }

  write(chunk: Uint8Array): boolean {
    if (this.closed || this.endedByUs) return false;
    return this.socket.write(chunk);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    if (this.endedByUs || this.closed) return;
    this.endedByUs = true;
    this.socket.end();
  }

  destroy(reason: CloseReason, error?: Error): void {
    if (this.closed) return;
    this.localReason = reason;
    this.localError = error;
    this.socket.destroy(error);
  }

  get destroyed(): boolean {
    return this.closed;
  }

  get writableLength(): number {
    return this.socket.unsentBytes;
  }
}
