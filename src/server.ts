// The running process: a config snapshot turned into listeners, a gateway and upstream clusters,
// plus the control loop around them (reload on SIGHUP, file change or the admin API; drain on
// SIGTERM). Everything here is wiring; behaviour lives in the layers it wires.

import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from './log.js';
import { loadConfig } from './config/load.js';
import { formatProblems } from './config/problems.js';
import type { ConfigSnapshot } from './config/snapshot.js';
import type { ListenerSpec } from './config/schema.js';
import { SluiceError } from './errors.js';
import { Metrics } from './admin/metrics.js';
import { AdminServer } from './admin/server.js';
import { Gateway, type RequestRecord } from './gateway/gateway.js';
import { ClusterManager } from './upstream/cluster.js';
import { CertStore } from './tls/cert-store.js';
import { ensureDevCertificate } from './tls/dev-cert.js';
import { KernelListener } from './tls/kernel-listener.js';
import { BypassListener } from './tls/bypass-listener.js';
import { BypassStack, type BypassNetstat, type BypassXdpOptions } from './transport/bypass-stack.js';
import { cleanupDpdk, type DpdkPort } from './io/dpdk.js';
import type { FilterRules } from './net/filter.js';
import type { Connection, ConnectionHandler } from './transport/connection.js';
import { serveHttp1, type Http1Options, type Http1Session } from './http1/session.js';

export interface ReloadOutcome {
  ok: boolean;
  version: number;
  problems: string[];
}

type AnyListener = KernelListener | BypassListener;

interface RunningListener {
  spec: ListenerSpec;
  /** Identity of what needs a new socket when it changes (bind address, transport, TLS policy). */
  bindKey: string;
  listener: AnyListener;
  /** The bypass link the listener runs on (transport tap), else null. */
  stack: BypassStack | null;
  port: number;
  http1: Http1Options;
  sessions: Set<Http1Session>;
}

export interface ServerOptions {
  configPath: string;
  logger: Logger;
  metrics?: Metrics;
  /** Watch the config file and reload on change (debounced). Default true. */
  watchConfig?: boolean;
}

const WATCH_DEBOUNCE_MS = 250;

export class SluiceServer {
  readonly metrics: Metrics;
  private readonly log: Logger;
  private snapshot!: ConfigSnapshot;
  private readonly clusters: ClusterManager;
  private gateway!: Gateway;
  private readonly listeners = new Map<string, RunningListener>();
  /** Bypass links by device name, shared by the listeners on them. */
  private readonly stacks = new Map<string, BypassStack>();
  /** The port-level options each stack was opened with (its tap or dpdk block), to tell a reload what it cannot change. */
  private readonly stackOptions = new Map<BypassStack, Readonly<Record<string, unknown>>>();
  private admin: AdminServer | null = null;
  private adminKey = '';
  private draining = false;
  private readyFlag = false;
  private reloadChain: Promise<unknown> = Promise.resolve();
  private watcher: FSWatcher | null = null;
  private watchTimer: NodeJS.Timeout | null = null;

  private constructor(private readonly opts: ServerOptions) {
    this.log = opts.logger;
    this.metrics = opts.metrics ?? new Metrics();
    this.clusters = new ClusterManager({
      events: {
        onError: (e) => {
          this.metrics.upstreamErrors.inc({ cluster: e.cluster, reason: e.reason });
          if (e.retried) this.metrics.upstreamRetries.inc({ cluster: e.cluster });
        },
        onEndpointHealth: (e) => this.log.warn({ cluster: e.cluster, endpoint: e.endpoint, healthy: e.healthy, backoff_ms: e.backoffMs }, 'endpoint health'),
      },
    });
  }

  static async start(opts: ServerOptions): Promise<SluiceServer> {
    const server = new SluiceServer(opts);
    // Counters only: no per-connection list at every scrape.
    server.metrics.watchBypass(() => server.netstat({ connections: false }).stacks);
    try {
      await server.boot();
    } catch (err) {
      // Devices opened before the failure are released and the EAL ends, so a failed start
      // leaves no DPDK runtime files or hot-plugged ports behind.
      for (const stack of server.stacks.values()) stack.close();
      server.stacks.clear();
      server.stackOptions.clear();
      cleanupDpdk();
      throw err;
    }
    return server;
  }

  get configVersion(): number {
    return this.snapshot.version;
  }

