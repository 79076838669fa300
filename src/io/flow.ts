// NicFilter: the packet filter's source CIDR rules in the NIC under a DPDK port, through rte_flow
// (native/src/flow.cc). The lowering (src/net/filter-flow.ts) decides what can go down; this
// module puts it there, falls back when the PMD refuses, and says where each rule ended up. The
// software filter runs in every case (as with XDP), so a refusal changes where drops happen, not
// what is dropped.

import { SluiceError } from '../errors.js';
import { encodeFlowRules, lowerToFlow, type FlowFate, type FlowRule } from '../net/filter-flow.js';
import type { FilterRules } from '../net/filter.js';
import { requireDpdk, type DpdkPort } from './dpdk.js';
import { toSluiceError, type DpdkAddon, type DpdkFlowReplaceResult } from './native.js';

/** What one setFlowRules call put in the NIC. */
export interface FlowInstallResult {
  /** The rules now in force in the NIC, in priority order. */
  rules: FlowRule[];
  /** Whether the PMD counts their matches. */
  counted: boolean;
  /** Why not, when it does not: the PMD's refusal of COUNT. */
  countRefused: string | null;
  /** Flows of an earlier set the PMD would not destroy (still dropping): how many, and its reason. */
  stale: number;
  staleError: string | null;
}

/** Where a port's filter rules stand in the NIC (netstat, status, metrics). */
export interface NicFilterStatus {
  port: string;
  driver: string;
  /** The rules in the NIC, with the packets each matched (null when the PMD counts none). */
  rules: { rule: string; action: FlowFate; priority: number; packets: number | null }[];
  /** Why none of the filter's CIDR rules is in the NIC (the PMD's refusal, SLUICE_DPDK_FLOW), or null. */
  refused: string | null;
  /** Why the allow list is not (it stays in XDP and the software filter) while the deny rules are, or null. */
  allowRefused: string | null;
  /** Why the flows count nothing (the PMD refused COUNT), or null. */
  countersRefused: string | null;
  /** Rules of the filter that never go to a NIC, with why. */
  stays: { rule: string; reason: string }[];
  /** The last failure reading counters or removing flows, or null. */
  error: string | null;
  /** The refusal as a typed error (code SLUICE_DPDK_FLOW, detail.function / errno / flowErrorType / flowErrorMessage), for the log. */
  refusal: { code: string; message: string; detail: Readonly<Record<string, unknown>> } | null;
}

/**
 * PMDs whose flow API takes the pattern ETH / IPV4 (source) / END as something narrower than
 * "every IPv4 packet from that source" (read in DPDK 22.11's sources, docs/dpdk.md): on them the
 * flows would show as in force while a denied client's TCP went through, so they get none.
 */
export const FLOW_UNFIT_PMDS: Readonly<Record<string, string>> = {
  net_i40e:
    "i40e's flow director takes ETH / IPV4 / END as 'IPv4 other than TCP, UDP and SCTP' and leaves a partial source mask out of the match (a /24 rule would match every such packet), so its flows would not drop a denied client's TCP",
  net_ice:
    "ice puts COUNT + DROP on ETH / IPV4 / END in its flow director as 'IPv4 other than TCP, UDP and SCTP', with whole-address masks only, so its flows would not drop a denied client's TCP",
};

export class NicFilter {
  private readonly d: DpdkAddon;
  private installed: FlowRule[] = [];
  private counted = false;
  private refused: SluiceError | null = null;
  private allowRefused: SluiceError | null = null;
  private countersRefused: string | null = null;
  private stays: NicFilterStatus['stays'] = [];
  private error: string | null = null;
  private counts = new Float64Array(0);
  /** The last rule set asked for (encoded), so a reload that leaves the CIDRs alone changes nothing. */
  private lastRequest: string | null = null;

  constructor(private readonly port: DpdkPort) {
    this.d = requireDpdk();
  }

  /**
   * Replaces the port's flows with `rules` (one native call): the new set is created before the
   * old one goes, and a refusal (SLUICE_DPDK_FLOW, with DPDK's reason) leaves the old set in force.
   */
  setFlowRules(rules: readonly FlowRule[]): FlowInstallResult {
    if (this.port.closed) throw new SluiceError('SLUICE_DPDK_PORT', `dpdk ${this.port.name}: setFlowRules on a closed port`, { op: 'setFlowRules' });
    let r: DpdkFlowReplaceResult;
    try {
      r = this.d.flowReplace(this.port.portId, encodeFlowRules(rules), true);
    } catch (e) {
      throw toSluiceError(e, 'SLUICE_DPDK_FLOW', `dpdk ${this.port.name} (${this.port.info.driver}) flow rules`);
    }
    this.installed = [...rules];
    this.counted = r.counted;
    this.counts = new Float64Array(rules.length);
    return {
      rules: [...rules],
      counted: r.counted,
      countRefused: r.countRefused ?? null,
      stale: r.stale,
      staleError: r.staleError ?? null,
    };
  }

