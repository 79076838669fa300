// classifyFailure as a table: error (as undici or Node report it) + attempt state -> code, status,
// source, retry safety. The real-server paths are in forward.test.ts; this covers the rest.

import t from 'tap';
import { SluiceError } from '../../src/errors.js';
import { type AttemptState, classifyFailure, noEndpointFailure } from '../../src/upstream/failure.js';

function errno(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

function named(name: string, message: string, code?: string): Error {
  const e = new Error(message);
  e.name = name;
  if (code !== undefined) Object.assign(e, { code });
  return e;
}

const base: AttemptState = { endpoint: '10.0.0.1:80', cluster: 'api', started: true, reused: false, responseBytes: false, bodyReplayable: true, timeoutMs: 3000 };

const cases: Array<[string, Error, Partial<AttemptState>, string, number, string, boolean]> = [
  ['refused', errno('ECONNREFUSED'), { started: false }, 'SLUICE_UPSTREAM_REFUSED', 502, 'connect', true],
  ['unreachable', errno('EHOSTUNREACH'), { started: false }, 'SLUICE_UPSTREAM_REFUSED', 502, 'connect', true],
  ['dns', errno('ENOTFOUND'), { started: false }, 'SLUICE_UPSTREAM_REFUSED', 502, 'connect', true],
  ['connect timeout', named('ConnectTimeoutError', 'Connect Timeout Error', 'UND_ERR_CONNECT_TIMEOUT'), { started: false }, 'SLUICE_UPSTREAM_CONNECT_TIMEOUT', 504, 'connect', true],
  ['connect failure, body already read', errno('ECONNREFUSED'), { started: false, bodyReplayable: false }, 'SLUICE_UPSTREAM_REFUSED', 502, 'connect', false],
  ['reset before sending', errno('ECONNRESET'), { started: false }, 'SLUICE_UPSTREAM_REFUSED', 502, 'connect', true],
  ['headers timeout', named('HeadersTimeoutError', 'Headers Timeout Error', 'UND_ERR_HEADERS_TIMEOUT'), {}, 'SLUICE_UPSTREAM_TIMEOUT', 504, 'response', false],
  ['body timeout', named('BodyTimeoutError', 'Body Timeout Error', 'UND_ERR_BODY_TIMEOUT'), { responseBytes: true }, 'SLUICE_UPSTREAM_TIMEOUT', 504, 'response', false],
  ['parser error (undici leaves code undefined)', named('HTTPParserError', 'Response does not match the HTTP/1.1 protocol (Invalid status code)'), {}, 'SLUICE_UPSTREAM_PROTOCOL', 502, 'response', false],
  ['header overflow', named('HeadersOverflowError', 'Headers Overflow Error', 'UND_ERR_HEADERS_OVERFLOW'), {}, 'SLUICE_UPSTREAM_PROTOCOL', 502, 'response', false],
  ['short body', named('ResponseContentLengthMismatchError', 'mismatch', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH'), { responseBytes: true }, 'SLUICE_UPSTREAM_PROTOCOL', 502, 'response', false],
  ['unsolicited 100', named('SocketError', 'bad response', 'UND_ERR_SOCKET'), {}, 'SLUICE_UPSTREAM_PROTOCOL', 502, 'response', false],
  ['fresh connection closed', named('SocketError', 'other side closed', 'UND_ERR_SOCKET'), {}, 'SLUICE_UPSTREAM_RESET', 502, 'response', false],
  ['fresh connection reset', errno('ECONNRESET'), {}, 'SLUICE_UPSTREAM_RESET', 502, 'response', false],
  ['reused connection closed, nothing back', named('SocketError', 'other side closed', 'UND_ERR_SOCKET'), { reused: true }, 'SLUICE_UPSTREAM_RESET', 502, 'reused_connection', true],
  ['reused connection reset, nothing back', errno('ECONNRESET'), { reused: true }, 'SLUICE_UPSTREAM_RESET', 502, 'reused_connection', true],
  ['reused connection EPIPE', errno('EPIPE'), { reused: true }, 'SLUICE_UPSTREAM_RESET', 502, 'reused_connection', true],
  ['reused, body gone', errno('ECONNRESET'), { reused: true, bodyReplayable: false }, 'SLUICE_UPSTREAM_RESET', 502, 'reused_connection', false],
  ['reused, answer bytes came back', errno('ECONNRESET'), { reused: true, responseBytes: true }, 'SLUICE_UPSTREAM_RESET', 502, 'response', false],
  ['pool closed by reload', named('ClientClosedError', 'The client is closed', 'UND_ERR_CLOSED'), { started: false }, 'SLUICE_NO_ENDPOINT', 503, 'cluster', false],
  ['request undici will not send', named('InvalidArgumentError', 'path must be an absolute URL or start with a slash', 'UND_ERR_INVALID_ARG'), { started: false }, 'SLUICE_UPSTREAM_PROTOCOL', 502, 'response', false],
  ['anything else', new Error('surprise'), {}, 'SLUICE_UPSTREAM_PROTOCOL', 502, 'response', false],
];

for (const [name, err, state, code, status, source, retrySafe] of cases) {
  t.test(name, async (t) => {
    const f = classifyFailure(err, { ...base, ...state });
    t.equal(f.error.code, code);
    t.equal(f.error.status, status);
    t.equal(f.source, source);
    t.equal(f.retrySafe, retrySafe);
    t.equal(f.endpoint, '10.0.0.1:80');
    t.match(f.error.detail, { cluster: 'api', endpoint: '10.0.0.1:80', source, retrySafe });
    t.equal(f.error.cause, err, 'the original error is kept as the cause');
    t.match(f.error.message, code === 'SLUICE_NO_ENDPOINT' ? /cluster api/ : /10\.0\.0\.1:80/, 'the message names where it failed');
  });
}

t.test('a SluiceError from the client side passes through as a downstream failure', async (t) => {
  const err = new SluiceError('SLUICE_HTTP_BODY_TOO_LARGE', 'body over 1 MiB');
  const f = classifyFailure(err, base);
  t.equal(f.error, err);
  t.equal(f.source, 'downstream');
  t.equal(f.retrySafe, false);
});

t.test('timeout messages name the limit', async (t) => {
  t.match(classifyFailure(errno('UND_ERR_HEADERS_TIMEOUT'), base).error.message, /no response head within 3000 ms/);
  t.match(classifyFailure(errno('ECONNREFUSED'), { ...base, started: false }).error.message, /10\.0\.0\.1:80 refused the connection/);
  t.match(classifyFailure(errno('EHOSTUNREACH'), { ...base, started: false }).error.message, /could not be reached \(EHOSTUNREACH\)/);
});

t.test('noEndpointFailure', async (t) => {
  const f = noEndpointFailure('api', 'has no endpoints');
  t.equal(f.error.code, 'SLUICE_NO_ENDPOINT');
  t.equal(f.error.status, 503);
  t.equal(f.error.message, 'cluster api: has no endpoints');
  t.equal(f.source, 'cluster');
  t.equal(f.endpoint, '');
});