  /** Bound ports by listener name, plus 'admin' (for tests and the startup log). */
  ports(): Map<string, number> {
    const m = new Map<string, number>();
    for (const [name, l] of this.listeners) m.set(name, l.port);
    return m;
  }

  private async boot(): Promise<void> {
    const snap = await this.load(1);
    const certs = await this.buildCertStores(snap);
    this.clusters.update(snap.clusters);
    this.snapshot = snap;
    this.gateway = new Gateway({ version: snap.version, routes: snap.routes, clusters: this.clusters }, {
      requestDone: (r) => this.requestDone(r),
    });
    for (const spec of snap.listeners) await this.openListener(spec, certs.get(spec.name) ?? null);
    await this.openAdmin(snap);
    this.metrics.configVersion.set(snap.version);
    if (this.opts.watchConfig !== false) this.watchConfig();
    this.readyFlag = true;
    this.log.info({ version: snap.version, config: snap.source, listeners: [...this.ports()].map(([name, port]) => ({ name, port })) }, 'sluice ready');
  }

  /** Load and validate; a snapshot with problems becomes one SluiceError listing them all. */
  private async load(version: number): Promise<ConfigSnapshot> {
    const result = await loadConfig(this.opts.configPath, { version });
    if (!result.ok) {
      throw new SluiceError('SLUICE_CONFIG_INVALID', `config ${this.opts.configPath} is invalid:\n${formatProblems(result.problems)}`, {
        problems: result.problems,
      });
    }
    return result.snapshot;
  }

  /** Dev certificates are generated first (generate: dev), then every listener's store is built. */
  private async buildCertStores(snap: ConfigSnapshot): Promise<Map<string, CertStore>> {
    const stores = new Map<string, CertStore>();
    for (const l of snap.listeners) {
      if (!l.tls) continue;
      for (const c of l.tls.certificates) {
        if (c.generate === 'dev') {
          const r = await ensureDevCertificate(c.cert, c.key);
          if (r.generated) this.log.warn({ listener: l.name, cert: c.cert, key: c.key }, 'generated a self-signed development certificate');
        }
      }
      stores.set(l.name, await CertStore.load(l.tls.certificates.map((c) => ({ certPath: c.cert, keyPath: c.key, isDefault: c.default === true }))));
    }
    return stores;
  }

  private async openListener(spec: ListenerSpec, certs: CertStore | null): Promise<RunningListener> {
    const name = spec.name;
    const running: RunningListener = {
      spec,
      bindKey: bindKey(spec),
      http1: http1Options(spec),
      sessions: new Set(),
      port: 0,
      stack: null,
      listener: null as unknown as AnyListener,
    };
    const tls = spec.tls ? {
      alpn: [...spec.tls.alpn],
      minVersion: spec.tls.min_version,
      sessionTickets: spec.tls.session_tickets.enabled,
      ticketRotateSeconds: spec.tls.session_tickets.rotate_seconds,
    } : null;
    const events = {
      handshake: (info: { version: string; resumed: boolean }) => this.metrics.tlsHandshakes.inc({ listener: name, version: info.version, resumed: String(info.resumed) }),
      handshakeFailure: (reason: string) => this.metrics.tlsFailures.inc({ listener: name, reason }),
    };
    const onConnection = (conn: Connection) => this.accept(running, conn);
    let bound: { address: string; port: number };
    if (spec.transport === 'tap' || spec.transport === 'dpdk') {
      const stack = this.stackFor(spec);
      running.stack = stack;
      const listener = new BypassListener({ name, stack, port: spec.port, tls, certs, events, onConnection });
      running.listener = listener;
      try {
        bound = listener.listen();
      } catch (err) {
        this.releaseStack(stack);
        throw err;
      }
    } else {
      const listener = new KernelListener({ name, address: spec.address, port: spec.port, tls, certs, events, onConnection });
      running.listener = listener;
      bound = await listener.listen();
    }
    running.port = bound.port;
    this.listeners.set(name, running);
    this.log.info({ listener: name, transport: spec.transport, address: bound.address, port: bound.port, tls: spec.tls !== undefined && spec.tls !== null, ...(running.stack ? { device: running.stack.port.name } : {}) }, 'listener ready');
    return running;
  }

