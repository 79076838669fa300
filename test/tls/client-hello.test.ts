import t from 'tap';
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { ClientHelloReader, parseClientHello, type ClientHelloResult } from '../../src/tls/client-hello.js';
import { runPeer } from '../fixtures/tls/peers.js';

/** The first bytes a real openssl s_client sends (its ClientHello records), captured on a socket. */
async function captureHello(args: string[]): Promise<Buffer> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const got = new Promise<Buffer>((resolve) => {
    server.once('connection', (s: Socket) => {
      const parts: Buffer[] = [];
      s.on('data', (d: Buffer) => parts.push(d));
      // The whole hello arrives in well under this; the client then waits for our answer.
      setTimeout(() => {
        resolve(Buffer.concat(parts));
        s.destroy();
      }, 400);
    });
  });
  const client = runPeer('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { holdMs: 2000, timeoutMs: 5000 });
  const bytes = await got;
  await client;
  server.close();
  return bytes;
}

function feed(reader: ClientHelloReader, bytes: Buffer, cuts: number[]): ClientHelloResult {
  let at = 0;
  let r: ClientHelloResult = { kind: 'need_more' };
  for (const cut of [...cuts, bytes.length]) {
    r = reader.push(bytes.subarray(at, cut));
    at = cut;
  }
  return r;
}

/** Re-frames one handshake message into records of at most `size` bytes (RFC 8446 5.1 allows it). */
function fragment(hello: Buffer, size: number): Buffer {
  const message = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const out: Buffer[] = [];
  for (let p = 0; p < message.length; p += size) {
    const frag = message.subarray(p, p + size);
    const head = Buffer.from([22, 3, 1, 0, 0]);
    head.writeUInt16BE(frag.length, 3);
    out.push(head, frag);
  }
  return Buffer.concat(out);
}

t.test('reads SNI and ALPN from a real ClientHello split at every byte', async (t) => {
  const hello = await captureHello(['-servername', 'api.example.test', '-alpn', 'h2,http/1.1']);
  t.equal(hello[0], 22, 'a handshake record');
  const whole = new ClientHelloReader().push(hello);
  t.same(whole, { kind: 'hello', sni: 'api.example.test', alpn: ['h2', 'http/1.1'] });
  for (let cut = 1; cut < hello.length; cut++) {
    const reader = new ClientHelloReader();
    const r = feed(reader, hello, [cut]);
    if (r.kind !== 'hello' || r.sni !== 'api.example.test') {
      t.fail(`split at ${cut}: ${JSON.stringify(r)}`);
      return;
    }
    t.equal(reader.buffered.equals(hello), true);
  }
  // And one byte at a time.
  const cuts = Array.from({ length: hello.length - 1 }, (_, i) => i + 1);
  t.same(feed(new ClientHelloReader(), hello, cuts), whole);
});

t.test('a ClientHello fragmented over several records is reassembled', async (t) => {
  const hello = await captureHello(['-servername', 'frag.test', '-tls1_2']);
  const framed = fragment(hello, 50);
  t.ok(framed.length > hello.length + 5, 'more than one record');
  t.same(new ClientHelloReader().push(framed), { kind: 'hello', sni: 'frag.test', alpn: [] });
});

t.test('no server_name extension gives sni ""', async (t) => {
  const hello = await captureHello(['-noservername']);
  t.same(new ClientHelloReader().push(hello), { kind: 'hello', sni: '', alpn: [] });
});

t.test('non-TLS and broken input is unreadable with the byte named', async (t) => {
  const http = new ClientHelloReader().push(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  t.same(http, { kind: 'unreadable', reason: 'record type 71 at byte 0 is not handshake (22)' });
  // SSLv2-compatible hello: first byte has the high bit set.
  t.match(new ClientHelloReader().push(Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01])), { kind: 'unreadable', reason: /record type 128/ });
  t.match(new ClientHelloReader().push(Buffer.from([22, 2, 0, 0, 10])), { kind: 'unreadable', reason: 'record version 2.0 at byte 1 is not 3.x' });
  t.match(new ClientHelloReader().push(Buffer.from([22, 3, 1, 0x40, 0x01])), { kind: 'unreadable', reason: 'record length 16385 at byte 3 is outside 1..16384' });
  t.match(new ClientHelloReader().push(Buffer.from([22, 3, 1, 0, 4, 2, 0, 0, 0])), { kind: 'unreadable', reason: 'handshake type 2 is not client_hello (1)' });
  t.same(new ClientHelloReader().push(Buffer.from([22, 3, 1])), { kind: 'need_more' }, 'a partial header waits');
  // A declared hello larger than the limit is refused before it is buffered.
  t.match(new ClientHelloReader(1024).push(Buffer.from([22, 3, 1, 0, 4, 1, 0, 0x10, 0])), { kind: 'unreadable', reason: /exceeds the 1024-byte limit/ });
  // Truncated body: the extensions length points past the end.
  const body = Buffer.alloc(2 + 32 + 1 + 2 + 2 + 1 + 1 + 2);
  let p = 34;
  body[p++] = 0; // session id
  body.writeUInt16BE(2, p); p += 2; // one suite
  p += 2;
  body[p++] = 1; body[p++] = 0; // null compression
  body.writeUInt16BE(100, p);
  t.match(parseClientHello(body), { kind: 'unreadable', reason: /extensions run past the client_hello/ });
  // Without extensions at all (allowed before TLS 1.3).
  t.same(parseClientHello(body.subarray(0, p)), { kind: 'hello', sni: '', alpn: [] });
});

t.test('after a result, further bytes are not consumed', async (t) => {
  const hello = await captureHello(['-servername', 'x.test']);
  const reader = new ClientHelloReader();
  const r = reader.push(hello);
  t.equal(r.kind, 'hello');
  t.same(reader.push(Buffer.from('more')), r);
});
