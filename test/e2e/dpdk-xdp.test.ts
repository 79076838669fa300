// filter.xdp on transport dpdk: with net_af_packet on the host end of a veth, the XDP program on
// that veth drops a denied client before the AF_PACKET hook (Sluice's stack never sees a frame of
// it); with net_af_xdp the PMD loads Sluice's filter (filter_xsk.bpf.o, xdp_prog=) as the program
// that steers packets into its AF_XDP socket, and Sluice adopts its maps.

import t from 'tap';
import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, run, startSluice, tempDir } from './harness.js';
import { netstatStack } from './netns.js';
import { dpdkSkip, ealArgs, KERNEL_IP, STACK_IP, vethInNamespace } from '../io/veth.js';
import { xdpAvailability } from '../../src/io/xdp.js';

const avail = xdpAvailability();
const skip = dpdkSkip || (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')) ? 'dist/ is not built (npm run build)' : avail.ok ? false : `XDP unavailable: ${avail.reason}`);

function config(eal: string[], device: string, xdpIf: string, socket: string): string {
  return `dpdk:
  eal_args: [${eal.map((a) => JSON.stringify(a)).join(', ')}]
listeners:
  - name: edge
    address: ${STACK_IP}
    port: 80
    transport: dpdk
    dpdk: { device: "${device}", prefix_length: 24, mtu: 1500, mempool_size: 4095 }
    filter: { deny: [${KERNEL_IP}/32], xdp: { interface: ${xdpIf} } }
routes:
  - { name: hello, match: { path: { prefix: / } }, direct_response: { status: 200, body: "hello\\n" } }
admin: { address: 127.0.0.1, port: 0, socket: ${socket} }
logging: { level: info, access_log: false }
`;
}

async function serve(t: { teardown(fn: () => unknown): void }, pmd: string) {
  const v = vethInNamespace(t);
  const eal = ealArgs(t);
  const dir = await tempDir();
  const socket = join(dir, 'admin.sock');
  const sluice = await startSluice(config(eal, `${pmd}0,iface=${v.host}`, v.host, socket), { dir });
  t.teardown(async () => {
    await sluice.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const curl = () => run('ip', ['netns', 'exec', v.ns, 'curl', '-s', '--max-time', '2', `http://${STACK_IP}/`], { timeoutMs: 10_000 });
  return { v, sluice, socket, curl };
}

t.test('net_af_packet: the denied client dies in XDP on the veth, below DPDK', { skip }, async (t) => {
  const { sluice, socket, curl } = await serve(t, 'net_af_packet');
  const attached = await sluice.waitLog((l) => l.msg === 'xdp filter attached');
  t.ok(Number(attached.prog_id) > 0, `program ${attached.prog_id} (${attached.mode})`);
  t.equal((await curl()).code, 28, 'curl times out');
  const n = await netstatStack(socket);
  t.ok((n.xdp?.counters?.rules[0]?.packets ?? 0) > 0, `XDP drops: ${n.xdp?.counters?.rules[0]?.packets}`);
  t.equal(n.stack.counters.rxDrop.filter_deny, 0, 'the software filter saw nothing');
  t.equal(n.stack.counters.accepted.tcp, 0);
});

t.test('net_af_xdp: the PMD loads Sluice\'s filter as its steering program; drops there, passes into the socket', { skip }, async (t) => {
  const { v, sluice, socket, curl } = await serve(t, 'net_af_xdp');
  const attached = await sluice.waitLog((l) => l.msg === 'xdp filter attached');
  const link = await run('ip', ['-d', 'link', 'show', 'dev', v.host]);
  t.match(link.stdout, new RegExp(`prog/xdp id ${attached.prog_id} name sluice_filter`), 'the program on the interface is Sluice\'s filter');
  t.equal((await curl()).code, 28, 'the denied client times out');
  let n = await netstatStack(socket);
  t.ok((n.xdp?.counters?.rules[0]?.packets ?? 0) > 0, `XDP drops: ${n.xdp?.counters?.rules[0]?.packets}`);
  t.equal(n.stack.counters.rxDrop.filter_deny, 0, 'the software filter saw nothing');

  // Reload without the rule: the same program now redirects the client's packets to the socket.
  const yaml = await readFile(sluice.configPath, 'utf8');
  await writeFile(`${sluice.configPath}.new`, yaml.replace(`deny: [${KERNEL_IP}/32]`, 'deny: []'));
  await rename(`${sluice.configPath}.new`, sluice.configPath);
  sluice.proc.kill('SIGHUP');
  await sluice.waitLog((l) => l.msg === 'config reloaded' && l.trigger === 'SIGHUP');
  const ok = await curl();
  t.equal(ok.code, 0, `curl after reload: ${ok.stderr}`);
  t.equal(ok.stdout, 'hello\n');
  n = await netstatStack(socket);
  t.ok((n.xdp?.counters?.passed.packets ?? 0) > 0, 'XDP passed (redirected) packets');
  t.match((await run('ip', ['-d', 'link', 'show', 'dev', v.host])).stdout, new RegExp(`prog/xdp id ${attached.prog_id} `), 'same program after the reload');

  const reload = async (text: string, what: string): Promise<void> => {
    await writeFile(`${sluice.configPath}.new`, text);
    await rename(`${sluice.configPath}.new`, sluice.configPath);
    const reloaded = (): number => sluice.logs.filter((l) => l.msg === 'config reloaded' && l.trigger === 'SIGHUP').length;
    const before = reloaded();
    sluice.proc.kill('SIGHUP');
    for (let i = 0; i < 100 && reloaded() === before; i++) await new Promise((r) => setTimeout(r, 100));
    t.equal(reloaded(), before + 1, `config reloaded within 10 s: ${JSON.stringify(sluice.logs.slice(-3))}`);
    t.pass(`reloaded: ${what}`);
  };
  // Reload keeping the deny rule but removing filter.xdp: the steering program cannot go (it is
  // the socket's), so its rules are emptied and the software filter alone refuses the client.
  await reload(yaml.replace(`, xdp: { interface: ${v.host} }`, ''), 'deny kept, filter.xdp removed');
  t.equal((await curl()).code, 28, 'the denied client still times out');
  n = await netstatStack(socket);
  t.equal(n.xdp, null, 'no XDP copy configured');
  t.ok(n.stack.counters.rxDrop.filter_deny > 0, `the software filter drops now: ${n.stack.counters.rxDrop.filter_deny}`);
  t.match((await run('ip', ['-d', 'link', 'show', 'dev', v.host])).stdout, new RegExp(`prog/xdp id ${attached.prog_id} `), 'the steering program stays');

  // And back: the same program is adopted again and drops in the kernel.
  await reload(yaml, 'filter.xdp back');
  const softBefore = (await netstatStack(socket)).stack.counters.rxDrop.filter_deny;
  t.equal((await curl()).code, 28, 'the denied client times out');
  n = await netstatStack(socket);
  t.equal(n.xdp?.attached, true, `XDP copy attached again: ${n.xdp?.error ?? ''}`);
  t.equal(n.xdp?.progId, Number(attached.prog_id), 'the same steering program, adopted');
  t.ok((n.xdp?.counters?.rules[0]?.packets ?? 0) > 0, `XDP drops again: ${n.xdp?.counters?.rules[0]?.packets}`);
  t.equal(n.stack.counters.rxDrop.filter_deny, softBefore, 'the software filter saw nothing more');
});
