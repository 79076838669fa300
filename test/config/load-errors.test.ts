// Every class of config problem, each asserted at its exact line:column and YAML path, from the
// YAML fixtures in test/fixtures/config/.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/config/${name}`, import.meta.url));

/** Problems as 'line:column path: message' lines (the file is checked separately). */
async function problemsOf(name: string): Promise<string[]> {
  const file = fixture(name);
  const r = await loadConfig(file);
  if (r.ok) throw new Error(`${name} unexpectedly loaded`);
  for (const p of r.problems) if (p.file !== file) throw new Error(`problem names ${p.file}, not ${file}`);
  return r.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`);
}

t.test('YAML syntax error is reported at its position', async (t) => {
  t.same(await problemsOf('yaml-syntax.yaml'), [
    '7:5 routes[0].direct_response: YAML: Flow map in block collection must be sufficiently indented and end with a }',
  ]);
});

t.test('duplicate YAML key is a syntax error at the second key', async (t) => {
  t.same(await problemsOf('yaml-duplicate-key.yaml'), ['4:5 listeners[0].port: YAML: Map keys must be unique']);
});

t.test('an unclosed quote is reported where it opened, not at the end of the file', async (t) => {
  t.same(await problemsOf('yaml-multiline-error.yaml'), ['5:11 routes[0].name: YAML: Missing closing "quote']);
});

t.test('schema errors: all reported, each with position, path and what was expected', async (t) => {
  t.same(await problemsOf('schema-errors.yaml'), [
    "3:11 listeners[0].port: expected integer 0..65535, got 'abc'",
    "4:16 listeners[0].transport: expected one of kernel, tap, dpdk, got 'fast'",
    '6:11 listeners[1].port: expected integer 0..65535, got 70000',
    '7:31 listeners[1].http.max_header_count: expected integer 1..10000, got 0',
    "7:34 listeners[1].http.colour: unknown key 'colour' (allowed: max_request_line_bytes, max_header_bytes, max_header_count, max_body_bytes, headers_timeout_ms, idle_timeout_ms, max_requests_per_connection)",
    '11:13 routes[0].match.path: expected exactly one of prefix, exact, regex',
    "11:15 routes[0].match.path.pathh: unknown key 'pathh' (allowed: prefix, exact, regex)",
    "12:22 routes[0].match.methods[1]: duplicate item 'GET' (same as item 0)",
    '14:5 routes[1]: only one of proxy, direct_response is allowed, got proxy and direct_response',
    '17:5 routes[2]: expected exactly one of proxy, direct_response',
    '18:24 routes[2].match.headers[0]: expected exactly one of exact, regex, present',
    "19:11 routes[3].name: expected a name of letters, digits, '_', '.', '-' starting with a letter or digit, got 'bad name'",
    "22:18 routes[3].proxy.rewrite.regex: 'regex' needs 'substitution' beside it",
    '25:17 clusters[0].endpoints[0]: expected a non-empty string',
    "26:22 admin.sockett: unknown key 'sockett' (allowed: address, port, socket); did you mean 'socket'?",
    '27:1 drain_timeout_ms: expected integer 0..600000, got nothing (empty value)',
  ]);
});

t.test('duplicate listener, route and cluster names point at the second name', async (t) => {
  t.same(await problemsOf('duplicate-names.yaml'), [
    "4:11 listeners[1].name: duplicate listener name 'public' (first defined at listeners[0], line 2)",
    "9:11 routes[1].name: duplicate route name 'r' (first defined at routes[0], line 7)",
    "14:11 clusters[1].name: duplicate cluster name 'c' (first defined at clusters[0], line 12)",
  ]);
});

t.test('routes referencing undefined listeners and clusters', async (t) => {
  t.same(await problemsOf('undefined-refs.yaml'), [
    "6:25 routes[0].listeners[1]: listener 'internal' is not defined (listeners: public)",
    "7:23 routes[0].proxy.cluster: cluster 'backend' is not defined (clusters: other)",
  ]);
});

t.test('invalid regexes carry the RegExp error; substitutions only use existing groups', async (t) => {
  t.same(await problemsOf('bad-regex.yaml'), [
    '7:22 routes[0].match.path.regex: Invalid regular expression: //users/([0-9+/: Unterminated character class',
    '9:33 routes[0].match.headers[0].regex: Invalid regular expression: /(prod/: Unterminated group',
    '11:29 routes[0].match.query[0].regex: Invalid regular expression: /*/: Nothing to repeat',
    '17:54 routes[1].proxy.rewrite.substitution: \\2 refers to a capture group the regex does not have (it has 1)',
    '21:25 routes[2].proxy.rewrite.regex: Invalid regular expression: /[z-a]/: Range out of order in character class',
  ]);
});

t.test('two default certificates on one listener (missing dev certs are not an error)', async (t) => {
  t.same(await problemsOf('two-defaults.yaml'), [
    '7:71 listeners[0].tls.certificates[1].default: only one certificate per listener may be the default (certificates[0] already is)',
  ]);
});

t.test('duplicate or overlapping listener address:port, including the admin port; port 0 never clashes', async (t) => {
  t.same(await problemsOf('duplicate-address.yaml'), [
    "7:11 listeners[1].port: address 127.0.0.1:8443 is already used by listener 'a' (line 4)",
    "19:11 listeners[5].port: address 0.0.0.0:8443 overlaps 127.0.0.1:8443 of listener 'a' (line 4)",
    "25:11 listeners[7].port: address 127.0.0.2:7000 overlaps [::]:7000 of listener 'g' (line 22)",
    "31:9 admin.port: address 127.0.0.1:8443 is already used by listener 'a' (line 4)",
  ]);
});

t.test('endpoint syntax: host:port, [IPv6]:port, port range', async (t) => {
  t.same(await problemsOf('endpoints.yaml'), [
    "10:9 clusters[0].endpoints[3]: invalid endpoint: expected host:port, got '127.0.0.1' (missing port)",
    "11:9 clusters[0].endpoints[4]: invalid endpoint: IPv6 addresses need brackets: '[::1]:80'",
    '12:9 clusters[0].endpoints[5]: invalid endpoint: port 99999 is outside 1..65535',
    "13:9 clusters[0].endpoints[6]: invalid endpoint: 'bad_host' is not an IPv4 address or host name",
    "14:9 clusters[0].endpoints[7]: invalid endpoint: port 'http' is not a number 1..65535",
  ]);
});

t.test('rewrite.prefix needs a prefix path match', async (t) => {
  t.same(await problemsOf('rewrite-prefix.yaml'), [
    '9:26 routes[0].proxy.rewrite.prefix: rewrite.prefix replaces the matched prefix, so match.path must be a prefix',
  ]);
});

t.test('route hosts: no ports, bracketed IPv6, wildcard only as the first label', async (t) => {
  t.same(await problemsOf('hosts.yaml'), [
    "10:11 routes[0].match.hosts[2]: routes match hosts without the port: use 'localhost'",
    "11:11 routes[0].match.hosts[3]: IPv6 hosts need brackets: '[::1]'",
    "12:11 routes[0].match.hosts[4]: 'a.*.com': '*' is only allowed as the first label ('*.example.com')",
  ]);
});

t.test('a route after an identical catch-all is not an error', async (t) => {
  const r = await loadConfig(fixture('catch-all-twice.yaml'));
  t.equal(r.ok, true);
});

t.test('header edits: framing and connection fields cannot be configured; names must be tokens', async (t) => {
  t.same(await problemsOf('framing-headers.yaml'), [
    "7:18 routes[0].direct_response.headers.Content-Length: 'Content-Length' is set by Sluice for each connection and cannot be configured",
    "12:33 routes[1].proxy.request_headers.add.connection: 'connection' is set by Sluice for each connection and cannot be configured",
    "12:63 routes[1].proxy.request_headers.remove[0]: 'bad header' is not a valid header name (RFC 9110 token)",
    "13:34 routes[1].proxy.response_headers.add.Transfer-Encoding: 'Transfer-Encoding' is set by Sluice for each connection and cannot be configured",
  ]);
});
