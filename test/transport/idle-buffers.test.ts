// An idle keep-alive connection on the bypass path holds no TCP buffer: after a request and its
// response over the gateway's own chain (TcpDuplex, a server TLSSocket, StreamConnection,
// Http1Session), the idle buffer sweep gives the rings' storage back once they have been empty
// and unused for a whole sweep period, while a connection with bytes in flight keeps its storage.
// 10,000 idle TLS connections held 64 KiB of send ring each before (bench/bypass.sh). And the TLS
// terminator keeps nothing of a finished handshake (the ClientHello bytes, its timer, closures)
// for the life of the connection.

import t from 'tap';
import * as tls from 'node:tls';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { TcpDuplex, sweepIdleBuffers, sweptSocketCount } from '../../src/transport/bypass.js';
import { StreamConnection } from '../../src/transport/stream.js';
import { serveHttp1 } from '../../src/http1/session.js';
import type { TcpSocket } from '../../src/net/tcp/socket.js';
import { ringPoolBytes } from '../../src/net/tcp/buffers.js';
import { createSelfSignedCertificate } from '../../src/tls/dev-cert.js';
import { CertStore } from '../../src/tls/cert-store.js';
import { TlsTerminator } from '../../src/tls/terminator.js';
import { SimNet, driveRealtime, ip } from '../net/tcp/sim.js';

const A = ip('198.18.0.1');
const B = ip('198.18.0.2');
const BODY = 'ok\n';

async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A segment with no payload and no SYN, FIN or RST: a pure ACK. */
function pureAck(seg: Uint8Array): boolean {
  const dataOff = (seg[12]! >> 4) * 4;
  return seg.length === dataOff && (seg[13]! & 0x07) === 0;
}

t.test('after a request and its response the idle connection holds no TCP buffer on either side', async (t) => {
  const { certPem, keyPem } = await createSelfSignedCertificate(['localhost']);
  const net = new SimNet(11, { delayMs: 0.5 });
  const client = net.addHost(A);
  const server = net.addHost(B);
  const stop = driveRealtime(net);
  t.teardown(stop);
  const secureContext = tls.createSecureContext({ cert: certPem, key: keyPem });
  let serverSock: TcpSocket | null = null;
  let served = 0;
  server.listen({
    ip: B,
    port: 443,
    onConnection: (sock) => {
      serverSock = sock;
      const tlsSocket = new tls.TLSSocket(new TcpDuplex(sock), { isServer: true, secureContext, ALPNProtocols: ['http/1.1'] });
      tlsSocket.once('secure', () => {
        const conn = new StreamConnection(tlsSocket, { transport: 'memory', listener: 'test', tls: null });
        serveHttp1(conn, {
          handle: (ex) => {
            served++;
            ex.respond({ status: 200, headers: [], contentLength: BODY.length });
            ex.write(Buffer.from(BODY));
            ex.end();
          },
        });
      });
    },
  });
  const clientSock = client.connect({ localIp: A, remoteIp: B, remotePort: 443 });
  const tlsClient = tls.connect({ socket: new TcpDuplex(clientSock), servername: 'localhost', ca: certPem, ALPNProtocols: ['http/1.1'] });
  t.teardown(() => tlsClient.destroy());
  let received = '';
  tlsClient.on('data', (d: Buffer) => (received += d.toString('latin1')));
  await new Promise<void>((resolve, reject) => {
    tlsClient.once('secureConnect', resolve);
    tlsClient.once('error', reject);
  });
  const get = async (n: number): Promise<void> => {
    tlsClient.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await until(`response ${n}`, () => received.split(BODY).length - 1 >= n);
  };

  await get(1);
  await until('the response to be acknowledged', () => serverSock !== null && serverSock.sendQueueBytes === 0);
  await until('the request to be acknowledged', () => clientSock.sendQueueBytes === 0);
  t.equal(served, 1);
  const held = serverSock!.bufferBytes;
  t.ok(held >= 1024 && held <= 8 * 1024, `right after use the server keeps its send ring (${held} bytes: sized to what was written, not 64 KiB)`);
  t.equal(sweptSocketCount(), 2, 'both TcpDuplex sockets are swept');
  sweepIdleBuffers();
  sweepIdleBuffers();
  t.equal(serverSock!.bufferBytes, 0, 'idle for a whole sweep period: the server holds no ring storage');
  t.equal(clientSock.bufferBytes, 0, 'nor does the client');
  t.equal(serverSock!.state, 'ESTABLISHED', 'the connection stays open, idle');

  // Bytes in flight keep their storage: hold the client's pure ACKs.
  net.filter = (src, _dst, seg) => !(src === A && pureAck(seg));
  await get(2);
  t.equal(served, 2);
  const unacked = serverSock!.sendQueueBytes;
  t.ok(unacked > 0, `response 2 unacknowledged (${unacked} bytes)`);
  sweepIdleBuffers();
  sweepIdleBuffers();
  t.equal(serverSock!.bufferBytes, 1024, 'sweeps leave a ring holding unacknowledged bytes alone (1 KiB for one small response)');
  const pooledBefore = ringPoolBytes();
  net.filter = null;
  // The retransmission timer resends the unacknowledged segment; its ACK now passes.
  await until('response 2 to be acknowledged', () => serverSock!.sendQueueBytes === 0);
  t.equal(serverSock!.bufferBytes, 1024, 'acknowledged: kept until idle for a whole period');
  sweepIdleBuffers();
  sweepIdleBuffers();
  t.equal(serverSock!.bufferBytes, 0, 'then released');
  t.equal(ringPoolBytes(), pooledBefore + 1024, 'into the shared pool, for the next ring that needs one');

  // The same without calling the sweep: its timer (every second) does it within two periods.
  await get(3);
  await until('response 3 to be acknowledged', () => serverSock!.sendQueueBytes === 0);
  const t0 = performance.now();
  await until('the sweep timer to release the ring', () => serverSock!.bufferBytes === 0, 5000);
  const waited = performance.now() - t0;
  t.ok(waited <= 3500, `released by the timer after ${waited.toFixed(0)} ms (two periods of 1 s at most, plus scheduling)`);

  tlsClient.end();
  await until('both sockets to close and leave the sweep', () => sweptSocketCount() === 0, 5000);
  t.equal(sweptSocketCount(), 0, 'closed sockets are no longer swept');
});

