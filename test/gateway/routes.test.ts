// The compiled route table: host buckets (exact, longest wildcard, any), order within a bucket,
// methods, headers, query, regex paths, listeners and rewrites; loaded from a YAML fixture.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { loadConfig, parseConfigText } from '../../src/config/load.js';
import { formatProblems } from '../../src/config/problems.js';
import { RouteTable, normalizeHost, parseSubstitution, captureGroupCount, type RouteMatchInput } from '../../src/gateway/routes.js';
import type { HeaderList } from '../../src/http/exchange.js';
import { isSluiceError } from '../../src/errors.js';

const fixture = fileURLToPath(new URL('../fixtures/config/routing.yaml', import.meta.url));

async function table(): Promise<RouteTable> {
  const r = await loadConfig(fixture);
  if (!r.ok) throw new Error(formatProblems(r.problems));
  return r.snapshot.routes;
}

function req(over: Partial<RouteMatchInput>): RouteMatchInput {
  return { listener: 'public', method: 'GET', host: 'localhost', path: '/', query: '', headers: [], ...over };
}

t.test('host normalisation', async (t) => {
  t.equal(normalizeHost('API.Example.COM'), 'api.example.com');
  t.equal(normalizeHost('api.example.com:8443'), 'api.example.com');
  t.equal(normalizeHost('api.example.com.'), 'api.example.com');
  t.equal(normalizeHost('api.example.com.:443'), 'api.example.com');
  t.equal(normalizeHost('[::1]:8443'), '[::1]');
  t.equal(normalizeHost('[::1]'), '[::1]');
  t.equal(normalizeHost('[FE80::1]'), '[fe80::1]');
});

t.test('exact host beats wildcard, whatever the config order', async (t) => {
  const rt = await table();
  t.equal(rt.match(req({ host: 'api.example.com', path: '/v1/x' }))?.name, 'exact-host');
  t.equal(rt.match(req({ host: 'API.Example.com.:8443', path: '/v1/x' }))?.name, 'exact-host', 'normalised');
  t.equal(rt.match(req({ host: '[::1]:8443', path: '/v1/' }))?.name, 'exact-host', 'IPv6 literal');
  // Nothing in the exact bucket matches '/other': the wildcard bucket is next.
  t.equal(rt.match(req({ host: 'api.example.com', path: '/other' }))?.name, 'wild');
  // [::1] has no wildcard: falls through to the host-less routes.
  t.equal(rt.match(req({ host: '[::1]', path: '/other' }))?.name, 'catch-all');
});

t.test('wildcards: one or more labels, longest suffix first, never the bare domain', async (t) => {
  const rt = await table();
  t.equal(rt.match(req({ host: 'www.example.com' }))?.name, 'wild');
  t.equal(rt.match(req({ host: 'a.b.example.com' }))?.name, 'wild', 'more than one label');
  t.equal(rt.match(req({ host: 'x.eu.example.com' }))?.name, 'deep-wild', 'longer suffix wins');
  t.equal(rt.match(req({ host: 'y.x.eu.example.com' }))?.name, 'deep-wild');
  t.equal(rt.match(req({ host: 'eu.example.com' }))?.name, 'wild', '*.eu.example.com needs a label before eu');
  t.equal(rt.match(req({ host: 'example.com' }))?.name, 'catch-all', '*.example.com does not match example.com');
  t.equal(rt.match(req({ host: 'badexample.com' }))?.name, 'catch-all', 'suffix match is on label boundaries');
});

t.test('methods', async (t) => {
  const rt = await table();
  t.equal(rt.match(req({ method: 'POST', path: '/submit' }))?.name, 'methods');
  t.equal(rt.match(req({ method: 'PUT', path: '/submit' }))?.name, 'methods');
  t.equal(rt.match(req({ method: 'GET', path: '/submit' }))?.name, 'catch-all');
  t.equal(rt.match(req({ method: 'POST', path: '/submit/x' }))?.name, 'catch-all', 'exact path');
});

