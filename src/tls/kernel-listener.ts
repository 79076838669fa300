// The kernel data path's listener: Node's net.Server accepts TCP; for TLS each socket is wrapped
// in a server-side tls.TLSSocket. Every accepted (and, for TLS, handshaken) socket becomes a
// StreamConnection handed to onConnection.
//
// Why not tls.Server: it hides the TLSSocket until the handshake succeeds, so a client that sends
// FIN mid-handshake is invisible (no event at all until the timeout), the handshake timeout is
// fixed at creation, and Node leaves the socket open after a handshake timeout. Wrapping the
// socket here gives one place that sees every handshake start and end.
//
// Why no SNICallback: Node applies only the *current* certificate of the context SNICallback
// returns (SSL_use_certificate of SSL_CTX_get0_certificate), on top of the starting context's
// certificates. An ECDSA+RSA pair for a name would be cut to one, and the other key type would
// come from the default certificate, under the wrong name. So the listener reads the ClientHello's
// server_name itself (src/tls/client-hello.ts) and starts the handshake with the right context.
//
// It lives in src/tls because it terminates TLS: it sits on the transport layer (StreamConnection)
// and uses the certificate store, the ClientHello reader and the TLS policy beside it.
//
// close() stops accepting only: established connections and handshakes already under way carry
// on (a handshake that completes after close() is still handed to onConnection), so a draining
// listener never cuts a client mid-handshake.

import { randomBytes, constants as cryptoConstants } from 'node:crypto';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { TLSSocket, createSecureContext, type SecureContext } from 'node:tls';
import { SluiceError } from '../errors.js';
import type { CertStore } from './cert-store.js';
import { ClientHelloReader } from './client-hello.js';
import { classifyHandshakeError, type HandshakeFailureReason } from './handshake-errors.js';
import { resolveTlsOptions, tlsPolicy, type TlsListenerOptions } from './settings.js';
import type { Connection } from '../transport/connection.js';
import { StreamConnection, tlsInfoOf } from '../transport/stream.js';

export type { TlsListenerOptions } from './settings.js';
export type { HandshakeFailureReason } from './handshake-errors.js';

export interface TlsEvents {
  handshake(info: { version: string; alpn: string; resumed: boolean }): void;
  handshakeFailure(reason: HandshakeFailureReason): void;
}

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

// RFC 7301 3.1 ALPN protocol ids are opaque bytes; Node hands them over as latin1 strings.
function pickAlpn(serverOrder: readonly string[], offered: readonly string[]): string | undefined {
  for (const p of serverOrder) if (offered.includes(p)) return p;
  // undefined makes Node answer with a fatal no_application_protocol alert (RFC 7301 3.2).
  return undefined;
}

export class KernelListener {
  private readonly opts: KernelListenerOptions;
  private tlsOpts: TlsListenerOptions | null;
  private store: CertStore | null;
  private server: NetServer | null = null;
  /**
   * This listener's contexts, one per store context, built on first use with the current policy
   * and ticket key. Replaced (not mutated) on rotation, store swap and option change, so a
   * handshake that already holds a context is never affected.
   */
  private contexts = new Map<SecureContext, SecureContext>();
  private ticketKey: Buffer = randomBytes(48);
  private ticketTimer: NodeJS.Timeout | null = null;
  private readonly open = new Set<StreamConnection>();
  private readonly pending = new Set<Socket>();

  constructor(opts: KernelListenerOptions) {
    this.opts = opts;
    this.tlsOpts = opts.tls === null ? null : resolveTlsOptions(opts.tls);
    this.store = opts.certs;
    if (this.tlsOpts && !this.store) {
      throw new SluiceError('SLUICE_CONFIG_INVALID', `listener ${opts.name}: tls is set but no certificates were given`, {
        field: `listeners.${opts.name}.tls`,
      });
    }
    if (this.tlsOpts) this.contextFor('');
  }

  /** Connections handed to onConnection and not yet closed. */
  get connections(): number {
    return this.open.size;
  }

