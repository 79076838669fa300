import t from 'tap';
import { join } from 'node:path';
import { CertStore } from '../../src/tls/cert-store.js';
import { opensslCert, sClient, sClientSummary, tempDir } from '../fixtures/tls/peers.js';
import { startListener, type TeardownHost } from '../fixtures/tls/listener.js';

async function setup(t: TeardownHost): Promise<{ store: CertStore; dir: string }> {
  const { dir, cleanup } = await tempDir('sessions');
  t.teardown(cleanup);
  const cert = await opensslCert(dir, 'sess', { keyType: 'ec', names: ['sess.test'] });
  return { store: await CertStore.load([cert]), dir };
}

// First connection saves its session (the ticket); the second offers it back.
async function resumeOnce(port: number, dir: string, version: '-tls1_2' | '-tls1_3', between?: () => unknown, expectTicket = true): Promise<{ first: boolean; second: boolean; hint: string }> {
  const sess = join(dir, `s${Math.random().toString(36).slice(2)}.pem`);
  // TLS 1.3 tickets arrive after the handshake: keep the client up until one has been printed.
  const first = await sClient(port, [version, '-servername', 'sess.test', '-sess_out', sess], expectTicket ? { holdUntil: /session ticket lifetime hint/ } : {});
  await between?.();
  const second = await sClient(port, [version, '-servername', 'sess.test', '-sess_in', sess]);
  return {
    first: sClientSummary(first.out).reused,
    second: sClientSummary(second.out).reused,
    hint: /TLS session ticket lifetime hint: (\d+)/.exec(first.out)?.[1] ?? '',
  };
}

t.test('session tickets resume TLS 1.3 and TLS 1.2 handshakes', async (t) => {
  const { store, dir } = await setup(t);
  const { port, rec } = await startListener(t, { tls: { ticketRotateSeconds: 3600 }, certs: store });
  for (const v of ['-tls1_3', '-tls1_2'] as const) {
    const r = await resumeOnce(port, dir, v);
    t.equal(r.first, false, `${v}: first handshake is full`);
    t.equal(r.second, true, `${v}: second handshake resumes`);
    t.equal(r.hint, '3600', `${v}: ticket lifetime hint is one rotation period`);
  }
  t.same(rec.handshakes.map((h) => [h.version, h.resumed]), [
    ['TLSv1.3', false],
    ['TLSv1.3', true],
    ['TLSv1.2', false],
    ['TLSv1.2', true],
  ]);
  t.equal(rec.conns[1].info.tls?.resumed, true);
});

t.test('after a key rotation the old ticket is refused and the client falls back to a full handshake', async (t) => {
  const { store, dir } = await setup(t);
  const { port, listener } = await startListener(t, { tls: { ticketRotateSeconds: 3600 }, certs: store });
  for (const v of ['-tls1_3', '-tls1_2'] as const) {
    const r = await resumeOnce(port, dir, v, () => listener.rotateTicketKey());
    t.equal(r.second, false, `${v}: ticket sealed with the previous key is not accepted (Node keeps one key)`);
  }
  // A fresh ticket under the new key works again.
  t.equal((await resumeOnce(port, dir, '-tls1_3')).second, true);
});

t.test('the rotation schedule replaces the key on its own', async (t) => {
  const { store, dir } = await setup(t);
  const { port } = await startListener(t, { tls: { ticketRotateSeconds: 0.4 }, certs: store });
  const r = await resumeOnce(port, dir, '-tls1_3', () => new Promise((res) => setTimeout(res, 900)));
  t.equal(r.second, false, 'at least one rotation happened in between: full handshake');
  t.equal(r.hint, '1', 'lifetime hint rounds the 0.4 s period up to whole seconds');
});

t.test('a certificate swap keeps the ticket key: tickets issued before the reload still resume', async (t) => {
  const { store, dir } = await setup(t);
  const { port, listener } = await startListener(t, { tls: { ticketRotateSeconds: 3600 }, certs: store });
  const again = await CertStore.load(store.list().map((c) => ({ certPath: c.certPath, keyPath: c.keyPath })));
  const r = await resumeOnce(port, dir, '-tls1_3', () => listener.setCertStore(again));
  t.equal(r.second, true);
});

t.test('sessionTickets: false issues no tickets, so nothing resumes', async (t) => {
  const { store, dir } = await setup(t);
  const { port, rec } = await startListener(t, { tls: { sessionTickets: false }, certs: store });
  for (const v of ['-tls1_2', '-tls1_3'] as const) {
    const r = await resumeOnce(port, dir, v, undefined, false);
    t.equal(r.second, false, `${v}: no resumption`);
  }
  const first12 = await sClient(port, ['-tls1_2', '-servername', 'sess.test']);
  t.notMatch(first12.out, /TLS session ticket lifetime hint/, 'TLS 1.2: no NewSessionTicket sent');
  t.ok(rec.handshakes.every((h) => !h.resumed));
});
