// The packet filter's rules pushed into an XDP program (native/xdp/filter.bpf.c) on the interface
// where client traffic enters, so denied sources are dropped in the kernel before any copy to
// user space. The software filter (src/net/filter.ts) keeps running behind it either way: XDP is
// an early, cheaper copy of the same decision, and when it cannot load nothing is lost but speed.
//
// Rules arrive already parsed (XdpRules: numeric prefixes) because src/io sits below src/net,
// which owns CIDR parsing; src/net/filter-xdp.ts lowers FilterRules into this shape. Which
// counter slot a deny rule owns is decided here and kept across setRules, so a rule that stays
// keeps its counts over a config reload.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SluiceError } from '../errors.js';
import { hasCapNetAdmin } from './doctor.js';
import { addonPath, BUILD_COMMAND, nativeAvailable, nativeXdp, type NativeXdp, type XdpAttachResult } from './native.js';

export type XdpMode = 'native' | 'generic' | 'auto';

export interface XdpPrefix {
  /** IPv4 network, host byte order, host bits clear (parseCidr's output). */
  network: number;
  prefixLength: number;
}

export interface XdpRules {
  /** Denied source prefixes; each gets its own drop counter. Deny wins over allow. */
  deny: readonly XdpPrefix[];
  /** Allowed source prefixes; empty allows every source. */
  allow: readonly XdpPrefix[];
  /** TCP SYNs per second per source; 0 = no limit. */
  synRatePerSource: number;
  /** SYNs a source may send at once (bucket depth); >= 1 when the rate is set. */
  synBurstPerSource: number;
  /**
   * Only IPv4 packets to this address (host order) are filtered; others pass untouched, so the
   * program can sit on a NIC that also carries the host's own traffic. 0 = every destination.
   */
  destination: number;
}

export interface XdpCount {
  packets: number;
  bytes: number;
}

export interface XdpCounters {
  /** Packets in scope (IPv4 to the destination) that passed every check. */
  passed: XdpCount;
  /** Dropped because the allow list is non-empty and the source is outside it. */
  notAllowed: XdpCount;
  /** Dropped TCP SYNs over the per-source rate. */
  synRate: XdpCount;
  /** Dropped by deny rules, all rules together. */
  deny: XdpCount;
  /** Every drop: deny + notAllowed + synRate. */
  dropped: XdpCount;
  /** Per deny rule, in the order of the rules in force ('198.18.0.1/32'). */
  rules: ({ rule: string } & XdpCount)[];
}

export interface XdpCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface XdpAvailability {
  ok: boolean;
  /** One sentence per failed check, or what will run. */
  reason: string;
  fix: string;
  checks: XdpCheck[];
}

export interface XdpAttachOptions {
  mode?: XdpMode;
  /** Compiled program; default native/build/xdp/filter.bpf.o next to the addon. */
  objectPath?: string;
  /** Where bpffs is (mounted there when it is not); maps are pinned in <root>/sluice/<ifname>/. */
  bpffsRoot?: string;
}

const SLOT_PASS = 0;
const SLOT_NOT_ALLOWED = 1;
const SLOT_SYN_RATE = 2;
const SLOT_FIRST_DENY = 3;
export const DEFAULT_BPFFS_ROOT = '/sys/fs/bpf';
export const XDP_BUILD_COMMAND = BUILD_COMMAND;

/** native/build/xdp/filter.bpf.o beside the addon (both built by native/build.sh). */
export function xdpObjectPath(): string {
  return join(dirname(dirname(dirname(addonPath()))), 'build', 'xdp', 'filter.bpf.o');
}

/**
 * The same filter built to redirect what it passes into AF_XDP sockets: DPDK's net_af_xdp loads
 * it as its `xdp_prog=` and fills its xsks_map; Sluice then adopts its maps (XdpFilter.adopt).
 */
export function xdpXskObjectPath(): string {
  return join(dirname(xdpObjectPath()), 'filter_xsk.bpf.o');
}

