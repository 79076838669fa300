// 100 MB request body echoed as a 100 MB response body, streamed with backpressure both ways, while
// the process's memory stays bounded: nothing in the session may buffer a body whole.
import t from 'tap';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { startServer } from './server.js';

const TOTAL = 100 * 1024 * 1024;
const PIECE = 64 * 1024;

function piece(k: number): Buffer {
  // deterministic, non-constant content so a reordering or a dropped piece changes the hash
  const b = Buffer.alloc(PIECE, k & 0xff);
  b.writeUInt32BE(k, 0);
  return b;
}

t.test('100 MB request body echoed as a 100 MB chunked response with bounded memory', async (t) => {
  let falseWrites = 0;
  let drains = 0;
  const srv = await startServer(
    (ex) => {
      const body = ex.body;
      if (!body) throw new Error('expected a body');
      ex.respond({ status: 200, headers: ['content-type', 'application/octet-stream'], contentLength: -1 });
      ex.onDrain(() => {
        drains++;
        body.resume();
      });
      body.on('data', (c: Buffer) => {
        if (!ex.write(c)) {
          falseWrites++;
          body.pause();
        }
      });
      body.on('end', () => ex.end());
    },
    { maxBodyBytes: TOTAL },
  );
  t.teardown(() => srv.close());

  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  t.teardown(() => clearInterval(sampler));

  const sentHash = createHash('sha256');
  const gotHash = createHash('sha256');
  const sock = net.connect(srv.port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  await new Promise((r) => sock.on('connect', r));

  // Response reader: skip the head, de-chunk incrementally, hash the payload.
  let head = true;
  let pending = Buffer.alloc(0);
  let chunkLeft = 0;
  let received = 0;
  let done = false;
  let resolveDone: () => void = () => {};
  const finished = new Promise<void>((r) => (resolveDone = r));
  sock.on('data', (d: Buffer) => {
    let buf = pending.length ? Buffer.concat([pending, d]) : d;
    pending = Buffer.alloc(0);
    if (head) {
      const e = buf.indexOf('\r\n\r\n');
      if (e < 0) {
        pending = Buffer.from(buf);
        return;
      }
      t.match(buf.subarray(0, e).toString(), /^HTTP\/1\.1 200 OK\r\n[^]*transfer-encoding: chunked/);
      head = false;
      buf = buf.subarray(e + 4);
    }
    while (buf.length) {
      if (chunkLeft > 0) {
        const n = Math.min(chunkLeft, buf.length);
        gotHash.update(buf.subarray(0, n));
        received += n;
        chunkLeft -= n;
        buf = buf.subarray(n);
        if (chunkLeft === 0) chunkLeft = -2; // CRLF after data
        continue;
      }
      if (chunkLeft < 0) {
        const n = Math.min(-chunkLeft, buf.length);
        chunkLeft += n;
        buf = buf.subarray(n);
        continue;
      }
      const le = buf.indexOf('\r\n');
      if (le < 0) {
        pending = Buffer.from(buf);
        return;
      }
      const size = parseInt(buf.subarray(0, le).toString(), 16);
      buf = buf.subarray(le + 2);
      if (size === 0) {
        done = true;
        resolveDone();
        return;
      }
      chunkLeft = size;
    }
  });

  // The client does not read the response for the first 300 ms: the echo's writes must back up,
  // the handler pause the body, the session pause the connection, and the client's sends stall.
  sock.pause();
  let sent = 0;
  let sentWhilePaused = -1;
  setTimeout(() => {
    sentWhilePaused = sent;
    sock.resume();
  }, 300).unref();
  sock.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${TOTAL}\r\n\r\n`);
  const started = Date.now();
  for (let k = 0; k < TOTAL / PIECE; k++) {
    const p = piece(k);
    sentHash.update(p);
    sent += PIECE;
    if (!sock.write(p)) await new Promise((r) => sock.once('drain', r));
  }
  await Promise.race([finished, new Promise((r) => setTimeout(r, 45_000).unref())]);
  clearInterval(sampler);
  const secs = (Date.now() - started) / 1000;
  t.ok(done, 'response finished');
  t.equal(received, TOTAL, 'all bytes echoed');
  t.equal(gotHash.digest('hex'), sentHash.digest('hex'), 'echoed bytes identical and in order');
  const growth = (peak - base) / (1024 * 1024);
  t.ok(growth < 150, `rss grew ${growth.toFixed(1)} MB (< 150 MB) moving 2 x 100 MB in ${secs.toFixed(1)} s`);
  t.ok(falseWrites > 0 && drains > 0, `write() said wait ${falseWrites} times and drained ${drains} times`);
  t.ok(sentWhilePaused >= 0 && sentWhilePaused < 32 * 1024 * 1024, `client could send only ${(sentWhilePaused / 1048576).toFixed(1)} MB while not reading: backpressure reached the sender`);
});

t.test('100 MB response to a client that reads slowly: write() holds back instead of buffering', async (t) => {
  let written = 0;
  let maxQueued = 0;
  const srv = await startServer((ex) => {
    ex.respond({ status: 200, headers: [], contentLength: TOTAL });
    let k = 0;
    const pump = (): void => {
      while (k < TOTAL / PIECE) {
        const ok = ex.write(piece(k++));
        written += PIECE;
        if (!ok) return;
      }
      ex.end();
    };
    ex.onDrain(pump);
    pump();
  });
  t.teardown(() => srv.close());
  const sock = net.connect(srv.port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  await new Promise((r) => sock.on('connect', r));
  sock.pause();
  sock.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
  // The client reads nothing for 300 ms: the server must stop after about a socket buffer's worth.
  await new Promise((r) => setTimeout(r, 300));
  maxQueued = written;
  t.ok(maxQueued < 16 * 1024 * 1024, `only ${(maxQueued / 1048576).toFixed(1)} MB produced while the client was not reading`);
  let got = 0;
  const hash = createHash('sha256');
  const expect = createHash('sha256');
  for (let k = 0; k < TOTAL / PIECE; k++) expect.update(piece(k));
  let headDone = false;
  await new Promise<void>((resolve) => {
    sock.on('data', (d: Buffer) => {
      if (!headDone) {
        const e = d.indexOf('\r\n\r\n');
        headDone = true;
        d = d.subarray(e + 4);
      }
      got += d.length;
      hash.update(d);
      if (got >= TOTAL) resolve();
    });
    sock.resume();
    setTimeout(resolve, 45_000).unref();
  });
  t.equal(got, TOTAL);
  t.equal(hash.digest('hex'), expect.digest('hex'));
});
