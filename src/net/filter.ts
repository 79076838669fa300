// The packet filter that runs before TCP on the bypass path (iptables never sees this traffic):
// CIDR allow/deny by source, a per-source SYN token bucket, and a per-source cap on concurrent
// connections. Every refusal is counted by reason in the shared NetStats. Rules can be replaced
// at runtime (config reload) without losing counters, buckets or connection counts.

import { SluiceError } from '../errors.js';
import { formatIpv4, parseIpv4, prefixMask } from './wire/ipv4.js';
import { NetStats } from './stats.js';

export interface FilterRules {
  /** Source CIDRs allowed ('198.18.0.0/15', or a bare address for /32). Empty = allow all. */
  allow: string[];
  /** Source CIDRs refused; deny wins over allow. */
  deny: string[];
  /** Concurrent connections per source address; 0 = unlimited. */
  maxConnectionsPerSource: number;
  /** New connections (SYNs) per second per source; 0 = unlimited. */
  synRatePerSource: number;
  /** SYNs a source may send at once before the rate applies (bucket size, >= 1 when limited). */
  synBurstPerSource: number;
}

export interface FilterOptions {
  /** Sources with a SYN bucket held at once; the least recently active is evicted past this. */
  maxTrackedSources?: number;
  /** Field path used in error messages ('filter' -> 'filter.allow[2]'). */
  path?: string;
}

export interface Cidr {
  network: number;
  prefixLength: number;
}

function invalid(path: string, value: unknown, why: string): SluiceError {
  return new SluiceError('SLUICE_CONFIG_INVALID', `${path}: ${JSON.stringify(value)} ${why}`, { field: path, value });
}

/**
 * Parse an IPv4 CIDR ('10.0.0.0/8', or '10.1.2.3' for /32). Throws SLUICE_CONFIG_INVALID naming
 * `path` and the precise problem: not a string, IPv6, bad address, bad prefix length, host bits.
 */
export function parseCidr(value: unknown, path: string): Cidr {
  if (typeof value !== 'string') throw invalid(path, value, 'must be a string like "198.18.0.0/15"');
  if (value.includes(':')) throw invalid(path, value, 'is IPv6; this filter matches IPv4 sources only');
  const slash = value.indexOf('/');
  const addrText = slash < 0 ? value : value.slice(0, slash);
  const ip = parseIpv4(addrText);
  if (ip < 0) {
    throw invalid(path, value, `has address "${addrText}" which is not a dotted-quad IPv4 address (four decimal octets 0-255, no leading zeros)`);
  }
  let prefixLength = 32;
  if (slash >= 0) {
    const p = value.slice(slash + 1);
    if (!/^(0|[1-9][0-9]?)$/.test(p) || Number(p) > 32) {
      throw invalid(path, value, `has prefix length "${p}" which is not an integer 0-32`);
    }
    prefixLength = Number(p);
  }
  const network = (ip & prefixMask(prefixLength)) >>> 0;
  if (network !== ip) {
    throw invalid(path, value, `has host bits set beyond /${prefixLength}; did you mean "${formatIpv4(network)}/${prefixLength}"?`);
  }
  return { network, prefixLength };
}

/**
 * A set of prefixes answered with one Set lookup per distinct prefix length (at most 33), so the
 * per-packet cost does not grow with the number of rules. Networks are stored as int32 (`ip & mask`
 * is int32 already): small integers to V8, so a lookup boxes nothing.
 */
class PrefixSet {
  private readonly masks: number[] = [];
  private readonly nets: Set<number>[] = [];

  constructor(cidrs: Cidr[]) {
    const byLen = new Map<number, Set<number>>();
    for (const c of cidrs) {
      let s = byLen.get(c.prefixLength);
      if (s === undefined) byLen.set(c.prefixLength, (s = new Set()));
      s.add(c.network | 0);
    }
    for (const len of [...byLen.keys()].sort((a, b) => a - b)) {
      this.masks.push(prefixMask(len));
      this.nets.push(byLen.get(len)!);
    }
  }

  get empty(): boolean {
    return this.masks.length === 0;
  }

  has(ip: number): boolean {
    for (let i = 0; i < this.masks.length; i++) if (this.nets[i].has(ip & this.masks[i])) return true;
    return false;
  }
}

interface Compiled {
  rules: FilterRules;
  allow: PrefixSet;
  deny: PrefixSet;
}

function checkCount(path: string, value: unknown, min: number, integer: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw invalid(path, value, `must be ${integer ? 'an integer' : 'a number'} >= ${min}`);
  }
  return value;
}

/** Validate and compile rules; throws SLUICE_CONFIG_INVALID naming the first bad field. */
export function compileRules(rules: FilterRules, path = 'filter'): Compiled {
  if (rules === null || typeof rules !== 'object') throw invalid(path, rules, 'must be an object');
  for (const key of ['allow', 'deny'] as const) {
    if (!Array.isArray(rules[key])) throw invalid(`${path}.${key}`, rules[key], 'must be an array of CIDR strings');
  }
  const allow = rules.allow.map((c, i) => parseCidr(c, `${path}.allow[${i}]`));
  const deny = rules.deny.map((c, i) => parseCidr(c, `${path}.deny[${i}]`));
  checkCount(`${path}.maxConnectionsPerSource`, rules.maxConnectionsPerSource, 0, true);
  const rate = checkCount(`${path}.synRatePerSource`, rules.synRatePerSource, 0, false);
  checkCount(`${path}.synBurstPerSource`, rules.synBurstPerSource, rate > 0 ? 1 : 0, true);
  return {
    rules: {
      allow: [...rules.allow],
      deny: [...rules.deny],
      maxConnectionsPerSource: rules.maxConnectionsPerSource,
      synRatePerSource: rules.synRatePerSource,
      synBurstPerSource: rules.synBurstPerSource,
    },
    allow: new PrefixSet(allow),
    deny: new PrefixSet(deny),
  };
}

