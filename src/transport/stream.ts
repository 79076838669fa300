// Connection over a Node Duplex socket: net.Socket, tls.TLSSocket, or a TLSSocket layered over
// Sluice's own TCP stream. Both data paths end up here until the native TLS engine arrives.

import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { CloseReason, Connection, ConnectionHandler, ConnectionInfo, TlsInfo, TransportKind } from './connection.js';

let nextId = 1;

export function nextConnectionId(): number {
  return nextId++;
}

export function tlsInfoOf(socket: TLSSocket, sni: string): TlsInfo {
  const cipher = socket.getCipher();
  return {
    sni,
    alpn: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : '',
    version: socket.getProtocol() ?? '',
    cipher: cipher?.name ?? '',
    resumed: socket.isSessionReused(),
  };
}

export interface StreamConnectionOptions {
  transport: TransportKind;
  listener: string;
  tls: TlsInfo | null;
  /** Addresses, when the socket itself does not know them (a TLSSocket over a Duplex). */
  remoteAddress?: string;
  remotePort?: number;
  localAddress?: string;
  localPort?: number;
}

export class StreamConnection implements Connection {
  readonly info: ConnectionInfo;
  private handler: ConnectionHandler | null = null;
  private closed = false;
  private closeReason: CloseReason | null = null;
  private closeError: Error | undefined;

  constructor(private readonly socket: Socket, opts: StreamConnectionOptions) {
    this.info = {
      id: nextConnectionId(),
      transport: opts.transport,
      remoteAddress: opts.remoteAddress ?? socket.remoteAddress ?? '',
      remotePort: opts.remotePort ?? socket.remotePort ?? 0,
      localAddress: opts.localAddress ?? socket.localAddress ?? '',
      localPort: opts.localPort ?? socket.localPort ?? 0,
      tls: opts.tls,
      listener: opts.listener,
    };
    socket.setNoDelay(true);
    socket.pause();
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.noteClose(err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'peer_reset' : 'error', err);
    });
    socket.on('close', () => {
      this.closed = true;
      this.handler?.onClose(this.closeReason ?? 'peer_closed', this.closeError);
    });
  }

  setHandler(handler: ConnectionHandler): void {
    if (this.handler) throw new Error('connection handler already set');
    this.handler = handler;
    const s = this.socket;
    s.on('data', (chunk: Buffer) => handler.onData(chunk));
    s.on('end', () => handler.onEnd());
    s.on('drain', () => handler.onDrain());
    if (this.closed) {
      handler.onClose(this.closeReason ?? 'peer_closed', this.closeError);
      return;
    }
    s.resume();
  }

  write(chunk: Uint8Array): boolean {
    if (this.socket.destroyed) return false;
    return this.socket.write(chunk);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    this.noteClose('local_closed');
    this.socket.end();
  }

  destroy(reason: CloseReason, error?: Error): void {
    this.noteClose(reason, error);
    this.socket.destroy();
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  private noteClose(reason: CloseReason, error?: Error): void {
    if (this.closeReason === null) {
      this.closeReason = reason;
      this.closeError = error;
    }
  }
}
