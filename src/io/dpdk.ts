// DpdkPort: a PacketPort over a DPDK ethdev (native/src/dpdk.cc): a real NIC bound to vfio-pci in
// production, a virtual device here (net_af_packet, net_af_xdp, net_tap on a veth or TAP). The
// EAL is process-wide and starts once, so it lives in this module, not in a port: every port of
// the process shares the same EAL arguments, and `cleanupDpdk()` ends it for good at shutdown.
// DPDK ports are poll-only (waitFd -1): the poll loop backs off with timers when idle.

import { SluiceError } from '../errors.js';
import { dpdkAddon, loadNative, toSluiceError, BUILD_COMMAND, type DpdkAddon, type DpdkEalInfo, type DpdkLink, type DpdkPortInfo, type DpdkPortStats } from './native.js';
import { CHECKSUM_OFFLOADS, NO_OFFLOADS, countBurst, createFrameBatch, type FrameBatch, type PacketPort, type PortCounters, type PortOffloads } from './port.js';
import { ETH_OVERHEAD, formatMac } from './tap.js';

export interface DpdkPortOptions {
  /** EAL arguments (without argv[0]), e.g. ['--no-huge', '--no-pci', '-m', '256', '--file-prefix', 'sluice']. */
  eal: readonly string[];
  /**
   * The device: a vdev devargs string ("net_af_packet0,iface=veth0"), hot-plugged when the EAL
   * does not have it yet, or the name of a port the EAL already probed (--vdev, or a PCI address
   * from the allow list such as "0000:3b:00.0").
   */
  device: string;
  /** rx descriptors (the PMD may round it). Default 1024. */
  rxQueueSize?: number;
  /** tx descriptors. Default 1024. */
  txQueueSize?: number;
  /** mbufs in the port's pool; must cover both rings, one burst and the cache. Default 4095. */
  mempoolSize?: number;
  /** mbufs in the pool's per-lcore cache (0-512). Default 64. */
  mempoolCache?: number;
  /** IP MTU. Default 1500. */
  mtu?: number;
  /** Receive frames for every MAC (needed only when the stack's MAC is not the port's). Default false. */
  promiscuous?: boolean;
  /** Verify and fill IPv4/TCP checksums in the native bursts (PortOffloads). Default true. */
  checksumOffload?: boolean;
  /**
   * Within that, let the device do it where it has IPv4+TCP checksum offload (rx verdicts from
   * the mbufs' ol_flags, tx checksums filled by the device; info.checksumInUse says per
   * direction), else the bursts compute them. Default true.
   */
  nicChecksum?: boolean;
  /**
   * How the poll loop's rx batch (createRxBatch) gets frames: 'inplace' hands the stack each
   * frame where the PMD put it, in one view over the mbuf pool (no copy; the burst's mbufs are
   * held until the next burst); 'copy' copies each frame into a slot of a preallocated batch.
   * Default: the SLUICE_DPDK_RX_MODE environment variable when set, else 'inplace' ('copy', see
   * rxMode, when the pool is not one memory chunk).
   */
  rxMode?: DpdkRxMode;
}

export type DpdkRxMode = 'inplace' | 'copy';

/** Who verifies (rx) and fills (tx) a port's IPv4/TCP checksums: the NIC, the native bursts, or the TypeScript stack. */
export interface DpdkChecksumsBy {
  rx: 'device' | 'software' | 'stack';
  tx: 'device' | 'software' | 'stack';
}

function rxModeOption(v: unknown, from: string): DpdkRxMode {
  if (v === 'inplace' || v === 'copy') return v;
  throw new SluiceError('SLUICE_PORT_CONFIG', `dpdk: ${from} must be 'inplace' or 'copy', got ${JSON.stringify(v)}`, { field: 'rxMode' });
}

const DPDK_FIX = `install libdpdk-dev and pkg-config (apt-get install libdpdk-dev pkg-config), then rebuild the addon with '${BUILD_COMMAND}'`;

/** The addon's DPDK surface, or SLUICE_DPDK_UNAVAILABLE saying what is missing and how to get it. */
export function requireDpdk(): DpdkAddon {
  const addon = loadNative();
  const d = dpdkAddon(addon);
  if (d) return d;
  const why = addon.features.libdpdkAtBuild
    ? 'the native addon was built without its DPDK port although libdpdk was present; rebuild it'
    : 'the native addon was built without DPDK (pkg-config found no libdpdk at build time)';
  throw new SluiceError('SLUICE_DPDK_UNAVAILABLE', `dpdk: ${why}; ${DPDK_FIX}`, { fix: DPDK_FIX });
}

let ealArgs: readonly string[] | null = null;
let ealInfo: DpdkEalInfo | null = null;

/**
 * Starts the EAL with `args` once per process. Calling again with the same arguments returns the
 * first answer; other arguments are an error (SLUICE_DPDK_EAL), as is any call after cleanupDpdk().
 */
