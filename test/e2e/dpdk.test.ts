// `sluice serve` with a transport: dpdk listener: DPDK's net_af_packet on the host end of a veth
// whose peer sits in a namespace the test creates; curl in the namespace reaches Sluice's own
// TCP/IP stack through DPDK, over TLS. Sluice runs as a child process (the EAL is once per
// process), and SIGTERM must stop the port and clean the EAL up.

import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile, rm } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { BIN, ROOT, run, startSluice, tempDir } from './harness.js';
import { dpdkSkip, ealArgs, KERNEL_IP, linkExists, STACK_IP, vethInNamespace } from '../io/veth.js';

const skip = dpdkSkip || (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')) ? 'dist/ is not built (npm run build)' : false);

function config(eal: string[], device: string, upstreamPort = 9, portOptions = ''): string {
  return `dpdk:
  eal_args: [${eal.map((a) => JSON.stringify(a)).join(', ')}]
listeners:
  - name: edge
    address: ${STACK_IP}
    port: 443
    transport: dpdk
    dpdk: { device: "${device}", prefix_length: 24, mtu: 1500, mempool_size: 4095${portOptions} }
    tls:
      certificates: [{ cert: dev.pem, key: dev-key.pem, generate: dev, default: true }]
      alpn: [http/1.1]
routes:
  - { name: hello, match: { path: { exact: /hello } }, direct_response: { status: 200, body: "hello over dpdk\\n" } }
  - { name: big, match: { path: { exact: /big } }, direct_response: { status: 200, body: "${'0123456789abcdef'.repeat(2048)}" } }
  - { name: blob, match: { path: { prefix: /blob } }, proxy: { cluster: up } }
clusters:
  - { name: up, endpoints: ["127.0.0.1:${upstreamPort}"] }
admin: { address: 127.0.0.1, port: 0 }
logging: { level: info, access_log: true }
`;
}

for (const pmd of ['net_af_packet', 'net_af_xdp'] as const) t.test(`serve over transport dpdk (${pmd}): curl over TLS from the namespace gets the routes; SIGTERM stops the port and cleans the EAL up`, { skip }, async (t) => {
  const v = vethInNamespace(t);
  const eal = ealArgs(t);
  const prefix = eal[eal.indexOf('--file-prefix') + 1]!;
  // af_packet with the checksums in the native bursts; af_xdp copying rx and with the checksums
  // left to the TypeScript stack (the defaults, in place and device, run in the interop tests).
  const options = pmd === 'net_af_packet' ? { yaml: ', checksum_offload: software', rxMode: 'inplace', by: 'software' } : { yaml: ', rx_mode: copy, checksum_offload: none', rxMode: 'copy', by: 'stack' };
  const sluice = await startSluice(config(eal, `${pmd}0,iface=${v.host}`, 9, options.yaml));
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await sluice.stop('SIGKILL');
  });
  const up = await sluice.waitLog((l) => l.msg === 'bypass stack up');
  t.match(up, { backend: 'dpdk', device: `${pmd}0`, driver: pmd, address: STACK_IP, link_up: true });
  t.match(up, { rx_mode: options.rxMode, checksums: { rx: options.by, tx: options.by } }, `config${options.yaml}: rx ${options.rxMode}, checksums by the ${options.by}`);
  t.ok(existsSync(`/var/run/dpdk/${prefix}`), 'the EAL runs with the configured file prefix');

  const inNs = (args: string[]) => run('ip', ['netns', 'exec', v.ns, 'curl', '-sS', '-k', '--max-time', '15', ...args], { timeoutMs: 20_000 });
  const hello = await inNs(['-w', '\\n%{http_code} %{scheme} %{http_version}', `https://${STACK_IP}/hello`]);
  t.equal(hello.code, 0, `curl exit 0 (${hello.stderr.trim()})`);
  t.equal(hello.stdout, 'hello over dpdk\n\n200 HTTPS 1.1', 'the direct response, over TLS, through DPDK');
  const big = await inNs(['-o', '/dev/null', '-w', '%{http_code} %{size_download}', `https://${STACK_IP}/big`]);
  t.equal(big.stdout, '200 32768', '32 KiB body (many segments, windowed) intact in length');
  // Several connections in a row: each a TCP handshake, TLS handshake and close on the DPDK port.
  for (let i = 0; i < 5; i++) {
    const r = await inNs(['-o', '/dev/null', '-w', '%{http_code}', `https://${STACK_IP}/hello`]);
    t.equal(r.stdout, '200', `connection ${i + 2}`);
  }
  // The access line is written after the response, so the last one may trail curl's exit.
  const hellos = (): typeof sluice.logs => sluice.logs.filter((l) => l.type === 'access' && l.route === 'hello');
  await sluice.waitLog(() => hellos().length >= 6, 5000).catch(() => undefined);
  const access = hellos();
  t.equal(access.length, 6, 'six requests logged on the hello route');
  t.equal(access[0]?.client, KERNEL_IP, 'client address seen by the gateway is the namespace side');

  const metrics = await run('curl', ['-sS', `http://127.0.0.1:${sluice.ports.get('admin')}/metrics`], { timeoutMs: 10_000 });
  const rxGood = new RegExp(`sluice_bypass_port_xstats_total\\{device="${pmd}0",name="rx_good_packets"\\} (\\d+)`).exec(metrics.stdout);
  t.ok(rxGood && Number(rxGood[1]) > 20, `the PMD's xstats are exported as metrics (rx_good_packets ${rxGood?.[1]})`);
  t.match(metrics.stdout, new RegExp(`sluice_bypass_port_drops_total\\{device="${pmd}0",direction="rx"\\} 0`));

  const exit = await sluice.stop('SIGTERM');
  stopped = true;
  t.same(exit, { code: 0, signal: null }, 'SIGTERM: drained and exited 0');
  t.ok(sluice.logs.some((l) => l.msg === 'stopped'));
  t.notOk(existsSync(`/var/run/dpdk/${prefix}`), 'EAL cleaned up: its runtime directory is gone');
  t.ok(linkExists(v.host), 'the veth itself is untouched by DPDK (the test removes it)');
});

