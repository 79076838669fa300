// rte_flow on the virtual PMDs (NicFilter, native/src/flow.cc): what each answers when the
// packet filter's rules are asked for in the NIC, as typed SLUICE_DPDK_FLOW errors carrying DPDK's
// own reason, and that the port keeps moving frames afterwards. The DPDK side runs in a child
// process per test (test/io/flow-child.ts): the EAL starts once per process.
//
//   net_af_packet: a veth whose peer sits in a namespace (test/io/veth.ts); no flow API.
//   net_tap: the child runs inside a namespace, where the PMD creates its TAP; the PMD builds
//   flows as TC flower filters, which this kernel lacks (no CONFIG_NET_CLS_FLOWER).

import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { childLines, type ChildLines } from './child-lines.js';
import { dpdkSkip as skip, ealArgs, freshNamespace, KERNEL_IP, sh, STACK_IP, vethInNamespace } from './veth.js';

const CHILD = join(import.meta.dirname, 'flow-child.ts');

function startChild(t: Test, opts: Record<string, unknown>, ns: string | null): ChildLines {
  const node = [process.execPath, '--import=tsx', CHILD, JSON.stringify(opts)];
  const p = ns === null ? spawn(node[0]!, node.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn('ip', ['netns', 'exec', ns, ...node], { stdio: ['ignore', 'pipe', 'pipe'] });
  return childLines(t, p, 30_000);
}

type Outcome = { ok: boolean; code?: string; message?: string; detail?: Record<string, unknown> | null; function?: string | null; value?: unknown };
const get = async (c: ChildLines, k: string): Promise<Outcome> => (await c.next(k))[k] as Outcome;

/** One ICMP echo request to the stack address, over a raw socket in the namespace (ARP first, by the kernel). */
const ECHO = "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); s.sendto(b'\\x08\\x00\\xf7\\xff\\x00\\x00\\x00\\x00', ('" + STACK_IP + "', 0))";

/** Pokes the stack address from the namespace until the child says it answered ARP and saw an echo request. */
async function served(t: Test, child: ChildLines, ns: string): Promise<void> {
  await child.next('serving');
  let done: Record<string, unknown> | undefined;
  void child.next('served').then((d) => (done = d), () => undefined);
  for (let i = 0; i < 40 && done === undefined; i++) {
    sh('ip', ['netns', 'exec', ns, 'python3', '-c', ECHO]);
    await new Promise((r) => setTimeout(r, 250));
  }
  const s = await child.next('served');
  t.ok((s.arpReplies as number) >= 1, `after the refusals the port still sends: ${s.arpReplies} ARP replies`);
  t.ok((s.echoRequests as number) >= 1, `and still receives: ${s.echoRequests} echo requests to our MAC`);
}

/** What every PMD must answer the same way: argument checks, empty sets, closed ports. */
async function common(t: Test, child: ChildLines, name: string): Promise<void> {
  const empty = await get(child, 'empty');
  t.equal(empty.ok, true, 'an empty rule set asks the PMD nothing and succeeds');
  t.match(empty.value, { rules: [], counted: true, stale: 0 });
  const badFate = await get(child, 'badFate');
  t.match(badFate, { ok: false, code: 'SLUICE_PORT_CONFIG', message: "rule 0: fate must be 0 (drop) or 1 (queue 0), got 7" });
  t.match(await get(child, 'badWords'), { ok: false, code: 'SLUICE_PORT_CONFIG', message: /must hold 4 words per rule/ });
  t.same(await get(child, 'counters'), { ok: true, value: 0 }, 'no flows, no counters');
  t.same(await get(child, 'flush'), { ok: true }, 'flushing nothing asks the PMD nothing');
  const closed = await get(child, 'closedPort');
  t.match(closed, { ok: false, code: 'SLUICE_DPDK_PORT', message: `dpdk ${name}: setFlowRules on a closed port` });
  t.match(await get(child, 'closedNative'), { ok: false, code: 'SLUICE_DPDK_PORT', message: /^port \d+ is not open$/ });
  await child.next('cleaned');
  t.equal(await child.exited, 0, 'the child closes the port and cleans the EAL up');
}

t.test('net_af_packet: no flow API; rte_flow_validate answers ENOSYS and the port serves on', { skip }, async (t) => {
  const v = vethInNamespace(t);
  const eal = ealArgs(t);
  const child = startChild(t, { eal, device: `net_af_packet0,iface=${v.host}`, stackIp: STACK_IP, kernelIp: KERNEL_IP, timeoutMs: 15_000 }, null);
  t.match(await child.next('ready'), { driver: 'net_af_packet', name: 'net_af_packet0' });

  const deny = await get(child, 'deny');
  t.equal(deny.code, 'SLUICE_DPDK_FLOW');
  t.equal(deny.message, 'dpdk net_af_packet0 (net_af_packet) flow rules: rte_flow_validate(port 0, rule 0: 203.0.113.0/24 priority 0 drop): Function not implemented [UNSPECIFIED] (Function not implemented (ENOSYS))');
  t.same(deny.detail, {
    errno: 38, errnoName: 'ENOSYS', syscall: 'rte_flow_validate', function: 'rte_flow_validate', strerror: 'Function not implemented',
    flowErrorType: 'UNSPECIFIED', flowErrorMessage: 'Function not implemented', rule: 0,
  }, 'the rte_flow_error and errno as detail');

  const applied = (await child.next('applied')).applied as Record<string, unknown>;
  t.same(applied.rules, [], 'nothing in the NIC');
  t.match(applied.refused, /rte_flow_validate\(port 0, rule 0: 203\.0\.113\.0\/24 priority 0 drop\): Function not implemented \[UNSPECIFIED\] \(Function not implemented \(ENOSYS\)\)/);
  t.match(applied.allowRefused, /rte_flow_validate.*ENOSYS/, 'the allow list was tried first, with the deny rules');
  t.same((applied.stays as { rule: string }[]).map((s) => s.rule), ['SYN rate per source']);
  t.match(applied.refusal, { code: 'SLUICE_DPDK_FLOW', detail: { function: 'rte_flow_validate', errnoName: 'ENOSYS' } });
  t.equal(applied.countersRefused, null);
  t.equal(applied.error, null);

  await served(t, child, v.ns);
  await common(t, child, 'net_af_packet0');
});

/** Whether this kernel has TC flower (what net_tap's flows become). */
function kernelHasFlower(): boolean {
  if (existsSync('/sys/module/cls_flower')) return true;
  try {
    return /^CONFIG_NET_CLS_FLOWER=[ym]$/m.test(gunzipSync(readFileSync('/proc/config.gz')).toString());
  } catch {
    return true; // unknown: do not assert a refusal
  }
}

const tapSkip = skip || (kernelHasFlower() ? 'this kernel has TC flower (cls_flower): net_tap may take the flows; this test covers the refusal' : false);

t.test('net_tap: validates without COUNT, then rte_flow_create fails without TC flower; the port serves on', { skip: tapSkip }, async (t) => {
  const ns = freshNamespace(t, `sluice-t-${process.pid}-flow`);
  const eal = ealArgs(t);
  const tapIf = 'sluice-tft';
  const child = startChild(t, { eal, device: `net_tap0,iface=${tapIf}`, stackIp: STACK_IP, kernelIp: KERNEL_IP, timeoutMs: 15_000 }, ns);
  t.match(await child.next('ready'), { driver: 'net_tap', name: 'net_tap0' });

  const deny = await get(child, 'deny');
  t.equal(deny.code, 'SLUICE_DPDK_FLOW');
  t.equal(deny.message, 'dpdk net_tap0 (net_tap) flow rules: rte_flow_create(port 0, rule 0: 203.0.113.0/24 priority 0 drop): overlapping rules or Kernel too old for flower support [HANDLE] (File exists (EEXIST))');
  t.same(deny.detail, {
    errno: 17, errnoName: 'EEXIST', syscall: 'rte_flow_create', function: 'rte_flow_create', strerror: 'File exists',
    flowErrorType: 'HANDLE', flowErrorMessage: 'overlapping rules or Kernel too old for flower support', rule: 0,
    countRefused: 'rte_flow_validate(port 0, rule 0: 203.0.113.0/24 priority 0 drop): action not supported [ACTION] (Operation not supported (EOPNOTSUPP))',
  }, 'validation passed once COUNT was left out (net_tap refuses COUNT); creation failed');

  const applied = (await child.next('applied')).applied as Record<string, unknown>;
  t.same(applied.rules, []);
  t.match(applied.refused, /rte_flow_create\(port 0, rule 0: 203\.0\.113\.0\/24 priority 0 drop\): overlapping rules or Kernel too old for flower support \[HANDLE\] \(File exists \(EEXIST\)\)/);
  t.match(applied.allowRefused, /rte_flow_create.*Kernel too old for flower support/);

  // The TAP the PMD made: its kernel side gets the peer's address and a MAC of its own.
  sh('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${tapIf}.disable_ipv6=1`]);
  sh('ip', ['-n', ns, 'link', 'set', tapIf, 'address', '02:00:c6:12:00:01']);
  sh('ip', ['-n', ns, 'addr', 'add', `${KERNEL_IP}/24`, 'dev', tapIf]);
  sh('ip', ['-n', ns, 'link', 'set', tapIf, 'up']);
  await served(t, child, ns);
  await common(t, child, 'net_tap0');
});

// What docs/dpdk.md and `sluice doctor` repeat for the other virtual PMDs: no flow API either.
for (const pmd of ['net_af_xdp', 'net_null'] as const) {
  t.test(`${pmd}: no flow API either (rte_flow_validate: ENOSYS)`, { skip }, async (t) => {
    const device = pmd === 'net_null' ? 'net_null0' : `net_af_xdp0,iface=${vethInNamespace(t).host}`;
    const child = startChild(t, { eal: ealArgs(t), device, stackIp: STACK_IP, kernelIp: KERNEL_IP, timeoutMs: 0 }, null);
    t.match(await child.next('ready'), { driver: pmd });
    const deny = await get(child, 'deny');
    t.equal(deny.message, `dpdk ${pmd}0 (${pmd}) flow rules: rte_flow_validate(port 0, rule 0: 203.0.113.0/24 priority 0 drop): Function not implemented [UNSPECIFIED] (Function not implemented (ENOSYS))`);
    t.match(deny.detail, { function: 'rte_flow_validate', errnoName: 'ENOSYS', flowErrorType: 'UNSPECIFIED' });
    await common(t, child, `${pmd}0`);
  });
}
