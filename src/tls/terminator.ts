// TLS termination over any byte stream: a kernel socket (net.Socket) or Sluice's own TCP
// (TcpDuplex on the bypass path). One place owns the TLS policy, the certificate store, the
// session ticket key and its rotation, and sees every handshake start and end.
//
// Why no SNICallback: Node applies only the *current* certificate of the context SNICallback
// returns (SSL_use_certificate of SSL_CTX_get0_certificate), on top of the starting context's
// certificates. An ECDSA+RSA pair for a name would be cut to one, and the other key type would
// come from the default certificate, under the wrong name. So the terminator reads the
// ClientHello's server_name itself (client-hello.ts) and starts the handshake with the right
// context.

import { randomBytes, constants as cryptoConstants } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { TLSSocket, createSecureContext, type SecureContext } from 'node:tls';
import { SluiceError } from '../errors.js';
import type { CertStore } from './cert-store.js';
import { ClientHelloReader } from './client-hello.js';
import { classifyHandshakeError, type HandshakeFailureReason } from './handshake-errors.js';
import { resolveTlsOptions, tlsPolicy, type TlsListenerOptions } from './settings.js';
import type { TransportKind } from '../transport/connection.js';
import { StreamConnection, tlsInfoOf } from '../transport/stream.js';

export type { TlsListenerOptions } from './settings.js';
export type { HandshakeFailureReason } from './handshake-errors.js';

export interface TlsEvents {
  handshake(info: { version: string; alpn: string; resumed: boolean }): void;
  handshakeFailure(reason: HandshakeFailureReason): void;
}

/** Where a raw stream came from, stamped on the Connection it becomes. */
export interface RawStreamInfo {
  transport: TransportKind;
  /** Needed when the stream is not a kernel socket (a TLSSocket over a Duplex knows no addresses). */
  remoteAddress?: string;
  remotePort?: number;
  localAddress?: string;
  localPort?: number;
}

type AlpnCallback = (hello: { servername: string; protocols: string[] }) => string | undefined;

/**
 * The ALPN choice for one server preference order (RFC 7301 3.1 ids are opaque bytes; Node hands
 * them over as latin1 strings). Built once per option set, not per handshake: the TLSSocket keeps
 * its ALPNCallback for the whole connection, and a closure made inside accept() would keep
 * accept()'s scope with it (the ClientHello bytes, the handshake timer and its closures) for as
 * long as the connection stays open, idle ones included.
 */
function alpnSelector(serverOrder: readonly string[]): AlpnCallback | null {
  if (serverOrder.length === 0) return null;
  return ({ protocols }) => {
    for (const p of serverOrder) if (protocols.includes(p)) return p;
    // undefined makes Node answer with a fatal no_application_protocol alert (RFC 7301 3.2).
    return undefined;
  };
}

export class TlsTerminator {
  private tlsOpts: TlsListenerOptions;
  private alpnCallback: AlpnCallback | null;
  private store: CertStore;
  /**
   * One context per store context, built on first use with the current policy and ticket key.
   * Replaced (not mutated) on rotation, store swap and option change, so a handshake that already
   * holds a context is never affected.
   */
  private contexts = new Map<SecureContext, SecureContext>();
  private ticketKey: Buffer = randomBytes(48);
  private ticketTimer: NodeJS.Timeout | null = null;
  private readonly pending = new Set<Duplex>();

  constructor(private readonly listener: string, tls: Partial<TlsListenerOptions>, certs: CertStore, private readonly events?: TlsEvents) {
    this.tlsOpts = resolveTlsOptions(tls);
    this.alpnCallback = alpnSelector(this.tlsOpts.alpn);
    this.store = certs;
    this.contextFor('');
  }

  /** TLS handshakes in progress (bytes accepted, not yet secure, not yet failed). */
  get handshaking(): number {
    return this.pending.size;
  }

