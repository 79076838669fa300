import t from 'tap';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { once } from 'node:events';
import { CertStore } from '../../src/tls/cert-store.js';
import { KernelListener } from '../../src/tls/kernel-listener.js';
import { SluiceError } from '../../src/errors.js';
import { ensureDevCertificate } from '../../src/tls/dev-cert.js';
import { opensslCert, runPeer, sClient, sClientSummary, tempDir } from '../fixtures/tls/peers.js';
import { startListener, until, type TeardownHost } from '../fixtures/tls/listener.js';

async function certs(t: TeardownHost): Promise<{ store: CertStore; dir: string }> {
  const { dir, cleanup } = await tempDir('kernel');
  t.teardown(cleanup);
  const local = await opensslCert(dir, 'local', { keyType: 'ec', names: ['localhost'] });
  const api = await opensslCert(dir, 'api', { keyType: 'ec', names: ['api.test'] });
  const dualEc = await opensslCert(dir, 'dual-ec', { keyType: 'ec', names: ['dual.test'], cn: 'dual ecdsa' });
  const dualRsa = await opensslCert(dir, 'dual-rsa', { keyType: 'rsa', names: ['dual.test'], cn: 'dual rsa' });
  const store = await CertStore.load([{ ...local, isDefault: true }, api, dualEc, dualRsa]);
  return { store, dir };
}

function connectPlain(port: number, allowHalfOpen = true): Promise<Socket> {
  const s = netConnect({ port, host: '127.0.0.1', allowHalfOpen });
  return once(s, 'connect').then(() => s);
}

t.test('plain TCP: echo, half-close, connection count, close() leaves open connections alone', async (t) => {
  const { listener, port, rec } = await startListener(t, { tls: null, certs: null });
  const s = await connectPlain(port);
  t.teardown(() => s.destroy());
  s.write('hello');
  const [chunk] = (await once(s, 'data')) as [Buffer];
  t.equal(chunk.toString(), 'hello');
  t.equal(listener.connections, 1);
  t.equal(rec.conns[0].info.transport, 'kernel');
  t.equal(rec.conns[0].info.tls, null);
  t.equal(rec.conns[0].info.listener, 'test');
  t.equal(rec.conns[0].info.remoteAddress, '127.0.0.1');
  t.equal(rec.conns[0].info.localPort, port);

  await listener.close();
  const refused = netConnect({ port, host: '127.0.0.1' });
  const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
  t.equal(err.code, 'ECONNREFUSED', 'no longer accepting');
  s.write('still here');
  const [again] = (await once(s, 'data')) as [Buffer];
  t.equal(again.toString(), 'still here', 'the open connection still works after close()');
  s.end();
  await once(s, 'end');
  t.ok(await until(() => listener.connections === 0), 'count drops when the connection closes');
});

t.test('listen errors are SLUICE_LISTEN naming the listener', async (t) => {
  const { port } = await startListener(t, { tls: null, certs: null });
  const clash = new KernelListener({ name: 'dup', address: '127.0.0.1', port, tls: null, certs: null, onConnection: () => {} });
  const err: unknown = await clash.listen().then(() => null, (e: unknown) => e);
  t.ok(err instanceof SluiceError);
  t.equal((err as SluiceError).code, 'SLUICE_LISTEN');
  t.match((err as SluiceError).message, /listener dup: cannot listen on 127\.0\.0\.1/);
  t.throws(() => new KernelListener({ name: 'x', address: '127.0.0.1', port: 0, tls: {}, certs: null, onConnection: () => {} }), {
    code: 'SLUICE_CONFIG_INVALID',
  });
  t.throws(() => new KernelListener({ name: 'x', address: '127.0.0.1', port: 0, tls: { minVersion: 'TLSv1.1' as 'TLSv1.2' }, certs: null, onConnection: () => {} }), {
    code: 'SLUICE_CONFIG_INVALID',
    message: /tls\.minVersion/,
  });
});

