import t from 'tap';
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { X509Certificate } from 'node:crypto';
import { ensureDevCertificate } from '../../src/tls/dev-cert.js';
import { SluiceError } from '../../src/errors.js';
import { tempDir } from '../fixtures/tls/peers.js';

const execFileP = promisify(execFile);

t.test('generates a self-signed ECDSA P-256 serverAuth certificate for localhost, 127.0.0.1 and ::1', async (t) => {
  const { dir, cleanup } = await tempDir('devcert');
  t.teardown(cleanup);
  const certPath = join(dir, 'nested', 'certs', 'dev.crt');
  const keyPath = join(dir, 'nested', 'private', 'dev.key');
  t.same(await ensureDevCertificate(certPath, keyPath), { generated: true });

  t.equal((await stat(keyPath)).mode & 0o777, 0o600, 'key is readable by the owner only');

  const { stdout } = await execFileP('openssl', ['x509', '-in', certPath, '-noout', '-text']);
  t.match(stdout, /Public Key Algorithm: id-ecPublicKey/);
  t.match(stdout, /NIST CURVE: P-256|ASN1 OID: prime256v1/);
  t.match(stdout, /TLS Web Server Authentication/);
  t.match(stdout, /DNS:localhost/);
  t.match(stdout, /IP Address:127\.0\.0\.1/);
  t.match(stdout, /IP Address:0:0:0:0:0:0:0:1/);
  t.match(stdout, /CA:FALSE/);

  const cert = new X509Certificate(await readFile(certPath));
  const days = (new Date(cert.validTo).getTime() - Date.now()) / 86_400_000;
  t.ok(days > 360 && days < 367, `valid about a year (${days.toFixed(1)} days left)`);
  t.ok(new Date(cert.validFrom).getTime() <= Date.now(), 'already valid');

  // openssl agrees the key belongs to the certificate.
  const pubFromCert = (await execFileP('openssl', ['x509', '-in', certPath, '-noout', '-pubkey'])).stdout;
  const pubFromKey = (await execFileP('openssl', ['pkey', '-in', keyPath, '-pubout'])).stdout;
  t.equal(pubFromKey, pubFromCert);
});

t.test('second call leaves existing files untouched', async (t) => {
  const { dir, cleanup } = await tempDir('devcert');
  t.teardown(cleanup);
  const certPath = join(dir, 'c.pem');
  const keyPath = join(dir, 'k.pem');
  await ensureDevCertificate(certPath, keyPath);
  const before = [await readFile(certPath, 'utf8'), await readFile(keyPath, 'utf8')];
  t.same(await ensureDevCertificate(certPath, keyPath), { generated: false });
  t.same([await readFile(certPath, 'utf8'), await readFile(keyPath, 'utf8')], before);
});

t.test('custom names go into the SAN', async (t) => {
  const { dir, cleanup } = await tempDir('devcert');
  t.teardown(cleanup);
  await ensureDevCertificate(join(dir, 'c.pem'), join(dir, 'k.pem'), ['api.test', '10.1.2.3']);
  const cert = new X509Certificate(await readFile(join(dir, 'c.pem')));
  t.equal(cert.subjectAltName, 'DNS:api.test, IP Address:10.1.2.3');
});

t.test('refuses when exactly one of the two files exists, naming the missing one', async (t) => {
  const { dir, cleanup } = await tempDir('devcert');
  t.teardown(cleanup);
  const certPath = join(dir, 'c.pem');
  const keyPath = join(dir, 'k.pem');
  await writeFile(certPath, 'not touched');
  const err: unknown = await ensureDevCertificate(certPath, keyPath).then(() => null, (e: unknown) => e);
  t.ok(err instanceof SluiceError, 'a SluiceError');
  const e = err as SluiceError;
  t.equal(e.code, 'SLUICE_CERT_INVALID');
  t.equal(e.detail.file, keyPath);
  t.match(e.message, keyPath);
  t.equal(await readFile(certPath, 'utf8'), 'not touched');

  const other = await tempDir('devcert');
  t.teardown(other.cleanup);
  await writeFile(join(other.dir, 'k.pem'), 'key only');
  await t.rejects(ensureDevCertificate(join(other.dir, 'c.pem'), join(other.dir, 'k.pem')), {
    code: 'SLUICE_CERT_INVALID',
    detail: { file: join(other.dir, 'c.pem') },
  });
});