  /** The bypass link for a tap listener: opened on first use, shared by listeners on the device. */
  private stackFor(spec: ListenerSpec): BypassStack {
    if (spec.transport === 'dpdk') return this.dpdkStackFor(spec);
    const tap = spec.tap!;
    const existing = this.stacks.get(tap.device);
    if (existing) {
      this.warnPortOptions(existing, spec, tap);
      existing.setFilter(filterRules(spec), xdpOptions(spec));
      this.logFilter(existing);
      return existing;
    }
    const stack = BypassStack.openTap({
      device: tap.device,
      mtu: tap.mtu,
      address: spec.address,
      prefixLength: tap.prefix_length,
      ...(tap.gateway !== undefined ? { gateway: tap.gateway } : {}),
      filter: filterRules(spec),
      ...(xdpOptions(spec) ? { xdp: xdpOptions(spec)! } : {}),
    });
    this.stacks.set(tap.device, stack);
    this.stackOptions.set(stack, tap);
    this.log.info({ device: stack.port.name, address: spec.address, prefix_length: tap.prefix_length, mtu: stack.port.mtu, waits_on_fd: stack.loop.waitsOnFd }, 'bypass stack up');
    this.logFilter(stack);
    return stack;
  }

  /** The DPDK link for a dpdk listener, keyed by port name ("dpdk:net_af_packet0"), shared like tap's. */
  private dpdkStackFor(spec: ListenerSpec): BypassStack {
    const d = spec.dpdk!;
    const key = `dpdk:${d.device.split(',')[0]}`;
    const existing = this.stacks.get(key);
    if (existing) {
      this.warnPortOptions(existing, spec, d);
      existing.setFilter(filterRules(spec), xdpOptions(spec));
      this.logFilter(existing);
      return existing;
    }
    const eal = this.snapshot.config.dpdk?.eal_args;
    if (!eal) throw new SluiceError('SLUICE_LISTEN', `listener '${spec.name}': transport 'dpdk' needs the top-level dpdk.eal_args`, { listener: spec.name });
    const stack = BypassStack.openDpdk({
      dpdk: { eal: [...eal], device: d.device, mtu: d.mtu, rxQueueSize: d.rx_queue_size, txQueueSize: d.tx_queue_size, mempoolSize: d.mempool_size, ...(d.rx_mode !== undefined ? { rxMode: d.rx_mode } : {}), nicChecksum: d.checksum_offload === 'device', checksumOffload: d.checksum_offload !== 'none' },
      address: spec.address,
      prefixLength: d.prefix_length,
      ...(d.gateway !== undefined ? { gateway: d.gateway } : {}),
      filter: filterRules(spec),
      ...(xdpOptions(spec) ? { xdp: xdpOptions(spec)! } : {}),
    });
    this.stacks.set(key, stack);
    this.stackOptions.set(stack, d);
    const port = stack.port as DpdkPort;
    this.log.info({ device: port.name, driver: port.info.driver, mac: port.macString, link_up: port.info.link.up, address: spec.address, prefix_length: d.prefix_length, mtu: port.mtu, backend: 'dpdk', rx_mode: port.rxMode, checksums: port.checksumsBy, ...(port.rxModeFallback !== undefined ? { rx_mode_fallback: port.rxModeFallback } : {}) }, 'bypass stack up');
    this.logFilter(stack);
    stack.watchLink((link) => {
      if (link.up) this.log.info({ device: port.name, speed_mbps: link.speedMbps, full_duplex: link.fullDuplex }, 'dpdk link up');
      else this.log.warn({ device: port.name }, 'dpdk link down: no frames move until it comes back');
    });
    return stack;
  }

  /**
   * A running stack keeps its port as opened: a reload that changes the port's own options (MTU,
   * prefix, gateway, queue and pool sizes, rx mode, checksum offload) cannot apply them without
   * closing the port under live connections, so it says which changed and keeps serving; they
   * take effect when the port is next opened (a restart, or the device's listeners removed and
   * added back).
   */
  private warnPortOptions(stack: BypassStack, spec: ListenerSpec, now: Readonly<Record<string, unknown>>): void {
    const was = this.stackOptions.get(stack);
    if (!was) return;
    const changed = [...new Set([...Object.keys(was), ...Object.keys(now)])].filter((k) => JSON.stringify(was[k]) !== JSON.stringify(now[k]));
    if (changed.length === 0) return;
    this.log.warn(
      { listener: spec.name, device: stack.port.name, changed: Object.fromEntries(changed.map((k) => [k, { running: was[k] ?? null, configured: now[k] ?? null }])) },
      'bypass port options differ from the running port and are not applied to it; they take effect when the port is next opened (restart)',
    );
  }

