// `sluice serve` with filter.xdp: Sluice (in its own namespace) owns a TAP bridged with a veth
// whose peer is the client's namespace, and attaches the XDP copy of its filter to that veth
// (where client frames enter; docs/xdp.md). A denied client's SYNs die in the kernel: the XDP
// rule counter rises in netstat while the stack's own filter_deny stays 0. A SIGHUP without the
// rule updates the maps in place (same program id) and lets the client in; exit detaches.

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { bypassSkip, nsRun, scratch, startNsSluice, netstatStack, KERNEL_IP, STACK_IP } from './netns.js';
import { xdpAvailability } from '../../src/io/xdp.js';

const avail = xdpAvailability();
const skip = bypassSkip || (avail.ok ? false : `XDP unavailable: ${avail.reason}`);

const TAP = 'stap0';
const VETH = 'sxv0';

function sh(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

function quiet(args: string[]): void {
  try {
    sh(args);
  } catch {
    // already gone
  }
}

/** Sluice's namespace (TAP + bridge + veth) and the client's (veth peer, 198.18.0.1/24). */
function topology(t: { teardown(fn: () => void): void }): { server: string; client: string } {
  const server = `sluice-t-${process.pid}-xs`;
  const client = `sluice-t-${process.pid}-xc`;
  for (const ns of [server, client]) quiet(['netns', 'del', ns]);
  t.teardown(() => {
    for (const ns of [server, client]) quiet(['netns', 'del', ns]);
  });
  sh(['netns', 'add', server]);
  sh(['netns', 'add', client]);
  const s = ['-n', server];
  sh([...s, 'link', 'set', 'lo', 'up']);
  sh([...s, 'tuntap', 'add', 'dev', TAP, 'mode', 'tap']);
  sh([...s, 'link', 'add', 'sxbr0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
  sh([...s, 'link', 'add', VETH, 'type', 'veth', 'peer', 'name', 'sxv1', 'netns', client]);
  for (const dev of [TAP, 'sxbr0', VETH]) {
    sh(['netns', 'exec', server, 'sysctl', '-q', '-w', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
    if (dev !== 'sxbr0') sh([...s, 'link', 'set', dev, 'master', 'sxbr0']);
    sh([...s, 'link', 'set', dev, 'up']);
  }
  sh(['netns', 'exec', client, 'sysctl', '-q', '-w', 'net.ipv6.conf.sxv1.disable_ipv6=1']);
  sh(['-n', client, 'addr', 'add', `${KERNEL_IP}/24`, 'dev', 'sxv1']);
  sh(['-n', client, 'link', 'set', 'sxv1', 'up']);
  sh(['-n', client, 'link', 'set', 'lo', 'up']);
  return { server, client };
}

function config(deny: string[]): string {
  return `
listeners:
  - name: edge
    address: ${STACK_IP}
    port: 80
    transport: tap
    tap: { device: ${TAP} }
    filter: { deny: [${deny.join(', ')}], xdp: { interface: ${VETH} } }
routes:
  - { name: direct, match: { path: { prefix: / } }, direct_response: { status: 200, body: "xdp passed\\n" } }
logging: { level: info, access_log: false }
`;
}

function progId(ns: string): number {
  const j = JSON.parse(sh(['-n', ns, '-j', '-d', 'link', 'show', 'dev', VETH])) as { xdp?: { prog?: { id?: number } } }[];
  return j[0]?.xdp?.prog?.id ?? 0;
}

t.test('serve with filter.xdp: drops below Sluice, in-place reload, detach on exit', { skip }, async (t) => {
  const dir = await scratch(t);
  const { server, client } = topology(t);
  const sluice = await startNsSluice(t, server, config([`${KERNEL_IP}/32`]), dir);
  const attached = await sluice.waitLog((l) => l.msg === 'xdp filter attached');
  const id = progId(server);
  t.equal(attached.prog_id, id, `log and ip link agree on program ${id}`);
  const curl = () => nsRun(client, 'curl', ['-s', '--max-time', '2', `http://${STACK_IP}/`], { timeoutMs: 10_000 });

  const denied = await curl();
  t.equal(denied.code, 28, 'the denied client times out');
  let n = await netstatStack(sluice.adminSocket);
  t.ok((n.xdp?.counters?.rules[0]?.packets ?? 0) > 0, `XDP drops for ${n.xdp?.counters?.rules[0]?.rule}: ${n.xdp?.counters?.rules[0]?.packets}`);
  t.equal(n.stack.counters.rxDrop.filter_deny, 0, "the stack's own filter never saw the SYNs");
  t.equal(n.stack.counters.accepted.tcp, 0);

  await writeFile(`${sluice.configPath}.new`, config([]) + `\nadmin: { address: 127.0.0.1, port: 0, socket: ${sluice.adminSocket} }\n`);
  await nsRun(server, 'mv', [`${sluice.configPath}.new`, sluice.configPath]);
  sluice.proc.kill('SIGHUP');
  await sluice.waitLog((l) => l.msg === 'config reloaded' && l.trigger === 'SIGHUP');
  t.equal(progId(server), id, 'same program after the reload');
  const allowed = await curl();
  t.equal(allowed.code, 0, `curl after reload: ${allowed.stderr}`);
  t.equal(allowed.stdout, 'xdp passed\n');
  n = await netstatStack(sluice.adminSocket);
  t.ok((n.xdp?.counters?.passed.packets ?? 0) > 0, 'XDP pass counter rose');
  t.same(n.xdp?.counters?.rules, [], 'the deny rule left the maps');

  await sluice.stop();
  t.equal(progId(server), 0, 'the program went with the process');
});
