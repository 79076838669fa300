// Interoperability with Linux's TCP: the real netstack (NetStack + TcpLayer) on a TAP device
// driven by the poll loop, the kernel's TCP in a namespace the test creates (198.18.0.1/24).
// Covers option negotiation with a real peer, both directions of open, and Node's TLS on
// TcpDuplex against a kernel-TCP TLS client.

import t from 'tap';
import { spawn } from 'node:child_process';
import * as tls from 'node:tls';
import { PollLoop } from '../../../src/io/poll.js';
import { NetStack } from '../../../src/net/stack.js';
import { TcpLayer } from '../../../src/net/tcp/layer.js';
import type { TcpSocket } from '../../../src/net/tcp/socket.js';
import { parseIpv4 } from '../../../src/net/wire/ipv4.js';
import { TcpDuplex } from '../../../src/transport/bypass.js';
import { createSelfSignedCertificate } from '../../../src/tls/dev-cert.js';
import { KERNEL_IP, STACK_IP, tapInNamespace, tapSkip as skip } from '../../io/netns.js';

function stackOn(t: Parameters<typeof tapInNamespace>[0]) {
  const { port, ns } = tapInNamespace(t);
  const stack = new NetStack({ mac: port.mac, ip: STACK_IP, prefixLength: 24, mtu: port.mtu });
  const tcp = new TcpLayer({ mtu: port.mtu });
  stack.attachTransport(tcp);
  const loop = new PollLoop(port, stack);
  tcp.onOutputPending(() => loop.wake());
  t.teardown(() => loop.stop());
  loop.start();
  return { ns, tcp, loop };
}

/** Run a node script inside the namespace (kernel TCP); resolves with its JSON line on stdout. */
function inNamespace(t: { teardown(fn: () => void): void }, ns: string, script: string): Promise<Record<string, unknown>> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill();
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, ...(out ? (JSON.parse(out) as object) : {}) })));
}

t.test('Linux TCP negotiates window scaling, timestamps and SACK with ours; 8 MiB echoed', { skip }, async (t) => {
  const { ns, tcp } = stackOn(t);
  let server: TcpSocket | null = null;
  tcp.listen({
    ip: 0,
    port: 7,
    onConnection: (s) => {
      server = s;
      s.setHandler({
        onData: (c) => {
          if (!s.write(c)) s.pause();
        },
        onDrain: () => s.resume(),
        onEnd: () => s.end(),
        onClose() {},
      });
    },
  });
  const N = 8 << 20;
  const r = await inNamespace(t, ns, `const net=require('net');const N=${N};const buf=require('crypto').randomBytes(N);const parts=[];const t0=process.hrtime.bigint();const s=net.connect(7,'${STACK_IP}',()=>s.end(buf));s.on('data',d=>parts.push(d));s.on('end',()=>{const got=Buffer.concat(parts);process.stdout.write(JSON.stringify({len:got.length,same:got.equals(buf),ms:Number(process.hrtime.bigint()-t0)/1e6}));process.exit(0)});s.on('error',e=>{process.stdout.write(JSON.stringify({error:e.code}));process.exit(1)});setTimeout(()=>{process.stdout.write(JSON.stringify({timeout:Buffer.concat(parts).length}));process.exit(2)},30000)`);
  t.equal(r.code, 0, JSON.stringify(r));
  t.same({ len: r.len, same: r.same }, { len: N, same: true }, `echoed intact in ${Number(r.ms).toFixed(0)} ms (${((N * 8) / Number(r.ms) / 1e3).toFixed(0)} Mbit/s each way)`);
  const st = server!.stats();
  t.ok(st.timestamps, 'timestamps negotiated with Linux (RFC 7323)');
  t.ok(st.sack, 'SACK-permitted negotiated (RFC 2018)');
  t.ok(st.sndWscale >= 7, `Linux's window scale: ${st.sndWscale}`);
  t.equal(st.rcvWscale, 3, 'ours for a 256 KiB buffer');
  t.equal(st.mss, 1448, 'MSS 1460 less the timestamps option');
  t.equal(tcp.counters.checksumErrors, 0);
});

