// Records a real poll-loop trace for test/io/poll-trace.test.ts: a PollLoop over a TAP device
// (root; throwaway namespace sluice-t-trace-<pid>) answers ARP and echoes UDP while a client in the
// namespace sends bursts of datagrams with pauses. Every iteration's frame count and chosen delay
// go to test/fixtures/io/poll-trace-tap.json.
// Run: node --import tsx bench/poll-trace.ts

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { DEFAULT_POLICY, PollLoop } from '../src/io/poll.js';
import type { FrameBatch, PacketProcessor } from '../src/io/port.js';
import { TapPort } from '../src/io/tap.js';
import { arpFrame, ipBytes, summarize, udpFrame } from '../test/io/frames.js';

const KERNEL_IP = '198.18.0.1';
const STACK_IP = '198.18.0.2';

class UdpEchoHost implements PacketProcessor {
  private readonly out: Uint8Array[] = [];
  echoed = 0;
  constructor(
    private readonly mac: Uint8Array,
    private readonly kernelMac: Uint8Array,
  ) {}
  input(buf: Uint8Array, off: number, len: number): void {
    const s = summarize(buf, off, len);
    if (s.arp?.op === 1 && s.arp.targetIp === STACK_IP) {
      this.out.push(arpFrame(2, this.mac, ipBytes(STACK_IP), this.kernelMac, ipBytes(KERNEL_IP), this.kernelMac));
    } else if (s.ip?.proto === 17 && s.ip.dport === 7) {
      this.out.push(udpFrame(this.mac, this.kernelMac, ipBytes(STACK_IP), ipBytes(KERNEL_IP), 7, s.ip.sport!, s.ip.payload.slice()));
    }
  }
  output(batch: FrameBatch): number {
    let n = 0;
    while (n < batch.capacity && this.out.length > 0) {
      const f = this.out.shift()!;
      batch.data.set(f, n * batch.slotSize);
      batch.lengths[n++] = f.length;
      this.echoed++;
    }
    return n;
  }
  nextDeadline(): number {
    return Infinity;
  }
}

async function main(): Promise<void> {
  console.log('# command: node --import tsx bench/poll-trace.ts');
  const ns = `sluice-t-trace-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  const port = TapPort.open({ name: 'sluice-t%d' });
  const moved: number[] = [];
  const delays: number[] = [];
  const loop = new PollLoop(port, new UdpEchoHost(port.mac, port.kernelMac), {
    onIteration: (m, d) => {
      moved.push(m);
      delays.push(d);
    },
  });
  try {
    execFileSync('ip', ['link', 'set', port.name, 'netns', ns]);
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${port.name}.disable_ipv6=1`]);
    execFileSync('ip', ['-n', ns, 'addr', 'add', `${KERNEL_IP}/24`, 'dev', port.name]);
    execFileSync('ip', ['-n', ns, 'link', 'set', port.name, 'up']);
    loop.start();
    // 8 rounds: 48 datagrams back to back, wait for the echoes, pause 25 ms.
    const script = `const d=require('dgram').createSocket('udp4');let got=0,round=0;d.on('message',()=>{if(++got===48){got=0;if(++round===8){process.exit(0)}setTimeout(burst,25)}});function burst(){for(let i=0;i<48;i++)d.send('x'.repeat(100),7,'${STACK_IP}')}d.bind(0,'${KERNEL_IP}',burst);setTimeout(()=>process.exit(2),10000)`;
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: 'inherit' });
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    if (code !== 0) throw new Error(`client exited with ${code}`);
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    loop.stop();
    port.close();
    try {
      execFileSync('ip', ['netns', 'del', ns]);
    } catch {
      // already gone
    }
  }
  const m = loop.metrics();
  console.log(`iterations ${m.iterations}, packets rx ${m.rxPackets} tx ${m.txPackets}, sleeps ${m.sleeps}, fd wakes ${m.fdWakes}, duty cycle ${m.dutyCycle.toFixed(3)}`);
  mkdirSync('test/fixtures/io', { recursive: true });
  writeFileSync(
    'test/fixtures/io/poll-trace-tap.json',
    JSON.stringify(
      {
        recordedWith: 'node --import tsx bench/poll-trace.ts',
        recordedAt: new Date().toISOString(),
        description: 'PollLoop over TAP: UDP echo of 8 bursts of 48 datagrams with 25 ms pauses; waitFd in use',
        policy: DEFAULT_POLICY,
        canWait: true,
        moved,
        delays,
      },
      null,
      0,
    ) + '\n',
  );
  console.log(`wrote test/fixtures/io/poll-trace-tap.json (${moved.length} iterations)`);
}

await main();
