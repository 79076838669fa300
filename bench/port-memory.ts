// Packet-port throughput: the memory wire (raw bursts and a pumped echo round trip) and, as root,
// a real TAP device against the kernel in a throwaway namespace (sluice-t-bench-<pid>).
// Run: node --import tsx bench/port-memory.ts [seconds-per-case, default 1]

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createMemoryWire } from '../src/io/memory.js';
import { PollLoop, PortPump } from '../src/io/poll.js';
import { createFrameBatch, type FrameBatch, type PacketProcessor } from '../src/io/port.js';
import { TapPort } from '../src/io/tap.js';
import { EchoProcessor, SourceProcessor } from '../test/io/processors.js';
import { icmpEcho, ipBytes } from '../test/io/frames.js';

const seconds = Number(process.argv[2] ?? 1);
console.log(`# command: node --import tsx bench/port-memory.ts ${seconds}`);
console.log(`# node ${process.version}, ${new Date().toISOString()}`);

function rate(n: number, ms: number): string {
  return `${((n / ms) * 1000 / 1e6).toFixed(3)} Mfps`;
}

function memoryRaw(frameLen: number, burst: number): void {
  const wire = createMemoryWire({ seed: 1, capacity: 4096 });
  const tx = createFrameBatch(burst, 1536);
  const rx = createFrameBatch(burst, 1536);
  tx.lengths.fill(frameLen);
  let frames = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 256; i++) {
      wire.a.txBurst(tx, burst);
      frames += wire.b.rxBurst(rx);
    }
  }
  const ms = performance.now() - start;
  console.log(`memory raw      len=${String(frameLen).padStart(4)} burst=${String(burst).padStart(2)}: ${rate(frames, ms)} (${frames} frames in ${ms.toFixed(0)} ms)`);
}

function memoryPumped(frameLen: number): void {
  const wire = createMemoryWire({ seed: 1, capacity: 4096 });
  const total = 2_000_000;
  const source = new SourceProcessor(total, frameLen, 1024);
  const a = new PortPump(wire.a, source);
  const b = new PortPump(wire.b, new EchoProcessor());
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = 0;
  while (!source.done && performance.now() < end) {
    a.step(now);
    b.step(now);
    now++;
  }
  const ms = performance.now() - start;
  console.log(`memory pumped   len=${String(frameLen).padStart(4)} echo round trips: ${rate(source.received, ms)} (${source.received} in ${ms.toFixed(0)} ms, each frame crosses the wire twice)`);
}

function sh(args: string[]): void {
  execFileSync('ip', args, { stdio: 'ignore', timeout: 10_000 });
}

async function tapBench(): Promise<void> {
  if (process.getuid?.() !== 0 || !existsSync('/dev/net/tun')) {
    console.log('tap: skipped (needs root and /dev/net/tun)');
    return;
  }
  const ns = `sluice-t-bench-${process.pid}`;
  sh(['netns', 'add', ns]);
  const port = TapPort.open({ name: 'sluice-t%d' });
  try {
    sh(['link', 'set', port.name, 'netns', ns]);
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${port.name}.disable_ipv6=1`], { stdio: 'ignore' });
    sh(['-n', ns, 'addr', 'add', '198.18.0.1/24', 'dev', port.name]);
    sh(['-n', ns, 'link', 'set', port.name, 'up']);
    // A static neighbour entry, so the kernel answers without resolving us by ARP.
    sh(['-n', ns, 'neigh', 'replace', '198.18.0.2', 'lladdr', Array.from(port.mac, (x) => x.toString(16).padStart(2, '0')).join(':'), 'dev', port.name]);
    const ping = icmpEcho(port.mac, port.kernelMac, ipBytes('198.18.0.2'), ipBytes('198.18.0.1'), 1, 1, new Uint8Array(18));
    for (const burst of [1, 8, 32]) {
      const tx = createFrameBatch(burst, port.frameMax);
      const rx = createFrameBatch(64, port.frameMax);
      for (let i = 0; i < burst; i++) {
        tx.data.set(ping, i * tx.slotSize);
        tx.lengths[i] = ping.length;
      }
      let sent = 0;
      let received = 0;
      let rxCalls = 0;
      const start = performance.now();
      const end = start + seconds * 1000;
      while (performance.now() < end) {
        sent += port.txBurst(tx, burst);
        let n;
        do {
          n = port.rxBurst(rx);
          received += n;
          rxCalls++;
        } while (n === rx.capacity);
      }
      const ms = performance.now() - start;
      console.log(
        `tap icmp echo   burst=${String(burst).padStart(2)}: tx ${rate(sent, ms)}, rx ${rate(received, ms)} (${sent} requests, ${received} replies, ${(received / rxCalls).toFixed(1)} frames per rxBurst)`,
      );
    }
    const c = port.counters();
    console.log(`tap counters: ${JSON.stringify(c)}`);
    await wakeLatency(port, ping, true);
    await wakeLatency(port, ping, false);
  } finally {
    port.close();
    try {
      sh(['netns', 'del', ns]);
    } catch {
      // already gone
    }
  }
}

/**
 * Wake-up latency of an idle PollLoop: while it sleeps, an echo request is written straight to the
 * TAP (the kernel queues the reply before write() returns); latency = reply reaching input().
 */
async function wakeLatency(port: TapPort, ping: Uint8Array, useWaitFd: boolean): Promise<void> {
  let arrived = 0;
  const sink: PacketProcessor = {
    input: () => {
      if (arrived === 0) arrived = performance.now();
    },
    output: (_b: FrameBatch) => 0,
    nextDeadline: () => Infinity,
  };
  const loop = new PollLoop(port, sink, { useWaitFd });
  const tx = createFrameBatch(1, port.frameMax);
  tx.data.set(ping);
  tx.lengths[0] = ping.length;
  const samples: number[] = [];
  loop.start();
  try {
    for (let i = 0; i < 60; i++) {
      await new Promise((r) => setTimeout(r, 15)); // long enough for the loop to be asleep
      arrived = 0;
      const sentAt = performance.now();
      port.txBurst(tx, 1);
      while (arrived === 0 && performance.now() - sentAt < 1000) await new Promise((r) => setImmediate(r));
      samples.push(arrived - sentAt);
    }
  } finally {
    loop.stop();
  }
  samples.sort((x, y) => x - y);
  const q = (p: number): string => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!.toFixed(3);
  const m = loop.metrics();
  console.log(
    `tap idle wake latency (${useWaitFd ? 'fd waiter' : 'timers only, maxSleepMs 4'}): p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${q(1)} ms; ${m.iterations} iterations, ${m.sleeps} sleeps, ${m.fdWakes} fd wakes, duty cycle ${m.dutyCycle.toFixed(4)}`,
  );
}

for (const len of [64, 1514]) for (const burst of [1, 32]) memoryRaw(len, burst);
memoryPumped(64);
memoryPumped(1514);
await tapBench();
