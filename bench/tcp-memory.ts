// Sluice's TCP on one core: two TcpLayers joined by a lossless segment-level wire (each layer's
// output burst is fed straight into the other's input, no copy, no IP/Ethernet). Time is a
// counter advanced per round, so no timer ever waits on the wall clock.
//
//   node --import tsx bench/tcp-memory.ts [--mb 300] [--secs 3] [--conns 64] [--msg 64]
//
// Cases:
//   bulk          one connection, MSS-sized segments, checksums computed and verified
//   bulk-offload  the same with checksums off (what a NIC with TX/RX checksum offload leaves us)
//   small         --conns connections each sending a --msg byte message per round (echoed back):
//                 small segments, the packet-rate case
//   small-offload the same with checksums off
// "packets" counts TCP segments: each one is output by one layer and input by the other.
// Rates are per CPU second of this process (process.cpuUsage: user + system), which is what "per
// core" means on a shared machine where wall time also counts other processes' turns; the wall
// figure is printed beside it. Each case runs --runs times; the median run is reported, with the range.

import { cpus, loadavg } from 'node:os';
import { TcpLayer } from '../src/net/tcp/layer.js';
import type { SegmentSink } from '../src/net/tcp/sink.js';
import type { TcpSocket } from '../src/net/tcp/socket.js';
import type { TcpConfig } from '../src/net/tcp/types.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

const A = 0xc6120001;
const B = 0xc6120002;
const SLOT = 2048;

/** A burst of 64 slots; `flushTo` hands every committed segment to the other layer. */
class Burst implements SegmentSink {
  readonly buf = new Uint8Array(64 * SLOT);
  readonly maxSegmentBytes = SLOT;
  readonly lens = new Uint32Array(64);
  readonly srcs = new Uint32Array(64);
  readonly dsts = new Uint32Array(64);
  used = 0;
  reserve(): number {
    return this.used < 64 ? this.used * SLOT : -1;
  }
  commit(localIp: number, remoteIp: number, len: number): void {
    this.lens[this.used] = len;
    this.srcs[this.used] = localIp;
    this.dsts[this.used] = remoteIp;
    this.used++;
  }
}

class Wire {
  now = 0;
  packets = 0;
  private readonly ba = new Burst();
  private readonly bb = new Burst();
  constructor(readonly a: TcpLayer, readonly b: TcpLayer) {}
  /** One round: A sends, B receives; B sends, A receives. Returns segments moved. */
  round(): number {
    let n = this.pass(this.a, this.ba, this.b);
    n += this.pass(this.b, this.bb, this.a);
    this.now += 0.01;
    return n;
  }
  private pass(from: TcpLayer, burst: Burst, to: TcpLayer): number {
    let n = 0;
    for (;;) {
      burst.used = 0;
      from.output(this.now, burst);
      for (let i = 0; i < burst.used; i++) to.input(burst.srcs[i], burst.dsts[i], burst.buf, i * SLOT, burst.lens[i], this.now);
      n += burst.used;
      if (burst.used < 64) break;
    }
    this.packets += n;
    return n;
  }
}

