// The certificate store both data paths share: PEM files in, SNI name -> SecureContext out.
// Immutable once loaded; a reload builds a new store and the listener swaps it in, so a handshake
// in flight always sees one consistent store.

import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { SluiceError } from '../errors.js';
import { tlsPolicy } from './settings.js';

export interface CertEntry {
  /** PEM file: the leaf certificate first, then its intermediates. */
  certPath: string;
  /** PEM file with the unencrypted private key of the leaf. */
  keyPath: string;
  /** Served to clients that send no SNI or a name no certificate covers. */
  isDefault?: boolean;
}

export type KeyType = 'EC' | 'RSA' | 'RSA-PSS' | 'Ed25519' | 'Ed448';

export interface CertSummary {
  /** DNS and IP subjectAltNames (or the CN when the certificate has no SAN), lowercased. */
  names: string[];
  keyType: KeyType;
  /** Curve for EC ('prime256v1'), modulus bits for RSA ('2048'). */
  keyDetail: string;
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 fingerprint of the leaf, colon-separated hex as OpenSSL prints it. */
  fingerprint: string;
  /** Certificates in the chain file, leaf included. */
  chainLength: number;
  certPath: string;
  keyPath: string;
  isDefault: boolean;
}

/** PEM material of the certificates served for one name (one chain per key type). */
export interface Credentials {
  key: string[];
  cert: string[];
}

interface LoadedCert {
  index: number;
  summary: CertSummary;
  chainPem: string;
  keyPem: string;
}

export interface CertStoreLoadOptions {
  /** Clock for the expiry check (injected so tests can load fixtures "in the past"). */
  now?: Date;
}