t.test('header matchers: exact, regex (whole value), absent; names case-insensitive', async (t) => {
  const rt = await table();
  const h = (headers: HeaderList) => rt.match(req({ path: '/h', headers }))?.name;
  t.equal(h(['x-env', 'prod']), 'header-exact');
  t.equal(h(['x-env', 'staging']), 'header-regex');
  t.equal(h(['x-env', 'stage']), 'header-regex');
  t.equal(h(['x-env', 'prestaging']), 'catch-all', 'regex must match the whole value');
  t.equal(h([]), 'header-absent');
  t.equal(h(['accept', '*/*']), 'header-absent');
  t.equal(h(['x-env', 'dev']), 'catch-all');
  t.equal(h(['x-env', 'dev', 'x-env', 'prod']), 'header-exact', 'any field line may match');
  t.equal(h(['x-env', 'Prod']), 'catch-all', 'values are case-sensitive');
});

t.test('query matchers: exact, present, regex; values decoded', async (t) => {
  const rt = await table();
  const q = (query: string) => rt.match(req({ path: '/q', query }))?.name;
  t.equal(q('debug=1'), 'query');
  t.equal(q('a=b&debug=1'), 'query');
  t.equal(q('debug=%31'), 'query', 'percent-decoded');
  t.equal(q('debug=2'), 'catch-all');
  t.equal(q('trace&v=12'), 'query-present', 'present without a value');
  t.equal(q('trace=&v=1x'), 'catch-all', 'every matcher of a route must hold');
  t.equal(q('v=12'), 'catch-all');
  t.equal(q(''), 'catch-all');
});

t.test('regex paths match the whole path', async (t) => {
  const rt = await table();
  t.equal(rt.match(req({ path: '/users/42' }))?.name, 'regex-path');
  t.equal(rt.match(req({ path: '/users/42/x' }))?.name, 'catch-all');
  t.equal(rt.match(req({ path: '/v2/users/42' }))?.name, 'catch-all');
});

t.test('listeners: routes serve only the listeners they name; unknown listener matches nothing', async (t) => {
  const rt = await table();
  t.equal(rt.match(req({ listener: 'internal', path: '/admin/x' }))?.name, 'internal-only');
  t.equal(rt.match(req({ listener: 'public', path: '/admin/x' }))?.name, 'catch-all');
  t.equal(rt.match(req({ listener: 'nope', path: '/' })), null);
  t.same(rt.listeners, ['public', 'internal']);
});

t.test('first match wins in config order; routes lists them all', async (t) => {
  const rt = await table();
  t.same(
    rt.routes.map((r) => r.name),
    ['wild', 'deep-wild', 'exact-host', 'methods', 'header-exact', 'header-regex', 'header-absent', 'query', 'query-present', 'regex-path', 'internal-only', 'api', 'old', 'catch-all'],
  );
  t.same(rt.routes.map((r) => r.index), [...Array(14).keys()]);
  // '/h' with x-env: prod also satisfies nothing earlier; '/hx' with no header: header-absent
  // (prefix /h) comes before catch-all.
  t.equal(rt.match(req({ path: '/hx' }))?.name, 'header-absent');
});

t.test('direct action: status, lowercased headers, body bytes', async (t) => {
  const rt = await table();
  const r = rt.match(req({ host: 'api.example.com', path: '/v1/' }));
  if (r?.action.kind !== 'direct') return t.fail('direct expected');
  t.equal(r.action.status, 201);
  t.same(r.action.headers, ['content-type', 'text/plain', 'x-route', 'exact']);
  t.ok(Buffer.isBuffer(r.action.body));
  t.equal(r.action.body.toString(), 'exact');
  t.ok(Object.isFrozen(r.action.headers));
});

t.test('proxy action: prefix rewrite, header edits, timeout', async (t) => {
  const rt = await table();
  const r = rt.match(req({ path: '/api/users' }));
  if (r?.action.kind !== 'proxy') return t.fail('proxy expected');
  const a = r.action;
  t.equal(a.cluster, 'backend');
  t.equal(a.rewritePath('/api/users'), '/users');
  t.equal(a.rewritePath('/api/'), '/');
  t.same(a.requestHeaders.add, ['x-gw', 'sluice']);
  t.same([...a.requestHeaders.remove], ['x-internal']);
  t.same(a.responseHeaders.add, []);
  t.same([...a.responseHeaders.remove], ['server']);
  t.equal(a.timeoutMs, 5000);
  t.throws(() => (a.requestHeaders.remove as Set<string>).add('x'), TypeError, 'sets are sealed');
});

