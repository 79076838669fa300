// The bypass stack's own packet filter (iptables never sees this traffic): a deny rule for the
// client's address drops its SYNs before TCP, netstat and /metrics count them as filter_deny, and
// a reload (SIGHUP) with the rule removed lets the same client in without a restart.

import t from 'tap';
import { writeFile, readFile } from 'node:fs/promises';
import {
  adminGet, bypassSkip, namespaceWithTap, startNsSluice, nsRun, scratch, netstatJson, netstatCli,
  KERNEL_IP, STACK_IP, TAP_DEV,
} from './netns.js';

function config(filter: string, tap = `{ device: ${TAP_DEV} }`): string {
  return `
listeners:
  - name: edge
    address: ${STACK_IP}
    port: 443
    transport: tap
    tap: ${tap}
    filter: ${filter}
    tls:
      certificates: [{ cert: dev.pem, key: dev-key.pem, generate: dev, default: true }]
routes:
  - { name: direct, match: { path: { prefix: / } }, direct_response: { status: 200, body: "filter passed\\n" } }
logging: { level: info, access_log: false }
`;
}

function metricValue(text: string, re: RegExp): number | null {
  const m = re.exec(text);
  return m ? Number(m[1]) : null;
}

const FILTER_DENY_METRIC = /^sluice_bypass_drops_total\{[^}]*reason="filter_deny"[^}]*\} (\d+)/m;

t.test('packet filter on the bypass stack: deny, count, reload to allow', { skip: bypassSkip }, async (t) => {
  const dir = await scratch(t);
  const ns = namespaceWithTap(t);
  const sluice = await startNsSluice(t, ns, config(`{ deny: [${KERNEL_IP}/32] }`), dir);
  const curl = () => nsRun(ns, 'curl', ['-sk', '--max-time', '2', `https://${STACK_IP}/`], { timeoutMs: 10_000 });

  await t.test('a denied source times out, and filter_deny rises in netstat and /metrics', async (t) => {
    const before = (await netstatJson(sluice.adminSocket)).stacks[0].stack.counters.rxDrop.filter_deny;
    const r = await curl();
    t.equal(r.code, 28, 'curl timed out (exit 28): the SYNs vanished, no RST either');
    const after = (await netstatJson(sluice.adminSocket)).stacks[0].stack.counters.rxDrop.filter_deny;
    t.ok(after > before, `filter_deny ${before} -> ${after}`);
    const n = await netstatJson(sluice.adminSocket);
    t.same(n.stacks[0].connections.map((c) => c.state), ['LISTEN'], 'no connection was created for the denied source');
    const text = await netstatCli(sluice.adminSocket, false);
    t.match(text.stdout, /^drops: .*rx filter_deny \d+/m, 'netstat lists the non-zero drop reason');
    const metrics = await adminGet(sluice.adminSocket, '/metrics');
    const v = metricValue(metrics, FILTER_DENY_METRIC);
    t.ok(v !== null && v >= after, `sluice_bypass_drops_total{reason="filter_deny"} = ${v}`);
  });

  await t.test('SIGHUP after removing the deny rule: the same client gets through, same process', async (t) => {
    const pid = sluice.proc.pid;
    const denied = (await netstatJson(sluice.adminSocket)).stacks[0].stack.counters.rxDrop.filter_deny;
    // The reload also asks for another MTU: a running port keeps its own, and the log says so.
    await writeFile(sluice.configPath + '.new', config('{ deny: [] }', `{ device: ${TAP_DEV}, mtu: 1400 }`) + `\nadmin: { address: 127.0.0.1, port: 0, socket: ${sluice.adminSocket} }\n`);
    // Replace atomically so the file watcher never reads half a file.
    await nsRun(ns, 'mv', [sluice.configPath + '.new', sluice.configPath]);
    t.notMatch(await readFile(sluice.configPath, 'utf8'), /198\.18\.0\.1\/32/);
    sluice.proc.kill('SIGHUP');
    await sluice.waitLog((l) => l.msg === 'config reloaded' && l.trigger === 'SIGHUP');
    const warned = sluice.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('bypass port options differ from the running port'));
    t.match(warned, { level: 40, listener: 'edge', device: TAP_DEV, changed: { mtu: { running: 1500, configured: 1400 } } }, 'the MTU change is logged as not applied (warn, with both values)');
    t.equal((await netstatJson(sluice.adminSocket)).stacks[0].stack.mtu, 1500, 'the running port keeps MTU 1500');
    const r = await curl();
    t.equal(r.code, 0, `curl after reload: ${r.stderr}`);
    t.equal(r.stdout, 'filter passed\n');
    t.equal(sluice.proc.pid, pid, 'no restart');
    t.equal(sluice.proc.exitCode, null, 'still running');
    const after = (await netstatJson(sluice.adminSocket)).stacks[0].stack.counters.rxDrop.filter_deny;
    t.equal(after, denied, 'counters kept across the reload, and nothing more denied');
  });
});
