// One request forwarded to a cluster: endpoint choice, undici dispatch with the controller-based
// handler API (undici 7: onRequestStart / onResponseStart / onResponseData / onResponseEnd /
// onResponseError), response streaming with backpressure, and the retry rules.
//
// Retry rules (a request is sent again only when that cannot apply it twice):
// 1. Connect failures (refused, connect timeout, unreachable): the request never left Sluice.
//    The endpoint goes into passive-health backoff and the next eligible endpoint is tried,
//    at most MAX_CONNECT_ATTEMPTS endpoints per request, while the body is still replayable.
// 2. The stale keep-alive race: the upstream closes an idle connection just as we reuse it. If a
//    request written on a REUSED connection fails with a reset/closed socket, no response byte
//    arrived (no head, and the socket's bytesRead did not grow after our write), and the body is
//    replayable (none, or not a byte read from the client yet), it is sent once more, on the
//    same pool client, which has just lost its socket and so connects a fresh one.
//    How "reused" is known: the pool's clients are UpstreamClient (endpoint.ts), which count the
//    requests started on their current socket (reset on undici's 'connect' event) and hand the
//    socket to the attempt in onRequestStart; the attempt compares socket.bytesRead after the
//    failure with its value when the request started.
//    Note: undici writes the head of a request with a streamed body together with its first body
//    chunk, so such a request has always read body bytes by the time a reused connection fails;
//    in practice rule 2 resends requests without a body (GET, HEAD, DELETE, ...).
// Everything else (timeouts, resets on fresh connections, any failure after a response byte) is
// reported, never retried.

import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { SluiceError, reasonOf } from '../errors.js';
import { ReplayableBody } from './body.js';
import type { Cluster } from './cluster.js';
import type { Endpoint, SocketAssignment, UpstreamClient } from './endpoint.js';
import { type UpstreamFailure, classifyFailure, noEndpointFailure } from './failure.js';

/** Distinct endpoints one request may try when connects fail. */
export const MAX_CONNECT_ATTEMPTS = 3;

export interface UpstreamRequest {
  readonly method: string;
  /** Origin-form target sent upstream: path plus '?query' when there is one. */
  readonly path: string;
  /**
   * Flat [name, value, ...] list, lowercase names, hop-by-hop fields already removed. Includes
   * 'host' (undici writes it as the Host line) and 'content-length' when the length is known;
   * without it a body is sent chunked. Must not contain 'expect' (undici refuses it).
   */
  readonly headers: readonly string[];
  /** Streamed body, or null when the request has none. Never destroyed by this layer. */
  readonly body: Readable | null;
  /** Route override for the headers and body-inactivity timeouts; null uses the cluster's. */
  readonly timeoutMs: number | null;
}

export interface UpstreamResponseHead {
  readonly status: number;
  readonly statusText: string;
  /** Flat list, names lowercased, values as received (latin1), in received order. */
  readonly headers: string[];
}

/** Where the response goes. Exactly one of onEnd or onError ends the call. */
export interface UpstreamResponseSink {
  onResponse(head: UpstreamResponseHead): void;
  /** A body chunk; returning false pauses the upstream until UpstreamCall.resume(). */
  onData(chunk: Buffer): boolean;
  onEnd(trailers: string[]): void;
  onError(failure: UpstreamFailure): void;
}

export interface UpstreamCall {
  /** Resume reading the response after onData returned false. */
  resume(): void;
  /** Stop the request (the client went away); the upstream connection is closed. */
  abort(error: SluiceError): void;
  /** Endpoint of the latest attempt, '' before one was chosen. */
  readonly endpoint: string;
  readonly attempts: number;
}

export function startForward(cluster: Cluster, request: UpstreamRequest, sink: UpstreamResponseSink): UpstreamCall {
  const f = new Forwarding(cluster, request, sink);
  // Deferred so that the sink is never called before the caller has the UpstreamCall in hand.
  queueMicrotask(() => f.start());
  return f;
}

function headerList(raw: unknown, parsed: Record<string, string | string[] | undefined> | undefined): string[] {
  const out: string[] = [];
  if (Array.isArray(raw)) {
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const n: unknown = raw[i];
      const v: unknown = raw[i + 1];
      const name = Buffer.isBuffer(n) ? n.toString('latin1') : String(n);
      const value = Buffer.isBuffer(v) ? v.toString('latin1') : String(v);
      out.push(name.toLowerCase(), value);
    }
    return out;
  }
  if (parsed) {
    for (const [name, value] of Object.entries(parsed)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) out.push(name, v);
      else out.push(name, value);
    }
  }
  return out;
}

class Forwarding implements UpstreamCall {
  readonly #tried = new Set<Endpoint>();
  readonly #body: ReplayableBody | null;
  readonly #startedAt = performance.now();
  #attempts = 0;
  #staleRetryUsed = false;
  #current: Attempt | null = null;
  #endpoint = '';
  #aborted: SluiceError | null = null;
  #done = false;

