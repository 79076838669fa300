// The proxy phase end to end: a real client (curl, or undici over its own socket) talks HTTP/1.1
// to serveHttp1 over TCP on loopback; the handler calls proxy() into a Cluster whose endpoints are
// real node:http / raw TCP servers started here.

import { execFile } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { Client } from 'undici';
import { type ProxyResult, proxy } from '../../src/gateway/proxy.js';
import type { ProxyAction } from '../../src/gateway/routes.js';
import type { HttpExchange } from '../../src/http/exchange.js';
import { serveHttp1 } from '../../src/http1/session.js';
import { StreamConnection } from '../../src/transport/stream.js';
import { Cluster } from '../../src/upstream/cluster.js';
import type { UpstreamErrorEvent } from '../../src/upstream/events.js';
import { closedPort, clusterEntry, httpUpstream, rawUpstream, sleep } from '../upstream/helpers.js';

const run = promisify(execFile);
const MB = 1024 * 1024;

function action(over: Partial<ProxyAction> = {}): ProxyAction {
  return {
    kind: 'proxy',
    cluster: 'c',
    rewritePath: (p) => p,
    requestHeaders: { add: [], remove: new Set() },
    responseHeaders: { add: [], remove: new Set() },
    timeoutMs: null,
    ...over,
  };
}

interface Gateway {
  readonly port: number;
  readonly results: ProxyResult[];
  readonly ids: string[];
  /** Resolves with the next finished proxy result. */
  next(): Promise<ProxyResult>;
}

let nextId = 1;

/** A gateway listener whose every request is proxied with `act` to `cluster`. */
async function gateway(t: Test, cluster: Cluster, act: ProxyAction = action()): Promise<Gateway> {
  const results: ProxyResult[] = [];
  const ids: string[] = [];
  const waiters: Array<(r: ProxyResult) => void> = [];
  const sockets = new Set<net.Socket>();
  const handle = (ex: HttpExchange): void => {
    const requestId = `rid-${nextId++}`;
    ids.push(requestId);
    proxy(ex, act, cluster, { requestId, clientAddress: ex.connection.remoteAddress, listenerProto: 'http' }, (r) => {
      results.push(r);
      waiters.shift()?.(r);
    });
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serveHttp1(new StreamConnection(socket, { transport: 'kernel', listener: 'test', tls: null }), { handle });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return {
    port: (server.address() as net.AddressInfo).port,
    results,
    ids,
    next: () => new Promise((r) => waiters.push(r)),
  };
}

function makeCluster(t: Test, endpoints: string[], over: Parameters<typeof clusterEntry>[2] = {}, errors?: UpstreamErrorEvent[]): Cluster {
  const c = new Cluster(clusterEntry('c', endpoints, over), { events: { onError: (e) => errors?.push(e) } });
  t.teardown(() => c.destroy());
  return c;
}

/** Send raw request bytes, read the whole answer (the server closes, or idle for `quietMs`). */
function raw(port: number, request: string, quietMs = 300): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    let timer: NodeJS.Timeout | null = null;
    const done = (): void => {
      if (timer) clearTimeout(timer);
      s.destroy();
      resolve(got);
    };
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (timer) clearTimeout(timer);
      timer = setTimeout(done, quietMs);
    });
    s.on('error', () => {});
    s.on('close', done);
    s.write(request);
  });
}

function parseResponse(text: string): { status: number; headers: Map<string, string[]>; body: string } {
  const end = text.indexOf('\r\n\r\n');
  const lines = text.slice(0, end).split('\r\n');
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    const name = line.slice(0, i).toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(i + 1).trim()]);
  }
  return { status: Number(lines[0].split(' ')[1]), headers, body: text.slice(end + 4) };
}

/** Peak RSS growth (bytes) while `work` runs, sampled every 20 ms. */
async function rssGrowth(work: () => Promise<void>): Promise<number> {
  globalThis.gc?.();
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, process.memoryUsage.rss()) - base;
}

