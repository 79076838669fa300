// Control plane end to end: validate's exit codes and positions, reload under traffic with zero
// failed requests, a rejected reload that keeps the old config serving, and SIGTERM drain.

import t from 'tap';
import { createServer } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request as undiciRequest, Agent } from 'undici';
import { startSluice, tempDir, run, BIN, ROOT } from './harness.js';

const config = (body: string, extra = '') => `
listeners:
  - { name: web, address: 127.0.0.1, port: 0 }
routes:
  - name: hello
    match: { path: { prefix: / } }
    direct_response: { status: 200, body: "${body}" }
${extra}
admin: { address: 127.0.0.1, port: 0 }
logging: { level: info, access_log: false }
drain_timeout_ms: 5000
`;

t.test('validate: ok exits 0; every problem listed as file:line:column with its path; --json', async (t) => {
  const ok = await run(process.execPath, [BIN, 'validate', '--config', join(ROOT, 'config', 'sluice.yaml')]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /ok/);
  const dir = await tempDir();
  t.teardown(() => run('rm', ['-rf', dir]));
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, `listeners:
  - name: web
    address: 127.0.0.1
    port: 99999
routes:
  - name: r
    match: { path: { prefixx: / } }
    proxy: { cluster: nowhere }
`);
  const r = await run(process.execPath, [BIN, 'validate', '--config', bad]);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:11: listeners\\[0\\]\\.port`));
  t.match(r.stderr, /routes\[0\]\.match\.path/);
  t.match(r.stderr, /prefixx/);
  const j = await run(process.execPath, [BIN, 'validate', '--json', '--config', bad]);
  t.equal(j.code, 1);
  const parsed = JSON.parse(j.stdout) as { problems: { line: number; path: string }[] } | { line: number; path: string }[];
  const list = Array.isArray(parsed) ? parsed : parsed.problems;
  t.ok(list.some((p) => p.path === 'listeners[0].port' && p.line === 4));
});

t.test('reload under traffic: zero failed requests, new config serves, invalid reload keeps the old', async (t) => {
  const sluice = await startSluice(config('v1'));
  t.teardown(() => sluice.stop());
  const url = `http://127.0.0.1:${sluice.ports.get('web')}/`;
  const agent = new Agent({ connections: 8 });
  t.teardown(() => agent.close());
  let failures = 0;
  let done = 0;
  const bodies = new Set<string>();
  let stop = false;
  const worker = async () => {
    while (!stop && done < 20000) {
      try {
        const r = await undiciRequest(url, { dispatcher: agent });
        const b = await r.body.text();
        if (r.statusCode !== 200) failures++;
        bodies.add(b);
      } catch {
        failures++;
      }
      done++;
    }
  };
  const workers = Array.from({ length: 8 }, worker);
  for (let v = 2; v <= 4; v++) {
    await new Promise((r) => setTimeout(r, 300));
    await writeFile(sluice.configPath, config(`v${v}`));
    sluice.proc.kill('SIGHUP');
    // Both the signal and the file watch reload; wait until the new body is served.
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline) {
      const r = await undiciRequest(url, { dispatcher: agent });
      if ((await r.body.text()) === `v${v}`) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  // An invalid config: rejected, logged with its problems, v4 keeps serving.
  await writeFile(sluice.configPath, config('v5').replace('port: 0', 'port: -1'));
  sluice.proc.kill('SIGHUP');
  const rejected = await sluice.waitLog((l) => l.msg.startsWith('config reload rejected'), 10000);
  const reloads = await undiciRequest(`http://127.0.0.1:${sluice.ports.get('admin')}/metrics`);
  t.match(await reloads.body.text(), /sluice_config_reloads_total\{result="invalid"\} [1-9]/);
  t.match(JSON.stringify(rejected.problems), /listeners\[0\]\.port/);
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(workers);
  t.equal(failures, 0, `no failed requests out of ${done}`);
  t.ok(bodies.has('v1') && bodies.has('v4'), `served old and new versions: ${[...bodies].join(',')}`);
  t.notOk(bodies.has('v5'), 'the invalid config never served');
  const last = await undiciRequest(url, { dispatcher: agent });
  t.equal(await last.body.text(), 'v4');
});

t.test('SIGTERM drains: in-flight request finishes, new connections refused, exit 0', async (t) => {
  let release: () => void = () => undefined;
  const slow = createServer((_req, res) => {
    release = () => res.end('slow done');
  });
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => slow.close());
  const upPort = (slow.address() as { port: number }).port;
  const sluice = await startSluice(config('x', `clusters:\n  - { name: slow, endpoints: ["127.0.0.1:${upPort}"] }\n`).replace(
    'routes:\n',
    'routes:\n  - { name: slow, match: { path: { prefix: /slow } }, proxy: { cluster: slow } }\n',
  ));
  const port = sluice.ports.get('web');
  const inflight = undiciRequest(`http://127.0.0.1:${port}/slow`);
  await new Promise((r) => setTimeout(r, 300));
  sluice.proc.kill('SIGTERM');
  await sluice.waitLog((l) => l.msg === 'draining');
  await new Promise((r) => setTimeout(r, 200));
  const refused = await undiciRequest(`http://127.0.0.1:${port}/`).then(() => 'accepted', (e: NodeJS.ErrnoException) => e.code ?? 'error');
  t.equal(refused, 'ECONNREFUSED', 'listener closed while draining');
  release();
  const r = await inflight;
  t.equal(r.statusCode, 200);
  t.equal(await r.body.text(), 'slow done');
  const exit = await sluice.stop();
  t.equal(exit.code, 0);
});

t.test('http.max_body_bytes: 0 means no limit; a positive limit answers 413', async (t) => {
  const sluice = await startSluice(`
listeners:
  - { name: open, address: 127.0.0.1, port: 0, http: { max_body_bytes: 0 } }
  - { name: tight, address: 127.0.0.1, port: 0, http: { max_body_bytes: 1000 } }
routes:
  - name: sink
    match: { path: { prefix: / } }
    direct_response: { status: 200, body: "ok" }
admin: { address: 127.0.0.1, port: 0 }
logging: { level: info, access_log: false }
`);
  t.teardown(() => sluice.stop());
  const body = Buffer.alloc(2 * 1024 * 1024, 0x61);
  const open = await undiciRequest(`http://127.0.0.1:${sluice.ports.get('open')}/`, { method: 'POST', body });
  t.equal(open.statusCode, 200, 'a 2 MiB body passes with no limit');
  await open.body.text();
  const tight = await undiciRequest(`http://127.0.0.1:${sluice.ports.get('tight')}/`, { method: 'POST', body: Buffer.alloc(2000, 0x61) });
  t.equal(tight.statusCode, 413, 'over the limit: 413');
  await tight.body.text();
});
