import t from 'tap';
import { placeFilter, pmdOf, type FilterPlacementInput } from '../../src/io/doctor-filter.js';
import type { XdpAvailability } from '../../src/io/xdp.js';

const ok: XdpAvailability = { ok: true, reason: 'XDP filter can be attached', fix: '', checks: [{ name: 'interface', ok: true, detail: 'interface veth0 exists' }] };
const missing: XdpAvailability = { ok: false, reason: 'interface "veth9" does not exist in this network namespace', fix: 'create veth9', checks: [] };
const base: FilterPlacementInput = { listener: 'edge', transport: 'tap', device: 'sl0', deny: 2, allow: 1, synRate: true, connLimit: true, xdp: { interface: 'veth0', mode: 'auto' } };

t.test('tap listener with xdp available: CIDRs and SYN rate in XDP, everything in software, nothing in the NIC', async (t) => {
  const p = placeFilter(base, () => ok);
  t.same(p.nic.rules, []);
  t.match(p.nic.reason, /rte_flow/);
  t.same(p.xdp.rules, ['deny (2 CIDRs)', 'allow (1 CIDR)', 'SYN rate per source']);
  t.equal(p.xdp.interface, 'veth0');
  t.same(p.software.rules, ['deny (2 CIDRs)', 'allow (1 CIDR)', 'SYN rate per source', 'connections per source']);
  t.match(p.software.reason, /connection limit/);
});

t.test('xdp unavailable or not configured: software only, with the reason', async (t) => {
  const p = placeFilter({ ...base, xdp: { interface: 'veth9', mode: 'auto' } }, () => missing);
  t.same(p.xdp.rules, []);
  t.match(p.xdp.reason, /unavailable: interface "veth9" does not exist.*fix: create veth9/);
  t.equal(p.software.rules.length, 4);
  const none = placeFilter({ ...base, xdp: null }, () => ok);
  t.match(none.xdp.reason, /not configured/);
  const afxdp = placeFilter({ ...base, transport: 'dpdk', device: 'net_af_xdp0,iface=veth0' }, () => ok);
  t.same(afxdp.xdp.rules, ['deny (2 CIDRs)', 'allow (1 CIDR)', 'SYN rate per source']);
  t.match(afxdp.xdp.reason, /steering program net_af_xdp loads on veth0 \(xdp_prog=.*filter_xsk\.bpf\.o\)/);
  const afpacket = placeFilter({ ...base, transport: 'dpdk', device: 'net_af_packet0,iface=veth0' }, () => ok);
  t.same(afpacket.xdp.rules, ['deny (2 CIDRs)', 'allow (1 CIDR)', 'SYN rate per source'], 'net_af_packet: XDP runs before the AF_PACKET hook');
});

t.test('nic: doctor says what rte_flow would get per device without creating any flow', async (t) => {
  const dpdk = (device: string, more: Partial<FilterPlacementInput> = {}) => placeFilter({ ...base, transport: 'dpdk', device, ...more }, () => ok).nic;
  t.same(placeFilter(base, () => ok).nic.rules, [], 'tap: no NIC');
  t.match(placeFilter(base, () => ok).nic.reason, /TAP device is not a NIC/);
  for (const pmd of ['net_af_packet', 'net_af_xdp', 'net_null']) {
    const n = dpdk(`${pmd}0,iface=veth0`);
    t.same(n.rules, [], `${pmd}: nothing`);
    t.match(n.reason, new RegExp(`${pmd} has no flow API: rte_flow_validate answers "Function not implemented" \\(ENOSYS\\)`));
  }
  const tapPmd = dpdk('net_tap0,iface=dtap0');
  t.same(tapPmd.rules, []);
  t.match(tapPmd.reason, /TC flower.*overlapping rules or Kernel too old for flower support.*EEXIST.*serve time/);
  const pci = dpdk('0000:3b:00.0');
  t.same(pci.rules, ['deny (2 CIDRs)', 'allow (1 CIDR) and a drop of every other source'], 'a real NIC: the CIDRs are tried');
  t.match(pci.reason, /tried through rte_flow when the port opens.*doctor creates no flow.*serve time/);
  t.same(dpdk('0000:3b:00.0', { allow: 0 }).rules, ['deny (2 CIDRs)']);
  const none = dpdk('0000:3b:00.0', { deny: 0, allow: 0 });
  t.same(none.rules, []);
  t.match(none.reason, /no deny or allow CIDRs.*SYN rate and connection limit never go to a NIC/);
});

t.test('pmdOf: the PMD of a devargs string, null for a PCI address', async (t) => {
  t.equal(pmdOf('net_af_packet0,iface=veth0'), 'net_af_packet');
  t.equal(pmdOf('net_tap12,iface=x'), 'net_tap');
  t.equal(pmdOf('net_af_xdp'), 'net_af_xdp');
  t.equal(pmdOf('0000:3b:00.0'), null);
});
