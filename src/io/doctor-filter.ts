// `sluice doctor`'s packet-filter section: for each bypass listener, which of its filter rules run
// in the NIC (rte_flow, src/io/flow.ts), in the XDP program (src/io/xdp.ts) and in Sluice's
// software filter (src/net/filter.ts). Read-only like the backend checks: nothing is attached,
// no port is opened and no flow is created.

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
 * rte_flow is the path to the NIC's own filters (src/io/flow.ts, native/src/flow.cc): on transport
 * dpdk, the deny CIDRs (and the allow list, where the PMD takes priorities) go to the NIC when the
 * port opens and on every reload. Doctor opens no port and creates no flow, so for a device it has
 * no recorded answer for, it can only say that they will be tried.
 */
export const RTE_FLOW_REASON =
  'transport dpdk puts the deny CIDRs (and the allow list, where the PMD takes rule priorities) in the NIC through rte_flow where the PMD matches ETH / IPV4 source with DROP on every IPv4 packet (mlx5; not i40e or ice, whose flow director narrows that pattern; docs/dpdk.md); the virtual devices have no such flow API';

/**
 * What the virtual PMDs answered when Sluice tried (DPDK 22.11, test/io/flow.test.ts): doctor
 * repeats it instead of trying (it creates nothing).
 */
const NO_FLOW_API = new Set(['net_af_packet', 'net_af_xdp', 'net_null']);
const NET_TAP_FLOW =
  'net_tap builds each flow as a TC flower filter on its TAP: it validates them (not COUNT: "action not supported"), and on a kernel without cls_flower rte_flow_create refuses them ("overlapping rules or Kernel too old for flower support", EEXIST); the verdict shows at serve time';

/** The PMD of a devargs string ("net_af_packet0,iface=x" -> "net_af_packet"), or null for a PCI address or other name. */
export function pmdOf(device: string): string | null {
  const m = /^(net_[a-z0-9_]*?)\d*$/.exec(device.split(',')[0]!);
  return m ? m[1]! : null;
}

/** The NIC part of a listener's placement: what rte_flow would be asked for, and what is known of the answer. */
export function placeNic(p: FilterPlacementInput): FilterPlacement['nic'] {
  if (p.transport === 'tap') return { rules: [], reason: 'transport tap: a TAP device is not a NIC (rte_flow is for transport dpdk)' };
  const wanted: string[] = [];
  if (p.deny > 0) wanted.push(`deny (${p.deny} CIDR${p.deny === 1 ? '' : 's'})`);
  if (p.allow > 0) wanted.push(`allow (${p.allow} CIDR${p.allow === 1 ? '' : 's'}) and a drop of every other source`);
  if (wanted.length === 0) return { rules: [], reason: 'no deny or allow CIDRs to put there (the SYN rate and connection limit never go to a NIC)' };
  const pmd = pmdOf(p.device);
  if (pmd !== null && NO_FLOW_API.has(pmd)) {
    return { rules: [], reason: `${pmd} has no flow API: rte_flow_validate answers "Function not implemented" (ENOSYS)` };
  }
  if (pmd === 'net_tap') return { rules: [], reason: NET_TAP_FLOW };
  return {
    rules: wanted,
    reason: "tried through rte_flow when the port opens and on every reload (one flow per CIDR: ETH / IPV4 source, COUNT + DROP; allow CIDRs pass at a higher priority than the drop of the rest, or stay in XDP and software if the PMD refuses priorities; never on net_i40e or net_ice, see docs/dpdk.md); doctor creates no flow: the PMD's verdict shows at serve time ('nic filter rules installed' or 'nic filter not in force' in the log, nic: in sluice netstat)",
  };
}

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
  return { listener: p.listener, transport: p.transport, device: p.device, nic: placeNic(p), xdp, software };
}