const KEY_TYPES: Record<string, KeyType> = { ec: 'EC', rsa: 'RSA', 'rsa-pss': 'RSA-PSS', ed25519: 'Ed25519', ed448: 'Ed448' };
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export class CertStore {
  private readonly exact: ReadonlyMap<string, SecureContext>;
  private readonly wildcard: ReadonlyMap<string, SecureContext>;
  private readonly credsByContext: ReadonlyMap<SecureContext, Credentials>;
  private readonly defaultCtx: SecureContext;
  private readonly summaries: readonly CertSummary[];

  private constructor(certs: LoadedCert[], defaultIndex: number) {
    // For every name, the certificates that cover it: at most one per key type. Names covered by
    // the same set of certificates share one SecureContext, so an ECDSA and an RSA certificate
    // for the same names live in one context and OpenSSL picks by the client's signature_algorithms.
    const byName = new Map<string, LoadedCert[]>();
    for (const c of certs) {
      for (const name of c.summary.names) {
        const list = byName.get(name) ?? [];
        const clash = list.find((o) => o.summary.keyType === c.summary.keyType);
        if (clash) {
          throw new SluiceError(
            'SLUICE_CERT_INVALID',
            `${c.summary.certPath}: ${name} is already served by ${clash.summary.certPath} with a ${c.summary.keyType} key; one certificate per name and key type`,
            { file: c.summary.certPath, name, other: clash.summary.certPath },
          );
        }
        list.push(c);
        byName.set(name, list);
      }
    }
    const contexts = new Map<string, SecureContext>();
    const creds = new Map<SecureContext, Credentials>();
    const contextOf = (group: LoadedCert[]): SecureContext => {
      const key = group.map((c) => c.index).sort((a, b) => a - b).join(',');
      let ctx = contexts.get(key);
      if (!ctx) {
        const credentials: Credentials = { key: group.map((c) => c.keyPem), cert: group.map((c) => c.chainPem) };
        try {
          // Only the certificates matter here: after SNI, OpenSSL swaps in this context's
          // certificates, while versions, ciphers and ticket keys stay the listener's own. The
          // policy is set anyway so a context used on its own is never weaker.
          ctx = createSecureContext({ ...tlsPolicy('TLSv1.2'), ...credentials });
        } catch (e) {
          throw new SluiceError('SLUICE_CERT_INVALID', `${group.map((c) => c.summary.certPath).join(', ')}: ${(e as Error).message}`, {
            file: group[0].summary.certPath,
          }, { cause: e });
        }
        contexts.set(key, ctx);
        creds.set(ctx, credentials);
      }
      return ctx;
    };
    const exact = new Map<string, SecureContext>();
    const wildcard = new Map<string, SecureContext>();
    for (const [name, group] of byName) {
      if (name.startsWith('*.')) wildcard.set(name.slice(2), contextOf(group));
      else exact.set(name, contextOf(group));
    }
    const def = certs[defaultIndex];
    const first = def.summary.names[0];
    const defGroup = byName.get(first) ?? [def];
    this.exact = exact;
    this.wildcard = wildcard;
    this.defaultCtx = contextOf(defGroup);
    this.credsByContext = creds;
    this.summaries = Object.freeze(certs.map((c) => Object.freeze(c.summary)));
  }

  /** Reads, parses and checks every entry; the first problem found is thrown, naming its file. */
  static async load(entries: readonly CertEntry[], opts: CertStoreLoadOptions = {}): Promise<CertStore> {
    if (entries.length === 0) throw new SluiceError('SLUICE_CERT_INVALID', 'certificate store needs at least one certificate', { field: 'certs' });
    const now = opts.now ?? new Date();
    const defaults = entries.map((e, i) => (e.isDefault ? i : -1)).filter((i) => i >= 0);
    if (defaults.length > 1) {
      throw new SluiceError(
        'SLUICE_CERT_INVALID',
        `more than one default certificate: ${defaults.map((i) => entries[i].certPath).join(', ')}`,
        { file: entries[defaults[1]].certPath },
      );
    }
    const certs = await Promise.all(entries.map((e, i) => loadOne(e, i, defaults.length === 0 ? i === 0 : e.isDefault === true, now)));
    return new CertStore(certs, defaults[0] ?? 0);
  }

  /**
   * The context for a ClientHello's server_name: exact name, then a wildcard covering exactly
   * one more label (RFC 6125 6.4.3), then the default certificate.
   */
  secureContextFor(servername: string): SecureContext {
    return this.match(servername) ?? this.defaultCtx;
  }

  /** Like secureContextFor, but null when only the default would answer (strict-SNI policy). */
  match(servername: string): SecureContext | null {
    const name = normalizeName(servername);
    if (name === '') return null;
    const hit = this.exact.get(name);
    if (hit) return hit;
    const dot = name.indexOf('.');
    // The wildcard stands for the first label only: a.example.com matches *.example.com, while
    // example.com and a.b.example.com do not.
    if (dot > 0) return this.wildcard.get(name.slice(dot + 1)) ?? null;
    return null;
  }

  /** The context for clients without SNI. */
  get defaultContext(): SecureContext {
    return this.defaultCtx;
  }

  /** PEM material behind a context from this store (the listener's own context is built from it). */
  credentialsOf(ctx: SecureContext): Credentials {
    const c = this.credsByContext.get(ctx);
    if (!c) throw new Error('secure context does not belong to this certificate store');
    return c;
  }

  list(): CertSummary[] {
    return this.summaries.map((s) => ({ ...s, names: [...s.names] }));
  }
}

function normalizeName(name: string): string {
  // Names compare case-insensitively (RFC 4343); a trailing dot is the same absolute name.
  let n = name.trim().toLowerCase();
  if (n.endsWith('.')) n = n.slice(0, -1);
  return n;
}

