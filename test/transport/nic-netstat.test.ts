// `sluice netstat`'s nic: line for each state a DPDK port's NIC filter can be in. The refused
// state is also produced for real by test/e2e/dpdk-flow.test.ts; the installed states need a NIC
// that takes rte_flow rules, which no device here does, so their text is fixed here.

import t from 'tap';
import { formatNic } from '../../src/cli/netstat.js';
import type { NicFilterStatus } from '../../src/io/flow.js';

const base: NicFilterStatus = {
  port: '0000:3b:00.0', driver: 'mlx5_pci', rules: [], refused: null, allowRefused: null, countersRefused: null, stays: [], error: null, refusal: null,
};

t.test('flows in the NIC: each with what it matched, "-" where the PMD counts nothing', async (t) => {
  const n: NicFilterStatus = {
    ...base,
    rules: [
      { rule: 'deny 203.0.113.0/24', action: 'drop', priority: 0, packets: 12 },
      { rule: 'allow 198.18.0.0/15', action: 'pass', priority: 1, packets: 500 },
      { rule: 'not allowed', action: 'drop', priority: 2, packets: null },
    ],
  };
  t.equal(formatNic(n), 'nic: 0000:3b:00.0 (mlx5_pci) 3 flows: deny 203.0.113.0/24 dropped 12, allow 198.18.0.0/15 passed 500, not allowed dropped -');
});

t.test('deny flows only: the allow list\'s refusal and the missing counters are said', async (t) => {
  const n: NicFilterStatus = {
    ...base,
    rules: [{ rule: 'deny 198.18.0.1/32', action: 'drop', priority: 0, packets: null }],
    allowRefused: 'rte_flow_validate(port 0, rule 1: 198.18.0.0/15 priority 1 queue 0): priority out of range [ATTR_PRIORITY] (Operation not supported (EOPNOTSUPP))',
    countersRefused: 'rte_flow_validate(port 0, rule 0: 198.18.0.1/32 priority 0 drop): action not supported [ACTION] (Operation not supported (EOPNOTSUPP))',
  };
  t.equal(formatNic(n), [
    'nic: 0000:3b:00.0 (mlx5_pci) 1 flow: deny 198.18.0.1/32 dropped -',
    `  allow list not in the NIC (XDP and software keep it): ${n.allowRefused}`,
    `  no counters: ${n.countersRefused}`,
  ].join('\n'));
});

t.test('nothing in the NIC: the refusal, or that there was nothing to put there; a leftover error', async (t) => {
  t.equal(formatNic({ ...base, refused: 'rte_flow_validate(...): Function not implemented' }),
    'nic: 0000:3b:00.0 (mlx5_pci) no rules in the NIC (the software filter and XDP, where configured, do the work): rte_flow_validate(...): Function not implemented');
  t.equal(formatNic({ ...base, error: '1 flow(s) of earlier rules are still in the NIC: ...' }),
    'nic: 0000:3b:00.0 (mlx5_pci) no rules in the NIC: the filter has no deny or allow CIDRs\n  last error: 1 flow(s) of earlier rules are still in the NIC: ...');
});
