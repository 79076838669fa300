// One bypass link: a packet port (TAP or DPDK) with Sluice's own netstack and TCP on it,
// driven by the adaptive poll loop. Listeners on the same device share it; each gets TCP sockets
// that the layers above turn into Connections (plain) or TLS streams.

import { TapPort } from '../io/tap.js';
import { DpdkPort, type DpdkChecksumsBy, type DpdkPortOptions } from '../io/dpdk.js';
import type { DpdkLink } from '../io/native.js';
import { PollLoop, type PollMetrics } from '../io/poll.js';
import type { PacketPort, PortCounters } from '../io/port.js';
import { NetStack, type NetstatView } from '../net/stack.js';
import type { FilterRules } from '../net/filter.js';
import { lowerToXdp } from '../net/filter-xdp.js';
import { XdpFilter, xdpXskObjectPath, type XdpCounters, type XdpMode } from '../io/xdp.js';
import { NicFilter, type NicFilterStatus } from '../io/flow.js';
import { existsSync } from 'node:fs';
import { TcpLayer } from '../net/tcp/layer.js';
import type { TcpListener } from '../net/tcp/socket.js';
import type { TcpSocket } from '../net/tcp/socket.js';
import type { TcpConnectionInfo, TcpCounters } from '../net/tcp/types.js';
import { formatIpv4 } from '../net/wire/ipv4.js';
import { parseIpv4 } from '../net/wire/ipv4.js';

export interface BypassStackOptions {
  /** Interface name of the TAP device (an existing persistent device is attached). */
  device: string;
  mtu: number;
  /** The stack's own IPv4 address and prefix. */
  address: string;
  prefixLength: number;
  gateway?: string;
  filter: FilterRules;
  /** Also run the filter in XDP on this interface (where client traffic enters). */
  xdp?: BypassXdpOptions;
}

export interface BypassXdpOptions {
  interface: string;
  mode: XdpMode;
}

/** Where the XDP copy of the filter stands; the software filter runs in every case. */
export interface BypassXdpStatus {
  interface: string;
  requestedMode: XdpMode;
  attached: boolean;
  /** Kernel program id, mode ('native' or 'generic') and pinned-map directory when attached. */
  progId?: number;
  mode?: string;
  pinDir?: string;
  /** Why it is not attached, or why the last rule update or counter read failed. */
  error?: string;
  counters?: XdpCounters;
}

/** A DPDK link: the port options replace the TAP device name and MTU. */
export type BypassDpdkOptions = Omit<BypassStackOptions, 'device' | 'mtu'> & { dpdk: DpdkPortOptions };

export interface BypassNetstat {
  device: string;
  /** The packet port under the stack: its backend, counters and (DPDK) the device's xstats. */
  port: {
    backend: string;
    counters: PortCounters;
    xstats?: Record<string, number>;
    /** DPDK: who verifies and fills the IPv4/TCP checksums per direction, and the frames the device did. */
    checksum?: DpdkChecksumsBy & { deviceRx: number; deviceTx: number };
    /** DPDK: the link now. */
    link?: DpdkLink;
  };
  stack: NetstatView;
  tcp: Omit<TcpCounters, 'states'> & { states: Record<string, number> };
  connections: (TcpConnectionInfo & { local: string; remote: string })[];
  poll: PollMetrics;
  /** The XDP copy of the packet filter, when configured (null otherwise). */
  xdp: BypassXdpStatus | null;
  /** DPDK ports: the filter's rules in the NIC (rte_flow), or why not; null on TAP. */
  nic?: NicFilterStatus | null;
}

/** Rules that pass every packet: what the af_xdp steering program keeps when filter.xdp goes. */
const PASS_ALL: FilterRules = { allow: [], deny: [], maxConnectionsPerSource: 0, synRatePerSource: 0, synBurstPerSource: 0 };

export class BypassStack {
  readonly port: PacketPort;
  readonly stack: NetStack;
  readonly tcp: TcpLayer;
  readonly loop: PollLoop;
  private readonly listeners = new Set<TcpListener>();
  private stopped = false;
  private xdp: XdpFilter | null = null;
  private xdpOpts: BypassXdpOptions | null = null;
  private xdpError: string | undefined;
  /** DPDK ports: the NIC copy of the filter's CIDR rules (rte_flow). */
  private nic: NicFilter | null = null;
  /**
   * The interface whose XDP program is Sluice's filter loaded by net_af_xdp as its steering
   * program (it cannot be detached while the port lives), or null.
   */
  private steeringIface: string | null = null;
  /** DPDK ports: the once-a-second link check (watchLink), and the state it last saw. */
  private linkTimer: NodeJS.Timeout | null = null;
  private linkUp: boolean | null = null;

