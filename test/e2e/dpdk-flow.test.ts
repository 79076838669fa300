// The packet filter's rules in the NIC (rte_flow) on transport dpdk, against the virtual PMDs,
// none of which takes them: `sluice serve` logs the PMD's refusal as SLUICE_DPDK_FLOW with DPDK's
// own text, `sluice netstat`, GET /status and /metrics say the NIC holds nothing and why, the port
// serves on, and the software filter does the dropping, also after a reload changes the rules.
//
//   net_af_packet: sluice on the host end of a veth whose peer sits in a namespace (no flow API).
//   net_tap: sluice inside a namespace, where the PMD makes its TAP (flows become TC flower
//   filters, which this kernel lacks).

import t, { type Test } from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { ROOT, run, startSluice, tempDir, type LogLine } from './harness.js';
import { adminGet, netstatCli, netstatStack, nsRun, scratch, startNsSluice } from './netns.js';
import { dpdkSkip, ealArgs, KERNEL_IP, STACK_IP, vethInNamespace } from '../io/veth.js';
import type { BypassNetstat } from '../../src/transport/bypass-stack.js';

const skip = dpdkSkip || (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')) ? 'dist/ is not built (npm run build)' : false);

function config(eal: string[], device: string, filter: string): string {
  return `dpdk:
  eal_args: [${eal.map((a) => JSON.stringify(a)).join(', ')}]
listeners:
  - name: edge
    address: ${STACK_IP}
    port: 80
    transport: dpdk
    dpdk: { device: "${device}", prefix_length: 24, mtu: 1500, mempool_size: 4095 }
    filter: ${filter}
routes:
  - { name: hello, match: { path: { prefix: / } }, direct_response: { status: 200, body: "hello\\n" } }
logging: { level: info, access_log: false }
`;
}

async function netstat(socket: string): Promise<{ json: BypassNetstat; text: string }> {
  const json = await netstatStack(socket);
  const x = await netstatCli(socket, false);
  if (x.code !== 0) throw new Error(`sluice netstat failed (${x.code}): ${x.stderr}`);
  return { json, text: x.stdout };
}

/** Writes the new config, SIGHUPs the process and waits for its next 'config reloaded'. */
async function reload(t: Test, s: { configPath: string; proc: { kill(sig: NodeJS.Signals): boolean }; logs: LogLine[] }, yaml: string): Promise<void> {
  await writeFile(`${s.configPath}.new`, yaml);
  await rename(`${s.configPath}.new`, s.configPath);
  const reloaded = (): number => s.logs.filter((l) => l.msg === 'config reloaded' && l.trigger === 'SIGHUP').length;
  const before = reloaded();
  s.proc.kill('SIGHUP');
  for (let i = 0; i < 100 && reloaded() === before; i++) await new Promise((r) => setTimeout(r, 100));
  t.equal(reloaded(), before + 1, 'config reloaded');
}

const NOT_IN_FORCE = 'nic filter not in force; the software filter (and XDP, where configured) does the work';

/** The refusal as `sluice netstat`, GET /status and /metrics show it. */
async function refusalShown(t: Test, socket: string, port: string, driver: string, reason: RegExp): Promise<BypassNetstat> {
  const n = await netstat(socket);
  t.same(n.json.nic?.rules, [], 'netstat: no rules in the NIC');
  t.match(n.json.nic?.refused, reason, 'netstat: the PMD\'s refusal');
  t.equal(n.json.nic?.driver, driver);
  t.match(n.text, new RegExp(`^nic: ${port} \\(${driver}\\) no rules in the NIC \\(the software filter and XDP, where configured, do the work\\): dpdk ${port} \\(${driver}\\) flow rules: `, 'm'), 'netstat text names the port and the reason');
  const status = JSON.parse(await adminGet(socket, '/status')) as { nic_filter: Record<string, { driver: string; rules: string[]; refused: string | null }> };
  t.match(status.nic_filter[port], { driver, rules: [], refused: reason }, 'GET /status: per port, the refusal');
  const metrics = await adminGet(socket, '/metrics');
  t.match(metrics, new RegExp(`^sluice_bypass_nic_flows\\{device="${port}"\\} 0$`, 'm'), '/metrics: no flows in the NIC');
  return n.json;
}

t.test('net_af_packet: rte_flow refused (no flow API); the software filter drops, before and after a reload', { skip }, async (t) => {
  const v = vethInNamespace(t);
  const eal = ealArgs(t);
  const dir = await tempDir();
  const socket = join(dir, 'admin.sock');
  const device = `net_af_packet0,iface=${v.host}`;
  const yaml = (filter: string) => `${config(eal, device, filter)}admin: { socket: ${socket} }\n`;
  const sluice = await startSluice(yaml('{ deny: [203.0.113.0/24], allow: [198.18.0.0/24] }'), { dir });
  t.teardown(async () => {
    await sluice.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const curl = () => run('ip', ['netns', 'exec', v.ns, 'curl', '-s', '--max-time', '2', `http://${STACK_IP}/`], { timeoutMs: 10_000 });

  const refused = await sluice.waitLog((l) => l.msg === NOT_IN_FORCE);
  t.match(refused, {
    level: 40, device: 'net_af_packet0', driver: 'net_af_packet', code: 'SLUICE_DPDK_FLOW', function: 'rte_flow_validate', errno: 'ENOSYS',
    flow_error_type: 'UNSPECIFIED', flow_error_message: 'Function not implemented',
    reason: 'dpdk net_af_packet0 (net_af_packet) flow rules: rte_flow_validate(port 0, rule 0: 203.0.113.0/24 priority 0 drop): Function not implemented [UNSPECIFIED] (Function not implemented (ENOSYS))',
  }, 'the log line carries the PMD\'s refusal');
  t.notOk(sluice.logs.some((l) => l.msg === 'nic filter rules installed'));

  const ok = await curl();
  t.equal(ok.code, 0, `the allowed client is served: ${ok.stderr}`);
  t.equal(ok.stdout, 'hello\n');
  await refusalShown(t, socket, 'net_af_packet0', 'net_af_packet', /rte_flow_validate\(port 0, rule 0: 203\.0\.113\.0\/24 priority 0 drop\): Function not implemented .*ENOSYS/);

  // Deny the client: the NIC refuses again, the software filter drops it.
  const seen = sluice.logs.filter((l) => l.msg === NOT_IN_FORCE).length;
  await reload(t, sluice, yaml(`{ deny: [${KERNEL_IP}/32] }`));
  t.equal(sluice.logs.filter((l) => l.msg === NOT_IN_FORCE).length, seen + 1, 'the reload tried the NIC again and logged the refusal');
  t.equal((await curl()).code, 28, 'the denied client times out');
  const after = await refusalShown(t, socket, 'net_af_packet0', 'net_af_packet', /rule 0: 198\.18\.0\.1\/32 priority 0 drop\): Function not implemented/);
  t.ok(after.stack.counters.rxDrop.filter_deny > 0, `the software filter dropped it: ${after.stack.counters.rxDrop.filter_deny}`);
});

function kernelHasFlower(): boolean {
  if (existsSync('/sys/module/cls_flower')) return true;
  try {
    return /^CONFIG_NET_CLS_FLOWER=[ym]$/m.test(gunzipSync(readFileSync('/proc/config.gz')).toString());
  } catch {
    return true;
  }
}

const tapSkip = skip || (kernelHasFlower() ? 'this kernel has TC flower (cls_flower): net_tap may take the flows; this test covers the refusal' : false);

t.test('net_tap: rte_flow_create refused without TC flower; the software filter drops, before and after a reload', { skip: tapSkip }, async (t) => {
  const dir = await scratch(t);
  const ns = `sluice-t-${process.pid}-nf`;
  const sh = (args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  const del = () => {
    try {
      sh(['netns', 'del', ns]);
    } catch {
      // already gone
    }
  };
  del();
  sh(['netns', 'add', ns]);
  t.teardown(del);
  sh(['-n', ns, 'link', 'set', 'lo', 'up']);
  const eal = ealArgs(t);
  const tapIf = 'sluice-tnf';
  const yaml = (filter: string) => config(eal, `net_tap0,iface=${tapIf}`, filter);
  const sluice = await startNsSluice(t, ns, yaml('{ deny: [203.0.113.0/24] }'), dir);
  // The TAP the PMD made: its kernel side becomes the client, with a MAC of its own.
  sh(['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${tapIf}.disable_ipv6=1`]);
  sh(['-n', ns, 'link', 'set', tapIf, 'address', '02:00:c6:12:00:01']);
  sh(['-n', ns, 'addr', 'add', `${KERNEL_IP}/24`, 'dev', tapIf]);
  sh(['-n', ns, 'link', 'set', tapIf, 'up']);
  const curl = () => nsRun(ns, 'curl', ['-s', '--max-time', '2', `http://${STACK_IP}/`], { timeoutMs: 10_000 });

  const refused = await sluice.waitLog((l) => l.msg === NOT_IN_FORCE);
  t.match(refused, {
    device: 'net_tap0', driver: 'net_tap', code: 'SLUICE_DPDK_FLOW', function: 'rte_flow_create', errno: 'EEXIST',
    flow_error_type: 'HANDLE', flow_error_message: 'overlapping rules or Kernel too old for flower support',
    reason: 'dpdk net_tap0 (net_tap) flow rules: rte_flow_create(port 0, rule 0: 203.0.113.0/24 priority 0 drop): overlapping rules or Kernel too old for flower support [HANDLE] (File exists (EEXIST))',
  }, 'the log line carries the PMD\'s refusal');
  const ok = await curl();
  t.equal(ok.code, 0, `the client is served: ${ok.stderr}`);
  t.equal(ok.stdout, 'hello\n');
  await refusalShown(t, sluice.adminSocket, 'net_tap0', 'net_tap', /rte_flow_create\(port 0, rule 0: 203\.0\.113\.0\/24 priority 0 drop\): overlapping rules or Kernel too old for flower support/);

  await reload(t, sluice, `${yaml(`{ deny: [${KERNEL_IP}/32] }`)}\nadmin: { address: 127.0.0.1, port: 0, socket: ${sluice.adminSocket} }\n`);
  t.equal((await curl()).code, 28, 'the denied client times out');
  const after = await refusalShown(t, sluice.adminSocket, 'net_tap0', 'net_tap', /rule 0: 198\.18\.0\.1\/32 priority 0 drop\): overlapping rules/);
  t.ok(after.stack.counters.rxDrop.filter_deny > 0, `the software filter dropped it: ${after.stack.counters.rxDrop.filter_deny}`);
});