t.test('serve with a dpdk listener on a missing interface exits with a clear error and leaves nothing behind', { skip }, async (t) => {
  const eal = ealArgs(t);
  const prefix = eal[eal.indexOf('--file-prefix') + 1]!;
  const dir = await tempDir();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'sluice.yaml');
  await writeFile(cfg, config(eal, 'net_af_packet0,iface=sluice-t-absent'));
  const p = spawn(process.execPath, [BIN, 'serve', '--config', cfg], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', () => {});
  const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
  clearTimeout(timer);
  t.equal(code, 1, 'exit code 1, no crash');
  const fatal = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'sluice failed to start');
  t.ok(fatal, 'a fatal log line');
  t.equal(fatal?.code, 'SLUICE_DPDK_PORT');
  t.match(fatal?.err, /^dpdk port 'net_af_packet0,iface=sluice-t-absent': rte_dev_probe\('net_af_packet0,iface=sluice-t-absent'\): /);
  t.notOk(existsSync(`/var/run/dpdk/${prefix}`), 'the EAL was cleaned up on the failed start');
});

t.test('serve over transport dpdk (net_af_packet): 16 MiB proxied from an upstream arrives intact through TLS, plus a 4 MiB upload', { skip }, async (t) => {
  const blob = randomBytes(16 * 1024 * 1024);
  let uploaded = '';
  const up = createServer((req, res) => {
    if (req.method === 'POST') {
      const h = createHash('sha256');
      req.on('data', (c: Buffer) => h.update(c));
      req.on('end', () => {
        uploaded = h.digest('hex');
        res.end(uploaded);
      });
      return;
    }
    res.writeHead(200, { 'content-length': blob.length });
    res.end(blob);
  });
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  t.teardown(() => up.close());
  const v = vethInNamespace(t);
  const eal = ealArgs(t);
  const sluice = await startSluice(config(eal, `net_af_packet0,iface=${v.host}`, (up.address() as AddressInfo).port));
  t.teardown(() => sluice.stop());
  const file = join(sluice.dir, 'blob.out');
  const started = performance.now();
  const r = await run('ip', ['netns', 'exec', v.ns, 'curl', '-sS', '-k', '--max-time', '60', '-o', file, '-w', '%{http_code} %{size_download}', `https://${STACK_IP}/blob`], { timeoutMs: 70_000 });
  const ms = performance.now() - started;
  t.equal(r.stdout, `200 ${blob.length}`, r.stderr);
  t.equal(createHash('sha256').update(await readFile(file)).digest('hex'), createHash('sha256').update(blob).digest('hex'), 'intact');
  t.comment(`16 MiB download over TLS through DPDK net_af_packet in ${ms.toFixed(0)} ms (${(blob.length / 1e6 / (ms / 1000)).toFixed(1)} MB/s)`);
  const body = randomBytes(4 * 1024 * 1024);
  const src = join(sluice.dir, 'upload.bin');
  await writeFile(src, body);
  const u = await run('ip', ['netns', 'exec', v.ns, 'curl', '-sS', '-k', '--max-time', '60', '--data-binary', `@${src}`, '-H', 'content-type: application/octet-stream', `https://${STACK_IP}/blob`], { timeoutMs: 70_000 });
  t.equal(u.stdout, createHash('sha256').update(body).digest('hex'), 'the upstream got the 4 MiB upload intact');
});
