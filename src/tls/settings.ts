// The TLS policy every Sluice listener shares. One place, so the kernel path (Node's tls) and the
// bypass path's native engine cannot drift apart.

import { constants as cryptoConstants } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';
import { SluiceError } from '../errors.js';

export type TlsMinVersion = 'TLSv1.2' | 'TLSv1.3';

export interface TlsListenerOptions {
  /** ALPN protocols in the server's order of preference ('h2', 'http/1.1'). Empty: no ALPN. */
  alpn: string[];
  minVersion: TlsMinVersion;
  /** RFC 5077 / RFC 8446 4.6.1 stateless session tickets. */
  sessionTickets: boolean;
  /** How often the ticket encryption key is replaced (seconds; fractions allowed for tests). */
  ticketRotateSeconds: number;
  /** A handshake not finished within this many milliseconds is dropped (slowloris on TLS). */
  handshakeTimeoutMs: number;
}

export const DEFAULT_TLS_OPTIONS: Readonly<TlsListenerOptions> = Object.freeze({
  alpn: ['http/1.1'],
  minVersion: 'TLSv1.2',
  sessionTickets: true,
  // 1 hour: RFC 8446 allows up to 7 days of ticket lifetime, but a stolen ticket key decrypts
  // every session resumed under it, so keys live short.
  ticketRotateSeconds: 3600,
  // 10 s: a real client over a slow mobile link finishes in well under that; a stalled one holds
  // a socket and a handshake state for nothing.
  handshakeTimeoutMs: 10_000,
});

// TLS 1.2: forward-secret ECDHE key exchange with AEAD record protection only (no CBC, no RSA key
// transport, no SHA-1 MACs). ECDSA before RSA and AES-128 before AES-256 within each (cheaper, and
// equally strong for the lifetime of a session); ChaCha20 for clients without AES hardware.
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
] as const;

// TLS 1.3: OpenSSL's default suites (all AEAD; RFC 8446 9.1 makes AES-128-GCM mandatory).
export const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'] as const;

export const ECDH_CURVES = 'X25519:P-256:P-384';

/** The cipher, curve and version part of a secure context (no certificate, no ticket keys). */
export function tlsPolicy(minVersion: TlsMinVersion): SecureContextOptions {
  return {
    // Node splits this list: TLS_* names go to SSL_CTX_set_ciphersuites (1.3), the rest to
    // SSL_CTX_set_cipher_list (1.2).
    ciphers: [...TLS13_SUITES, ...TLS12_CIPHERS].join(':'),
    ecdhCurve: ECDH_CURVES,
    honorCipherOrder: true,
    minVersion,
    maxVersion: 'TLSv1.3',
    // Renegotiation is a DoS lever and HTTP/2 forbids it (RFC 9113 9.2.1); compression is CRIME.
    secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION | cryptoConstants.SSL_OP_NO_COMPRESSION,
  };
}

// RFC 7301 3.1: each protocol name is 1..255 bytes; the whole list fits a 16-bit length.
const ALPN_TOKEN = /^[\x21-\x7e]{1,255}$/;

/** Fills defaults and validates; every error names the offending field. */
export function resolveTlsOptions(input: Partial<TlsListenerOptions> = {}): TlsListenerOptions {
  const o: TlsListenerOptions = { ...DEFAULT_TLS_OPTIONS, ...input, alpn: [...(input.alpn ?? DEFAULT_TLS_OPTIONS.alpn)] };
  const bad = (field: string, why: string): never => {
    throw new SluiceError('SLUICE_CONFIG_INVALID', `tls.${field}: ${why}`, { field: `tls.${field}` });
  };
  o.alpn.forEach((p, i) => {
    if (typeof p !== 'string' || !ALPN_TOKEN.test(p)) bad(`alpn[${i}]`, `${JSON.stringify(p)} is not a protocol id (1-255 printable ASCII bytes)`);
    if (o.alpn.indexOf(p) !== i) bad(`alpn[${i}]`, `${JSON.stringify(p)} is listed twice`);
  });
  if (o.minVersion !== 'TLSv1.2' && o.minVersion !== 'TLSv1.3') bad('minVersion', `must be 'TLSv1.2' or 'TLSv1.3', got ${JSON.stringify(o.minVersion)}`);
  if (typeof o.sessionTickets !== 'boolean') bad('sessionTickets', 'must be a boolean');
  if (!(Number.isFinite(o.ticketRotateSeconds) && o.ticketRotateSeconds > 0)) bad('ticketRotateSeconds', `must be a positive number, got ${o.ticketRotateSeconds}`);
  if (!(Number.isInteger(o.handshakeTimeoutMs) && o.handshakeTimeoutMs > 0)) bad('handshakeTimeoutMs', `must be a positive integer, got ${o.handshakeTimeoutMs}`);
  return o;
}