export class PacketFilter {
  readonly maxTrackedSources: number;
  private readonly path: string;
  private compiled: Compiled;
  /** Source (int32) -> bucket slot; Map order is least recently active first (touch = delete + set). */
  private readonly buckets = new Map<number, number>();
  private readonly tokens: Float64Array;
  private readonly last: Float64Array;
  private readonly freeSlots: number[] = [];
  /** Source (int32) -> open connections. */
  private readonly conns = new Map<number, number>();

  constructor(
    rules: FilterRules,
    readonly stats: NetStats = new NetStats(),
    opts: FilterOptions = {},
  ) {
    this.path = opts.path ?? 'filter';
    this.maxTrackedSources = opts.maxTrackedSources ?? 65_536;
    if (!(Number.isInteger(this.maxTrackedSources) && this.maxTrackedSources >= 1)) {
      throw new RangeError('PacketFilter: maxTrackedSources must be an integer >= 1');
    }
    this.compiled = compileRules(rules, this.path);
    this.tokens = new Float64Array(this.maxTrackedSources);
    this.last = new Float64Array(this.maxTrackedSources);
    for (let i = this.maxTrackedSources - 1; i >= 0; i--) this.freeSlots.push(i);
  }

  /** The rules in force (a copy of what was given). */
  get rules(): Readonly<FilterRules> {
    return this.compiled.rules;
  }

  /**
   * Replace the rules atomically: everything is validated first, so a bad rule set throws and
   * leaves the old one in force. Counters, buckets and connection counts carry over; banked
   * tokens are clamped to the new burst.
   */
  setRules(rules: FilterRules): void {
    const next = compileRules(rules, this.path);
    this.compiled = next;
    const burst = next.rules.synBurstPerSource;
    for (const slot of this.buckets.values()) if (this.tokens[slot] > burst) this.tokens[slot] = burst;
  }

  /** Sources holding a SYN bucket (bounded by maxTrackedSources). */
  get trackedSources(): number {
    return this.buckets.size;
  }

  connectionsFrom(src: number): number {
    return this.conns.get(src | 0) ?? 0;
  }

  /** Source address check for every TCP segment; counts filter_deny when refused. */
  allowPacket(src: number): boolean {
    const c = this.compiled;
    if (c.deny.has(src) || (!c.allow.empty && !c.allow.has(src))) {
      this.stats.rxDrop.filter_deny++;
      return false;
    }
    return true;
  }

  /**
   * A connection-opening SYN from `src` (after allowPacket). Refuses, counted, when the source is
   * at its connection limit (filter_conn_limit) or out of SYN tokens (filter_syn_rate).
   */
  allowSyn(src: number, now: number): boolean {
    const r = this.compiled.rules;
    if (r.maxConnectionsPerSource > 0 && this.connectionsFrom(src) >= r.maxConnectionsPerSource) {
      this.stats.rxDrop.filter_conn_limit++;
      return false;
    }
    if (r.synRatePerSource > 0 && !this.takeToken(src, now, r.synRatePerSource, r.synBurstPerSource)) {
      this.stats.rxDrop.filter_syn_rate++;
      return false;
    }
    return true;
  }

  /** TCP reports a connection from `src` counted against its limit (call once per connection). */
  connectionOpened(src: number): void {
    const k = src | 0;
    this.conns.set(k, (this.conns.get(k) ?? 0) + 1);
  }

  /** TCP reports that connection is gone; unknown sources are ignored (never below zero). */
  connectionClosed(src: number): void {
    const k = src | 0;
    const n = this.conns.get(k);
    if (n === undefined) return;
    if (n <= 1) this.conns.delete(k);
    else this.conns.set(k, n - 1);
  }

  private takeToken(src: number, now: number, rate: number, burst: number): boolean {
    const key = src | 0; // int32 keys: no boxing (see PrefixSet)
    let slot = this.buckets.get(key);
    if (slot === undefined) {
      if (this.freeSlots.length === 0) {
        // Evict the least recently active source. Its bucket has had the longest to refill, so
        // forgetting it (it restarts full) costs the least limiting; a rotating-source flood is
        // bounded by the table, not by this per-source limit, and is TCP's SYN-cookie business.
        const oldest = this.buckets.keys().next().value as number;
        this.freeSlots.push(this.buckets.get(oldest)!);
        this.buckets.delete(oldest);
      }
      slot = this.freeSlots.pop()!;
      this.tokens[slot] = burst;
      this.last[slot] = now;
    } else {
      this.buckets.delete(key);
      if (now > this.last[slot]) {
        this.tokens[slot] = Math.min(burst, this.tokens[slot] + ((now - this.last[slot]) * rate) / 1000);
        this.last[slot] = now;
      }
    }
    this.buckets.set(key, slot);
    if (this.tokens[slot] >= 1) {
      this.tokens[slot] -= 1;
      return true;
    }
    return false;
  }
}
