// One bypass link: a packet port (TAP now, DPDK next) with Sluice's own netstack and TCP on it,
// driven by the adaptive poll loop. Listeners on the same device share it; each gets TCP sockets
// that the layers above turn into Connections (plain) or TLS streams.

import { TapPort } from '../io/tap.js';
import { PollLoop, type PollMetrics } from '../io/poll.js';
import type { PacketPort } from '../io/port.js';
import { NetStack, type NetstatView } from '../net/stack.js';
import type { FilterRules } from '../net/filter.js';
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
}

export interface BypassNetstat {
  device: string;
  stack: NetstatView;
  tcp: Omit<TcpCounters, 'states'> & { states: Record<string, number> };
  connections: (TcpConnectionInfo & { local: string; remote: string })[];
  poll: PollMetrics;
}

export class BypassStack {
  readonly port: PacketPort;
  readonly stack: NetStack;
  readonly tcp: TcpLayer;
  readonly loop: PollLoop;
  private readonly listeners = new Set<TcpListener>();
  private stopped = false;

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

  /** Opens the device and starts polling; announces the address with a gratuitous ARP. */
  static openTap(opts: BypassStackOptions): BypassStack {
    const port = TapPort.open({ name: opts.device, mtu: opts.mtu });
    const s = new BypassStack(opts, port);
    s.stack.announce();
    s.loop.start();
    return s;
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

  /** New filter rules take effect for the next packet; counters are kept. */
  setFilter(rules: FilterRules): void {
    this.stack.filter.setRules(rules);
  }

  netstat(): BypassNetstat {
    const connections = [...this.tcp.connections()].map((c) => ({
      ...c,
      local: `${formatIpv4(c.localIp)}:${c.localPort}`,
      remote: `${formatIpv4(c.remoteIp)}:${c.remotePort}`,
    }));
    return {
      device: this.port.name,
      stack: this.stack.netstat(),
      tcp: { ...this.tcp.counters, states: { ...this.tcp.counters.states } },
      connections,
      poll: this.loop.metrics(),
    };
  }

  /** Stops the loop, then releases the device (the fd waiter must go before the fd). */
  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const l of this.listeners) l.close();
    this.listeners.clear();
    this.loop.stop();
    this.port.close();
  }
}
