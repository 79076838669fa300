// The real `sluice serve` with real clients: the shipped default config (dev certificate made on
// first start), routing to direct responses and to a real upstream, and the admin listener.

import t from 'tap';
import { createServer, type Server } from 'node:http';
import { readFile, stat, copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startSluice, tempDir, curl, run, ROOT } from './harness.js';

function upstream(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer(handler);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a ? a.port : 0 });
    });
  });
}

t.test('default config: dev certificate generated on first start, demo route answers over TLS', async (t) => {
  // Copy the shipped config into a temp tree with the same layout (config/ and certs/ side by side).
  const dir = await tempDir();
  await mkdir(join(dir, 'config'));
  const text = (await readFile(join(ROOT, 'config', 'sluice.yaml'), 'utf8'))
    .replace('port: 8443', 'port: 0')
    .replace('port: 9901', 'port: 0');
  await copyFile(join(ROOT, 'config', 'schema.json'), join(dir, 'config', 'schema.json'));
  const sluice = await startSluice(text, { dir: join(dir, 'config') });
  t.teardown(() => sluice.stop());
  const key = await stat(join(dir, 'certs', 'dev-key.pem'));
  t.equal(key.mode & 0o777, 0o600, 'dev key is private');
  const port = sluice.ports.get('public');
  t.ok(port, 'public listener bound');
  const r = await curl(['-k', '--http1.1', `https://localhost:${port}/`, '--resolve', `localhost:${port}:127.0.0.1`]);
  t.equal(r.status, 200);
  t.match(r.body, /Hello from Sluice/);
  t.match(r.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, 'request id generated');
  // The certificate the client saw is the generated one, for localhost.
  const s = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-brief'], { input: '', timeoutMs: 10000 });
  t.match(s.stderr + s.stdout, /Protocol version: TLSv1\.3/);
  const peer = await run('openssl', ['x509', '-noout', '-ext', 'subjectAltName', '-in', join(dir, 'certs', 'dev-cert.pem')]);
  t.match(peer.stdout, /DNS:localhost/);
  t.match(peer.stdout, /IP Address:127\.0\.0\.1/);
  const admin = sluice.ports.get('admin');
  const m = await curl([`http://127.0.0.1:${admin}/metrics`]);
  t.equal(m.status, 200);
  t.match(m.body, /sluice_requests_total\{route="demo",method="GET",status_class="2xx"\} 1/);
  t.match(m.body, /sluice_tls_handshakes_total\{listener="public",version="TLSv1\.3"/);
  const ready = await curl([`http://127.0.0.1:${admin}/readyz`]);
  t.equal(ready.status, 200);
  const access = sluice.logs.find((l) => l.msg === 'access');
  t.ok(access, 'access log line written');
  t.match(access, { route: 'demo', status: 200, method: 'GET', path: '/', sni: 'localhost', alpn: 'http/1.1', tls_version: 'TLSv1.3' });
});

t.test('routes: host, path, method; 404 names the request id; proxy adds forwarding headers', async (t) => {
  const seen: { url?: string; headers?: Record<string, string | string[] | undefined> } = {};
  const up = await upstream((req, res) => {
    seen.url = req.url;
    seen.headers = req.headers;
    res.setHeader('server', 'upstream-secret');
    res.setHeader('x-upstream', 'yes');
    res.end('from upstream\n');
  });
  t.teardown(() => up.server.close());
  const sluice = await startSluice(`
listeners:
  - { name: web, address: 127.0.0.1, port: 0 }
routes:
  - name: api
    match: { hosts: [api.example.com], path: { prefix: /v1/ }, methods: [GET, POST] }
    proxy:
      cluster: backend
      rewrite: { prefix: /internal/ }
      request_headers: { add: { x-gw: sluice }, remove: [x-drop-me] }
      response_headers: { remove: [server] }
  - name: hello
    match: { path: { exact: /hello } }
    direct_response: { status: 201, headers: { content-type: text/plain }, body: "hi\\n" }
clusters:
  - { name: backend, endpoints: ["127.0.0.1:${up.port}"] }
admin: { address: 127.0.0.1, port: 0 }
logging: { level: info, access_log: true }
`);
  t.teardown(() => sluice.stop());
  const port = sluice.ports.get('web');
  const base = `http://127.0.0.1:${port}`;
  const hello = await curl([`${base}/hello`]);
  t.equal(hello.status, 201);
  t.equal(hello.body, 'hi\n');

  const r = await curl(['-H', 'Host: api.example.com', '-H', 'x-drop-me: 1', '-H', 'x-request-id: abc-123', `${base}/v1/users?x=1`]);
  t.equal(r.status, 200);
  t.equal(r.body, 'from upstream\n');
  t.equal(r.headers.get('x-upstream'), 'yes');
  t.notOk(r.headers.has('server'), 'server header removed by the route');
  t.equal(r.headers.get('x-request-id'), 'abc-123', 'incoming request id passed on');
  t.equal(seen.url, '/internal/users?x=1', 'prefix rewritten, query kept');
  t.equal(seen.headers?.['x-gw'], 'sluice');
  t.notOk(seen.headers?.['x-drop-me']);
  t.equal(seen.headers?.['x-forwarded-for'], '127.0.0.1');
  t.equal(seen.headers?.['x-forwarded-proto'], 'http');
  t.equal(seen.headers?.['x-forwarded-host'], 'api.example.com');
  t.match(String(seen.headers?.forwarded), /for=127\.0\.0\.1/);
  t.match(String(seen.headers?.via), /1\.1 sluice/);
  t.equal(seen.headers?.['x-request-id'], 'abc-123');

  const wrongMethod = await curl(['-X', 'DELETE', '-H', 'Host: api.example.com', `${base}/v1/users`]);
  t.equal(wrongMethod.status, 404);
  const body = JSON.parse(wrongMethod.body) as { error: string; request_id: string };
  t.equal(body.error, 'route_not_found');
  t.equal(body.request_id, wrongMethod.headers.get('x-request-id'));
  const line = await sluice.waitLog((l) => l.msg === 'access' && l.status === 404);
  t.equal(line.error, 'route_not_found');
});

t.test('upstream down: 502 with a JSON reason code; no endpoints: 503', async (t) => {
  // A port with nothing listening: bind, learn the port, close.
  const probe = await upstream(() => undefined);
  const deadPort = probe.port;
  await new Promise((r) => probe.server.close(r));
  const sluice = await startSluice(`
listeners:
  - { name: web, address: 127.0.0.1, port: 0 }
routes:
  - { name: dead, match: { path: { prefix: /dead } }, proxy: { cluster: dead } }
  - { name: empty, match: { path: { prefix: /empty } }, proxy: { cluster: empty } }
clusters:
  - { name: dead, endpoints: ["127.0.0.1:${deadPort}"] }
  - { name: empty, endpoints: [] }
admin: { address: 127.0.0.1, port: 0 }
`);
  t.teardown(() => sluice.stop());
  const base = `http://127.0.0.1:${sluice.ports.get('web')}`;
  const dead = await curl([`${base}/dead`]);
  t.equal(dead.status, 502);
  t.match(JSON.parse(dead.body), { error: 'upstream_refused', code: 'SLUICE_UPSTREAM_REFUSED' });
  const empty = await curl([`${base}/empty`]);
  t.equal(empty.status, 503);
  t.match(JSON.parse(empty.body), { error: 'no_endpoint', code: 'SLUICE_NO_ENDPOINT' });
  const m = await curl([`http://127.0.0.1:${sluice.ports.get('admin')}/metrics`]);
  t.match(m.body, /sluice_upstream_errors_total\{cluster="dead",reason="upstream_refused"\} [1-9]/);
});
