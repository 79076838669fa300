// The TypeScript face of native/ (sluice_native.node): loads the addon once, types its functions
// and turns its errors into SluiceErrors. The addon only does what JavaScript cannot (ioctl, raw
// fd I/O, libuv poll handles); everything else stays here or above.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SluiceError, type ErrorCode } from '../errors.js';

export interface TapOpenResult {
  fd: number;
  /** The interface name the kernel chose (a template like "sluice%d" is filled in). */
  name: string;
  /** The kernel side's MAC address (SIOCGIFHWADDR), 6 bytes. */
  mac: Uint8Array;
}

export interface FdWaiter {
  /** Start watching; the callback fires once when the fd is readable, then the waiter disarms. */
  arm(): void;
  disarm(): void;
  /** Stop and release the libuv handle. Call before closing the fd. */
  close(): void;
}

export interface NativeFeatures {
  tap: boolean;
  fdWaiter: boolean;
  /** The TAP and DPDK bursts verify and fill IPv4/TCP checksums (batch flags). */
  checksumOffload?: boolean;
  dpdk: boolean;
  /** Whether `pkg-config --exists libdpdk` held when the addon was built. */
  libdpdkAtBuild: boolean;
  /** Whether the XDP loader was compiled in (libbpf found by pkg-config at build time). */
  xdp?: boolean;
}

/** What xdpAttach returns (native/src/xdp.cc). */
export interface XdpAttachResult {
  handle: number;
  progId: number;
  ifindex: number;
  /** The mode the kernel reports: 'native' (driver), 'generic' (skb) or 'offload'. */
  mode: string;
  pinDir: string;
}

/** The XDP loader's functions, present when features.xdp (see src/io/xdp.ts for the meaning). */
export interface NativeXdp {
  xdpAttach(ifname: string, objPath: string, mode: string, bpffsRoot: string): XdpAttachResult;
  xdpAdopt(ifname: string, bpffsRoot: string): XdpAttachResult;
  xdpSetRules(handle: number, deny: Uint32Array, allow: Uint32Array, synIntervalNs: number, synToleranceNs: number, dst: number, resetSlots: Uint32Array): void;
  xdpCounters(handle: number, out: Float64Array, slots: number): number;
  xdpDetach(handle: number): void;
  xdpLimits: { maxRules: number; slots: number };
}

export interface DpdkEalInfo {
  lcores: number;
  mainLcore: number;
  /** Ethernet ports the EAL probed (from --vdev and the PCI allow list). */
  ports: number;
  /** rte_version(), e.g. "DPDK 22.11.11". */
  version: string;
}

export interface DpdkPortOpenOptions {
  /** A vdev devargs string ("net_af_packet0,iface=veth0"), or the name of a port given with --vdev or a PCI address. */
  device: string;
  rxQueueSize?: number;
  txQueueSize?: number;
  /** mbufs in the port's pool; at least rx + tx ring + 64 + mempoolCache. */
  mempoolSize?: number;
  mempoolCache?: number;
  mtu?: number;
  promiscuous?: boolean;
  /** Enable the device's IPv4+TCP checksum offload, per direction, where it has both. Default true. */
  nicChecksum?: boolean;
}

export interface DpdkOffloads {
  ipv4Checksum: boolean;
  tcpChecksum: boolean;
  udpChecksum: boolean;
}

export interface DpdkLink {
  up: boolean;
  speedMbps: number;
  fullDuplex: boolean;
}

export interface DpdkPortInfo {
  portId: number;
  name: string;
  driver: string;
  mac: Uint8Array;
  mtu: number;
  socketId: number;
  rxDescriptors: number;
  txDescriptors: number;
  link: DpdkLink;
  capabilities: {
    rx: DpdkOffloads & { scatter: boolean };
    tx: DpdkOffloads & { tcpSegmentation: boolean; multiSegment: boolean };
  };
  mempool: { size: number; dataRoom: number; cache: number };
  /** Checksum offload enabled on the device: rx verdicts from its ol_flags, tx checksums filled by it. */
  checksumInUse: { rx: boolean; tx: boolean };
}

export interface DpdkPortStats {
  ipackets: number;
  opackets: number;
  ibytes: number;
  obytes: number;
  imissed: number;
  ierrors: number;
  oerrors: number;
  rxNombuf: number;
  /** Frames longer than the rx slot, dropped by the port. */
  rxTooBig: number;
  /** Frames of length 0 or longer than one mbuf, dropped on tx. */
  txTooBig: number;
  /** tx bursts cut short by an empty mbuf pool. */
  txNoMbuf: number;
  /** Frames whose IPv4 checksum verdict the device gave (checksumInUse.rx). */
  rxNicVerdicts: number;
  /** Frames sent with their checksums left to the device (checksumInUse.tx). */
  txNicChecksums: number;
  mempoolAvailable: number;
  /** The PMD's extended statistics by name (rte_eth_xstats_get). */
  xstats: Record<string, number>;
}