  /** Says where the NIC and XDP copies of a stack's filter stand; the software filter runs either way. */
  private logFilter(stack: BypassStack): void {
    this.logNic(stack);
    const x = stack.xdpStatus();
    if (x === null) return;
    if (x.attached && x.error === undefined) {
      this.log.info({ device: stack.port.name, xdp_interface: x.interface, prog_id: x.progId, mode: x.mode, pin_dir: x.pinDir }, 'xdp filter attached');
    } else {
      this.log.warn({ device: stack.port.name, xdp_interface: x.interface, attached: x.attached, reason: x.error }, 'xdp filter not in force; the software filter does the work');
    }
  }

  /** DPDK ports: which filter rules went to the NIC (rte_flow), or the PMD's refusal. */
  private logNic(stack: BypassStack): void {
    const n = stack.nicStatus(false);
    if (n === null) return;
    const base = { device: n.port, driver: n.driver };
    const why = (e: NonNullable<typeof n.refusal>) => ({
      reason: e.message, code: e.code, function: e.detail.function, errno: e.detail.errnoName ?? e.detail.errno,
      flow_error_type: e.detail.flowErrorType, flow_error_message: e.detail.flowErrorMessage,
    });
    if (n.rules.length > 0) {
      this.log.info({ ...base, rules: n.rules.map((r) => r.rule), counters: n.countersRefused === null, ...(n.countersRefused !== null ? { counters_refused: n.countersRefused } : {}) }, 'nic filter rules installed');
    }
    if (n.refusal !== null && n.allowRefused !== null && n.refused === null) {
      this.log.warn({ ...base, ...why(n.refusal) }, 'nic filter: the PMD refused the allow list; it stays in XDP and the software filter');
    } else if (n.refusal !== null) {
      this.log.warn({ ...base, ...why(n.refusal) }, 'nic filter not in force; the software filter (and XDP, where configured) does the work');
    }
    if (n.error !== null) this.log.warn({ ...base, reason: n.error }, 'nic filter: flows left behind');
  }

  /** Closes a bypass link once no listener uses it and its connections are gone. */
  private releaseStack(stack: BypassStack): void {
    if (stack.listenerCount > 0) return;
    for (const l of this.listeners.values()) if (l.stack === stack && l.sessions.size > 0) return;
    for (const [dev, s] of this.stacks) if (s === stack) this.stacks.delete(dev);
    this.stackOptions.delete(stack);
    stack.close();
  }

  /** Per DPDK port, the filter rules in the NIC or why there are none (GET /status). */
  private nicFilterStatus(): Record<string, { driver: string; rules: string[]; refused: string | null; allow_refused: string | null; counters_refused: string | null }> {
    const out: ReturnType<SluiceServer['nicFilterStatus']> = {};
    for (const s of this.stacks.values()) {
      const n = s.nicStatus(false);
      if (n !== null) out[n.port] = { driver: n.driver, rules: n.rules.map((r) => r.rule), refused: n.refused, allow_refused: n.allowRefused, counters_refused: n.countersRefused };
    }
    return out;
  }

  /** Connection tables and counters of every bypass link (what `sluice netstat` shows). */
  netstat(opts: { connections?: boolean } = {}): { stacks: BypassNetstat[] } {
    return { stacks: [...this.stacks.values()].map((s) => s.netstat(opts)) };
  }

  private accept(l: RunningListener, conn: Connection): void {
    const listener = l.spec.name;
    this.metrics.connectionsTotal.inc({ listener });
    this.metrics.connectionsOpen.inc({ listener });
    const session = serveHttp1(onClose(conn, () => {
      this.metrics.connectionsOpen.dec({ listener });
      l.sessions.delete(session);
    }), this.gateway, l.http1, {
      onProtocolError: (reason, err, info) => {
        this.metrics.protocolErrors.inc({ listener, reason });
        this.log.info({ listener, client: info.remoteAddress, reason, code: err.code, detail: err.detail }, 'request rejected');
      },
    });
    l.sessions.add(session);
    if (this.draining) session.drain();
  }

  private requestDone(r: RequestRecord): void {
    this.metrics.observeRequest(r.route || 'none', r.method, r.status, r.durationMs / 1000);
    if (r.cluster !== '' && r.upstreamMs > 0) this.metrics.observeUpstream(r.cluster, r.upstreamMs / 1000);
    if (this.snapshot.logging.access_log) {
      this.log.info({
        type: 'access', request_id: r.requestId, client: r.clientAddress, client_port: r.clientPort, listener: r.listener,
        sni: r.sni, alpn: r.alpn, tls_version: r.tlsVersion, method: r.method, host: r.host, path: r.path,
        route: r.route, cluster: r.cluster, endpoint: r.endpoint, status: r.status, error: r.error,
        bytes_in: r.bytesIn, bytes_out: r.bytesOut, duration_ms: round3(r.durationMs), upstream_ms: round3(r.upstreamMs),
        config_version: r.configVersion,
      }, 'access');
    }
  }

