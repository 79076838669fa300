// A PacketPort around a real one (the TAP) that drops chosen received TCP data frames before the
// stack sees them, so the peer's own TCP (Linux's, on the other side of the TAP) must retransmit
// them. What is dropped is named by stream offset, not by frame count: the first `copies` frames
// from the peer that carry byte `offset` of the connection's stream (counted from its ISN + 1).
// The same bytes are lost whatever segment sizes, ACK timing or retransmission strategy the peer
// uses, and each target is lost a bounded number of times. Frames are parsed here directly
// (Ethernet, IPv4, TCP), independent of src/net, like test/io/frames.ts.

import type { FrameBatch, PacketPort, PortCounters } from '../../src/io/port.js';

export interface DropTarget {
  /** Stream offset of a byte the peer sends (0 = the first byte after its SYN). */
  offset: number;
  /** How many frames carrying it to drop: 1 loses the original, 2 also its first retransmission. */
  copies: number;
}

export interface DroppedFrame {
  offset: number;
  /** Stream offset of the dropped frame's first byte, and its payload length. */
  start: number;
  len: number;
  /** 1 for the first copy of this target dropped, 2 for the second... */
  copy: number;
}

const ETHERTYPE_IPV4 = 0x0800;
const PROTO_TCP = 6;
const SYN = 0x02;
const ACK = 0x10;

export class RxDropPort implements PacketPort {
  /**
   * No checksum offload: the stack checks and fills every checksum itself. (Frames are moved
   * within the batch here; any per-frame verdicts of the port below would not follow them.)
   */
  readonly offloads = Object.freeze({ rxChecksum: false, txChecksum: false });
  readonly dropped: DroppedFrame[] = [];
  /** Data frames from the peer to `dstPort` seen (dropped or not). */
  dataFrames = 0;
  private peerPort = -1;
  private isn = 0;
  private readonly left: number[];

  constructor(
    readonly inner: PacketPort,
    /** The connection's local (our) port; its peer is whoever sends the first SYN to it. */
    readonly dstPort: number,
    readonly targets: readonly DropTarget[],
  ) {
    this.left = targets.map((x) => x.copies);
  }

  get backend(): PacketPort['backend'] {
    return this.inner.backend;
  }
  get name(): string {
    return this.inner.name;
  }
  get mac(): Uint8Array {
    return this.inner.mac;
  }
  get mtu(): number {
    return this.inner.mtu;
  }
  get waitFd(): number {
    return this.inner.waitFd;
  }

  /** Every target dropped as many times as asked. */
  get done(): boolean {
    return this.left.every((n) => n === 0);
  }

  rxBurst(batch: FrameBatch): number {
    const n = this.inner.rxBurst(batch);
    const slot = batch.slotSize;
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const off = i * slot;
      const len = batch.lengths[i]!;
      if (this.drop(batch.data, off, len)) continue;
      if (kept !== i) {
        batch.data.copyWithin(kept * slot, off, off + len);
        batch.lengths[kept] = len;
      }
      kept++;
    }
    return kept;
  }

  txBurst(batch: FrameBatch, count: number): number {
    return this.inner.txBurst(batch, count);
  }

  counters(): PortCounters {
    return this.inner.counters();
  }

  close(): void {
    this.inner.close();
  }

  private drop(b: Uint8Array, off: number, len: number): boolean {
    if (len < 14 + 20 + 20 || ((b[off + 12]! << 8) | b[off + 13]!) !== ETHERTYPE_IPV4) return false;
    const ip = off + 14;
    const ihl = (b[ip]! & 0x0f) * 4;
    if (b[ip + 9] !== PROTO_TCP || ihl < 20) return false;
    const total = (b[ip + 2]! << 8) | b[ip + 3]!;
    const tcp = ip + ihl;
    if (tcp + 20 > off + len) return false;
    const sport = (b[tcp]! << 8) | b[tcp + 1]!;
    const dport = (b[tcp + 2]! << 8) | b[tcp + 3]!;
    if (dport !== this.dstPort) return false;
    const seq = ((b[tcp + 4]! << 24) | (b[tcp + 5]! << 16) | (b[tcp + 6]! << 8) | b[tcp + 7]!) >>> 0;
    const flags = b[tcp + 13]!;
    if ((flags & (SYN | ACK)) === SYN) {
      // A new connection (or its retransmitted SYN): its stream starts after this ISN.
      if (sport !== this.peerPort || seq !== this.isn) {
        this.peerPort = sport;
        this.isn = seq;
        for (let k = 0; k < this.targets.length; k++) this.left[k] = this.targets[k]!.copies;
      }
      return false;
    }
    if (sport !== this.peerPort) return false;
    const payload = total - ihl - (b[tcp + 12]! >> 4) * 4;
    if (payload <= 0) return false;
    this.dataFrames++;
    const start = (seq - this.isn - 1) >>> 0;
    for (let k = 0; k < this.targets.length; k++) {
      const target = this.targets[k]!;
      if (this.left[k] === 0 || ((target.offset - start) >>> 0) >= payload) continue;
      this.left[k]!--;
      this.dropped.push({ offset: target.offset, start, len: payload, copy: target.copies - this.left[k]! });
      return true;
    }
    return false;
  }
}
