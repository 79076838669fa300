// Regression for undici 7's `assert(!this.paused)` crash (issue #5360): a response that is not
// keep-alive (Connection: close, HTTP/1.0, close-delimited) whose FIN arrives while the call is
// paused for backpressure. Here the sink pauses after EVERY chunk and resumes 5 ms later, so the
// last body bytes always land on a paused parser and the upstream's FIN comes in while it is
// paused: without src/upstream/end-gate.ts the process dies in undici's socket 'end' handler.
// Real upstreams (raw TCP servers that write everything and then end), the real pool and
// handler; bodies are checked whole (sha256), truncations must still fail.

import { createHash } from 'node:crypto';
import t, { type Test } from 'tap';
import { SluiceError } from '../../src/errors.js';
import { Cluster } from '../../src/upstream/cluster.js';
import type { UpstreamCall, UpstreamRequest } from '../../src/upstream/forward.js';
import { RecordingSink, clusterEntry, rawUpstream } from './helpers.js';

const BODY = Buffer.alloc(1024 * 1024);
for (let i = 0, x = 0x2545f491; i < BODY.length; i += 4) {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  BODY.writeUInt32LE(x >>> 0, i);
}
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

const GET: UpstreamRequest = { method: 'GET', path: '/', headers: ['host', 'up'], body: null, timeoutMs: null };

function slices(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

function chunked(buf: Buffer, size: number, last = true): Buffer {
  const out: Buffer[] = [];
  for (const s of slices(buf, size)) out.push(Buffer.from(`${s.length.toString(16)}\r\n`), s, Buffer.from('\r\n'));
  if (last) out.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(out);
}

/** An upstream that answers each request with head + payload and then ends the connection. */
async function closingUpstream(t: Test, head: string, payload: Buffer): Promise<string> {
  const up = await rawUpstream((s) => {
    s.once('data', () => {
      s.write(head);
      s.end(payload);
    });
  });
  t.teardown(() => up.close());
  return up.address;
}

function makeCluster(t: Test, endpoint: string): Cluster {
  const c = new Cluster(clusterEntry('c', [endpoint]));
  t.teardown(() => c.destroy());
  return c;
}

/** Forward GET / with a sink that pauses on every chunk and resumes `resumeMs` later. */
async function pausingGet(c: Cluster, resumeMs = 5): Promise<{ sink: RecordingSink; pauses: number; call: UpstreamCall }> {
  const sink = new RecordingSink();
  let pauses = 0;
  let call: UpstreamCall | null = null;
  sink.accept = () => {
    pauses++;
    setTimeout(() => call?.resume(), resumeMs);
    return false;
  };
  call = c.forward(GET, sink);
  await sink.done;
  return { sink, pauses, call };
}

const complete: Array<[string, string, Buffer]> = [
  ['Content-Length + Connection: close', `HTTP/1.1 200 OK\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n`, BODY],
  ['chunked + Connection: close', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n', chunked(BODY, 50_000)],
  ['HTTP/1.0 close-delimited', 'HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n', BODY],
  ['HTTP/1.1 close-delimited (no length, Connection: close)', 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n', BODY],
];

for (const [name, head, payload] of complete) {
  t.test(`${name}: FIN while paused on every chunk; the body completes intact`, async (t) => {
    const c = makeCluster(t, await closingUpstream(t, head, payload));
    const { sink, pauses } = await pausingGet(c);
    t.equal(sink.failure, null, 'no failure');
    t.equal(sink.head?.status, 200);
    t.ok(pauses > 1, `paused ${pauses} times`);
    t.equal(sink.bytes, BODY.length);
    t.equal(sha(Buffer.concat(sink.chunks)), sha(BODY), 'sha256 of the body');
  });
}

t.test('Content-Length + Connection: close, truncated: still a failure after the head', async (t) => {
  const short = BODY.subarray(0, BODY.length - 1000);
  const c = makeCluster(t, await closingUpstream(t, `HTTP/1.1 200 OK\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n`, short));
  const { sink } = await pausingGet(c);
  t.equal(sink.head?.status, 200);
  t.match(sink.failure, { error: { code: 'SLUICE_UPSTREAM_PROTOCOL' } }, `failed: ${sink.failure?.error.code}`);
  t.equal(sink.bytes, short.length, 'every byte sent was delivered before the failure');
  t.equal(sha(Buffer.concat(sink.chunks)), sha(short));
});

t.test('chunked + Connection: close, truncated before the last chunk: still a failure', async (t) => {
  const c = makeCluster(t, await closingUpstream(t, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n', chunked(BODY, 50_000, false)));
  const { sink } = await pausingGet(c);
  t.match(sink.failure, { error: { code: 'SLUICE_UPSTREAM_PROTOCOL' } }, `failed: ${sink.failure?.error.code}`);
  t.equal(sink.bytes, BODY.length);
});

t.test('aborted while a FIN is held: the call fails downstream, nothing crashes, the pool still serves', async (t) => {
  let n = 0;
  const up = await rawUpstream((s) => {
    s.once('data', () => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n`);
      s.end(n++ === 0 ? BODY.subarray(0, 200_000) : BODY);
    });
  });
  t.teardown(() => up.close());
  const c = makeCluster(t, up.address);
  const sink = new RecordingSink();
  let call: UpstreamCall | null = null;
  sink.accept = () => false; // never resumed: the FIN stays held until the abort
  call = c.forward(GET, sink);
  await new Promise((r) => setTimeout(r, 300));
  call.abort(new SluiceError('SLUICE_CLIENT_ABORTED', 'test: client went away'));
  await sink.done;
  t.match(sink.failure, { source: 'downstream', error: { code: 'SLUICE_CLIENT_ABORTED' } });
  const again = await pausingGet(c, 1);
  t.equal(again.sink.failure, null);
  t.equal(sha(Buffer.concat(again.sink.chunks)), sha(BODY));
});

t.test('Connection: close response reset (RST) by the upstream while paused: a reset failure, no crash', async (t) => {
  const up = await rawUpstream((s) => {
    s.once('data', () => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n`);
      s.write(BODY.subarray(0, 30_000));
      setTimeout(() => s.resetAndDestroy(), 200);
    });
  });
  t.teardown(() => up.close());
  const c = makeCluster(t, up.address);
  const sink = new RecordingSink();
  sink.accept = () => false; // paused from the first chunk on, and still paused when the RST comes
  c.forward(GET, sink);
  await sink.done;
  t.match(sink.failure, { error: { code: 'SLUICE_UPSTREAM_RESET' } }, `failed: ${sink.failure?.error.code}`);
  t.ok(sink.bytes > 0 && sink.bytes <= 30_000);
});

t.test('keep-alive responses paused on every chunk: complete, and the connection is reused', async (t) => {
  let connections = 0;
  const up = await rawUpstream((s) => {
    connections++;
    let pending = '';
    s.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      while (pending.includes('\r\n\r\n')) {
        pending = pending.slice(pending.indexOf('\r\n\r\n') + 4);
        s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${BODY.length}\r\n\r\n`);
        s.write(BODY);
      }
    });
  });
  t.teardown(() => up.close());
  const c = makeCluster(t, up.address);
  for (let i = 0; i < 2; i++) {
    const { sink } = await pausingGet(c, 1);
    t.equal(sink.failure, null);
    t.equal(sha(Buffer.concat(sink.chunks)), sha(BODY), `response ${i + 1} intact`);
    // onEnd runs inside undici's message-complete handling; the pool sees the connection free
    // only after that returns.
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal(connections, 1, 'one upstream connection carried both');
});
