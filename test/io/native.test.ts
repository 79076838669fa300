import t from 'tap';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonPath, loadNative, toSluiceError } from '../../src/io/native.js';
import { SluiceError } from '../../src/errors.js';

t.test('the built addon loads and describes itself', async (t) => {
  const addon = loadNative();
  t.equal(loadNative(), addon, 'loaded once');
  t.match(addonPath(), /native\/build\/Release\/sluice_native\.node$/);
  t.same(Object.keys(addon.features).sort(), ['checksumOffload', 'dpdk', 'fdWaiter', 'libdpdkAtBuild', 'tap', 'xdp']);
  t.equal(addon.features.checksumOffload, true);
  t.equal(addon.features.tap, true);
  // The dpdk port and the XDP loader are compiled in exactly when pkg-config found their library.
  t.equal(addon.features.dpdk, addon.features.libdpdkAtBuild);
  let libbpf = true;
  try {
    execFileSync('pkg-config', ['--exists', 'libbpf']);
  } catch {
    libbpf = false;
  }
  t.equal(addon.features.xdp, libbpf);
});

t.test('native argument errors name the argument', async (t) => {
  const addon = loadNative();
  const data = new Uint8Array(64);
  const lengths = new Uint32Array(1);
  t.throws(() => addon.tapRxBurst(0, data, lengths, 2048, 1), { code: 'SLUICE_PORT_CONFIG', message: /batch too small: capacity 1 x slotSize 2048 needs 2048 data bytes/ });
  t.throws(() => addon.tapRxBurst(0, new Uint16Array(4) as unknown as Uint8Array, lengths, 1, 1), { code: 'SLUICE_PORT_CONFIG', message: "argument 'data' must be a Uint8Array" });
  t.throws(() => addon.tapTxBurst(-1, data, lengths, 1, 64), { code: 'SLUICE_PORT_CONFIG', message: /argument 'fd' must be an integer in \[0, / });
  t.throws(() => addon.tapRxBurst(0, data, lengths, 64, 1, new Uint32Array(1)), { code: 'SLUICE_PORT_CONFIG', message: "argument 'stats' must have at least 2 elements" });
  t.throws(() => addon.tapOpen('sluice-t%d', 20), { code: 'SLUICE_PORT_CONFIG', message: /'mtu' must be 0 \(kernel default\) or >= 68/ });
});

t.test('a native errno error becomes a SluiceError with errno, name and syscall', async (t) => {
  const addon = loadNative();
  let caught: unknown;
  try {
    // fd 2**30 is never open: read() fails with EBADF
    addon.tapRxBurst(2 ** 30, new Uint8Array(64), new Uint32Array(1), 64, 1);
  } catch (e) {
    caught = e;
  }
  const e = toSluiceError(caught, 'SLUICE_TAP_IO', 'tap x rx');
  t.type(e, SluiceError);
  t.equal(e.code, 'SLUICE_TAP_IO');
  t.equal(e.message, 'tap x rx: read: Bad file descriptor (EBADF)');
  t.same(e.detail, { errno: 9, errnoName: 'EBADF', syscall: 'read' });
  t.equal(e.cause, caught);
});

t.test('without a build, loading says exactly how to build the addon', async (t) => {
  // A copy of src/ whose native/ has binding.gyp but no build output.
  const dir = mkdtempSync(join(tmpdir(), 'sluice-native-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(new URL('../../src/io', import.meta.url), join(dir, 'src', 'io'), { recursive: true });
  cpSync(new URL('../../src/errors.ts', import.meta.url), join(dir, 'src', 'errors.ts'));
  mkdirSync(join(dir, 'native'));
  writeFileSync(join(dir, 'native', 'binding.gyp'), '{}');
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  const script = `import('${join(dir, 'src', 'io', 'native.ts')}').then(m=>{try{m.loadNative()}catch(e){console.log(JSON.stringify({code:e.code,message:e.message,detail:e.detail}))}})`;
  const out = execFileSync(process.execPath, ['--import=tsx', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  const got = JSON.parse(out.trim().split('\n').pop()!) as { code: string; message: string; detail: { path: string; fix: string } };
  t.equal(got.code, 'SLUICE_NATIVE_MISSING');
  t.equal(got.detail.path, join(dir, 'native', 'build', 'Release', 'sluice_native.node'));
  t.equal(got.detail.fix, 'bash native/build.sh');
  t.match(got.message, /native addon not built: .*sluice_native\.node does not exist; build it with 'bash native\/build\.sh'/);
});
