// Every Prometheus metric Sluice exports, in one registry. Layers below report through small
// observer interfaces of their own; this file is where those observations become metrics, so
// label names and cardinality are decided in one place.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BypassNetstat } from '../transport/bypass-stack.js';

// Methods outside this set are labelled OTHER so a client cannot create label values at will.
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE']);

const METHOD_INDEX = new Map([...KNOWN_METHODS].map((m, i) => [m, i]));
const OTHER_METHOD = KNOWN_METHODS.size;

export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'OTHER';
}

export function statusClass(status: number): string {
  if (status < 100 || status > 599) return 'other';
  return `${Math.floor(status / 100)}xx`;
}

const DURATION_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** One label set's observations: cumulative count, sum and per-bucket counts (not cumulative). */
export class Series {
  count = 0;
  sum = 0;
  readonly buckets: Float64Array;

  constructor(readonly labels: Readonly<Record<string, string>>, private readonly bounds: readonly number[]) {
    this.buckets = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    this.count++;
    this.sum += value;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (value <= b[i]) {
        this.buckets[i]++;
        return;
      }
    }
  }
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  metricName?: string;
  exemplar?: null | undefined;
}

interface MetricData {
  name: string;
  help: string;
  type: string;
  values: MetricValue[];
  aggregator: 'sum';
}

/**
 * A metric as prom-client's Registry reads it (registerMetric, metrics(), getMetricsAsJSON(),
 * resetMetrics()). `name` stays a plain field: the Registry renames counters for OpenMetrics.
 */
class SeriesMetric {
  readonly aggregator = 'sum';

  constructor(
    public name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram',
    private readonly values: () => MetricValue[],
    readonly reset: () => void,
  ) {}

  async getForPromString(): Promise<MetricData> {
    return { name: this.name, help: this.help, type: this.type, values: this.values(), aggregator: this.aggregator };
  }

  /** JSON form: shared labels folded into labels, as prom-client's Histogram.get() does. */
  async get(): Promise<MetricData> {
    const data = await this.getForPromString();
    data.values = data.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } }));
    return data;
  }
}

/**
 * Histogram series (and optionally a request counter over the same observations) keyed by label
 * values. A caller looks a Series up once per label set (series()) and keeps it, so the hot path
 * is a few additions. Exposed through a prom-client Registry as prom-client's own Counter and
 * Histogram would be: the same names, label order, `le` first on buckets, cumulative buckets,
 * +Inf, _sum and _count.
 */
export class RequestSeries {
  readonly #all: Series[] = [];
  readonly #byKey = new Map<string, Series>();

  constructor(readonly labelNames: readonly string[], readonly bounds: readonly number[]) {}

  /** The series for these label values (in labelNames order), created on first use. */
  series(...values: string[]): Series {
    const key = values.join('\u0000');
    let s = this.#byKey.get(key);
    if (s === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i]));
      s = new Series(labels, this.bounds);
      this.#byKey.set(key, s);
      this.#all.push(s);
    }
    return s;
  }

  reset(): void {
    for (const s of this.#all) {
      s.count = 0;
      s.sum = 0;
      s.buckets.fill(0);
    }
  }

  /** Registers the counter and/or histogram view of these series; returns this. */
  register(registry: Registry, as: { counter?: { name: string; help: string }; histogram?: { name: string; help: string } }): this {
    const reset = (): void => this.reset();
    if (as.counter) {
      const values = (): MetricValue[] => this.#all.map((s) => ({ value: s.count, labels: { ...s.labels } }));
      registry.registerMetric(new SeriesMetric(as.counter.name, as.counter.help, 'counter', values, reset) as unknown as Counter);
    }
    if (as.histogram) {
      const name = as.histogram.name;
      // prom-client's Histogram: cumulative buckets with `le` before the series labels, then
      // +Inf, _sum and _count; exemplar is null on buckets and undefined on _sum and _count.
      const values = (): MetricValue[] => {
        const out: MetricValue[] = [];
        for (const s of this.#all) {
          let acc = 0;
          for (let i = 0; i < this.bounds.length; i++) {
            acc += s.buckets[i];
            out.push({ value: acc, labels: { le: this.bounds[i] }, sharedLabels: s.labels, metricName: `${name}_bucket`, exemplar: null });
          }
          out.push(
            { value: s.count, labels: { le: '+Inf' }, sharedLabels: s.labels, metricName: `${name}_bucket`, exemplar: null },
            { value: s.sum, labels: {}, sharedLabels: s.labels, metricName: `${name}_sum`, exemplar: undefined },
            { value: s.count, labels: {}, sharedLabels: s.labels, metricName: `${name}_count`, exemplar: undefined },
          );
        }
        return out;
      };
      registry.registerMetric(new SeriesMetric(name, as.histogram.help, 'histogram', values, reset) as unknown as Histogram);
    }
    return this;
  }
}

