// Parser fixtures as data: request bytes in, expected events (or the one error) out. Strings are
// latin1 bytes; every line ending is written out (\r\n), so a bare \n or \r is always deliberate.
import type { ParserLimits } from '../../src/http1/parser.js';

export interface ExpectedError {
  status: number;
  /** Substring of detail.rule. */
  rule: string;
  /** Absolute stream offset of the offending byte, when the case pins it. */
  offset?: number;
}

export interface ParserCase {
  name: string;
  input: string;
  limits?: Partial<ParserLimits>;
  /** Subset of each head's fields, in order, for every complete request before any error. */
  heads?: Array<Record<string, unknown>>;
  /** Body bytes per request, in order ('' for none). */
  bodies?: string[];
  trailers?: string[][];
  error?: ExpectedError;
}

const H = 'Host: example.com\r\n';

const BROWSER_HEADERS =
  'Host: www.example.com\r\n' +
  'Connection: keep-alive\r\n' +
  'Cache-Control: max-age=0\r\n' +
  'sec-ch-ua: "Chromium";v="131", "Not_A Brand";v="24"\r\n' +
  'sec-ch-ua-mobile: ?0\r\n' +
  'sec-ch-ua-platform: "Linux"\r\n' +
  'Upgrade-Insecure-Requests: 1\r\n' +
  'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n' +
  'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n' +
  'Sec-Fetch-Site: none\r\n' +
  'Sec-Fetch-Mode: navigate\r\n' +
  'Sec-Fetch-User: ?1\r\n' +
  'Sec-Fetch-Dest: document\r\n' +
  'Accept-Encoding: gzip, deflate, br, zstd\r\n' +
  'Accept-Language: en-US,en;q=0.9\r\n' +
  'Cookie: session=4f1c2e9a7b; theme=dark\r\n';

/** The HeaderList a field block should parse to: names lower-cased, values trimmed. */
function expectedList(block: string): string[] {
  const out: string[] = [];
  for (const line of block.split('\r\n').filter(Boolean)) {
    const c = line.indexOf(':');
    out.push(line.slice(0, c).toLowerCase(), line.slice(c + 1).trim());
  }
  return out;
}

export const BROWSER_GET = 'GET /products/view?id=1234&ref=home HTTP/1.1\r\n' + BROWSER_HEADERS + '\r\n';
export const SMALL_GET = 'GET / HTTP/1.1\r\nHost: a.example\r\n\r\n';
export const CHUNKED_POST =
  'POST /api/v1/items HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
  '1a\r\n{"name":"widget","qty":12,\r\n' +
  '15;ext=1\r\n"tags":["a","b","c"]}\r\n' +
  '0\r\n\r\n';

