// Integration: the real netstack (src/net NetStack + TcpLayer) driven by PollLoop over a real TAP,
// talking to the kernel's TCP in a namespace. Proves the PacketPort/PacketProcessor contract end to
// end: ARP, TCP handshake, bulk data both ways with ACK clocking, FIN, the wake() path for writes.

import t from 'tap';
import { spawn } from 'node:child_process';
import { DEFAULT_TIME_BUDGET_MS, PollLoop } from '../../src/io/poll.js';
import { NetStack } from '../../src/net/stack.js';
import { TcpLayer } from '../../src/net/tcp/layer.js';
import { KERNEL_IP, STACK_IP, tapInNamespace, tapSkip as skip } from './netns.js';

t.test('a kernel TCP client echoes 1 MiB through NetStack + TcpLayer over TapPort', { skip }, async (t) => {
  const { port, ns } = tapInNamespace(t);
  const stack = new NetStack({ mac: port.mac, ip: STACK_IP, prefixLength: 24, mtu: port.mtu });
  const tcp = new TcpLayer({ mtu: port.mtu });
  stack.attachTransport(tcp);
  const loop = new PollLoop(port, stack);
  tcp.onOutputPending(() => loop.wake());
  t.teardown(() => loop.stop());
  let echoed = 0;
  tcp.listen({
    ip: 0,
    port: 7,
    onConnection: (s) =>
      s.setHandler({
        onData: (c) => {
          echoed += c.length;
          s.write(c.slice());
        },
        onEnd: () => s.end(),
        onDrain() {},
        onClose() {},
      }),
  });
  loop.start();

  const N = 1 << 20;
  const script = `const net=require('net');const N=${N};const buf=Buffer.alloc(N);for(let i=0;i<N;i++)buf[i]=(i*31)&255;const parts=[];const t0=process.hrtime.bigint();const s=net.connect(7,'${STACK_IP}',()=>s.end(buf));s.on('data',d=>parts.push(d));s.on('end',()=>{const got=Buffer.concat(parts);process.stdout.write(JSON.stringify({len:got.length,same:got.equals(buf),ms:Number(process.hrtime.bigint()-t0)/1e6}));process.exit(0)});s.on('error',e=>{process.stdout.write(JSON.stringify({error:e.code}));process.exit(1)});setTimeout(()=>{process.stdout.write(JSON.stringify({timeout:Buffer.concat(parts).length}));process.exit(2)},30000)`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill();
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  t.equal(code, 0, `client: ${out}`);
  const r = JSON.parse(out) as { len: number; same: boolean; ms: number };
  t.same({ len: r.len, same: r.same }, { len: N, same: true }, `every byte came back in order (${r.ms.toFixed(0)} ms, ${((N * 8) / r.ms / 1e3).toFixed(1)} Mbit/s each way)`);
  t.equal(echoed, N);
  const m = loop.metrics();
  t.equal(m.drops, 0);
  t.ok(m.maxLoopMs < 200, `longest iteration ${m.maxLoopMs.toFixed(1)} ms (time budget ${DEFAULT_TIME_BUDGET_MS} ms per step, plus one burst)`);
  t.ok(stack.stats.snapshot().accepted.arp >= 1, `the stack answered the kernel's ARP for ${STACK_IP} (kernel at ${KERNEL_IP})`);
});
