import t from 'tap';
import { join } from 'node:path';
import { loadConfig, parseConfigText } from '../../src/config/load.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'config', 'bypass-errors.yaml');

t.test('bypass listeners: tap block, stack address, filter CIDRs, each problem positioned', async (t) => {
  const r = await loadConfig(FIXTURE);
  t.equal(r.ok, false);
  if (r.ok) return;
  t.same(r.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`), [
    '7:22 listeners[0].filter.deny[0]: "198.18.0.0/33" has prefix length "33" which is not an integer 0-32',
    "11:5 listeners[1].tap: a 'tap' block only applies to transport 'tap' (this listener uses 'kernel')",
    "12:5 listeners[1].filter: the packet filter runs in the bypass stack; on transport 'kernel' use the host firewall",
    "14:14 listeners[2].address: device 'stap0' is already used by listeners[0] with address 198.18.0.2; one device has one stack address",
    "21:16 listeners[3].transport: transport 'tap' needs a 'tap' block (device, prefix_length, mtu)",
  ]);
});

t.test('a tap listener with defaults', async (t) => {
  const r = await parseConfigText(`
listeners:
  - { name: edge, address: 198.18.0.2, port: 443, transport: tap, tap: { device: sl0, gateway: 198.18.0.1 }, filter: { deny: [198.18.9.0/24] } }
routes: []
`, 'inline.yaml');
  t.ok(r.ok, r.ok ? '' : JSON.stringify(r.problems));
  if (!r.ok) return;
  const l = r.snapshot.listeners[0];
  t.match(l.tap, { device: 'sl0', prefix_length: 24, mtu: 1500, gateway: '198.18.0.1' });
  t.match(l.filter, { allow: [], deny: ['198.18.9.0/24'], max_connections_per_source: 0 });
  const bad = await parseConfigText(`
listeners:
  - { name: edge, address: 0.0.0.0, port: 443, transport: tap, tap: { gateway: 300.1.1.1 } }
routes: []
`, 'inline.yaml');
  t.equal(bad.ok, false);
  if (bad.ok) return;
  t.match(bad.problems.map((p) => p.message).join('\n'), /expected a dotted-quad IPv4 address/);
  t.match(bad.problems.map((p) => p.message).join('\n'), /stack's own IPv4 address/);
});

t.test('a SYN rate limit needs a burst', async (t) => {
  const r = await parseConfigText(`
listeners:
  - { name: edge, address: 198.18.0.2, port: 443, transport: tap, tap: {}, filter: { syn_rate_per_source: 10 } }
routes: []
`, 'inline.yaml');
  t.equal(r.ok, false);
  if (r.ok) return;
  t.match(r.problems[0], { line: 3, path: 'listeners[0].filter.syn_rate_per_source', message: /syn_burst_per_source >= 1/ });
});

t.test('dpdk listeners: the block, the process-wide EAL section, the mempool bound and one address per port', async (t) => {
  const ok = await parseConfigText(`
dpdk: { eal_args: [--no-huge, --no-pci, -m, "256", --file-prefix, sluice] }
listeners:
  - { name: edge, address: 198.18.0.2, port: 443, transport: dpdk, dpdk: { device: "net_af_packet0,iface=veth0", gateway: 198.18.0.1 } }
  - { name: plain, address: 198.18.0.2, port: 80, transport: dpdk, dpdk: { device: "net_af_packet0,iface=veth0" } }
routes: []
`, 'inline.yaml');
  t.ok(ok.ok, ok.ok ? '' : JSON.stringify(ok.problems));
  if (!ok.ok) return;
  t.match(ok.snapshot.listeners[0]!.dpdk, { device: 'net_af_packet0,iface=veth0', prefix_length: 24, mtu: 1500, rx_queue_size: 1024, tx_queue_size: 1024, mempool_size: 4095, gateway: '198.18.0.1', checksum_offload: 'device' });
  t.equal(ok.snapshot.listeners[0]!.dpdk!.rx_mode, undefined, 'rx_mode unset: the environment or in place decides');
  const bad = await parseConfigText(`listeners:
  - { name: a, address: 198.18.0.2, port: 1, transport: dpdk }
  - { name: b, address: 127.0.0.1, port: 2, dpdk: { device: net_tap0 } }
  - { name: c, address: 198.18.0.2, port: 3, transport: dpdk, dpdk: { device: "net_tap0,iface=x", rx_queue_size: 4096, mempool_size: 4096 } }
  - { name: d, address: 198.18.0.3, port: 4, transport: dpdk, dpdk: { device: "net_tap0,iface=x" } }
routes: []
`, 'inline.yaml');
  t.equal(bad.ok, false);
  if (bad.ok) return;
  t.same(bad.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`), [
    "2:57 listeners[0].transport: transport 'dpdk' needs a 'dpdk' block (device, prefix_length, mtu)",
    "2:57 listeners[0].transport: transport 'dpdk' needs the top-level 'dpdk' section with eal_args (the EAL starts once per process)",
    "3:45 listeners[1].dpdk: a 'dpdk' block only applies to transport 'dpdk' (this listener uses 'kernel')",
    "4:57 listeners[2].transport: transport 'dpdk' needs the top-level 'dpdk' section with eal_args (the EAL starts once per process)",
    '4:134 listeners[2].dpdk.mempool_size: mempool_size 4096 cannot fill the rings: rx_queue_size 4096 + tx_queue_size 1024 + 128 need at least 5248 mbufs',
    "5:25 listeners[3].address: device 'dpdk:net_tap0' is already used by listeners[2] with address 198.18.0.2; one device has one stack address",
    "5:57 listeners[3].transport: transport 'dpdk' needs the top-level 'dpdk' section with eal_args (the EAL starts once per process)",
  ]);
});

t.test('dpdk listeners: rx_mode and checksum_offload take their values or say which ones exist', async (t) => {
  const ok = await parseConfigText(`
dpdk: { eal_args: [--no-huge] }
listeners:
  - { name: edge, address: 198.18.0.2, port: 443, transport: dpdk, dpdk: { device: "net_tap0", rx_mode: copy, checksum_offload: software } }
routes: []
`, 'inline.yaml');
  t.ok(ok.ok, ok.ok ? '' : JSON.stringify(ok.problems));
  if (ok.ok) t.match(ok.snapshot.listeners[0]!.dpdk, { rx_mode: 'copy', checksum_offload: 'software' });
  const bad = await parseConfigText(`
dpdk: { eal_args: [--no-huge] }
listeners:
  - { name: edge, address: 198.18.0.2, port: 443, transport: dpdk, dpdk: { device: "net_tap0", rx_mode: zero, checksum_offload: nic } }
routes: []
`, 'inline.yaml');
  t.equal(bad.ok, false);
  if (bad.ok) return;
  t.same(bad.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`), [
    "4:105 listeners[0].dpdk.rx_mode: expected one of inplace, copy, got 'zero'",
    "4:129 listeners[0].dpdk.checksum_offload: expected one of device, software, none, got 'nic'",
  ]);
});