t.test('after the handshake the terminator keeps nothing of it: the ClientHello bytes are collectable while the connection stays open', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const { certPem, keyPem } = await createSelfSignedCertificate(['localhost']);
  const dir = await mkdtemp(join(tmpdir(), 'sluice-idle-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'cert.pem'), certPem);
  await writeFile(join(dir, 'key.pem'), keyPem);
  const store = await CertStore.load([{ certPath: join(dir, 'cert.pem'), keyPath: join(dir, 'key.pem'), isDefault: true }]);
  // The default ALPN list (http/1.1): the TLSSocket keeps an ALPNCallback for the connection's life.
  const terminator = new TlsTerminator('test', {}, store);
  const net = new SimNet(12, { delayMs: 0.5 });
  const client = net.addHost(A);
  const server = net.addHost(B);
  const stop = driveRealtime(net);
  t.teardown(stop);
  let hello: WeakRef<Buffer> | null = null;
  const secured = new Promise<StreamConnection>((resolve) => {
    server.listen({
      ip: B,
      port: 443,
      onConnection: (sock) => {
        const raw = new TcpDuplex(sock);
        // Registered before the terminator's reader: sees the same first chunk, keeps only a weak reference.
        raw.once('data', (chunk: Buffer) => (hello = new WeakRef(chunk)));
        terminator.accept(raw, { transport: 'memory' }, (conn) => resolve(conn));
      },
    });
  });
  const tlsClient = tls.connect({ socket: new TcpDuplex(client.connect({ localIp: A, remoteIp: B, remotePort: 443 })), servername: 'localhost', ca: certPem, ALPNProtocols: ['http/1.1'] });
  t.teardown(() => tlsClient.destroy());
  const conn = await secured;
  await new Promise<void>((resolve) => (tlsClient.authorized ? resolve() : tlsClient.once('secureConnect', () => resolve())));
  t.equal(conn.info.tls?.alpn, 'http/1.1', 'ALPN chose http/1.1');
  t.equal(terminator.handshaking, 0);
  t.not(hello, null, 'the first chunk (the ClientHello) was seen');
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 20));
    gc();
  }
  t.equal(hello!.deref(), undefined, 'the ClientHello chunk was collected: nothing of the handshake is retained');
  t.equal(conn.destroyed, false, 'while the connection is still open');
});