  private async openAdmin(snap: ConfigSnapshot): Promise<void> {
    const key = JSON.stringify(snap.admin);
    if (this.admin !== null && key === this.adminKey) return;
    if (this.admin !== null) await this.admin.close();
    const admin = new AdminServer(this.metrics, {
      ready: () => this.readyFlag && !this.draining,
      reload: () => this.reload('admin'),
      status: () => ({ version: this.snapshot.version, config: this.snapshot.source, listeners: Object.fromEntries(this.ports()), clusters: this.clusters.names, draining: this.draining, nic_filter: this.nicFilterStatus() }),
      netstat: () => this.netstat(),
    });
    const a = snap.admin;
    const bound = await admin.listen({ address: a.address, port: a.port ?? null, socket: a.socket ?? null });
    this.admin = admin;
    this.adminKey = key;
    if (bound.port !== null) this.log.info({ listener: 'admin', address: a.address, port: bound.port }, 'listener ready');
    if (bound.socket !== null) this.log.info({ socket: bound.socket }, 'admin socket ready');
  }

  /** Reloads run one at a time; each either swaps everything or changes nothing. */
  reload(trigger: string): Promise<ReloadOutcome> {
    const next = this.reloadChain.then(() => this.reloadOnce(trigger));
    this.reloadChain = next.catch(() => undefined);
    return next;
  }

  private async reloadOnce(trigger: string): Promise<ReloadOutcome> {
    if (this.draining) return { ok: false, version: this.snapshot.version, problems: ['draining: reload refused'] };
    const version = this.snapshot.version + 1;
    let snap: ConfigSnapshot;
    let certs: Map<string, CertStore>;
    try {
      snap = await this.load(version);
      certs = await this.buildCertStores(snap);
      this.clusters.update(snap.clusters);
    } catch (err) {
      const problems = problemLines(err);
      this.metrics.configReloads.inc({ result: err instanceof SluiceError && err.code === 'SLUICE_CONFIG_INVALID' ? 'invalid' : 'error' });
      this.log.error({ trigger, version: this.snapshot.version, problems }, 'config reload rejected; the previous config keeps serving');
      return { ok: false, version: this.snapshot.version, problems };
    }
    this.snapshot = snap;
    this.gateway.setRuntime({ version: snap.version, routes: snap.routes, clusters: this.clusters });
    await this.applyListeners(snap, certs);
    await this.openAdmin(snap);
    this.metrics.configVersion.set(snap.version);
    this.metrics.configReloads.inc({ result: 'ok' });
    this.log.info({ trigger, version: snap.version }, 'config reloaded');
    return { ok: true, version: snap.version, problems: [] };
  }

  /** Same bind: swap certificates and limits in place. New or changed bind: open, then close the old one. */
  private async applyListeners(snap: ConfigSnapshot, certs: Map<string, CertStore>): Promise<void> {
    const wanted = new Set(snap.listeners.map((l) => l.name));
    for (const spec of snap.listeners) {
      const cur = this.listeners.get(spec.name);
      const store = certs.get(spec.name) ?? null;
      if (cur && cur.bindKey === bindKey(spec)) {
        cur.spec = spec;
        cur.http1 = http1Options(spec);
        if (store) cur.listener.setCertStore(store);
        // The packet filter's rules change in place: counters and tracked sources are kept.
        if (cur.stack) {
          cur.stack.setFilter(filterRules(spec), xdpOptions(spec));
          this.logFilter(cur.stack);
        }
        continue;
      }
      if (cur) {
        this.listeners.delete(spec.name);
        await this.retire(cur);
      }
      await this.openListener(spec, store);
    }
    for (const [name, cur] of this.listeners) {
      if (wanted.has(name)) continue;
      this.listeners.delete(name);
      await this.retire(cur);
    }
  }

  private async retire(l: RunningListener): Promise<void> {
    await l.listener.close();
    for (const s of l.sessions) s.drain();
    if (l.stack) {
      const stack = l.stack;
      // The link stays up until the retired listener's connections have finished.
      const check = setInterval(() => {
        if (l.sessions.size > 0 && !this.draining) return;
        clearInterval(check);
        if (!this.draining) this.releaseStack(stack);
      }, 100);
      check.unref();
    }
  }

