// Forwarding to real upstreams (node:http and raw TCP servers on loopback) through the
// cluster's undici pools, observed with a recording sink.

import { PassThrough, Readable } from 'node:stream';
import t, { type Test } from 'tap';
import { SluiceError } from '../../src/errors.js';
import { Cluster } from '../../src/upstream/cluster.js';
import type { UpstreamEndpointHealth, UpstreamErrorEvent, UpstreamEvents, UpstreamRequestDone } from '../../src/upstream/events.js';
import type { UpstreamRequest } from '../../src/upstream/forward.js';
import { RecordingSink, blackholeListener, closedPort, clusterEntry, httpUpstream, rawUpstream, sleep } from './helpers.js';

function get(path: string, headers: string[] = [], over: Partial<UpstreamRequest> = {}): UpstreamRequest {
  return { method: 'GET', path, headers: ['host', 'example.test', ...headers], body: null, timeoutMs: null, ...over };
}

class Recorder implements UpstreamEvents {
  done: UpstreamRequestDone[] = [];
  errors: UpstreamErrorEvent[] = [];
  health: UpstreamEndpointHealth[] = [];
  onRequestDone(e: UpstreamRequestDone): void {
    this.done.push(e);
  }
  onError(e: UpstreamErrorEvent): void {
    this.errors.push(e);
  }
  onEndpointHealth(e: UpstreamEndpointHealth): void {
    this.health.push(e);
  }
}

function cluster(t: Test, endpoints: string[], over: Parameters<typeof clusterEntry>[2] = {}, opts: ConstructorParameters<typeof Cluster>[1] = {}): Cluster {
  const c = new Cluster(clusterEntry('c', endpoints, over), opts);
  t.teardown(() => c.destroy());
  return c;
}

async function send(c: Cluster, req: UpstreamRequest, sink = new RecordingSink()): Promise<RecordingSink> {
  c.forward(req, sink);
  await sink.done;
  return sink;
}

t.test('GET: status, headers in order, body, trailers and the query reach the sink', async (t) => {
  const seen: { url?: string; host?: string } = {};
  const up = await httpUpstream((req, res) => {
    seen.url = req.url;
    seen.host = req.headers.host;
    res.setHeader('x-a', '1');
    res.setHeader('set-cookie', ['a=1', 'b=2']);
    res.setHeader('trailer', 'x-checksum');
    res.write('hello ');
    res.addTrailers({ 'x-checksum': 'abc' });
    res.end('world');
  });
  t.teardown(() => up.close());
  const ev = new Recorder();
  const c = cluster(t, [up.address], {}, { events: ev });
  const sink = await send(c, get('/a/b?x=1&y=2'));
  t.equal(sink.failure, null);
  t.equal(sink.head?.status, 200);
  t.equal(sink.body, 'hello world');
  t.equal(seen.url, '/a/b?x=1&y=2');
  t.equal(seen.host, 'example.test', 'the Host given by the caller is sent');
  t.equal(sink.header('x-a'), '1');
  const cookies = sink.head!.headers.filter((_, i, a) => i % 2 === 1 && a[i - 1] === 'set-cookie');
  t.same(cookies, ['a=1', 'b=2'], 'repeated fields stay separate, in order');
  t.same(sink.trailers, ['x-checksum', 'abc']);
  t.equal(ev.done.length, 1);
  t.match(ev.done[0], { cluster: 'c', endpoint: up.address, status: 200, attempts: 1, bytes: 11 });
});

