// BypassStack.netstat({ connections: false }), what the metrics scrape reads: the same counters
// and per-state connection counts as `sluice netstat`, without the per-connection list (which,
// built at every scrape, cost about 1.3 KiB per open connection until the next one). Root: a TAP
// device whose kernel side is in a throwaway namespace (198.18.0.0/15 addresses).

import t from 'tap';
import { spawn } from 'node:child_process';
import { BypassStack } from '../../src/transport/bypass-stack.js';
import { Metrics } from '../../src/admin/metrics.js';
import { STACK_IP, namespaceFor, tapSkip, until } from '../io/netns.js';

t.test('the metrics view of netstat has every counter but no connection list', { skip: tapSkip }, async (t) => {
  let stack: BypassStack | null = null;
  const ns = namespaceFor(
    t,
    () => {
      stack = BypassStack.openTap({
        device: 'sluice-t%d', mtu: 1500, address: STACK_IP, prefixLength: 24,
        filter: { allow: [], deny: [], maxConnectionsPerSource: 0, synRatePerSource: 0, synBurstPerSource: 0 },
      });
      return stack.port.name;
    },
    () => stack?.close(),
  );
  const s = stack!;
  s.listen(80, () => {}); // accepted and left open
  // Three connections from the kernel side, held open for a few seconds (bash /dev/tcp).
  const holders = [0, 1, 2].map(() =>
    spawn('ip', ['netns', 'exec', ns, 'bash', '-c', `exec 3<>/dev/tcp/${STACK_IP}/80; sleep 4`], { stdio: 'ignore' }),
  );
  t.teardown(() => holders.forEach((h) => h.kill()));
  t.ok(await until(() => s.tcp.counters.states.ESTABLISHED === 3, 3000), 'three connections established');

  const full = s.netstat();
  const lean = s.netstat({ connections: false });
  t.equal(full.connections.filter((c) => c.state === 'ESTABLISHED').length, 3, 'sluice netstat lists each connection');
  t.equal(full.connections.length, 4, 'and the listener');
  t.equal(lean.connections.length, 0, 'the metrics view lists none');
  t.equal(lean.tcp.states.ESTABLISHED, 3, 'but counts them by state');
  t.equal(lean.tcp.segmentsIn, full.tcp.segmentsIn, 'and has the same counters');
  t.equal(lean.device, full.device);

  const metrics = new Metrics({ processMetrics: false });
  metrics.watchBypass(() => [s.netstat({ connections: false })]);
  const text = await metrics.registry.metrics();
  t.match(text, new RegExp(`sluice_bypass_tcp_connections\\{device="${s.port.name}",state="ESTABLISHED"\\} 3`), '/metrics reports the three from the lean view');
});
