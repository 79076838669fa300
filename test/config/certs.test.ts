// Certificate checks at load time, on real PEM files made with the openssl CLI: unreadable
// files (path and errno), unparseable PEM, key/certificate mismatch, and generate: dev.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/config/${name}`, import.meta.url));

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore', timeout: 20_000 });
}

function makePair(dir: string, cert: string, key: string): void {
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, key), '-out', join(dir, cert), '-days', '1', '-subj', '/CN=localhost',
  ]);
}

t.test('unreadable, unparseable and mismatched certificates are each reported', async (t) => {
  const dir = t.testdir({});
  makePair(dir, 'good-cert.pem', 'good-key.pem');
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', join(dir, 'other-key.pem')]);
  writeFileSync(join(dir, 'garbage.pem'), 'this is not PEM\n');
  copyFileSync(join(dir, 'good-cert.pem'), join(dir, 'only-cert.pem'));
  const file = join(dir, 'sluice.yaml');
  copyFileSync(fixture('certs.yaml'), file);

  const r = await loadConfig(file);
  t.equal(r.ok, false);
  if (r.ok) return;
  const got = r.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`);
  const cert0 = 'listeners[0].tls.certificates';
  t.equal(got.length, 5, got.join('\n'));
  t.equal(got[0], `11:16 ${cert0}[1].key: private key '${join(dir, 'other-key.pem')}' does not match certificate '${join(dir, 'good-cert.pem')}'`);
  t.equal(got[1], `12:17 ${cert0}[2].cert: cannot read certificate '${join(dir, 'missing-cert.pem')}': ENOENT: no such file or directory`);
  t.match(got[2], new RegExp(`^14:17 ${cert0.replace(/[[\].]/g, '\\$&')}\\[3\\]\\.cert: '${join(dir, 'garbage.pem')}' is not a PEM X\\.509 certificate: `));
  t.match(got[3], new RegExp(`^15:16 ${cert0.replace(/[[\].]/g, '\\$&')}\\[3\\]\\.key: '${join(dir, 'garbage.pem')}' is not a PEM private key: `));
  t.equal(
    got[4],
    `17:16 ${cert0}[4].key: cannot read private key '${join(dir, 'no-such-key.pem')}': ENOENT: no such file or directory (generate: dev creates the pair only when both files are missing)`,
  );
});

t.test('a matching pair loads and its paths are resolved against the config directory', async (t) => {
  const dir = t.testdir({ conf: {} });
  makePair(dir, 'cert.pem', 'key.pem');
  const file = join(dir, 'conf', 'sluice.yaml');
  writeFileSync(
    file,
    ['listeners:', '  - name: public', '    port: 0', '    tls:', '      certificates:', '        - { cert: ../cert.pem, key: ../key.pem }', ''].join('\n'),
  );
  const r = await loadConfig(file);
  t.equal(r.ok, true, r.ok ? '' : JSON.stringify(r.problems));
  if (!r.ok) return;
  const c = r.snapshot.listeners[0].tls?.certificates[0];
  t.equal(c?.cert, join(dir, 'cert.pem'));
  t.equal(c?.key, join(dir, 'key.pem'));
  t.equal(c?.default, false);
});

t.test('an unreadable path that is a directory reports EISDIR', async (t) => {
  const dir = t.testdir({ 'a-dir': {} });
  makePair(dir, 'cert.pem', 'key.pem');
  const file = join(dir, 'sluice.yaml');
  writeFileSync(file, 'listeners:\n  - name: p\n    port: 0\n    tls: { certificates: [{ cert: a-dir, key: key.pem }] }\n');
  const r = await loadConfig(file);
  t.equal(r.ok, false);
  if (r.ok) return;
  t.same(
    r.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`),
    [`4:35 listeners[0].tls.certificates[0].cert: cannot read certificate '${join(dir, 'a-dir')}': EISDIR: is a directory`],
  );
});