t.test('a streamed request body reaches the upstream whole', async (t) => {
  let received = 0;
  const up = await httpUpstream((req, res) => {
    req.on('data', (d: Buffer) => (received += d.length));
    req.on('end', () => res.end(`got ${received} ${req.headers['transfer-encoding'] ?? req.headers['content-length']}`));
  });
  t.teardown(() => up.close());
  const c = cluster(t, [up.address]);
  const chunks = Array.from({ length: 64 }, () => Buffer.alloc(16384, 7));
  const body = Readable.from(chunks);
  const chunked = await send(c, { ...get('/up'), method: 'POST', body });
  t.equal(chunked.body, `got ${64 * 16384} chunked`, 'unknown length: chunked');
  const sized = await send(c, { ...get('/up', ['content-length', String(3)]), method: 'PUT', body: Readable.from([Buffer.from('abc')]) });
  t.equal(sized.body, `got ${64 * 16384 + 3} 3`, 'known length: Content-Length');
});

t.test('connection refused: SLUICE_UPSTREAM_REFUSED from connect, then backoff, then NO_ENDPOINT', async (t) => {
  const port = await closedPort();
  let now = 1_000_000;
  const ev = new Recorder();
  const c = cluster(t, [`127.0.0.1:${port}`], {}, { events: ev, now: () => now });
  const first = await send(c, get('/'));
  t.equal(first.failure?.error.code, 'SLUICE_UPSTREAM_REFUSED');
  t.equal(first.failure?.error.status, 502);
  t.equal(first.failure?.source, 'connect');
  t.equal(first.failure?.retrySafe, true, 'a refused connect never carried the request');
  t.equal(first.failure?.endpoint, `127.0.0.1:${port}`);
  t.match(first.failure?.error.message, /refused the connection/);
  t.match(ev.health, [{ endpoint: `127.0.0.1:${port}`, healthy: false, backoffMs: 500 }]);

  const second = await send(c, get('/'));
  t.equal(second.failure?.error.code, 'SLUICE_NO_ENDPOINT', 'all endpoints in backoff: fail fast');
  t.equal(second.failure?.error.status, 503);
  t.equal(second.failure?.source, 'cluster');
  t.match(second.failure?.error.message, /all 1 endpoints are in backoff/);

  now += 500;
  const third = await send(c, get('/'));
  t.equal(third.failure?.error.code, 'SLUICE_UPSTREAM_REFUSED', 'backoff over: tried again');
  t.equal(ev.health.at(-1)?.backoffMs, 1000, 'consecutive failures double the backoff');
});

t.test('a refused endpoint is skipped: the request goes to the next one', async (t) => {
  const up = await httpUpstream((_req, res) => res.end('ok'));
  t.teardown(() => up.close());
  const port = await closedPort();
  const ev = new Recorder();
  const c = cluster(t, [`127.0.0.1:${port}`, up.address], {}, { events: ev });
  const sink = await send(c, get('/'));
  t.equal(sink.failure, null);
  t.equal(sink.body, 'ok');
  t.match(ev.errors, [{ code: 'SLUICE_UPSTREAM_REFUSED', source: 'connect', retried: true, endpoint: `127.0.0.1:${port}` }]);
  t.equal(ev.done[0].attempts, 2);
  // The refused endpoint is in backoff: the next requests all go to the live one.
  for (let i = 0; i < 3; i++) t.equal((await send(c, get('/'))).body, 'ok');
  t.equal(ev.errors.length, 1, 'no new connect attempt to the endpoint in backoff');
});

t.test('an empty cluster answers SLUICE_NO_ENDPOINT', async (t) => {
  const c = cluster(t, []);
  const sink = await send(c, get('/'));
  t.equal(sink.failure?.error.code, 'SLUICE_NO_ENDPOINT');
  t.match(sink.failure?.error.message, /has no endpoints/);
});

t.test('no response head in time: SLUICE_UPSTREAM_TIMEOUT (504), route override wins', async (t) => {
  const up = await httpUpstream((_req, res) => setTimeout(() => res.end('late'), 2000));
  t.teardown(() => up.close());
  const c = cluster(t, [up.address], { request_timeout_ms: 10000 });
  const t0 = performance.now();
  const sink = await send(c, get('/', [], { timeoutMs: 200 }));
  const took = performance.now() - t0;
  t.equal(sink.failure?.error.code, 'SLUICE_UPSTREAM_TIMEOUT');
  t.equal(sink.failure?.error.status, 504);
  t.equal(sink.failure?.source, 'response');
  t.equal(sink.failure?.retrySafe, false);
  t.ok(took >= 190 && took < 1500, `timed out after ${took.toFixed(0)} ms`);
});