t.test('openssl s_client: TLS 1.2 and 1.3 with AEAD ciphers, TlsInfo filled in', async (t) => {
  const { store } = await certs(t);
  const { port, rec } = await startListener(t, { tls: { alpn: ['h2', 'http/1.1'] }, certs: store });
  const v13 = sClientSummary((await sClient(port, ['-tls1_3', '-servername', 'api.test', '-alpn', 'http/1.1'])).out);
  t.equal(v13.protocol, 'TLSv1.3');
  t.match(v13.cipher, /^TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)$/);
  t.equal(v13.alpn, 'http/1.1');
  const v12 = sClientSummary((await sClient(port, ['-tls1_2', '-servername', 'api.test'])).out);
  t.equal(v12.protocol, 'TLSv1.2');
  t.match(v12.cipher, /^ECDHE-(ECDSA|RSA)-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)$/);
  t.equal(v12.alpn, '', 'no ALPN offered, none negotiated');
  t.same(rec.handshakes, [
    { version: 'TLSv1.3', alpn: 'http/1.1', resumed: false },
    { version: 'TLSv1.2', alpn: '', resumed: false },
  ]);
  t.equal(rec.conns[0].info.tls?.sni, 'api.test');
  t.equal(rec.conns[0].info.tls?.alpn, 'http/1.1');
  t.equal(rec.conns[0].info.tls?.cipher, v13.cipher);
  t.equal(rec.conns[0].info.remoteAddress, '127.0.0.1', 'addresses come through the TLS socket');
  t.equal(rec.conns[0].info.localPort, port);
  t.equal(rec.conns[0].info.transport, 'kernel');
  t.same(rec.failures, []);
});

