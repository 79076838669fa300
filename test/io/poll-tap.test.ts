// PollLoop over a real TAP: while idle it sleeps on the tun fd (one-shot libuv poll), and a frame
// from the kernel wakes it within a fraction of a millisecond instead of after maxWaitMs.

import t from 'tap';
import { spawn } from 'node:child_process';
import { PollLoop } from '../../src/io/poll.js';
import type { FrameBatch, PacketProcessor } from '../../src/io/port.js';
import { arpFrame, ipBytes, summarize } from './frames.js';
import { KERNEL_IP, sh, STACK_IP, tapInNamespace, tapSkip as skip } from './netns.js';

/** Answers ARP for STACK_IP and notes when (CLOCK_MONOTONIC, ns) each frame kind first arrived. */
class ArpHost implements PacketProcessor {
  arpAt = 0n;
  udpAt = 0n;
  udpPayload = '';
  private reply: Uint8Array | undefined;

  constructor(
    private readonly mac: Uint8Array,
    private readonly kernelMac: Uint8Array,
  ) {}

  input(buf: Uint8Array, off: number, len: number): void {
    const now = process.hrtime.bigint();
    const s = summarize(buf, off, len);
    if (s.arp?.op === 1 && s.arp.targetIp === STACK_IP) {
      if (this.arpAt === 0n) this.arpAt = now;
      this.reply = arpFrame(2, this.mac, ipBytes(STACK_IP), this.kernelMac, ipBytes(KERNEL_IP), this.kernelMac);
    } else if (s.ip?.proto === 17 && s.ip.dport === 9999 && this.udpAt === 0n) {
      this.udpAt = now;
      this.udpPayload = Buffer.from(s.ip.payload).toString();
    }
  }

  output(batch: FrameBatch): number {
    if (!this.reply) return 0;
    batch.data.set(this.reply, 0);
    batch.lengths[0] = this.reply.length;
    this.reply = undefined;
    return 1;
  }

  nextDeadline(): number {
    return Infinity;
  }
}

t.test('an idle loop sleeping on the tun fd wakes for a frame within milliseconds', { skip }, async (t) => {
  const { port, ns } = tapInNamespace(t);
  const host = new ArpHost(port.mac, port.kernelMac);
  const loop = new PollLoop(port, host, { policy: { maxWaitMs: 5000 } });
  t.teardown(() => loop.stop());
  t.ok(loop.waitsOnFd, 'a TAP port has a wait fd and the addon provides the waiter');
  loop.start();
  await new Promise((r) => setTimeout(r, 200));
  const idle = loop.metrics();
  t.ok(idle.sleeps >= 1 && idle.iterations < 60, `asleep after ${idle.iterations} iterations`);

  // The sender records CLOCK_MONOTONIC (shared by all processes) right before sendto().
  const script = `const d=require('dgram').createSocket('udp4');d.bind(0,'${KERNEL_IP}',()=>{const t=process.hrtime.bigint();d.send(String(t),9999,'${STACK_IP}',()=>{process.stdout.write(String(t));setTimeout(()=>process.exit(0),300)})})`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill();
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => child.on('exit', r));
  const sentAt = BigInt(out);
  t.not(host.arpAt, 0n, 'the kernel ARP request reached the processor');
  t.not(host.udpAt, 0n, 'the datagram followed our ARP reply');
  t.equal(host.udpPayload, out);
  const arpLatencyMs = Number(host.arpAt - sentAt) / 1e6;
  // 100: far below the 5 s cap, so only the fd can have woken the loop; the figure itself
  // (sub-millisecond on a quiet machine, bench/port-memory.ts) is in the message.
  t.ok(arpLatencyMs >= 0 && arpLatencyMs < 100, `wake-up latency ${arpLatencyMs.toFixed(3)} ms (maxWaitMs 5000)`);
  const m = loop.metrics();
  t.ok(m.fdWakes >= 1, `fd wake-ups: ${m.fdWakes}, timer wake-ups: ${m.timerWakes}`);
  t.equal(m.timerWakes, 0, 'no timer fired: the 5 s cap never expired');
  t.match(sh('ip', ['-n', ns, 'neigh', 'show', STACK_IP]), /REACHABLE|STALE|DELAY/);
  loop.stop();
  t.equal(port.counters().txFrames, 1, 'one ARP reply sent through the loop');
});