t.test('a stalled response body: SLUICE_UPSTREAM_TIMEOUT', async (t) => {
  const up = await httpUpstream((_req, res) => {
    res.writeHead(200, { 'content-length': '10' });
    res.write('12345');
  });
  t.teardown(() => up.close());
  const c = cluster(t, [up.address]);
  const sink = await send(c, get('/', [], { timeoutMs: 200 }));
  t.equal(sink.head?.status, 200);
  t.equal(sink.body, '12345');
  t.equal(sink.failure?.error.code, 'SLUICE_UPSTREAM_TIMEOUT');
  t.match(sink.failure?.error.message, /no response body data for 200 ms/);
});

t.test('connect timeout: SLUICE_UPSTREAM_CONNECT_TIMEOUT (504) from connect', async (t) => {
  const hole = await blackholeListener();
  t.teardown(() => hole.close());
  const c = cluster(t, [`127.0.0.1:${hole.port}`], { connect_timeout_ms: 200 });
  const sink = await send(c, get('/'));
  t.equal(sink.failure?.error.code, 'SLUICE_UPSTREAM_CONNECT_TIMEOUT');
  t.equal(sink.failure?.error.status, 504);
  t.equal(sink.failure?.source, 'connect');
});

t.test('reset in the middle of the response head: SLUICE_UPSTREAM_RESET, never retried', async (t) => {
  let requests = 0;
  const up = await rawUpstream((s) => {
    s.once('data', () => {
      requests++;
      s.write('HTTP/1.1 200 OK\r\nContent-Ty');
      setTimeout(() => s.resetAndDestroy(), 20);
    });
  });
  t.teardown(() => up.close());
  const c = cluster(t, [up.address]);
  const sink = await send(c, get('/'));
  t.equal(sink.failure?.error.code, 'SLUICE_UPSTREAM_RESET');
  t.equal(sink.failure?.error.status, 502);
  t.equal(sink.failure?.source, 'response');
  t.equal(sink.failure?.retrySafe, false);
  t.equal(requests, 1);
});

t.test('an invalid response: SLUICE_UPSTREAM_PROTOCOL', async (t) => {
  const up = await rawUpstream((s) => s.once('data', () => s.end('HTTP/1.1 abc nonsense\r\n\r\n')));
  t.teardown(() => up.close());
  const c = cluster(t, [up.address]);
  const sink = await send(c, get('/'));
  t.equal(sink.failure?.error.code, 'SLUICE_UPSTREAM_PROTOCOL');
  t.equal(sink.failure?.error.status, 502);
  t.match(sink.failure?.error.message, /invalid response/);
});

