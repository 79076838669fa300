// Loading valid configs: defaults, resolved paths, the frozen snapshot, versions, cluster hashes,
// the shipped default config, and the problem formatters.
import t from 'tap';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, parseConfigText } from '../../src/config/load.js';
import { formatProblems, problemsToJson, configError, type ConfigProblem } from '../../src/config/problems.js';
import { clusterHash } from '../../src/config/snapshot.js';
import { isSluiceError } from '../../src/errors.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/config/${name}`, import.meta.url));
const DEFAULT_CONFIG = fileURLToPath(new URL('../../config/sluice.yaml', import.meta.url));

t.test('defaults are applied to every omitted key', async (t) => {
  const r = await loadConfig(fixture('minimal.yaml'));
  if (!r.ok) return t.fail(formatProblems(r.problems));
  const s = r.snapshot;
  t.same(s.listeners[0], {
    name: 'plain',
    address: '127.0.0.1',
    port: 8080,
    transport: 'kernel',
    http: {
      max_request_line_bytes: 8192,
      max_header_bytes: 16384,
      max_header_count: 100,
      max_body_bytes: 104857600,
      headers_timeout_ms: 10000,
      idle_timeout_ms: 60000,
      max_requests_per_connection: 0,
    },
  });
  t.equal(s.listeners[0].tls, undefined, 'tls stays absent: plain HTTP');
  t.same(s.config.routes[0], {
    name: 'hello',
    match: { path: { prefix: '/' } },
    direct_response: { status: 200, headers: {}, body: 'hi\n' },
  });
  t.same(s.admin, { address: '127.0.0.1', port: 9901 });
  t.same(s.logging, { level: 'info', access_log: true });
  t.equal(s.drainTimeoutMs, 10000);
  t.same(s.clusters, []);
});

t.test('cluster and TLS defaults', async (t) => {
  const text = [
    'listeners:',
    '  - name: tls',
    '    port: 0',
    '    tls: { certificates: [{ cert: c.pem, key: k.pem, generate: dev }] }',
    'clusters:',
    '  - name: backend',
    '    endpoints: ["127.0.0.1:9000"]',
    '',
  ].join('\n');
  const r = await parseConfigText(text, '/nonexistent-dir/sluice.yaml');
  if (!r.ok) return t.fail(formatProblems(r.problems));
  const { hash, ...cluster } = r.snapshot.clusters[0];
  t.same(cluster, {
    name: 'backend',
    endpoints: ['127.0.0.1:9000'],
    balance: 'round_robin',
    connect_timeout_ms: 2000,
    request_timeout_ms: 30000,
    idle_timeout_ms: 4000,
    max_connections: 64,
  });
  t.match(hash, /^[0-9a-f]{64}$/);
  t.same(r.snapshot.listeners[0].tls, {
    certificates: [{ cert: '/nonexistent-dir/c.pem', key: '/nonexistent-dir/k.pem', generate: 'dev', default: false }],
    alpn: ['http/1.1'],
    min_version: 'TLSv1.2',
    session_tickets: { enabled: true, rotate_seconds: 3600 },
  });
});

t.test('the snapshot is deeply frozen', async (t) => {
  const r = await loadConfig(fixture('minimal.yaml'));
  if (!r.ok) return t.fail(formatProblems(r.problems));
  const s = r.snapshot;
  t.ok(Object.isFrozen(s));
  t.ok(Object.isFrozen(s.listeners));
  t.ok(Object.isFrozen(s.listeners[0]));
  t.ok(Object.isFrozen(s.listeners[0].http));
  t.ok(Object.isFrozen(s.config.routes[0].match.path));
  t.ok(Object.isFrozen(s.routes));
  t.throws(() => {
    (s.listeners[0] as { port: number }).port = 1;
  }, TypeError);
  t.throws(() => {
    (s.admin as { port: number }).port = 1;
  }, TypeError);
});

t.test('version and loadedAt come from the caller; source and paths are absolute', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'sluice.yaml');
  writeFileSync(file, 'listeners: [{ name: p, port: 0 }]\nadmin: { socket: run/admin.sock }\n');
  const r = await loadConfig(file, { version: 7, now: () => 1234 });
  if (!r.ok) return t.fail(formatProblems(r.problems));
  t.equal(r.snapshot.version, 7);
  t.equal(r.snapshot.loadedAt, 1234);
  t.equal(r.snapshot.source, file);
  t.equal(r.snapshot.baseDir, dir);
  t.equal(r.snapshot.admin.socket, join(dir, 'run', 'admin.sock'));
  t.equal(r.snapshot.config.admin.socket, join(dir, 'run', 'admin.sock'));
});

t.test('cluster hashes: equal for equal specs whatever the key order, different otherwise', async (t) => {
  const head = 'listeners: [{ name: p, port: 0 }]\nclusters:\n';
  const a = await parseConfigText(
    `${head}  - { name: a, endpoints: ["h:1"], max_connections: 8 }\n  - { name: b, endpoints: ["h:2"] }\n`,
    'a.yaml',
  );
  const b = await parseConfigText(
    `${head}  - { max_connections: 8, endpoints: ["h:1"], name: a }\n  - { name: b, endpoints: ["h:2"], connect_timeout_ms: 5 }\n`,
    'b.yaml',
    { version: 2 },
  );
  if (!a.ok || !b.ok) return t.fail('configs should load');
  t.equal(a.snapshot.clusters[0].hash, b.snapshot.clusters[0].hash, 'unchanged cluster keeps its hash');
  t.not(a.snapshot.clusters[1].hash, b.snapshot.clusters[1].hash, 'changed cluster gets a new hash');
  t.equal(clusterHash(a.snapshot.clusters[0]), a.snapshot.clusters[0].hash, 'the hash field itself is ignored');
  t.not(a.snapshot.hash, b.snapshot.hash);
});

