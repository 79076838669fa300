// Http1Session over real TCP sockets (net.Server -> StreamConnection) and a raw net client.
import t from 'tap';
import net from 'node:net';
import { startServer, rawExchange, parseResponses } from './server.js';
import type { HttpExchange } from '../../src/http/exchange.js';
import { SluiceError } from '../../src/errors.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function reply(ex: HttpExchange, status: number, body: string, headers: string[] = []): void {
  const b = Buffer.from(body);
  ex.respond({ status, headers, contentLength: b.length });
  ex.write(b);
  ex.end();
}

async function readBody(ex: HttpExchange): Promise<string> {
  if (!ex.body) return '';
  const parts: Buffer[] = [];
  for await (const c of ex.body) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('latin1');
}

t.test('keep-alive: two requests on one connection, then the client closes', async (t) => {
  const seen: string[] = [];
  const srv = await startServer((ex) => {
    seen.push(`${ex.head.method} ${ex.head.path} ${ex.connection.remotePort}`);
    reply(ex, 200, `hi ${ex.head.path}`);
  });
  t.teardown(() => srv.close());
  const { data } = await rawExchange(srv.port, ['GET /a HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /b HTTP/1.1\r\nHost: x\r\n\r\n'], { gapMs: 50, timeoutMs: 400 });
  const rs = parseResponses(data);
  t.same(rs.map((r) => [r.status, r.body]), [[200, 'hi /a'], [200, 'hi /b']]);
  t.notOk(rs[0].headers.connection, 'no Connection header on a persistent 1.1 response');
  t.ok(rs[0].headers.date, 'Date added');
  t.equal(new Set(seen.map((s) => s.split(' ')[2])).size, 1, 'same connection');
});

t.test('pipelining: 3 requests in one write are answered in order though handlers finish out of order', async (t) => {
  const order: string[] = [];
  const srv = await startServer((ex) => {
    order.push(ex.head.path);
    const delay = ex.head.path === '/1' ? 150 : ex.head.path === '/2' ? 0 : 50;
    setTimeout(() => {
      // /2 writes its whole response while /1 is still pending: it must be held back
      ex.respond({ status: 200, headers: ['x-path', ex.head.path], contentLength: -1 });
      ex.write(Buffer.from('body of ' + ex.head.path));
      ex.end(['x-trailer', ex.head.path]);
    }, delay);
  });
  t.teardown(() => srv.close());
  const req = (p: string): string => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
  const { data } = await rawExchange(srv.port, [req('/1') + req('/2') + req('/3')], { timeoutMs: 600 });
  const rs = parseResponses(data);
  t.same(rs.map((r) => r.headers['x-path']), ['/1', '/2', '/3'], 'responses in request order');
  t.same(rs.map((r) => r.body), ['body of /1', 'body of /2', 'body of /3']);
  t.same(rs.map((r) => r.trailers['x-trailer']), ['/1', '/2', '/3'], 'trailers on chunked responses');
  t.same(order, ['/1', '/2', '/3'], 'handled in arrival order');
});