t.test('GET: a 100 MB response streams through with bounded memory (curl client)', async (t) => {
  const total = 100 * MB;
  const up = await httpUpstream((_req, res) => {
    res.writeHead(200, { 'content-length': String(total), 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  t.teardown(() => up.close());
  const gw = await gateway(t, makeCluster(t, [up.address]));
  let out = '';
  const growth = await rssGrowth(async () => {
    // --limit-rate keeps the client slower than the upstream, so backpressure has to hold.
    out = (await run('curl', ['-sS', '--limit-rate', '200M', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', `http://127.0.0.1:${gw.port}/big`])).stdout;
  });
  t.equal(out, `200 ${total}`);
  t.ok(growth < 150 * MB, `rss grew ${(growth / MB).toFixed(1)} MB (< 150 MB)`);
  const r = gw.results[0];
  t.match(r, { status: 200, endpoint: up.address, error: null, bytesFromUpstream: total });
});

t.test('POST: a 100 MB chunked upload streams through with bounded memory (curl client)', async (t) => {
  const up = await httpUpstream((req, res) => {
    let n = 0;
    // A slow reader: the upload must wait for it rather than pile up in the gateway.
    req.on('data', (d: Buffer) => {
      n += d.length;
      if (n % (8 * MB) < d.length) {
        req.pause();
        setTimeout(() => req.resume(), 2);
      }
    });
    req.on('end', () => res.end(`received ${n} ${req.headers['transfer-encoding']}`));
  });
  t.teardown(() => up.close());
  const gw = await gateway(t, makeCluster(t, [up.address]));
  let out = '';
  const growth = await rssGrowth(async () => {
    out = (await run('sh', ['-c', `head -c ${100 * MB} /dev/zero | curl -sS -T - -X POST -H 'content-type: application/octet-stream' http://127.0.0.1:${gw.port}/upload`])).stdout;
  });
  t.equal(out, `received ${100 * MB} chunked`);
  t.ok(growth < 150 * MB, `rss grew ${(growth / MB).toFixed(1)} MB (< 150 MB)`);
});

t.test('hop-by-hop fields are stripped both ways; forwarding headers are added', async (t) => {
  let seen: http.IncomingHttpHeaders = {};
  const up = await rawUpstream((s) => {
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      if (!buf.includes('\r\n\r\n')) return;
      const lines = buf.slice(0, buf.indexOf('\r\n\r\n')).split('\r\n').slice(1);
      seen = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        const k = l.slice(0, i).toLowerCase();
        const v = l.slice(i + 1).trim();
        seen[k] = seen[k] === undefined ? v : `${String(seen[k])} | ${v}`;
      }
      s.end(
        'HTTP/1.1 200 OK\r\nConnection: x-up-private, close\r\nKeep-Alive: timeout=9\r\nX-Up-Private: secret\r\n' +
          'Proxy-Authenticate: Basic\r\nVia: 1.1 backend\r\nContent-Length: 2\r\n\r\nok',
      );
    });
  });
  t.teardown(() => up.close());
  const gw = await gateway(t, makeCluster(t, [up.address]));
  const text = await raw(
    gw.port,
    'GET /h HTTP/1.1\r\nHost: api.example.com:8080\r\nConnection: keep-alive, x-drop\r\nX-Drop: 1\r\nKeep-Alive: 300\r\n' +
      'TE: trailers\r\nProxy-Authorization: Basic Zm9v\r\nProxy-Connection: keep-alive\r\nX-Forwarded-For: 203.0.113.9\r\n' +
      'X-Request-Id: from-client\r\nX-Keep: yes\r\n\r\n',
  );
  for (const name of ['x-drop', 'keep-alive', 'te', 'proxy-authorization', 'proxy-connection']) t.equal(seen[name], undefined, `${name} not sent upstream`);
  t.equal(seen.connection, 'keep-alive', "only undici's own Connection field");
  t.equal(seen['x-keep'], 'yes');
  t.equal(seen.host, 'api.example.com:8080', 'the original authority');
  t.equal(seen['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
  t.equal(seen['x-forwarded-proto'], 'http');
  t.equal(seen['x-forwarded-host'], 'api.example.com:8080');
  t.equal(seen.forwarded, 'for=127.0.0.1;proto=http;host="api.example.com:8080"');
  t.equal(seen.via, '1.1 sluice');
  t.equal(seen['x-request-id'], gw.ids[0]);
  const res = parseResponse(text);
  t.equal(res.status, 200);
  t.equal(res.body, 'ok');
  t.equal(res.headers.get('x-up-private'), undefined, 'Connection-listed response field stripped');
  t.equal(res.headers.get('keep-alive'), undefined);
  t.equal(res.headers.get('proxy-authenticate'), undefined);
  t.same(res.headers.get('connection'), undefined, "the upstream's close is not the client's");
  t.same(res.headers.get('via'), ['1.1 backend, 1.1 sluice']);
  t.same(res.headers.get('content-length'), ['2']);
});

t.test('path rewrite keeps the query; route header edits apply both ways', async (t) => {
  let url = '';
  let seen: http.IncomingHttpHeaders = {};
  const up = await httpUpstream((req, res) => {
    url = req.url ?? '';
    seen = req.headers;
    res.setHeader('server', 'backend');
    res.setHeader('x-powered-by', 'php');
    res.end('ok');
  });
  t.teardown(() => up.close());
  const act = action({
    rewritePath: (p) => p.replace(/^\/api\//, '/v2/'),
    requestHeaders: { add: ['x-team', 'payments'], remove: new Set(['cookie']) },
    responseHeaders: { add: ['strict-transport-security', 'max-age=600'], remove: new Set(['server', 'x-powered-by']) },
  });
  const gw = await gateway(t, makeCluster(t, [up.address]), act);
  const client = new Client(`http://127.0.0.1:${gw.port}`);
  t.teardown(() => client.close());
  const res = await client.request({ method: 'GET', path: '/api/users/7?fields=a,b&x=%20', headers: { cookie: 'session=1', host: 'h.test' } });
  t.equal(await res.body.text(), 'ok');
  t.equal(url, '/v2/users/7?fields=a,b&x=%20');
  t.equal(seen.cookie, undefined);
  t.equal(seen['x-team'], 'payments');
  t.equal(res.headers.server, undefined);
  t.equal(res.headers['x-powered-by'], undefined);
  t.equal(res.headers['strict-transport-security'], 'max-age=600');
});

t.test('trailers from the upstream reach the client', async (t) => {
  const up = await httpUpstream((_req, res) => {
    res.setHeader('trailer', 'x-digest');
    res.write('body');
    res.addTrailers({ 'x-digest': 'sha-256=abc' });
    res.end();
  });
  t.teardown(() => up.close());
  const gw = await gateway(t, makeCluster(t, [up.address]));
  const text = await raw(gw.port, 'GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n');
  t.match(text, /transfer-encoding: chunked/i);
  t.match(text, /\r\n0\r\nx-digest: sha-256=abc\r\n\r\n$/i);
});

async function jsonError(t: Test, port: number, path = '/'): Promise<{ status: number; type: string | undefined; body: Record<string, unknown>; requestId: string | undefined }> {
  const text = await raw(port, `GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`);
  const res = parseResponse(text);
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(res.body) as Record<string, unknown>;
  } catch {
    t.fail(`not JSON: ${res.body}`);
  }
  return { status: res.status, type: res.headers.get('content-type')?.[0], body, requestId: res.headers.get('x-request-id')?.[0] };
}

t.test('connection refused: 502 with a JSON body naming the reason code and request id', async (t) => {
  const port = await closedPort();
  const gw = await gateway(t, makeCluster(t, [`127.0.0.1:${port}`]));
  const res = await jsonError(t, gw.port);
  t.equal(res.status, 502);
  t.equal(res.type, 'application/json');
  t.equal(res.body.code, 'SLUICE_UPSTREAM_REFUSED');
  t.equal(res.body.error, 'upstream_refused');
  t.equal(res.body.request_id, gw.ids[0]);
  t.equal(res.requestId, gw.ids[0]);
  t.match(gw.results[0], { status: 502, endpoint: `127.0.0.1:${port}`, error: { code: 'SLUICE_UPSTREAM_REFUSED' } });
});

t.test('upstream reset in the middle of the response head: 502', async (t) => {
  const up = await rawUpstream((s) => s.once('data', () => (s.write('HTTP/1.1 200 OK\r\nX-Half'), setTimeout(() => s.resetAndDestroy(), 10))));
  t.teardown(() => up.close());
  const gw = await gateway(t, makeCluster(t, [up.address]));
  const res = await jsonError(t, gw.port);
  t.equal(res.status, 502);
  t.equal(res.body.code, 'SLUICE_UPSTREAM_RESET');
  t.equal(res.body.request_id, gw.ids[0]);
});

t.test('slow upstream: 504 after the route timeout', async (t) => {
  const up = await httpUpstream((_req, res) => setTimeout(() => res.end('late'), 3000));
  t.teardown(() => up.close());
  const gw = await gateway(t, makeCluster(t, [up.address]), action({ timeoutMs: 300 }));
  const res = await jsonError(t, gw.port);
  t.equal(res.status, 504);
  t.equal(res.body.code, 'SLUICE_UPSTREAM_TIMEOUT');
});

t.test('empty cluster: 503', async (t) => {
  const gw = await gateway(t, makeCluster(t, []));
  const res = await jsonError(t, gw.port);
  t.equal(res.status, 503);
  t.equal(res.body.code, 'SLUICE_NO_ENDPOINT');
  t.equal(res.body.request_id, gw.ids[0]);
});

t.test('failure after the response head: the client connection is reset, not given a JSON body', async (t) => {
  const up = await rawUpstream((s) =>
    s.once('data', () => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
      setTimeout(() => s.destroy(), 20);
    }),
  );
  t.teardown(() => up.close());
  const gw = await gateway(t, makeCluster(t, [up.address]));
  const text = await raw(gw.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 2000);
  const res = parseResponse(text);
  t.equal(res.status, 200);
  t.equal(res.body, 'partial', 'only what the upstream sent; then the connection closed');
  t.match(gw.results[0], { status: 200, error: { code: 'SLUICE_UPSTREAM_RESET' } });
});

t.test('client disconnect aborts the upstream request', async (t) => {
  let upstreamClosed!: () => void;
  const closed = new Promise<void>((r) => (upstreamClosed = r));
  let finished = false;
  const up = await httpUpstream((_req, res) => {
    res.writeHead(200);
    res.write('first');
    res.on('finish', () => (finished = true));
    res.on('close', () => upstreamClosed());
  });
  t.teardown(() => up.close());
  const gw = await gateway(t, makeCluster(t, [up.address]));
  const s = net.connect(gw.port, '127.0.0.1');
  s.on('error', () => {});
  s.write('GET /stream HTTP/1.1\r\nHost: a\r\n\r\n');
  await new Promise<void>((r) => s.once('data', () => r()));
  const result = gw.next();
  s.destroy();
  await closed;
  t.equal(finished, false, 'the upstream response was cut, not completed');
  const r = await result;
  t.equal(r.status, 499);
  t.equal(r.error?.code, 'SLUICE_CLIENT_ABORTED');
});

t.test('client disconnect during a request body upload aborts the upstream request', async (t) => {
  let upstreamAborted!: () => void;
  const aborted = new Promise<void>((r) => (upstreamAborted = r));
  const up = await httpUpstream((req) => {
    req.resume();
    req.on('close', () => upstreamAborted());
  });
  t.teardown(() => up.close());
  const gw = await gateway(t, makeCluster(t, [up.address]));
  const s = net.connect(gw.port, '127.0.0.1');
  s.on('error', () => {});
  s.write('POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n' + 'x'.repeat(10000));
  await sleep(100);
  const result = gw.next();
  s.destroy();
  await aborted;
  t.equal((await result).error?.code, 'SLUICE_CLIENT_ABORTED');
});

t.test('stale keep-alive race: 300 requests around the upstream keep-alive timeout, zero failures', async (t) => {
  // The upstream closes a connection once it has been idle for 60 ms (as nginx's
  // keepalive_timeout does) and sends no Keep-Alive hint, so undici's pool keeps connections for
  // its own idle timeout (4 s) and reuses some exactly as the upstream closes them. (Node's own
  // keepAliveTimeout cannot do this: Node 20 adds a fixed 1 s buffer to it.)
  const IDLE_CLOSE_MS = 60;
  let connections = 0;
  const idle = new Map<net.Socket, NodeJS.Timeout>();
  const up = await httpUpstream(
    (req, res) => {
      const sock = req.socket;
      clearTimeout(idle.get(sock));
      res.setHeader('connection', 'keep-alive'); // and no "Keep-Alive: timeout=" hint
      res.on('finish', () => idle.set(sock, setTimeout(() => sock.destroy(), IDLE_CLOSE_MS)));
      res.end('ok');
    },
    (s) => {
      s.keepAliveTimeout = 60_000;
      s.on('connection', (sock: net.Socket) => {
        connections++;
        sock.on('close', () => {
          clearTimeout(idle.get(sock));
          idle.delete(sock);
        });
      });
    },
  );
  t.teardown(() => up.close());
  const errors: UpstreamErrorEvent[] = [];
  const gw = await gateway(t, makeCluster(t, [up.address], { max_connections: 16 }, errors));
  const client = new Client(`http://127.0.0.1:${gw.port}`, { connections: null, pipelining: 1 } as Client.Options);
  t.teardown(() => client.close());
  const statuses = new Map<number, number>();
  const one = async (): Promise<void> => {
    let status = 0;
    try {
      const res = await client.request({ method: 'GET', path: '/k' });
      await res.body.text();
      status = res.statusCode;
    } catch {
      status = -1;
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  };
  // Deterministic spacing that sweeps across the 60 ms timeout: 50..70 ms in 1 ms steps.
  const deadline = Date.now() + 40_000;
  for (let i = 0; i < 150 && Date.now() < deadline; i++) {
    await one();
    await sleep(50 + (i % 21));
  }
  // Concurrent waves: 10 at once, waves spaced across the timeout as well.
  for (let w = 0; w < 15 && Date.now() < deadline; w++) {
    await Promise.all(Array.from({ length: 10 }, () => one()));
    await sleep(55 + (w % 11));
  }
  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  t.equal(total, 300, 'all requests ran');
  t.same([...statuses.entries()], [[200, 300]], 'every request succeeded');
  t.ok(connections > 20, `the upstream closed idle connections: ${connections} connections opened`);
  const stale = errors.filter((e) => e.source === 'reused_connection');
  t.ok(stale.every((e) => e.retried), 'every stale-connection failure was retried');
  t.comment(`stale keep-alive connections hit and retried: ${stale.length}; other upstream errors: ${errors.length - stale.length}`);
});

t.test('HEAD, 204 and 304 answers carry no body and keep the client connection usable', async (t) => {
  const up = await httpUpstream((req, res) => {
    if (req.url === '/head') {
      res.writeHead(200, { 'content-length': '1234', 'content-type': 'text/plain' });
      res.end();
    } else if (req.url === '/204') {
      res.writeHead(204);
      res.end();
    } else if (req.url === '/304') {
      res.writeHead(304, { etag: '"v1"' });
      res.end();
    } else res.end('after');
  });
  t.teardown(() => up.close());
  const gw = await gateway(t, makeCluster(t, [up.address]));
  const text = await raw(
    gw.port,
    'HEAD /head HTTP/1.1\r\nHost: a\r\n\r\nGET /204 HTTP/1.1\r\nHost: a\r\n\r\nGET /304 HTTP/1.1\r\nHost: a\r\nIf-None-Match: "v1"\r\n\r\nGET /last HTTP/1.1\r\nHost: a\r\n\r\n',
  );
  const parts = text.split(/(?=HTTP\/1\.1 )/);
  t.equal(parts.length, 4, 'four responses, none swallowed by a body that was not there');
  t.match(parts[0], /^HTTP\/1\.1 200 [^\r]*\r\n/);
  t.match(parts[0], /\r\ncontent-length: 1234\r\n/i, 'HEAD keeps the representation length');
  t.ok(parts[0].endsWith('\r\n\r\n'), 'HEAD: no body');
  t.match(parts[1], /^HTTP\/1\.1 204 /);
  t.notMatch(parts[1], /content-length|transfer-encoding/i);
  t.match(parts[2], /^HTTP\/1\.1 304 /);
  t.match(parts[2], /etag: "v1"/i);
  t.match(parts[3], /\r\n\r\nafter$/);
});

t.test('Expect: 100-continue is answered by the codec; the upstream gets the body without Expect', async (t) => {
  let expect: string | undefined = 'unset';
  const up = await httpUpstream((req, res) => {
    expect = req.headers.expect;
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => res.end(`got ${body}`));
  });
  t.teardown(() => up.close());
  const gw = await gateway(t, makeCluster(t, [up.address]));
  const s = net.connect(gw.port, '127.0.0.1');
  t.teardown(() => s.destroy());
  let got = '';
  s.on('data', (d) => (got += d.toString('latin1')));
  s.write('POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
  for (let i = 0; i < 100 && !got.includes('100 Continue'); i++) await sleep(10);
  t.match(got, /^HTTP\/1\.1 100 Continue\r\n\r\n/, 'interim response before any body byte was sent');
  s.write('hello');
  for (let i = 0; i < 100 && !got.includes('got hello'); i++) await sleep(10);
  t.match(got, /HTTP\/1\.1 200 [^]*got hello$/);
  t.equal(expect, undefined, 'no Expect upstream');
});

t.test('echo: 100 MB up and the same 100 MB down at the same time, with bounded memory', async (t) => {
  const up = await httpUpstream((req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    req.pipe(res); // the upstream answers while the upload is still arriving
  });
  t.teardown(() => up.close());
  const gw = await gateway(t, makeCluster(t, [up.address]));
  let out = '';
  const growth = await rssGrowth(async () => {
    out = (await run('sh', ['-c', `head -c ${100 * MB} /dev/zero | curl -sS -T - -X POST -o /dev/null -w '%{http_code} %{size_download}' http://127.0.0.1:${gw.port}/echo`])).stdout;
  });
  t.equal(out, `200 ${100 * MB}`, 'every byte came back (curl counts chunked framing in its upload size, so only the download is compared)');
  t.ok(growth < 150 * MB, `rss grew ${(growth / MB).toFixed(1)} MB (< 150 MB)`);
  t.match(gw.results[0], { status: 200, error: null, bytesFromUpstream: 100 * MB });
});
