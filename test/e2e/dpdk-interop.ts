// Interop of the gateway on transport: dpdk with Linux's own TCP, one DPDK virtual device per
// test file (dpdk-interop-af-packet, -af-xdp, -tap): openssl s_client's view of versions and
// ciphers, curl with SNI and ALPN, bodies through TLS both ways checked by length and SHA-256,
// sequential connection churn until the connection table drains, a short wrk run, and SIGTERM
// stopping the port and cleaning the EAL up.
//
// Everything runs inside one namespace the test creates (sluice-t-<pid>-<n>), so the host's
// interfaces are never involved and the upstream can sit in the namespace too:
//
//   net_af_packet / net_af_xdp: a veth pair with both ends in the namespace. `sluice-tdp` has no
//   address and belongs to the PMD (Sluice's stack answers 198.18.0.2 on it); `sluice-tkn` is the
//   kernel's side, 198.18.0.1/24, where curl, openssl, wrk and the upstream (198.18.0.1:8080) live.
//   The kernel does not answer for 198.18.0.2 (not its address, forwarding off), so only Sluice does.
//
//   net_tap: the PMD creates the TAP `sluice-ttp` in the namespace when `sluice serve` opens the
//   port; the test then gives its kernel side 198.18.0.1/24 and a MAC of its own (the PMD gives the
//   interface the port's MAC, see docs/dpdk.md).

import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Test } from 'tap';
import { ROOT } from './harness.js';
import { adminGet, makeCert, nsRun, scratch, startNsSluice, startNsUpstream, busyConnections, drained, CHURN_JS, checkTlsVersions, fileSha256, netstatStack, randomFile, type NsSluice, KERNEL_IP, STACK_IP, UPSTREAM } from './netns.js';
import { dpdkSkip, ealArgs, freshNamespace, sh } from '../io/veth.js';

export type InteropPmd = 'net_af_packet' | 'net_af_xdp' | 'net_tap';

export const interopSkip: string | false = dpdkSkip || (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')) ? 'dist/ is not built (npm run build)' : false);

const PMD_IF = 'sluice-tdp';
const KERNEL_IF = 'sluice-tkn';
const TAP_IF = 'sluice-ttp';

function inNs(ns: string, cmd: string, args: string[]): string {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args]);
}

let counter = 0;

/** A fresh namespace (removed in teardown); for veth PMDs, the pair inside it as described above. */
function namespaceFor(t: Test, pmd: InteropPmd): { ns: string; device: string } {
  const ns = freshNamespace(t, `sluice-t-${process.pid}-i${counter++}`);
  if (pmd === 'net_tap') return { ns, device: `net_tap0,iface=${TAP_IF}` };
  sh('ip', ['-n', ns, 'link', 'add', PMD_IF, 'type', 'veth', 'peer', 'name', KERNEL_IF]);
  for (const i of [PMD_IF, KERNEL_IF]) inNs(ns, 'sysctl', ['-q', '-w', `net.ipv6.conf.${i}.disable_ipv6=1`]);
  sh('ip', ['-n', ns, 'addr', 'add', `${KERNEL_IP}/24`, 'dev', KERNEL_IF]);
  // The kernel's side checksums in software: the PMD reads frames off a veth, where locally sent
  // TCP leaves with its checksum unfinished (CHECKSUM_PARTIAL); see docs/dpdk.md.
  inNs(ns, 'ethtool', ['-K', KERNEL_IF, 'tx', 'off']);
  sh('ip', ['-n', ns, 'link', 'set', PMD_IF, 'up']);
  sh('ip', ['-n', ns, 'link', 'set', KERNEL_IF, 'up']);
  return { ns, device: `${pmd}0,iface=${PMD_IF}` };
}