export const VALID: ParserCase[] = [
  {
    name: 'simple GET',
    input: SMALL_GET,
    heads: [{ method: 'GET', target: '/', path: '/', query: '', authority: 'a.example', version: '1.1', headers: ['host', 'a.example'], contentLength: 0, hasBody: false, keepAlive: true, headBytes: 35 }],
    bodies: [''],
  },
  {
    name: 'browser GET with 16 fields: names lowercased, values trimmed',
    input: BROWSER_GET,
    heads: [{ path: '/products/view', query: 'id=1234&ref=home', authority: 'www.example.com', keepAlive: true, headers: expectedList(BROWSER_HEADERS) }],
    bodies: [''],
  },
  {
    name: 'OWS around values is trimmed, inner whitespace kept, empty value allowed, obs-text kept',
    input: 'GET /x HTTP/1.1\r\nHost:example.com \t\r\nX-A: \t a  b \t\r\nX-Empty:\r\nX-Latin: caf\xe9\r\n\r\n',
    heads: [{ headers: ['host', 'example.com', 'x-a', 'a  b', 'x-empty', '', 'x-latin', 'caf\xe9'] }],
  },
  {
    name: 'known and unknown field names in any case are lower-cased',
    input: 'GET / HTTP/1.1\r\nHOST: a\r\nuSeR-aGeNt: x\r\nX-Custom-THING: y\r\nsec-fetch-DEST: z\r\nContent-Lengthy: 1\r\n\r\n',
    heads: [{ headers: ['host', 'a', 'user-agent', 'x', 'x-custom-thing', 'y', 'sec-fetch-dest', 'z', 'content-lengthy', '1'], contentLength: 0 }],
  },
  {
    name: 'POST with Content-Length body',
    input: 'POST /submit HTTP/1.1\r\n' + H + 'Content-Length: 11\r\n\r\nhello world',
    heads: [{ method: 'POST', contentLength: 11, hasBody: true }],
    bodies: ['hello world'],
  },
  {
    name: 'Content-Length: 0 has no body',
    input: 'POST /p HTTP/1.1\r\n' + H + 'Content-Length: 0\r\n\r\n',
    heads: [{ contentLength: 0, hasBody: false }],
    bodies: [''],
  },
  {
    name: 'chunked body with token and quoted-string extensions and trailers',
    input:
      'POST /up HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n' +
      '5;name=value;q="a \\"quoted\\" ;x"\r\nhello\r\n' +
      '6 ; a ; b = c\r\n world\r\n' +
      '0\r\nX-Checksum: abc\r\nX-Other:  1 \r\n\r\n',
    heads: [{ contentLength: -1, hasBody: true }],
    bodies: ['hello world'],
    trailers: [['x-checksum', 'abc', 'x-other', '1']],
  },
  {
    name: 'chunk sizes in upper-case hex with leading zeros',
    input: 'POST /up HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n000A\r\n0123456789\r\n00\r\n\r\n',
    bodies: ['0123456789'],
  },
  {
    name: 'three pipelined requests',
    input: 'GET /1 HTTP/1.1\r\n' + H + '\r\nPOST /2 HTTP/1.1\r\n' + H + 'Content-Length: 3\r\n\r\nabcGET /3 HTTP/1.1\r\n' + H + 'Connection: close\r\n\r\n',
    heads: [{ path: '/1' }, { path: '/2', contentLength: 3 }, { path: '/3', keepAlive: false }],
    bodies: ['', 'abc', ''],
  },
  {
    name: 'HTTP/1.0 defaults to close, keep-alive turns it on, Host optional',
    input: 'GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n',
    heads: [{ version: '1.0', keepAlive: false, authority: '' }, { version: '1.0', keepAlive: true }],
  },
  {
    name: 'empty lines before the request line are skipped (RFC 9112 2.2)',
    input: '\r\n\r\nGET / HTTP/1.1\r\n' + H + '\r\n',
    heads: [{ path: '/', headBytes: 41 }],
  },
  {
    name: 'absolute-form target: authority from the target, Host agrees after default-port normalisation',
    input: 'GET http://Example.com:80/a/b?c=d HTTP/1.1\r\nHost: example.com\r\n\r\n',
    heads: [{ authority: 'Example.com:80', path: '/a/b', query: 'c=d' }],
  },
  {
    name: 'absolute-form without a path gets /',
    input: 'GET https://example.com HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
    heads: [{ authority: 'example.com', path: '/', query: '' }],
  },
  {
    name: 'OPTIONS * (asterisk-form)',
    input: 'OPTIONS * HTTP/1.1\r\n' + H + '\r\n',
    heads: [{ method: 'OPTIONS', path: '*', target: '*' }],
  },
  {
    name: 'Expect: 100-continue with a body',
    input: 'PUT /f HTTP/1.1\r\n' + H + 'Expect: 100-Continue\r\nContent-Length: 2\r\n\r\nok',
    heads: [{ expectContinue: true }],
    bodies: ['ok'],
  },
  {
    name: 'Connection: close among other options',
    input: 'GET / HTTP/1.1\r\n' + H + 'Connection: TE, close\r\n\r\n',
    heads: [{ keepAlive: false }],
  },
  {
    name: 'Host as IPv6 literal with port, and an empty Host',
    input: 'GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\nGET / HTTP/1.1\r\nHost:\r\n\r\n',
    heads: [{ authority: '[::1]:8080' }, { authority: '' }],
  },
  {
    name: 'Transfer-Encoding with empty list elements and parameters-free chunked',
    input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: , chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n',
    bodies: ['x'],
  },
  {
    name: 'realistic chunked POST',
    input: CHUNKED_POST,
    bodies: ['{"name":"widget","qty":12,"tags":["a","b","c"]}'],
  },
];

