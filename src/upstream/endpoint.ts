// One upstream endpoint (host:port): an undici Pool of HTTP/1.1 connections plus the passive
// health state of the address. The pool's clients are UpstreamClient, a Client that remembers its
// current socket and how many requests that socket has carried, so a failed request can tell
// whether it ran on a reused keep-alive connection (the stale keep-alive race, see forward.ts).
// Every socket our connector produces gets a SocketEndGate (end-gate.ts), which the attempt on it
// uses when it pauses the response for backpressure.

import type { Socket } from 'node:net';
import { isIP } from 'node:net';
import { Client, Pool, buildConnector } from 'undici';
import type { Dispatcher } from 'undici';
import { SluiceError } from '../errors.js';
import { SocketEndGate } from './end-gate.js';

export interface EndpointAddress {
  /** Exactly as written in config ("10.0.0.5:8080", "[::1]:8080", "api.internal:80"). */
  readonly text: string;
  /** Host without brackets. */
  readonly host: string;
  readonly port: number;
  /** Origin for undici ("http://[::1]:8080"). */
  readonly origin: string;
}

/** Parse "host:port" (IPv6 in brackets). Errors name the endpoint and what is wrong with it. */
export function parseEndpoint(text: string, where = 'endpoint'): EndpointAddress {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') {
      throw new SluiceError('SLUICE_CONFIG_INVALID', `${where} "${text}": expected "[ipv6]:port"`, { field: where, value: text });
    }
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (isIP(host) !== 6) {
      throw new SluiceError('SLUICE_CONFIG_INVALID', `${where} "${text}": "${host}" is not an IPv6 address`, { field: where, value: text });
    }
  } else {
    const colon = text.lastIndexOf(':');
    if (colon <= 0 || text.indexOf(':') !== colon) {
      throw new SluiceError('SLUICE_CONFIG_INVALID', `${where} "${text}": expected "host:port" (IPv6 addresses in brackets)`, { field: where, value: text });
    }
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    // RFC 3986 reg-name / IPv4: letters, digits, '-', '.', '_' are what a DNS name or address uses.
    if (!/^[A-Za-z0-9._-]+$/.test(host)) {
      throw new SluiceError('SLUICE_CONFIG_INVALID', `${where} "${text}": invalid host "${host}"`, { field: where, value: text });
    }
  }
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    throw new SluiceError('SLUICE_CONFIG_INVALID', `${where} "${text}": port must be 1-65535, got "${portText}"`, { field: where, value: text });
  }
  const port = Number(portText);
  const origin = `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  return { text, host, port, origin };
}

export interface EndpointSettings {
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
}

/**
 * Passive health: an endpoint whose connect fails is skipped for a backoff that doubles with
 * each consecutive failure. A success (a response head) clears it.
 */
export interface PassiveHealthPolicy {
  readonly baseBackoffMs: number;
  readonly maxBackoffMs: number;
}

// 500 ms: long enough that a burst of requests to a dead endpoint does not each pay a refused
// connect, short enough that a restarted upstream is back in rotation within a second or two.
export const DEFAULT_PASSIVE_HEALTH: PassiveHealthPolicy = { baseBackoffMs: 500, maxBackoffMs: 8000 };

/** What an attempt learns when its request head is about to be written on a socket. */
export interface SocketAssignment {
  readonly client: UpstreamClient;
  readonly socket: Socket | null;
  /** The socket carried at least one earlier request: a kept-alive connection. */
  readonly reused: boolean;
  /** socket.bytesRead before this request; more bytes later means the upstream answered something. */
  readonly bytesReadBefore: number;
  /** Holds the socket's 'end' while the attempt is paused (end-gate.ts); null without a socket. */
  readonly endGate: SocketEndGate | null;
}

/** Implemented by the per-attempt dispatch handler (forward.ts). */
export interface ClientBinding {
  bindClient(client: UpstreamClient): void;
}

/**
 * A Client that knows its socket. undici emits 'connect' synchronously from the connector's
 * callback, so the socket our connector has just produced is the one this client now owns.
 */
export class UpstreamClient extends Client {
  #socket: Socket | null = null;
  #gate: SocketEndGate | null = null;
  #requestsOnSocket = 0;

  constructor(origin: URL, options: Client.Options, private readonly endpoint: Endpoint) {
    super(origin, options);
    this.on('connect', () => {
      const connected = endpoint.takeConnectedSocket();
      this.#socket = connected?.socket ?? null;
      this.#gate = connected?.gate ?? null;
      this.#requestsOnSocket = 0;
    });
    this.on('disconnect', () => {
      this.#socket = null;
      this.#gate = null;
    });
  }

  // Pool hands the caller's opts object through unchanged (pool-base.js kDispatch and its queue),
  // and wraps the handler, so opts identity is how an attempt learns which client took it.
  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.endpoint.bindClient(opts, this);
    return super.dispatch(opts, handler);
  }

  /** Called by an attempt in onRequestStart, once per request written on the current socket. */
  noteRequestStart(): SocketAssignment {
    const socket = this.#socket;
    const reused = this.#requestsOnSocket > 0;
    this.#requestsOnSocket++;
    return { client: this, socket, reused, bytesReadBefore: socket ? socket.bytesRead : 0, endGate: this.#gate };
  }

  get usable(): boolean {
    return !this.closed && !this.destroyed;
  }
}

export class Endpoint {
  readonly address: EndpointAddress;
  readonly pool: Pool;
  /** Requests dispatched to this endpoint and not yet finished (least_request's load). */
  outstanding = 0;
  #failures = 0;
  #downUntil = 0;
  #connected: { readonly socket: Socket; readonly gate: SocketEndGate } | null = null;
  readonly #bindings = new WeakMap<object, ClientBinding>();

  constructor(address: EndpointAddress, settings: EndpointSettings, private readonly health: PassiveHealthPolicy = DEFAULT_PASSIVE_HEALTH) {
    this.address = address;
    const connector = buildConnector({ timeout: settings.connectTimeoutMs });
    const connect: buildConnector.connector = (opts, callback) => {
      connector(opts, (...args: [Error, null] | [null, Socket]) => {
        if (args[0] !== null) {
          callback(args[0], null);
          return;
        }
        // Installed before undici adds its own listeners, so no 'end' can slip past the gate.
        this.#connected = { socket: args[1], gate: new SocketEndGate(args[1]) };
        try {
          callback(null, args[1]);
        } finally {
          this.#connected = null;
        }
      });
    };
    this.pool = new Pool(address.origin, {
      connections: settings.maxConnections,
      pipelining: 1,
      connect,
      keepAliveTimeout: settings.idleTimeoutMs,
      // A server's Keep-Alive: timeout hint may shorten our idle timeout, never lengthen it.
      keepAliveMaxTimeout: settings.idleTimeoutMs,
      headersTimeout: settings.requestTimeoutMs,
      bodyTimeout: settings.requestTimeoutMs,
      factory: (origin: URL, opts: object) => new UpstreamClient(origin, opts as Client.Options, this),
    });
  }

  get text(): string {
    return this.address.text;
  }

  /** The socket (and its end gate) produced by our connector during the current synchronous 'connect' emission. */
  takeConnectedSocket(): { readonly socket: Socket; readonly gate: SocketEndGate } | null {
    return this.#connected;
  }

  bindClient(opts: object, client: UpstreamClient): void {
    this.#bindings.get(opts)?.bindClient(client);
  }

  /** Dispatch through the pool; `binding` learns which client (connection slot) took it. */
  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler & ClientBinding): void {
    this.#bindings.set(opts, handler);
    this.pool.dispatch(opts, handler);
  }

  /**
   * Dispatch on one given client of this pool. Used for the retry after a reused connection
   * failed: that client has just lost its socket, so it connects a fresh one for this request.
   */
  dispatchOn(client: UpstreamClient, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler & ClientBinding): void {
    if (!client.usable) {
      this.dispatch(opts, handler);
      return;
    }
    this.#bindings.set(opts, handler);
    client.dispatch(opts, handler);
  }

  isAvailable(now: number): boolean {
    return now >= this.#downUntil;
  }

  get consecutiveFailures(): number {
    return this.#failures;
  }

  /**
   * Record a failed connect; returns the backoff (ms) this failure started, or 0 when the endpoint
   * was already in backoff: requests queued on one refused connect all fail together, and one
   * outage must not count as many consecutive failures.
   */
  markConnectFailure(now: number): number {
    if (now < this.#downUntil) return 0;
    this.#failures++;
    const backoff = Math.min(this.health.baseBackoffMs * 2 ** Math.min(this.#failures - 1, 20), this.health.maxBackoffMs);
    this.#downUntil = now + backoff;
    return backoff;
  }

  /** Record a response head; returns true when this brings a failing endpoint back. */
  markSuccess(): boolean {
    const wasFailing = this.#failures > 0;
    this.#failures = 0;
    this.#downUntil = 0;
    return wasFailing;
  }

  /** Graceful: resolves once queued and in-flight requests have finished. */
  close(): Promise<void> {
    return this.pool.closed ? Promise.resolve() : this.pool.close();
  }

  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}