/** The TAP made by net_tap: its kernel side becomes 198.18.0.1/24 with its own MAC. */
function configureTap(ns: string): void {
  inNs(ns, 'sysctl', ['-q', '-w', `net.ipv6.conf.${TAP_IF}.disable_ipv6=1`]);
  sh('ip', ['-n', ns, 'link', 'set', TAP_IF, 'address', '02:00:c6:12:00:01']);
  sh('ip', ['-n', ns, 'addr', 'add', `${KERNEL_IP}/24`, 'dev', TAP_IF]);
  sh('ip', ['-n', ns, 'link', 'set', TAP_IF, 'up']);
}



export interface InteropOptions {
  /** Body sizes sent up and down through TLS, checked by length and SHA-256. */
  sizes: number[];
  /** Sequential new TLS connections in the churn step. */
  churn: number;
}

export async function interop(t: Test, pmd: InteropPmd, opts: InteropOptions): Promise<void> {
  const dir = await scratch(t);
  const { ns, device } = namespaceFor(t, pmd);
  const eal = ealArgs(t);
  const prefix = eal[eal.indexOf('--file-prefix') + 1]!;
  const a = await makeCert(dir, 'a', 'a.dpdk.test');
  const b = await makeCert(dir, 'b', 'b.dpdk.test');
  const sluice: NsSluice = await startNsSluice(t, ns, `dpdk:
  eal_args: [${eal.map((x) => JSON.stringify(x)).join(', ')}]
listeners:
  - name: edge
    address: ${STACK_IP}
    port: 443
    transport: dpdk
    dpdk: { device: "${device}", prefix_length: 24, mtu: 1500, mempool_size: 4095 }
    tls:
      certificates:
        - { cert: ${a.cert}, key: ${a.key}, default: true }
        - { cert: ${b.cert}, key: ${b.key} }
      alpn: [http/1.1]
    http: { max_body_bytes: 209715200 }
routes:
  - { name: direct, match: { path: { exact: /direct } }, direct_response: { status: 200, body: "direct over dpdk\\n" } }
  - { name: up, match: { path: { prefix: / } }, proxy: { cluster: up } }
clusters:
  - { name: up, endpoints: ["${UPSTREAM}"] }
logging: { level: info, access_log: false }
`, dir);
  const up = sluice.logs.find((l) => l.msg === 'bypass stack up');
  t.match(up, { backend: 'dpdk', device: `${pmd}0`, driver: pmd, address: STACK_IP, rx_mode: 'inplace' }, `the stack runs on the ${pmd} port, rx in place`);
  // net_tap is the PMD here with IPv4+TCP checksum offload; the veth PMDs have none.
  const by = pmd === 'net_tap' ? 'device' : 'software';
  t.match(up, { checksums: { rx: by, tx: by } }, `checksums done by the ${by}`);
  t.ok(existsSync(`/var/run/dpdk/${prefix}`), 'the EAL runs with the configured file prefix');
  if (pmd === 'net_tap') configureTap(ns);
  await startNsUpstream(t, ns, dir);

  const resolve = ['--resolve', `a.dpdk.test:443:${STACK_IP}`, '--resolve', `b.dpdk.test:443:${STACK_IP}`];

  await t.test('openssl s_client: TLS 1.3 and 1.2 (ECDHE-ECDSA AEAD) negotiated, 1.1 refused', async (t) => {
    const old = await checkTlsVersions(t, ns, 'a.dpdk.test', 'b.dpdk.test');
    t.notMatch(old, /Protocol version: TLSv1\.1/);
  });

  await t.test('curl: SNI picks the certificate, ALPN settles http/1.1, direct and proxied routes answer', async (t) => {
    for (const [host, cert] of [['a.dpdk.test', a.cert], ['b.dpdk.test', b.cert]] as const) {
      const r = await nsRun(ns, 'curl', ['-sS', '-v', '--max-time', '10', '--cacert', cert, ...resolve, `https://${host}/direct`]);
      t.equal(r.code, 0, `${host}: curl verified the certificate SNI chose (${r.stderr.split('\n').filter((l) => /SSL|error/.test(l)).join(' | ')})`);
      t.equal(r.stdout, 'direct over dpdk\n', `${host}: direct route body`);
      t.match(r.stderr, /ALPN: server accepted http\/1\.1/, `${host}: ALPN`);
      t.match(r.stderr, new RegExp(`subject: CN=\\s*${host.replace(/\./g, '\\.')}`), `${host}: SNI selected its own certificate`);
    }
    const p = await nsRun(ns, 'curl', ['-sS', '--max-time', '10', '--cacert', a.cert, ...resolve, '-w', '\n%{http_code} %{http_version}', 'https://a.dpdk.test/hello']);
    t.equal(p.code, 0, p.stderr);
    const [body, status] = p.stdout.split('\n').filter((l) => l !== '');
    t.equal(status, '200 1.1', 'proxied through the DPDK path');
    t.match(JSON.parse(body!), { hello: 'upstream', host: 'a.dpdk.test', xff: KERNEL_IP }, 'the upstream saw the request, from the namespace client');
  });

  for (const size of opts.sizes) {
    await t.test(`${size} bytes through TLS: upload to the hashing upstream and streamed download, lengths and SHA-256 match`, async (t) => {
      const src = join(dir, `up-${size}.bin`);
      await randomFile(src, size);
      const want = await fileSha256(src);
      let started = performance.now();
      const upl = await nsRun(ns, 'curl', ['-sS', '-k', '--max-time', '40', '-T', src, `https://${STACK_IP}/sink`], { timeoutMs: 45_000 });
      const upMs = performance.now() - started;
      t.equal(upl.code, 0, `upload: ${upl.stderr}`);
      t.same(JSON.parse(upl.stdout), { bytes: size, sha256: want }, 'the upstream received every byte intact');

      const dst = join(dir, `down-${size}.bin`);
      started = performance.now();
      const down = await nsRun(ns, 'curl', ['-sS', '-k', '--max-time', '40', '-o', dst, '-w', '%{http_code} %{size_download}', `https://${STACK_IP}/stream?bytes=${size}`], { timeoutMs: 45_000 });
      const downMs = performance.now() - started;
      t.equal(down.code, 0, `download: ${down.stderr}`);
      t.equal(down.stdout, `200 ${size}`);
      const sent = await nsRun(ns, 'curl', ['-sS', '-k', '--max-time', '10', `https://${STACK_IP}/last-stream`]);
      t.same(JSON.parse(sent.stdout), { bytes: size, sha256: await fileSha256(dst) }, 'the client received exactly what the upstream sent');
      if (size >= 1 << 20) t.comment(`${pmd}: ${size} B up in ${upMs.toFixed(0)} ms (${(size / 1e6 / (upMs / 1000)).toFixed(1)} MB/s), down in ${downMs.toFixed(0)} ms (${(size / 1e6 / (downMs / 1000)).toFixed(1)} MB/s)`);
    });
  }

  await t.test(`${opts.churn} sequential new TLS connections all succeed, then the table drains`, async (t) => {
    const script = join(dir, 'churn.mjs');
    await writeFile(script, CHURN_JS);
    const r = await nsRun(ns, process.execPath, [script, STACK_IP, String(opts.churn), '30000', 'a.dpdk.test', 'direct over dpdk\n'], { timeoutMs: 40_000 });
    t.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { attempted: number; ok: number; errors: string[]; ms: number };
    t.equal(res.attempted, opts.churn, `all attempted within the time budget (${res.ms} ms)`);
    t.equal(res.ok, opts.churn, `all succeeded; errors: ${JSON.stringify(res.errors)}`);
    const n = await drained(sluice.adminSocket, 10_000);
    t.same(busyConnections(n), [], 'only LISTEN and TIME-WAIT remain');
    const s = n.stacks[0];
    t.equal(s.tcp.states.LISTEN, 1, 'one listener');
    t.notOk(s.tcp.states.ESTABLISHED, 'nothing established');
    t.equal(s.tcp.checksumErrors, 0, 'no checksum errors');
    t.equal(s.port.link?.up, true, 'netstat: link up');
    const c = s.port.checksum!;
    if (by === 'device') t.ok(c.deviceRx > 0 && c.deviceTx > 0, `the device judged ${c.deviceRx} frames and filled ${c.deviceTx}`);
    else t.same([c.deviceRx, c.deviceTx], [0, 0], 'no device checksums');
  });

  await t.test('wrk -t1 -c20 -d3s: no socket errors, every response 2xx, and the table drains', async (t) => {
    const r = await nsRun(ns, 'wrk', ['-t1', '-c20', '-d3s', '--latency', `https://${STACK_IP}/direct`], { timeoutMs: 20_000 });
    t.equal(r.code, 0, r.stderr);
    t.comment(`${pmd}: ${r.stdout.split('\n').filter((l) => /Requests\/sec|requests in| 99%/.test(l)).map((l) => l.trim()).join(' | ')}`);
    t.notMatch(r.stdout, /Socket errors/, 'no socket errors (connect, read, write, timeout)');
    t.notMatch(r.stdout, /Non-2xx or 3xx responses/, 'no non-2xx responses');
    const m = /(\d+) requests in/.exec(r.stdout);
    t.ok(m && Number(m[1]) > 100, `requests served: ${m?.[1]}`);
    const n = await drained(sluice.adminSocket, 10_000);
    t.same(busyConnections(n), [], 'wrk closed its 20 connections; only LISTEN and TIME-WAIT remain');
  });

  // net_tap's PMD reads its kernel interface's flags, so there the link can go down and back.
  if (pmd === 'net_tap') {
    await t.test('the TAP interface down, then up: Sluice logs it, /metrics and netstat follow, requests flow again', async (t) => {
      const gauge = async (): Promise<string | undefined> => /^sluice_bypass_port_link_up\{device="net_tap0"\} (\d)$/m.exec(await adminGet(sluice.adminSocket, '/metrics'))?.[1];
      t.equal(await gauge(), '1', 'sluice_bypass_port_link_up 1');
      sh('ip', ['-n', ns, 'link', 'set', TAP_IF, 'down']);
      const down = await sluice.waitLog((l) => typeof l.msg === 'string' && l.msg.startsWith('dpdk link down'), 5000);
      t.match(down, { level: 40, device: 'net_tap0' }, `logged at warn: ${down.msg}`);
      t.equal(await gauge(), '0', 'sluice_bypass_port_link_up 0');
      t.equal((await netstatStack(sluice.adminSocket)).port.link?.up, false, 'netstat: link down');
      sh('ip', ['-n', ns, 'link', 'set', TAP_IF, 'up']);
      const up = await sluice.waitLog((l) => l.msg === 'dpdk link up', 5000);
      t.match(up, { level: 30, device: 'net_tap0' }, `logged: dpdk link up (${String(up.speed_mbps)} Mb/s)`);
      t.equal(await gauge(), '1');
      const r = await nsRun(ns, 'curl', ['-sS', '--max-time', '10', '--cacert', a.cert, ...resolve, 'https://a.dpdk.test/direct']);
      t.equal(r.stdout, 'direct over dpdk\n', `served again: ${r.stderr}`);
    });
  }

  await t.test('SIGTERM: drains, exits 0, the port is stopped and the EAL runtime directory is gone', async (t) => {
    await sluice.stop();
    t.equal(sluice.proc.exitCode, 0, 'exit code 0');
    t.ok(sluice.logs.some((l) => l.msg === 'stopped'), 'the "stopped" log line');
    t.notOk(existsSync(`/var/run/dpdk/${prefix}`), `/var/run/dpdk/${prefix} removed by rte_eal_cleanup`);
    const links = sh('ip', ['-n', ns, '-o', 'link', 'show']);
    if (pmd === 'net_tap') t.notMatch(links, new RegExp(`: ${TAP_IF}[:@]`), 'the PMD deleted its TAP when the port closed');
    else t.match(links, new RegExp(`: ${PMD_IF}@`), 'the veth itself is untouched by DPDK (the test removes it)');
  });
}