function formatPrefix(p: XdpPrefix): string {
  const n = p.network >>> 0;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${p.prefixLength}`;
}

function xdpError(message: string, detail: Record<string, unknown>, cause?: unknown): SluiceError {
  return new SluiceError('SLUICE_XDP', message, detail, cause === undefined ? undefined : { cause });
}

interface NativeXdpErrorShape {
  code?: unknown;
  message?: unknown;
  function?: unknown;
  errno?: unknown;
  errnoName?: unknown;
  strerror?: unknown;
  log?: unknown;
}

/** The last lines of libbpf's log (the verifier's verdict is at the end). */
function logTail(log: string, lines = 12): string {
  return log.trimEnd().split('\n').slice(-lines).join('\n');
}

/** An addon error ({ code: 'SLUICE_XDP', function, errno, strerror, log }) as a SluiceError. */
function fromNative(e: unknown, context: string): SluiceError {
  if (e instanceof SluiceError) return e;
  const n = (typeof e === 'object' && e !== null ? e : {}) as NativeXdpErrorShape;
  const message = typeof n.message === 'string' ? n.message : String(e);
  const detail: Record<string, unknown> = {};
  if (typeof n.function === 'string') detail.function = n.function;
  if (typeof n.errno === 'number') detail.errno = n.errno;
  if (typeof n.errnoName === 'string' && n.errnoName !== '') detail.errnoName = n.errnoName;
  if (typeof n.strerror === 'string') detail.strerror = n.strerror;
  const log = typeof n.log === 'string' ? logTail(n.log) : '';
  if (log !== '') detail.log = log;
  const code = n.code === 'SLUICE_XDP' ? 'SLUICE_XDP' : 'SLUICE_PORT_CONFIG';
  const text = `${context}: ${message}${log !== '' && n.function === 'bpf_object__load' ? `\nverifier/libbpf log (tail):\n${log}` : ''}`;
  return new SluiceError(code, text, detail, { cause: e });
}

/**
 * Whether an XDP filter can be attached here (to `ifname` when given), without attaching:
 * the addon has the loader (libbpf at build), the program was compiled (clang at build),
 * CAP_NET_ADMIN is held, the interface exists. A verifier rejection only shows at attach.
 */
export function xdpAvailability(ifname?: string, objectPath = xdpObjectPath()): XdpAvailability {
  const checks: XdpCheck[] = [];
  const fixes: string[] = [];
  const native = nativeAvailable();
  if (!native.ok) {
    checks.push({ name: 'addon', ok: false, detail: native.error.message });
    fixes.push(`build the addon: ${BUILD_COMMAND}`);
  } else if (nativeXdp(native.addon) === null) {
    checks.push({ name: 'libbpf', ok: false, detail: 'the addon was built without the XDP loader: pkg-config found no libbpf at build time' });
    fixes.push(`apt-get install libbpf-dev libelf-dev pkg-config, then ${BUILD_COMMAND}`);
  } else {
    checks.push({ name: 'libbpf', ok: true, detail: 'the addon has the XDP loader (libbpf at build time)' });
  }
  if (existsSync(objectPath)) {
    checks.push({ name: 'program', ok: true, detail: `${objectPath} exists` });
  } else {
    const why = join(dirname(objectPath), 'UNAVAILABLE');
    const recorded = existsSync(why) ? readFileSync(why, 'utf8').trim() : `${objectPath} does not exist`;
    checks.push({ name: 'program', ok: false, detail: `XDP program not built: ${recorded}` });
    fixes.push(`apt-get install clang llvm libbpf-dev, then ${BUILD_COMMAND}`);
  }
  const cap = hasCapNetAdmin();
  checks.push({ name: 'CAP_NET_ADMIN', ok: cap.ok, detail: cap.ok ? `${cap.detail} (attaching XDP and loading BPF need it, as root)` : cap.detail });
  if (!cap.ok) fixes.push('run Sluice as root to attach XDP programs (CAP_NET_ADMIN plus CAP_BPF or CAP_SYS_ADMIN)');
  if (ifname !== undefined) {
    const present = /^[^/\s]{1,15}$/.test(ifname) && existsSync(`/sys/class/net/${ifname}`);
    checks.push({ name: 'interface', ok: present, detail: present ? `interface ${ifname} exists` : `interface ${JSON.stringify(ifname)} does not exist in this network namespace` });
    if (!present) fixes.push(`create ${ifname} before Sluice starts, or name the interface client traffic enters by`);
  }
  const ok = checks.every((c) => c.ok);
  return {
    ok,
    reason: ok ? 'XDP filter can be attached' : checks.filter((c) => !c.ok).map((c) => c.detail).join('; '),
    fix: fixes.join('; '),
    checks,
  };
}

/** An attached XDP filter on one interface. Not thread-shared; one per interface per process. */
export class XdpFilter {
  private readonly slots = new Map<string, number>();
  private ruleOrder: string[] = [];
  private readonly counterBuf: Float64Array;
  private detached = false;

  private constructor(
    private readonly xdp: NativeXdp,
    private readonly handle: number,
    readonly ifname: string,
    /** The kernel's program id (what `ip link show` and `bpftool prog show` print). */
    readonly progId: number,
    /** Where the kernel runs it: 'native' (in the driver) or 'generic' (after skb allocation). */
    readonly mode: string,
    /** bpffs directory holding the pinned maps (bpftool map dump pinned <pinDir>/deny_v4). */
    readonly pinDir: string,
  ) {
    this.counterBuf = new Float64Array(xdp.xdpLimits.slots * 2);
  }

  /**
   * Loads the program, attaches it to `ifname` and installs `rules`. Throws SLUICE_XDP with the
   * libbpf function, errno and (for a verifier rejection) the log's tail; nothing stays attached
   * after a failure.
   */
  static attach(ifname: string, rules: XdpRules, opts: XdpAttachOptions = {}): XdpFilter {
    const objectPath = opts.objectPath ?? xdpObjectPath();
    const avail = xdpAvailability(undefined, objectPath);
    if (!avail.ok) {
      throw xdpError(`XDP filter on ${ifname} unavailable: ${avail.reason}`, { ifname, fix: avail.fix, checks: avail.checks });
    }
    return XdpFilter.load(ifname, rules, `XDP attach to ${ifname}`, (xdp) =>
      xdp.xdpAttach(ifname, objectPath, opts.mode ?? 'auto', opts.bpffsRoot ?? DEFAULT_BPFFS_ROOT),
    );
  }

  /**
   * Takes over the maps of the sluice_filter program another loader attached to `ifname` (DPDK's
   * net_af_xdp with xdp_prog=filter_xsk.bpf.o) and installs `rules`. detach() then only releases
   * the maps and pins: the program belongs to its loader and goes when the port closes.
   */
  static adopt(ifname: string, rules: XdpRules, opts: Pick<XdpAttachOptions, 'bpffsRoot'> = {}): XdpFilter {
    return XdpFilter.load(ifname, rules, `XDP adopt on ${ifname}`, (xdp) => xdp.xdpAdopt(ifname, opts.bpffsRoot ?? DEFAULT_BPFFS_ROOT));
  }

  /**
   * What attach and adopt share: `open` gets the program's maps (typed errors say `what`), then
   * `rules` go in; if they cannot, the filter is released again and the error thrown.
   */
  private static load(ifname: string, rules: XdpRules, what: string, open: (xdp: NativeXdp) => XdpAttachResult): XdpFilter {
    const native = nativeAvailable();
    const xdp = native.ok ? nativeXdp(native.addon) : null;
    if (xdp === null) throw xdpError(`XDP filter on ${ifname} unavailable: the addon has no XDP loader (libbpf at build time)`, { ifname });
    let res: XdpAttachResult;
    try {
      res = open(xdp);
    } catch (e) {
      throw fromNative(e, what);
    }
    const f = new XdpFilter(xdp, res.handle, ifname, res.progId, res.mode, res.pinDir);
    try {
      f.setRules(rules);
    } catch (e) {
      f.detach();
      throw e;
    }
    return f;
  }

  /**
   * Replaces the rules in the maps without detaching the program (its id stays the same). A
   * deny rule present before and after keeps its counter; a new one starts at zero.
   */
  setRules(rules: XdpRules): void {
    if (this.detached) throw xdpError(`XDP filter on ${this.ifname} is detached`, { ifname: this.ifname });
    const max = this.xdp.xdpLimits.maxRules;
    const deny = dedupe(rules.deny);
    const allow = dedupe(rules.allow);
    if (deny.length > max || allow.length > max) {
      throw xdpError(`XDP filter holds at most ${max} deny and ${max} allow prefixes, got ${deny.length} and ${allow.length}`, { field: deny.length > max ? 'deny' : 'allow' });
    }
    const rate = rules.synRatePerSource;
    if (!(Number.isFinite(rate) && rate >= 0) || (rate > 0 && !(Number.isInteger(rules.synBurstPerSource) && rules.synBurstPerSource >= 1))) {
      throw xdpError(`XDP SYN limit needs rate >= 0 and burst >= 1, got rate ${rate} burst ${rules.synBurstPerSource}`, { field: 'synRatePerSource' });
    }
    // GCRA (see filter.bpf.c): one SYN per interval, up to `burst` back to back.
    const interval = rate > 0 ? Math.max(1, Math.round(1e9 / rate)) : 0;
    const tolerance = rate > 0 ? interval * (rules.synBurstPerSource - 1) : 0;

    const keys = deny.map(([key]) => key);
    const keep = new Set(keys);
    const free: number[] = [];
    for (let s = SLOT_FIRST_DENY + max - 1; s >= SLOT_FIRST_DENY; s--) free.push(s);
    const next = new Map<string, number>();
    for (const [k, s] of this.slots) if (keep.has(k)) next.set(k, s);
    const used = new Set(next.values());
    const freeSlots = free.filter((s) => !used.has(s));
    const reset: number[] = [];
    for (const k of keys) {
      if (next.has(k)) continue;
      const s = freeSlots.pop()!;
      next.set(k, s);
      reset.push(s);
    }
    const denyArr = new Uint32Array(deny.length * 3);
    deny.forEach(([k, p], i) => {
      denyArr[i * 3] = p.network >>> 0;
      denyArr[i * 3 + 1] = p.prefixLength;
      denyArr[i * 3 + 2] = next.get(k)!;
    });
    const allowArr = new Uint32Array(allow.length * 2);
    allow.forEach(([, p], i) => {
      allowArr[i * 2] = p.network >>> 0;
      allowArr[i * 2 + 1] = p.prefixLength;
    });
    try {
      this.xdp.xdpSetRules(this.handle, denyArr, allowArr, interval, tolerance, rules.destination >>> 0, Uint32Array.from(reset));
    } catch (e) {
      throw fromNative(e, `XDP rules on ${this.ifname}`);
    }
    this.slots.clear();
    for (const [k, s] of next) this.slots.set(k, s);
    this.ruleOrder = keys;
  }

  /** Counters summed over CPUs; one map read per slot in use. */
  counters(): XdpCounters {
    if (this.detached) throw xdpError(`XDP filter on ${this.ifname} is detached`, { ifname: this.ifname });
    let top = SLOT_FIRST_DENY;
    for (const s of this.slots.values()) if (s + 1 > top) top = s + 1;
    const b = this.counterBuf;
    try {
      this.xdp.xdpCounters(this.handle, b, top);
    } catch (e) {
      throw fromNative(e, `XDP counters on ${this.ifname}`);
    }
    const at = (s: number): XdpCount => ({ packets: b[s * 2], bytes: b[s * 2 + 1] });
    const rules = this.ruleOrder.map((rule) => ({ rule, ...at(this.slots.get(rule)!) }));
    const deny = { packets: 0, bytes: 0 };
    for (const r of rules) {
      deny.packets += r.packets;
      deny.bytes += r.bytes;
    }
    const notAllowed = at(SLOT_NOT_ALLOWED);
    const synRate = at(SLOT_SYN_RATE);
    return {
      passed: at(SLOT_PASS),
      notAllowed,
      synRate,
      deny,
      dropped: { packets: deny.packets + notAllowed.packets + synRate.packets, bytes: deny.bytes + notAllowed.bytes + synRate.bytes },
      rules,
    };
  }

  get attached(): boolean {
    return !this.detached;
  }

  /** Detaches the program and removes the pinned maps. Idempotent. */
  detach(): void {
    if (this.detached) return;
    this.detached = true;
    try {
      this.xdp.xdpDetach(this.handle);
    } catch (e) {
      throw fromNative(e, `XDP detach from ${this.ifname}`);
    }
  }
}

/** Canonical 'a.b.c.d/n' keys, first occurrence kept (two equal prefixes are one trie entry). */
function dedupe(prefixes: readonly XdpPrefix[]): [string, XdpPrefix][] {
  const seen = new Map<string, XdpPrefix>();
  for (const p of prefixes) {
    if (!(Number.isInteger(p.prefixLength) && p.prefixLength >= 0 && p.prefixLength <= 32)) {
      throw xdpError(`XDP prefix length must be an integer 0-32, got ${p.prefixLength}`, { field: 'prefixLength' });
    }
    const k = formatPrefix(p);
    if (!seen.has(k)) seen.set(k, p);
  }
  return [...seen];
}