const BAD = 400;

export const INVALID: ParserCase[] = [
  // framing (RFC 9112 6.3, RFC 9110 8.6)
  { name: 'rejects Content-Length with Transfer-Encoding (RFC 9112 6.3 (3))', input: 'POST / HTTP/1.1\r\n' + H + 'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 6.3 (3)' } },
  { name: 'rejects Transfer-Encoding before Content-Length (RFC 9112 6.3 (3))', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 6.3 (3)' } },
  { name: 'rejects differing repeated Content-Length (RFC 9110 8.6)', input: 'POST / HTTP/1.1\r\n' + H + 'Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello', error: { status: BAD, rule: 'RFC 9110 8.6' } },
  { name: 'rejects identical repeated Content-Length (RFC 9110 8.6, strict)', input: 'POST / HTTP/1.1\r\n' + H + 'Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello', error: { status: BAD, rule: 'RFC 9110 8.6' } },
  { name: 'rejects a Content-Length list (RFC 9110 8.6)', input: 'POST / HTTP/1.1\r\n' + H + 'Content-Length: 5, 5\r\n\r\nhello', error: { status: BAD, rule: 'RFC 9110 8.6' } },
  { name: 'rejects non-numeric Content-Length (RFC 9110 8.6)', input: 'POST / HTTP/1.1\r\n' + H + 'Content-Length: abc\r\n\r\n', error: { status: BAD, rule: 'RFC 9110 8.6' } },
  { name: 'rejects signed Content-Length (RFC 9110 8.6)', input: 'POST / HTTP/1.1\r\n' + H + 'Content-Length: +5\r\n\r\nhello', error: { status: BAD, rule: 'RFC 9110 8.6' } },
  { name: 'rejects negative Content-Length (RFC 9110 8.6)', input: 'POST / HTTP/1.1\r\n' + H + 'Content-Length: -1\r\n\r\n', error: { status: BAD, rule: 'RFC 9110 8.6' } },
  { name: 'rejects empty Content-Length (RFC 9110 8.6)', input: 'POST / HTTP/1.1\r\n' + H + 'Content-Length:\r\n\r\n', error: { status: BAD, rule: 'RFC 9110 8.6' } },
  { name: 'rejects overflowing Content-Length (RFC 9112 6.3 (5))', input: 'POST / HTTP/1.1\r\n' + H + 'Content-Length: 99999999999999999999\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 6.3 (5)' } },
  { name: 'rejects chunked not final (RFC 9112 6.3 (4))', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked, gzip\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 6.3 (4)' } },
  { name: 'rejects Transfer-Encoding without chunked (RFC 9112 6.3 (4))', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: gzip\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 6.3 (4)' } },
  { name: 'rejects chunked across two Transfer-Encoding fields not last (RFC 9112 6.3 (4))', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 6.3 (4)' } },
  { name: 'rejects chunked applied twice (RFC 9112 7)', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked, chunked\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 7:' } },
  { name: 'answers 501 to an unknown transfer coding before chunked (RFC 9112 6.1)', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: gzip, chunked\r\n\r\n', error: { status: 501, rule: 'RFC 9112 6.1' } },
  { name: 'rejects empty Transfer-Encoding (RFC 9112 6.1)', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: \r\n\r\n', error: { status: BAD, rule: 'RFC 9112 6.1' } },
  { name: 'rejects a transfer coding that is not a token (RFC 9112 6.1)', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: "chunked"\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 6.1' } },
  { name: 'rejects Transfer-Encoding in HTTP/1.0 (RFC 9112 6.1)', input: 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 6.1' } },
  // chunked framing (RFC 9112 7.1)
  { name: 'rejects non-hex chunk size (RFC 9112 7.1)', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\nzz\r\n', error: { status: BAD, rule: 'RFC 9112 7.1', offset: 66 } },
  { name: 'rejects a chunk size with a sign (RFC 9112 7.1)', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n-1\r\n', error: { status: BAD, rule: 'RFC 9112 7.1' } },
  { name: 'rejects a chunk size with 0x prefix (RFC 9112 7.1)', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 7.1' } },
  { name: 'rejects a too long chunk size (RFC 9112 7.1)', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n00000000000000001\r\nx\r\n', error: { status: BAD, rule: 'RFC 9112 7.1' } },
  { name: 'rejects an overflowing chunk size (RFC 9112 7.1)', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n', error: { status: BAD, rule: 'RFC 9112 7.1' } },
  { name: 'rejects whitespace between chunk size and CRLF (RFC 9112 7.1.1)', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 7.1.1' } },
  { name: 'rejects a chunk extension without a name (RFC 9112 7.1.1)', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n5;=x\r\nhello\r\n0\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 7.1.1' } },
  { name: 'rejects an unterminated quoted chunk extension (RFC 9112 7.1.1)', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n5;a="x\r\nhello\r\n0\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 7.1.1' } },
  { name: 'rejects a chunk extension with a space inside a token (RFC 9112 7.1.1)', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n5;a=b c\r\nhello\r\n0\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 7.1.1' } },
  { name: 'rejects a NUL in a chunk extension (RFC 9112 7.1.1)', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n5;a\x00\r\nhello\r\n0\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 7.1.1' } },
  { name: 'rejects chunk extensions over the limit', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n5;' + 'a'.repeat(40) + '\r\nhello\r\n0\r\n\r\n', limits: { maxChunkExtBytes: 32 }, error: { status: BAD, rule: 'maxChunkExtBytes' } },
  { name: 'rejects chunk data not followed by CRLF (RFC 9112 7.1)', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 7.1', offset: 74 } },
  { name: 'rejects chunk data followed by a bare LF (RFC 9112 7.1)', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 7.1' } },
  { name: 'rejects a bare LF after the chunk size (RFC 9112 7.1)', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 7.1' } },
  { name: 'rejects a bare CR in a chunk line (RFC 9112 7.1)', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n5\rhello\r\n0\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 7.1' } },
  { name: 'rejects obs-fold in trailers (RFC 9112 5.2)', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 5.2' } },
  // line endings (RFC 9112 2.2)
  { name: 'rejects a bare LF ending the request line (RFC 9112 2.2)', input: 'GET / HTTP/1.1\n' + H + '\r\n', error: { status: BAD, rule: 'RFC 9112 2.2', offset: 14 } },
  { name: 'rejects a bare CR in the request line (RFC 9112 2.2)', input: 'GET / HTTP/1.1\rX' + H + '\r\n', error: { status: BAD, rule: 'RFC 9112 2.2', offset: 15 } },
  { name: 'rejects a bare LF ending a field line (RFC 9112 2.2)', input: 'GET / HTTP/1.1\r\n' + 'Host: example.com\nX: y\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 2.2', offset: 33 } },
  { name: 'rejects a bare CR inside a field value (RFC 9112 2.2)', input: 'GET / HTTP/1.1\r\n' + 'Host: exa\rmple.com\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 2.2', offset: 26 } },
  { name: 'rejects a bare LF ending the field section (RFC 9112 2.2)', input: 'GET / HTTP/1.1\r\n' + H + '\n', error: { status: BAD, rule: 'RFC 9112 2.2' } },
  { name: 'rejects a bare CR ending the field section (RFC 9112 2.2)', input: 'GET / HTTP/1.1\r\n' + H + '\rX', error: { status: BAD, rule: 'RFC 9112 2.2' } },
  { name: 'rejects a bare LF before the request line (RFC 9112 2.2)', input: '\nGET / HTTP/1.1\r\n' + H + '\r\n', error: { status: BAD, rule: 'RFC 9112 2.2', offset: 0 } },
  // field syntax (RFC 9112 5, RFC 9110 5)
  { name: 'rejects whitespace between field name and colon (RFC 9112 5.1)', input: 'GET / HTTP/1.1\r\n' + 'Host : example.com\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 5.1', offset: 20 } },
  { name: 'rejects a tab between field name and colon (RFC 9112 5.1)', input: 'GET / HTTP/1.1\r\n' + H + 'Content-Length\t: 0\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 5.1' } },
  { name: 'rejects obs-fold (RFC 9112 5.2)', input: 'GET / HTTP/1.1\r\n' + H + 'X-A: one\r\n two\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 5.2', offset: 45 } },
  { name: 'rejects obs-fold with HTAB (RFC 9112 5.2)', input: 'GET / HTTP/1.1\r\n' + H + 'X-A: one\r\n\ttwo\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 5.2' } },
  { name: 'rejects whitespace before the first field line (RFC 9112 2.2)', input: 'GET / HTTP/1.1\r\n Host: example.com\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 2.2', offset: 16 } },
  { name: 'rejects an invalid token character in a field name (RFC 9110 5.1)', input: 'GET / HTTP/1.1\r\n' + H + 'X{A}: 1\r\n\r\n', error: { status: BAD, rule: 'RFC 9110 5.1', offset: 36 } },
  { name: 'rejects a non-ASCII byte in a field name (RFC 9110 5.1)', input: 'GET / HTTP/1.1\r\n' + H + 'X\xe9: 1\r\n\r\n', error: { status: BAD, rule: 'RFC 9110 5.1' } },
  { name: 'rejects an empty field name (RFC 9110 5.1)', input: 'GET / HTTP/1.1\r\n' + H + ': x\r\n\r\n', error: { status: BAD, rule: 'RFC 9110 5.1' } },
  { name: 'rejects a field line without a colon (RFC 9112 5)', input: 'GET / HTTP/1.1\r\n' + H + 'NoColon\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 5:' } },
  { name: 'rejects NUL in a field value (RFC 9110 5.5)', input: 'GET / HTTP/1.1\r\n' + H + 'X-A: a\x00b\r\n\r\n', error: { status: BAD, rule: 'RFC 9110 5.5', offset: 41 } },
  { name: 'rejects a control character in a field value (RFC 9110 5.5)', input: 'GET / HTTP/1.1\r\n' + H + 'X-A: a\x01b\r\n\r\n', error: { status: BAD, rule: 'RFC 9110 5.5' } },
  { name: 'rejects DEL in a field value (RFC 9110 5.5)', input: 'GET / HTTP/1.1\r\n' + H + 'X-A: a\x7fb\r\n\r\n', error: { status: BAD, rule: 'RFC 9110 5.5' } },
  // request line (RFC 9112 3)
  { name: 'rejects an invalid token character in the method (RFC 9112 3.1)', input: 'G(T / HTTP/1.1\r\n' + H + '\r\n', error: { status: BAD, rule: 'RFC 9112 3.1', offset: 1 } },
  { name: 'rejects an empty method (RFC 9112 3)', input: ' / HTTP/1.1\r\n' + H + '\r\n', error: { status: BAD, rule: 'RFC 9112 3' } },
  { name: 'rejects two spaces after the method (RFC 9112 3)', input: 'GET  / HTTP/1.1\r\n' + H + '\r\n', error: { status: BAD, rule: 'RFC 9112 3' } },
  { name: 'rejects NUL in the request-target (RFC 9112 3.2)', input: 'GET /a\x00b HTTP/1.1\r\n' + H + '\r\n', error: { status: BAD, rule: 'RFC 9112 3.2', offset: 6 } },
  { name: 'rejects a control character in the request-target (RFC 9112 3.2)', input: 'GET /a\x1bb HTTP/1.1\r\n' + H + '\r\n', error: { status: BAD, rule: 'RFC 9112 3.2' } },
  { name: 'rejects DEL in the request-target (RFC 9112 3.2)', input: 'GET /a\x7f HTTP/1.1\r\n' + H + '\r\n', error: { status: BAD, rule: 'RFC 9112 3.2' } },
  { name: 'rejects non-ASCII in the request-target (RFC 9112 3.2)', input: 'GET /caf\xe9 HTTP/1.1\r\n' + H + '\r\n', error: { status: BAD, rule: 'RFC 9112 3.2' } },
  { name: 'rejects a fragment in the request-target (RFC 9112 3.2)', input: 'GET /a#frag HTTP/1.1\r\n' + H + '\r\n', error: { status: BAD, rule: 'RFC 9112 3.2' } },
  { name: 'rejects a relative request-target (RFC 9112 3.2)', input: 'GET a/b HTTP/1.1\r\n' + H + '\r\n', error: { status: BAD, rule: 'RFC 9112 3.2.2' } },
  { name: 'rejects asterisk-form for GET (RFC 9112 3.2.4)', input: 'GET * HTTP/1.1\r\n' + H + '\r\n', error: { status: BAD, rule: 'RFC 9112 3.2.4' } },
  { name: 'answers 501 to CONNECT (RFC 9110 9.3.6)', input: 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', error: { status: 501, rule: 'RFC 9110 9.3.6' } },
  { name: 'rejects a lower-case HTTP-version (RFC 9112 2.3)', input: 'GET / http/1.1\r\n' + H + '\r\n', error: { status: BAD, rule: 'RFC 9112 2.3', offset: 6 } },
  { name: 'rejects a malformed HTTP-version (RFC 9112 2.3)', input: 'GET / HTTP/1.x\r\n' + H + '\r\n', error: { status: BAD, rule: 'RFC 9112 2.3', offset: 13 } },
  { name: 'rejects a two-digit HTTP-version (RFC 9112 2.3)', input: 'GET / HTTP/11.1\r\n' + H + '\r\n', error: { status: BAD, rule: 'RFC 9112 2.3' } },
  { name: 'rejects trailing bytes after the HTTP-version (RFC 9112 2.3)', input: 'GET / HTTP/1.1 \r\n' + H + '\r\n', error: { status: BAD, rule: 'RFC 9112 2.3' } },
  { name: 'rejects a request line without a version (RFC 9112 3)', input: 'GET /\r\n' + H + '\r\n', error: { status: BAD, rule: 'RFC 9112 3.2' } },
  { name: 'answers 505 to HTTP/2.0 over HTTP/1 framing (RFC 9110 15.6.6)', input: 'GET / HTTP/2.0\r\n' + H + '\r\n', error: { status: 505, rule: 'RFC 9110 15.6.6' } },
  { name: 'answers 505 to HTTP/1.2 (RFC 9110 15.6.6)', input: 'GET / HTTP/1.2\r\n' + H + '\r\n', error: { status: 505, rule: 'RFC 9110 15.6.6' } },
  // Host (RFC 9112 3.2, RFC 9110 7.2)
  { name: 'rejects HTTP/1.1 without Host (RFC 9112 3.2)', input: 'GET / HTTP/1.1\r\nX: y\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 3.2' } },
  { name: 'rejects a repeated Host (RFC 9112 3.2)', input: 'GET / HTTP/1.1\r\n' + H + 'Host: evil.example\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 3.2', offset: 53 } },
  { name: 'rejects a Host with a space (RFC 9110 7.2)', input: 'GET / HTTP/1.1\r\nHost: exa mple.com\r\n\r\n', error: { status: BAD, rule: 'RFC 9110 7.2' } },
  { name: 'rejects a Host with userinfo (RFC 9110 7.2)', input: 'GET / HTTP/1.1\r\nHost: user@example.com\r\n\r\n', error: { status: BAD, rule: 'RFC 9110 7.2' } },
  { name: 'rejects a Host with a non-numeric port (RFC 9110 7.2)', input: 'GET / HTTP/1.1\r\nHost: example.com:http\r\n\r\n', error: { status: BAD, rule: 'RFC 9110 7.2' } },
  { name: 'rejects a Host with an out-of-range port (RFC 9110 7.2)', input: 'GET / HTTP/1.1\r\nHost: example.com:65536\r\n\r\n', error: { status: BAD, rule: 'RFC 9110 7.2' } },
  { name: 'rejects an unclosed IPv6 Host (RFC 9110 7.2)', input: 'GET / HTTP/1.1\r\nHost: [::1\r\n\r\n', error: { status: BAD, rule: 'RFC 9110 7.2' } },
  { name: 'rejects a Host with a bad percent-encoding (RFC 9110 7.2)', input: 'GET / HTTP/1.1\r\nHost: a%zz.com\r\n\r\n', error: { status: BAD, rule: 'RFC 9110 7.2' } },
  { name: 'rejects a Host list (RFC 9110 7.2)', input: 'GET / HTTP/1.1\r\nHost: a.com, b.com\r\n\r\n', error: { status: BAD, rule: 'RFC 9110 7.2' } },
  { name: 'rejects Host disagreeing with the absolute-form authority (RFC 9112 3.2.2)', input: 'GET http://good.example/ HTTP/1.1\r\nHost: evil.example\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 3.2.2' } },
  { name: 'rejects absolute-form without Host in HTTP/1.1 (RFC 9112 3.2)', input: 'GET http://good.example/ HTTP/1.1\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 3.2' } },
  { name: 'rejects userinfo in the absolute-form authority (RFC 9112 3.2.2)', input: 'GET http://u:p@good.example/ HTTP/1.1\r\nHost: good.example\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 3.2.2' } },
  { name: 'rejects a non-http absolute-form scheme (RFC 9112 3.2.2)', input: 'GET ftp://good.example/ HTTP/1.1\r\nHost: good.example\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 3.2.2' } },
  { name: 'rejects an empty absolute-form authority (RFC 9112 3.2.2)', input: 'GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 3.2.2' } },
  // limits
  { name: 'answers 414 to a request line over maxRequestLineBytes, at the first byte past it', input: 'GET /' + 'a'.repeat(100) + ' HTTP/1.1\r\n' + H + '\r\n', limits: { maxRequestLineBytes: 64 }, error: { status: 414, rule: 'maxRequestLineBytes', offset: 64 } },
  { name: 'answers 414 to a long method', input: 'A'.repeat(70) + ' / HTTP/1.1\r\n' + H + '\r\n', limits: { maxRequestLineBytes: 64 }, error: { status: 414, rule: 'maxRequestLineBytes', offset: 64 } },
  { name: 'answers 414 when only the CRLF crosses the limit', input: 'GET /abc HTTP/1.1\r\n' + H + '\r\n', limits: { maxRequestLineBytes: 18 }, error: { status: 414, rule: 'maxRequestLineBytes', offset: 18 } },
  { name: 'accepts a request line exactly at maxRequestLineBytes', input: 'GET /abc HTTP/1.1\r\n' + H + '\r\n', limits: { maxRequestLineBytes: 19 }, heads: [{ path: '/abc' }] },
  { name: 'answers 431 to a field section over maxHeaderBytes, at the first byte past it', input: 'GET / HTTP/1.1\r\n' + H + 'X-Big: ' + 'v'.repeat(200) + '\r\n\r\n', limits: { maxHeaderBytes: 100 }, error: { status: 431, rule: 'maxHeaderBytes', offset: 116 } },
  { name: 'answers 431 to a long field name', input: 'GET / HTTP/1.1\r\n' + 'X'.repeat(200) + ': 1\r\n\r\n', limits: { maxHeaderBytes: 100 }, error: { status: 431, rule: 'maxHeaderBytes', offset: 116 } },
  { name: 'answers 431 to more than maxHeaderCount fields', input: 'GET / HTTP/1.1\r\n' + H + 'A: 1\r\nB: 2\r\nC: 3\r\n\r\n', limits: { maxHeaderCount: 3 }, error: { status: 431, rule: 'maxHeaderCount', offset: 47 } },
  { name: 'answers 431 to trailers over maxHeaderCount', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n', limits: { maxHeaderCount: 2 }, error: { status: 431, rule: 'maxHeaderCount' } },
  { name: 'answers 431 to trailers over maxHeaderBytes', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n0\r\nA: ' + 'x'.repeat(100) + '\r\n\r\n', limits: { maxHeaderBytes: 64 }, error: { status: 431, rule: 'maxHeaderBytes' } },
  { name: 'answers 413 to Content-Length over maxBodyBytes before any body byte', input: 'POST / HTTP/1.1\r\n' + H + 'Content-Length: 1001\r\n\r\n', limits: { maxBodyBytes: 1000 }, error: { status: 413, rule: 'maxBodyBytes' } },
  { name: 'answers 413 when a chunk would cross maxBodyBytes, after the earlier chunks', input: 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n3\r\nabc\r\n0\r\n\r\n', limits: { maxBodyBytes: 10 }, bodies: ['12345678'], error: { status: 413, rule: 'maxBodyBytes', offset: 79 } },
  { name: 'rejects smuggling: a second request hidden behind CL+TE never parses', input: 'POST / HTTP/1.1\r\n' + H + 'Content-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: example.com\r\n\r\n', error: { status: BAD, rule: 'RFC 9112 6.3 (3)' } },
];
