// One HTTP/1.x connection: feeds the parser, hands each request to the gateway as an HttpExchange,
// and writes responses strictly in request order (RFC 9112 9.3.2). A later exchange may respond
// early; its bytes are held until every earlier response has ended. Backpressure runs end to end:
// a full request-body Readable pauses the Connection, a full Connection makes write() return false.
// Timers live here (this is the edge); the parser stays pure.

import { Readable } from 'node:stream';
import { SluiceError, isSluiceError } from '../errors.js';
import type { CloseReason, Connection, ConnectionHandler, ConnectionInfo } from '../transport/connection.js';
import type { ExchangeHandler, HeaderList, HttpExchange, RequestHead, ResponseHead } from '../http/exchange.js';
import { Http1Parser, type ParsedRequestHead } from './parser.js';
import {
  CONTINUE_100,
  CRLF,
  chunkHeader,
  encodeChunk,
  encodeLastChunk,
  imfDate,
  serializeErrorResponse,
  serializeResponseHead,
  statusHasNoBody,
  type BodyFraming,
} from './serializer.js';

export interface Http1Options {
  scheme: 'http' | 'https';
  /** Request line bytes (CRLF included); over -> 414. */
  maxRequestLineBytes: number;
  /** Field section bytes (and trailer section bytes); over -> 431. */
  maxHeaderBytes: number;
  /** Field lines per section; over -> 431. */
  maxHeaderCount: number;
  /** Request body bytes; over -> 413. */
  maxBodyBytes: number;
  /** From the first byte of a request head to its end; over -> 408 and close (slowloris). */
  headersTimeoutMs: number;
  /** Keep-alive connection with nothing in flight; over -> quiet close. */
  idleTimeoutMs: number;
  /** Requests parsed ahead of their responses; reading stops beyond this. */
  maxPipelined: number;
  /** Requests served on one connection, then Connection: close; 0 = unlimited. */
  maxRequestsPerConnection: number;
}

export const DEFAULT_HTTP1_OPTIONS: Readonly<Http1Options> = Object.freeze({
  scheme: 'http',
  maxRequestLineBytes: 8192,
  maxHeaderBytes: 16384,
  maxHeaderCount: 100,
  maxBodyBytes: 1024 * 1024 * 1024,
  headersTimeoutMs: 10_000,
  // 60 s: under the 75 s nginx and most load balancers use, so the gateway is not the side that
  // races a client reusing a connection the server just dropped
  idleTimeoutMs: 60_000,
  maxPipelined: 16,
  maxRequestsPerConnection: 0,
});

/** Optional observer for metrics and logs. */
export interface Http1Events {
  /** A request broke framing or a limit (reason: SluiceError.reason, e.g. 'http_bad_request'). */
  onProtocolError?(reason: string, error: SluiceError, conn: ConnectionInfo): void;
  /** A request head was accepted and handed to the handler. */
  onRequest?(head: RequestHead, conn: ConnectionInfo): void;
}

// Bytes a not-yet-current exchange may hold before its write() says wait: one socket buffer's worth.
const HELD_HIGH_WATER = 64 * 1024;
// Request body Readable buffer before the connection is paused.
const BODY_HIGH_WATER = 64 * 1024;
// Writes up to this size within one tick are joined into one connection write: one TLS record
// (16 KiB is TLS's maximum record payload) instead of one per write.
const COALESCE_BYTES = 16 * 1024;
// Writes above this size are sent as size line + data + CRLF to skip copying the data.
const CHUNK_COPY_LIMIT = 16 * 1024;

// After our FIN, how long the peer gets to finish reading and close its side.
const CLOSE_GRACE_MS = 5000;

const PAUSE_BODY = 1; // a request body's Readable is full
const PAUSE_PIPELINE = 2; // maxPipelined requests wait for their responses
const PAUSE_STOP = 4; // nothing more will be parsed on this connection

let dateMs = 0;
let dateStr = '';
function currentDate(): string {
  const now = Date.now();
  if (now - dateMs >= 1000 || now < dateMs) {
    dateMs = now - (now % 1000);
    dateStr = imfDate(now);
  }
  return dateStr;
}