  /**
   * Puts the filter's CIDR rules in the NIC as far as the PMD takes them: deny and allow together,
   * else deny alone (the allow list stays in XDP and software), else nothing. When even that is
   * refused, the flows of the previous rules are removed too: the NIC never holds rules that are
   * no longer configured. Never throws for a PMD's refusal; the status says what happened.
   */
  apply(filter: FilterRules): NicFilterStatus {
    const low = lowerToFlow(filter);
    this.stays = low.stays;
    const full = [...low.deny, ...low.allow];
    const request = encodeFlowRules(full).join(',');
    if (request === this.lastRequest) return this.status(false);
    this.lastRequest = request;
    this.refused = null;
    this.allowRefused = null;
    this.error = null;
    const attempt = (rules: FlowRule[]): SluiceError | null => {
      try {
        const r = this.setFlowRules(rules);
        this.countersRefused = r.counted || rules.length === 0 ? null : r.countRefused;
        if (r.stale > 0) this.error = `${r.stale} flow(s) of earlier rules are still in the NIC: ${r.staleError ?? 'the PMD would not destroy them'}`;
        return null;
      } catch (e) {
        return toSluiceError(e, 'SLUICE_DPDK_FLOW', '');
      }
    };
    if (full.length === 0 && this.installed.length === 0) return this.status(false);
    const unfit = FLOW_UNFIT_PMDS[this.port.info.driver];
    if (unfit !== undefined && full.length > 0) {
      this.refused = new SluiceError('SLUICE_DPDK_FLOW', `dpdk ${this.port.name} (${this.port.info.driver}): not put in the NIC: ${unfit}`, { driver: this.port.info.driver });
      return this.status(false);
    }
    const e = attempt(full);
    if (e === null) return this.status(false);
    if (low.allow.length > 0) {
      this.allowRefused = e;
      const e2 = attempt(low.deny);
      if (e2 === null) return this.status(false);
      this.refused = e2;
    } else {
      this.refused = e;
    }
    // The new rules are refused and the old flows still drop: take them out.
    if (this.installed.length > 0) {
      const e3 = attempt([]);
      if (e3 !== null) this.error = `the flows of the previous rules could not be removed and still drop: ${e3.message}`;
    }
    return this.status(false);
  }

  /** Where the rules stand; `withCounters` reads each flow's matches (rte_flow_query). */
  status(withCounters = true): NicFilterStatus {
    let packets: (number | null)[] = this.installed.map(() => null);
    if (withCounters && this.counted && this.installed.length > 0 && !this.port.closed) {
      try {
        this.d.flowCounters(this.port.portId, this.counts);
        packets = this.installed.map((_, i) => (this.counts[i]! >= 0 ? this.counts[i]! : null));
      } catch (e) {
        this.error = toSluiceError(e, 'SLUICE_DPDK_FLOW', `dpdk ${this.port.name} flow counters`).message;
      }
    }
    const refusal = this.refused ?? this.allowRefused;
    return {
      port: this.port.name,
      driver: this.port.info.driver,
      rules: this.installed.map((r, i) => ({ rule: r.rule, action: r.fate, priority: r.priority, packets: packets[i] ?? null })),
      refused: this.refused?.message ?? null,
      allowRefused: this.allowRefused?.message ?? null,
      countersRefused: this.countersRefused,
      stays: this.stays,
      error: this.error,
      refusal: refusal ? { code: refusal.code, message: refusal.message, detail: refusal.detail } : null,
    };
  }

  /** Removes every flow before the port closes (the native close would too, silently). */
  release(): void {
    if (this.installed.length === 0 || this.port.closed) return;
    this.installed = [];
    try {
      this.d.flowFlush(this.port.portId);
    } catch (e) {
      this.error = toSluiceError(e, 'SLUICE_DPDK_FLOW', `dpdk ${this.port.name} flow flush`).message;
    }
  }
}