/** What flowReplace did (native/src/flow.cc). */
export interface DpdkFlowReplaceResult {
  /** Flows in force on the port now, one per rule given, in order. */
  flows: number;
  /** Whether they count matches (COUNT); false when the PMD refused COUNT and took the rules without it. */
  counted: boolean;
  /** The PMD's refusal of COUNT (an rte_flow_validate message), when counted is false for that reason. */
  countRefused?: string;
  /** Flows of earlier sets the PMD would not destroy (still in the NIC; tried again by the next call). */
  stale: number;
  staleError?: string;
}

/** Present when the addon was built with libdpdk (features.dpdk). */
export interface DpdkAddon {
  dpdkInit(args: string[]): DpdkEalInfo;
  dpdkPortOpen(options: DpdkPortOpenOptions): DpdkPortInfo;
  dpdkRxBurst(portId: number, data: Uint8Array, lengths: Uint32Array, slotSize: number, capacity: number, stats?: Uint32Array, flags?: Uint8Array): number;
  dpdkTxBurst(portId: number, data: Uint8Array, lengths: Uint32Array, count: number, slotSize: number, stats?: Uint32Array, flags?: Uint8Array): number;
  /**
   * One external ArrayBuffer over the port's mbuf pool (its single memory chunk; SLUICE_DPDK_MEMPOOL
   * otherwise), the same one while it lives; detached when the port closes.
   */
  dpdkPoolView(portId: number): ArrayBuffer;
  /**
   * rx without a copy: frame i at offsets[i] in the dpdkPoolView buffer, lengths[i] bytes; stats
   * and flags as dpdkRxBurst's. The frames' mbufs are held until the next call or close.
   */
  dpdkRxBurstInPlace(portId: number, offsets: Uint32Array, lengths: Uint32Array, capacity: number, stats?: Uint32Array, flags?: Uint8Array): number;
  dpdkPortStats(portId: number): DpdkPortStats;
  /** The link now (rte_eth_link_get_nowait). */
  dpdkLink(portId: number): DpdkLink;
  dpdkPortClose(portId: number): void;
  dpdkCleanup(): void;
  dpdkState(): { state: 'none' | 'ready' | 'failed' | 'cleaned'; args: string[] };
  /**
   * Replaces the port's flow rules: `rules` holds 4 words per rule (source network and mask
   * as uint32, priority, fate 0 = drop / 1 = queue 0; src/net/filter-flow.ts encodes them). All validated, then created, then the old set
   * destroyed; on a refusal nothing changes and SLUICE_DPDK_FLOW is thrown.
   */
  flowReplace(portId: number, rules: Uint32Array, count: boolean): DpdkFlowReplaceResult;
  /** Packets matched by each flow in force (out[i]; -1 when it has no counter); returns the flow count. */
  flowCounters(portId: number, out: Float64Array): number;
  /** Destroys every flow of the port (rte_flow_flush). */
  flowFlush(portId: number): void;
}

/**
 * The raw addon surface (native/src/*.cc). Bursts: frame i lives at data[i * slotSize, ...) with
 * its length in lengths[i]. `stats`, when given (Uint32Array(2)), receives [frames dropped by this
 * call, bytes moved]. tapRxBurst returns frames read; tapTxBurst returns frames consumed (written
 * or dropped as unsendable); the rest met EAGAIN. `flags` (one byte per slot, src/io/port.ts
 * RX_* / TX_*), when given, turns on checksum offload: rx bursts write each frame's IPv4 and TCP
 * checksum verdicts there, tx bursts fill the checksums each frame's flags ask for.
 */
export interface NativeAddon {
  tapOpen(name: string, mtu: number): TapOpenResult;
  tapRxBurst(fd: number, data: Uint8Array, lengths: Uint32Array, slotSize: number, capacity: number, stats?: Uint32Array, flags?: Uint8Array): number;
  tapTxBurst(fd: number, data: Uint8Array, lengths: Uint32Array, count: number, slotSize: number, stats?: Uint32Array, flags?: Uint8Array): number;
  tapClose(fd: number): void;
  /**
   * The bursts' checksum offload over a batch in memory, no device (tests, benchmarks): writes
   * the rx verdicts of frames 0..count-1 into flags, returns count.
   */
  csumVerifyBurst(data: Uint8Array, lengths: Uint32Array, slotSize: number, count: number, stats: Uint32Array | undefined, flags: Uint8Array): number;
  /** Fills the checksums flags ask for in frames 0..count-1; returns how many were sendable (length 1..slotSize). */
  csumFillBurst(data: Uint8Array, lengths: Uint32Array, count: number, slotSize: number, stats: Uint32Array | undefined, flags: Uint8Array): number;
  FdWaiter: new (fd: number, callback: (status: number) => void) => FdWaiter;
  features: NativeFeatures;
}

