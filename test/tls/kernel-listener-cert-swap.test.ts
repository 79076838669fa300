import t from 'tap';
import { once } from 'node:events';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { CertStore } from '../../src/tls/cert-store.js';
import { opensslCert, sClient, sClientSummary, tempDir } from '../fixtures/tls/peers.js';
import { startListener } from '../fixtures/tls/listener.js';

async function echoRoundTrip(s: TLSSocket, text: string): Promise<string> {
  s.write(text);
  let got = '';
  while (got.length < text.length) {
    const [chunk] = (await once(s, 'data')) as [Buffer];
    got += chunk.toString();
  }
  return got;
}

t.test('swapping the store: new handshakes see B, the connection made under A keeps working', async (t) => {
  const { dir, cleanup } = await tempDir('swap');
  t.teardown(cleanup);
  const a = await opensslCert(dir, 'a', { keyType: 'ec', names: ['swap.test'], cn: 'cert A' });
  const b = await opensslCert(dir, 'b', { keyType: 'ec', names: ['swap.test'], cn: 'cert B' });
  const storeA = await CertStore.load([a]);
  const storeB = await CertStore.load([b]);
  const { port, listener } = await startListener(t, { tls: {}, certs: storeA });

  const old: TLSSocket = tlsConnect({ port, host: '127.0.0.1', servername: 'swap.test', rejectUnauthorized: false });
  t.teardown(() => old.destroy());
  await once(old, 'secureConnect');
  t.equal(old.getPeerCertificate().subject.CN, 'cert A');
  t.equal(await echoRoundTrip(old, 'before swap'), 'before swap');

  // A handshake that has started (ClientHello read under A) but not finished when the swap lands.
  const midway: TLSSocket = tlsConnect({ port, host: '127.0.0.1', servername: 'swap.test', rejectUnauthorized: false });
  t.teardown(() => midway.destroy());
  const midwayReady = once(midway, 'secureConnect');

  listener.setCertStore(storeB);

  const fresh = sClientSummary((await sClient(port, ['-servername', 'swap.test'])).out);
  t.equal(fresh.subject, 'CN = cert B', 'a new handshake gets the new certificate');
  const noSni = sClientSummary((await sClient(port, ['-noservername'])).out);
  t.equal(noSni.subject, 'CN = cert B', 'clients without SNI get the new default too');

  t.equal(await echoRoundTrip(old, 'after swap'), 'after swap', 'the old connection still carries data');
  t.equal(old.getPeerCertificate().subject.CN, 'cert A');
  await midwayReady;
  t.match(midway.getPeerCertificate().subject.CN, /^cert [AB]$/, 'a handshake racing the swap completes with one of the two');
  t.equal(listener.connections >= 2, true, `connections counted (${listener.connections})`);

  old.end();
  await once(old, 'end');
});
