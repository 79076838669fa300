// One request, fixed phases: accept (request id), route, proxy or direct answer, log. Each phase
// is a small step over the request context; the gateway never knows which codec or data path
// the exchange came from. A request keeps the config snapshot it started with, so a reload never
// changes the rules under an in-flight request.

import { type HttpExchange, type ExchangeHandler, headerValue } from '../http/exchange.js';
import { SluiceError } from '../errors.js';
import { normalizeHost, type RouteTable, type CompiledRoute } from './routes.js';
import { requestIdFrom } from './request-id.js';
import { sendBuffer, sendError } from './respond.js';
import { proxy, type ProxyResult } from './proxy.js';
import type { ClusterManager } from '../upstream/cluster.js';

/** What the gateway needs of a config snapshot. */
export interface GatewayRuntime {
  readonly version: number;
  readonly routes: RouteTable;
  readonly clusters: ClusterManager;
}

/** One finished request, for the access log and metrics. */
export interface RequestRecord {
  requestId: string;
  configVersion: number;
  listener: string;
  clientAddress: string;
  clientPort: number;
  sni: string;
  alpn: string;
  tlsVersion: string;
  method: string;
  host: string;
  path: string;
  route: string;
  cluster: string;
  endpoint: string;
  status: number;
  /** Reason code when the gateway or the upstream failed the request ('' when it did not). */
  error: string;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  upstreamMs: number;
}

export interface GatewayEvents {
  requestDone(record: RequestRecord): void;
}

interface RequestContext {
  readonly ex: HttpExchange;
  readonly runtime: GatewayRuntime;
  readonly requestId: string;
  readonly host: string;
  route: CompiledRoute | null;
  cluster: string;
  endpoint: string;
  upstreamMs: number;
  error: SluiceError | null;
  logged: boolean;
}

export class Gateway implements ExchangeHandler {
  private runtime: GatewayRuntime;

  constructor(runtime: GatewayRuntime, private readonly events: GatewayEvents) {
    this.runtime = runtime;
  }

  /** Atomically switch the snapshot for new requests; in-flight requests keep theirs. */
  setRuntime(runtime: GatewayRuntime): void {
    this.runtime = runtime;
  }

  get version(): number {
    return this.runtime.version;
  }

  handle(ex: HttpExchange): void {
    const ctx = this.accept(ex);
    ex.onAbort(() => this.finish(ctx));
    if (!this.route(ctx)) return;
    this.dispatch(ctx);
  }

  // accept: request id and routing host.
  private accept(ex: HttpExchange): RequestContext {
    return {
      ex,
      runtime: this.runtime,
      requestId: requestIdFrom(headerValue(ex.head.headers, 'x-request-id')),
      host: normalizeHost(ex.head.authority),
      route: null,
      cluster: '',
      endpoint: '',
      upstreamMs: 0,
      error: null,
      logged: false,
    };
  }

  // route: first matching route of the host's bucket, or 404.
  private route(ctx: RequestContext): boolean {
    const { head, connection } = ctx.ex;
    ctx.route = ctx.runtime.routes.match({
      listener: connection.listener,
      method: head.method,
      host: ctx.host,
      path: head.path,
      query: head.query,
      headers: head.headers,
    });
    if (ctx.route !== null) return true;
    this.fail(ctx, new SluiceError('SLUICE_ROUTE_NOT_FOUND', `no route for ${head.method} ${ctx.host}${head.path}`));
    return false;
  }

  private dispatch(ctx: RequestContext): void {
    const route = ctx.route as CompiledRoute;
    const action = route.action;
    if (action.kind === 'direct') {
      drainBody(ctx.ex);
      sendBuffer(ctx.ex, action.status, [...action.headers, 'x-request-id', ctx.requestId], action.body);
      this.finish(ctx);
      return;
    }
    ctx.cluster = action.cluster;
    const cluster = ctx.runtime.clusters.get(action.cluster);
    if (cluster === undefined) {
      // Config validation rejects routes to unknown clusters; this guards a snapshot built in code.
      this.fail(ctx, new SluiceError('SLUICE_NO_ENDPOINT', `cluster '${action.cluster}' is not defined`));
      return;
    }
    const conn = ctx.ex.connection;
    proxy(ctx.ex, action, cluster, {
      requestId: ctx.requestId,
      clientAddress: conn.remoteAddress,
      listenerProto: conn.tls !== null ? 'https' : 'http',
    }, (result: ProxyResult) => {
      ctx.endpoint = result.endpoint;
      ctx.upstreamMs = result.upstreamMs;
      ctx.error = result.error;
      this.finish(ctx);
    });
  }

  private fail(ctx: RequestContext, err: SluiceError): void {
    ctx.error = err;
    drainBody(ctx.ex);
    sendError(ctx.ex, err, ctx.requestId);
    this.finish(ctx);
  }

  // log: exactly once per exchange, whether it finished, failed or the client went away.
  private finish(ctx: RequestContext): void {
    if (ctx.logged) return;
    ctx.logged = true;
    const { ex } = ctx;
    const tls = ex.connection.tls;
    const aborted = !ex.finished && ctx.error === null;
    const status = aborted ? 499 : ex.statusSent !== 0 ? ex.statusSent : ctx.error?.status ?? 500;
    this.events.requestDone({
      requestId: ctx.requestId,
      configVersion: ctx.runtime.version,
      listener: ex.connection.listener,
      clientAddress: ex.connection.remoteAddress,
      clientPort: ex.connection.remotePort,
      sni: tls?.sni ?? '',
      alpn: tls?.alpn ?? '',
      tlsVersion: tls?.version ?? '',
      method: ex.head.method,
      host: ctx.host,
      path: ex.head.path,
      route: ctx.route?.name ?? '',
      cluster: ctx.cluster,
      endpoint: ctx.endpoint,
      status,
      error: aborted ? 'client_aborted' : ctx.error?.reason ?? '',
      bytesIn: ex.bytesIn,
      bytesOut: ex.bytesOut,
      durationMs: Number(process.hrtime.bigint() - ex.startedAt) / 1e6,
      upstreamMs: ctx.upstreamMs,
    });
  }
}


/** A request body nobody will read is still read (and discarded) so keep-alive framing holds. */
function drainBody(ex: HttpExchange): void {
  if (ex.body !== null && !ex.body.readableEnded) ex.body.resume();
}