function ignoreBodyError(): void {}

class RequestBody extends Readable {
  constructor(private readonly ex: Http1Exchange) {
    super({ highWaterMark: BODY_HIGH_WATER });
    // A client that breaks body framing destroys this stream with the SluiceError. Consumers that
    // read the body see it through their own listeners; one that never attached any (a direct
    // response, a proxy still connecting) must not turn a bad client into a process crash.
    this.on('error', ignoreBodyError);
  }

  override _read(): void {
    this.ex.bodyWanted();
  }
}

export class Http1Exchange implements HttpExchange {
  readonly head: ParsedRequestHead;
  readonly connection: ConnectionInfo;
  readonly startedAt: bigint;
  readonly body: Readable | null;
  /** Trailer fields of a chunked request body, once it has ended. */
  requestTrailers: HeaderList | null = null;

  headersSent = false;
  statusSent = 0;
  finished = false;
  bytesIn: number;
  bytesOut = 0;

  /** Request fully received (message complete). */
  requestComplete = false;
  /** Close the connection once this response is on the wire. */
  closeAfter = false;
  /** Small writes of the current tick, joined into one connection write (see out()). */
  private coalesced: Uint8Array[] | null = null;
  private coalescedBytes = 0;
  /** Reset the connection when this exchange becomes current (framing already broken). */
  breakOnActivate = false;
  /** Body bytes still arriving are dropped (the response ended first). */
  discardBody = false;
  continueSent = false;
  active = false;
  /** end() was called while a previous response was still being written. */
  endedPending = false;

  private framing: BodyFraming = 'none';
  private declaredLength = -1;
  private bodyWritten = 0;
  // Made on first use: most exchanges never hold bytes and have one drain and one abort callback.
  private held: Buffer[] | null = null;
  private heldBytes = 0;
  private wantDrain = false;
  private codecAborted = false;
  private drainCbs: Array<() => void> | null = null;
  private abortCbs: Array<(reason: string) => void> | null = null;

  constructor(private readonly session: Http1Session, head: ParsedRequestHead, connection: ConnectionInfo) {
    this.head = head;
    this.connection = connection;
    this.startedAt = process.hrtime.bigint();
    this.bytesIn = head.headBytes;
    this.body = head.hasBody ? new RequestBody(this) : null;
    this.closeAfter = !head.keepAlive;
  }

  respond(rh: ResponseHead): void {
    if (this.codecAborted) return;
    if (this.headersSent) throw new Error('respond() called twice on one exchange');
    const status = rh.status;
    if (!Number.isInteger(status) || status < 200 || status > 999) {
      throw new SluiceError('SLUICE_HTTP_RESPONSE_INVALID', `response status ${status} is not a final status code`, { rule: 'RFC 9110 15: final status 200-999; 1xx are sent by the codec', status });
    }
    const noBody = this.head.method === 'HEAD' || statusHasNoBody(status);
    let framing: BodyFraming;
    if (noBody) framing = 'none';
    else if (rh.contentLength >= 0) framing = 'length';
    else if (this.head.version === '1.1') framing = 'chunked';
    else {
      framing = 'close'; // RFC 9112 6.3 (8): an HTTP/1.0 client reads to the close
      this.closeAfter = true;
    }
    // RFC 9110 10.1.1: the client holds the body until 100; answering without reading it means
    // the body may still come or not, so the connection cannot be reused safely.
    if (this.head.expectContinue && !this.continueSent && !this.requestComplete) this.closeAfter = true;
    const bytes = serializeResponseHead({
      status,
      headers: rh.headers,
      framing,
      contentLength: status === 204 ? -1 : rh.contentLength,
      connection: this.closeAfter ? 'close' : this.head.version === '1.0' ? 'keep-alive' : null,
      date: currentDate(),
    });
    this.framing = framing;
    this.declaredLength = rh.contentLength;
    this.headersSent = true;
    this.statusSent = status;
    if (this.closeAfter) this.session.stopAfter(this);
    this.out(bytes);
  }

