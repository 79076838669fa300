import t from 'tap';
import { placeFilter, type FilterPlacementInput } from '../../src/io/doctor-filter.js';
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
