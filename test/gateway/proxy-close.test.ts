// The gateway path for upstream responses that are not keep-alive (Connection: close, HTTP/1.0,
// a close-delimited body) relayed to a slow client: serveHttp1 + proxy() over TCP, a real
// upstream that writes a large body and then ends (FIN), a real slow reader (Python, tiny
// receive window). Bodies must arrive whole and intact (sha256); truncated bodies must still
// reset the client after the head; keep-alive responses keep their connection.
// undici 7 (issue #5360) crashed the process when the FIN arrived while the proxy had the
// response paused; src/upstream/end-gate.ts holds the 'end' until the proxy resumes. Whether a
// pause falls exactly on the last body batch here depends on when the kernel wakes the gateway's
// client socket, so this file reaches the crash only sometimes without the fix;
// test/upstream/forward-close.test.ts pauses on every chunk and reproduces it every time.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { type ProxyResult, proxy } from '../../src/gateway/proxy.js';
import type { ProxyAction } from '../../src/gateway/routes.js';
import type { HttpExchange } from '../../src/http/exchange.js';
import { serveHttp1 } from '../../src/http1/session.js';
import { StreamConnection } from '../../src/transport/stream.js';
import { Cluster } from '../../src/upstream/cluster.js';
import { clusterEntry, rawUpstream } from '../upstream/helpers.js';

const run = promisify(execFile);
const MB = 1024 * 1024;
// Larger than what the loopback socket buffers of both legs hold, so the proxy is still pausing
// the upstream when the upstream's last bytes and FIN arrive.
const BODY_BYTES = 2 * MB;

const act: ProxyAction = {
  kind: 'proxy',
  cluster: 'c',
  rewritePath: (p) => p,
  requestHeaders: { add: [], remove: new Set() },
  responseHeaders: { add: [], remove: new Set() },
  timeoutMs: null,
};

/** Deterministic, incompressible-looking bytes (so a misplaced chunk changes the hash). */
function body(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = 0x9e3779b9;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b;
}

const BODY = body(BODY_BYTES);
const BODY_SHA = createHash('sha256').update(BODY).digest('hex');

interface Gateway {
  readonly port: number;
  next(): Promise<ProxyResult>;
}

