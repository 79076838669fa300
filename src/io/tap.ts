// TapPort: a PacketPort over a Linux TAP device (/dev/net/tun). The kernel side of the TAP is one
// host on a virtual Ethernet link; Sluice's user-space stack is the other host, so the port's own
// `mac` differs from the kernel interface's MAC (`kernelMac`).

import { randomBytes } from 'node:crypto';
import { SluiceError } from '../errors.js';
import { loadNative, toSluiceError, type NativeAddon } from './native.js';
import { CHECKSUM_OFFLOADS, NO_OFFLOADS, countBurst, type FrameBatch, type PacketPort, type PortCounters, type PortOffloads } from './port.js';

export interface TapPortOptions {
  /** Interface name or template; "%d" is filled in by the kernel. Default "sluice%d". */
  name?: string;
  /** IP MTU set on the interface (SIOCSIFMTU). Default 1500. */
  mtu?: number;
  /** The user-space stack's MAC. Default: random, locally administered, unicast. */
  mac?: Uint8Array;
  /** Verify and fill IPv4/TCP checksums in the native bursts (PortOffloads). Default true. */
  checksumOffload?: boolean;
}

/** Ethernet header (14) plus one 802.1Q tag (4): the largest frame is mtu + 18 bytes. */
export const ETH_OVERHEAD = 18;

function checkMac(mac: Uint8Array): void {
  if (mac.length !== 6) {
    throw new SluiceError('SLUICE_PORT_CONFIG', `tap: option 'mac' must be 6 bytes, got ${mac.length}`, { field: 'mac' });
  }
  if ((mac[0]! & 1) !== 0) {
    throw new SluiceError('SLUICE_PORT_CONFIG', `tap: option 'mac' must be unicast (bit 0 of byte 0 clear), got ${formatMac(mac)}`, {
      field: 'mac',
    });
  }
}

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

function randomLocalMac(): Uint8Array {
  const mac = new Uint8Array(randomBytes(6));
  // IEEE 802: bit 1 of the first octet = locally administered, bit 0 = group; set and clear.
  mac[0] = (mac[0]! | 0x02) & 0xfe;
  return mac;
}

export class TapPort implements PacketPort {
  readonly backend = 'tap' as const;
  readonly name: string;
  readonly mac: Uint8Array;
  /** MAC of the kernel's side of the TAP (the peer the stack talks to). */
  readonly kernelMac: Uint8Array;
  readonly mtu: number;
  readonly waitFd: number;
  readonly offloads: PortOffloads;

  private readonly addon: NativeAddon;
  private fd: number;
  // [dropped, bytes] out-parameter of each native burst; allocated once.
  private readonly stats = new Uint32Array(2);
  private readonly c: PortCounters = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxDropped: 0, txDropped: 0 };

  /** Creates the TAP interface (needs CAP_NET_ADMIN) and opens it non-blocking. */
  static open(options: TapPortOptions = {}): TapPort {
    return new TapPort(options);
  }

  private constructor(options: TapPortOptions) {
    const mtu = options.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535 - ETH_OVERHEAD) {
      throw new SluiceError('SLUICE_PORT_CONFIG', `tap: option 'mtu' must be an integer in [68, ${65535 - ETH_OVERHEAD}], got ${mtu}`, {
        field: 'mtu',
      });
    }
    const requested = options.name ?? 'sluice%d';
    if (options.mac) checkMac(options.mac);
    this.addon = loadNative();
    let opened;
    try {
      opened = this.addon.tapOpen(requested, mtu);
    } catch (e) {
      throw toSluiceError(e, 'SLUICE_TAP_OPEN', `tap open '${requested}'`);
    }
    this.fd = opened.fd;
    this.waitFd = opened.fd;
    this.name = opened.name;
    this.kernelMac = new Uint8Array(opened.mac);
    this.mac = options.mac ? new Uint8Array(options.mac) : randomLocalMac();
    this.mtu = mtu;
    // An addon built before the bursts had checksum offload would send the stack's frames unfilled.
    this.offloads = options.checksumOffload !== false && this.addon.features.checksumOffload === true ? CHECKSUM_OFFLOADS : NO_OFFLOADS;
  }

  /** Largest frame this port carries; rx slots smaller than this drop longer frames. */
  get frameMax(): number {
    return this.mtu + ETH_OVERHEAD;
  }

  rxBurst(batch: FrameBatch): number {
    const fd = this.openFd('rxBurst');
    let n: number;
    try {
      n = this.addon.tapRxBurst(fd, batch.data, batch.lengths, batch.slotSize, batch.capacity, this.stats, this.offloads.rxChecksum ? batch.flags : undefined);
    } catch (e) {
      throw toSluiceError(e, 'SLUICE_TAP_IO', `tap ${this.name} rx`);
    }
    countBurst(this.c, 'rx', n, this.stats);
    return n;
  }

  txBurst(batch: FrameBatch, count: number): number {
    if (count <= 0) return 0;
    const fd = this.openFd('txBurst');
    let consumed: number;
    try {
      consumed = this.addon.tapTxBurst(fd, batch.data, batch.lengths, count, batch.slotSize, this.stats, this.offloads.txChecksum ? batch.flags : undefined);
    } catch (e) {
      throw toSluiceError(e, 'SLUICE_TAP_IO', `tap ${this.name} tx`);
    }
    countBurst(this.c, 'tx', consumed, this.stats);
    return consumed;
  }

  counters(): PortCounters {
    return { ...this.c };
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  /** Closes the fd; the kernel then deletes the (non-persistent) interface. Idempotent. */
  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      this.addon.tapClose(fd);
    } catch (e) {
      throw toSluiceError(e, 'SLUICE_TAP_IO', `tap ${this.name} close`);
    }
  }

  private openFd(op: string): number {
    if (this.fd < 0) throw new SluiceError('SLUICE_TAP_IO', `tap ${this.name}: ${op} on a closed port`, { op });
    return this.fd;
  }
}
