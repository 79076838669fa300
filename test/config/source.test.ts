// The live config source: versions only grow, a bad file never replaces a good snapshot, and a
// watched file reloads when an editor-style rename replaces it.
import t from 'tap';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigSource, type ReloadOutcome } from '../../src/config/source.js';

const config = (body: string): string => `listeners: [{ name: p, port: 0 }]\nroutes:\n  - { name: r, direct_response: { body: ${body} } }\n`;

function bodyOf(src: ConfigSource): string | undefined {
  const r = src.current?.routes.match({ listener: 'p', method: 'GET', host: 'h', path: '/', query: '', headers: [] });
  return r?.action.kind === 'direct' ? r.action.body.toString() : undefined;
}

t.test('reloads bump the version; a rejected file keeps the current snapshot', async (t) => {
  const dir = t.testdir({ 'sluice.yaml': config('one') });
  const file = join(dir, 'sluice.yaml');
  const seen: ReloadOutcome[] = [];
  const src = new ConfigSource(file, { now: () => 42, onLoad: (o) => seen.push(o) });
  t.equal(src.current, null);

  const first = await src.load();
  t.equal(first.ok, true);
  t.equal(first.version, 1);
  t.equal(src.current?.loadedAt, 42);
  t.equal(bodyOf(src), 'one');

  writeFileSync(file, 'listeners: [{ name: p, port: nope }]\n');
  const bad = await src.load();
  t.equal(bad.ok, false);
  t.equal(bad.version, 1, 'the version in force is unchanged');
  t.same(
    bad.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`),
    ["1:30 listeners[0].port: expected integer 0..65535, got 'nope'"],
  );
  t.equal(src.current, first.snapshot, 'the good snapshot stays');

  writeFileSync(file, config('two'));
  const good = await src.load();
  t.equal(good.version, 2, 'a rejected attempt does not use up a version');
  t.equal(bodyOf(src), 'two');

  const both = await Promise.all([src.load(), src.load()]);
  t.same(both.map((o) => o.version), [3, 4], 'concurrent loads are serialised in call order');
  t.equal(src.current?.version, 4);
  t.same(seen.map((o) => o.ok), [true, false, true, true, true]);
});

t.test('a missing file is a problem, not an exception', async (t) => {
  const dir = t.testdir({});
  const src = new ConfigSource(join(dir, 'absent.yaml'));
  const o = await src.load();
  t.equal(o.ok, false);
  t.equal(o.snapshot, null);
  t.match(o.problems[0]?.message, /^cannot read config: ENOENT/);
});

t.test('watch reloads when the file is replaced by rename, and ignores identical content', async (t) => {
  const dir = t.testdir({ 'sluice.yaml': config('before'), 'other.txt': 'x' });
  const file = join(dir, 'sluice.yaml');
  const loads: ReloadOutcome[] = [];
  const src = new ConfigSource(file, { onLoad: (o) => loads.push(o) });
  await src.load();
  const stop = src.watch(20);
  t.teardown(stop);

  const waitFor = async (cond: () => boolean, ms: number): Promise<boolean> => {
    const end = Date.now() + ms;
    while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    return cond();
  };

  // Same content rewritten and an unrelated file touched: no reload.
  writeFileSync(file, config('before'));
  writeFileSync(join(dir, 'other.txt'), 'y');
  await new Promise((r) => setTimeout(r, 200));
  t.equal(loads.length, 1, 'no reload for identical content or other files');

  writeFileSync(join(dir, '.sluice.yaml.tmp'), config('after'));
  renameSync(join(dir, '.sluice.yaml.tmp'), file);
  t.ok(await waitFor(() => loads.length === 2, 5000), 'reloaded after the rename');
  t.equal(bodyOf(src), 'after');
  t.equal(src.current?.version, 2);
});