function canonicalIp(ip: string): string {
  // Node prints IPv6 SANs uncompressed ("0:0:0:0:0:0:0:1"); the URL parser gives the RFC 5952 form.
  return isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

/** Splits Node's subjectAltName string ("DNS:a, IP Address:1.2.3.4", values JSON-quoted when odd). */
function parseSubjectAltName(san: string): { type: string; value: string }[] {
  const out: { type: string; value: string }[] = [];
  let i = 0;
  while (i < san.length) {
    const colon = san.indexOf(':', i);
    if (colon < 0) break;
    const type = san.slice(i, colon);
    let value: string;
    let next: number;
    if (san[colon + 1] === '"') {
      let j = colon + 2;
      while (j < san.length && san[j] !== '"') j += san[j] === '\\' ? 2 : 1;
      value = JSON.parse(san.slice(colon + 1, j + 1)) as string;
      next = san.indexOf(', ', j);
    } else {
      next = san.indexOf(', ', colon);
      value = san.slice(colon + 1, next < 0 ? undefined : next);
    }
    out.push({ type, value });
    if (next < 0) break;
    i = next + 2;
  }
  return out;
}

function namesOf(cert: X509Certificate): string[] {
  const names: string[] = [];
  if (cert.subjectAltName) {
    for (const { type, value } of parseSubjectAltName(cert.subjectAltName)) {
      if (type === 'DNS') names.push(normalizeName(value));
      else if (type === 'IP Address') names.push(canonicalIp(value));
    }
  }
  // RFC 6125 6.4.4: the CN is consulted only when the certificate has no DNS/IP SAN at all.
  if (names.length === 0) {
    const cn = cert.subject.split('\n').find((l) => l.startsWith('CN='));
    if (cn) names.push(normalizeName(cn.slice(3)));
  }
  return [...new Set(names)];
}

async function loadOne(entry: CertEntry, index: number, isDefault: boolean, now: Date): Promise<LoadedCert> {
  const invalid = (file: string, why: string, cause?: unknown): SluiceError =>
    new SluiceError('SLUICE_CERT_INVALID', `${file}: ${why}`, { file }, cause === undefined ? undefined : { cause });
  const read = async (file: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (e) {
      throw invalid(file, `cannot read: ${(e as Error).message}`, e);
    }
  };
  const [chainText, keyPem] = await Promise.all([read(entry.certPath), read(entry.keyPath)]);
  const blocks = chainText.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw invalid(entry.certPath, 'no PEM CERTIFICATE block found');
  let chain: X509Certificate[];
  try {
    chain = blocks.map((b) => new X509Certificate(b));
  } catch (e) {
    throw invalid(entry.certPath, `not a parseable X.509 certificate: ${(e as Error).message}`, e);
  }
  const leaf = chain[0];
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (e) {
    throw invalid(entry.keyPath, `not a usable unencrypted PEM private key: ${(e as Error).message}`, e);
  }
  const keyType = KEY_TYPES[key.asymmetricKeyType ?? ''];
  if (!keyType) throw invalid(entry.keyPath, `unsupported key type ${key.asymmetricKeyType ?? 'unknown'} (EC, RSA, RSA-PSS, Ed25519, Ed448)`);
  if (!leaf.checkPrivateKey(key)) {
    throw new SluiceError('SLUICE_CERT_INVALID', `${entry.keyPath}: private key does not match the certificate in ${entry.certPath}`, {
      file: entry.keyPath,
      cert: entry.certPath,
    });
  }
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (notAfter.getTime() <= now.getTime()) throw invalid(entry.certPath, `certificate expired at ${notAfter.toISOString()}`);
  if (notBefore.getTime() > now.getTime()) throw invalid(entry.certPath, `certificate is not valid before ${notBefore.toISOString()}`);
  // An intermediate that expired makes the chain fail for every client, just as an expired leaf.
  for (let i = 1; i < chain.length; i++) {
    if (new Date(chain[i].validTo).getTime() <= now.getTime()) {
      throw invalid(entry.certPath, `chain certificate ${i + 1} (${chain[i].subject.replace(/\n/g, ', ')}) expired at ${new Date(chain[i].validTo).toISOString()}`);
    }
  }
  const names = namesOf(leaf);
  if (names.length === 0) throw invalid(entry.certPath, 'certificate names no host (no DNS/IP subjectAltName and no CN)');
  const details = key.asymmetricKeyDetails ?? {};
  const summary: CertSummary = {
    names,
    keyType,
    keyDetail: details.namedCurve ?? (details.modulusLength !== undefined ? String(details.modulusLength) : ''),
    subject: leaf.subject.replace(/\n/g, ', '),
    issuer: leaf.issuer.replace(/\n/g, ', '),
    notBefore,
    notAfter,
    fingerprint: leaf.fingerprint256,
    chainLength: chain.length,
    certPath: entry.certPath,
    keyPath: entry.keyPath,
    isDefault,
  };
  return { index, summary, chainPem: blocks.join('\n') + '\n', keyPem };
}
