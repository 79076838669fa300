// HTTP/1.1 response serialization (RFC 9112 4, 6, 7): status line, fields, framing, chunks.
// The codec owns framing: Content-Length, Transfer-Encoding, Connection and Keep-Alive given by the
// caller are dropped and written from the framing decision instead, so a handler (or a proxied
// upstream) can never produce a response whose framing disagrees with its body.
// Every name and value is checked before a byte is produced: a CR, LF or NUL in a response field
// would let whoever controls that value split the response (response splitting).

import { SluiceError } from '../errors.js';
import type { HeaderList } from '../http/exchange.js';

export type BodyFraming = 'length' | 'chunked' | 'close' | 'none';

export interface ResponseHeadSpec {
  status: number;
  /** Reason phrase; the standard one for the status when omitted. */
  reason?: string;
  headers: HeaderList;
  /**
   * length: Content-Length: contentLength; chunked: Transfer-Encoding: chunked; close: the body
   * ends when the connection closes (HTTP/1.0 clients); none: no body follows (HEAD, 204, 304),
   * Content-Length is still written when contentLength >= 0 and the status allows it.
   */
  framing: BodyFraming;
  contentLength: number;
  /** Connection field to write, or null for none. */
  connection: 'close' | 'keep-alive' | null;
  /** IMF-fixdate for the Date field, added when the headers carry none (RFC 9110 6.6.1). */
  date?: string;
}

const REASONS: Record<number, string> = {
  100: 'Continue', 101: 'Switching Protocols', 200: 'OK', 201: 'Created', 202: 'Accepted',
  203: 'Non-Authoritative Information', 204: 'No Content', 205: 'Reset Content', 206: 'Partial Content',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
  307: 'Temporary Redirect', 308: 'Permanent Redirect', 400: 'Bad Request', 401: 'Unauthorized',
  402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout', 409: 'Conflict',
  410: 'Gone', 411: 'Length Required', 412: 'Precondition Failed', 413: 'Content Too Large',
  414: 'URI Too Long', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable',
  417: 'Expectation Failed', 421: 'Misdirected Request', 422: 'Unprocessable Content',
  426: 'Upgrade Required', 428: 'Precondition Required', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large', 499: 'Client Closed Request', 500: 'Internal Server Error',
  501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? '';
}

/** Statuses whose responses never carry content (RFC 9110 6.4.1, 15.3.5, 15.4.5). */
export function statusHasNoBody(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

// tchar (RFC 9110 5.6.2)
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;

function invalid(message: string, detail: Record<string, unknown>): SluiceError {
  return new SluiceError('SLUICE_HTTP_RESPONSE_INVALID', message, detail);
}

export function checkFieldName(name: string, where = 'response'): void {
  if (name.length === 0) throw invalid(`empty field name in ${where}`, { rule: 'RFC 9110 5.1: field-name is a token' });
  for (let k = 0; k < name.length; k++) {
    const c = name.charCodeAt(k);
    if (c >= 128 || TOKEN[c] === 0) {
      throw invalid(`invalid character 0x${c.toString(16)} at index ${k} in ${where} field name '${JSON.stringify(name)}'`, {
        rule: 'RFC 9110 5.1: field-name is a token',
        field: name,
        index: k,
      });
    }
  }
}

/** Values may hold HTAB, SP, VCHAR and obs-text; CR, LF, NUL and other CTLs would break framing. */
export function checkFieldValue(name: string, value: string, where = 'response'): void {
  for (let k = 0; k < value.length; k++) {
    const c = value.charCodeAt(k);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) {
      throw invalid(`invalid character 0x${c.toString(16)} at index ${k} in the value of ${where} field '${name}'`, {
        rule: 'RFC 9110 5.5: field values must not contain CR, LF, NUL or other CTLs (response splitting)',
        field: name,
        index: k,
      });
    }
  }
}

/** Fields the codec writes itself from the framing decision (hop-by-hop, RFC 9110 7.6.1). */
function codecOwned(name: string): boolean {
  switch (name.length) {
    case 10:
      return name === 'connection' || name === 'keep-alive';
    case 14:
      return name === 'content-length';
    case 17:
      return name === 'transfer-encoding';
  }
  return false;
}

