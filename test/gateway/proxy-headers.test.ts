import t from 'tap';
import type { HeaderList, RequestHead } from '../../src/http/exchange.js';
import {
  connectionListed,
  downstreamResponseHeaders,
  forwardedElement,
  forwardedNode,
  forwardedValue,
  plainAddress,
  stripHopByHop,
  upstreamRequestHeaders,
} from '../../src/gateway/proxy-headers.js';
import type { HeaderEdit } from '../../src/gateway/routes.js';

const NO_EDIT: HeaderEdit = { add: [], remove: new Set() };
const CTX = { requestId: 'req-1', clientAddress: '192.0.2.7', listenerProto: 'https' as const };

function head(headers: HeaderList, over: Partial<RequestHead> = {}): RequestHead {
  return {
    method: 'GET',
    target: '/p',
    path: '/p',
    query: '',
    authority: 'api.example.com',
    scheme: 'https',
    version: '1.1',
    headers,
    contentLength: -1,
    hasBody: false,
    expectContinue: false,
    ...over,
  };
}

function all(h: HeaderList, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < h.length; i += 2) if (h[i] === name) out.push(h[i + 1]);
  return out;
}

t.test('hop-by-hop fields and every name listed in Connection are dropped (RFC 9110 7.6.1)', async (t) => {
  const h = [
    'connection', 'keep-alive, X-Secret , x-other',
    'connection', 'close',
    'keep-alive', 'timeout=5',
    'proxy-connection', 'keep-alive',
    'te', 'trailers',
    'trailer', 'x-sum',
    'transfer-encoding', 'chunked',
    'upgrade', 'h2c',
    'proxy-authorization', 'Basic Zm9v',
    'proxy-authenticate', 'Basic',
    'x-secret', 's',
    'x-other', 'o',
    'close', 'named by Connection too',
    'accept', '*/*',
  ];
  t.same([...connectionListed(h)].sort(), ['close', 'keep-alive', 'x-other', 'x-secret']);
  t.same(stripHopByHop(h), ['accept', '*/*']);
});

t.test('request: Host is the original authority, framing fields are rebuilt, Expect never leaves', async (t) => {
  const out = upstreamRequestHeaders(
    head(['host', 'api.example.com', 'content-length', '999', 'expect', '100-continue', 'accept', '*/*'], { method: 'POST', contentLength: 5, hasBody: true }),
    NO_EDIT,
    CTX,
  );
  t.same(out.slice(0, 2), ['host', 'api.example.com'], 'host first');
  t.same(all(out, 'host'), ['api.example.com'], 'exactly one host');
  t.same(all(out, 'content-length'), ['5'], 'the codec-validated length');
  t.same(all(out, 'expect'), []);
  t.same(all(out, 'accept'), ['*/*']);
  const chunked = upstreamRequestHeaders(head(['transfer-encoding', 'chunked'], { method: 'POST', hasBody: true }), NO_EDIT, CTX);
  t.same(all(chunked, 'content-length'), [], 'unknown length: no Content-Length, undici sends chunked');
  t.same(all(chunked, 'transfer-encoding'), []);
});

t.test('request: X-Forwarded-*, Forwarded, Via and x-request-id', async (t) => {
  const out = upstreamRequestHeaders(
    head([
      'x-forwarded-for', '203.0.113.1',
      'x-forwarded-for', '198.51.100.2, 10.0.0.3',
      'x-forwarded-proto', 'http',
      'x-forwarded-host', 'spoofed.example',
      'forwarded', 'for=203.0.113.1;proto=http',
      'via', '1.0 edge',
      'x-request-id', 'client-chosen',
    ]),
    NO_EDIT,
    CTX,
  );
  t.same(all(out, 'x-forwarded-for'), ['203.0.113.1, 198.51.100.2, 10.0.0.3, 192.0.2.7'], 'client appended to the existing list');
  t.same(all(out, 'x-forwarded-proto'), ['https'], 'set, not appended');
  t.same(all(out, 'x-forwarded-host'), ['api.example.com']);
  t.same(all(out, 'forwarded'), ['for=203.0.113.1;proto=http, for=192.0.2.7;proto=https;host=api.example.com']);
  t.same(all(out, 'via'), ['1.0 edge, 1.1 sluice']);
  t.same(all(out, 'x-request-id'), ['req-1'], 'the gateway-chosen id replaces the incoming one');
});

t.test('request: Via names the received protocol version (RFC 9110 7.6.3)', async (t) => {
  t.same(all(upstreamRequestHeaders(head([], { version: '1.0' }), NO_EDIT, CTX), 'via'), ['1.0 sluice']);
  t.same(all(upstreamRequestHeaders(head([], { version: '2' }), NO_EDIT, CTX), 'via'), ['2 sluice']);
});

t.test('Forwarded quoting follows RFC 7239', async (t) => {
  t.equal(forwardedNode('192.0.2.43'), '192.0.2.43');
  t.equal(forwardedNode('2001:db8:cafe::17'), '"[2001:db8:cafe::17]"', 'IPv6 is bracketed and quoted (RFC 7239 6)');
  t.equal(forwardedNode('::ffff:192.0.2.43'), '192.0.2.43', 'IPv4-mapped shown as IPv4');
  t.equal(forwardedNode(''), 'unknown');
  t.equal(forwardedValue('example.com'), 'example.com');
  t.equal(forwardedValue('example.com:8443'), '"example.com:8443"', "':' is not a tchar");
  t.equal(forwardedValue('a"b\\c'), '"a\\"b\\\\c"');
  t.equal(forwardedElement('2001:db8::1', 'http', '[2001:db8::2]:8080'), 'for="[2001:db8::1]";proto=http;host="[2001:db8::2]:8080"');
  t.equal(plainAddress('::ffff:10.1.2.3'), '10.1.2.3');
  t.equal(plainAddress('::1'), '::1');
  const v6 = upstreamRequestHeaders(head([]), NO_EDIT, { ...CTX, clientAddress: '2001:db8::9' });
  t.same(all(v6, 'x-forwarded-for'), ['2001:db8::9'], 'X-Forwarded-For carries the bare address');
});