  private constructor(readonly opts: BypassStackOptions, port: PacketPort) {
    this.port = port;
    this.stack = new NetStack({
      mac: port.mac,
      ip: opts.address,
      prefixLength: opts.prefixLength,
      ...(opts.gateway !== undefined ? { gateway: opts.gateway } : {}),
      mtu: port.mtu,
      filter: opts.filter,
    });
    this.tcp = new TcpLayer({ mtu: port.mtu });
    this.stack.attachTransport(this.tcp);
    this.loop = new PollLoop(port, this.stack);
    // A write, close or timer change in TCP needs an output pass soon: wake the loop from sleep.
    this.tcp.onOutputPending(() => this.loop.wake());
  }

  /**
   * Opens the device and starts polling; announces the address with a gratuitous ARP. `wrap`, when
   * given, puts a port of the caller's between the device and the stack (tests: impairments on a
   * real device); closing the stack closes what it returns.
   */
  static openTap(opts: BypassStackOptions, wrap?: (tap: TapPort) => PacketPort): BypassStack {
    const tap = TapPort.open({ name: opts.device, mtu: opts.mtu });
    let port: PacketPort = tap;
    try {
      if (wrap) port = wrap(tap);
    } catch (e) {
      tap.close();
      throw e;
    }
    const s = new BypassStack(opts, port);
    s.configureXdp(opts.xdp ?? null, opts.filter);
    s.stack.announce();
    s.loop.start();
    return s;
  }

  /**
   * Starts the EAL (once per process; same eal arguments for every DPDK link), opens the DPDK
   * device and starts polling; announces the address with a gratuitous ARP. The port is
   * poll-only, so the loop backs off with timers when idle (bounded wake-up latency).
   */
  static openDpdk(opts: BypassDpdkOptions): BypassStack {
    // net_af_xdp on the filter's own interface: the PMD loads Sluice's filter as its steering
    // program (xdp_prog=), so drops happen there and what passes goes to the socket.
    const xsk = opts.xdp !== undefined && afXdpIface(opts.dpdk.device) === opts.xdp.interface && existsSync(xdpXskObjectPath());
    const device = xsk ? `${opts.dpdk.device},xdp_prog=${xdpXskObjectPath()}` : opts.dpdk.device;
    const port = DpdkPort.open({ ...opts.dpdk, device });
    let s: BypassStack;
    try {
      s = new BypassStack({ ...opts, device: port.name, mtu: port.mtu }, port);
    } catch (e) {
      port.close();
      throw e;
    }
    // After the port: net_af_xdp has attached its program by now (ours, adopted, when xsk; its
    // default redirect otherwise, and then our attach fails cleanly with EBUSY, software filter
    // only). On net_af_packet the filter runs before the AF_PACKET hook.
    if (xsk) s.steeringIface = opts.xdp!.interface;
    s.configureXdp(opts.xdp ?? null, opts.filter);
    // The CIDR rules also go to the NIC where the PMD takes them; a refusal is kept in nicStatus().
    s.nic = new NicFilter(port);
    s.nic.apply(opts.filter);
    s.stack.announce();
    s.loop.start();
    return s;
  }

  /**
   * DPDK ports: checks the link every `everyMs` and calls `onChange` when it goes down or comes
   * back (the poll loop keeps running either way; frames simply stop). No-op on other ports.
   */
  watchLink(onChange: (link: DpdkLink) => void, everyMs = 1000): void {
    const p = this.port;
    if (!(p instanceof DpdkPort) || this.linkTimer !== null) return;
    this.linkUp = p.info.link.up;
    this.linkTimer = setInterval(() => {
      if (p.closed) return;
      let link: DpdkLink;
      try {
        link = p.link();
      } catch {
        return; // the PMD could not say now; the next check asks again
      }
      if (link.up !== this.linkUp) {
        this.linkUp = link.up;
        onChange(link);
      }
    }, everyMs);
    this.linkTimer.unref();
  }

  listen(port: number, onSocket: (socket: TcpSocket) => void): TcpListener {
    const l = this.tcp.listen({ ip: parseIpv4(this.opts.address) >>> 0, port, onConnection: onSocket });
    this.listeners.add(l);
    this.loop.wake();
    return l;
  }