t.test('pipelining is bounded: no more than maxPipelined requests are parsed ahead', async (t) => {
  const pending: HttpExchange[] = [];
  const srv = await startServer((ex) => pending.push(ex), { maxPipelined: 2 });
  t.teardown(() => srv.close());
  const sock = net.connect(srv.port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  const got: Buffer[] = [];
  sock.on('data', (d) => got.push(d));
  await new Promise((r) => sock.on('connect', r));
  let all = '';
  for (let k = 0; k < 6; k++) all += `GET /${k} HTTP/1.1\r\nHost: x\r\n\r\n`;
  sock.write(all);
  await sleep(150);
  t.equal(pending.length, 2, 'only 2 handed over while their responses are pending');
  // answer them one by one; each answer lets one more in
  for (let k = 0; k < 6; k++) {
    for (let w = 0; w < 50 && pending.length <= k; w++) await sleep(10);
    reply(pending[k], 200, String(k));
  }
  await sleep(100);
  const rs = parseResponses(Buffer.concat(got));
  t.same(rs.map((r) => r.body), ['0', '1', '2', '3', '4', '5']);
});

t.test('HEAD: Content-Length kept, body bytes dropped, connection stays usable', async (t) => {
  const srv = await startServer((ex) => {
    ex.respond({ status: 200, headers: [], contentLength: 11 });
    t.equal(ex.write(Buffer.from('hello world')), true);
    ex.end();
  });
  t.teardown(() => srv.close());
  const { data } = await rawExchange(srv.port, ['HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n'], { timeoutMs: 400 });
  const rs = parseResponses(data, [true, false]);
  t.equal(rs.length, 2);
  t.equal(rs[0].headers['content-length'], '11');
  t.equal(rs[0].body, '');
  t.equal(rs[1].body, 'hello world', 'next response framed correctly after HEAD');
});

t.test('204 and 304 carry no body even when the handler writes one', async (t) => {
  const srv = await startServer((ex) => {
    const status = ex.head.path === '/204' ? 204 : 304;
    ex.respond({ status, headers: ['etag', '"x"'], contentLength: -1 });
    ex.write(Buffer.from('must not appear'));
    ex.end(['x-t', 'never']);
  });
  t.teardown(() => srv.close());
  const { data } = await rawExchange(srv.port, ['GET /204 HTTP/1.1\r\nHost: x\r\n\r\nGET /304 HTTP/1.1\r\nHost: x\r\n\r\n'], { timeoutMs: 400 });
  const text = data.toString('latin1');
  t.notMatch(text, /must not appear|transfer-encoding|x-t: never/);
  const rs = parseResponses(data);
  t.same(rs.map((r) => r.status), [204, 304]);
});

t.test('HTTP/1.0: close-delimited body when the length is unknown; keep-alive honoured', async (t) => {
  const srv = await startServer((ex) => {
    ex.respond({ status: 200, headers: [], contentLength: ex.head.path === '/known' ? 2 : -1 });
    ex.write(Buffer.from(ex.head.path === '/known' ? 'ok' : 'streamed'));
    ex.end(['x-t', 'dropped']);
  });
  t.teardown(() => srv.close());
  const a = await rawExchange(srv.port, ['GET /known HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'], { timeoutMs: 1000 });
  t.ok(a.closed, 'server closed after the close-delimited body');
  const text = a.data.toString('latin1');
  t.match(text, /^HTTP\/1\.1 200 OK\r\n[^]*connection: keep-alive\r\n\r\nok/);
  t.match(text, /HTTP\/1\.1 200 OK\r\n(?:(?!content-length|transfer-encoding)[^\r]*\r\n)*connection: close\r\n\r\nstreamed$/);
  const b = await rawExchange(srv.port, ['GET /known HTTP/1.0\r\n\r\n'], { timeoutMs: 1000 });
  t.ok(b.closed, 'HTTP/1.0 without keep-alive closes');
  t.match(b.data.toString('latin1'), /connection: close/);
});

t.test('Connection: close from the client: answered with Connection: close, then closed; later bytes ignored', async (t) => {
  const seen: string[] = [];
  const srv = await startServer((ex) => {
    seen.push(ex.head.path);
    reply(ex, 200, 'bye');
  });
  t.teardown(() => srv.close());
  const { data, closed } = await rawExchange(srv.port, ['GET /1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n'], { timeoutMs: 1000 });
  t.ok(closed);
  const rs = parseResponses(data);
  t.equal(rs.length, 1);
  t.equal(rs[0].headers.connection, 'close');
  t.same(seen, ['/1']);
});

t.test('Connection: close from the server side: maxRequestsPerConnection', async (t) => {
  const srv = await startServer((ex) => reply(ex, 200, ex.head.path), { maxRequestsPerConnection: 2 });
  t.teardown(() => srv.close());
  const r = (p: string): string => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
  const { data, closed } = await rawExchange(srv.port, [r('/1') + r('/2') + r('/3')], { timeoutMs: 1000 });
  t.ok(closed);
  const rs = parseResponses(data);
  t.same(rs.map((x) => x.body), ['/1', '/2']);
  t.equal(rs[1].headers.connection, 'close');
});

t.test('slowloris: a head dripping in is answered 408 and closed after headersTimeoutMs', async (t) => {
  const errors: string[] = [];
  const srv = await startServer(() => t.fail('no request may reach the handler'), { headersTimeoutMs: 300 }, { onProtocolError: (reason) => errors.push(reason) });
  t.teardown(() => srv.close());
  const drip = 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'.split('');
  const started = Date.now();
  const { data, closed } = await rawExchange(srv.port, drip, { gapMs: 25, timeoutMs: 3000 });
  const elapsed = Date.now() - started;
  t.ok(closed, 'closed by the server');
  t.ok(elapsed < 1500, `closed after ${elapsed} ms though bytes kept coming`);
  const rs = parseResponses(data);
  t.equal(rs[0].status, 408);
  t.equal(rs[0].headers.connection, 'close');
  t.match(JSON.parse(rs[0].body), { error: 'http_headers_timeout' });
  t.same(errors, ['http_headers_timeout']);
});

t.test('idle keep-alive connections are closed quietly after idleTimeoutMs', async (t) => {
  const srv = await startServer((ex) => reply(ex, 200, 'x'), { idleTimeoutMs: 200 });
  t.teardown(() => srv.close());
  const started = Date.now();
  const { data, closed } = await rawExchange(srv.port, ['GET / HTTP/1.1\r\nHost: x\r\n\r\n'], { timeoutMs: 2000 });
  t.ok(closed);
  t.ok(Date.now() - started < 1000);
  t.equal(parseResponses(data).length, 1, 'nothing sent on idle close');
});

t.test('idle timeout counts from the last response: a request inside the first period restarts it', async (t) => {
  // The idle timer is kept across requests (session.ts armIdle): when it fires after the
  // connection was busy in between, it must wait out a full idleTimeoutMs from the last
  // response, not close early.
  const srv = await startServer((ex) => reply(ex, 200, 'x'), { idleTimeoutMs: 400 });
  t.teardown(() => srv.close());
  const started = Date.now();
  const req = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
  const { data, closed } = await rawExchange(srv.port, [req, req], { gapMs: 250, timeoutMs: 3000 });
  const elapsed = Date.now() - started;
  t.ok(closed, 'closed when idle');
  t.equal(parseResponses(data).length, 2, 'both answered, nothing sent on idle close');
  t.ok(elapsed >= 250 + 400 - 20, `not closed before a full idle period after the second response (${elapsed} ms)`);
  t.ok(elapsed < 2000, `closed once idle for the period (${elapsed} ms)`);
});

const smuggling: Array<[string, string]> = [
  ['CL.TE: Content-Length with Transfer-Encoding (RFC 9112 6.3 (3))', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['TE with whitespace before the colon (RFC 9112 5.1)', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['two differing Content-Length (RFC 9110 8.6)', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 38\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['obs-folded Transfer-Encoding (RFC 9112 5.2)', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['bare LF line endings (RFC 9112 2.2)', 'GET / HTTP/1.1\nHost: x\n\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['chunked not final (RFC 9112 6.3 (4))', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'],
];

for (const [name, bytes] of smuggling) {
  t.test(`smuggling rejected: ${name} -> 400, close, smuggled request never handled`, async (t) => {
    const seen: string[] = [];
    const srv = await startServer((ex) => {
      seen.push(ex.head.path);
      reply(ex, 200, 'ok');
    });
    t.teardown(() => srv.close());
    const { data, closed } = await rawExchange(srv.port, [bytes], { timeoutMs: 2000 });
    t.ok(closed, 'connection closed');
    const rs = parseResponses(data);
    t.equal(rs.length, 1, 'one response');
    t.equal(rs[0].status, 400);
    t.equal(rs[0].headers.connection, 'close');
    const j = JSON.parse(rs[0].body);
    t.equal(j.error, 'http_bad_request');
    t.type(j.detail, 'string');
    t.same(seen, [], 'handler saw nothing');
  });
}

t.test('a broken chunked body: the exchange gets the error, 400 is sent, the smuggled request is never handled', async (t) => {
  const seen: string[] = [];
  let bodyError: unknown = null;
  const srv = await startServer((ex) => {
    seen.push(ex.head.path);
    ex.body?.on('error', (e) => (bodyError = e));
    ex.body?.resume();
  });
  t.teardown(() => srv.close());
  const { data, closed } = await rawExchange(srv.port, ['POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'], { timeoutMs: 2000 });
  t.ok(closed);
  const rs = parseResponses(data);
  t.equal(rs.length, 1);
  t.equal(rs[0].status, 400);
  t.same(seen, ['/up']);
  t.ok(bodyError instanceof SluiceError && bodyError.code === 'SLUICE_HTTP_BAD_REQUEST', 'body stream errored with the parse error');
});

t.test('a valid request followed by a malformed one: 200 then 400, then close', async (t) => {
  const srv = await startServer((ex) => setTimeout(() => reply(ex, 200, 'first'), 50));
  t.teardown(() => srv.close());
  const { data, closed } = await rawExchange(srv.port, ['GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n'], { timeoutMs: 2000 });
  t.ok(closed);
  const rs = parseResponses(data);
  t.same(rs.map((r) => r.status), [200, 400]);
  t.equal(rs[0].body, 'first');
});

t.test('limits reach the wire: 414, 431, 413', async (t) => {
  const srv = await startServer(() => t.fail('never handled'), { maxRequestLineBytes: 100, maxHeaderBytes: 200, maxBodyBytes: 10 });
  t.teardown(() => srv.close());
  const cases: Array<[string, number]> = [
    ['GET /' + 'a'.repeat(200) + ' HTTP/1.1\r\nHost: x\r\n\r\n', 414],
    ['GET / HTTP/1.1\r\nHost: x\r\nX: ' + 'b'.repeat(300) + '\r\n\r\n', 431],
    ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world', 413],
  ];
  for (const [bytes, status] of cases) {
    const { data, closed } = await rawExchange(srv.port, [bytes], { timeoutMs: 2000 });
    t.ok(closed);
    t.equal(parseResponses(data)[0]?.status, status, `status ${status}`);
  }
});

t.test('chunked body over maxBodyBytes: 413 after streaming the allowed part', async (t) => {
  let got = '';
  let err: unknown = null;
  const srv = await startServer((ex) => {
    ex.body?.on('data', (c: Buffer) => (got += c.toString()));
    ex.body?.on('error', (e) => (err = e));
  }, { maxBodyBytes: 8 });
  t.teardown(() => srv.close());
  const { data, closed } = await rawExchange(srv.port, ['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', '5\r\nworld\r\n0\r\n\r\n'], { gapMs: 50, timeoutMs: 2000 });
  t.ok(closed);
  t.equal(parseResponses(data)[0].status, 413);
  t.equal(got, 'hello');
  t.match(err, { code: 'SLUICE_HTTP_BODY_TOO_LARGE' });
});

t.test('exchange.abort(): error response before the head, connection reset after it', async (t) => {
  const srv = await startServer((ex) => {
    if (ex.head.path === '/before') ex.abort(new SluiceError('SLUICE_UPSTREAM_TIMEOUT', 'upstream took too long'));
    else {
      ex.respond({ status: 200, headers: [], contentLength: 100 });
      ex.write(Buffer.from('partial'));
      setTimeout(() => ex.abort(new SluiceError('SLUICE_UPSTREAM_RESET', 'upstream reset')), 20);
    }
  });
  t.teardown(() => srv.close());
  const a = await rawExchange(srv.port, ['GET /before HTTP/1.1\r\nHost: x\r\n\r\n'], { timeoutMs: 2000 });
  t.ok(a.closed);
  const r = parseResponses(a.data)[0];
  t.equal(r.status, 504);
  t.same(JSON.parse(r.body), { error: 'upstream_timeout', detail: 'upstream took too long' });
  const b = await rawExchange(srv.port, ['GET /after HTTP/1.1\r\nHost: x\r\n\r\n'], { timeoutMs: 2000 });
  t.ok(b.closed, 'closed mid-body');
  t.match(b.data.toString(), /content-length: 100\r\n\r\npartial$/);
});

t.test('onAbort fires when the client disconnects before the response ends; the body stream errors', async (t) => {
  let reason = '';
  let bodyErr: unknown = null;
  let resolveAbort: () => void = () => {};
  const aborted = new Promise<void>((r) => (resolveAbort = r));
  const srv = await startServer((ex) => {
    ex.onAbort((r) => {
      reason = r;
      resolveAbort();
    });
    ex.body?.on('error', (e) => (bodyErr = e));
    ex.body?.resume();
  });
  t.teardown(() => srv.close());
  const sock = net.connect(srv.port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  await new Promise((r) => sock.on('connect', r));
  sock.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc');
  await sleep(50);
  sock.destroy();
  await Promise.race([aborted, sleep(2000)]);
  t.ok(reason, `onAbort called (${reason})`);
  t.match(bodyErr, { code: 'SLUICE_CLIENT_ABORTED' });
});

t.test('Expect: 100-continue: 100 sent on first body read; not sent (and close) when answered unread', async (t) => {
  const srv = await startServer(async (ex) => {
    if (ex.head.path === '/read') reply(ex, 200, 'got ' + (await readBody(ex)));
    else reply(ex, 401, 'denied');
  });
  t.teardown(() => srv.close());
  // reader: client waits for 100 before sending the body
  const sock = net.connect(srv.port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  let text = '';
  sock.on('data', (d) => (text += d.toString('latin1')));
  await new Promise((r) => sock.on('connect', r));
  sock.write('PUT /read HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n');
  for (let w = 0; w < 100 && !text.includes('100 Continue'); w++) await sleep(10);
  t.equal(text, 'HTTP/1.1 100 Continue\r\n\r\n', 'interim response before any body byte');
  sock.write('data');
  for (let w = 0; w < 100 && !text.includes('got data'); w++) await sleep(10);
  t.match(text, /HTTP\/1\.1 200 OK[^]*got data$/);

  const { data, closed } = await rawExchange(srv.port, ['PUT /deny HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n'], { timeoutMs: 2000 });
  t.notMatch(data.toString(), /100 Continue/, 'no 100 when the handler never read');
  const rs = parseResponses(data);
  t.equal(rs[0].status, 401);
  t.equal(rs[0].headers.connection, 'close');
  t.ok(closed);
});

t.test('a response that ends before the request body is read: the rest of the body is drained, keep-alive kept', async (t) => {
  const srv = await startServer((ex) => reply(ex, 200, ex.head.path));
  t.teardown(() => srv.close());
  const { data } = await rawExchange(srv.port, ['POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234', '56789GET /b HTTP/1.1\r\nHost: x\r\n\r\n'], { gapMs: 50, timeoutMs: 400 });
  t.same(parseResponses(data).map((r) => r.body), ['/a', '/b']);
});

t.test('counters: bytesIn and bytesOut per exchange; request trailers exposed', async (t) => {
  const ins: number[] = [];
  const outs: number[] = [];
  let trailers: unknown = null;
  const srv = await startServer(async (ex) => {
    await readBody(ex);
    trailers = (ex as unknown as { requestTrailers: unknown }).requestTrailers;
    reply(ex, 200, 'abc');
    ins.push(ex.bytesIn);
    outs.push(ex.bytesOut);
  });
  t.teardown(() => srv.close());
  const req = 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx-sum: 1\r\n\r\n';
  const { data } = await rawExchange(srv.port, [req], { timeoutMs: 400 });
  t.equal(ins[0], req.length, 'bytesIn counts head, framing and body');
  t.equal(outs[0], data.length, 'bytesOut counts exactly what went on the wire');
  t.same(trailers, ['x-sum', '1']);
});

t.test('response splitting refused: the handler gets a SluiceError, nothing is written', async (t) => {
  let caught: unknown = null;
  const srv = await startServer((ex) => {
    try {
      ex.respond({ status: 200, headers: ['x-a', 'v\r\nset-cookie: evil'], contentLength: 0 });
    } catch (e) {
      caught = e;
      ex.abort(e as SluiceError);
    }
  });
  t.teardown(() => srv.close());
  const { data } = await rawExchange(srv.port, ['GET / HTTP/1.1\r\nHost: x\r\n\r\n'], { timeoutMs: 1000 });
  t.match(caught, { code: 'SLUICE_HTTP_RESPONSE_INVALID' });
  t.notMatch(data.toString(), /evil/);
  t.equal(parseResponses(data)[0].status, 500);
});

t.test('a held (later) response says wait above its mark and drains once it becomes current', async (t) => {
  const big = Buffer.alloc(300 * 1024, 0x62);
  let sawFalse = false;
  const srv = await startServer((ex) => {
    if (ex.head.path === '/1') {
      setTimeout(() => reply(ex, 200, 'first'), 150);
      return;
    }
    ex.respond({ status: 200, headers: [], contentLength: big.length });
    let off = 0;
    const pump = (): void => {
      while (off < big.length) {
        const ok = ex.write(big.subarray(off, off + 16384));
        off += 16384;
        if (!ok) {
          sawFalse = true;
          return;
        }
      }
      ex.end();
    };
    ex.onDrain(pump);
    pump();
  });
  t.teardown(() => srv.close());
  const { data } = await rawExchange(srv.port, ['GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n'], { timeoutMs: 800 });
  const rs = parseResponses(data);
  t.equal(rs.length, 2);
  t.equal(rs[0].body, 'first');
  t.equal(rs[1].body.length, big.length);
  t.ok(rs[1].body === big.toString('latin1'), 'second body intact');
  t.ok(sawFalse, 'write() returned false while held');
});

t.test('handler mistakes: a throw becomes 500 + close; a short body resets; a long body throws', async (t) => {
  let longErr: unknown = null;
  const srv = await startServer((ex) => {
    if (ex.head.path === '/throw') throw new Error('boom');
    if (ex.head.path === '/short') {
      ex.respond({ status: 200, headers: [], contentLength: 10 });
      ex.write(Buffer.from('abc'));
      ex.end();
      return;
    }
    ex.respond({ status: 200, headers: [], contentLength: 2 });
    try {
      ex.write(Buffer.from('abc'));
    } catch (e) {
      longErr = e;
    }
    ex.write(Buffer.from('ab'));
    ex.end();
  });
  t.teardown(() => srv.close());
  const a = await rawExchange(srv.port, ['GET /throw HTTP/1.1\r\nHost: x\r\n\r\n'], { timeoutMs: 1000 });
  t.ok(a.closed);
  const r = parseResponses(a.data)[0];
  t.equal(r.status, 500);
  t.match(JSON.parse(r.body).detail, /boom/);
  const b = await rawExchange(srv.port, ['GET /short HTTP/1.1\r\nHost: x\r\n\r\n'], { timeoutMs: 1000 });
  t.ok(b.closed, 'closed: the client must not wait for 7 bytes that never come');
  t.match(b.data.toString(), /content-length: 10\r\n\r\nabc$/);
  const c = await rawExchange(srv.port, ['GET /long HTTP/1.1\r\nHost: x\r\n\r\n'], { timeoutMs: 300 });
  t.match(longErr, { code: 'SLUICE_HTTP_RESPONSE_INVALID' });
  t.equal(parseResponses(c.data)[0].body, 'ab', 'framing intact');
});

t.test('events observer sees requests and protocol errors by reason', async (t) => {
  const reqs: string[] = [];
  const errs: string[] = [];
  const srv = await startServer((ex) => reply(ex, 200, 'ok'), {}, { onRequest: (h) => reqs.push(h.path), onProtocolError: (reason) => errs.push(reason) });
  t.teardown(() => srv.close());
  await rawExchange(srv.port, ['GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'], { timeoutMs: 1000 });
  t.same(reqs, ['/a']);
  t.same(errs, ['http_not_implemented']);
});

t.test('client half-close after pipelined requests: every held request is still answered, then FIN', async (t) => {
  const srv = await startServer((ex) => setTimeout(() => reply(ex, 200, ex.head.path), 20), { maxPipelined: 1 });
  t.teardown(() => srv.close());
  const r = (p: string): string => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
  const { data, closed } = await rawExchange(srv.port, [r('/1') + r('/2') + r('/3')], { endAfter: true, timeoutMs: 2000 });
  t.ok(closed, 'server closed after answering');
  t.same(parseResponses(data).map((x) => x.body), ['/1', '/2', '/3']);
});

t.test('client half-close in the middle of a body: the body errors, the response still goes out', async (t) => {
  let bodyErr: unknown = null;
  const srv = await startServer((ex) => {
    ex.body?.on('error', (e) => {
      bodyErr = e;
      ex.abort(e as SluiceError);
    });
    ex.body?.resume();
  });
  t.teardown(() => srv.close());
  const { data, closed } = await rawExchange(srv.port, ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc'], { endAfter: true, timeoutMs: 2000 });
  t.ok(closed);
  t.match(bodyErr, { code: 'SLUICE_CLIENT_ABORTED' });
  t.equal(parseResponses(data)[0]?.status, 499, 'the abort answers with the error status');
});
