// The bypass stack with the XDP copy of its packet filter on the veth in front of its TAP
// (test/io/veth-front.ts): denied clients are dropped in the kernel, so Sluice's own counters
// stay at zero while the XDP rule counter rises; a reload changes the maps in place; and when XDP
// cannot load, the software filter does the same work and counts it (filter_deny).

import t from 'tap';
import type { FilterRules } from '../../src/net/filter.js';
import { xdpAvailability } from '../../src/io/xdp.js';
import { BypassStack } from '../../src/transport/bypass-stack.js';
import { Metrics } from '../../src/admin/metrics.js';
import { formatNetstat } from '../../src/cli/netstat.js';
import { tapSkip, until } from '../io/netns.js';
import { SLUICE_IP, sendSyns, tcpConnects, vethInFrontOf, xdpProgId } from '../io/veth-front.js';

const avail = xdpAvailability();
const skip = tapSkip || (avail.ok ? false : `XDP unavailable: ${avail.reason}`);

function filter(over: Partial<FilterRules> = {}): FilterRules {
  return { allow: [], deny: [], maxConnectionsPerSource: 0, synRatePerSource: 0, synBurstPerSource: 0, ...over };
}

function open(t: { teardown(fn: () => void): void }, rules: FilterRules, xdpInterface?: string): BypassStack {
  const stack = BypassStack.openTap({
    device: 'sluice-t%d', mtu: 1500, address: SLUICE_IP, prefixLength: 24, filter: rules,
    ...(xdpInterface !== undefined ? { xdp: { interface: xdpInterface, mode: 'auto' as const } } : {}),
  });
  t.teardown(() => stack.close());
  stack.listen(80, (sock) => sock.end());
  return stack;
}

t.test('denied client: XDP drops every SYN, the stack never sees one; a reload allows it in place', { skip }, async (t) => {
  const deny = filter({ deny: ['198.18.0.1/32'] });
  const stack = open(t, deny);
  const { ns, hostIf } = vethInFrontOf(t, stack.port.name);
  stack.setFilter(deny, { interface: hostIf, mode: 'auto' });
  const x = stack.netstat().xdp!;
  t.ok(x.attached, `attached (${x.error ?? `prog ${x.progId}, ${x.mode}`})`);
  const progId = xdpProgId(hostIf);
  t.equal(progId, x.progId, 'ip link show names the same program');

  await sendSyns(ns, SLUICE_IP, 6);
  t.ok(await until(() => (stack.netstat().xdp?.counters?.rules[0]?.packets ?? 0) >= 6, 2000), 'XDP deny rule counted the SYNs');
  const n = stack.netstat();
  t.equal(n.stack.counters.rxDrop.filter_deny, 0, "Sluice's software filter saw none of them");
  t.equal(n.stack.counters.accepted.tcp, 0, 'no TCP segment reached the stack');
  t.equal(n.xdp!.counters!.rules[0]!.rule, '198.18.0.1/32');

  // What operators see: /metrics and sluice netstat carry the XDP counters next to the stack's.
  const metrics = new Metrics({ processMetrics: false });
  metrics.watchBypass(() => [stack.netstat()]);
  const text = await metrics.registry.metrics();
  const drops = n.xdp!.counters!.rules[0]!.packets;
  t.match(text, new RegExp(`sluice_bypass_xdp_rule_drops_total\\{device="${stack.port.name}",interface="${hostIf}",rule="198.18.0.1/32"\\} (\\d+)`));
  t.match(text, new RegExp(`sluice_bypass_xdp_packets_total\\{device="${stack.port.name}",interface="${hostIf}",verdict="drop",reason="deny"\\} \\d+`));
  t.match(text, new RegExp(`sluice_bypass_xdp_attached\\{device="${stack.port.name}",interface="${hostIf}"\\} 1`));
  t.match(text, /sluice_bypass_drops_total\{[^}]*reason="filter_deny"\} 0/, "the stack's own filter_deny stays 0");
  t.ok(drops >= 6);
  const shown = formatNetstat({ stacks: [stack.netstat()] });
  t.match(shown, new RegExp(`xdp: ${hostIf} prog ${progId} `));
  t.match(shown, /by rule: deny 198\.18\.0\.1\/32 \d+/);

  // Reload: same interface, rules without the deny. The program stays, the maps change.
  stack.setFilter(filter());
  t.equal(xdpProgId(hostIf), progId, 'program id unchanged by the reload');
  t.ok(await tcpConnects(ns, SLUICE_IP, 80), 'the client connects once allowed');
  const after = stack.netstat();
  t.ok(after.stack.counters.accepted.tcp > 0, 'the stack received TCP');
  t.ok(after.xdp!.counters!.passed.packets > 0, 'XDP pass counter rose');
  t.same(after.xdp!.counters!.rules, [], 'no deny rule in the maps');

  // Reload without xdp: detached, the software filter alone.
  stack.setFilter(filter(), null);
  t.equal(xdpProgId(hostIf), 0, 'detached when the config drops xdp');
  t.equal(stack.netstat().xdp, null);
});

t.test('XDP cannot load (missing interface): the reason is reported and the software filter drops the client', { skip: tapSkip }, async (t) => {
  const stack = open(t, filter({ deny: ['198.18.0.1/32'] }), 'sx-missing0');
  const x = stack.netstat().xdp!;
  t.equal(x.attached, false);
  t.match(x.error ?? '', /sx-missing0/, `reason: ${x.error}`);
  t.match(formatNetstat({ stacks: [stack.netstat()] }), /xdp: sx-missing0 NOT attached \(software filter only\): .*ENODEV/);
  const { ns } = vethInFrontOf(t, stack.port.name);
  await sendSyns(ns, SLUICE_IP, 6);
  t.ok(await until(() => stack.netstat().stack.counters.rxDrop.filter_deny >= 6, 2000), `software filter_deny: ${stack.netstat().stack.counters.rxDrop.filter_deny}`);
  t.equal(stack.netstat().stack.counters.accepted.tcp, 0, 'no denied segment reached TCP');
});
