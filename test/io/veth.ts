// A veth pair for the DPDK port tests: the host end (`sluice-t<id>`) is what the DPDK vdev
// (net_af_packet, net_af_xdp) attaches to; the peer sits in a namespace the test creates
// (sluice-t-<pid>-<n>) with 198.18.0.1/24, so the test talks to the kernel's own stack without
// touching the host's interfaces. Both are removed in teardown (deleting the namespace deletes
// the peer, and with it the host end), also when the test fails.

import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { loadNative } from '../../src/io/native.js';

export const KERNEL_IP = '198.18.0.1';
export const STACK_IP = '198.18.0.2';

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

function addonHasDpdk(): string | false {
  try {
    const a = loadNative();
    return a.features.dpdk ? false : 'the native addon was built without DPDK (pkg-config found no libdpdk): apt-get install libdpdk-dev pkg-config, then npm run build:native';
  } catch (e) {
    return `the native addon does not load: ${(e as Error).message}`;
  }
}

const isRoot = process.getuid?.() === 0;
/** CI runs as root with libdpdk-dev installed; elsewhere the tests are skipped with this reason. */
export const dpdkSkip: string | false = !isRoot ? 'DPDK port tests need root (namespaces, veth, AF_PACKET sockets)' : addonHasDpdk();

let counter = 0;

export interface VethNamespace {
  ns: string;
  /** The host end, for the DPDK vdev's iface=. */
  host: string;
  /** The peer inside `ns`. */
  peer: string;
}

function tryDel(args: string[]): void {
  try {
    sh('ip', args);
  } catch {
    // already gone
  }
}

/** The namespace `ns`, made afresh (an old one of that name is deleted), lo up; deleted in teardown. */
export function freshNamespace(t: { teardown(fn: () => void): void }, ns: string): string {
  tryDel(['netns', 'del', ns]);
  sh('ip', ['netns', 'add', ns]);
  t.teardown(() => tryDel(['netns', 'del', ns]));
  sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  return ns;
}

/** A veth pair, peer in a fresh namespace at 198.18.0.1/24, both ends up, IPv6 off (no RS/MLD noise). */
export function vethInNamespace(t: { teardown(fn: () => void): void }, mtu = 1500): VethNamespace {
  const n = counter++;
  const ns = `sluice-t-${process.pid}-${n}`;
  // 15 bytes at most (IFNAMSIZ - 1): "sluice-t" + pid in base 36 (<= 5) + the counter.
  const host = `sluice-t${process.pid.toString(36)}${n}`.slice(0, 15);
  const peer = 'sluice-t-peer';
  tryDel(['netns', 'del', ns]);
  tryDel(['link', 'del', host]);
  sh('ip', ['netns', 'add', ns]);
  t.teardown(() => {
    tryDel(['link', 'del', host]);
    tryDel(['netns', 'del', ns]);
  });
  sh('ip', ['link', 'add', host, 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', peer, 'mtu', String(mtu), 'netns', ns]);
  sh('sysctl', ['-q', '-w', `net.ipv6.conf.${host}.disable_ipv6=1`]);
  sh('ip', ['link', 'set', host, 'up']);
  sh('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${peer}.disable_ipv6=1`]);
  sh('ip', ['-n', ns, 'addr', 'add', `${KERNEL_IP}/24`, 'dev', peer]);
  sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  // veth hands frames on with the TCP/UDP checksum left for "hardware" (CHECKSUM_PARTIAL), and
  // an AF_PACKET reader (DPDK net_af_packet) sees them unfinished: Sluice's stack, like any
  // receiver on a real wire, would drop them as corrupt. Checksumming in software on the peer
  // makes the veth behave like a cable.
  sh('ip', ['netns', 'exec', ns, 'ethtool', '-K', peer, 'tx', 'off']);
  sh('ip', ['-n', ns, 'link', 'set', peer, 'up']);
  return { ns, host, peer };
}

/** Whether a link or namespace is still there (for the no-leak checks). */
export function linkExists(name: string): boolean {
  try {
    sh('ip', ['link', 'show', name]);
    return true;
  } catch {
    return false;
  }
}

export function namespaceExists(ns: string): boolean {
  return sh('ip', ['netns', 'list']).split('\n').some((l) => l.split(' ')[0] === ns);
}

let prefixes = 0;
/**
 * EAL arguments for one test process: no hugepages, no PCI scan, 256 MB of ordinary memory, one
 * lcore, a unique file prefix (so concurrent test processes never share /var/run/dpdk/<prefix>),
 * no telemetry socket. Teardown removes the runtime directory if the child died before cleanup.
 */
export function ealArgs(t: { teardown(fn: () => void): void }): string[] {
  const prefix = `sluice-t-${process.pid}-${prefixes++}`;
  t.teardown(() => {
    const dir = `/var/run/dpdk/${prefix}`;
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  });
  return ['--no-huge', '--no-pci', '-m', '256', '-l', '0', '--no-telemetry', '--file-prefix', prefix, '--log-level', 'lib.eal:warning'];
}