export class Metrics {
  readonly registry = new Registry();

  // The per-request series (one update per proxied request) are kept by RequestSeries below, not
  // by prom-client's Counter/Histogram: those hash the label object and convert each bucket bound
  // to a string on every call (about 4% of busy time under bench/proxy.sh's keep-alive load).
  // Exposition still goes through this registry in prom-client's own format.
  readonly requests = new RequestSeries(['route', 'method', 'status_class'], DURATION_BUCKETS).register(this.registry, {
    counter: { name: 'sluice_requests_total', help: 'Requests answered, by route, method and status class' },
    histogram: { name: 'sluice_request_duration_seconds', help: 'Time from the complete request head to the end of the response' },
  });

  readonly upstream = new RequestSeries(['cluster'], DURATION_BUCKETS).register(this.registry, {
    histogram: { name: 'sluice_upstream_duration_seconds', help: 'Time from dispatching to the upstream until its response head, by cluster' },
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

  // Series by route, then by method and status class (METHOD_INDEX * 7 + class index), so a
  // request finds its series without building a label object or key string.
  readonly #requestSeries = new Map<string, Array<Series | undefined>>();
  readonly #upstreamSeries = new Map<string, Series>();

  /** One answered request: sluice_requests_total and sluice_request_duration_seconds. */
  observeRequest(route: string, method: string, status: number, seconds: number): void {
    let byRoute = this.#requestSeries.get(route);
    if (byRoute === undefined) {
      byRoute = [];
      this.#requestSeries.set(route, byRoute);
    }
    const m = METHOD_INDEX.get(method) ?? OTHER_METHOD;
    const c = status < 100 || status > 599 ? 0 : Math.floor(status / 100);
    const i = m * 7 + c;
    let s = byRoute[i];
    if (s === undefined) {
      s = this.requests.series(route, methodLabel(method), statusClass(status));
      byRoute[i] = s;
    }
    s.observe(seconds);
  }

  /** One upstream response: sluice_upstream_duration_seconds. */
  observeUpstream(cluster: string, seconds: number): void {
    let s = this.#upstreamSeries.get(cluster);
    if (s === undefined) {
      s = this.upstream.series(cluster);
      this.#upstreamSeries.set(cluster, s);
    }
    s.observe(seconds);
  }

  /**
   * The bypass stacks' own counters (what netstat and iptables can no longer show), read from
   * their netstat snapshot at scrape time: nothing is counted twice and the hot path does no
   * metric work.
   */
  watchBypass(source: () => readonly BypassNetstat[]): void {
    const r = [this.registry];
    let snap: readonly BypassNetstat[] = [];
    // One snapshot per scrape, taken by the first bypass metric collected.
    const take = (): readonly BypassNetstat[] => (snap = source());
    const each = (f: (s: BypassNetstat) => void) => snap.forEach(f);
    new Gauge({
      name: 'sluice_bypass_tcp_connections', help: 'Connections of the bypass TCP by device and state', labelNames: ['device', 'state'] as const, registers: r,
      collect() {
        take();
        this.reset();
        each((s) => { for (const [state, n] of Object.entries(s.tcp.states)) this.set({ device: s.device, state }, n); });
      },
    });
    const counter = (name: string, help: string, labelNames: readonly string[], values: (s: BypassNetstat) => [Record<string, string>, number][]) =>
      new Counter({
        name, help, labelNames, registers: r,
        collect() {
          this.reset();
          each((s) => { for (const [labels, v] of values(s)) this.inc({ device: s.device, ...labels }, v); });
        },
      });
    counter('sluice_bypass_tcp_segments_total', 'TCP segments by direction', ['device', 'direction'], (s) => [[{ direction: 'in' }, s.tcp.segmentsIn], [{ direction: 'out' }, s.tcp.segmentsOut]]);
    counter('sluice_bypass_tcp_retransmits_total', 'TCP segments sent again (RTO, fast retransmit, SACK, tail loss probe)', ['device'], (s) => [[{}, s.tcp.retransmits]]);
    counter('sluice_bypass_tcp_resets_total', 'TCP resets by direction', ['device', 'direction'], (s) => [[{ direction: 'sent' }, s.tcp.resetsSent], [{ direction: 'received' }, s.tcp.resetsReceived]]);
    counter('sluice_bypass_tcp_checksum_errors_total', 'TCP segments dropped for a bad checksum', ['device'], (s) => [[{}, s.tcp.checksumErrors]]);
    counter('sluice_bypass_syn_cookies_total', 'SYN cookies sent while the accept or SYN queue was full', ['device'], (s) => [[{}, s.tcp.synCookiesSent]]);
    counter('sluice_bypass_drops_total', 'Frames dropped by the bypass stack, by direction and reason (packet filter included)', ['device', 'direction', 'reason'], (s) => [
      ...Object.entries(s.stack.counters.rxDrop).map(([reason, v]): [Record<string, string>, number] => [{ direction: 'rx', reason }, v]),
      ...Object.entries(s.stack.counters.txDrop).map(([reason, v]): [Record<string, string>, number] => [{ direction: 'tx', reason }, v]),
    ]);
    counter('sluice_bypass_packets_total', 'Frames moved by the packet port, by direction', ['device', 'direction'], (s) => [[{ direction: 'rx' }, s.poll.rxPackets], [{ direction: 'tx' }, s.poll.txPackets]]);
    counter('sluice_bypass_empty_polls_total', 'Poll iterations that moved no frame', ['device'], (s) => [[{}, s.poll.emptyPolls]]);
    counter('sluice_bypass_port_drops_total', 'Frames the packet port dropped (longer than a slot, unsendable, device error), by direction', ['device', 'direction'], (s) => [[{ direction: 'rx' }, s.port.counters.rxDropped], [{ direction: 'tx' }, s.port.counters.txDropped]]);
    // DPDK ports: the PMD's extended statistics as they are named by the driver (rx_missed_errors,
    // rx_mbuf_allocation_errors, per-queue counts, ...); all are monotonic counters.
    counter('sluice_bypass_port_xstats_total', 'DPDK device extended statistics (rte_eth_xstats_get) by name', ['device', 'name'], (s) =>
      Object.entries(s.port.xstats ?? {}).map(([name, v]): [Record<string, string>, number] => [{ name }, v]));
    // The XDP copy of the packet filter (docs/xdp.md): drops here never reached the stack above.
    new Gauge({
      name: 'sluice_bypass_xdp_attached', help: 'Whether the XDP copy of the packet filter is attached (1) or configured but not in force (0)', labelNames: ['device', 'interface'] as const, registers: r,
      collect() { this.reset(); each((s) => { if (s.xdp) this.set({ device: s.device, interface: s.xdp.interface }, s.xdp.attached ? 1 : 0); }); },
    });
    counter('sluice_bypass_xdp_packets_total', 'IPv4 packets to the listener address seen by the XDP filter, by verdict and reason', ['device', 'interface', 'verdict', 'reason'], (s) => {
      const c = s.xdp?.counters;
      if (!s.xdp || !c) return [];
      const i = s.xdp.interface;
      return [
        [{ interface: i, verdict: 'pass', reason: 'pass' }, c.passed.packets],
        [{ interface: i, verdict: 'drop', reason: 'deny' }, c.deny.packets],
        [{ interface: i, verdict: 'drop', reason: 'not_allowed' }, c.notAllowed.packets],
        [{ interface: i, verdict: 'drop', reason: 'syn_rate' }, c.synRate.packets],
      ];
    });
    counter('sluice_bypass_xdp_rule_drops_total', 'Packets dropped in XDP by each deny rule in force (a rule removed by a reload takes its count with it)', ['device', 'interface', 'rule'], (s) =>
      (s.xdp?.counters?.rules ?? []).map((x): [Record<string, string>, number] => [{ interface: s.xdp!.interface, rule: x.rule }, x.packets]));
    new Gauge({
      name: 'sluice_bypass_poll_duty_cycle', help: 'Share of wall time the poll loop spent working (0..1)', labelNames: ['device'] as const, registers: r,
      collect() { this.reset(); each((s) => this.set({ device: s.device }, s.poll.dutyCycle)); },
    });
    new Gauge({
      name: 'sluice_bypass_packets_per_burst', help: 'Average frames per non-empty receive burst since start', labelNames: ['device'] as const, registers: r,
      collect() { this.reset(); each((s) => this.set({ device: s.device }, s.poll.rxBursts > 0 ? s.poll.rxPackets / s.poll.rxBursts : 0)); },
    });
  }
}
