// Upstream failures as SluiceErrors with a stable code, plus where the failure happened and
// whether the request may be sent again (the idea of pingora-error's ErrorSource and
// RetryType::ReusedOnly). Only this file knows undici's error codes.

import { type ErrorCode, SluiceError, isSluiceError } from '../errors.js';

/**
 * Where an upstream failure came from:
 * - connect: no connection was made (refused, connect timeout, unreachable, DNS); the request
 *   never left Sluice, so another endpoint may take it.
 * - reused_connection: the request was written on a kept-alive connection that failed before any
 *   response byte arrived: typically the upstream closed the idle connection as we reused it.
 * - response: the request reached the upstream (fresh connection, or bytes of an answer came
 *   back, or a timeout elapsed): sending it again could apply it twice.
 * - downstream: the client broke off (body framing error, disconnect).
 * - cluster: no endpoint to send to (empty cluster, all in backoff, cluster removed by reload).
 */
export type UpstreamErrorSource = 'connect' | 'reused_connection' | 'response' | 'downstream' | 'cluster';

export interface UpstreamFailure {
  readonly error: SluiceError;
  readonly source: UpstreamErrorSource;
  /** Sending the same request again cannot duplicate it at the upstream. */
  readonly retrySafe: boolean;
  /** "host:port" of the endpoint that failed, '' when none was chosen. */
  readonly endpoint: string;
}

// Errors a connector reports before a socket exists (Node errno codes and undici's timeout).
const CONNECT_ERRNOS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'ETIMEDOUT']);

// The connection broke before a complete response: undici's SocketError ("other side closed",
// "closed") and the kernel's resets.
const RESET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

// The upstream sent something that is not a valid HTTP/1.1 response (or not the promised length).
const PROTOCOL_CODES = new Set(['UND_ERR_HEADERS_OVERFLOW', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_RES_EXCEEDED_MAX_SIZE']);

// undici refused to build the request itself (a target or field it will not send).
const REQUEST_INVALID_CODES = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED']);

export function errorCodeOf(err: unknown): string {
  if (err !== null && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return '';
}

export interface AttemptState {
  readonly endpoint: string;
  readonly cluster: string;
  /** onRequestStart ran: the request head was handed to a socket. */
  readonly started: boolean;
  readonly reused: boolean;
  /** Any byte of a response arrived (a head, or bytes counted on the socket after our write). */
  readonly responseBytes: boolean;
  readonly bodyReplayable: boolean;
  readonly timeoutMs: number;
}

/** Map an error from undici (or from the request body) to a typed failure. */
export function classifyFailure(err: unknown, a: AttemptState): UpstreamFailure {
  const endpoint = a.endpoint;
  if (isSluiceError(err)) {
    // Raised by the client side (request body framing, limits, client abort): pass through.
    return { error: err, source: 'downstream', retrySafe: false, endpoint };
  }
  const cause = errorCodeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  const detail = (code: ErrorCode, source: UpstreamErrorSource, retrySafe: boolean, text: string): UpstreamFailure => ({
    error: new SluiceError(code, text, { cluster: a.cluster, endpoint, source, retrySafe, cause: cause || message }, { cause: err }),
    source,
    retrySafe,
    endpoint,
  });

  if (REQUEST_INVALID_CODES.has(cause)) {
    return detail('SLUICE_UPSTREAM_PROTOCOL', 'response', false, `request cannot be sent to ${endpoint}: ${message}`);
  }
  if (!a.started && cause === 'UND_ERR_CONNECT_TIMEOUT') {
    return detail('SLUICE_UPSTREAM_CONNECT_TIMEOUT', 'connect', a.bodyReplayable, `connect to ${endpoint} timed out`);
  }
  if (!a.started && CONNECT_ERRNOS.has(cause)) {
    const what = cause === 'ECONNREFUSED' ? 'refused the connection' : `could not be reached (${cause})`;
    return detail('SLUICE_UPSTREAM_REFUSED', 'connect', a.bodyReplayable, `${endpoint} ${what}`);
  }
  if (cause === 'UND_ERR_HEADERS_TIMEOUT') {
    return detail('SLUICE_UPSTREAM_TIMEOUT', 'response', false, `${endpoint} sent no response head within ${a.timeoutMs} ms`);
  }
  if (cause === 'UND_ERR_BODY_TIMEOUT') {
    return detail('SLUICE_UPSTREAM_TIMEOUT', 'response', false, `${endpoint} sent no response body data for ${a.timeoutMs} ms`);
  }
  // undici's HTTPParserError: its code is meant to be HPE_*, but undici 7 looks the name up in
  // a name->number table with the number, so the code is often undefined; its name is reliable.
  const parserError = err instanceof Error && err.name === 'HTTPParserError';
  if (parserError || cause.startsWith('HPE_') || PROTOCOL_CODES.has(cause)) {
    return detail('SLUICE_UPSTREAM_PROTOCOL', 'response', false, `${endpoint} sent an invalid response: ${message}`);
  }
  if (cause === 'UND_ERR_SOCKET' && message === 'bad response') {
    // undici's name for an unsolicited response or a 100 Continue we never asked for.
    return detail('SLUICE_UPSTREAM_PROTOCOL', 'response', false, `${endpoint} sent an unexpected response`);
  }
  if (cause === 'UND_ERR_CLOSED' || cause === 'UND_ERR_DESTROYED') {
    return detail('SLUICE_NO_ENDPOINT', 'cluster', false, `cluster ${a.cluster} was closed (removed or changed by a config reload)`);
  }
  if (!a.started) {
    // Failed before the head was handed to a socket (a connect-phase reset, a TLS failure): the
    // request never left Sluice.
    return detail('SLUICE_UPSTREAM_REFUSED', 'connect', a.bodyReplayable, `connection to ${endpoint} failed before the request was sent (${cause || message})`);
  }
  if (RESET_CODES.has(cause)) {
    if (a.reused && !a.responseBytes) {
      // Pingora's ReusedOnly: safe to resend only because the connection was reused and nothing
      // came back; and only if the body can be sent again.
      return detail('SLUICE_UPSTREAM_RESET', 'reused_connection', a.bodyReplayable, `reused connection to ${endpoint} closed before a response (${cause || message})`);
    }
    const when = a.responseBytes ? 'before the response was complete' : 'before a response';
    return detail('SLUICE_UPSTREAM_RESET', 'response', false, `connection to ${endpoint} closed ${when} (${cause || message})`);
  }
  return detail('SLUICE_UPSTREAM_PROTOCOL', 'response', false, `request to ${endpoint} failed: ${message}`);
}

/** A failure that never reached an endpoint. */
export function noEndpointFailure(cluster: string, why: string, detail: Record<string, unknown> = {}): UpstreamFailure {
  return {
    error: new SluiceError('SLUICE_NO_ENDPOINT', `cluster ${cluster}: ${why}`, { cluster, source: 'cluster', retrySafe: false, ...detail }),
    source: 'cluster',
    retrySafe: false,
    endpoint: '',
  };
}