  write(chunk: Uint8Array): boolean {
    if (this.codecAborted) return true;
    if (!this.headersSent) throw new Error('write() before respond()');
    if (this.finished) throw new Error('write() after end()');
    const n = chunk.length;
    if (n === 0 || this.framing === 'none') return !this.wantDrain; // HEAD/204/304: body bytes are dropped
    if (this.framing === 'length' && this.bodyWritten + n > this.declaredLength) {
      throw new SluiceError('SLUICE_HTTP_RESPONSE_INVALID', `response body exceeds its Content-Length ${this.declaredLength} (by ${this.bodyWritten + n - this.declaredLength} bytes)`, { rule: 'RFC 9112 6.2: Content-Length frames the body' });
    }
    this.bodyWritten += n;
    if (this.framing === 'chunked') {
      if (n <= CHUNK_COPY_LIMIT) return this.out(encodeChunk(chunk));
      this.out(chunkHeader(n));
      this.out(chunk);
      return this.out(CRLF);
    }
    return this.out(chunk);
  }

  end(trailers?: HeaderList): void {
    if (this.codecAborted || this.finished) return;
    if (!this.headersSent) throw new Error('end() before respond()');
    if (this.framing === 'chunked') this.out(encodeLastChunk(trailers));
    else if (this.framing === 'length' && this.bodyWritten < this.declaredLength) {
      // The client would wait for bytes that never come; only closing tells it the truth.
      this.breakOnActivate = true;
    }
    this.finish();
  }

  abort(error: SluiceError): void {
    if (this.finished) return;
    if (!this.headersSent) {
      this.closeAfter = true;
      this.session.stopAfter(this);
      this.headersSent = true;
      const status = error.status >= 400 ? error.status : 500;
      this.statusSent = status;
      this.out(serializeErrorResponse(status, error.reason, error.message, { date: currentDate(), head: this.head.method === 'HEAD' }));
    } else {
      this.breakOnActivate = true;
    }
    this.finish();
  }

  onDrain(cb: () => void): void {
    (this.drainCbs ??= []).push(cb);
  }

  onAbort(cb: (reason: string) => void): void {
    (this.abortCbs ??= []).push(cb);
  }

  // ---- session side ----

  /** The codec ended this exchange itself (broken request framing): the handler's calls become no-ops. */
  codecAbort(error: SluiceError, reason = 'protocol_error'): void {
    if (this.finished) return;
    this.abort(error);
    this.codecAborted = true;
    this.fireAbort(reason);
  }

  fireAbort(reason: string): void {
    const cbs = this.abortCbs;
    this.abortCbs = null;
    if (cbs !== null) for (const cb of cbs) cb(reason);
  }

  bodyWanted(): void {
    if (this.head.expectContinue && !this.continueSent && !this.headersSent && !this.requestComplete) {
      this.continueSent = true;
      this.out(CONTINUE_100);
    }
    this.session.bodyWanted(this);
  }

  /**
   * Bytes are written now if this is the current exchange, else held in order. Small writes of
   * one tick (a head, then a short body or chunk) are joined into one write, so the client gets
   * one TLS record and one segment instead of several (bench/proxy.sh profile: writeBuffer was
   * the top self-time function with the head and body written apart).
   */
  private out(bytes: Uint8Array): boolean {
    this.bytesOut += bytes.length;
    if (this.active) {
      if (bytes.length <= COALESCE_BYTES) {
        if (this.coalesced === null) {
          this.coalesced = [];
          this.coalescedBytes = 0;
          queueMicrotask(() => this.flushCoalesced());
        }
        this.coalesced.push(bytes);
        this.coalescedBytes += bytes.length;
        if (this.coalescedBytes >= COALESCE_BYTES) this.flushCoalesced();
        return !this.wantDrain;
      }
      this.flushCoalesced();
      const ok = this.session.conn.write(bytes);
      if (!ok) this.wantDrain = true;
      return ok;
    }
    (this.held ??= []).push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
    this.heldBytes += bytes.length;
    if (this.heldBytes >= HELD_HIGH_WATER) {
      this.wantDrain = true;
      return false;
    }
    return true;
  }

