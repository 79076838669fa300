// Every Prometheus metric Sluice exports, in one registry. Layers below report through small
// observer interfaces of their own; this file is where those observations become metrics, so
// label names and cardinality are decided in one place.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BypassNetstat } from '../transport/bypass-stack.js';

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

  /** One finished request. Label values are bounded: route names come from config, methods and statuses are folded. */
  observeRequest(route: string, method: string, status: number, seconds: number): void {
    const labels = { route, method: methodLabel(method), status_class: statusClass(status) };
    this.requests.inc(labels);
    this.requestDuration.observe(labels, seconds);
  }

  observeUpstream(cluster: string, seconds: number): void {
    this.upstreamDuration.observe({ cluster }, seconds);
  }

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'sluice_' });
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
    counter('sluice_bypass_tcp_retransmits_total', 'TCP segments sent again (RTO, fast retransmit, SACK, tail loss probe; not zero-window probes)', ['device'], (s) => [[{}, s.tcp.retransmits]]);
    counter('sluice_bypass_tcp_window_probes_total', "TCP zero-window probes sent (the peer's receive window was closed)", ['device'], (s) => [[{}, s.tcp.windowProbes]]);
    counter('sluice_bypass_tcp_zero_window_advertised_total', 'TCP segments sent advertising a zero receive window (the application stopped reading)', ['device'], (s) => [[{}, s.tcp.zeroWindowAdvertised]]);
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
    new Gauge({
      name: 'sluice_bypass_port_link_up', help: 'DPDK ports: whether the link is up (1) or down (0), as the PMD sees it now', labelNames: ['device'] as const, registers: r,
      collect() { this.reset(); each((s) => { if (s.port.link) this.set({ device: s.device }, s.port.link.up ? 1 : 0); }); },
    });
    counter('sluice_bypass_port_device_checksums_total', "Frames whose IPv4/TCP checksums the DPDK device judged (rx) or filled (tx) through its checksum offload", ['device', 'direction'], (s) =>
      s.port.checksum ? [[{ direction: 'rx' }, s.port.checksum.deviceRx], [{ direction: 'tx' }, s.port.checksum.deviceTx]] : []);
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
    // DPDK ports: the filter's CIDR rules in the NIC (rte_flow, docs/dpdk.md); drops there never reached Sluice.
    new Gauge({
      name: 'sluice_bypass_nic_flows', help: 'Packet filter rules in force in the NIC as rte_flow rules (0: none, see sluice netstat for why)', labelNames: ['device'] as const, registers: r,
      collect() { this.reset(); each((s) => { if (s.nic) this.set({ device: s.device }, s.nic.rules.length); }); },
    });
    counter('sluice_bypass_nic_flow_packets_total', 'Packets matched in the NIC by each filter rule in force (rte_flow COUNT; a rule changed by a reload starts again at 0)', ['device', 'rule', 'action'], (s) =>
      (s.nic?.rules ?? []).filter((x) => x.packets !== null).map((x): [Record<string, string>, number] => [{ rule: x.rule, action: x.action }, x.packets!]));
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