// A raw upstream that answers the first request on a connection with keep-alive and then does
// `second` on the next request of that connection; later connections always answer.
function keepAliveThen(second: (s: import('node:net').Socket) => void, log: string[]) {
  return rawUpstream((s, conn) => {
    let n = 0;
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      while (true) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.slice(0, end);
        const cl = /content-length: *(\d+)/i.exec(head);
        const chunked = /transfer-encoding: *chunked/i.test(head);
        let bodyLen = cl ? Number(cl[1]) : 0;
        if (chunked) {
          const term = buf.indexOf('0\r\n\r\n', end + 4);
          if (term < 0) return;
          bodyLen = term + 5 - (end + 4);
        }
        if (buf.length < end + 4 + bodyLen) return;
        const body = buf.slice(end + 4, end + 4 + bodyLen);
        buf = buf.slice(end + 4 + bodyLen);
        const line = head.split('\r\n')[0];
        log.push(`conn${conn}#${n} ${line} ${body.length}`);
        if (conn === 0 && n === 1) {
          second(s);
          return;
        }
        n++;
        const text = `conn${conn} ${body.length}`;
        s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${text.length}\r\nConnection: keep-alive\r\n\r\n${text}`);
      }
    });
  });
}

t.test('stale keep-alive: a reused connection closed before any response byte is retried once, fresh', async (t) => {
  const log: string[] = [];
  const up = await keepAliveThen((s) => s.destroy(), log);
  t.teardown(() => up.close());
  const ev = new Recorder();
  const c = cluster(t, [up.address], { max_connections: 1 }, { events: ev });
  t.equal((await send(c, get('/one'))).body, 'conn0 0');
  const sink = await send(c, get('/two'));
  t.equal(sink.failure, null, 'the client never sees the stale connection');
  t.equal(sink.body, 'conn1 0', 'answered on a new connection');
  t.same(log, ['conn0#0 GET /one HTTP/1.1 0', 'conn0#1 GET /two HTTP/1.1 0', 'conn1#0 GET /two HTTP/1.1 0']);
  t.match(ev.errors, [{ code: 'SLUICE_UPSTREAM_RESET', source: 'reused_connection', retried: true }]);
  t.equal(ev.done.at(-1)?.attempts, 2);
});

t.test('stale keep-alive retry happens once: a second failure is reported', async (t) => {
  const log: string[] = [];
  // Every connection answers its first request and drops the second.
  const up = await rawUpstream((s, conn) => {
    let n = 0;
    s.on('data', (d: Buffer) => {
      for (const _ of d.toString().split('\r\n\r\n').slice(0, -1)) {
        log.push(`conn${conn}#${n}`);
        if (n++ === 0) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        else s.destroy();
      }
    });
  });
  t.teardown(() => up.close());
  const c = cluster(t, [up.address], { max_connections: 1 });
  t.equal((await send(c, get('/'))).body, 'ok');
  // The retry lands on a fresh connection, whose first request is answered: make the fresh one fail too.
  const sink = new RecordingSink();
  c.forward(get('/'), sink);
  await sink.done;
  t.equal(sink.failure, null, 'first retry succeeds on a fresh connection');
  const again = await send(c, get('/'));
  t.equal(again.failure, null);
  t.same(log, ['conn0#0', 'conn0#1', 'conn1#0', 'conn1#1', 'conn2#0'], 'exactly one resend per request');
});

t.test('no retry when response bytes came back on the reused connection', async (t) => {
  const log: string[] = [];
  const up = await keepAliveThen((s) => {
    s.write('HTTP/1.1 200 OK\r\nConte');
    setTimeout(() => s.destroy(), 20);
  }, log);
  t.teardown(() => up.close());
  const c = cluster(t, [up.address], { max_connections: 1 });
  await send(c, get('/one'));
  const sink = await send(c, get('/two'));
  t.equal(sink.failure?.error.code, 'SLUICE_UPSTREAM_RESET');
  t.equal(sink.failure?.source, 'response', 'bytes of an answer: the upstream had the request');
  t.equal(log.length, 2, 'the upstream saw /two exactly once');
});

t.test('no retry when the request body was already read from the client', async (t) => {
  const log: string[] = [];
  const up = await keepAliveThen((s) => s.destroy(), log);
  t.teardown(() => up.close());
  const c = cluster(t, [up.address], { max_connections: 1 });
  await send(c, get('/one'));
  const sink = await send(c, { ...get('/two', ['content-length', '5']), method: 'POST', body: Readable.from([Buffer.from('hello')]) });
  t.equal(sink.failure?.error.code, 'SLUICE_UPSTREAM_RESET');
  t.equal(sink.failure?.source, 'reused_connection');
  t.equal(sink.failure?.retrySafe, false, 'the body was read from the client: it cannot be sent again');
  t.same(log, ['conn0#0 GET /one HTTP/1.1 0', 'conn0#1 POST /two HTTP/1.1 5'], 'not resent');
});

