// A TAP device whose kernel side lives in a network namespace the test creates (sluice-t-<pid>-<n>)
// with 198.18.0.1/24, so tests never touch the host's interfaces. The fd stays in this process
// (host namespace); only the interface moves, and the fd keeps working after the move.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { TapPort } from '../../src/io/tap.js';

export const KERNEL_IP = '198.18.0.1';
export const STACK_IP = '198.18.0.2';

const isRoot = process.getuid?.() === 0;
/** CI runs as root; elsewhere TAP tests are skipped with this reason, never silently passed. */
export const tapSkip: string | false = !isRoot
  ? 'TAP tests need root (CAP_NET_ADMIN to create TAP devices and namespaces)'
  : !existsSync('/dev/net/tun')
    ? '/dev/net/tun is missing'
    : false;

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

function nsDelete(ns: string): void {
  try {
    sh('ip', ['netns', 'del', ns]);
  } catch {
    // already gone
  }
}

let counter = 0;

export interface TapNamespace {
  port: TapPort;
  ns: string;
}

/** Opens a TAP, moves its kernel side into a fresh namespace, IPv6 off (no RS/MLD noise), up. */
export function tapInNamespace(t: { teardown(fn: () => void): void }, mtu = 1500): TapNamespace {
  let port: TapPort | null = null;
  const ns = namespaceFor(t, () => {
    port = TapPort.open({ name: 'sluice-t%d', mtu });
    return port.name;
  }, () => port?.close());
  return { port: port!, ns };
}

/**
 * A fresh namespace (sluice-t-<pid>-<n>) holding the kernel side of the TAP that `open` opens (it
 * returns the interface name) at KERNEL_IP/24, IPv6 off, up. In teardown `close` (which releases
 * the TAP) runs, then the namespace is deleted; also when `open` or the move fails.
 */
export function namespaceFor(t: { teardown(fn: () => void): void }, open: () => string, close: () => void): string {
  const ns = `sluice-t-${process.pid}-${counter++}`;
  nsDelete(ns);
  sh('ip', ['netns', 'add', ns]);
  let name: string;
  try {
    name = open();
  } catch (e) {
    nsDelete(ns);
    throw e;
  }
  t.teardown(() => {
    close();
    nsDelete(ns);
  });
  sh('ip', ['link', 'set', name, 'netns', ns]);
  sh('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${name}.disable_ipv6=1`]);
  sh('ip', ['-n', ns, 'addr', 'add', `${KERNEL_IP}/24`, 'dev', name]);
  sh('ip', ['-n', ns, 'link', 'set', name, 'up']);
  return ns;
}

/** Waits up to `ms` for `cond`, polling every 20 ms (the stack's loop runs meanwhile); its last value. */
export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}