function writeFields(out: string[], headers: HeaderList, where: string, skipOwned: boolean): boolean {
  let hasDate = false;
  if (headers.length % 2 !== 0) throw invalid(`${where} header list has an odd length (${headers.length})`, { rule: 'HeaderList is [name, value, ...]' });
  for (let k = 0; k < headers.length; k += 2) {
    const name = headers[k];
    const value = headers[k + 1];
    checkFieldName(name, where);
    checkFieldValue(name, value, where);
    const lower = name.toLowerCase();
    if (skipOwned && codecOwned(lower)) continue;
    if (lower === 'date') hasDate = true;
    out.push(name, ': ', value, '\r\n');
  }
  return hasDate;
}

export function serializeResponseHead(spec: ResponseHeadSpec): Buffer {
  const status = spec.status;
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw invalid(`status ${status} is not a three-digit code`, { rule: 'RFC 9112 4: status-code = 3DIGIT', status });
  }
  const reason = spec.reason ?? reasonPhrase(status);
  // reason-phrase = *( HTAB / SP / VCHAR / obs-text )
  checkFieldValue('reason-phrase', reason, 'status line');
  const out: string[] = ['HTTP/1.1 ', String(status), ' ', reason, '\r\n'];
  const hasDate = writeFields(out, spec.headers, 'response', true);
  if (!hasDate && spec.date) out.push('date: ', spec.date, '\r\n');
  switch (spec.framing) {
    case 'length':
      out.push('content-length: ', String(spec.contentLength), '\r\n');
      break;
    case 'chunked':
      out.push('transfer-encoding: chunked\r\n');
      break;
    case 'none':
      // RFC 9110 8.6: never in 1xx/204; HEAD and 304 may carry the length the GET would have had.
      if (spec.contentLength >= 0 && status !== 204 && status >= 200) out.push('content-length: ', String(spec.contentLength), '\r\n');
      break;
    case 'close':
      break;
  }
  if (spec.connection) out.push('connection: ', spec.connection, '\r\n');
  out.push('\r\n');
  return Buffer.from(out.join(''), 'latin1');
}

/** The interim response sent when the handler first reads a body the client is holding back. */
export const CONTINUE_100: Buffer = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

/** Ends a chunk's data when the size line was written with chunkHeader(). */
export const CRLF: Buffer = Buffer.from('\r\n', 'latin1');

/** One chunk (RFC 9112 7.1); an empty chunk would read as the last one, so it encodes to nothing. */
export function encodeChunk(chunk: Uint8Array): Buffer {
  const n = chunk.length;
  if (n === 0) return Buffer.alloc(0);
  const size = n.toString(16);
  const out = Buffer.allocUnsafe(size.length + 2 + n + 2);
  let o = out.write(size, 0, 'latin1');
  out[o++] = 13;
  out[o++] = 10;
  out.set(chunk, o);
  o += n;
  out[o++] = 13;
  out[o] = 10;
  return out;
}

/** The chunk-size line alone, for writing a large chunk without copying it. */
export function chunkHeader(length: number): Buffer {
  return Buffer.from(length.toString(16) + '\r\n', 'latin1');
}

/** last-chunk, trailer section and the final CRLF (RFC 9112 7.1.2). */
export function encodeLastChunk(trailers?: HeaderList): Buffer {
  if (!trailers || trailers.length === 0) return Buffer.from('0\r\n\r\n', 'latin1');
  const out: string[] = ['0\r\n'];
  writeFields(out, trailers, 'trailer', true);
  out.push('\r\n');
  return Buffer.from(out.join(''), 'latin1');
}

/** Complete error response: small JSON body, Connection: close (the session closes after it). */
export function serializeErrorResponse(status: number, reason: string, detail: string, opts: { date?: string; head?: boolean } = {}): Buffer {
  const body = Buffer.from(JSON.stringify({ error: reason, detail }), 'utf8');
  const head = serializeResponseHead({
    status,
    headers: ['content-type', 'application/json'],
    framing: opts.head ? 'none' : 'length',
    contentLength: body.length,
    connection: 'close',
    date: opts.date,
  });
  return opts.head ? head : Buffer.concat([head, body]);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** IMF-fixdate (RFC 9110 5.6.7) for a millisecond timestamp. */
export function imfDate(ms: number): string {
  const d = new Date(ms);
  const p2 = (n: number): string => (n < 10 ? '0' + n : String(n));
  return `${DAYS[d.getUTCDay()]}, ${p2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} GMT`;
}