  /** TLS handshakes in progress (TCP accepted, not yet secure, not yet failed). */
  get handshaking(): number {
    return this.pending.size;
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
    this.startTicketRotation();
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('listener address is not a TCP address');
    return { address: addr.address, port: addr.port };
  }

  /**
   * Swaps the certificate store: handshakes whose ClientHello arrives after this call use the new
   * store; connections already established (or mid-handshake) keep the certificate they got.
   */
  setCertStore(store: CertStore): void {
    if (!this.tlsOpts) throw new Error(`listener ${this.opts.name} is plain TCP; it has no certificates`);
    const prev = { store: this.store, contexts: this.contexts };
    this.store = store;
    this.contexts = new Map();
    try {
      this.contextFor('');
    } catch (e) {
      this.store = prev.store;
      this.contexts = prev.contexts;
      throw e;
    }
  }

  /**
   * Changes ALPN, minimum version, tickets, rotation period and handshake timeout. All of them
   * apply to handshakes that start after the call; the current ticket key is kept, so tickets
   * already issued stay valid.
   */
  setTlsOptions(input: Partial<TlsListenerOptions>): void {
    const prev = this.tlsOpts;
    if (!prev) throw new Error(`listener ${this.opts.name} is plain TCP; it has no TLS options`);
    const next = resolveTlsOptions({ ...prev, ...input });
    this.tlsOpts = next;
    this.contexts = new Map();
    if (next.sessionTickets !== prev.sessionTickets || next.ticketRotateSeconds !== prev.ticketRotateSeconds) this.startTicketRotation();
  }

  /**
   * Replaces the session ticket key now (also called on the rotation schedule). Node's ticket
   * callback knows exactly one key per context: tickets sealed with the previous key fail to
   * decrypt from this moment and those clients fall back to a full handshake.
   */
  rotateTicketKey(): void {
    this.ticketKey = randomBytes(48);
    this.contexts = new Map();
  }

  /** Stops accepting. Open connections (and handshakes in progress) are left alone. */
  async close(): Promise<void> {
    const s = this.server;
    this.stopTicketRotation();
    if (!s) return;
    this.server = null;
    // net.Server.close's callback waits for every connection to end; the listening socket itself
    // is closed synchronously, which is all this promise promises.
    s.close();
  }

  /** The context a handshake for `servername` starts with ('' for none / unreadable hello). */
  private contextFor(servername: string): SecureContext {
    const store = this.store!;
    const storeCtx = servername === '' ? store.defaultContext : store.secureContextFor(servername);
    let ctx = this.contexts.get(storeCtx);
    if (!ctx) {
      const t = this.tlsOpts!;
      const policy = tlsPolicy(t.minVersion);
      // The ticket key lives in the context the handshake starts with, and the public way to give
      // a context a key is at creation: hence a fresh set of contexts per key. A few hundred
      // microseconds per certificate once per rotation.
      ctx = createSecureContext({
        ...policy,
        ...store.credentialsOf(storeCtx),
        ticketKeys: this.ticketKey,
        // OpenSSL refuses to resume a session whose id context differs; one value for every
        // context of this listener lets a ticket resume whichever certificate the name maps to.
        sessionIdContext: 'sluice',
        // The ticket lifetime hint and OpenSSL's session timeout: a ticket cannot outlive the key
        // that sealed it, so advertise no more than one rotation period.
        sessionTimeout: Math.max(1, Math.ceil(t.ticketRotateSeconds)),
        secureOptions: (policy.secureOptions ?? 0) | (t.sessionTickets ? 0 : cryptoConstants.SSL_OP_NO_TICKET),
      });
      this.contexts.set(storeCtx, ctx);
    }
    return ctx;
  }

