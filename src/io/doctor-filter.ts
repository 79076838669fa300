// `sluice doctor`'s packet-filter section: for each bypass listener, which of its filter rules run
// in the NIC (rte_flow), in the XDP program (src/io/xdp.ts) and in Sluice's software filter
// (src/net/filter.ts). Read-only like the backend checks: nothing is attached.

import { existsSync } from 'node:fs';
import { xdpAvailability, xdpXskObjectPath, type XdpAvailability } from './xdp.js';

export interface FilterPlacementInput {
  listener: string;
  transport: 'tap' | 'dpdk';
  /** TAP device name or DPDK devargs. */
  device: string;
  deny: number;
  allow: number;
  synRate: boolean;
  connLimit: boolean;
  xdp: { interface: string; mode: string } | null;
}

export interface FilterPlacement {
  listener: string;
  transport: 'tap' | 'dpdk';
  device: string;
  nic: { rules: string[]; reason: string };
  xdp: { interface: string | null; rules: string[]; reason: string; checks: XdpAvailability['checks'] };
  software: { rules: string[]; reason: string };
}

/**
 * rte_flow is the path to the NIC's own filters. Sluice programs none yet, and no device on a
 * machine without a physical DPDK NIC could take them: net_tap's flow API is built on TC flower
 * classifiers (not offered by this kernel), net_af_packet and net_af_xdp have no flow API.
 */
export const RTE_FLOW_REASON =
  'no rules in the NIC: Sluice does not program rte_flow yet, and none of the virtual devices here supports it (net_tap needs TC flower classifiers, net_af_packet and net_af_xdp have no flow API, a TAP device is not a NIC)';

function ruleNames(p: FilterPlacementInput, withConnLimit: boolean): string[] {
  const r: string[] = [];
  if (p.deny > 0) r.push(`deny (${p.deny} CIDR${p.deny === 1 ? '' : 's'})`);
  if (p.allow > 0) r.push(`allow (${p.allow} CIDR${p.allow === 1 ? '' : 's'})`);
  if (p.synRate) r.push('SYN rate per source');
  if (withConnLimit && p.connLimit) r.push('connections per source');
  return r;
}

/** Where each rule of one listener runs. `avail` is injectable for tests. */
export function placeFilter(p: FilterPlacementInput, avail: (ifname: string) => XdpAvailability = xdpAvailability): FilterPlacement {
  const all = ruleNames(p, true);
  const software = {
    rules: all,
    reason: all.length === 0
      ? 'no filter rules configured'
      : 'always runs, before TCP, whatever runs below it (it alone holds the per-source connection limit, which needs TCP state)',
  };
  let xdp: FilterPlacement['xdp'];
  if (p.xdp === null) {
    xdp = { interface: null, rules: [], reason: 'not configured (filter.xdp names the interface client traffic enters by)', checks: [] };
  } else if (p.transport === 'dpdk' && /^net_af_xdp/.test(p.device) && p.device.split(',').includes(`iface=${p.xdp.interface}`)) {
    // The af_xdp PMD attaches the steering program itself: Sluice hands it filter_xsk.bpf.o
    // (xdp_prog=), which filters and then redirects into the socket.
    const a = avail(p.xdp.interface);
    const xsk = existsSync(xdpXskObjectPath());
    xdp = a.ok && xsk
      ? { interface: p.xdp.interface, rules: ruleNames(p, false), reason: `in the steering program net_af_xdp loads on ${p.xdp.interface} (xdp_prog=${xdpXskObjectPath()})`, checks: a.checks }
      : { interface: p.xdp.interface, rules: [], reason: `unavailable: ${a.ok ? `${xdpXskObjectPath()} is not built` : a.reason}`, checks: a.checks };
  } else {
    const a = avail(p.xdp.interface);
    xdp = a.ok
      ? { interface: p.xdp.interface, rules: ruleNames(p, false), reason: `attachable on ${p.xdp.interface} (${p.xdp.mode} mode); the verifier's verdict shows at serve time ('xdp filter attached' in the log, sluice netstat)`, checks: a.checks }
      : { interface: p.xdp.interface, rules: [], reason: `unavailable: ${a.reason}${a.fix ? `; fix: ${a.fix}` : ''}`, checks: a.checks };
  }
  return { listener: p.listener, transport: p.transport, device: p.device, nic: { rules: [], reason: RTE_FLOW_REASON }, xdp, software };
}
