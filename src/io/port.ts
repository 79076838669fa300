// Packet ports move bursts of Ethernet frames between a device (TAP, DPDK, the in-process memory
// wire) and preallocated buffers. One call moves a whole burst; no JS object is made per frame:
// frame i of a batch lives at data[i * slotSize, i * slotSize + lengths[i]), or, in an rx batch
// with offsets (a port's own memory, PacketPort.createRxBatch), at
// data[offsets[i], offsets[i] + lengths[i]).

export interface FrameBatch {
  /**
   * capacity * slotSize bytes, allocated once; or, with `offsets`, a view the port owns (DPDK
   * in place: its whole mbuf pool), valid while the port is open.
   */
  readonly data: Uint8Array;
  /**
   * rx only, set by the port that made the batch (createRxBatch): where frame i starts in
   * `data`, written by each rxBurst. The frame bytes are the port's until its next rxBurst.
   */
  readonly offsets?: Uint32Array;
  /** Length of each frame in the batch; only the first `count` entries are meaningful. */
  readonly lengths: Uint32Array;
  /**
   * Checksum offload, one byte per frame, used only with a port whose `offloads` say so: on rx the
   * port's verdicts (RX_*), on tx the checksums the port is to fill in (TX_*).
   */
  readonly flags: Uint8Array;
  readonly slotSize: number;
  readonly capacity: number;
}

export function createFrameBatch(capacity: number, slotSize: number): FrameBatch {
  return {
    data: new Uint8Array(capacity * slotSize),
    lengths: new Uint32Array(capacity),
    flags: new Uint8Array(capacity),
    slotSize,
    capacity,
  };
}

// batch.flags values; native/src/sluice.h (kCsum*, kTx*) must match.
// Received frames: two 2-bit verdicts, the IPv4 header checksum's in bits 0-1 and the TCP
// checksum's in bits 2-3 (RX_L4_SHIFT), each RX_CSUM_NONE, RX_CSUM_GOOD or RX_CSUM_BAD.
/** Not checked: the stack verifies it (not IPv4/TCP, a fragment, a header too short to trust). */
export const RX_CSUM_NONE = 0;
export const RX_CSUM_GOOD = 1;
export const RX_CSUM_BAD = 2;
export const RX_L4_SHIFT = 2;
/** Frames to send: the port fills the IPv4 header checksum... */
export const TX_IP_CSUM = 1;
/** ...and the TCP checksum (pseudo-header included) of an unfragmented IPv4/TCP frame. */
export const TX_TCP_CSUM = 2;

/**
 * Checksum work a port does for the stack, as a NIC's checksum offload would (the TAP and DPDK
 * ports do it in C while each frame is in cache; the memory wire does none, so its corruption
 * injection meets the stack's own checks).
 */
export interface PortOffloads {
  /** rxBurst writes each received frame's verdicts into batch.flags. */
  readonly rxChecksum: boolean;
  /** txBurst fills the checksums batch.flags asks for (TX_IP_CSUM, TX_TCP_CSUM). */
  readonly txChecksum: boolean;
}

export const NO_OFFLOADS: PortOffloads = Object.freeze({ rxChecksum: false, txChecksum: false });
export const CHECKSUM_OFFLOADS: PortOffloads = Object.freeze({ rxChecksum: true, txChecksum: true });

export interface PortCounters {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Frames the device or the port dropped (ring full, too large, send error). */
  rxDropped: number;
  txDropped: number;
}

/**
 * Adds one native burst to `c`: `moved` frames returned by the burst (rx: delivered; tx:
 * consumed, the dropped ones included) and its stats out-parameter ([0] dropped, [1] bytes).
 */
export function countBurst(c: PortCounters, dir: 'rx' | 'tx', moved: number, stats: Uint32Array): void {
  const dropped = stats[0]!;
  if (dir === 'rx') {
    c.rxFrames += moved;
    c.rxBytes += stats[1]!;
    c.rxDropped += dropped;
  } else {
    c.txFrames += moved - dropped;
    c.txBytes += stats[1]!;
    c.txDropped += dropped;
  }
}

export type PortBackend = 'tap' | 'dpdk' | 'memory';

export interface PacketPort {
  readonly backend: PortBackend;
  readonly name: string;
  /** 6 bytes. */
  readonly mac: Uint8Array;
  /** IP MTU (Ethernet payload), e.g. 1500. */
  readonly mtu: number;
  /** Checksum work the port does in the stack's place (NO_OFFLOADS for none). */
  readonly offloads: PortOffloads;
  /** Fill `batch` with up to batch.capacity received frames; returns how many. Never blocks. */
  rxBurst(batch: FrameBatch): number;
  /**
   * The rx batch this port fills best (PortPump asks for it): a port that can expose received
   * frames where they already lie returns one with `offsets`. Without it: createFrameBatch.
   */
  createRxBatch?(capacity: number, slotSize: number): FrameBatch;
  /** Send frames 0..count-1 of `batch`; returns how many the device took (the rest are the caller's to retry or drop). */
  txBurst(batch: FrameBatch, count: number): number;
  /**
   * A file descriptor that becomes readable when frames wait, for sleeping when idle
   * (TAP: the tun fd; DPDK: -1, it is poll-only). The poll loop uses it to back off.
   */
  readonly waitFd: number;
  counters(): PortCounters;
  close(): void;
}

/** What the poll loop drives: the netstack, behind an interface so io never imports net. */
export interface PacketProcessor {
  /**
   * One received frame at buf[off, off + len). `now` is milliseconds on the loop's clock.
   * `rxFlags` is the port's checksum verdicts for it (RX_*), 0 when the port checks none.
   */
  input(buf: Uint8Array, off: number, len: number, now: number, rxFlags: number): void;
  /**
   * Write frames to send into `batch` slots from 0; returns how many were written. With a port
   * that offloads tx checksums, batch.flags[i] says which ones frame i leaves to the port.
   */
  output(batch: FrameBatch, now: number): number;
  /** Earliest time (ms, same clock) a timer needs poll; Infinity when none. */
  nextDeadline(): number;
  /** Told once, before the first frame, what the port under it offloads (PortPump does it). */
  useOffloads?(offloads: PortOffloads): void;
}