t.test('our client opens a connection to a Linux server (active open, ARP, FIN both ways)', { skip }, async (t) => {
  const { ns, tcp } = stackOn(t);
  // The server says when it listens (stderr), so the SYN never races the node start-up.
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e',
    `const net=require('net');const srv=net.createServer(s=>{s.pipe(s)});srv.listen(9000,'${KERNEL_IP}',()=>process.stderr.write('listening\\n'));setTimeout(()=>process.exit(3),20000);srv.on('connection',s=>s.on('close',()=>{process.stdout.write(JSON.stringify({served:true}));process.exit(0)}))`],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill();
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const serverUp = new Promise<Record<string, unknown>>((resolve) => child.on('exit', (code) => resolve({ code, ...(out ? (JSON.parse(out) as object) : {}) })));
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => (d.toString().includes('listening') ? resolve() : undefined));
    child.on('exit', () => reject(new Error('the Linux server exited before listening')));
  });
  const payload = Buffer.alloc(1 << 20, 0x5a);
  const got: Buffer[] = [];
  const result = await new Promise<{ reason: string; bytes: number }>((resolve) => {
    const s = tcp.connect({ localIp: parseIpv4(STACK_IP), remoteIp: parseIpv4(KERNEL_IP), remotePort: 9000 });
    let off = 0;
    const pump = () => {
      while (off < payload.length) {
        const ok = s.write(payload.subarray(off, off + 65536));
        off += 65536;
        if (!ok) return;
      }
      s.end();
    };
    s.setHandler({
      onConnect: pump,
      onData: (c) => got.push(Buffer.from(c)),
      onEnd() {},
      onDrain: pump,
      onClose: (reason) => resolve({ reason, bytes: Buffer.concat(got).length }),
    });
  });
  t.equal(result.bytes, payload.length, 'the Linux server echoed every byte');
  t.ok(Buffer.concat(got).equals(payload));
  t.equal(result.reason, 'closed', 'orderly close');
  const srv = await serverUp;
  t.equal(srv.served, true);
});

t.test('a kernel-TCP TLS client talks to Node TLS on TcpDuplex over our stack', { skip }, async (t) => {
  const { ns, tcp } = stackOn(t);
  const { certPem, keyPem } = await createSelfSignedCertificate(['localhost']);
  const secureContext = tls.createSecureContext({ cert: certPem, key: keyPem });
  tcp.listen({
    ip: 0,
    port: 443,
    onConnection: (s) => {
      const server = new tls.TLSSocket(new TcpDuplex(s), { isServer: true, secureContext, ALPNProtocols: ['http/1.1'] });
      server.on('error', () => {});
      server.pipe(server);
    },
  });
  const N = 2 << 20;
  const r = await inNamespace(
    t,
    ns,
    `const tls=require('tls');const N=${N};const buf=require('crypto').randomBytes(N);const parts=[];const s=tls.connect({host:'${STACK_IP}',port:443,servername:'localhost',ca:${JSON.stringify(certPem)},ALPNProtocols:['http/1.1']},()=>s.end(buf));s.on('data',d=>parts.push(d));s.on('end',()=>{const got=Buffer.concat(parts);process.stdout.write(JSON.stringify({len:got.length,same:got.equals(buf),alpn:s.alpnProtocol,version:s.getProtocol()}));process.exit(0)});s.on('error',e=>{process.stdout.write(JSON.stringify({error:e.message}));process.exit(1)});setTimeout(()=>process.exit(2),30000)`,
  );
  t.equal(r.code, 0, JSON.stringify(r));
  t.same({ len: r.len, same: r.same, alpn: r.alpn, version: r.version }, { len: N, same: true, alpn: 'http/1.1', version: 'TLSv1.3' });
});
