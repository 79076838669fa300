// The DPDK port's live link state (DpdkPort.link(), rte_eth_link_get_nowait) on net_tap, whose
// PMD reads the kernel interface's flags: taking the interface down and up again shows in the
// port within a check. The port runs inside a namespace the test creates (ip netns exec), so
// its TAP interface is born there and never appears among the host's interfaces.

import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { childLines, commander } from './child-lines.js';
import { dpdkSkip as skip, ealArgs, freshNamespace, sh } from './veth.js';

const CHILD = join(import.meta.dirname, 'dpdk-child.ts');

t.test('net_tap: the port sees its link go down and come back', { skip }, async (t) => {
  const ns = `sluice-t-${process.pid}-link`;
  const ifname = `sluice-tl${process.pid.toString(36)}`.slice(0, 15);
  freshNamespace(t, ns);
  const p = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import=tsx', CHILD, 'drive', JSON.stringify({ eal: ealArgs(t), device: `net_tap0,iface=${ifname}` })], { stdio: ['pipe', 'pipe', 'pipe'] });
  const child = childLines(t, p, 20_000);
  const command = commander(p, child);
  const link = async (): Promise<{ up: boolean; speedMbps: number }> => (await command({ link: true }, 'link')).link as { up: boolean; speedMbps: number };
  const ready = await child.next('ready');
  t.equal((ready.info as { driver: string }).driver, 'net_tap');
  t.equal((ready.info as { link: { up: boolean } }).link.up, true, 'up at open (the PMD brings its interface up)');
  t.equal((await link()).up, true, 'and up when asked');

  // The link as the port reports it, asked until it says `up` or 3 s pass.
  const settle = async (up: boolean): Promise<{ up: boolean; speedMbps: number }> => {
    const end = Date.now() + 3000;
    let l = await link();
    while (l.up !== up && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      l = await link();
    }
    return l;
  };
  sh('ip', ['-n', ns, 'link', 'set', ifname, 'down']);
  t.equal((await settle(false)).up, false, 'down once the interface is down');
  sh('ip', ['-n', ns, 'link', 'set', ifname, 'up']);
  const last = await settle(true);
  t.equal(last.up, true, 'up again once the interface is');
  t.ok(last.speedMbps > 0, `with a speed (${last.speedMbps} Mb/s)`);

  p.stdin.end();
  await child.next('closed');
  t.equal(await child.exited, 0);
});