t.test('a body not yet read from the client is sent whole to the next endpoint after a refused connect', async (t) => {
  let got = '';
  const up = await httpUpstream((req, res) => {
    req.setEncoding('latin1');
    req.on('data', (d: string) => (got += d));
    req.on('end', () => res.end(`got ${got.length}`));
  });
  t.teardown(() => up.close());
  const port = await closedPort();
  const c = cluster(t, [`127.0.0.1:${port}`, up.address]);
  const body = new PassThrough();
  const sink = new RecordingSink();
  c.forward({ ...get('/two'), method: 'POST', body }, sink);
  body.write('first part, ');
  await sleep(50);
  body.end('second part');
  await sink.done;
  t.equal(sink.failure, null);
  t.equal(got, 'first part, second part');
});

t.test('undici sends a streamed request head with the first body chunk: such a request is never resent', async (t) => {
  // The head of a request with a streamed body leaves only with its first body byte, so on a
  // reused connection that fails, the body has always been read: the rule "replayable body only"
  // means such requests are reported, not resent. This pins that behaviour.
  const log: string[] = [];
  const up = await keepAliveThen((s) => s.destroy(), log);
  t.teardown(() => up.close());
  const c = cluster(t, [up.address], { max_connections: 1 });
  await send(c, get('/one'));
  const body = new PassThrough();
  const sink = new RecordingSink();
  c.forward({ ...get('/two'), method: 'POST', body }, sink);
  await sleep(50);
  t.same(log, ['conn0#0 GET /one HTTP/1.1 0'], 'nothing of /two has left while its body is empty');
  body.end('late body');
  await sink.done;
  t.equal(sink.failure?.error.code, 'SLUICE_UPSTREAM_RESET');
  t.equal(sink.failure?.source, 'reused_connection');
  t.equal(sink.failure?.retrySafe, false);
  t.equal(log.length, 2, 'sent once');
});

t.test('a request on a fresh connection that is reset is not retried', async (t) => {
  let requests = 0;
  const up = await rawUpstream((s) => s.once('data', () => (requests++, s.destroy())));
  t.teardown(() => up.close());
  const c = cluster(t, [up.address]);
  const sink = await send(c, get('/'));
  t.equal(sink.failure?.error.code, 'SLUICE_UPSTREAM_RESET');
  t.equal(sink.failure?.source, 'response');
  t.equal(requests, 1);
});

t.test('abort stops the upstream request: the upstream sees its connection close', async (t) => {
  let closed!: () => void;
  const upstreamClosed = new Promise<void>((r) => (closed = r));
  const up = await httpUpstream((_req, res) => {
    res.writeHead(200);
    res.write('partial');
    res.on('close', () => closed());
  });
  t.teardown(() => up.close());
  const c = cluster(t, [up.address]);
  const sink = new RecordingSink();
  let firstChunk!: () => void;
  const gotChunk = new Promise<void>((r) => (firstChunk = r));
  sink.accept = () => (firstChunk(), true);
  const call = c.forward(get('/'), sink);
  await gotChunk;
  call.abort(new SluiceError('SLUICE_CLIENT_ABORTED', 'client went away'));
  await sink.done;
  t.equal(sink.failure?.error.code, 'SLUICE_CLIENT_ABORTED');
  t.equal(sink.failure?.source, 'downstream');
  await upstreamClosed;
  t.pass('upstream response closed');
});

t.test('abort while still waiting for a connection ends the call at once', async (t) => {
  const hole = await blackholeListener();
  t.teardown(() => hole.close());
  const c = cluster(t, [`127.0.0.1:${hole.port}`], { connect_timeout_ms: 5000 });
  const sink = new RecordingSink();
  const call = c.forward(get('/'), sink);
  await sleep(50);
  const t0 = performance.now();
  call.abort(new SluiceError('SLUICE_CLIENT_ABORTED', 'client went away'));
  await sink.done;
  t.ok(performance.now() - t0 < 100);
  t.equal(sink.failure?.error.code, 'SLUICE_CLIENT_ABORTED');
});

