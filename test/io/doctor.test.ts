import t from 'tap';
import { execFileSync } from 'node:child_process';
import { checkBackends, hasCapNetAdmin, type BackendStatus } from '../../src/io/doctor.js';
import { loadNative } from '../../src/io/native.js';

const byName = (list: BackendStatus[], name: string): BackendStatus => list.find((s) => s.backend === name)!;
const isRoot = process.getuid?.() === 0;

t.test('reports memory, tap and dpdk in order, each with a reason', async (t) => {
  const list = checkBackends();
  t.same(
    list.map((s) => s.backend),
    ['memory', 'tap', 'dpdk'],
  );
  for (const s of list) {
    t.ok(s.reason.length > 0, `${s.backend}: ${s.reason}`);
    t.equal(s.available, s.checks.every((c) => c.ok), `${s.backend}: available iff every check passed`);
    t.equal(s.fix === '', s.available, `${s.backend}: a fix exactly when unavailable`);
  }
  t.equal(byName(list, 'memory').available, true);
});

t.test('tap is available as root with /dev/net/tun and the addon built', { skip: isRoot ? false : 'needs root' }, async (t) => {
  const tap = byName(checkBackends(), 'tap');
  t.equal(tap.available, true, tap.reason);
  t.same(
    tap.checks.map((c) => c.name),
    ['addon', '/dev/net/tun', 'CAP_NET_ADMIN'],
  );
});

t.test('dpdk: available when the addon has its dpdk port and privileges suffice; otherwise the missing piece and its fix', async (t) => {
  const built = loadNative().features.dpdk;
  const dpdk = byName(checkBackends(), 'dpdk');
  t.match(dpdk.reason, /pkg-config --exists libdpdk: (yes \(libdpdk [\d.]+\)|no)/);
  t.same(dpdk.checks.map((c) => c.name), built ? ['addon dpdk port', 'libdpdk', 'privileges', 'hugepages'] : ['libdpdk', 'addon dpdk port', 'privileges', 'hugepages']);
  if (built) {
    t.match(dpdk.reason, /the addon was built with the dpdk port \(DPDK \d+\.\d+/);
    t.equal(dpdk.available, isRoot, isRoot ? 'root: available' : 'unprivileged: not available');
    if (isRoot) t.equal(dpdk.fix, '');
  } else {
    t.equal(dpdk.available, false);
    t.match(dpdk.reason, /the addon was built without its dpdk port/);
    t.match(dpdk.fix, /rebuild the addon: bash native\/build.sh/);
  }
  const saved = process.env.PKG_CONFIG_LIBDIR;
  process.env.PKG_CONFIG_LIBDIR = '/nonexistent';
  try {
    const absent = byName(checkBackends(), 'dpdk');
    t.match(absent.reason, /pkg-config --exists libdpdk: no \(libdpdk-dev is not installed\)/);
    if (built) t.equal(absent.available, dpdk.available, 'a built addon links libdpdk itself: pkg-config is informational');
    else t.match(absent.fix, /apt-get install libdpdk-dev pkg-config/);
  } finally {
    if (saved === undefined) delete process.env.PKG_CONFIG_LIBDIR;
    else process.env.PKG_CONFIG_LIBDIR = saved;
  }
});

t.test('CAP_NET_ADMIN is read from CapEff bit 12', async (t) => {
  t.same(hasCapNetAdmin('Name:\tnode\nCapEff:\t000001fffeffffff\n'), { ok: true, detail: 'CAP_NET_ADMIN is in the effective set' });
  t.same(hasCapNetAdmin('CapEff:\t0000000000000000\n'), { ok: false, detail: 'CAP_NET_ADMIN is missing (CapEff 0000000000000000)' });
  t.equal(hasCapNetAdmin('CapEff:\t0000000000001000\n').ok, true, 'exactly bit 12');
  t.equal(hasCapNetAdmin('CapEff:\t0000000000000800\n').ok, false, 'bit 11 is CAP_NET_BROADCAST');
  t.equal(hasCapNetAdmin('nothing here').ok, false);
});

t.test('an unprivileged process is told why tap is unavailable and how to fix it', { skip: isRoot ? false : 'needs root to drop privileges' }, async (t) => {
  const out = execFileSync(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', '-i', `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, 'HOME=/tmp', process.execPath, '--import=tsx', '-e', `import('./src/io/doctor.ts').then(m=>console.log(JSON.stringify(m.checkBackends())))`],
    { encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp' } },
  );
  const tap = byName(JSON.parse(out.trim().split('\n').pop()!) as BackendStatus[], 'tap');
  t.equal(tap.available, false);
  t.match(tap.reason, /CAP_NET_ADMIN is missing/);
  t.match(tap.fix, /run as root or grant the capability: setcap cap_net_admin\+ep/);
});
