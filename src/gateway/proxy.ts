// The proxy phase: one HttpExchange forwarded to a cluster. Header policy lives in
// proxy-headers.ts, endpoint choice, retries and undici in src/upstream/; this file is the glue
// between the exchange (client side) and an UpstreamCall (upstream side):
// - request body: the exchange's Readable is handed to undici as it is read, never buffered;
// - response body: exchange.write() returning false pauses the upstream; onDrain resumes it;
// - failure before the response head: a JSON error answer naming the reason code and the request
//   id (respond.ts sendError); after the head: the exchange is aborted (connection reset);
// - the client going away aborts the upstream request (its connection is closed).

import { SluiceError } from '../errors.js';
import type { HttpExchange } from '../http/exchange.js';
import type { Cluster } from '../upstream/cluster.js';
import type { UpstreamFailure } from '../upstream/failure.js';
import type { UpstreamCall, UpstreamResponseHead, UpstreamResponseSink } from '../upstream/forward.js';
import { type ForwardingContext, downstreamResponseHeaders, upstreamRequestHeaders } from './proxy-headers.js';
import { sendError } from './respond.js';
import type { ProxyAction } from './routes.js';

export type ProxyContext = ForwardingContext;

export interface ProxyResult {
  /** Status the client was sent (upstream's, or the error's); 499 when the client went away. */
  readonly status: number;
  /** Endpoint of the last attempt ('' when none was chosen). */
  readonly endpoint: string;
  /** From the start of the proxy phase to the end of the upstream response (or the failure). */
  readonly upstreamMs: number;
  readonly error: SluiceError | null;
  /** Response body bytes received from the upstream. */
  readonly bytesFromUpstream: number;
}

/** Origin-form target for the upstream: the route's rewritten path, the query kept as received. */
export function upstreamTarget(action: ProxyAction, path: string, query: string): string {
  const rewritten = action.rewritePath(path);
  return query === '' ? rewritten : `${rewritten}?${query}`;
}

/** Request body bytes nobody will send upstream are read and dropped so keep-alive framing holds. */
function discardBody(exchange: HttpExchange): void {
  const body = exchange.body;
  if (body !== null && !body.readableEnded && !body.destroyed) body.resume();
}

export function proxy(exchange: HttpExchange, action: ProxyAction, cluster: Cluster, ctx: ProxyContext, done: (result: ProxyResult) => void): void {
  const run = new ProxyRun(exchange, action, ctx, done);
  const head = exchange.head;
  const upstream = cluster.forward(
    {
      method: head.method,
      path: upstreamTarget(action, head.path, head.query),
      headers: upstreamRequestHeaders(head, action.requestHeaders, ctx),
      body: exchange.body,
      timeoutMs: action.timeoutMs,
    },
    run,
  );
  run.call = upstream;
  exchange.onDrain(() => upstream.resume());
  exchange.onAbort((reason) => {
    upstream.abort(new SluiceError('SLUICE_CLIENT_ABORTED', `client went away (${reason}) before the response was complete`, { reason }));
  });
}

/** One proxied exchange: the upstream sink and the state behind its ProxyResult (one object per request). */
class ProxyRun implements UpstreamResponseSink {
  readonly started = performance.now();
  status = 0;
  bytes = 0;
  finished = false;
  call: UpstreamCall | null = null;

  constructor(
    private readonly exchange: HttpExchange,
    private readonly action: ProxyAction,
    private readonly ctx: ProxyContext,
    private readonly done: (result: ProxyResult) => void,
  ) {}

  onResponse(upstream: UpstreamResponseHead): void {
    const down = downstreamResponseHeaders(upstream.headers, this.action.responseHeaders, this.ctx.requestId);
    this.status = upstream.status;
    this.exchange.respond({ status: upstream.status, headers: down.headers, contentLength: down.contentLength });
  }

  onData(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    return this.exchange.write(chunk);
  }

  onEnd(trailers: string[]): void {
    // An upstream may answer without reading the whole request body.
    discardBody(this.exchange);
    this.exchange.end(trailers.length > 0 ? trailers : undefined);
    this.finish(null);
  }

  onError(failure: UpstreamFailure): void {
    const err = failure.error;
    const exchange = this.exchange;
    if (err.code === 'SLUICE_CLIENT_ABORTED') {
      // Nobody to answer: the codec has already torn the exchange down.
      this.status = 499;
    } else if (failure.source === 'downstream') {
      // The client broke its own request (body framing or limits): the codec answers and decides
      // the connection's fate.
      this.status = exchange.headersSent ? this.status : err.status;
      exchange.abort(err);
    } else if (!exchange.headersSent) {
      this.status = err.status;
      discardBody(exchange);
      sendError(exchange, err, this.ctx.requestId);
    } else {
      // Part of the response is already with the client: only a reset tells it the truth.
      exchange.abort(err);
    }
    this.finish(err);
  }

  private finish(error: SluiceError | null): void {
    if (this.finished) return;
    this.finished = true;
    this.done({ status: this.status, endpoint: this.call?.endpoint ?? '', upstreamMs: performance.now() - this.started, error, bytesFromUpstream: this.bytes });
  }
}
