// Lowers the packet filter's rules (FilterRules, as validated by compileRules) into rte_flow rules
// for the NIC under a DPDK port (src/io/flow.ts, native/src/flow.cc): one flow per source CIDR,
// pattern ETH / IPV4 (source under the prefix mask) / END.
//
// What moves down, by priority (0 is matched first):
//   0  deny CIDRs: COUNT + DROP.
//   1  allow CIDRs: COUNT + QUEUE 0 (the port's one rx queue: the frame goes on to Sluice as
//      without the flow, and no later rule sees it).
//   2  with an allow list only: every other IPv4 source, COUNT + DROP ("drop everything else").
// Deny wins over allow because it is matched first, as in PacketFilter. The allow list needs all
// three levels, so it goes down only as a whole with them; when the PMD refuses it (no
// priorities, no QUEUE), the deny rules go alone and the allow list stays in XDP and software.
// What stays in Sluice: the per-source SYN rate and connection limit (no per-source state in a
// flow rule).

import { compileRules, parseCidr, type FilterRules } from './filter.js';
import { formatIpv4, prefixMask } from './wire/ipv4.js';

/** 'drop', or 'pass' (QUEUE 0: delivered to Sluice as if no flow had matched). */
export type FlowFate = 'drop' | 'pass';

export interface FlowRule {
  /** What the flow stands for in status, logs and metrics: 'deny 203.0.113.0/24', 'allow 198.18.0.0/15', 'not allowed'. */
  rule: string;
  /** Source network as an unsigned 32-bit number (host bits zero). */
  network: number;
  /** The prefix as an unsigned 32-bit mask: /24 is 0xffffff00, /0 is 0 (any IPv4 source). */
  mask: number;
  priority: number;
  fate: FlowFate;
}

export interface FlowLowering {
  /** One drop per distinct deny CIDR, at priority 0. */
  deny: FlowRule[];
  /** Empty without an allow list; else one pass per distinct allow CIDR at 1, then the drop of the rest at 2. */
  allow: FlowRule[];
  /** Rules that never go to the NIC, and why. */
  stays: { rule: string; reason: string }[];
}

export const FLOW_PRIORITY = { deny: 0, allow: 1, notAllowed: 2 } as const;

/** The label of the priority-2 flow that drops every source the allow list leaves out. */
export const NOT_ALLOWED_RULE = 'not allowed';

/** Throws SLUICE_CONFIG_INVALID naming the bad field, like compileRules. */
export function lowerToFlow(rules: FilterRules, path = 'filter'): FlowLowering {
  compileRules(rules, path);
  const distinct = (list: string[], key: 'deny' | 'allow', priority: number, fate: FlowFate): FlowRule[] => {
    const seen = new Set<string>();
    const out: FlowRule[] = [];
    list.forEach((text, i) => {
      const c = parseCidr(text, `${path}.${key}[${i}]`);
      const cidr = `${formatIpv4(c.network)}/${c.prefixLength}`;
      // The same CIDR twice would be two identical flows, which some PMDs refuse as a collision.
      if (seen.has(cidr)) return;
      seen.add(cidr);
      out.push({ rule: `${key} ${cidr}`, network: c.network >>> 0, mask: prefixMask(c.prefixLength), priority, fate });
    });
    return out;
  };
  const deny = distinct(rules.deny, 'deny', FLOW_PRIORITY.deny, 'drop');
  const allow = distinct(rules.allow, 'allow', FLOW_PRIORITY.allow, 'pass');
  if (allow.length > 0) allow.push({ rule: NOT_ALLOWED_RULE, network: 0, mask: 0, priority: FLOW_PRIORITY.notAllowed, fate: 'drop' });
  const stays: FlowLowering['stays'] = [];
  if (rules.synRatePerSource > 0) {
    stays.push({ rule: 'SYN rate per source', reason: 'a flow rule matches headers and keeps no per-source state (XDP and the software filter keep the token buckets)' });
  }
  if (rules.maxConnectionsPerSource > 0) {
    stays.push({ rule: 'connections per source', reason: 'needs TCP state: the software filter only' });
  }
  return { deny, allow, stays };
}

/** The native form (flowReplace): 4 words per rule, network, mask, priority, fate (0 drop, 1 queue 0). */
export function encodeFlowRules(rules: readonly FlowRule[]): Uint32Array {
  const out = new Uint32Array(rules.length * 4);
  rules.forEach((r, i) => {
    out[i * 4] = r.network >>> 0;
    out[i * 4 + 1] = r.mask >>> 0;
    out[i * 4 + 2] = r.priority;
    out[i * 4 + 3] = r.fate === 'drop' ? 0 : 1;
  });
  return out;
}
