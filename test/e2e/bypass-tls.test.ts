// The gateway on the bypass path (transport: tap), driven by real clients: curl with SNI and ALPN
// to a direct route and to a proxied upstream, openssl s_client's view of version and cipher, and
// bodies of 0 B, 1 MiB and 100 MiB through TLS in both directions, checked by length and SHA-256.
// Client, upstream and TAP all live in a namespace the test creates; sluice runs inside it.

import t from 'tap';
import { join } from 'node:path';
import {
  checkTlsVersions, fileSha256, randomFile,
  bypassSkip, namespaceWithTap, startNsSluice, startNsUpstream, nsRun, scratch, makeCert, netstatJson,
  STACK_IP, TAP_DEV, UPSTREAM,
} from './netns.js';

t.test('TLS gateway over the bypass stack', { skip: bypassSkip }, async (t) => {
  const dir = await scratch(t);
  const ns = namespaceWithTap(t);
  await startNsUpstream(t, ns, dir);
  const a = await makeCert(dir, 'a', 'a.bypass.test');
  const b = await makeCert(dir, 'b', 'b.bypass.test');
  const sluice = await startNsSluice(t, ns, `
listeners:
  - name: edge
    address: ${STACK_IP}
    port: 443
    transport: tap
    tap: { device: ${TAP_DEV}, prefix_length: 24 }
    tls:
      certificates:
        - { cert: ${a.cert}, key: ${a.key}, default: true }
        - { cert: ${b.cert}, key: ${b.key} }
      alpn: [http/1.1]
    # 200 MiB: room for the 100 MiB upload (max_body_bytes: 0, documented as "no limit", rejects every body: see the report)
    http: { max_body_bytes: 209715200 }
routes:
  - { name: hello, match: { path: { exact: /direct } }, direct_response: { status: 200, body: "direct over the bypass stack\\n" } }
  - { name: up, match: { path: { prefix: / } }, proxy: { cluster: up } }
clusters:
  - { name: up, endpoints: ["${UPSTREAM}"] }
logging: { level: info, access_log: false }
`, dir);
  const ready = await sluice.waitLog((l) => l.msg === 'listener ready' && l.listener === 'edge');
  t.match(ready, { transport: 'tap', device: TAP_DEV, address: STACK_IP, port: 443, tls: true }, 'listener ready names the tap transport and device');

  const resolveA = ['--resolve', `a.bypass.test:443:${STACK_IP}`, '--resolve', `b.bypass.test:443:${STACK_IP}`];

  await t.test('curl: SNI picks the certificate, ALPN settles http/1.1, direct and proxied routes answer', async (t) => {
    for (const [host, cert] of [['a.bypass.test', a.cert], ['b.bypass.test', b.cert]] as const) {
      const r = await nsRun(ns, 'curl', ['-sS', '-v', '--max-time', '10', '--cacert', cert, ...resolveA, `https://${host}/direct`]);
      t.equal(r.code, 0, `${host}: curl verified the certificate chosen by SNI (${r.stderr.split('\n').filter((l) => /SSL|error/.test(l)).join(' | ')})`);
      t.equal(r.stdout, 'direct over the bypass stack\n', `${host}: direct route body`);
      t.match(r.stderr, /ALPN: server accepted http\/1\.1/, `${host}: ALPN`);
      t.match(r.stderr, /subject: CN=\s*\S*bypass\.test/, `${host}: certificate subject`);
      t.match(r.stderr, new RegExp(`subject: CN=\\s*${host.replace(/\./g, '\\.')}`), `${host}: SNI selected its own certificate`);
    }
    const p = await nsRun(ns, 'curl', ['-sS', '--max-time', '10', '--cacert', a.cert, ...resolveA, '-w', '\n%{http_code} %{http_version}', 'https://a.bypass.test/hello']);
    t.equal(p.code, 0, p.stderr);
    const [body, status] = p.stdout.split('\n').filter((l) => l !== '');
    t.equal(status, '200 1.1', 'proxied through the bypass path');
    t.match(JSON.parse(body), { hello: 'upstream', host: 'a.bypass.test' }, 'upstream saw the request');
  });

  await t.test('openssl s_client: TLS 1.3 and 1.2 (ECDHE-ECDSA AEAD) offered on the bypass path, 1.1 refused', async (t) => {
    await checkTlsVersions(t, ns, 'a.bypass.test', 'b.bypass.test');
  });

  for (const size of [0, 1 << 20, 100 << 20]) {
    await t.test(`${size} bytes through TLS: upload (curl -T) and download, lengths and SHA-256 match`, async (t) => {
      const src = join(dir, `up-${size}.bin`);
      await randomFile(src, size);
      const want = await fileSha256(src);
      const up = await nsRun(ns, 'curl', ['-sS', '-k', '--max-time', '40', '-T', src, `https://${STACK_IP}/sink`], { timeoutMs: 45_000 });
      t.equal(up.code, 0, `upload: ${up.stderr}`);
      t.same(JSON.parse(up.stdout), { bytes: size, sha256: want }, 'upstream received every byte intact');

      const dst = join(dir, `down-${size}.bin`);
      const down = await nsRun(ns, 'curl', ['-sS', '-k', '--max-time', '40', '-o', dst, '-w', '%{http_code} %{size_download}', `https://${STACK_IP}/stream?bytes=${size}`], { timeoutMs: 45_000 });
      t.equal(down.code, 0, `download: ${down.stderr}`);
      t.equal(down.stdout, `200 ${size}`);
      const sent = await nsRun(ns, 'curl', ['-sS', '-k', '--max-time', '10', `https://${STACK_IP}/last-stream`]);
      t.same(JSON.parse(sent.stdout), { bytes: size, sha256: await fileSha256(dst) }, 'client received exactly what the upstream sent');
    });
  }

  await t.test('netstat after the transfers: no checksum errors, the listener is there', async (t) => {
    const n = await netstatJson(sluice.adminSocket);
    t.equal(n.stacks.length, 1);
    const s = n.stacks[0];
    t.equal(s.device, TAP_DEV);
    t.equal(s.stack.address, STACK_IP);
    t.ok(s.connections.some((c) => c.state === 'LISTEN' && c.local === `${STACK_IP}:443`), 'LISTEN row');
    t.ok(s.tcp.segmentsIn > 70_000, `segments in: ${s.tcp.segmentsIn}`);
    t.equal(s.tcp.checksumErrors, 0, 'no TCP checksum errors');
  });
});
