// The shape XDP needs on the TAP path (docs/xdp.md): the client in a namespace the test creates,
// reaching Sluice's TAP through a veth whose host side is bridged with the TAP. XDP hooks the
// host-side veth's ingress, where client frames enter; on the TAP itself they would be egress,
// which XDP never sees. Everything is created here (names sluice-t*/sx*, 198.18.0.0/24) and
// removed in teardown; no host interface is touched.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sh } from './netns.js';

const execFileAsync = promisify(execFile);

/** Runs in the namespace without blocking the event loop (the bypass stack under test polls in it). */
async function inNs(ns: string, script: string, timeoutMs = 10_000): Promise<void> {
  await execFileAsync('ip', ['netns', 'exec', ns, 'bash', '-c', script], { timeout: timeoutMs });
}

export const CLIENT_IP = '198.18.0.1';
export const SLUICE_IP = '198.18.0.2';

export interface VethFront {
  ns: string;
  /** Host-side veth: attach XDP here. */
  hostIf: string;
  /** Client-side veth, inside `ns`, with CLIENT_IP/24. */
  peerIf: string;
  bridge: string;
}

let counter = 0;

function quiet(fn: () => void): void {
  try {
    fn();
  } catch {
    // already gone
  }
}

/** Bridges a fresh veth pair's host side with `tapName`; the peer goes into a new namespace. */
export function vethInFrontOf(t: { teardown(fn: () => void): void }, tapName: string): VethFront {
  const n = counter++;
  const id = `${process.pid % 100000}${n}`;
  const ns = `sluice-t-${process.pid}-x${n}`;
  const hostIf = `sxh${id}`;
  const peerIf = `sxp${id}`;
  const bridge = `sxb${id}`;
  const cleanup = (): void => {
    quiet(() => sh('ip', ['link', 'del', hostIf]));
    quiet(() => sh('ip', ['link', 'del', bridge]));
    quiet(() => sh('ip', ['netns', 'del', ns]));
  };
  cleanup();
  t.teardown(cleanup);
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', peerIf, 'netns', ns]);
  // STP off and no forward delay: the ports forward as soon as they are up.
  sh('ip', ['link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
  for (const dev of [hostIf, bridge, tapName]) {
    quiet(() => sh('sysctl', ['-q', '-w', `net.ipv6.conf.${dev}.disable_ipv6=1`]));
  }
  sh('ip', ['link', 'set', hostIf, 'master', bridge]);
  sh('ip', ['link', 'set', tapName, 'master', bridge]);
  for (const dev of [hostIf, tapName, bridge]) sh('ip', ['link', 'set', dev, 'up']);
  sh('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${peerIf}.disable_ipv6=1`]);
  sh('ip', ['-n', ns, 'addr', 'add', `${CLIENT_IP}/24`, 'dev', peerIf]);
  sh('ip', ['-n', ns, 'link', 'set', peerIf, 'up']);
  sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  return { ns, hostIf, peerIf, bridge };
}

/** The XDP program id on `dev` as `ip link show` reports it, or 0 when none. */
export function xdpProgId(dev: string): number {
  const info = JSON.parse(sh('ip', ['-j', '-d', 'link', 'show', 'dev', dev])) as { xdp?: { prog?: { id?: number }; attached?: { prog?: { id?: number } }[] } }[];
  const x = info[0]?.xdp;
  return x?.prog?.id ?? x?.attached?.[0]?.prog?.id ?? 0;
}

/** `count` UDP datagrams from the namespace to `dst` (bash /dev/udp: no extra tool needed). */
export async function sendUdp(ns: string, dst: string, count: number, port = 9): Promise<void> {
  await inNs(ns, `for i in $(seq 1 ${count}); do echo "sluice xdp $i" > /dev/udp/${dst}/${port}; done`);
}

/** `count` TCP connection attempts at once (one SYN each within 400 ms), all given up after it. */
export async function sendSyns(ns: string, dst: string, count: number, port = 80): Promise<void> {
  await inNs(ns, `for i in $(seq 1 ${count}); do timeout 0.4 bash -c '</dev/tcp/${dst}/${port}' 2>/dev/null & done; wait; true`);
}

/** Whether a TCP connection from the namespace to dst:port completes within 3 s. */
export async function tcpConnects(ns: string, dst: string, port: number): Promise<boolean> {
  try {
    await inNs(ns, `timeout 3 bash -c '</dev/tcp/${dst}/${port}'`, 5000);
    return true;
  } catch {
    return false;
  }
}
