// Every Prometheus metric Sluice exports, in one registry. Layers below report through small
// observer interfaces of their own; this file is where those observations become metrics, so
// label names and cardinality are decided in one place.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

// Methods outside this set are labelled OTHER so a client cannot create label values at will.
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE']);

export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'OTHER';
}

export function statusClass(status: number): string {
  if (status < 100 || status > 599) return 'other';
  return `${Math.floor(status / 100)}xx`;
}

export class Metrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'sluice_requests_total',
    help: 'Requests answered, by route, method and status class',
    labelNames: ['route', 'method', 'status_class'] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: 'sluice_request_duration_seconds',
    help: 'Time from the complete request head to the end of the response',
    labelNames: ['route', 'method', 'status_class'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly upstreamDuration = new Histogram({
    name: 'sluice_upstream_duration_seconds',
    help: 'Time from dispatching to the upstream until its response head, by cluster',
    labelNames: ['cluster'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly upstreamErrors = new Counter({
    name: 'sluice_upstream_errors_total',
    help: 'Upstream failures by cluster and reason code',
    labelNames: ['cluster', 'reason'] as const,
    registers: [this.registry],
  });

  readonly upstreamRetries = new Counter({
    name: 'sluice_upstream_retries_total',
    help: 'Requests retried on a fresh upstream connection after a stale keep-alive connection failed',
    labelNames: ['cluster'] as const,
    registers: [this.registry],
  });

  readonly connectionsOpen = new Gauge({
    name: 'sluice_connections_open',
    help: 'Client connections open now, by listener',
    labelNames: ['listener'] as const,
    registers: [this.registry],
  });

  readonly connectionsTotal = new Counter({
    name: 'sluice_connections_total',
    help: 'Client connections accepted, by listener',
    labelNames: ['listener'] as const,
    registers: [this.registry],
  });

  readonly tlsHandshakes = new Counter({
    name: 'sluice_tls_handshakes_total',
    help: 'Completed TLS handshakes by listener, version and whether the session was resumed',
    labelNames: ['listener', 'version', 'resumed'] as const,
    registers: [this.registry],
  });

  readonly tlsFailures = new Counter({
    name: 'sluice_tls_handshake_failures_total',
    help: 'Failed TLS handshakes by listener and reason',
    labelNames: ['listener', 'reason'] as const,
    registers: [this.registry],
  });

  readonly protocolErrors = new Counter({
    name: 'sluice_http_protocol_errors_total',
    help: 'Requests rejected by the HTTP codec, by reason code',
    labelNames: ['listener', 'reason'] as const,
    registers: [this.registry],
  });

  readonly configVersion = new Gauge({
    name: 'sluice_config_version',
    help: 'Version number of the config snapshot serving new requests',
    registers: [this.registry],
  });

  readonly configReloads = new Counter({
    name: 'sluice_config_reloads_total',
    help: 'Config reload attempts by result (ok, invalid, error)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'sluice_' });
  }
}
