// Handshake failures reduced to a small, stable set of labels for metrics and logs. OpenSSL's
// reasons are many and change between versions; operators need to tell "old client" from
// "scanner speaking HTTP" from "slowloris" from "our certificate was rejected".

export type HandshakeFailureReason =
  | 'timeout' // no finished handshake within handshakeTimeoutMs
  | 'http_request' // plaintext HTTP on the TLS port
  | 'unsupported_protocol' // SSLv3/TLS 1.0/1.1 or below our minVersion
  | 'no_shared_cipher' // e.g. a CBC-only or RSA-key-exchange-only client
  | 'no_shared_group' // no common ECDHE curve / key share
  | 'no_application_protocol' // ALPN offered, none in common (RFC 7301 3.2)
  | 'cert_rejected' // the client aborted with a certificate alert (unknown CA, bad certificate, ...)
  | 'client_alert' // any other alert from the client
  | 'client_closed' // the TCP connection ended before the handshake finished
  | 'malformed' // not TLS at all, or a record/message that does not parse
  | 'other';

export const HANDSHAKE_FAILURE_REASONS: readonly HandshakeFailureReason[] = [
  'timeout',
  'http_request',
  'unsupported_protocol',
  'no_shared_cipher',
  'no_shared_group',
  'no_application_protocol',
  'cert_rejected',
  'client_alert',
  'client_closed',
  'malformed',
  'other',
];

// Node turns OpenSSL's reason string into `ERR_SSL_<REASON>`; matching on the code keeps this
// table independent of message wording.
const BY_CODE: Record<string, HandshakeFailureReason> = {
  ERR_TLS_HANDSHAKE_TIMEOUT: 'timeout',
  ERR_SSL_HTTP_REQUEST: 'http_request',
  ERR_SSL_HTTPS_PROXY_REQUEST: 'http_request',
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'unsupported_protocol',
  ERR_SSL_VERSION_TOO_LOW: 'unsupported_protocol',
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'unsupported_protocol',
  ERR_SSL_NO_SHARED_CIPHER: 'no_shared_cipher',
  ERR_SSL_NO_CIPHERS_AVAILABLE: 'no_shared_cipher',
  ERR_SSL_NO_SHARED_SIGNATURE_ALGORITHMS: 'no_shared_cipher',
  ERR_SSL_NO_SUITABLE_SIGNATURE_ALGORITHM: 'no_shared_cipher',
  ERR_SSL_NO_SHARED_GROUPS: 'no_shared_group',
  ERR_SSL_NO_SUITABLE_KEY_SHARE: 'no_shared_group',
  ERR_SSL_BAD_KEY_SHARE: 'no_shared_group',
  ERR_SSL_NO_APPLICATION_PROTOCOL: 'no_application_protocol',
  ERR_SSL_WRONG_VERSION_NUMBER: 'malformed',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'malformed',
  ERR_SSL_RECORD_LENGTH_MISMATCH: 'malformed',
  ERR_SSL_LENGTH_MISMATCH: 'malformed',
  ERR_SSL_BAD_PACKET_LENGTH: 'malformed',
  ERR_SSL_BAD_EXTENSION: 'malformed',
  ERR_SSL_DECODE_ERROR: 'malformed',
  ERR_SSL_UNEXPECTED_MESSAGE: 'malformed',
  ERR_SSL_UNEXPECTED_RECORD: 'malformed',
  ERR_SSL_RECORD_LAYER_FAILURE: 'malformed',
  ERR_SSL_ENCRYPTED_LENGTH_TOO_LONG: 'malformed',
  ECONNRESET: 'client_closed',
  EPIPE: 'client_closed',
};

const CERT_ALERTS = new Set([
  'BAD_CERTIFICATE',
  'UNSUPPORTED_CERTIFICATE',
  'CERTIFICATE_REVOKED',
  'CERTIFICATE_EXPIRED',
  'CERTIFICATE_UNKNOWN',
  'UNKNOWN_CA',
  'BAD_CERTIFICATE_STATUS_RESPONSE',
  'CERTIFICATE_REQUIRED',
]);

/** Maps a 'tlsClientError' error (err.code from Node, err.reason from OpenSSL) to a stable label. */
export function classifyHandshakeError(err: unknown): HandshakeFailureReason {
  const e = err as { code?: unknown; reason?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const known = BY_CODE[code];
  if (known) return known;
  // Alerts the client sent us arrive as ERR_SSL_SSLV3_ALERT_<NAME> / ERR_SSL_TLSV1_ALERT_<NAME>.
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(.+)$/.exec(code);
  if (alert) {
    if (CERT_ALERTS.has(alert[1])) return 'cert_rejected';
    if (alert[1] === 'NO_APPLICATION_PROTOCOL') return 'no_application_protocol';
    return 'client_alert';
  }
  const message = typeof e?.message === 'string' ? e.message : '';
  // Node's own wording when the socket closes mid-handshake (no errno, no OpenSSL reason).
  if (/socket disconnected before secure TLS connection was established|socket hang up/i.test(message)) return 'client_closed';
  return 'other';
}
