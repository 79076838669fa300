import t from 'tap';
import { createMemoryWire } from '../../src/io/memory.js';
import { PortPump } from '../../src/io/poll.js';
import type { FrameBatch, PacketProcessor } from '../../src/io/port.js';
import { simulate } from '../../src/io/simulate.js';
import { patternSink, patternSource, tcpHost } from '../net/hosts.js';

// Stop-and-wait ARQ: the smallest protocol with a retransmission timer, to exercise simulated
// time without depending on the netstack. Frame: 14-byte header, byte 14 = 1 data / 2 ack, 15-18 seq.
const DATA = 1;
const ACK = 2;

function writeFrame(batch: FrameBatch, slot: number, kind: number, seq: number): void {
  const o = slot * batch.slotSize;
  batch.data.fill(0, o, o + 60);
  batch.data[o + 12] = 0x88;
  batch.data[o + 13] = 0xb5;
  batch.data[o + 14] = kind;
  new DataView(batch.data.buffer, batch.data.byteOffset).setUint32(o + 15, seq);
  batch.lengths[slot] = 60;
}

class ArqSender implements PacketProcessor {
  next = 0;
  retransmits = 0;
  private deadline = 0;
  private due = true;
  constructor(
    readonly total: number,
    readonly rtoMs: number,
  ) {}
  input(buf: Uint8Array, off: number, len: number): void {
    if (len < 19 || buf[off + 14] !== ACK) return;
    const seq = new DataView(buf.buffer, buf.byteOffset).getUint32(off + 15);
    if (seq === this.next) {
      this.next++;
      this.due = this.next < this.total;
      this.deadline = Infinity;
    }
  }
  output(batch: FrameBatch, now: number): number {
    if (this.next >= this.total) return 0;
    if (!this.due && now < this.deadline) return 0;
    if (!this.due) this.retransmits++;
    this.due = false;
    this.deadline = now + this.rtoMs;
    writeFrame(batch, 0, DATA, this.next);
    return 1;
  }
  nextDeadline(): number {
    return this.next >= this.total ? Infinity : this.due ? -Infinity : this.deadline;
  }
}

class ArqReceiver implements PacketProcessor {
  delivered: number[] = [];
  private acks: number[] = [];
  input(buf: Uint8Array, off: number, len: number): void {
    if (len < 19 || buf[off + 14] !== DATA) return;
    const seq = new DataView(buf.buffer, buf.byteOffset).getUint32(off + 15);
    if (seq === this.delivered.length) this.delivered.push(seq);
    if (seq < this.delivered.length) this.acks.push(seq);
  }
  output(batch: FrameBatch): number {
    let n = 0;
    while (n < batch.capacity && this.acks.length > 0) writeFrame(batch, n++, ACK, this.acks.shift()!);
    return n;
  }
  nextDeadline(): number {
    return Infinity;
  }
}

function runArq(seed: number): { result: ReturnType<typeof simulate>; sender: ArqSender; receiver: ArqReceiver; wall: number; stats: ReturnType<ReturnType<typeof createMemoryWire>['stats']> } {
  const wire = createMemoryWire({ seed, loss: 0.3, duplicate: 0.05, reorder: 0.05, delayMs: 50, jitterMs: 10 });
  const sender = new ArqSender(200, 250);
  const receiver = new ArqReceiver();
  const started = performance.now();
  const result = simulate(wire, [new PortPump(wire.a, sender), new PortPump(wire.b, receiver)], {
    done: () => receiver.delivered.length === 200 && sender.next === 200,
    untilMs: 3_600_000,
  });
  return { result, sender, receiver, wall: performance.now() - started, stats: wire.stats() };
}

t.test('simulated time: stop-and-wait over a 30% lossy wire runs minutes of timers in milliseconds', async (t) => {
  const { result, sender, receiver, wall, stats } = runArq(11);
  t.equal(result.done, true, `stopped: ${result.stop}`);
  t.same(receiver.delivered, Array.from({ length: 200 }, (_, i) => i), 'every message exactly once, in order');
  t.ok(sender.retransmits > 50, `${sender.retransmits} retransmissions after RTO`);
  t.ok(result.now > 200 * 100, `simulated ${(result.now / 1000).toFixed(1)} s`);
  t.ok(wall < 3000, `in ${wall.toFixed(0)} ms of wall time`);
  t.ok(stats.aToB.lost + stats.bToA.lost > 0, `wire lost ${stats.aToB.lost} data and ${stats.bToA.lost} acks`);
  const again = runArq(11);
  t.same([again.result.now, again.result.rounds, again.sender.retransmits], [result.now, result.rounds, sender.retransmits], 'deterministic for a seed');
});

t.test('simulate stops when nothing is left to happen, or at the time limit', async (t) => {
  const wire = createMemoryWire({ seed: 1, loss: 1 });
  const sender = new ArqSender(1, 1000);
  const r = simulate(wire, [new PortPump(wire.a, sender), new PortPump(wire.b, new ArqReceiver())], { done: () => false, untilMs: 10_500 });
  t.equal(r.stop, 'until');
  t.equal(sender.retransmits, 10, 'a retransmission per second up to 10.5 s');
  const idle = createMemoryWire({ seed: 1 });
  t.equal(simulate(idle, [new PortPump(idle.a, new ArqReceiver())], { done: () => false, untilMs: 1000 }).stop, 'idle');
});

const ip = (a: number, b: number, c: number, d: number): number => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

t.test('integration: the real TCP moves 256 KiB intact across a lossy, reordering, corrupting wire in simulated time', async (t) => {
  const wire = createMemoryWire({ seed: 2024, loss: 0.03, reorder: 0.02, duplicate: 0.01, corrupt: 0.01, delayMs: 10, jitterMs: 2, capacity: 4096 });
  const a = tcpHost('198.18.1.1', wire.a.mac);
  const b = tcpHost('198.18.1.2', wire.b.mac);
  const N = 256 * 1024;
  const sink = patternSink(b.tcp, 9000, 7);
  patternSource(a.tcp, { localIp: ip(198, 18, 1, 1), remoteIp: ip(198, 18, 1, 2), remotePort: 9000, now: 0 }, N, 7);
  const started = performance.now();
  const r = simulate(wire, [new PortPump(wire.a, a.net), new PortPump(wire.b, b.net)], { done: () => sink.received === N, untilMs: 600_000 });
  const wall = performance.now() - started;
  t.equal(r.done, true, `stopped: ${r.stop} at ${r.now.toFixed(0)} simulated ms`);
  t.equal(sink.received, N);
  t.ok(sink.intact, 'bytes intact and in order');
  const s = wire.stats();
  t.ok(s.aToB.lost > 0, `the wire lost ${s.aToB.lost} segments a->b and reordered ${s.aToB.reordered}`);
  t.ok(a.tcp.counters.retransmits > 0, `TCP retransmitted ${a.tcp.counters.retransmits} segments`);
  t.ok(s.aToB.corrupted > 0, `${s.aToB.corrupted} frames a->b had a flipped bit, yet every byte arrived intact`);
  t.ok(wall < 20_000, `${(r.now / 1000).toFixed(2)} simulated s in ${wall.toFixed(0)} ms wall`);
});