t.test('proxy action: regex rewrite with \\1..\\9 substitution; no timeout means null', async (t) => {
  const rt = await table();
  const r = rt.match(req({ path: '/old/a/b/c' }));
  if (r?.action.kind !== 'proxy') return t.fail('proxy expected');
  t.equal(r.action.rewritePath('/old/a/b/c'), '/new/b/c/a');
  t.equal(r.action.rewritePath('/elsewhere'), '/elsewhere', 'no match leaves the path');
  t.equal(r.action.timeoutMs, null);
});

t.test('substitution parsing and capture counts', async (t) => {
  t.same(parseSubstitution('/v1/\\1'), ['/v1/', 1]);
  t.same(parseSubstitution('\\2-\\1$1\\\\x'), [2, '-', 1, '$1\\x']);
  t.same(parseSubstitution('tail\\'), ['tail\\']);
  t.equal(captureGroupCount('^/api/(.*)$'), 1);
  t.equal(captureGroupCount('(a)(?:b)(c(d))'), 3);
});

t.test('compiling a spec that skipped validation throws SLUICE_CONFIG_INVALID', async (t) => {
  const err = t.throws(() =>
    RouteTable.compile([{ name: 'bad', match: { path: { regex: '(' } }, direct_response: { status: 200, headers: {}, body: '' } }], ['p']),
  );
  t.ok(isSluiceError(err));
  t.match((err as Error).message, /route 'bad': invalid path regex/);
});

t.test('an empty table matches nothing', async (t) => {
  const rt = RouteTable.compile([], ['public']);
  t.equal(rt.match(req({})), null);
});

t.test('segment index in large buckets keeps first-match order (against a plain ordered scan)', async (t) => {
  // 12 routes: enough for the first-segment index. Mixed kinds: prefixes with a fixed segment,
  // a prefix without one ('/ap' also matches '/apple'), exact paths, a regex, and methods.
  const paths: Array<[string, string]> = [
    ['p-api', 'prefix: /api/'],
    ['p-ap', 'prefix: /ap'],
    ['e-api', 'exact: /api'],
    ['p-api-v2', 'prefix: /api/v2/'],
    ['r-num', 'regex: "/[0-9]+(/.*)?"'],
    ['e-root', 'exact: /'],
    ['p-static', 'prefix: /static/'],
    ['p-s', 'prefix: /s'],
    ['e-static-x', 'exact: /static/x'],
    ['p-img', 'prefix: /img/'],
    ['p-img-post', 'prefix: /img/'],
    ['p-root', 'prefix: /'],
  ];
  const lines = ['listeners: [{ name: p, port: 0 }]', 'routes:'];
  for (const [name, path] of paths) {
    const methods = name === 'p-img-post' ? ', methods: [POST]' : name === 'p-img' ? ', methods: [GET]' : '';
    lines.push(`  - { name: ${name}, match: { path: { ${path} }${methods} }, direct_response: {} }`);
  }
  const r = await parseConfigText(`${lines.join('\n')}\n`, 'seg.yaml');
  if (!r.ok) return t.fail(formatProblems(r.problems));
  const rt = r.snapshot.routes;
  const reference = (method: string, path: string): string | null => {
    for (const [name, spec] of paths) {
      const [kind, raw] = spec.split(': ');
      const value = raw.replace(/^"|"$/g, '');
      const pathOk =
        kind === 'prefix' ? path.startsWith(value) : kind === 'exact' ? path === value : new RegExp(`^(?:${value})$`).test(path);
      const methodOk = name === 'p-img-post' ? method === 'POST' : name === 'p-img' ? method === 'GET' : true;
      if (pathOk && methodOk) return name;
    }
    return null;
  };
  const probes = ['/', '/api', '/api/', '/api/v2/x', '/apple', '/ap', '/12', '/12/x', '/static/x', '/static/y', '/s', '/sx', '/img/a', '/img', '/other', '/x/api/', '*'];
  for (const method of ['GET', 'POST']) {
    for (const path of probes) {
      t.equal(rt.match(req({ listener: 'p', method, path }))?.name ?? null, reference(method, path), `${method} ${path}`);
    }
  }
});