t.test('the shipped default config loads with the dev certificate missing, and answers "/"', async (t) => {
  // A copy in an empty directory: ../certs/ does not exist there, and generate: dev allows that.
  const dir = t.testdir({ config: {} });
  const file = join(dir, 'config', 'sluice.yaml');
  copyFileSync(DEFAULT_CONFIG, file);
  const r = await loadConfig(file);
  if (!r.ok) return t.fail(formatProblems(r.problems));
  const s = r.snapshot;
  t.equal(s.listeners.length, 1);
  const l = s.listeners[0];
  t.equal(l.name, 'public');
  t.equal(l.address, '127.0.0.1');
  t.equal(l.port, 8443);
  t.same(l.tls?.alpn, ['http/1.1']);
  t.same(l.tls?.certificates, [
    { cert: join(dir, 'certs', 'dev-cert.pem'), key: join(dir, 'certs', 'dev-key.pem'), generate: 'dev', default: true },
  ]);
  t.same(s.admin, { address: '127.0.0.1', port: 9901 });
  const route = s.routes.match({ listener: 'public', method: 'GET', host: 'localhost:8443', path: '/', query: '', headers: [] });
  t.equal(route?.name, 'demo');
  if (route?.action.kind !== 'direct') return t.fail('demo is a direct response');
  t.equal(route.action.status, 200);
  t.match(route.action.body.toString('utf8'), /Sluice/);
  t.same(route.action.headers, ['content-type', 'application/json']);
  t.same(JSON.parse(route.action.body.toString('utf8')).service, 'sluice');
});

t.test('the default config in place also validates (certs may or may not exist yet)', async (t) => {
  const r = await loadConfig(DEFAULT_CONFIG);
  t.equal(r.ok, true, r.ok ? 'loads' : formatProblems(r.problems));
});

t.test('unreadable and empty config files', async (t) => {
  const dir = t.testdir({ 'empty.yaml': '# nothing here\n' });
  const missing = join(dir, 'missing.yaml');
  const r1 = await loadConfig(missing);
  t.same(r1, {
    ok: false,
    problems: [{ file: missing, line: 0, column: 0, path: '', message: 'cannot read config: ENOENT: no such file or directory' }],
  });
  const empty = join(dir, 'empty.yaml');
  const r2 = await loadConfig(empty);
  t.same(r2, { ok: false, problems: [{ file: empty, line: 0, column: 0, path: '', message: 'config is empty' }] });
  const r3 = await parseConfigText('- a\n- b\n', 'list.yaml');
  t.same(r3.ok ? [] : r3.problems, [{ file: 'list.yaml', line: 1, column: 1, path: '', message: 'expected a map, got a list' }]);
  const r4 = await parseConfigText('routes: []\n', 'nolisteners.yaml');
  t.same(r4.ok ? [] : r4.problems, [
    { file: 'nolisteners.yaml', line: 1, column: 1, path: '', message: "missing required key 'listeners'" },
  ]);
});

t.test('formatters: one line per problem for humans, JSON for machines, SluiceError for callers', async (t) => {
  const problems: ConfigProblem[] = [
    { file: 'a.yaml', line: 3, column: 11, path: 'listeners[0].port', message: "expected integer 0..65535, got 'abc'" },
    { file: 'a.yaml', line: 0, column: 0, path: '', message: 'config is empty' },
    { file: 'a.yaml', line: 2, column: 5, path: 'x.add["bad name"]', message: 'm' },
  ];
  t.equal(
    formatProblems(problems),
    "a.yaml:3:11: listeners[0].port: expected integer 0..65535, got 'abc'\na.yaml: config is empty\na.yaml:2:5: x.add[\"bad name\"]: m",
  );
  t.same(JSON.parse(problemsToJson(problems)), problems);
  const err = configError(problems);
  t.ok(isSluiceError(err));
  t.equal(err.code, 'SLUICE_CONFIG_INVALID');
  t.equal(err.message, "a.yaml:3:11: listeners[0].port: expected integer 0..65535, got 'abc' (and 2 more)");
  t.same(err.detail.problems, problems);
});

t.test('schema problems and semantic problems are reported together', async (t) => {
  const text = [
    'listeners:',
    '  - { name: a, port: 1 }',
    '  - { name: a, port: x }',
    'routes:',
    '  - { name: r, proxy: { cluster: none } }',
    '',
  ].join('\n');
  const r = await parseConfigText(text, 'mixed.yaml');
  t.same(r.ok ? [] : r.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`), [
    "3:13 listeners[1].name: duplicate listener name 'a' (first defined at listeners[0], line 2)",
    "3:22 listeners[1].port: expected integer 0..65535, got 'x'",
    "5:34 routes[0].proxy.cluster: cluster 'none' is not defined (no clusters are defined)",
  ]);
});

t.test('YAML anchors and aliases resolve, and errors inside them still get a position', async (t) => {
  const text = ['x-limits: &limits { max_header_count: 0 }', 'listeners:', '  - { name: a, port: 1, http: *limits }', ''].join('\n');
  const r = await parseConfigText(text, 'alias.yaml');
  t.same(r.ok ? [] : r.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`), [
    "1:1 x-limits: unknown key 'x-limits' (allowed: listeners, routes, clusters, admin, logging, dpdk, drain_timeout_ms)",
    '1:39 listeners[0].http.max_header_count: expected integer 1..10000, got 0',
  ]);
});
