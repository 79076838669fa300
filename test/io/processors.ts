// Small real PacketProcessors for driving ports in tests and benches: an echo host and a source
// that sends numbered frames and checks what comes back. Each keeps its own preallocated queue.
// And port wrappers: a device with a short tx ring, the native checksum offload around a memory port.

import type { MemoryPort } from '../../src/io/memory.js';
import type { NativeAddon } from '../../src/io/native.js';
import { CHECKSUM_OFFLOADS, type FrameBatch, type PacketPort, type PacketProcessor, type PortCounters } from '../../src/io/port.js';

/** Reflects every frame back with source and destination MACs swapped. */
export class EchoProcessor implements PacketProcessor {
  inputs = 0;
  outputs = 0;
  private readonly q: Uint8Array;
  private readonly qLen: Uint32Array;
  private head = 0;
  private size = 0;

  constructor(
    private readonly slot = 1536,
    private readonly cap = 4096,
  ) {
    this.q = new Uint8Array(slot * cap);
    this.qLen = new Uint32Array(cap);
  }

  input(buf: Uint8Array, off: number, len: number, _now?: number): void {
    this.inputs++;
    if (this.size === this.cap || len > this.slot) return;
    const i = (this.head + this.size) % this.cap;
    const o = i * this.slot;
    this.q.set(buf.subarray(off + 6, off + 12), o);
    this.q.set(buf.subarray(off, off + 6), o + 6);
    this.q.set(buf.subarray(off + 12, off + len), o + 12);
    this.qLen[i] = len;
    this.size++;
  }

  output(batch: FrameBatch, _now?: number): number {
    let n = 0;
    while (n < batch.capacity && this.size > 0) {
      const len = this.qLen[this.head]!;
      batch.data.set(this.q.subarray(this.head * this.slot, this.head * this.slot + len), n * batch.slotSize);
      batch.lengths[n] = len;
      this.head = (this.head + 1) % this.cap;
      this.size--;
      n++;
    }
    this.outputs += n;
    return n;
  }

  nextDeadline(): number {
    return Infinity;
  }
}

/** Sends `total` numbered frames of `frameLen` bytes (at most `window` unanswered) and counts echoes. */
export class SourceProcessor implements PacketProcessor {
  sent = 0;
  received = 0;
  outOfOrder = 0;
  bytesReceived = 0;
  private expected = 0;

  constructor(
    readonly total: number,
    readonly frameLen = 64,
    readonly window = Infinity,
    readonly src = new Uint8Array([2, 0, 0, 0, 0, 0xa]),
    readonly dst = new Uint8Array([2, 0, 0, 0, 0, 0xb]),
  ) {}

  input(buf: Uint8Array, off: number, len: number, _now?: number): void {
    const id = ((buf[off + 14]! << 24) | (buf[off + 15]! << 16) | (buf[off + 16]! << 8) | buf[off + 17]!) >>> 0;
    if (id !== this.expected) this.outOfOrder++;
    this.expected = id + 1;
    this.received++;
    this.bytesReceived += len;
  }

  output(batch: FrameBatch, _now?: number): number {
    let n = 0;
    while (n < batch.capacity && this.sent < this.total && this.sent - this.received < this.window) {
      const o = n * batch.slotSize;
      const d = batch.data;
      d.set(this.dst, o);
      d.set(this.src, o + 6);
      d[o + 12] = 0x88;
      d[o + 13] = 0xb5; // IEEE 802 local experimental ethertype
      const id = this.sent;
      d[o + 14] = id >>> 24;
      d[o + 15] = (id >>> 16) & 0xff;
      d[o + 16] = (id >>> 8) & 0xff;
      d[o + 17] = id & 0xff;
      batch.lengths[n] = this.frameLen;
      this.sent++;
      n++;
    }
    return n;
  }

  nextDeadline(): number {
    return Infinity;
  }

  get done(): boolean {
    return this.received >= this.total;
  }
}

/** A port whose device takes at most `perCall` frames per txBurst (a full NIC ring). */
export class ThrottledPort implements PacketPort {
  readonly backend;
  readonly name;
  readonly mac;
  readonly mtu;
  readonly offloads;
  readonly waitFd = -1;
  perCall: number;

  constructor(
    private readonly inner: PacketPort,
    perCall: number,
  ) {
    this.backend = inner.backend;
    this.name = `${inner.name}-throttled`;
    this.mac = inner.mac;
    this.mtu = inner.mtu;
    this.offloads = inner.offloads;
    this.perCall = perCall;
  }

  rxBurst(batch: FrameBatch): number {
    return this.inner.rxBurst(batch);
  }

  txBurst(batch: FrameBatch, count: number): number {
    return this.inner.txBurst(batch, Math.min(count, this.perCall));
  }

  counters(): PortCounters {
    return this.inner.counters();
  }

  close(): void {
    this.inner.close();
  }
}

/**
 * A memory-wire port with the native ports' checksum offload: what tapRxBurst/dpdkRxBurst and
 * tapTxBurst/dpdkTxBurst do around the device (csumVerifyBurst after rx, csumFillBurst before tx,
 * the same per-frame C), done by the addon around the wire. Corruption the wire injects happens
 * after the fill, as on a real link, and meets the native verdicts.
 */
export class OffloadPort implements PacketPort {
  readonly backend;
  readonly name;
  readonly mac;
  readonly mtu;
  readonly waitFd = -1;
  readonly offloads = CHECKSUM_OFFLOADS;

  constructor(
    private readonly inner: MemoryPort,
    private readonly addon: NativeAddon,
  ) {
    this.backend = inner.backend;
    this.name = `${inner.name}-offload`;
    this.mac = inner.mac;
    this.mtu = inner.mtu;
  }

  rxBurst(batch: FrameBatch): number {
    const n = this.inner.rxBurst(batch);
    if (n > 0) this.addon.csumVerifyBurst(batch.data, batch.lengths, batch.slotSize, n, undefined, batch.flags);
    return n;
  }

  txBurst(batch: FrameBatch, count: number): number {
    if (count > 0) this.addon.csumFillBurst(batch.data, batch.lengths, count, batch.slotSize, undefined, batch.flags);
    return this.inner.txBurst(batch, count);
  }

  counters(): PortCounters {
    return this.inner.counters();
  }

  close(): void {
    this.inner.close();
  }
}