t.test('ChaCha20-Poly1305 is offered for clients that ask for it', async (t) => {
  const { store } = await certs(t);
  const { port } = await startListener(t, { tls: {}, certs: store });
  const v12 = sClientSummary((await sClient(port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-CHACHA20-POLY1305'])).out);
  t.equal(v12.cipher, 'ECDHE-ECDSA-CHACHA20-POLY1305');
  const v13 = sClientSummary((await sClient(port, ['-tls1_3', '-ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256'])).out);
  t.equal(v13.cipher, 'TLS_CHACHA20_POLY1305_SHA256');
});

t.test('old protocols and CBC-only clients are refused and counted with stable reasons', async (t) => {
  const { store } = await certs(t);
  const { port, rec, listener } = await startListener(t, { tls: {}, certs: store });
  // SECLEVEL=0 so the client's own policy (Debian's openssl.cnf) lets it offer TLS 1.1 at all.
  const v11 = await sClient(port, ['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0']);
  t.equal(sClientSummary(v11.out).protocol, '');
  t.match(v11.out, /alert protocol version/);
  const cbc = await sClient(port, ['-tls1_2', '-cipher', 'AES128-SHA']);
  t.equal(sClientSummary(cbc.out).protocol, '');
  t.match(cbc.out, /alert handshake failure/);
  const rsaKex = await sClient(port, ['-tls1_2', '-cipher', 'AES128-GCM-SHA256']);
  t.equal(sClientSummary(rsaKex.out).protocol, '', 'RSA key transport (no forward secrecy) is refused too');
  const ffdhe = await sClient(port, ['-tls1_3', '-groups', 'ffdhe2048']);
  t.equal(sClientSummary(ffdhe.out).protocol, '');
  t.ok(await until(() => rec.failures.length === 4));
  t.same(rec.failures, ['unsupported_protocol', 'no_shared_cipher', 'no_shared_cipher', 'no_shared_group']);
  t.same(rec.handshakes, []);
  t.equal(listener.handshaking, 0);
  t.equal(listener.connections, 0);
});

t.test('minVersion TLSv1.3 refuses TLS 1.2, and setTlsOptions changes it for new handshakes', async (t) => {
  const { store } = await certs(t);
  const { port, rec, listener } = await startListener(t, { tls: { minVersion: 'TLSv1.3' }, certs: store });
  t.equal(sClientSummary((await sClient(port, ['-tls1_2', '-servername', 'api.test'])).out).protocol, '');
  t.equal(sClientSummary((await sClient(port, ['-tls1_3'])).out).protocol, 'TLSv1.3');
  listener.setTlsOptions({ minVersion: 'TLSv1.2' });
  t.equal(sClientSummary((await sClient(port, ['-tls1_2', '-servername', 'api.test'])).out).protocol, 'TLSv1.2');
  t.same(rec.failures, ['unsupported_protocol']);
});

t.test('SNI picks the certificate: exact name, unknown name and no SNI get the default', async (t) => {
  const { store } = await certs(t);
  const { port, rec } = await startListener(t, { tls: {}, certs: store });
  t.equal(sClientSummary((await sClient(port, ['-servername', 'api.test'])).out).subject, 'CN = api.test');
  t.equal(sClientSummary((await sClient(port, ['-servername', 'nobody.test'])).out).subject, 'CN = localhost');
  t.equal(sClientSummary((await sClient(port, ['-noservername'])).out).subject, 'CN = localhost');
  t.same(rec.conns.map((c) => c.info.tls?.sni), ['api.test', 'nobody.test', '']);
});

t.test('ECDSA and RSA side by side: the client\'s signature algorithms pick', async (t) => {
  const { store } = await certs(t);
  const { port } = await startListener(t, { tls: {}, certs: store });
  const ec = sClientSummary((await sClient(port, ['-servername', 'dual.test', '-sigalgs', 'ECDSA+SHA256'])).out);
  t.equal(ec.subject, 'CN = dual ecdsa');
  t.equal(ec.peerSigType, 'ECDSA');
  const rsa = sClientSummary((await sClient(port, ['-servername', 'dual.test', '-sigalgs', 'RSA-PSS+SHA256:RSA+SHA256'])).out);
  t.equal(rsa.subject, 'CN = dual rsa');
  t.equal(rsa.peerSigType, 'RSA-PSS');
  const rsa12 = sClientSummary((await sClient(port, ['-tls1_2', '-servername', 'dual.test', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256'])).out);
  t.equal(rsa12.subject, 'CN = dual rsa');
  t.equal(rsa12.cipher, 'ECDHE-RSA-AES128-GCM-SHA256');
  const ec12 = sClientSummary((await sClient(port, ['-tls1_2', '-servername', 'dual.test', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'])).out);
  t.equal(ec12.subject, 'CN = dual ecdsa');
});

t.test('ALPN: server preference wins; no overlap is refused (RFC 7301 3.2); no ALPN extension proceeds', async (t) => {
  const { store } = await certs(t);
  const { port, rec } = await startListener(t, { tls: { alpn: ['h2', 'http/1.1'] }, certs: store });
  t.equal(sClientSummary((await sClient(port, ['-alpn', 'http/1.1'])).out).alpn, 'http/1.1');
  t.equal(sClientSummary((await sClient(port, ['-alpn', 'http/1.1,h2'])).out).alpn, 'h2', 'server order, not client order');
  const none = await sClient(port, ['-alpn', 'spdy/3,foo']);
  t.match(none.out, /alert no application protocol/);
  const noExt = sClientSummary((await sClient(port, [])).out);
  t.equal(noExt.protocol, 'TLSv1.3');
  t.equal(noExt.alpn, '');
  t.same(rec.failures, ['no_application_protocol']);
  t.same(rec.handshakes.map((h) => h.alpn), ['http/1.1', 'h2', '']);
});

t.test('setTlsOptions changes the ALPN list for new handshakes', async (t) => {
  const { store } = await certs(t);
  const { port, listener } = await startListener(t, { tls: { alpn: ['http/1.1'] }, certs: store });
  t.equal(sClientSummary((await sClient(port, ['-alpn', 'h2,http/1.1'])).out).alpn, 'http/1.1');
  listener.setTlsOptions({ alpn: ['h2', 'http/1.1'] });
  t.equal(sClientSummary((await sClient(port, ['-alpn', 'h2,http/1.1'])).out).alpn, 'h2');
  t.throws(() => listener.setTlsOptions({ alpn: ['h2', 'h2'] }), { code: 'SLUICE_CONFIG_INVALID', message: /tls\.alpn\[1\]/ });
});

t.test('a client that rejects our certificate is counted as cert_rejected', async (t) => {
  const { store } = await certs(t);
  const { port, rec } = await startListener(t, { tls: {}, certs: store });
  // No -k: curl does not trust the self-signed certificate and aborts with an unknown_ca alert.
  const r = await runPeer('curl', ['-s', '-m', '5', '--resolve', `api.test:${port}:127.0.0.1`, `https://api.test:${port}/`], { holdMs: 0 });
  t.equal(r.code, 60, 'curl: peer certificate cannot be authenticated');
  t.ok(await until(() => rec.failures.length === 1));
  t.same(rec.failures, ['cert_rejected']);
});

t.test('plain HTTP on the TLS port, garbage, slow and abandoned handshakes are labelled', async (t) => {
  const { store } = await certs(t);
  const { port, rec, listener } = await startListener(t, { tls: { handshakeTimeoutMs: 400 }, certs: store });
  const curl = await runPeer('curl', ['-s', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/`]);
  t.not(curl.code, 0, 'curl gets no HTTP answer');
  t.ok(await until(() => rec.failures.length === 1));
  t.same(rec.failures, ['http_request']);

  const junk = await connectPlain(port, false);
  t.teardown(() => junk.destroy());
  junk.write(Buffer.alloc(64, 0x41));
  await once(junk, 'close');
  t.same(rec.failures.slice(1), ['malformed']);

  // One byte of a ClientHello record every 100 ms: still cut at the absolute deadline.
  const slow = await connectPlain(port, false);
  t.teardown(() => slow.destroy());
  const started = Date.now();
  const hello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
  let i = 0;
  const drip = setInterval(() => {
    if (i < hello.length && !slow.destroyed) slow.write(hello.subarray(i, ++i));
  }, 100);
  t.teardown(() => clearInterval(drip));
  slow.on('error', () => {});
  await once(slow, 'close');
  clearInterval(drip);
  const took = Date.now() - started;
  t.ok(took >= 350 && took < 2000, `closed by the handshake timeout after ${took} ms`);
  t.same(rec.failures.slice(2), ['timeout']);

  const quitter = await connectPlain(port, false);
  t.teardown(() => quitter.destroy());
  quitter.write(hello.subarray(0, 5));
  quitter.end();
  await once(quitter, 'close');
  t.ok(await until(() => rec.failures.length === 4));
  t.same(rec.failures.slice(3), ['client_closed'], 'FIN mid-handshake is seen at once, not at the timeout');
  t.equal(listener.handshaking, 0);
  t.equal(listener.connections, 0);
});

t.test('TLS half-close: the client ends its side and still reads our answer', async (t) => {
  const { store } = await certs(t);
  const { port, rec } = await startListener(t, {
    tls: {},
    certs: store,
    onConnection: (conn) => {
      let got = '';
      conn.setHandler({
        onData: (c) => (got += c.toString()),
        onEnd: () => {
          conn.write(Buffer.from(`got ${got}`));
          conn.end();
        },
        onDrain: () => {},
        onClose: () => {},
      });
    },
  });
  // allowHalfOpen is honoured by tls.connect (it reaches the socket) but missing from its types.
  const halfOpen: ConnectionOptions & { allowHalfOpen: boolean } = { port, host: '127.0.0.1', servername: 'api.test', rejectUnauthorized: false, allowHalfOpen: true };
  const c: TLSSocket = tlsConnect(halfOpen);
  t.teardown(() => c.destroy());
  await once(c, 'secureConnect');
  c.end('request');
  let reply = '';
  c.on('data', (d: Buffer) => (reply += d.toString()));
  await once(c, 'end');
  t.equal(reply, 'got request');
  t.equal(rec.conns[0].info.tls?.version, 'TLSv1.3');
});

t.test('curl over TLS gets the answer the connection handler writes', async (t) => {
  const { store } = await certs(t);
  const { port, rec } = await startListener(t, {
    tls: { alpn: ['http/1.1'] },
    certs: store,
    onConnection: (conn) => {
      let seen = '';
      conn.setHandler({
        onData: (c) => {
          seen += c.toString('latin1');
          if (seen.includes('\r\n\r\n')) conn.write(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok'));
        },
        onEnd: () => conn.end(),
        onDrain: () => {},
        onClose: () => {},
      });
    },
  });
  const r = await runPeer('curl', ['-sk', '-m', '5', '--resolve', `api.test:${port}:127.0.0.1`, `https://api.test:${port}/hello`, '-w', '\n%{http_code} %{ssl_verify_result}'], { holdMs: 0 });
  t.equal(r.code, 0, r.out);
  t.match(r.out, /^ok\n200 /);
  t.equal(rec.conns[0].info.tls?.sni, 'api.test');
  t.equal(rec.conns[0].info.tls?.alpn, 'http/1.1');
});

t.test('the generated dev certificate verifies in curl for localhost and 127.0.0.1 (no -k)', async (t) => {
  const { dir, cleanup } = await tempDir('devcert-curl');
  t.teardown(cleanup);
  const certPath = `${dir}/dev.crt`;
  const keyPath = `${dir}/dev.key`;
  await ensureDevCertificate(certPath, keyPath);
  const store = await CertStore.load([{ certPath, keyPath }]);
  const { port } = await startListener(t, {
    tls: { alpn: ['http/1.1'] },
    certs: store,
    onConnection: (conn) => {
      conn.setHandler({
        onData: () => void conn.write(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok')),
        onEnd: () => conn.end(),
        onDrain: () => {},
        onClose: () => {},
      });
    },
  });
  for (const url of [`https://localhost:${port}/`, `https://127.0.0.1:${port}/`]) {
    const r = await runPeer('curl', ['-s', '-m', '5', '--cacert', certPath, '--resolve', `localhost:${port}:127.0.0.1`, url, '-w', ' %{ssl_verify_result}'], { holdMs: 0 });
    t.equal(r.code, 0, `${url}: ${r.out}`);
    t.equal(r.out, 'ok 0', `${url}: body and a clean verification`);
  }
});