async function gateway(t: Test, cluster: Cluster): Promise<Gateway> {
  const waiters: Array<(r: ProxyResult) => void> = [];
  const done: ProxyResult[] = [];
  let id = 1;
  const sockets = new Set<net.Socket>();
  const handle = (ex: HttpExchange): void => {
    proxy(ex, act, cluster, { requestId: `rid-${id++}`, clientAddress: ex.connection.remoteAddress, listenerProto: 'http' }, (r) => {
      const w = waiters.shift();
      if (w) w(r);
      else done.push(r);
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
    next: () => {
      const r = done.shift();
      return r ? Promise.resolve(r) : new Promise((res) => waiters.push(res));
    },
  };
}

function makeCluster(t: Test, endpoint: string): Cluster {
  const c = new Cluster(clusterEntry('c', [endpoint], { request_timeout_ms: 20_000 }));
  t.teardown(() => c.destroy());
  return c;
}

/** Writes `head` and then `payload` with backpressure, then ends (FIN) the socket. */
function answerAndClose(head: string, payload: Buffer[]): Parameters<typeof rawUpstream>[0] {
  return (s) => {
    s.once('data', () => {
      s.write(head);
      let i = 0;
      const pump = (): void => {
        while (i < payload.length) {
          if (!s.write(payload[i++])) return void s.once('drain', pump);
        }
        s.end();
      };
      pump();
    });
  };
}

/** Slices of `buf` of `size` bytes (the last may be shorter). */
function slices(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

function chunked(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (const s of slices(buf, size)) out.push(Buffer.from(`${s.length.toString(16)}\r\n`), s, Buffer.from('\r\n'));
  out.push(Buffer.from('0\r\n\r\n'));
  return out;
}

interface SlowRead {
  readonly status: number;
  readonly bytes: number;
  readonly sha: string;
  /** The reader's exception (incomplete body, reset), '' when the body ended cleanly. */
  readonly error: string;
}

// The slow client is a Python http.client with a 4 KiB SO_RCVBUF (Node cannot set it): the tiny
// receive window keeps the gateway's socket buffers to the client small, so nearly every body
// batch the gateway relays fills them and pauses the upstream, the last batch included. With
// the kernel's default autotuned buffers a pause on exactly the last batch is a matter of luck.
const SLOW_READER = `
import hashlib, http.client, json, socket, sys, time
port, delay = int(sys.argv[1]), float(sys.argv[2])
class Slow(http.client.HTTPConnection):
    def connect(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1024)
        s.connect((self.host, self.port))
        self.sock = s
c = Slow('127.0.0.1', port, timeout=30)
c.request('GET', '/')
r = c.getresponse()
time.sleep(0.3)
h, n, err = hashlib.sha256(), 0, ''
try:
    while True:
        b = r.read(16384)
        if not b:
            break
        h.update(b)
        n += len(b)
        time.sleep(delay)
except Exception as e:
    err = '%s: %s' % (type(e).__name__, e)
# read(amt) returns b'' on a connection closed short of Content-Length without raising.
if not err and r.length:
    err = 'incomplete: %d bytes of the Content-Length missing' % r.length
print(json.dumps({'status': r.status, 'bytes': n, 'sha': h.hexdigest(), 'error': err}))
`;

/** GET / through the gateway with the slow reader: it stalls 300 ms, then reads 16 KiB per `delayMs`. */
async function slowGet(port: number, delayMs = 5): Promise<SlowRead> {
  const { stdout } = await run('python3', ['-c', SLOW_READER, String(port), String(delayMs / 1000)], { timeout: 40_000 });
  return JSON.parse(stdout) as SlowRead;
}

const cases: Array<{ name: string; head: string; payload: () => Buffer[] }> = [
  {
    name: 'HTTP/1.1 Content-Length with Connection: close',
    head: `HTTP/1.1 200 OK\r\nContent-Length: ${BODY_BYTES}\r\nConnection: close\r\n\r\n`,
    payload: () => slices(BODY, 64 * 1024),
  },
  {
    name: 'HTTP/1.1 chunked with Connection: close',
    head: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
    payload: () => chunked(BODY, 50_000),
  },
  {
    name: 'HTTP/1.0 close-delimited body (no length, no chunking)',
    head: 'HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n',
    payload: () => slices(BODY, 64 * 1024),
  },
];

for (const c of cases) {
  t.test(`${c.name}: FIN while paused for a slow client; the body arrives whole`, async (t) => {
    const up = await rawUpstream(answerAndClose(c.head, c.payload()));
    t.teardown(() => up.close());
    const gw = await gateway(t, makeCluster(t, up.address));
    const got = await slowGet(gw.port);
    t.equal(got.error, '', 'client read the body to its end');
    t.equal(got.status, 200);
    t.equal(got.bytes, BODY_BYTES);
    t.equal(got.sha, BODY_SHA, 'sha256 of what the client received');
    const r = await gw.next();
    t.equal(r.error, null);
    t.equal(r.bytesFromUpstream, BODY_BYTES);
  });
}

t.test('Content-Length + Connection: close, truncated, FIN while paused: the client is reset after the head', async (t) => {
  const short = BODY.subarray(0, BODY_BYTES - 1000);
  const up = await rawUpstream(answerAndClose(`HTTP/1.1 200 OK\r\nContent-Length: ${BODY_BYTES}\r\nConnection: close\r\n\r\n`, slices(short, 64 * 1024)));
  t.teardown(() => up.close());
  const gw = await gateway(t, makeCluster(t, up.address));
  const got = await slowGet(gw.port);
  t.equal(got.status, 200, 'the head was already relayed');
  t.ok(got.error, `client saw the failure (${got.error})`);
  t.ok(got.bytes <= short.length, 'never more than the upstream sent');
  const r = await gw.next();
  t.equal(r.status, 200);
  t.match(r.error, { code: 'SLUICE_UPSTREAM_PROTOCOL' }, 'the proxy result names the upstream failure');
  t.equal(r.bytesFromUpstream, short.length, 'every byte the upstream sent was relayed before the reset');
});

t.test('chunked + Connection: close, truncated before the last chunk, FIN while paused: the client is reset', async (t) => {
  const parts = chunked(BODY, 50_000);
  const up = await rawUpstream(answerAndClose('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n', parts.slice(0, -1)));
  t.teardown(() => up.close());
  const gw = await gateway(t, makeCluster(t, up.address));
  const got = await slowGet(gw.port);
  t.equal(got.status, 200);
  t.ok(got.error, `client saw the failure (${got.error})`);
  const r = await gw.next();
  t.match(r.error, { code: 'SLUICE_UPSTREAM_PROTOCOL' });
  t.equal(r.bytesFromUpstream, BODY_BYTES);
});

t.test('keep-alive responses read slowly still reuse one upstream connection', async (t) => {
  let connections = 0;
  const up = await rawUpstream((s) => {
    connections++;
    let pending = '';
    s.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      while (pending.includes('\r\n\r\n')) {
        pending = pending.slice(pending.indexOf('\r\n\r\n') + 4);
        s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${BODY_BYTES}\r\n\r\n`);
        s.write(BODY);
      }
    });
  });
  t.teardown(() => up.close());
  const gw = await gateway(t, makeCluster(t, up.address));
  for (let i = 0; i < 2; i++) {
    const got = await slowGet(gw.port);
    t.equal(got.error, '');
    t.equal(got.sha, BODY_SHA, `response ${i + 1} intact`);
    t.equal((await gw.next()).error, null);
  }
  t.equal(connections, 1, 'the kept-alive upstream connection carried both responses');
});