export function initDpdk(args: readonly string[]): DpdkEalInfo {
  const d = requireDpdk();
  if (ealInfo && ealArgs && sameArgs(ealArgs, args)) return ealInfo;
  try {
    ealInfo = d.dpdkInit([...args]);
  } catch (e) {
    throw toSluiceError(e, 'SLUICE_DPDK_EAL', `dpdk EAL [${args.join(' ')}]`);
  }
  ealArgs = [...args];
  return ealInfo;
}

/** Whether the EAL is running in this process. */
export function dpdkRunning(): boolean {
  return ealInfo !== null;
}

/** Closes every port still open and ends the EAL (rte_eal_cleanup); it cannot start again. Idempotent. */
export function cleanupDpdk(): void {
  if (ealInfo === null) return;
  ealInfo = null;
  for (const p of [...openPorts]) p.close();
  try {
    requireDpdk().dpdkCleanup();
  } catch (e) {
    throw toSluiceError(e, 'SLUICE_DPDK_EAL', 'dpdk cleanup');
  }
}

function sameArgs(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

const openPorts = new Set<DpdkPort>();

export class DpdkPort implements PacketPort {
  readonly backend = 'dpdk' as const;
  /** The ethdev name (the devargs up to the first comma), e.g. "net_af_packet0". */
  readonly name: string;
  readonly mac: Uint8Array;
  readonly mtu: number;
  /** Poll-only: no fd to sleep on. */
  readonly waitFd = -1;
  readonly portId: number;
  /** What the port reported when it opened: driver, link, offload capabilities, pool. */
  readonly info: DpdkPortInfo;
  /** Checksums verified and filled by the bursts: by the device where info.checksumInUse says so, else in software. */
  readonly offloads: PortOffloads;

  private readonly d: DpdkAddon;
  private isOpen = true;
  /** rxMode 'inplace': the mbuf pool's view, null in copy mode and once closed. */
  private pool: Uint8Array | null = null;
  /** Why the default 'inplace' fell back to 'copy' (the pool view was refused), if it did. */
  rxModeFallback: string | undefined;
  // [dropped, bytes] out-parameter of each native burst; allocated once.
  private readonly stats = new Uint32Array(2);
  private readonly c: PortCounters = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxDropped: 0, txDropped: 0 };

  /** Starts the EAL (first port of the process) and opens, configures and starts the device. */
  static open(options: DpdkPortOptions): DpdkPort {
    const mtu = options.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 9600) {
      throw new SluiceError('SLUICE_PORT_CONFIG', `dpdk: option 'mtu' must be an integer in [68, 9600], got ${mtu}`, { field: 'mtu' });
    }
    if (typeof options.device !== 'string' || options.device === '') {
      throw new SluiceError('SLUICE_PORT_CONFIG', "dpdk: option 'device' must be a devargs string such as 'net_af_packet0,iface=veth0' or a port name", { field: 'device' });
    }
    const env = process.env['SLUICE_DPDK_RX_MODE'];
    const asked: DpdkRxMode | undefined =
      options.rxMode !== undefined ? rxModeOption(options.rxMode, "option 'rxMode'") : env !== undefined && env !== '' ? rxModeOption(env, 'SLUICE_DPDK_RX_MODE') : undefined;
    initDpdk(options.eal);
    const d = requireDpdk();
    let info: DpdkPortInfo;
    try {
      info = d.dpdkPortOpen({
        device: options.device,
        mtu,
        ...(options.rxQueueSize !== undefined ? { rxQueueSize: options.rxQueueSize } : {}),
        ...(options.txQueueSize !== undefined ? { txQueueSize: options.txQueueSize } : {}),
        ...(options.mempoolSize !== undefined ? { mempoolSize: options.mempoolSize } : {}),
        ...(options.mempoolCache !== undefined ? { mempoolCache: options.mempoolCache } : {}),
        promiscuous: options.promiscuous ?? false,
        nicChecksum: options.nicChecksum ?? true,
      });
    } catch (e) {
      throw toSluiceError(e, 'SLUICE_DPDK_PORT', `dpdk port '${options.device}'`);
    }
    // An addon built before the bursts had checksum offload would send the stack's frames unfilled.
    const offload = options.checksumOffload !== false && loadNative().features.checksumOffload === true;
    const port = new DpdkPort(d, info, offload ? CHECKSUM_OFFLOADS : NO_OFFLOADS);
    openPorts.add(port);
    const mode: DpdkRxMode = asked ?? 'inplace';
    if (mode === 'inplace') {
      try {
        port.pool = new Uint8Array(d.dpdkPoolView(port.portId));
      } catch (e) {
        const err = toSluiceError(e, 'SLUICE_DPDK_MEMPOOL', `dpdk ${port.name} pool view`);
        // Asked for: say so. By default: copy instead, and say why in rxModeFallback.
        if (asked !== undefined) {
          port.close();
          throw err;
        }
        port.rxModeFallback = err.message;
      }
    }
    return port;
  }

  private constructor(d: DpdkAddon, info: DpdkPortInfo, offloads: PortOffloads) {
    this.d = d;
    this.info = info;
    this.offloads = offloads;
    this.portId = info.portId;
    this.name = info.name;
    this.mac = new Uint8Array(info.mac);
    this.mtu = info.mtu;
  }

  /** How createRxBatch's batches get frames ('inplace' only while the pool view exists). */
  get rxMode(): DpdkRxMode {
    return this.pool !== null ? 'inplace' : 'copy';
  }

  /**
   * The rx batch for the poll loop: in place, `data` is the pool view and rxBurst writes each
   * frame's offset into `offsets` (slotSize is kept for callers that size things by it, not used
   * by the burst); in copy mode a plain batch of capacity slots of slotSize bytes.
   */
  createRxBatch(capacity: number, slotSize: number): FrameBatch {
    this.check('createRxBatch');
    if (this.pool === null) return createFrameBatch(capacity, slotSize);
    return { data: this.pool, offsets: new Uint32Array(capacity), lengths: new Uint32Array(capacity), flags: new Uint8Array(capacity), slotSize, capacity };
  }

  /** Largest frame this port carries; rx slots smaller than this drop longer frames. */
  get frameMax(): number {
    return this.mtu + ETH_OVERHEAD;
  }

  get macString(): string {
    return formatMac(this.mac);
  }

  rxBurst(batch: FrameBatch): number {
    this.check('rxBurst');
    let n: number;
    try {
      if (batch.offsets !== undefined) {
        if (batch.data !== this.pool) {
          throw new SluiceError('SLUICE_PORT_CONFIG', `dpdk ${this.name}: an rx batch with offsets must come from this port's createRxBatch`, { field: 'batch' });
        }
        n = this.d.dpdkRxBurstInPlace(this.portId, batch.offsets, batch.lengths, batch.capacity, this.stats, this.offloads.rxChecksum ? batch.flags : undefined);
      } else n = this.d.dpdkRxBurst(this.portId, batch.data, batch.lengths, batch.slotSize, batch.capacity, this.stats, this.offloads.rxChecksum ? batch.flags : undefined);
    } catch (e) {
      throw toSluiceError(e, 'SLUICE_DPDK_PORT', `dpdk ${this.name} rx`);
    }
    countBurst(this.c, 'rx', n, this.stats);
    return n;
  }

  txBurst(batch: FrameBatch, count: number): number {
    if (count <= 0) return 0;
    this.check('txBurst');
    let consumed: number;
    try {
      consumed = this.d.dpdkTxBurst(this.portId, batch.data, batch.lengths, count, batch.slotSize, this.stats, this.offloads.txChecksum ? batch.flags : undefined);
    } catch (e) {
      throw toSluiceError(e, 'SLUICE_DPDK_PORT', `dpdk ${this.name} tx`);
    }
    countBurst(this.c, 'tx', consumed, this.stats);
    return consumed;
  }

  counters(): PortCounters {
    return { ...this.c };
  }

  /** The device's own counters and xstats (what the PMD saw, including frames missed for want of descriptors). */
  deviceStats(): DpdkPortStats {
    return this.query('stats', (id) => this.d.dpdkPortStats(id));
  }

  /** Who does the checksums, per direction (info.checksumInUse, then offloads). */
  get checksumsBy(): DpdkChecksumsBy {
    const inUse = this.info.checksumInUse;
    return {
      rx: inUse.rx ? 'device' : this.offloads.rxChecksum ? 'software' : 'stack',
      tx: inUse.tx ? 'device' : this.offloads.txChecksum ? 'software' : 'stack',
    };
  }

  /** The link now, as the PMD sees it (info.link is the state at open). */
  link(): DpdkLink {
    return this.query('link', (id) => this.d.dpdkLink(id));
  }

  /** A control-path query of the open port; native errors come back as SLUICE_DPDK_PORT. */
  private query<T>(what: string, f: (portId: number) => T): T {
    this.check(what);
    try {
      return f(this.portId);
    } catch (e) {
      throw toSluiceError(e, 'SLUICE_DPDK_PORT', `dpdk ${this.name} ${what}`);
    }
  }

  get closed(): boolean {
    return !this.isOpen;
  }

  /** Stops and closes the device and frees its pool. Idempotent; the EAL keeps running. */
  close(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    // The native close detaches the view; batches still holding it read as empty.
    this.pool = null;
    openPorts.delete(this);
    try {
      this.d.dpdkPortClose(this.portId);
    } catch (e) {
      throw toSluiceError(e, 'SLUICE_DPDK_PORT', `dpdk ${this.name} close`);
    }
  }

  private check(op: string): void {
    if (!this.isOpen) throw new SluiceError('SLUICE_DPDK_PORT', `dpdk ${this.name}: ${op} on a closed port`, { op });
  }
}