  unlisten(l: TcpListener): void {
    l.close();
    this.listeners.delete(l);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /**
   * New filter rules take effect for the next packet; counters are kept. The XDP copy, when
   * configured, gets the same rules in its maps (the program stays attached); `xdp` (undefined:
   * unchanged) moves or removes it. An XDP failure never fails this call: the software filter has
   * the rules either way, and the failure shows in xdpStatus().
   */
  setFilter(rules: FilterRules, xdp?: BypassXdpOptions | null): void {
    this.stack.filter.setRules(rules);
    this.nic?.apply(rules);
    if (xdp !== undefined && !sameXdp(xdp, this.xdpOpts)) {
      this.configureXdp(xdp, rules);
      return;
    }
    if (this.xdp) {
      try {
        this.xdp.setRules(lowerToXdp(rules, this.opts.address));
        this.xdpError = undefined;
      } catch (e) {
        this.xdpError = `rule update failed, the software filter has the new rules: ${(e as Error).message}`;
      }
    }
  }

  /**
   * Attaches (or detaches) the XDP copy; on failure records why and leaves the software filter
   * alone. On the af_xdp port's own interface the program is the PMD's steering program: it is
   * adopted (again, after a reload that removed filter.xdp) instead of attached.
   */
  private configureXdp(xdp: BypassXdpOptions | null, rules: FilterRules): void {
    this.detachXdp();
    this.xdpOpts = xdp;
    this.xdpError = undefined;
    if (xdp === null) return;
    const adopt = xdp.interface === this.steeringIface;
    try {
      const lowered = lowerToXdp(rules, this.opts.address);
      this.xdp = adopt ? XdpFilter.adopt(xdp.interface, lowered) : XdpFilter.attach(xdp.interface, lowered, { mode: xdp.mode });
    } catch (e) {
      this.xdpError = (e as Error).message;
    }
  }

  private detachXdp(): void {
    const x = this.xdp;
    this.xdp = null;
    if (!x) return;
    try {
      // The steering program stays attached after its maps are released: empty them first, so
      // it passes every packet to the socket instead of enforcing rules nobody configures.
      if (x.ifname === this.steeringIface) x.setRules(lowerToXdp(PASS_ALL, this.opts.address));
      x.detach();
    } catch (e) {
      this.xdpError = (e as Error).message;
    }
  }

  /** The XDP copy's state and counters, or null when none is configured. */
  xdpStatus(): BypassXdpStatus | null {
    const o = this.xdpOpts;
    if (o === null) return null;
    const base: BypassXdpStatus = { interface: o.interface, requestedMode: o.mode, attached: this.xdp !== null };
    if (this.xdp) {
      base.progId = this.xdp.progId;
      base.mode = this.xdp.mode;
      base.pinDir = this.xdp.pinDir;
      try {
        base.counters = this.xdp.counters();
      } catch (e) {
        base.error = (e as Error).message;
      }
    }
    if (this.xdpError !== undefined && base.error === undefined) base.error = this.xdpError;
    return base;
  }

  /** DPDK ports: where the filter's rules stand in the NIC (with each flow's matches); null on TAP. */
  nicStatus(withCounters = true): NicFilterStatus | null {
    return this.nic === null || this.stopped ? null : this.nic.status(withCounters);
  }

  /**
   * Counters, tables and one entry per TCP connection. With `connections: false` the list is
   * left empty: the metrics scrape reads only counters, and building the list there cost each
   * scrape an object per connection (about 1.3 KiB each with its strings), held until the next.
   */
  netstat(opts: { connections?: boolean } = {}): BypassNetstat {
    const connections = opts.connections === false ? [] : [...this.tcp.connections()].map((c) => ({
      ...c,
      local: `${formatIpv4(c.localIp)}:${c.localPort}`,
      remote: `${formatIpv4(c.remoteIp)}:${c.remotePort}`,
    }));
    const p = this.port;
    return {
      device: p.name,
      port: { backend: p.backend, counters: p.counters(), ...(p instanceof DpdkPort && !p.closed ? dpdkPortDetail(p) : {}) },
      stack: this.stack.netstat(),
      tcp: { ...this.tcp.counters, states: { ...this.tcp.counters.states } },
      connections,
      poll: this.loop.metrics(),
      xdp: this.xdpStatus(),
      nic: this.nicStatus(),
    };
  }

  /** Stops the loop, then releases the device (the fd waiter must go before the fd). */
  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.linkTimer !== null) clearInterval(this.linkTimer);
    for (const l of this.listeners) l.close();
    this.listeners.clear();
    this.loop.stop();
    this.detachXdp();
    this.nic?.release();
    this.port.close();
  }
}

/** The iface= of a net_af_xdp devargs string, else null. */
function afXdpIface(devargs: string): string | null {
  const parts = devargs.split(',');
  if (!/^net_af_xdp/.test(parts[0]!) || parts.some((p) => p.startsWith('xdp_prog='))) return null;
  const i = parts.find((p) => p.startsWith('iface='));
  return i === undefined ? null : i.slice('iface='.length);
}

function sameXdp(a: BypassXdpOptions | null, b: BypassXdpOptions | null): boolean {
  return a === b || (a !== null && b !== null && a.interface === b.interface && a.mode === b.mode);
}

/** A DPDK port's part of netstat: the device's xstats and where its checksums are done. */
function dpdkPortDetail(p: DpdkPort): Pick<BypassNetstat['port'], 'xstats' | 'checksum' | 'link'> {
  const st = p.deviceStats();
  return {
    xstats: st.xstats,
    link: p.link(),
    checksum: { ...p.checksumsBy, deviceRx: st.rxNicVerdicts, deviceTx: st.txNicChecksums },
  };
}