  private accept(socket: Socket): void {
    const t = this.tlsOpts;
    if (!t) {
      this.adopt(socket, new StreamConnection(socket, { transport: 'kernel', listener: this.opts.name, tls: null }));
      return;
    }
    // One handshake's life: read the ClientHello (raw socket), then the TLS handshake (TLSSocket),
    // ending in exactly one of 'secure' or fail(reason), within one absolute deadline.
    let current: Socket = socket;
    let settled = false;
    this.pending.add(socket);
    const fail = (reason: HandshakeFailureReason): void => {
      if (settled) return;
      settled = true;
      detach();
      this.pending.delete(socket);
      this.opts.events?.handshakeFailure(reason);
      current.destroy();
    };
    // Absolute: handshake bytes trickling in one at a time do not extend it.
    const timer = setTimeout(() => fail('timeout'), t.handshakeTimeoutMs);
    const onError = (err: Error): void => fail(classifyHandshakeError(err));
    // With allowHalfOpen a FIN mid-handshake would otherwise wait silently for the timeout.
    const onEnd = (): void => fail('client_closed');
    const onClose = (): void => fail('client_closed');
    const watch = (s: Socket): void => {
      s.on('error', onError);
      s.on('end', onEnd);
      s.on('close', onClose);
    };
    const unwatch = (s: Socket): void => {
      s.off('error', onError);
      s.off('end', onEnd);
      s.off('close', onClose);
    };
    const detach = (): void => {
      clearTimeout(timer);
      unwatch(current);
      socket.off('data', onHello);
    };

    const reader = new ClientHelloReader();
    const onHello = (chunk: Buffer): void => {
      const hello = reader.push(chunk);
      if (hello.kind === 'need_more') return;
      socket.off('data', onHello);
      socket.pause();
      unwatch(socket);
      // The TLSSocket replays what the raw socket has buffered before reading on (initRead).
      socket.unshift(reader.buffered);
      // An unreadable hello goes to OpenSSL with the default context: it sends the right alert
      // and reports the reason (http_request, unsupported_protocol, ...).
      const sni = hello.kind === 'hello' ? hello.sni : '';
      handshake(sni);
    };

    const handshake = (sni: string): void => {
      const alpn = t.alpn;
      let tlsSocket: TLSSocket;
      try {
        tlsSocket = new TLSSocket(socket, {
          isServer: true,
          secureContext: this.contextFor(sni),
          // Server preference decides (RFC 7301 3.2 leaves the choice to the server). No
          // overlap: undefined, and Node sends the fatal no_application_protocol alert. A client
          // that sends no ALPN extension never gets here and proceeds without ALPN (alpn '').
          ...(alpn.length > 0 ? { ALPNCallback: ({ protocols }: { protocols: string[] }) => pickAlpn(alpn, protocols) } : {}),
        });
      } catch (e) {
        fail(classifyHandshakeError(e));
        return;
      }
      current = tlsSocket;
      watch(tlsSocket);
      tlsSocket.once('secure', () => {
        if (settled) return;
        settled = true;
        detach();
        this.pending.delete(socket);
        const tls = tlsInfoOf(tlsSocket, sni);
        this.opts.events?.handshake({ version: tls.version, alpn: tls.alpn, resumed: tls.resumed });
        this.adopt(tlsSocket, new StreamConnection(tlsSocket, { transport: 'kernel', listener: this.opts.name, tls }));
      });
    };

    watch(socket);
    socket.on('data', onHello);
  }

  private startTicketRotation(): void {
    this.stopTicketRotation();
    const t = this.tlsOpts;
    if (!t || !t.sessionTickets || !this.server) return;
    this.ticketTimer = setInterval(() => this.rotateTicketKey(), t.ticketRotateSeconds * 1000);
    this.ticketTimer.unref();
  }

  private stopTicketRotation(): void {
    if (this.ticketTimer) clearInterval(this.ticketTimer);
    this.ticketTimer = null;
  }

  private adopt(socket: Socket, conn: StreamConnection): void {
    this.open.add(conn);
    // Counted by the socket's own close, whether or not the consumer ever attached a handler.
    socket.once('close', () => this.open.delete(conn));
    this.opts.onConnection(conn);
  }
}