/** The addon's DPDK functions, or undefined when it was built without libdpdk. */
export function dpdkAddon(addon: NativeAddon): DpdkAddon | undefined {
  return addon.features.dpdk ? (addon as unknown as DpdkAddon) : undefined;
}

/** The addon's XDP loader, or null when this build has none (no libbpf at build time). */
export function nativeXdp(addon: NativeAddon): NativeXdp | null {
  return addon.features.xdp === true ? (addon as unknown as NativeXdp) : null;
}

const ADDON_RELATIVE = join('native', 'build', 'Release', 'sluice_native.node');
export const BUILD_COMMAND = 'bash native/build.sh';

/** Where the addon would be: the nearest ancestor of this file holding native/binding.gyp. */
export function addonPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'native', 'binding.gyp'))) return join(dir, ADDON_RELATIVE);
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  // src/io/native.ts (or dist/src/io/native.js) sits two or three levels below the root.
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', ADDON_RELATIVE);
}

let cached: NativeAddon | undefined;
let loadError: SluiceError | undefined;

/** The loaded addon, or a SLUICE_NATIVE_MISSING error saying how to build it. */
export function loadNative(): NativeAddon {
  if (cached) return cached;
  if (loadError) throw loadError;
  const path = addonPath();
  if (!existsSync(path)) {
    loadError = new SluiceError(
      'SLUICE_NATIVE_MISSING',
      `native addon not built: ${path} does not exist; build it with '${BUILD_COMMAND}' (needs make, g++, python3 and Node headers)`,
      { path, fix: BUILD_COMMAND },
    );
    throw loadError;
  }
  try {
    const require = createRequire(import.meta.url);
    cached = require(path) as NativeAddon;
    return cached;
  } catch (e) {
    loadError = new SluiceError(
      'SLUICE_NATIVE_MISSING',
      `native addon at ${path} failed to load (${(e as Error).message}); rebuild it with '${BUILD_COMMAND}'`,
      { path, fix: BUILD_COMMAND },
      { cause: e },
    );
    throw loadError;
  }
}

/** Whether the addon loads, without throwing. */
export function nativeAvailable(): { ok: true; addon: NativeAddon } | { ok: false; error: SluiceError } {
  try {
    return { ok: true, addon: loadNative() };
  } catch (e) {
    return { ok: false, error: toSluiceError(e, 'SLUICE_NATIVE_MISSING', '') };
  }
}

const NATIVE_CODES = new Set<string>(['SLUICE_TAP_OPEN', 'SLUICE_TAP_IO', 'SLUICE_PORT_CONFIG', 'SLUICE_NATIVE_MISSING', 'SLUICE_XDP', 'SLUICE_DPDK_EAL', 'SLUICE_DPDK_PORT', 'SLUICE_DPDK_MEMPOOL', 'SLUICE_DPDK_FLOW']);

interface NativeErrorShape {
  code?: unknown;
  errno?: unknown;
  errnoName?: unknown;
  syscall?: unknown;
  /** DPDK errors: the rte_* function that failed. */
  function?: unknown;
  message?: unknown;
  /** rte_flow errors (SLUICE_DPDK_FLOW): rte_strerror, the rte_flow_error type and message, the rule index. */
  strerror?: unknown;
  flowErrorType?: unknown;
  flowErrorMessage?: unknown;
  rule?: unknown;
  countRefused?: unknown;
}

/**
 * Converts an error thrown by the addon ({ code, errno, errnoName, syscall }) into a SluiceError,
 * prefixing `context` (e.g. "tap open sluice%d") to the native message.
 */
export function toSluiceError(e: unknown, fallback: ErrorCode, context: string): SluiceError {
  if (e instanceof SluiceError) return e;
  const n = (typeof e === 'object' && e !== null ? e : {}) as NativeErrorShape;
  const code = typeof n.code === 'string' && NATIVE_CODES.has(n.code) ? (n.code as ErrorCode) : fallback;
  const message = typeof n.message === 'string' ? n.message : String(e);
  const detail: Record<string, unknown> = {};
  if (typeof n.errno === 'number') detail.errno = n.errno;
  if (typeof n.errnoName === 'string' && n.errnoName !== '') detail.errnoName = n.errnoName;
  if (typeof n.syscall === 'string') detail.syscall = n.syscall;
  if (typeof n.function === 'string') detail.function = n.function;
  if (typeof n.strerror === 'string') detail.strerror = n.strerror;
  if (typeof n.flowErrorType === 'string') detail.flowErrorType = n.flowErrorType;
  if (typeof n.flowErrorMessage === 'string') detail.flowErrorMessage = n.flowErrorMessage;
  if (typeof n.rule === 'number' && n.rule >= 0) detail.rule = n.rule;
  if (typeof n.countRefused === 'string') detail.countRefused = n.countRefused;
  return new SluiceError(code, context ? `${context}: ${message}` : message, detail, { cause: e });
}
