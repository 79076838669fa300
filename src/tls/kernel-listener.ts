// The kernel data path's listener: Node's net.Server accepts TCP; for TLS each socket is wrapped
// in a server-side tls.TLSSocket. Every accepted (and, for TLS, handshaken) socket becomes a
// StreamConnection handed to onConnection.
//
// Why not tls.Server: it hides the TLSSocket until the handshake succeeds, so a client that sends
// FIN mid-handshake is invisible (no event at all until the timeout), the handshake timeout is
// fixed at creation, and Node leaves the socket open after a handshake timeout. Wrapping the
// socket here gives one place that sees every handshake start and end.
//
// TLS itself (ClientHello, contexts, tickets, handshake deadline) is the TlsTerminator's, shared
// with the bypass path.
//
// It lives in src/tls because it terminates TLS: it sits on the transport layer (StreamConnection)
// and uses the certificate store, the ClientHello reader and the TLS policy beside it.
//
// close() stops accepting only: established connections and handshakes already under way carry
// on (a handshake that completes after close() is still handed to onConnection), so a draining
// listener never cuts a client mid-handshake.

import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { SluiceError } from '../errors.js';
import type { CertStore } from './cert-store.js';
import { TerminatingListener, type TlsEvents, type TlsListenerOptions } from './terminator.js';
import type { Connection } from '../transport/connection.js';
import { StreamConnection } from '../transport/stream.js';

export type { TlsListenerOptions, TlsEvents, HandshakeFailureReason } from './terminator.js';

export interface KernelListenerOptions {
  /** Listener name from config; stamped on every connection's info. */
  name: string;
  address: string;
  /** 0 picks an ephemeral port (see listen()'s result). */
  port: number;
  /** null: plain TCP. */
  tls: Partial<TlsListenerOptions> | null;
  certs: CertStore | null;
  events?: TlsEvents;
  onConnection: (conn: Connection) => void;
  /** listen(2) backlog. */
  backlog?: number;
}

export class KernelListener extends TerminatingListener {
  private readonly opts: KernelListenerOptions;
  private server: NetServer | null = null;
  private readonly open = new Set<StreamConnection>();

  constructor(opts: KernelListenerOptions) {
    super(opts.name, opts.tls, opts.certs, opts.events);
    this.opts = opts;
  }

  /** Connections handed to onConnection and not yet closed. */
  get connections(): number {
    return this.open.size;
  }

  async listen(): Promise<{ address: string; port: number }> {
    if (this.server) throw new Error(`listener ${this.opts.name} already listening`);
    const server = createNetServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        this.server = null;
        reject(
          new SluiceError('SLUICE_LISTEN', `listener ${this.opts.name}: cannot listen on ${this.opts.address}:${this.opts.port}: ${err.message}`, {
            listener: this.opts.name,
            errno: err.code,
          }, { cause: err }),
        );
      };
      server.once('error', onError);
      server.listen({ host: this.opts.address, port: this.opts.port, backlog: this.opts.backlog }, () => {
        server.off('error', onError);
        // Accept errors (EMFILE, ENFILE) must not crash the process; Node retries accept itself.
        server.on('error', () => {});
        resolve();
      });
    });
    this.tls?.startTicketRotation();
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('listener address is not a TCP address');
    return { address: addr.address, port: addr.port };
  }

  /** Stops accepting. Open connections (and handshakes in progress) are left alone. */
  async close(): Promise<void> {
    const s = this.server;
    this.tls?.stopTicketRotation();
    if (!s) return;
    this.server = null;
    // net.Server.close's callback waits for every connection to end; the listening socket itself
    // is closed synchronously, which is all this promise promises.
    s.close();
  }

  private accept(socket: Socket): void {
    if (!this.tls) {
      this.adopt(socket, new StreamConnection(socket, { transport: 'kernel', listener: this.opts.name, tls: null }));
      return;
    }
    this.tls.accept(socket, { transport: 'kernel', remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, localAddress: socket.localAddress, localPort: socket.localPort }, (conn, tlsSocket) => this.adopt(tlsSocket, conn));
  }

  private adopt(socket: Socket, conn: StreamConnection): void {
    this.open.add(conn);
    // Counted by the socket's own close, whether or not the consumer ever attached a handler.
    socket.once('close', () => this.open.delete(conn));
    this.opts.onConnection(conn);
  }
}