  /**
   * Swaps the certificate store: handshakes whose ClientHello arrives after this call use the new
   * store; connections already established (or mid-handshake) keep the certificate they got.
   */
  setCertStore(store: CertStore): void {
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
    const next = resolveTlsOptions({ ...prev, ...input });
    this.tlsOpts = next;
    this.alpnCallback = alpnSelector(next.alpn);
    this.contexts = new Map();
    if (this.ticketTimer && (next.sessionTickets !== prev.sessionTickets || next.ticketRotateSeconds !== prev.ticketRotateSeconds)) {
      this.startTicketRotation();
    }
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

  startTicketRotation(): void {
    this.stopTicketRotation();
    const t = this.tlsOpts;
    if (!t.sessionTickets) return;
    this.ticketTimer = setInterval(() => this.rotateTicketKey(), t.ticketRotateSeconds * 1000);
    this.ticketTimer.unref();
  }

  stopTicketRotation(): void {
    if (this.ticketTimer) clearInterval(this.ticketTimer);
    this.ticketTimer = null;
  }

  /** The context a handshake for `servername` starts with ('' for none / unreadable hello). */
  private contextFor(servername: string): SecureContext {
    const store = this.store;
    const storeCtx = servername === '' ? store.defaultContext : store.secureContextFor(servername);
    let ctx = this.contexts.get(storeCtx);
    if (!ctx) {
      const t = this.tlsOpts;
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

  /**
   * One handshake's life over `raw`: read the ClientHello (raw bytes), then the TLS handshake
   * (a server TLSSocket over `raw`), ending in exactly one of onSecure(connection) or a counted
   * failure, within one absolute deadline. Handshakes already under way when the listener stops
   * accepting still complete.
   */
  accept(raw: Duplex, info: RawStreamInfo, onSecure: (conn: StreamConnection, tlsSocket: TLSSocket) => void): void {
    const t = this.tlsOpts;
    const alpnCallback = this.alpnCallback;
    let current: Duplex = raw;
    let settled = false;
    this.pending.add(raw);
    const fail = (reason: HandshakeFailureReason): void => {
      if (settled) return;
      settled = true;
      detach();
      this.pending.delete(raw);
      this.events?.handshakeFailure(reason);
      current.destroy();
    };
    // Absolute: handshake bytes trickling in one at a time do not extend it.
    const timer = setTimeout(() => fail('timeout'), t.handshakeTimeoutMs);
    const onError = (err: Error): void => fail(classifyHandshakeError(err));
    // With allowHalfOpen a FIN mid-handshake would otherwise wait silently for the timeout.
    const onEnd = (): void => fail('client_closed');
    const onClose = (): void => fail('client_closed');
    const watch = (s: Duplex): void => {
      s.on('error', onError);
      s.on('end', onEnd);
      s.on('close', onClose);
    };
    const unwatch = (s: Duplex): void => {
      s.off('error', onError);
      s.off('end', onEnd);
      s.off('close', onClose);
    };
    const detach = (): void => {
      clearTimeout(timer);
      unwatch(current);
      raw.off('data', onHello);
    };

    const reader = new ClientHelloReader();
    const onHello = (chunk: Buffer): void => {
      const hello = reader.push(chunk);
      if (hello.kind === 'need_more') return;
      raw.off('data', onHello);
      raw.pause();
      unwatch(raw);
      // The TLSSocket replays what the raw stream has buffered before reading on (initRead).
      raw.unshift(reader.buffered);
      // An unreadable hello goes to OpenSSL with the default context: it sends the right alert
      // and reports the reason (http_request, unsupported_protocol, ...).
      const sni = hello.kind === 'hello' ? hello.sni : '';
      handshake(sni);
    };

    const handshake = (sni: string): void => {
      let tlsSocket: TLSSocket;
      try {
        tlsSocket = new TLSSocket(raw, {
          isServer: true,
          secureContext: this.contextFor(sni),
          // Server preference decides (RFC 7301 3.2 leaves the choice to the server). No
          // overlap: undefined, and Node sends the fatal no_application_protocol alert. A client
          // that sends no ALPN extension never gets here and proceeds without ALPN (alpn '').
          ...(alpnCallback !== null ? { ALPNCallback: alpnCallback } : {}),
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
        this.pending.delete(raw);
        const tls = tlsInfoOf(tlsSocket, sni);
        this.events?.handshake({ version: tls.version, alpn: tls.alpn, resumed: tls.resumed });
        onSecure(new StreamConnection(tlsSocket, { ...info, listener: this.listener, tls }), tlsSocket);
      });
    };

    watch(raw);
    raw.on('data', onHello);
  }
}

/**
 * What every listener that may terminate TLS shares, whichever data path accepts its bytes: the
 * terminator (null for plain TCP) and the reload operations on it.
 */
export abstract class TerminatingListener {
  protected readonly tls: TlsTerminator | null;

  constructor(protected readonly listenerName: string, tls: Partial<TlsListenerOptions> | null, certs: CertStore | null, events?: TlsEvents) {
    // Options are checked before certificates, so the first error names the first bad field.
    if (tls !== null) resolveTlsOptions(tls);
    if (tls !== null && !certs) {
      throw new SluiceError('SLUICE_CONFIG_INVALID', `listener ${listenerName}: tls is set but no certificates were given`, {
        field: `listeners.${listenerName}.tls`,
      });
    }
    this.tls = tls === null ? null : new TlsTerminator(listenerName, tls, certs!, events);
  }

  /** TLS handshakes in progress (bytes accepted, not yet secure, not yet failed). */
  get handshaking(): number {
    return this.tls?.handshaking ?? 0;
  }

  /**
   * Swaps the certificate store: handshakes whose ClientHello arrives after this call use the new
   * store; connections already established (or mid-handshake) keep the certificate they got.
   */
  setCertStore(store: CertStore): void {
    if (!this.tls) throw new Error(`listener ${this.listenerName} is plain TCP; it has no certificates`);
    this.tls.setCertStore(store);
  }

  /** ALPN, minimum version, tickets, rotation and handshake timeout, for handshakes from now on. */
  setTlsOptions(input: Partial<TlsListenerOptions>): void {
    if (!this.tls) throw new Error(`listener ${this.listenerName} is plain TCP; it has no TLS options`);
    this.tls.setTlsOptions(input);
  }

  /** Replaces the session ticket key now (also done on the rotation schedule). */
  rotateTicketKey(): void {
    this.tls?.rotateTicketKey();
  }
}
