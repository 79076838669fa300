// Http1Session against a real client: Debian's curl.
import t from 'tap';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { startServer } from './server.js';
import type { HttpExchange } from '../../src/http/exchange.js';

interface CurlResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  ms: number;
}

function curl(args: string[], stdin?: Buffer): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const p = spawn('curl', ['--silent', '--show-error', '--max-time', '20', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err, ms: Date.now() - started }));
    if (stdin) p.stdin.end(stdin);
    else p.stdin.end();
  });
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Echo handler: answers with the body's sha256 and how it was framed. */
function hashHandler(seen: Array<Record<string, unknown>>) {
  return (ex: HttpExchange): void => {
    const h = createHash('sha256');
    let n = 0;
    const finish = (): void => {
      const body = Buffer.from(JSON.stringify({ sha: h.digest('hex'), n, contentLength: ex.head.contentLength }));
      ex.respond({ status: 200, headers: ['content-type', 'application/json', 'x-port', String(ex.connection.remotePort)], contentLength: body.length });
      ex.write(body);
      ex.end();
    };
    seen.push({ method: ex.head.method, path: ex.head.path, port: ex.connection.remotePort, expect: ex.head.expectContinue });
    if (!ex.body) return finish();
    ex.body.on('data', (c: Buffer) => {
      h.update(c);
      n += c.length;
    });
    ex.body.on('end', finish);
  };
}

t.test('curl reuses the keep-alive connection for two URLs', async (t) => {
  const seen: Array<Record<string, unknown>> = [];
  const srv = await startServer(hashHandler(seen));
  t.teardown(() => srv.close());
  const base = `http://127.0.0.1:${srv.port}`;
  const r = await curl(['-v', `${base}/a`, `${base}/b?x=1`]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /Re-using existing connection/);
  t.equal(seen.length, 2);
  t.equal(seen[0].port, seen[1].port, 'same client port: one TCP connection');
  t.same(seen.map((s) => s.path), ['/a', '/b']);
});

t.test('curl chunked upload (-T -) streams through; body matches', async (t) => {
  const seen: Array<Record<string, unknown>> = [];
  const srv = await startServer(hashHandler(seen));
  t.teardown(() => srv.close());
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const r = await curl(['-T', '-', `http://127.0.0.1:${srv.port}/upload`], data);
  t.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout.toString());
  t.same(j, { sha: sha(data), n: data.length, contentLength: -1 }, 'chunked (-1) and intact');
  t.equal(seen[0].method, 'PUT');
});

t.test('curl --data-binary @- with Transfer-Encoding: chunked', async (t) => {
  const seen: Array<Record<string, unknown>> = [];
  const srv = await startServer(hashHandler(seen));
  t.teardown(() => srv.close());
  const data = randomBytes(200_000);
  const r = await curl(['-H', 'Transfer-Encoding: chunked', '--data-binary', '@-', `http://127.0.0.1:${srv.port}/post`], data);
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout.toString()), { sha: sha(data), n: data.length, contentLength: -1 });
});

t.test('curl HEAD (-I): Content-Length kept, no body', async (t) => {
  const srv = await startServer((ex) => {
    ex.respond({ status: 200, headers: ['content-type', 'text/plain'], contentLength: 12 });
    ex.write(Buffer.from('hello world\n'));
    ex.end();
  });
  t.teardown(() => srv.close());
  const r = await curl(['-I', `http://127.0.0.1:${srv.port}/x`]);
  t.equal(r.code, 0, r.stderr);
  const text = r.stdout.toString();
  t.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  t.match(text, /content-length: 12\r\n/);
  t.notMatch(text, /hello world/);
});

t.test('curl Expect: 100-continue gets 100 at once (no 1 s expect timeout) and the body arrives', async (t) => {
  const seen: Array<Record<string, unknown>> = [];
  const srv = await startServer(hashHandler(seen));
  t.teardown(() => srv.close());
  const data = randomBytes(100_000);
  const r = await curl(['-v', '-H', 'Expect: 100-continue', '--data-binary', '@-', `http://127.0.0.1:${srv.port}/e`], data);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /< HTTP\/1\.1 100 Continue/);
  t.ok(r.ms < 900, `took ${r.ms} ms: the 100 came from the server, not curl's 1 s fallback`);
  t.same(JSON.parse(r.stdout.toString()), { sha: sha(data), n: data.length, contentLength: data.length });
  t.equal(seen[0].expect, true);
});

t.test('curl sees a chunked response with the right bytes', async (t) => {
  const payload = randomBytes(500_000);
  const srv = await startServer((ex) => {
    ex.respond({ status: 200, headers: [], contentLength: -1 });
    for (let off = 0; off < payload.length; off += 65536) ex.write(payload.subarray(off, off + 65536));
    ex.end();
  });
  t.teardown(() => srv.close());
  const r = await curl([`http://127.0.0.1:${srv.port}/`]);
  t.equal(r.code, 0, r.stderr);
  t.equal(sha(r.stdout), sha(payload));
});