  private watchConfig(): void {
    try {
      this.watcher = watch(this.opts.configPath, () => {
        if (this.watchTimer) clearTimeout(this.watchTimer);
        this.watchTimer = setTimeout(() => {
          this.watchTimer = null;
          void this.reload('file_change');
        }, WATCH_DEBOUNCE_MS);
      });
      this.watcher.on('error', (err) => this.log.warn({ err: err.message }, 'config watch stopped'));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot watch the config file; reload with SIGHUP or the admin API');
    }
  }

  /**
   * Stop accepting, let in-flight requests finish (idle keep-alive connections close at once),
   * and after `timeoutMs` close whatever is left. Resolves when everything is closed.
   */
  async shutdown(timeoutMs = this.snapshot.drainTimeoutMs): Promise<{ forced: number }> {
    this.draining = true;
    this.watcher?.close();
    if (this.watchTimer) clearTimeout(this.watchTimer);
    const all = [...this.listeners.values()];
    await Promise.all(all.map((l) => l.listener.close()));
    for (const l of all) for (const s of l.sessions) s.drain();
    const deadline = Date.now() + timeoutMs;
    while (all.some((l) => l.sessions.size > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
    }
    let forced = 0;
    for (const l of all) {
      for (const s of l.sessions) {
        forced++;
        s.conn.destroy('draining');
      }
    }
    for (const stack of this.stacks.values()) stack.close();
    this.stacks.clear();
    this.stackOptions.clear();
    // The EAL ends with the process's last DPDK port (it cannot restart, so never on reload).
    cleanupDpdk();
    await this.clusters.close();
    await this.admin?.close();
    return { forced };
  }
}

function bindKey(spec: ListenerSpec): string {
  return JSON.stringify({ a: spec.address, p: spec.port, t: spec.transport, tap: spec.tap ?? null, dpdk: spec.dpdk ?? null, tls: spec.tls ? { alpn: spec.tls.alpn, v: spec.tls.min_version, st: spec.tls.session_tickets } : null });
}

/** The XDP placement of a listener's filter (filter.xdp), or null when none is configured. */
function xdpOptions(spec: ListenerSpec): BypassXdpOptions | null {
  const x = spec.filter?.xdp;
  return x ? { interface: x.interface, mode: x.mode } : null;
}

function filterRules(spec: ListenerSpec): FilterRules {
  const f = spec.filter;
  return {
    allow: [...(f?.allow ?? [])],
    deny: [...(f?.deny ?? [])],
    maxConnectionsPerSource: f?.max_connections_per_source ?? 0,
    synRatePerSource: f?.syn_rate_per_source ?? 0,
    synBurstPerSource: f?.syn_burst_per_source ?? 0,
  };
}

function http1Options(spec: ListenerSpec): Http1Options {
  const h = spec.http;
  return {
    scheme: spec.tls ? 'https' : 'http',
    maxRequestLineBytes: h.max_request_line_bytes,
    maxHeaderBytes: h.max_header_bytes,
    maxHeaderCount: h.max_header_count,
    // 0 in the config means no limit (schema: max_body_bytes).
    maxBodyBytes: h.max_body_bytes === 0 ? Number.MAX_SAFE_INTEGER : h.max_body_bytes,
    headersTimeoutMs: h.headers_timeout_ms,
    idleTimeoutMs: h.idle_timeout_ms,
    maxPipelined: 16,
    maxRequestsPerConnection: h.max_requests_per_connection,
  };
}

/** Wrap a connection so `cb` runs once when it closes, whoever consumes it. */
function onClose(conn: Connection, cb: () => void): Connection {
  const setHandler = conn.setHandler.bind(conn);
  conn.setHandler = (h: ConnectionHandler) => {
    const inner = h.onClose.bind(h);
    h.onClose = (reason, error) => {
      cb();
      inner(reason, error);
    };
    setHandler(h);
  };
  return conn;
}

function problemLines(err: unknown): string[] {
  if (err instanceof SluiceError && err.code === 'SLUICE_CONFIG_INVALID' && Array.isArray(err.detail.problems)) {
    return formatProblems(err.detail.problems as Parameters<typeof formatProblems>[0]).split('\n');
  }
  return [err instanceof Error ? err.message : String(err)];
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
