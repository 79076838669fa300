// The TLS edge through the real binary: protocol versions and ciphers seen by openssl s_client,
// malformed requests over raw TLS sockets (400 and close, nothing forwarded), and a certificate
// swap on reload that reaches new handshakes while an established connection keeps working.

import t from 'tap';
import { connect, type TLSSocket } from 'node:tls';
import { createServer } from 'node:http';
import { writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { startSluice, tempDir, run } from './harness.js';

async function makeCert(dir: string, name: string, cn: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  const r = await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn},DNS:localhost`, '-keyout', key, '-out', cert]);
  if (r.code !== 0) throw new Error(r.stderr);
  return { cert, key };
}

/** Send raw bytes over TLS, collect everything until the server closes. */
function rawTls(port: number, payload: string): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s: TLSSocket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      s.write(payload);
    });
    let text = '';
    const timer = setTimeout(() => { s.destroy(); resolve({ text, closed: false }); }, 5000);
    s.on('data', (d: Buffer) => { text += d.toString('latin1'); });
    s.on('end', () => { clearTimeout(timer); s.end(); resolve({ text, closed: true }); });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

t.test('TLS edge through sluice serve', async (t) => {
  const dir = await tempDir();
  t.teardown(() => run('rm', ['-rf', dir]));
  const a = await makeCert(dir, 'a', 'a.test');
  let upstreamRequests: string[] = [];
  const up = createServer((req, res) => {
    upstreamRequests.push(`${req.method} ${req.url}`);
    res.end('up\n');
  });
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => up.close());
  const upPort = (up.address() as { port: number }).port;
  const certPath = join(dir, 'live.pem');
  const keyPath = join(dir, 'live-key.pem');
  await run('cp', [a.cert, certPath]);
  await run('cp', [a.key, keyPath]);
  const sluice = await startSluice(`
listeners:
  - name: tls
    address: 127.0.0.1
    port: 0
    tls:
      certificates: [{ cert: ${certPath}, key: ${keyPath}, default: true }]
      alpn: [http/1.1]
routes:
  - { name: up, match: { path: { prefix: / } }, proxy: { cluster: up } }
clusters:
  - { name: up, endpoints: ["127.0.0.1:${upPort}"] }
admin: { address: 127.0.0.1, port: 0 }
logging: { level: info, access_log: false }
`, { dir });
  t.teardown(() => sluice.stop());
  const port = sluice.ports.get('tls')!;

  await t.test('versions and ciphers (openssl s_client)', async (t) => {
    const v13 = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'a.test', '-tls1_3', '-brief'], { input: '' });
    t.match(v13.stderr + v13.stdout, /Protocol version: TLSv1\.3/);
    const v12 = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'a.test', '-tls1_2', '-brief'], { input: '' });
    t.match(v12.stderr + v12.stdout, /Ciphersuite: ECDHE-ECDSA-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)/);
    const cbc = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA', '-brief'], { input: '' });
    t.not(cbc.code, 0, 'CBC suite refused');
    const old = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_1', '-brief'], { input: '' });
    t.not(old.code, 0, 'TLS 1.1 refused');
    const m = await run('curl', ['-s', `http://127.0.0.1:${sluice.ports.get('admin')}/metrics`]);
    t.match(m.stdout, /sluice_tls_handshake_failures_total\{listener="tls",reason="[a-z_]+"\} [1-9]/);
  });

  await t.test('malformed requests over raw TLS: 400, connection closed, nothing forwarded', async (t) => {
    const cases: [string, string][] = [
      ['Content-Length with Transfer-Encoding (RFC 9112 6.3)', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n'],
      ['differing Content-Length values', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n'],
      ['Transfer-Encoding other than a final chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n'],
      ['invalid chunk size', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n'],
      ['bare LF in the head', 'GET / HTTP/1.1\nHost: a\r\n\r\n'],
      ['whitespace before the colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n'],
      ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n  c\r\n\r\n'],
      ['NUL in a field value', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\u0000c\r\n\r\n'],
      ['missing Host', 'GET / HTTP/1.1\r\n\r\n'],
    ];
    for (const [name, payload] of cases) {
      upstreamRequests = [];
      const r = await rawTls(port, payload);
      t.match(r.text, /^HTTP\/1\.1 400 /, `${name}: 400`);
      t.ok(r.closed, `${name}: connection closed`);
      t.notOk(upstreamRequests.some((u) => u.includes('smuggled')), `${name}: smuggled request never forwarded`);
    }
  });

  await t.test('certificate swap on reload: new handshakes get the new cert, the old connection keeps working', async (t) => {
    const b = await makeCert(dir, 'b', 'b.test');
    const old = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false });
    await new Promise<void>((r) => old.once('secureConnect', () => r()));
    t.equal(old.getPeerCertificate().subject.CN, 'a.test');
    // Atomic file replacement, as an orchestrator or `sluice certs rotate` does it.
    await run('cp', [b.cert, certPath + '.new']);
    await run('cp', [b.key, keyPath + '.new']);
    await rename(keyPath + '.new', keyPath);
    await rename(certPath + '.new', certPath);
    sluice.proc.kill('SIGHUP');
    await sluice.waitLog((l) => l.msg === 'config reloaded');
    const fresh = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false });
    await new Promise<void>((r) => fresh.once('secureConnect', () => r()));
    t.equal(fresh.getPeerCertificate().subject.CN, 'b.test', 'new handshake sees the new certificate');
    fresh.destroy();
    old.write('GET /after-swap HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const answer = await new Promise<string>((r) => old.once('data', (d: Buffer) => r(d.toString())));
    t.match(answer, /^HTTP\/1\.1 200 /, 'established connection still serves');
    old.destroy();
    await writeFile(join(dir, 'done'), '');
  });
});
