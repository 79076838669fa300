// Packet ports move bursts of Ethernet frames between a device (TAP, DPDK, the in-process memory
// wire) and preallocated buffers. One call moves a whole burst; no JS object is made per frame:
// frame i of a batch lives at data[i * slotSize, i * slotSize + lengths[i]).

export interface FrameBatch {
  /** capacity * slotSize bytes, allocated once. */
  readonly data: Uint8Array;
  /** Length of each frame in the batch; only the first `count` entries are meaningful. */
  readonly lengths: Uint32Array;
  readonly slotSize: number;
  readonly capacity: number;
}

export function createFrameBatch(capacity: number, slotSize: number): FrameBatch {
  return {
    data: new Uint8Array(capacity * slotSize),
    lengths: new Uint32Array(capacity),
    slotSize,
    capacity,
  };
}

export interface PortCounters {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Frames the device or the port dropped (ring full, too large, send error). */
  rxDropped: number;
  txDropped: number;
}

export type PortBackend = 'tap' | 'dpdk' | 'memory';

export interface PacketPort {
  readonly backend: PortBackend;
  readonly name: string;
  /** 6 bytes. */
  readonly mac: Uint8Array;
  /** IP MTU (Ethernet payload), e.g. 1500. */
  readonly mtu: number;
  /** Fill `batch` with up to batch.capacity received frames; returns how many. Never blocks. */
  rxBurst(batch: FrameBatch): number;
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
  /** One received frame at buf[off, off + len). `now` is milliseconds on the loop's clock. */
  input(buf: Uint8Array, off: number, len: number, now: number): void;
  /** Write frames to send into `batch` slots from 0; returns how many were written. */
  output(batch: FrameBatch, now: number): number;
  /** Earliest time (ms, same clock) a timer needs poll; Infinity when none. */
  nextDeadline(): number;
}