t.test('request: route edits apply last, may remove what Sluice added, never touch framing', async (t) => {
  const edit: HeaderEdit = {
    add: ['x-team', 'payments', 'connection', 'close', 'host', 'evil.example', 'x-keep', 'second'],
    remove: new Set(['cookie', 'forwarded', 'host', 'content-length', 'x-keep']),
  };
  const out = upstreamRequestHeaders(
    head(['cookie', 'a=1', 'x-keep', 'first'], { method: 'PUT', contentLength: 3, hasBody: true }),
    edit,
    CTX,
  );
  t.same(all(out, 'cookie'), []);
  t.same(all(out, 'forwarded'), [], 'an operator may drop Forwarded');
  t.same(all(out, 'x-team'), ['payments']);
  t.same(all(out, 'x-keep'), ['second'], 'remove, then add');
  t.same(all(out, 'connection'), [], 'hop-by-hop adds are ignored');
  t.same(all(out, 'host'), ['api.example.com'], 'host is framing: neither removed nor added');
  t.same(all(out, 'content-length'), ['3']);
});

t.test('request without an authority: no Host (undici uses the endpoint), no empty X-Forwarded-Host', async (t) => {
  const out = upstreamRequestHeaders(head([], { authority: '', version: '1.0' }), NO_EDIT, CTX);
  t.same(all(out, 'host'), []);
  t.same(all(out, 'x-forwarded-host'), []);
  t.same(all(out, 'forwarded'), ['for=192.0.2.7;proto=https']);
});

t.test('response: hop-by-hop stripped, Content-Length kept as a number, Via appended, edits applied', async (t) => {
  const r = downstreamResponseHeaders(
    [
      'content-type', 'text/plain',
      'connection', 'keep-alive, x-upstream-internal',
      'keep-alive', 'timeout=5',
      'x-upstream-internal', 'secret',
      'content-length', '42',
      'via', '1.1 backend',
      'set-cookie', 'a=1',
      'set-cookie', 'b=2',
      'server', 'backend/1.0',
    ],
    { add: ['strict-transport-security', 'max-age=63072000'], remove: new Set(['server']) },
  );
  t.equal(r.contentLength, 42);
  t.same(r.headers, [
    'content-type', 'text/plain',
    'set-cookie', 'a=1',
    'set-cookie', 'b=2',
    'via', '1.1 backend, 1.1 sluice',
    'strict-transport-security', 'max-age=63072000',
  ]);
});

t.test('response: streamed upstream bodies have no length (-1); Transfer-Encoding wins over Content-Length', async (t) => {
  t.equal(downstreamResponseHeaders(['transfer-encoding', 'chunked'], NO_EDIT).contentLength, -1);
  t.equal(downstreamResponseHeaders(['content-length', '10', 'transfer-encoding', 'chunked'], NO_EDIT).contentLength, -1);
  t.equal(downstreamResponseHeaders([], NO_EDIT).contentLength, -1);
  t.same(all(downstreamResponseHeaders(['transfer-encoding', 'chunked'], NO_EDIT).headers, 'transfer-encoding'), []);
  t.equal(downstreamResponseHeaders(['content-length', '0'], NO_EDIT).contentLength, 0);
});

t.test('the response carries the request id unless the upstream set its own', async (t) => {
  t.same(all(downstreamResponseHeaders([], NO_EDIT, 'rid-1').headers, 'x-request-id'), ['rid-1']);
  t.same(all(downstreamResponseHeaders(['x-request-id', 'up-7'], NO_EDIT, 'rid-1').headers, 'x-request-id'), ['up-7']);
  t.same(all(downstreamResponseHeaders([], NO_EDIT).headers, 'x-request-id'), []);
});

t.test('the forwarding fields follow each request when clients, protocols and hosts alternate', async (t) => {
  // The last client address and Forwarded element are remembered between calls (keep-alive
  // requests repeat them); a different request must never get the previous one's values.
  const cases = [
    { ctx: CTX, authority: 'a.example', xff: '192.0.2.7', fwd: 'for=192.0.2.7;proto=https;host=a.example' },
    { ctx: { ...CTX, clientAddress: '::ffff:198.51.100.9' }, authority: 'a.example', xff: '198.51.100.9', fwd: 'for=198.51.100.9;proto=https;host=a.example' },
    { ctx: { ...CTX, clientAddress: '::ffff:198.51.100.9', listenerProto: 'http' as const }, authority: 'a.example', xff: '198.51.100.9', fwd: 'for=198.51.100.9;proto=http;host=a.example' },
    { ctx: { ...CTX, clientAddress: '2001:db8::5' }, authority: 'b.example:8443', xff: '2001:db8::5', fwd: 'for="[2001:db8::5]";proto=https;host="b.example:8443"' },
    { ctx: CTX, authority: '', xff: '192.0.2.7', fwd: 'for=192.0.2.7;proto=https' },
  ];
  for (let round = 0; round < 2; round++) {
    for (const c of cases) {
      const out = upstreamRequestHeaders(head([], { authority: c.authority }), NO_EDIT, c.ctx);
      t.same(all(out, 'x-forwarded-for'), [c.xff], `x-forwarded-for for ${c.ctx.clientAddress}`);
      t.same(all(out, 'forwarded'), [c.fwd], `forwarded for ${c.ctx.clientAddress} ${c.ctx.listenerProto} ${c.authority}`);
    }
  }
});
