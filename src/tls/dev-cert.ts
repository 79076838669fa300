// A self-signed development certificate, generated on first start so `sluice serve` answers TLS
// out of the box. Never used when the operator configures real certificates; never overwrites.

import { webcrypto } from 'node:crypto';
import { mkdir, stat, writeFile, chmod } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isIP } from 'node:net';
// @peculiar/x509 registers its providers through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { SluiceError } from '../errors.js';

export const DEV_CERT_NAMES: readonly string[] = ['localhost', '127.0.0.1', '::1'];

// ~1 year: long enough that a dev setup does not expire mid-project, short enough that nobody
// mistakes it for a production certificate.
const VALIDITY_MS = 365 * 24 * 60 * 60 * 1000;
// Backdate a little so a client whose clock is slightly behind still accepts the certificate.
const BACKDATE_MS = 5 * 60 * 1000;

let providerSet = false;

function useNodeWebCrypto(): void {
  // @peculiar/x509 resolves its WebCrypto through a process-wide provider; Node's webcrypto is
  // the same OpenSSL the TLS stack uses, so keys it creates load in tls.createSecureContext.
  if (!providerSet) {
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    providerSet = true;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new SluiceError('SLUICE_CERT_INVALID', `cannot stat ${path}: ${(e as Error).message}`, { file: path }, { cause: e });
  }
}

export interface DevCertificate {
  certPem: string;
  keyPem: string;
}

/** Generates (in memory) a self-signed ECDSA P-256 serverAuth certificate for `names`. */
export async function createSelfSignedCertificate(
  names: readonly string[] = DEV_CERT_NAMES,
  opts: { notBefore?: Date; notAfter?: Date; commonName?: string } = {},
): Promise<DevCertificate> {
  if (names.length === 0) throw new SluiceError('SLUICE_CERT_INVALID', 'dev certificate needs at least one name', { field: 'names' });
  useNodeWebCrypto();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const notBefore = opts.notBefore ?? new Date(now - BACKDATE_MS);
  const notAfter = opts.notAfter ?? new Date(now + VALIDITY_MS);
  const san = names.map((n) => ({ type: isIP(n) ? ('ip' as const) : ('dns' as const), value: n }));
  const cn = opts.commonName ?? names.find((n) => !isIP(n)) ?? names[0];
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    // Random 16-byte serial with the top bit clear: positive, unique, RFC 5280 4.1.2.2 (<= 20 octets).
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=${cn}, O=Sluice development`,
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    keys: keys as unknown as x509.X509CertificateCreateSelfSignedParams['keys'],
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(san),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as unknown as x509.PublicKeyType),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const keyPem = x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
  return { certPem: cert.toString('pem') + '\n', keyPem: keyPem + '\n' };
}

/**
 * Makes sure a certificate and key exist at the given paths. When both are missing, generates a
 * self-signed ECDSA P-256 certificate; when both exist, leaves them alone; when only one exists,
 * refuses (writing the other would pair a key with a certificate it does not belong to).
 */
export async function ensureDevCertificate(
  certPath: string,
  keyPath: string,
  names: string[] = [...DEV_CERT_NAMES],
): Promise<{ generated: boolean }> {
  const [haveCert, haveKey] = await Promise.all([exists(certPath), exists(keyPath)]);
  if (haveCert && haveKey) return { generated: false };
  if (haveCert !== haveKey) {
    const missing = haveCert ? keyPath : certPath;
    const present = haveCert ? certPath : keyPath;
    throw new SluiceError(
      'SLUICE_CERT_INVALID',
      `${missing} is missing while ${present} exists; refusing to generate a new pair over half of an old one`,
      { file: missing, present },
    );
  }
  const { certPem, keyPem } = await createSelfSignedCertificate(names);
  await mkdir(dirname(certPath), { recursive: true });
  await mkdir(dirname(keyPath), { recursive: true, mode: 0o700 });
  // 'wx': fail rather than overwrite if another process created the file since the check above.
  await writeFile(keyPath, keyPem, { mode: 0o600, flag: 'wx' });
  // mode on create is masked by the umask; chmod makes 0600 hold regardless.
  await chmod(keyPath, 0o600);
  await writeFile(certPath, certPem, { mode: 0o644, flag: 'wx' });
  return { generated: true };
}