  /** Writes what this tick joined; must run before anything after it reaches the connection. */
  private flushCoalesced(): void {
    const parts = this.coalesced;
    if (parts === null) return;
    this.coalesced = null;
    const bytes = parts.length === 1 ? parts[0] : Buffer.concat(parts, this.coalescedBytes);
    if (!this.session.conn.write(bytes)) this.wantDrain = true;
  }

  private finish(): void {
    this.flushCoalesced();
    this.finished = true;
    if (this.body && !this.requestComplete) {
      // The response is over before the request body: drop the rest of it (or close, if 100 was
      // never sent: closeAfter is already set then).
      this.discardBody = true;
      if (!this.body.destroyed) this.body.destroy();
      this.session.bodyWanted(this);
    }
    if (this.active) this.session.exchangeDone(this);
    else this.endedPending = true;
  }

  /** Becomes the exchange whose bytes go to the wire. */
  activate(): void {
    this.active = true;
    const conn = this.session.conn;
    let ok = true;
    if (this.held !== null) for (const b of this.held) ok = conn.write(b);
    this.held = null;
    this.heldBytes = 0;
    if (this.endedPending) {
      this.session.exchangeDone(this);
      return;
    }
    if (this.breakOnActivate) {
      this.session.breakConnection(new SluiceError('SLUICE_HTTP_RESPONSE_INVALID', 'response aborted after its head was sent'));
      return;
    }
    if (this.wantDrain) {
      if (ok) queueMicrotask(() => this.drained());
    }
  }

  drained(): void {
    if (!this.wantDrain) return;
    this.wantDrain = false;
    if (this.drainCbs !== null) for (const cb of this.drainCbs) cb();
  }
}

export class Http1Session implements ConnectionHandler {
  readonly conn: Connection;
  private readonly handler: ExchangeHandler;
  private readonly opts: Http1Options;
  private readonly events: Http1Events;
  private readonly parser: Http1Parser;

  /** Unfinished exchanges in arrival order; queue[0] is the one writing to the wire. */
  private readonly queue: Http1Exchange[] = [];
  /** The exchange whose request is being parsed (head done, message not complete). */
  private parsing: Http1Exchange | null = null;
  /** Unparsed bytes kept while the parser waits for responses (pipelining bound). */
  private held: Buffer | null = null;
  private feeding = false;
  private pauseMask = 0;
  /** No request after the current one will be parsed. */
  private closing = false;
  private peerEnded = false;
  private closed = false;
  /** Our FIN is queued (conn.end() called). */
  private ending = false;
  /** Error answered after earlier responses, then close. */
  private pendingError: SluiceError | null = null;
  private requests = 0;
  private headersTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  /** performance.now() when the connection last became idle; -1 while it is busy. */
  private idleSince = -1;

  constructor(conn: Connection, handler: ExchangeHandler, opts: Partial<Http1Options> = {}, events: Http1Events = {}) {
    this.conn = conn;
    this.handler = handler;
    this.opts = { ...DEFAULT_HTTP1_OPTIONS, ...opts };
    this.events = events;
    const o = this.opts;
    this.parser = new Http1Parser(
      {
        onHead: (h) => this.onHead(h),
        onBody: (b) => this.onBody(b),
        onTrailers: (t) => {
          if (this.parsing) this.parsing.requestTrailers = t;
        },
        onMessageComplete: () => this.onMessageComplete(),
        onError: (e) => this.onParseError(e),
      },
      {
        scheme: o.scheme,
        maxRequestLineBytes: o.maxRequestLineBytes,
        maxHeaderBytes: o.maxHeaderBytes,
        maxHeaderCount: o.maxHeaderCount,
        maxBodyBytes: o.maxBodyBytes,
      },
    );
  }

