// Many short TLS connections and a wrk run against the gateway on the bypass path: every
// connection succeeds, and afterwards the bypass TCP's connection table (read with the real
// `sluice netstat`) drains back to the listener plus TIME-WAIT entries.

import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CHURN_JS,
  busyConnections,
  drained,
  bypassSkip, namespaceWithTap, startNsSluice, nsRun, scratch, netstatCli,
  STACK_IP, TAP_DEV,
} from './netns.js';

const CONNECTIONS = 300;


t.test('connection churn and wrk over the bypass stack', { skip: bypassSkip }, async (t) => {
  const dir = await scratch(t);
  const ns = namespaceWithTap(t);
  const sluice = await startNsSluice(t, ns, `
listeners:
  - name: edge
    address: ${STACK_IP}
    port: 443
    transport: tap
    tap: { device: ${TAP_DEV} }
    tls:
      certificates: [{ cert: dev.pem, key: dev-key.pem, generate: dev, default: true }]
routes:
  - { name: direct, match: { path: { prefix: / } }, direct_response: { status: 200, body: "churn ok\\n" } }
logging: { level: info, access_log: false }
`, dir);

  await t.test(`${CONNECTIONS} sequential new TLS connections all succeed, then the table drains`, async (t) => {
    const script = join(dir, 'churn.mjs');
    await writeFile(script, CHURN_JS);
    const r = await nsRun(ns, process.execPath, [script, STACK_IP, String(CONNECTIONS), '40000', 'churn.test', 'churn ok\n'], { timeoutMs: 50_000 });
    t.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { attempted: number; ok: number; errors: string[]; ms: number };
    t.equal(res.attempted, CONNECTIONS, `all attempted within the time budget (${res.ms} ms)`);
    t.equal(res.ok, CONNECTIONS, `all succeeded; errors: ${JSON.stringify(res.errors)}`);
    const n = await drained(sluice.adminSocket, 10_000);
    t.same(busyConnections(n), [], 'only LISTEN and TIME-WAIT remain');
    const s = n.stacks[0];
    t.equal(s.tcp.states.LISTEN, 1, 'one listener');
    t.equal(s.tcp.states.ESTABLISHED, 0, 'nothing established');
    // The server closes first (Connection: close), so its side goes through TIME-WAIT (RFC 9293 3.6).
    t.ok(s.tcp.states['TIME-WAIT'] > 0, `TIME-WAIT entries: ${s.tcp.states['TIME-WAIT']}`);
    t.equal(s.tcp.checksumErrors, 0, 'no checksum errors');

    const text = await netstatCli(sluice.adminSocket, false);
    t.equal(text.code, 0, text.stderr);
    t.match(text.stdout, new RegExp(`^${TAP_DEV}  ${STACK_IP.replace(/\./g, '\\.')}/24  mac [0-9a-f:]{17}  mtu 1500  poll duty \\d+\\.\\d%`, 'm'), 'device header');
    t.match(text.stdout, /^State\s+Local\s+Remote\s+Send-Q\s+Recv-Q\s+RTT-ms\s+RTO-ms\s+Cwnd\s+Ssthresh\s+Retx\s+Bytes-In\s+Bytes-Out$/m, 'column header');
    t.match(text.stdout, /^LISTEN\s+198\.18\.0\.2:443\s+\*:\*/m, 'listener row');
    t.match(text.stdout, /^TIME-WAIT\s+198\.18\.0\.2:443\s+198\.18\.0\.1:\d+\s/m, 'TIME-WAIT rows');
    t.match(text.stdout, new RegExp(`^tcp: segments in \\d+ out \\d+, retransmits \\d+ .*opens passive ${CONNECTIONS} active 0`, 'm'), 'counters line');
    t.match(text.stdout, /^states: LISTEN 1, TIME-WAIT \d+$/m, 'per-state counts (non-zero only)');
  });

  await t.test('wrk -t1 -c20 -d3s: no socket errors, every response 2xx, and the table drains', async (t) => {
    const r = await nsRun(ns, 'wrk', ['-t1', '-c20', '-d3s', '--latency', `https://${STACK_IP}/`], { timeoutMs: 20_000 });
    t.equal(r.code, 0, r.stderr);
    t.comment(r.stdout.split('\n').filter((l) => /Requests\/sec|requests in|99%/.test(l)).join(' | '));
    t.notMatch(r.stdout, /Socket errors/, 'no socket errors (connect, read, write, timeout)');
    t.notMatch(r.stdout, /Non-2xx or 3xx responses/, 'no non-2xx responses');
    const m = /(\d+) requests in/.exec(r.stdout);
    t.ok(m && Number(m[1]) > 100, `requests served: ${m?.[1]}`);
    const n = await drained(sluice.adminSocket, 10_000);
    t.same(busyConnections(n), [], 'wrk closed its 20 connections; only LISTEN and TIME-WAIT remain');
  });
});