t.test('backpressure: a sink that says stop pauses the upstream until resume', async (t) => {
  const total = 32 * 1024 * 1024;
  let writes = 0;
  let blocked = 0;
  const up = await httpUpstream((_req, res) => {
    res.writeHead(200, { 'content-length': String(total) });
    const chunk = Buffer.alloc(65536, 1);
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        sent += chunk.length;
        writes++;
        if (!res.write(chunk)) {
          blocked++;
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  t.teardown(() => up.close());
  const c = cluster(t, [up.address]);
  const sink = new RecordingSink();
  sink.keepBody = false;
  let paused = false;
  let call: ReturnType<Cluster['forward']> | null = null;
  let pauses = 0;
  let dataWhilePaused = 0;
  sink.accept = () => {
    if (paused) dataWhilePaused++;
    // Stop after every 1 MiB; resume 5 ms later, like a slow client socket draining.
    if (sink.bytes >= (pauses + 1) * 1024 * 1024) {
      paused = true;
      pauses++;
      setTimeout(() => {
        paused = false;
        call?.resume();
      }, 5);
      return false;
    }
    return true;
  };
  call = c.forward(get('/'), sink);
  await sink.done;
  t.equal(sink.failure, null);
  t.equal(sink.bytes, total);
  t.equal(dataWhilePaused, 0, 'no data delivered while paused');
  t.ok(pauses >= 31, `${pauses} pauses`);
  t.ok(blocked > 0, `upstream writes blocked ${blocked} times out of ${writes}`);
});

t.test('a draining cluster (removed by reload) refuses new requests with NO_ENDPOINT', async (t) => {
  const up = await httpUpstream((_req, res) => res.end('ok'));
  t.teardown(() => up.close());
  const c = cluster(t, [up.address]);
  await c.retire();
  const sink = await send(c, get('/'));
  t.equal(sink.failure?.error.code, 'SLUICE_NO_ENDPOINT');
  t.match(sink.failure?.error.message, /removed by a config reload/);
});

t.test('least_request sends concurrent requests to the idle endpoint', async (t) => {
  const hits: string[] = [];
  const slow = await httpUpstream((_req, res) => (hits.push('slow'), setTimeout(() => res.end('slow'), 300)));
  const fast = await httpUpstream((_req, res) => (hits.push('fast'), res.end('fast')));
  t.teardown(() => slow.close());
  t.teardown(() => fast.close());
  const c = cluster(t, [slow.address, fast.address], { balance: 'least_request' });
  const first = new RecordingSink();
  c.forward(get('/'), first); // goes to slow (both idle, rotation starts at 0)
  await sleep(50);
  const rest = [];
  for (let i = 0; i < 4; i++) rest.push(await send(c, get('/')));
  await first.done;
  t.same(hits, ['slow', 'fast', 'fast', 'fast', 'fast'], 'while slow is busy, fast takes everything');
});

t.test('concurrent requests refused together count as one failure for the backoff', async (t) => {
  const port = await closedPort();
  const ev = new Recorder();
  const c = cluster(t, [`127.0.0.1:${port}`], { max_connections: 1 }, { events: ev });
  const sinks = Array.from({ length: 5 }, () => new RecordingSink());
  for (const s of sinks) c.forward(get('/'), s);
  await Promise.all(sinks.map((s) => s.done));
  t.ok(sinks.every((s) => s.failure?.error.code === 'SLUICE_UPSTREAM_REFUSED' || s.failure?.error.code === 'SLUICE_NO_ENDPOINT'));
  t.same(ev.health.map((h) => h.backoffMs), [500], 'one health event, base backoff');
  t.equal(c.endpoints[0].consecutiveFailures, 1);
});