  start(): void {
    this.conn.setHandler(this);
    this.armIdle();
  }

  // ---- ConnectionHandler ----

  onData(chunk: Buffer): void {
    if (this.closed || this.pauseMask & PAUSE_STOP) return;
    this.clearIdle();
    if (this.held) {
      // Arrived before the pause took effect: keep order.
      this.held = Buffer.concat([this.held, chunk]);
      return;
    }
    this.feed(chunk);
  }

  onEnd(): void {
    this.peerEnded = true;
    if (!this.held) this.peerGone();
    this.afterProgress();
  }

  onDrain(): void {
    this.queue[0]?.drained();
  }

  onClose(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    this.clearHeadersTimer();
    this.cancelIdle();
    this.held = null;
    for (const ex of this.queue) {
      if (ex.body && !ex.requestComplete && !ex.body.destroyed) {
        ex.body.destroy(new SluiceError('SLUICE_CLIENT_ABORTED', `connection closed (${reason}) before the request body ended`, { reason }));
      }
      if (!ex.finished) ex.fireAbort(reason);
    }
    this.queue.length = 0;
    this.parsing = null;
  }

  // ---- parsing ----

  private feed(buf: Buffer): void {
    this.feeding = true;
    let off = 0;
    const len = buf.length;
    while (off < len && !this.closed) {
      if (this.parser.isPaused) {
        if (!this.closing) {
          // RFC 9112 9.3.2: pipelined requests wait; copy, since the chunk is only ours during the call.
          this.held = Buffer.from(buf.subarray(off));
          this.setPause(PAUSE_PIPELINE, true);
        }
        break;
      }
      off += this.parser.execute(off === 0 ? buf : buf.subarray(off));
      if (this.parser.failed) break;
    }
    this.feeding = false;
    if (this.parser.inHead && !this.headersTimer && !this.closed && this.opts.headersTimeoutMs > 0) {
      this.headersTimer = setTimeout(() => this.onHeadersTimeout(), this.opts.headersTimeoutMs);
      this.headersTimer.unref();
    }
    if (this.peerEnded && !this.held) this.peerGone();
    this.afterProgress();
  }

