// `sluice doctor` for packet I/O: which port backends this machine can run, and for each one that
// cannot, the reason and the fix. Checks are read-only: nothing is created (no TAP device).

import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { addonPath, BUILD_COMMAND, nativeAvailable } from './native.js';
import type { PortBackend } from './port.js';

export interface BackendStatus {
  backend: PortBackend;
  available: boolean;
  /** Why it is (not) available, one sentence per finding. */
  reason: string;
  /** What to do to make it available; empty when available. */
  fix: string;
  /** The individual findings, for `sluice doctor --json`. */
  checks: BackendCheck[];
}

export interface BackendCheck {
  name: string;
  ok: boolean;
  detail: string;
}

const CAP_NET_ADMIN = 12;

/** Whether the effective capability set holds CAP_NET_ADMIN (/proc/self/status CapEff). */
export function hasCapNetAdmin(statusText?: string): { ok: boolean; detail: string } {
  let text = statusText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/status', 'utf8');
    } catch (e) {
      return { ok: false, detail: `cannot read /proc/self/status: ${(e as Error).message}` };
    }
  }
  const m = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(text);
  if (!m) return { ok: false, detail: 'no CapEff line in /proc/self/status' };
  const eff = BigInt(`0x${m[1]}`);
  const ok = ((eff >> BigInt(CAP_NET_ADMIN)) & 1n) === 1n;
  return { ok, detail: ok ? 'CAP_NET_ADMIN is in the effective set' : `CAP_NET_ADMIN is missing (CapEff ${m[1]})` };
}

function check(name: string, ok: boolean, detail: string): BackendCheck {
  return { name, ok, detail };
}

function memoryStatus(): BackendStatus {
  return {
    backend: 'memory',
    available: true,
    reason: 'in-process wire, always available (tests and simulation)',
    fix: '',
    checks: [check('built-in', true, 'pure TypeScript, no device')],
  };
}

function tapStatus(): BackendStatus {
  const checks: BackendCheck[] = [];
  const fixes: string[] = [];
  const native = nativeAvailable();
  if (native.ok) {
    checks.push(check('addon', native.addon.features.tap, `${addonPath()} loaded (tap: ${native.addon.features.tap})`));
  } else {
    checks.push(check('addon', false, native.error.message));
    fixes.push(`build the addon: ${BUILD_COMMAND}`);
  }
  if (!existsSync('/dev/net/tun')) {
    checks.push(check('/dev/net/tun', false, '/dev/net/tun does not exist'));
    fixes.push('load the tun module (modprobe tun) or, in a container, pass the device (docker run --device /dev/net/tun)');
  } else {
    try {
      accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
      checks.push(check('/dev/net/tun', true, '/dev/net/tun exists and is readable and writable'));
    } catch (e) {
      checks.push(check('/dev/net/tun', false, `/dev/net/tun is not openable read-write: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`));
      fixes.push('make /dev/net/tun readable and writable by this user (it is normally mode 0666)');
    }
  }
  const cap = hasCapNetAdmin();
  checks.push(check('CAP_NET_ADMIN', cap.ok, cap.detail));
  if (!cap.ok) {
    fixes.push('run as root or grant the capability: setcap cap_net_admin+ep "$(readlink -f "$(command -v node)")" (or AmbientCapabilities=CAP_NET_ADMIN in the systemd unit)');
  }
  const available = checks.every((c) => c.ok);
  return {
    backend: 'tap',
    available,
    reason: available ? 'TAP devices can be created: addon built, /dev/net/tun usable, CAP_NET_ADMIN held' : checks.filter((c) => !c.ok).map((c) => c.detail).join('; '),
    fix: fixes.join('; '),
    checks,
  };
}

function pkgConfigDpdk(): { ok: boolean; detail: string } {
  try {
    const version = execFileSync('pkg-config', ['--modversion', 'libdpdk'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 }).trim();
    return { ok: true, detail: `pkg-config --exists libdpdk: yes (libdpdk ${version})` };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { status?: number };
    if (err.code === 'ENOENT') return { ok: false, detail: 'pkg-config is not installed, so libdpdk cannot be located' };
    return { ok: false, detail: 'pkg-config --exists libdpdk: no (libdpdk-dev is not installed)' };
  }
}

const CAP_NET_RAW = 13;

/** Whether the effective capability set holds `bit` (/proc/self/status CapEff). */
function hasCap(bit: number): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m !== null && ((BigInt(`0x${m[1]}`) >> BigInt(bit)) & 1n) === 1n;
  } catch {
    return false;
  }
}

function hugepages(): string {
  try {
    const m = /^HugePages_Total:\s*(\d+)$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    const n = m ? Number(m[1]) : 0;
    return n > 0 ? `${n} hugepages reserved` : "no hugepages reserved: run the EAL with --no-huge (virtual devices) or reserve them for real NICs (docs/dpdk.md)";
  } catch {
    return 'cannot read /proc/meminfo';
  }
}

function dpdkStatus(): BackendStatus {
  const checks: BackendCheck[] = [];
  const fixes: string[] = [];
  const pc = pkgConfigDpdk();
  const native = nativeAvailable();
  const built = native.ok && native.addon.features.dpdk;
  if (built) {
    const version = (native.addon as unknown as { dpdkVersion?: string }).dpdkVersion ?? 'DPDK';
    checks.push(check('addon dpdk port', true, `the addon was built with the dpdk port (${version})`));
    // Only informational once the addon is built: it links libdpdk's shared libraries directly.
    checks.push(check('libdpdk', true, pc.detail));
  } else {
    checks.push(check('libdpdk', pc.ok, pc.detail));
    checks.push(
      check(
        'addon dpdk port',
        false,
        native.ok
          ? pc.ok
            ? 'the addon was built without its dpdk port (libdpdk was installed after the build)'
            : 'the addon was built without its dpdk port (pkg-config found no libdpdk at build time)'
          : native.error.message,
      ),
    );
    if (!pc.ok) fixes.push('install libdpdk-dev and pkg-config (apt-get install libdpdk-dev pkg-config)');
    fixes.push(`rebuild the addon: ${BUILD_COMMAND}`);
  }
  // net_af_packet and net_af_xdp open raw/XDP sockets; net_tap and link control need CAP_NET_ADMIN;
  // real NICs need /dev/vfio and hugepages, which in practice means root.
  const raw = hasCap(CAP_NET_RAW);
  const admin = hasCapNetAdmin().ok;
  checks.push(check('privileges', raw && admin, raw && admin ? 'CAP_NET_RAW and CAP_NET_ADMIN are in the effective set' : `missing ${[raw ? '' : 'CAP_NET_RAW', admin ? '' : 'CAP_NET_ADMIN'].filter(Boolean).join(' and ')}`));
  if (!(raw && admin)) fixes.push('run as root, or grant CAP_NET_RAW and CAP_NET_ADMIN (AmbientCapabilities= in the systemd unit)');
  const available = checks.every((c) => c.ok);
  checks.push(check('hugepages', true, hugepages()));
  return {
    backend: 'dpdk',
    available,
    reason: checks.map((c) => c.detail).join('; '),
    fix: available ? '' : fixes.join('; '),
    checks,
  };
}

/** One status per backend, in the order memory, tap, dpdk. Synchronous and side-effect free. */
export function checkBackends(): BackendStatus[] {
  return [memoryStatus(), tapStatus(), dpdkStatus()];
}
