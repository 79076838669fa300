// Bodies stream through the real binary with backpressure end to end: 100 MB up and 100 MB down
// over TLS with curl, a real upstream the test starts, and Sluice's resident memory (from its own
// /metrics) staying bounded. Also pipelined requests answered in order through the proxy.

import t from 'tap';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { connect } from 'node:tls';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startSluice, tempDir, run, curl } from './harness.js';

const MB = 1024 * 1024;
const SIZE = 100 * MB;

async function rssBytes(adminPort: number): Promise<number> {
  const r = await curl([`http://127.0.0.1:${adminPort}/metrics`]);
  const m = /^sluice_process_resident_memory_bytes (\d+)/m.exec(r.body);
  return m ? Number(m[1]) : 0;
}

t.test('100 MB each way over TLS with bounded memory; pipelining in order', async (t) => {
  const dir = await tempDir();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const up = createServer((req, res) => {
    if (req.url === '/upload') {
      const h = createHash('sha256');
      let n = 0;
      req.on('data', (d: Buffer) => { n += d.length; h.update(d); });
      req.on('end', () => res.end(JSON.stringify({ bytes: n, sha256: h.digest('hex') })));
      return;
    }
    if (req.url === '/download') {
      res.setHeader('content-length', String(SIZE));
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let sent = 0;
      const pump = () => {
        while (sent < SIZE) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    res.end(`echo ${req.url}`);
  });
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => up.close());
  const upPort = (up.address() as { port: number }).port;
  const sluice = await startSluice(`
listeners:
  - name: tls
    address: 127.0.0.1
    port: 0
    tls: { certificates: [{ cert: ${join(dir, 'c.pem')}, key: ${join(dir, 'k.pem')}, generate: dev }] }
routes:
  - { name: up, match: { path: { prefix: / } }, proxy: { cluster: up } }
clusters:
  - { name: up, endpoints: ["127.0.0.1:${upPort}"] }
admin: { address: 127.0.0.1, port: 0 }
logging: { level: info, access_log: false }
`);
  t.teardown(() => sluice.stop());
  const port = sluice.ports.get('tls')!;
  const admin = sluice.ports.get('admin')!;
  const base = `https://localhost:${port}`;
  const resolve = ['--resolve', `localhost:${port}:127.0.0.1`, '-k'];

  // Upload: a 100 MB file with a known hash (written in 1 MB blocks of a counter pattern).
  const file = join(dir, 'up.bin');
  const fh = await open(file, 'w');
  const h = createHash('sha256');
  for (let i = 0; i < SIZE / MB; i++) {
    const block = Buffer.alloc(MB, i & 0xff);
    h.update(block);
    await fh.write(block);
  }
  await fh.close();
  const want = h.digest('hex');

  const before = await rssBytes(admin);
  let peak = before;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await rssBytes(admin));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  const upload = await run('curl', ['-sS', ...resolve, '-T', file, `${base}/upload`], { timeoutMs: 120000 });
  t.equal(upload.code, 0, upload.stderr);
  t.same(JSON.parse(upload.stdout), { bytes: SIZE, sha256: want }, 'upload arrived intact');

  const chunkedUp = await run('bash', ['-c', `head -c ${SIZE} /dev/zero | curl -sS ${resolve.join(' ')} -H 'Transfer-Encoding: chunked' -T - ${base}/upload`], { timeoutMs: 120000 });
  t.equal(chunkedUp.code, 0, chunkedUp.stderr);
  t.equal((JSON.parse(chunkedUp.stdout) as { bytes: number }).bytes, SIZE, 'chunked upload arrived whole');

  const down = await run('curl', ['-sS', ...resolve, '-o', '/dev/null', '-w', '%{http_code} %{size_download}', `${base}/download`], { timeoutMs: 120000 });
  t.equal(down.stdout, `200 ${SIZE}`, 'download complete');

  sampling = false;
  await sampler;
  const growth = (peak - before) / MB;
  t.ok(before > 0, 'RSS readable from /metrics');
  t.ok(growth < 200, `RSS grew ${growth.toFixed(1)} MB while moving 300 MB (bounded, not buffered whole)`);

  // Three pipelined requests in one TLS write come back in order.
  const answer = await new Promise<string>((resolveP, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
      s.write('GET /a HTTP/1.1\r\nHost: localhost\r\n\r\nGET /b HTTP/1.1\r\nHost: localhost\r\n\r\nGET /c HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    let text = '';
    s.on('data', (d: Buffer) => { text += d.toString(); });
    s.on('end', () => resolveP(text));
    s.on('error', reject);
  });
  const order = [...answer.matchAll(/echo (\/[abc])/g)].map((m) => m[1]);
  t.same(order, ['/a', '/b', '/c'], 'pipelined responses in request order');
});
