// `sluice netstat` and `sluice doctor` through the real binary, for what needs no namespace: the
// errors an operator meets when no sluice is reachable or the config names no admin socket, a
// socket that answers with something else, and doctor's report (exit 0 whatever it finds).

import t from 'tap';
import { createServer } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BIN, run } from './harness.js';
import { scratch } from './netns.js';

const sluice = (args: string[]) => run(process.execPath, [BIN, ...args], { timeoutMs: 20_000 });

t.test('sluice netstat: clear errors', async (t) => {
  const dir = await scratch(t);
  const missing = await sluice(['netstat', '--socket', join(dir, 'admin.sock')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /admin socket .*admin\.sock does not exist: is sluice running with admin\.socket set\?/);

  const noArgs = await sluice(['netstat']);
  t.equal(noArgs.code, 2);
  t.match(noArgs.stderr, /--socket PATH, or --config FILE/);

  const both = await sluice(['netstat', '--socket', 'a', '--config', 'b']);
  t.equal(both.code, 2);
  t.match(both.stderr, /either --socket or --config, not both/);

  const cfg = join(dir, 'nosocket.yaml');
  await writeFile(cfg, 'listeners:\n  - { name: a, address: 127.0.0.1, port: 0 }\nroutes:\n  - { name: r, direct_response: { status: 200 } }\n');
  const noSocket = await sluice(['netstat', '--config', cfg]);
  t.equal(noSocket.code, 1);
  t.match(noSocket.stderr, /admin\.socket is not set/);

  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, 'listeners: 5\n');
  const invalid = await sluice(['netstat', '--config', bad]);
  t.equal(invalid.code, 1);
  t.match(invalid.stderr, /bad\.yaml is invalid, so its admin socket is unknown/);
  t.match(invalid.stderr, /bad\.yaml:1:\d+/, 'the problem is located in the file');

  // Relative socket paths are relative to the config file, like the server resolves them.
  const rel = join(dir, 'rel.yaml');
  await writeFile(rel, 'listeners:\n  - { name: a, address: 127.0.0.1, port: 0 }\nroutes:\n  - { name: r, direct_response: { status: 200 } }\nadmin: { socket: here.sock }\n');
  const relMissing = await sluice(['netstat', '--config', rel]);
  t.equal(relMissing.code, 1);
  t.match(relMissing.stderr, new RegExp(`${join(dir, 'here.sock').replace(/[/.]/g, '\\$&')} does not exist`));
});

t.test('sluice netstat: a socket that is not a sluice admin socket', async (t) => {
  const dir = await scratch(t);
  const sock = join(dir, 'other.sock');
  let reply = { status: 200, body: '{"hello":"world"}' };
  const srv = createServer((_req, res) => { res.statusCode = reply.status; res.end(reply.body); });
  await new Promise<void>((r) => srv.listen(sock, () => r()));
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())));
  const shape = await sluice(['netstat', '--socket', sock]);
  t.equal(shape.code, 1);
  t.match(shape.stderr, /\/netstat reply: stacks is not an array/);
  reply = { status: 404, body: '{"error":"not_found"}' };
  const status = await sluice(['netstat', '--socket', sock]);
  t.equal(status.code, 1);
  t.match(status.stderr, /GET \/netstat answered 404/);
  reply = { status: 200, body: '{"stacks":[]}' };
  const empty = await sluice(['netstat', '--socket', sock]);
  t.equal(empty.code, 0);
  t.match(empty.stdout, /no bypass stacks are running/);
  const json = await sluice(['netstat', '--socket', sock, '--json']);
  t.same(JSON.parse(json.stdout), { stacks: [] });
});

t.test('sluice doctor: every backend with availability, reason and fix; exit 0', async (t) => {
  const text = await sluice(['doctor']);
  t.equal(text.code, 0, text.stderr);
  for (const b of ['memory', 'tap', 'dpdk']) t.match(text.stdout, new RegExp(`^${b}\\s+(available|NOT available)$`, 'm'), `${b} line`);
  t.match(text.stdout, /^ {2}reason: /m);
  const json = await sluice(['doctor', '--json']);
  t.equal(json.code, 0);
  const parsed = JSON.parse(json.stdout) as { backends: { backend: string; available: boolean; reason: string; fix: string; checks: unknown[] }[] };
  t.same(parsed.backends.map((b) => b.backend), ['memory', 'tap', 'dpdk']);
  for (const b of parsed.backends) {
    t.ok(b.reason.length > 0, `${b.backend}: reason`);
    if (!b.available) {
      t.ok(b.fix.length > 0, `${b.backend}: a fix when unavailable`);
      t.match(text.stdout, new RegExp(`^${b.backend}\\s+NOT available\\n {2}reason: .*\\n {2}fix: {4}\\S`, 'm'), `${b.backend}: fix printed`);
    }
  }
});
