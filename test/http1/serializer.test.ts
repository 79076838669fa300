import t from 'tap';
import {
  CONTINUE_100,
  encodeChunk,
  encodeLastChunk,
  imfDate,
  reasonPhrase,
  serializeErrorResponse,
  serializeResponseHead,
} from '../../src/http1/serializer.js';
import { SluiceError } from '../../src/errors.js';

const DATE = 'Wed, 25 Nov 2026 08:00:00 GMT';
const str = (b: Buffer): string => b.toString('latin1');

t.test('status line, fields, Content-Length and Date', async (t) => {
  const b = serializeResponseHead({ status: 200, headers: ['content-type', 'text/plain', 'x-a', 'b'], framing: 'length', contentLength: 5, connection: null, date: DATE });
  t.equal(str(b), `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-a: b\r\ndate: ${DATE}\r\ncontent-length: 5\r\n\r\n`);
});

t.test('chunked framing with Connection: close, custom reason phrase', async (t) => {
  const b = serializeResponseHead({ status: 299, reason: 'Odd But Fine', headers: [], framing: 'chunked', contentLength: -1, connection: 'close' });
  t.equal(str(b), 'HTTP/1.1 299 Odd But Fine\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n');
});

t.test('framing fields from the caller are replaced by the codec (no conflicting framing)', async (t) => {
  const b = serializeResponseHead({
    status: 200,
    headers: ['Content-Length', '999', 'Transfer-Encoding', 'gzip', 'Connection', 'upgrade', 'Keep-Alive', 'timeout=5', 'Date', 'x'],
    framing: 'length',
    contentLength: 3,
    connection: 'keep-alive',
    date: DATE,
  });
  t.equal(str(b), 'HTTP/1.1 200 OK\r\nDate: x\r\ncontent-length: 3\r\nconnection: keep-alive\r\n\r\n', 'caller Date kept, no second Date');
});

t.test('no-body framings: HEAD keeps Content-Length, 204 never has it, 304 may', async (t) => {
  t.equal(str(serializeResponseHead({ status: 200, headers: [], framing: 'none', contentLength: 42, connection: null })), 'HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n');
  t.equal(str(serializeResponseHead({ status: 204, headers: [], framing: 'none', contentLength: 42, connection: null })), 'HTTP/1.1 204 No Content\r\n\r\n');
  t.equal(str(serializeResponseHead({ status: 304, headers: [], framing: 'none', contentLength: 7, connection: null })), 'HTTP/1.1 304 Not Modified\r\ncontent-length: 7\r\n\r\n');
  t.equal(str(serializeResponseHead({ status: 200, headers: [], framing: 'close', contentLength: -1, connection: 'close' })), 'HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n');
});

t.test('refuses CR, LF and NUL in names and values (response splitting)', async (t) => {
  const cases: Array<[string, string]> = [
    ['x-a', 'ok\r\nset-cookie: evil=1'],
    ['x-a', 'ok\nx: y'],
    ['x-a', 'ok\rx'],
    ['x-a', 'a\u0000b'],
    ['x-a', 'a\u0001b'],
    ['x-a', 'snowman \u2603'],
    ['x-a\r\nx-b', 'v'],
    ['x a', 'v'],
    ['x:a', 'v'],
    ['', 'v'],
  ];
  for (const [name, value] of cases) {
    let caught: unknown = null;
    try {
      serializeResponseHead({ status: 200, headers: [name, value], framing: 'length', contentLength: 0, connection: null });
    } catch (e) {
      caught = e;
    }
    t.ok(caught instanceof SluiceError, `refuses ${JSON.stringify(name)}: ${JSON.stringify(value)}`);
    t.match(caught, { code: 'SLUICE_HTTP_RESPONSE_INVALID', status: 500, detail: { rule: /RFC 9110/ } });
  }
  t.throws(() => serializeResponseHead({ status: 200, reason: 'OK\r\nx: y', headers: [], framing: 'none', contentLength: -1, connection: null }), SluiceError, 'reason phrase checked');
  t.throws(() => encodeLastChunk(['x-t', 'a\r\nb']), SluiceError, 'trailers checked');
  t.throws(() => serializeResponseHead({ status: 42, headers: [], framing: 'none', contentLength: -1, connection: null }), SluiceError, 'status must be 3 digits');
  t.doesNotThrow(() => serializeResponseHead({ status: 200, headers: ['x-tab', 'a\tb', 'x-latin', 'caf\u00e9'], framing: 'none', contentLength: -1, connection: null }), 'HTAB and obs-text are fine');
});

t.test('chunks: hex size, data, CRLF; empty chunk encodes to nothing', async (t) => {
  t.equal(str(encodeChunk(Buffer.from('hello'))), '5\r\nhello\r\n');
  t.equal(str(encodeChunk(Buffer.alloc(300, 0x61))), '12c\r\n' + 'a'.repeat(300) + '\r\n');
  t.equal(encodeChunk(Buffer.alloc(0)).length, 0);
});

t.test('last chunk with and without trailers', async (t) => {
  t.equal(str(encodeLastChunk()), '0\r\n\r\n');
  t.equal(str(encodeLastChunk(['x-checksum', 'abc', 'content-length', '5'])), '0\r\nx-checksum: abc\r\n\r\n', 'framing fields never go in trailers');
});

t.test('100 Continue interim response', async (t) => {
  t.equal(str(CONTINUE_100), 'HTTP/1.1 100 Continue\r\n\r\n');
});

t.test('error response: JSON body, Connection: close; HEAD gets no body', async (t) => {
  const b = str(serializeErrorResponse(400, 'http_bad_request', 'bare LF (at byte 3)', { date: DATE }));
  const body = '{"error":"http_bad_request","detail":"bare LF (at byte 3)"}';
  t.equal(b, `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ndate: ${DATE}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
  const h = str(serializeErrorResponse(431, 'x', 'y', { head: true }));
  t.ok(h.endsWith('\r\n\r\n') && h.startsWith('HTTP/1.1 431 Request Header Fields Too Large\r\n'), 'head only');
});

t.test('reason phrases and IMF-fixdate', async (t) => {
  t.equal(reasonPhrase(413), 'Content Too Large');
  t.equal(reasonPhrase(799), '');
  t.equal(imfDate(Date.UTC(1994, 10, 6, 8, 49, 37)), 'Sun, 06 Nov 1994 08:49:37 GMT', 'RFC 9110 5.6.7 example');
});