  private onHead(head: ParsedRequestHead): void {
    this.clearHeadersTimer();
    this.requests++;
    const ex = new Http1Exchange(this, head, this.conn.info);
    const max = this.opts.maxRequestsPerConnection;
    if (max > 0 && this.requests >= max) ex.closeAfter = true;
    if (ex.closeAfter) this.closing = true;
    this.queue.push(ex);
    this.parsing = ex;
    if (this.queue.length === 1) ex.active = true;
    this.events.onRequest?.(head, this.conn.info);
    try {
      this.handler.handle(ex);
    } catch (e) {
      const err = isSluiceError(e) ? e : new SluiceError('SLUICE_HTTP_RESPONSE_INVALID', `exchange handler threw: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
      ex.abort(err);
    }
  }

  private onBody(chunk: Buffer): void {
    const ex = this.parsing;
    if (!ex) return;
    ex.bytesIn += chunk.length;
    const body = ex.body;
    if (ex.discardBody || !body || body.destroyed) return;
    // Copy: the Connection owns the chunk's memory after onData returns.
    if (!body.push(Buffer.from(chunk))) this.setPause(PAUSE_BODY, true);
  }

  private onMessageComplete(): void {
    const ex = this.parsing;
    this.parsing = null;
    if (ex) {
      ex.bytesIn = this.parser.lastMessageBytes;
      ex.requestComplete = true;
      if (ex.body && !ex.body.destroyed && !ex.discardBody) ex.body.push(null);
      if (ex.discardBody) this.setPause(PAUSE_BODY, false);
    }
    if (this.closing) {
      this.parser.pause();
      this.setPause(PAUSE_STOP, true);
    } else if (this.queue.length >= this.opts.maxPipelined) {
      this.parser.pause();
    }
  }

  private onParseError(err: SluiceError): void {
    this.clearHeadersTimer();
    this.events.onProtocolError?.(err.reason, err, this.conn.info);
    this.stopReading();
    const ex = this.parsing;
    this.parsing = null;
    if (ex) {
      // The error is in this request's body: its exchange ends with the error (or a reset).
      if (ex.body && !ex.body.destroyed) ex.body.destroy(err);
      ex.closeAfter = true;
      ex.codecAbort(err);
    } else {
      this.pendingError = err;
    }
  }

  private onHeadersTimeout(): void {
    this.headersTimer = null;
    if (this.closed || !this.parser.inHead) return;
    const err = new SluiceError('SLUICE_HTTP_HEADERS_TIMEOUT', `request head not complete within ${this.opts.headersTimeoutMs} ms of its first byte`, { limit: 'headersTimeoutMs' });
    this.events.onProtocolError?.(err.reason, err, this.conn.info);
    this.stopReading();
    this.pendingError = err;
    this.afterProgress();
  }

  /** The peer sent FIN and every byte it sent has been parsed. */
  private peerGone(): void {
    if (this.parsing && !this.parsing.requestComplete) {
      // FIN inside a body: this request can never complete, and a client that closed (not just
      // half-closed) looks the same until a write fails. Treat it as gone: the body errors, the
      // gateway hears onAbort, and the exchange ends here instead of holding the connection open.
      const ex = this.parsing;
      this.parsing = null;
      const err = new SluiceError('SLUICE_CLIENT_ABORTED', 'client closed its side before the request body ended');
      if (ex.body && !ex.body.destroyed) ex.body.destroy(err);
      ex.closeAfter = true;
      ex.codecAbort(err, 'peer_closed');
    }
    this.closing = true;
    this.setPause(PAUSE_STOP, true);
  }

  private stopReading(): void {
    this.closing = true;
    this.held = null;
    this.parser.pause();
    this.setPause(PAUSE_STOP, true);
  }

  // ---- called by exchanges ----

  /** This exchange's response closes the connection: parse nothing after its request. */
  stopAfter(ex: Http1Exchange): void {
    this.closing = true;
    if (ex.requestComplete || this.parsing !== ex) {
      this.held = null;
      this.parser.pause();
      this.setPause(PAUSE_STOP, true);
    }
  }

  /**
   * Graceful shutdown (SIGTERM, a retired listener): requests already received finish, the last
   * response says `Connection: close` when its head is not sent yet, nothing after it is parsed,
   * and a connection with nothing in flight closes now (a partial request head is cut: nothing of
   * it was processed, so the client may retry it elsewhere).
   */
  drain(): void {
    if (this.closed || this.ending) return;
    const last = this.queue[this.queue.length - 1];
    if (last === undefined) {
      this.closeGracefully();
      return;
    }
    if (!last.headersSent) last.closeAfter = true;
    this.stopAfter(last);
  }

  bodyWanted(ex: Http1Exchange): void {
    if (ex === this.parsing || ex.discardBody) this.setPause(PAUSE_BODY, false);
  }

  exchangeDone(ex: Http1Exchange): void {
    if (this.queue[0] !== ex) return;
    this.queue.shift();
    if (ex.breakOnActivate) {
      this.breakConnection(new SluiceError('SLUICE_HTTP_RESPONSE_INVALID', 'response ended before its declared Content-Length'));
      return;
    }
    if (ex.closeAfter) {
      this.closeGracefully();
      return;
    }
    const next = this.queue[0];
    if (next) next.activate();
    if (this.closed) return;
    if (!this.queue.length || this.queue.length < this.opts.maxPipelined) this.resumeParsing();
    this.afterProgress();
  }

  breakConnection(err: SluiceError): void {
    if (this.closed) return;
    this.stopReading();
    this.conn.destroy('error', err);
  }

  // ---- internals ----

  private resumeParsing(): void {
    if (!this.parser.isPaused || this.closing || this.closed) return;
    this.parser.resume();
    this.setPause(PAUSE_PIPELINE, false);
    if (this.held && !this.feeding) {
      const h = this.held;
      this.held = null;
      this.feed(h);
    }
  }

  /** Runs after anything that may leave the connection with nothing in flight. */
  private afterProgress(): void {
    if (this.closed || this.feeding || this.queue.length > 0) return;
    if (this.pendingError) {
      const e = this.pendingError;
      this.pendingError = null;
      const status = e.status >= 400 ? e.status : 400;
      this.conn.write(serializeErrorResponse(status, e.reason, e.message, { date: currentDate() }));
      this.closeGracefully();
      return;
    }
    if (this.closing) {
      this.closeGracefully();
      return;
    }
    if (this.parser.idle && !this.held) this.armIdle();
  }

  private closeGracefully(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    this.stopReading();
    this.cancelIdle();
    this.clearHeadersTimer();
    // Remaining queued exchanges (after a close-after response) never reach the wire.
    for (const ex of this.queue.splice(0)) {
      if (!ex.finished) ex.fireAbort('connection_closing');
    }
    this.conn.end();
    // Keep reading (and dropping, PAUSE_STOP) so the peer's FIN is seen and the socket can close;
    // a peer that never closes its side is cut off after a grace period.
    this.pauseMask = 0;
    this.conn.resume();
    this.pauseMask = PAUSE_STOP;
    setTimeout(() => {
      if (!this.closed && !this.conn.destroyed) this.conn.destroy('local_closed');
    }, CLOSE_GRACE_MS).unref();
  }

  private setPause(bit: number, on: boolean): void {
    const before = this.pauseMask;
    this.pauseMask = on ? before | bit : before & ~bit;
    if (this.closed) return;
    if (before === 0 && this.pauseMask !== 0) this.conn.pause();
    else if (before !== 0 && this.pauseMask === 0) this.conn.resume();
  }

  // The idle timer is kept across requests: a busy keep-alive connection becomes idle after every
  // response, and a setTimeout/clearTimeout pair per request was measurable garbage and timer-list
  // work (bench/proxy-cpu.sh). armIdle() notes when idleness began; the timer, when it fires,
  // closes the connection only if it has been idle for the whole idleTimeoutMs since then, and
  // otherwise waits out the rest (idle again) or lapses (busy: the next armIdle starts one).
  private armIdle(): void {
    if (this.idleSince >= 0 || this.opts.idleTimeoutMs <= 0 || this.closed) return;
    this.idleSince = performance.now();
    if (this.idleTimer === null) this.startIdleTimer(this.opts.idleTimeoutMs);
  }

  private startIdleTimer(ms: number): void {
    this.idleTimer = setTimeout(() => this.onIdleTimer(), ms);
    this.idleTimer.unref();
  }

  private onIdleTimer(): void {
    this.idleTimer = null;
    if (this.closed || this.idleSince < 0) return;
    const left = this.idleSince + this.opts.idleTimeoutMs - performance.now();
    if (left > 0) {
      this.startIdleTimer(Math.ceil(left));
      return;
    }
    this.idleSince = -1;
    if (this.queue.length || !this.parser.idle || this.held) return;
    if (this.conn.writableLength > 0) {
      this.armIdle(); // the client is still reading the last response
      return;
    }
    this.stopReading();
    this.conn.destroy('idle_timeout');
  }

  /** The connection is busy: a pending idle timer lapses when it fires. */
  private clearIdle(): void {
    this.idleSince = -1;
  }

  /** The connection is closing: no idle timer may keep the session alive. */
  private cancelIdle(): void {
    this.idleSince = -1;
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
  }

  private clearHeadersTimer(): void {
    if (this.headersTimer) {
      clearTimeout(this.headersTimer);
      this.headersTimer = null;
    }
  }
}

/** Serve HTTP/1.x on a connection until it closes. */
export function serveHttp1(conn: Connection, handler: ExchangeHandler, opts: Partial<Http1Options> = DEFAULT_HTTP1_OPTIONS, events?: Http1Events): Http1Session {
  const s = new Http1Session(conn, handler, opts, events);
  s.start();
  return s;
}
