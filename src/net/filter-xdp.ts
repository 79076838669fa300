// Lowers the packet filter's rules (FilterRules, as validated by compileRules) into the numeric
// form the XDP program takes (src/io/xdp.ts). What moves down: the CIDR deny and allow lists and
// the per-source SYN rate. What cannot: the per-source connection limit needs TCP state, so it
// stays in PacketFilter, which runs behind the XDP program in every case.

import type { XdpRules } from '../io/xdp.js';
import { compileRules, parseCidr, type FilterRules } from './filter.js';
import { parseIpv4 } from './wire/ipv4.js';

/**
 * `destination`: the listener's IPv4 address; only packets to it are filtered in XDP (the
 * interface may carry other traffic). Throws SLUICE_CONFIG_INVALID naming the bad field.
 */
export function lowerToXdp(rules: FilterRules, destination: string, path = 'filter'): XdpRules {
  compileRules(rules, path);
  const dst = parseIpv4(destination);
  return {
    deny: rules.deny.map((c, i) => parseCidr(c, `${path}.deny[${i}]`)),
    allow: rules.allow.map((c, i) => parseCidr(c, `${path}.allow[${i}]`)),
    synRatePerSource: rules.synRatePerSource,
    synBurstPerSource: rules.synBurstPerSource,
    // 0.0.0.0 (or an unparsable address, which config validation already refused) = any.
    destination: dst < 0 ? 0 : dst >>> 0,
  };
}