  constructor(readonly cluster: Cluster, readonly request: UpstreamRequest, readonly sink: UpstreamResponseSink) {
    this.#body = request.body ? new ReplayableBody(request.body) : null;
  }

  get endpoint(): string {
    return this.#endpoint;
  }

  get attempts(): number {
    return this.#attempts;
  }

  get done(): boolean {
    return this.#done;
  }

  get aborted(): SluiceError | null {
    return this.#aborted;
  }

  get bodyReplayable(): boolean {
    return this.#body === null || this.#body.replayable;
  }

  get timeoutMs(): number {
    return this.request.timeoutMs ?? this.cluster.spec.request_timeout_ms;
  }

  start(): void {
    if (this.#done) return;
    const cluster = this.cluster;
    if (cluster.draining) {
      this.#fail(noEndpointFailure(cluster.name, 'was removed by a config reload'));
      return;
    }
    const picked = cluster.pick(this.#tried);
    if (picked.endpoint === null) {
      this.#fail(
        picked.why === 'empty'
          ? noEndpointFailure(cluster.name, 'has no endpoints')
          : noEndpointFailure(cluster.name, `all ${cluster.endpoints.length} endpoints are in backoff after failed connects`, { endpoints: cluster.endpoints.length }),
      );
      return;
    }
    this.#dispatch(picked.endpoint, null);
  }

  resume(): void {
    this.#current?.resume();
  }

  abort(error: SluiceError): void {
    if (this.#done || this.#aborted) return;
    this.#aborted = error;
    // On a socket: undici reports the abort through onResponseError at once, which ends the call.
    // Not on a socket yet (queued for a connection, or connecting): end it here; the attempt
    // aborts itself if it ever starts.
    this.#current?.abort(error);
    this.#fail({ error, source: 'downstream', retrySafe: false, endpoint: this.#endpoint });
  }

  #dispatch(endpoint: Endpoint, sameClient: UpstreamClient | null): void {
    this.#attempts++;
    this.#tried.add(endpoint);
    this.#endpoint = endpoint.text;
    const attempt = new Attempt(this, endpoint);
    this.#current = attempt;
    const timeout = this.timeoutMs;
    const opts: Dispatcher.DispatchOptions = {
      path: this.request.path,
      method: this.request.method,
      headers: this.request.headers as string[],
      body: this.#body ? this.#body.open() : null,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    };
    endpoint.outstanding++;
    if (sameClient) endpoint.dispatchOn(sameClient, opts, attempt);
    else endpoint.dispatch(opts, attempt);
  }

  // --- called by the current attempt ---

  onResponse(attempt: Attempt, head: UpstreamResponseHead): void {
    if (this.#done || attempt !== this.#current) return;
    this.sink.onResponse(head);
  }

  onData(attempt: Attempt, chunk: Buffer): boolean {
    if (this.#done || attempt !== this.#current) return true;
    return this.sink.onData(chunk);
  }

  onEnd(attempt: Attempt, trailers: string[]): void {
    if (this.#done || attempt !== this.#current) return;
    this.#done = true;
    this.#body?.release();
    this.cluster.events.onRequestDone?.({
      cluster: this.cluster.name,
      endpoint: attempt.endpoint.text,
      status: attempt.status,
      durationMs: performance.now() - this.#startedAt,
      attempts: this.#attempts,
      bytes: attempt.bytes,
    });
    this.sink.onEnd(trailers);
  }

  onError(attempt: Attempt, err: unknown): void {
    if (this.#done || attempt !== this.#current) return;
    if (this.#aborted) {
      this.#fail({ error: this.#aborted, source: 'downstream', retrySafe: false, endpoint: attempt.endpoint.text });
      return;
    }
    const failure = classifyFailure(err, {
      endpoint: attempt.endpoint.text,
      cluster: this.cluster.name,
      started: attempt.started,
      reused: attempt.reused,
      responseBytes: attempt.responseBytes,
      bodyReplayable: this.bodyReplayable,
      timeoutMs: this.timeoutMs,
    });
    const events = this.cluster.events;

    if (failure.source === 'connect') {
      const backoffMs = attempt.endpoint.markConnectFailure(this.cluster.now());
      if (backoffMs > 0) events.onEndpointHealth?.({ cluster: this.cluster.name, endpoint: attempt.endpoint.text, healthy: false, backoffMs });
    }

    let retry: (() => void) | null = null;
    if (failure.retrySafe && this.bodyReplayable) {
      if (failure.source === 'connect' && this.#tried.size < MAX_CONNECT_ATTEMPTS) {
        const next = this.cluster.pick(this.#tried);
        if (next.endpoint) {
          const ep = next.endpoint;
          retry = () => this.#dispatch(ep, null);
        }
      } else if (failure.source === 'reused_connection' && !this.#staleRetryUsed && attempt.client) {
        this.#staleRetryUsed = true;
        const client = attempt.client;
        const ep = attempt.endpoint;
        retry = () => this.#dispatch(ep, client);
      }
    }

    events.onError?.({
      cluster: this.cluster.name,
      endpoint: failure.endpoint,
      code: failure.error.code,
      reason: reasonOf(failure.error.code),
      source: failure.source,
      retried: retry !== null,
    });

    if (retry) {
      // Out of undici's close/error handling, which is still on the stack.
      const run = retry;
      this.#current = null;
      queueMicrotask(() => {
        if (this.#done) return;
        if (this.#aborted) {
          this.#fail({ error: this.#aborted, source: 'downstream', retrySafe: false, endpoint: this.#endpoint });
          return;
        }
        run();
      });
      return;
    }
    this.#fail(failure, true);
  }

  /** End the call with a failure; `reported` when onError already told the observer. */
  #fail(failure: UpstreamFailure, reported = false): void {
    if (this.#done) return;
    this.#done = true;
    this.#body?.release();
    if (!reported && failure.source === 'cluster') {
      this.cluster.events.onError?.({
        cluster: this.cluster.name,
        endpoint: '',
        code: failure.error.code,
        reason: reasonOf(failure.error.code),
        source: failure.source,
        retried: false,
      });
    }
    this.sink.onError(failure);
  }
}

/** One dispatch of the request to one endpoint: the undici handler. */
class Attempt implements Dispatcher.DispatchHandler {
  client: UpstreamClient | null = null;
  started = false;
  status = 0;
  bytes = 0;
  #assignment: SocketAssignment | null = null;
  #controller: Dispatcher.DispatchController | null = null;
  #headSeen = false;
  #settled = false;

  constructor(private readonly owner: Forwarding, readonly endpoint: Endpoint) {}

  bindClient(client: UpstreamClient): void {
    this.client = client;
  }

  get reused(): boolean {
    return this.#assignment?.reused ?? false;
  }

  /** A head arrived, or the socket read bytes after our request was written. */
  get responseBytes(): boolean {
    if (this.#headSeen) return true;
    const a = this.#assignment;
    if (a === null) return false;
    // A reused socket we could not observe: assume the worst, so the request is never resent.
    if (a.socket === null) return a.reused;
    return a.socket.bytesRead > a.bytesReadBefore;
  }

  resume(): void {
    const controller = this.#controller;
    if (this.#settled || controller === null) return;
    // Through the socket's end gate: an upstream FIN that arrived while paused is delivered to
    // undici only once its parser runs again (end-gate.ts says why).
    const gate = this.#assignment?.endGate ?? null;
    if (gate) gate.resume(() => controller.resume());
    else controller.resume();
  }

  /** Abort through undici if the request is on a socket; false when it is not yet. */
  abort(error: SluiceError): boolean {
    if (this.#settled || !this.#controller) return false;
    this.#controller.abort(error);
    return true;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    this.started = true;
    this.#assignment = this.client ? this.client.noteRequestStart() : null;
    const owner = this.owner;
    if (owner.aborted) controller.abort(owner.aborted);
    else if (owner.done) controller.abort(new SluiceError('SLUICE_CLIENT_ABORTED', 'request abandoned before it was sent'));
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>, statusMessage?: string): void {
    // 1xx interim responses (103 Early Hints) are not relayed: the exchange has no interim API.
    if (statusCode < 200) return;
    this.#headSeen = true;
    this.status = statusCode;
    if (this.endpoint.markSuccess()) {
      this.owner.cluster.events.onEndpointHealth?.({ cluster: this.owner.cluster.name, endpoint: this.endpoint.text, healthy: true, backoffMs: 0 });
    }
    this.#guard(controller, () =>
      this.owner.onResponse(this, { status: statusCode, statusText: statusMessage ?? '', headers: headerList(controller.rawHeaders, headers) }),
    );
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // undici's parser, resumed with no new bytes, can report an empty span; pausing on that would
    // pause again on every resume, and a close-delimited body would then never see its end.
    if (chunk.length === 0) return;
    this.bytes += chunk.length;
    this.#guard(controller, () => {
      if (!this.owner.onData(this, chunk)) {
        controller.pause();
        this.#assignment?.endGate?.pause();
      }
    });
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: Record<string, string | string[] | undefined>): void {
    this.#settle();
    this.#guard(controller, () => this.owner.onEnd(this, headerList(controller.rawTrailers, trailers)));
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.#settle();
    this.owner.onError(this, err);
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.endpoint.outstanding--;
  }

  // undici turns a throw inside a handler callback into a client 'error' event, which would crash
  // the process; a failing sink instead aborts this request.
  #guard(controller: Dispatcher.DispatchController, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (!this.#settled) controller.abort(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
