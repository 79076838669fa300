import t from 'tap';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import type { SecureContext } from 'node:tls';
import { CertStore, type CertEntry } from '../../src/tls/cert-store.js';
import { createSelfSignedCertificate } from '../../src/tls/dev-cert.js';
import { SluiceError } from '../../src/errors.js';
import { opensslCert, tempDir } from '../fixtures/tls/peers.js';

async function rejection(p: Promise<unknown>): Promise<SluiceError> {
  const err: unknown = await p.then(() => null, (e: unknown) => e);
  if (!(err instanceof SluiceError)) throw new Error(`expected a SluiceError, got ${String(err)}`);
  return err;
}

t.test('SNI lookup: exact, one-label wildcard, then default', async (t) => {
  const { dir, cleanup } = await tempDir('store');
  t.teardown(cleanup);
  const def = await opensslCert(dir, 'default', { keyType: 'ec', names: ['default.test'] });
  const api = await opensslCert(dir, 'api', { keyType: 'ec', names: ['api.example.com'] });
  const wild = await opensslCert(dir, 'wild', { keyType: 'ec', names: ['*.example.com'] });
  const store = await CertStore.load([api, { ...def, isDefault: true }, wild]);
  const ctxOf = (name: string): SecureContext => store.secureContextFor(name);
  const apiCtx = ctxOf('api.example.com');
  const wildCtx = ctxOf('www.example.com');
  const defCtx = store.defaultContext;
  t.not(apiCtx, wildCtx);
  t.not(apiCtx, defCtx);
  t.equal(ctxOf('API.Example.COM.'), apiCtx, 'case-insensitive, trailing dot ignored');
  t.equal(ctxOf('other.example.com'), wildCtx, '*.example.com covers one label');
  t.equal(ctxOf('a.b.example.com'), defCtx, 'the wildcard does not cover two labels');
  t.equal(ctxOf('example.com'), defCtx, 'the wildcard does not cover the bare domain');
  t.equal(ctxOf('unknown.test'), defCtx);
  t.equal(ctxOf(''), defCtx);
  t.equal(store.match('unknown.test'), null, 'match() reports when only the default would answer');
  t.equal(store.credentialsOf(defCtx).cert.length, 1);

  const list = store.list();
  t.same(list.map((c) => [c.names, c.keyType, c.isDefault]), [
    [['api.example.com'], 'EC', false],
    [['default.test'], 'EC', true],
    [['*.example.com'], 'EC', false],
  ]);
  t.match(list[0].fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  t.equal(list[0].keyDetail, 'prime256v1');
  t.ok(list[0].notAfter instanceof Date && list[0].notAfter.getTime() > Date.now());
  t.equal(list[0].certPath, api.certPath);
  t.equal(list[0].keyPath, api.keyPath);
});

t.test('the first entry is the default when none is marked', async (t) => {
  const { dir, cleanup } = await tempDir('store');
  t.teardown(cleanup);
  const a = await opensslCert(dir, 'a', { keyType: 'ec', names: ['a.test'] });
  const b = await opensslCert(dir, 'b', { keyType: 'ec', names: ['b.test'] });
  const store = await CertStore.load([a, b]);
  t.equal(store.secureContextFor('nope.test'), store.secureContextFor('a.test'));
  t.same(store.list().map((c) => c.isDefault), [true, false]);
});

t.test('ECDSA and RSA certificates for the same names share one context', async (t) => {
  const { dir, cleanup } = await tempDir('store');
  t.teardown(cleanup);
  const ec = await opensslCert(dir, 'ec', { keyType: 'ec', names: ['dual.test', 'only-ec.test'] });
  const rsa = await opensslCert(dir, 'rsa', { keyType: 'rsa', names: ['dual.test'] });
  const store = await CertStore.load([ec, rsa]);
  const dual = store.secureContextFor('dual.test');
  t.equal(store.credentialsOf(dual).cert.length, 2, 'both chains in one context');
  t.equal(store.credentialsOf(dual).key.length, 2);
  t.equal(store.credentialsOf(store.secureContextFor('only-ec.test')).cert.length, 1);
  t.same(store.list().map((c) => c.keyType), ['EC', 'RSA']);
  t.equal(store.list()[1].keyDetail, '2048');
});

t.test('names come from the SAN; the CN counts only without a SAN', async (t) => {
  const { dir, cleanup } = await tempDir('store');
  t.teardown(cleanup);
  const withSan = await opensslCert(dir, 'san', { keyType: 'ec', names: ['san.test'], cn: 'ignored-cn.test' });
  const cnOnly = await opensslCert(dir, 'cn', { keyType: 'ec', names: [], cn: 'CN-Only.Test' });
  const store = await CertStore.load([withSan, cnOnly]);
  t.same(store.list().map((c) => c.names), [['san.test'], ['cn-only.test']]);
  t.equal(store.match('ignored-cn.test'), null);
  t.not(store.match('cn-only.test'), null);
});

t.test('IP SANs are listed in canonical form', async (t) => {
  const { dir, cleanup } = await tempDir('store');
  t.teardown(cleanup);
  const { certPem, keyPem } = await createSelfSignedCertificate(['localhost', '127.0.0.1', '::1']);
  await writeFile(join(dir, 'c.pem'), certPem);
  await writeFile(join(dir, 'k.pem'), keyPem);
  const store = await CertStore.load([{ certPath: join(dir, 'c.pem'), keyPath: join(dir, 'k.pem') }]);
  t.same(store.list()[0].names, ['localhost', '127.0.0.1', '::1']);
});

t.test('a key that does not match its certificate is refused, naming the key file', async (t) => {
  const { dir, cleanup } = await tempDir('store');
  t.teardown(cleanup);
  const a = await opensslCert(dir, 'a', { keyType: 'ec', names: ['a.test'] });
  const b = await opensslCert(dir, 'b', { keyType: 'ec', names: ['b.test'] });
  const err = await rejection(CertStore.load([{ certPath: a.certPath, keyPath: b.keyPath }]));
  t.equal(err.code, 'SLUICE_CERT_INVALID');
  t.equal(err.detail.file, b.keyPath);
  t.match(err.message, `${b.keyPath}: private key does not match the certificate in ${a.certPath}`);
});

t.test('an expired certificate is refused, naming the file', async (t) => {
  const { dir, cleanup } = await tempDir('store');
  t.teardown(cleanup);
  const { certPem, keyPem } = await createSelfSignedCertificate(['old.test'], {
    notBefore: new Date('2020-01-01T00:00:00Z'),
    notAfter: new Date('2021-01-01T00:00:00Z'),
  });
  const entry: CertEntry = { certPath: join(dir, 'old.crt'), keyPath: join(dir, 'old.key') };
  await writeFile(entry.certPath, certPem);
  await writeFile(entry.keyPath, keyPem);
  const err = await rejection(CertStore.load([entry]));
  t.equal(err.code, 'SLUICE_CERT_INVALID');
  t.equal(err.detail.file, entry.certPath);
  t.match(err.message, /certificate expired at 2021-01-01T00:00:00\.000Z/);
  // The clock is injected: the same files load fine "in 2020".
  const then = await CertStore.load([entry], { now: new Date('2020-06-01T00:00:00Z') });
  t.same(then.list()[0].names, ['old.test']);
});

t.test('unreadable, non-PEM and ambiguous inputs are refused with the file named', async (t) => {
  const { dir, cleanup } = await tempDir('store');
  t.teardown(cleanup);
  const a = await opensslCert(dir, 'a', { keyType: 'ec', names: ['same.test'] });
  const b = await opensslCert(dir, 'b', { keyType: 'ec', names: ['same.test'] });
  const junk = join(dir, 'junk.pem');
  await writeFile(junk, 'hello\n');

  let err = await rejection(CertStore.load([{ certPath: join(dir, 'missing.crt'), keyPath: a.keyPath }]));
  t.equal(err.detail.file, join(dir, 'missing.crt'));
  t.match(err.message, /cannot read/);

  err = await rejection(CertStore.load([{ certPath: junk, keyPath: a.keyPath }]));
  t.equal(err.detail.file, junk);
  t.match(err.message, /no PEM CERTIFICATE block/);

  err = await rejection(CertStore.load([{ certPath: a.certPath, keyPath: junk }]));
  t.equal(err.detail.file, junk);
  t.match(err.message, /private key/);

  err = await rejection(CertStore.load([a, b]));
  t.equal(err.detail.file, b.certPath);
  t.match(err.message, /same\.test is already served by .*a\.crt with a EC key/);

  err = await rejection(CertStore.load([{ ...a, isDefault: true }, { ...b, isDefault: true }]));
  t.match(err.message, /more than one default certificate/);

  err = await rejection(CertStore.load([]));
  t.equal(err.code, 'SLUICE_CERT_INVALID');
});