function pair(cfg: Partial<TcpConfig>): { wire: Wire; a: TcpLayer; b: TcpLayer } {
  const base: Partial<TcpConfig> = { sendBufferBytes: 1 << 20, recvBufferBytes: 1 << 20, ...cfg };
  const a = new TcpLayer(base);
  const b = new TcpLayer(base);
  return { wire: new Wire(a, b), a, b };
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface Rate {
  /** per CPU second */
  mbps: number;
  pps: number;
  cpuMs: number;
  wallMs: number;
  msgs: number;
}

function bulk(mb: number, checksums: boolean): Rate {
  const { wire, a, b } = pair({ checksums });
  const total = mb * 1024 * 1024;
  let got = 0;
  b.listen({ ip: B, port: 80, onConnection: (s) => s.setHandler({ onData: (c) => { got += c.length; }, onEnd() {}, onDrain() {}, onClose() {} }) });
  const s = a.connect({ localIp: A, remoteIp: B, remotePort: 80, now: 0 });
  const chunk = new Uint8Array(64 * 1024).fill(7);
  let sent = 0;
  const pump = () => {
    while (sent < total && s.write(chunk)) sent += chunk.length;
  };
  s.setHandler({ onData() {}, onEnd() {}, onDrain: () => pump(), onClose() {} });
  while (s.state !== 'ESTABLISHED') wire.round();
  pump();
  const p0 = wire.packets;
  const t0 = performance.now();
  const c0 = cpuMs();
  while (got < total) wire.round();
  const cpu = cpuMs() - c0;
  return { mbps: total / 1e6 / (cpu / 1000), pps: (wire.packets - p0) / (cpu / 1000), cpuMs: cpu, wallMs: performance.now() - t0, msgs: 0 };
}

function small(conns: number, msg: number, secs: number, checksums = true): Rate {
  const { wire, b, a } = pair({ checksums });
  b.listen({ ip: B, port: 80, backlog: conns, onConnection: (s) => s.setHandler({ onData: (c) => s.write(c), onEnd: () => s.end(), onDrain() {}, onClose() {} }) });
  const socks: TcpSocket[] = [];
  let echoed = 0;
  const m = new Uint8Array(msg).fill(1);
  for (let i = 0; i < conns; i++) {
    const s = a.connect({ localIp: A, remoteIp: B, remotePort: 80, now: 0 });
    s.setHandler({ onData: (c) => { echoed += c.length; }, onEnd() {}, onDrain() {}, onClose() {} });
    socks.push(s);
  }
  while (socks.some((s) => s.state !== 'ESTABLISHED')) wire.round();
  const p0 = wire.packets;
  const e0 = echoed;
  const t0 = performance.now();
  const c0 = cpuMs();
  let cpu = 0;
  let rounds = 0;
  while (cpu < secs * 1000) {
    for (const s of socks) s.write(m);
    wire.round();
    if ((++rounds & 63) === 0) cpu = cpuMs() - c0;
  }
  cpu = cpuMs() - c0;
  const secsCpu = cpu / 1000;
  return { mbps: (echoed - e0) / 1e6 / secsCpu, pps: (wire.packets - p0) / secsCpu, cpuMs: cpu, wallMs: performance.now() - t0, msgs: (echoed - e0) / msg / secsCpu };
}

const mb = arg('--mb', 300);
const secs = arg('--secs', 2);
const conns = arg('--conns', 64);
const msg = arg('--msg', 64);
const runs = arg('--runs', 3);
console.log(`command: node --import tsx bench/tcp-memory.ts --mb ${mb} --secs ${secs} --conns ${conns} --msg ${msg} --runs ${runs}`);
console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
bulk(20, true); // warm-up: let the JIT see every path first
small(conns, msg, 0.2);

/** The median run by packet rate (the machine is shared: a single run can lose half its core). */
interface Runs {
  median: Rate;
  low: number;
  high: number;
}
function median(f: () => Rate): Runs {
  const all: Rate[] = [];
  for (let i = 0; i < runs; i++) all.push(f());
  all.sort((x, y) => x.pps - y.pps);
  return { median: all[(all.length - 1) >> 1]!, low: all[0]!.pps, high: all[all.length - 1]!.pps };
}
const fmt = ({ median: r, low, high }: Runs) =>
  `${(r.pps / 1e6).toFixed(3)} M packets/s/core (median of ${runs}; ${(low / 1e6).toFixed(2)}-${(high / 1e6).toFixed(2)}), ${r.mbps.toFixed(0)} MB/s/core (cpu ${r.cpuMs.toFixed(0)} ms, wall ${r.wallMs.toFixed(0)} ms)`;
console.log(`bulk          ${mb} MiB, checksums on:  ${fmt(median(() => bulk(mb, true)))}`);
console.log(`bulk-offload  ${mb} MiB, checksums off: ${fmt(median(() => bulk(mb, false)))}`);
const r3 = median(() => small(conns, msg, secs));
console.log(`small         ${conns} conns x ${msg} B echo, checksums on:  ${fmt(r3)}, ${(r3.median.msgs / 1e6).toFixed(3)} M messages/s/core`);
const r4 = median(() => small(conns, msg, secs, false));
console.log(`small-offload ${conns} conns x ${msg} B echo, checksums off: ${fmt(r4)}, ${(r4.median.msgs / 1e6).toFixed(3)} M messages/s/core`);
