// The whole user-space stack (NetStack + TcpLayer, PortPump) on one core, with and without the
// ports' checksum offload: two stacks joined by the in-process memory wire, one bulk connection
// (MSS-sized segments and their ACKs), simulated time. "js" is the memory wire as it is (the
// stack sums every IPv4 header and TCP segment in JavaScript); "native" wraps each end in the
// offload the TAP and DPDK ports do inside their bursts (the addon's csumFillBurst before the
// wire, csumVerifyBurst after it: the same per-frame C). No device and no kernel: what is left
// is the stack's own cost per frame.
//
//   node --import tsx bench/stack-offload.ts [--mb 256] [--runs 5]
//
// Rates are per CPU second of this process (process.cpuUsage), frames counting both directions;
// each mode runs --runs times interleaved (js, native, js, ...); the median run is reported.

import { cpus, loadavg } from 'node:os';
import { createMemoryWire, type MemoryPort } from '../src/io/memory.js';
import { loadNative, type NativeAddon } from '../src/io/native.js';
import { PortPump } from '../src/io/poll.js';
import type { PacketPort } from '../src/io/port.js';
import { simulate } from '../src/io/simulate.js';
import { NetStack } from '../src/net/stack.js';
import { TcpLayer } from '../src/net/tcp/layer.js';
import { OffloadPort } from '../test/io/processors.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

interface Rate {
  framesPerCpuSec: number;
  mbPerCpuSec: number;
  cpuMs: number;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function run(mb: number, native: boolean, addon: NativeAddon | null): Rate {
  const wire = createMemoryWire({ seed: 1, capacity: 8192 });
  const wrap = (p: MemoryPort): PacketPort => (native && addon ? new OffloadPort(p, addon) : p);
  const mk = (port: PacketPort, ip: string) => {
    const stack = new NetStack({ mac: port.mac, ip, prefixLength: 24, mtu: 1500 });
    const tcp = new TcpLayer({ mtu: 1500, sendBufferBytes: 1 << 20, recvBufferBytes: 1 << 20 });
    stack.attachTransport(tcp);
    return { stack, tcp, pump: new PortPump(port, stack, { burst: 32, budget: 1024 }) };
  };
  const a = mk(wrap(wire.a), '198.18.1.1');
  const b = mk(wrap(wire.b), '198.18.1.2');
  const total = mb * 1024 * 1024;
  let got = 0;
  b.tcp.listen({ ip: 0, port: 80, onConnection: (s) => s.setHandler({ onData: (c) => void (got += c.length), onEnd() {}, onDrain() {}, onClose() {} }) });
  const chunk = new Uint8Array(64 * 1024).fill(7);
  let sent = 0;
  const c = a.tcp.connect({ localIp: 0xc6120101, remoteIp: 0xc6120102, remotePort: 80, now: 0 });
  const write = (): void => {
    while (sent < total && c.write(chunk)) sent += chunk.length;
  };
  c.setHandler({ onConnect: write, onData() {}, onEnd() {}, onDrain: write, onClose() {} });
  const frames0 = () => wire.stats().aToB.delivered + wire.stats().bToA.delivered;
  simulate(wire, [a.pump, b.pump], { done: () => got >= 1 << 20, untilMs: 60_000 }); // handshake and slow start
  const f0 = frames0();
  const g0 = got;
  const c0 = cpuMs();
  simulate(wire, [a.pump, b.pump], { done: () => got >= total, untilMs: 3_600_000 });
  const cpu = cpuMs() - c0;
  if (got < total) throw new Error(`transfer stopped at ${got} of ${total} bytes`);
  return { framesPerCpuSec: (frames0() - f0) / (cpu / 1000), mbPerCpuSec: (got - g0) / 1e6 / (cpu / 1000), cpuMs: cpu };
}

const mb = arg('--mb', 256);
const runs = arg('--runs', 5);
const addon = loadNative();
console.log(`command: node --import tsx bench/stack-offload.ts --mb ${mb} --runs ${runs}`);
console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
run(8, false, addon); // warm-up: let the JIT see both paths
run(8, true, addon);
const all: Record<'js' | 'native', Rate[]> = { js: [], native: [] };
for (let i = 0; i < runs; i++) {
  for (const mode of ['js', 'native'] as const) all[mode].push(run(mb, mode === 'native', addon));
}
/** The median run by frame rate, and the range (the machine is shared: a run can lose its core). */
function median(rs: Rate[]): { r: Rate; low: number; high: number } {
  const sorted = [...rs].sort((x, y) => x.framesPerCpuSec - y.framesPerCpuSec);
  return { r: sorted[(sorted.length - 1) >> 1]!, low: sorted[0]!.framesPerCpuSec, high: sorted[sorted.length - 1]!.framesPerCpuSec };
}
const js = median(all.js);
const native = median(all.native);
const fmt = ({ r, low, high }: ReturnType<typeof median>) =>
  `${(r.framesPerCpuSec / 1e6).toFixed(3)} M frames/s/core (median of ${runs}; ${(low / 1e6).toFixed(2)}-${(high / 1e6).toFixed(2)}), ${r.mbPerCpuSec.toFixed(0)} MB/s/core (cpu ${r.cpuMs.toFixed(0)} ms)`;
console.log(`bulk ${mb} MiB, checksums in JavaScript:    ${fmt(js)}`);
console.log(`bulk ${mb} MiB, native checksum offload:    ${fmt(native)}`);
console.log(`native / js: x${(native.r.mbPerCpuSec / js.r.mbPerCpuSec).toFixed(2)}`);
