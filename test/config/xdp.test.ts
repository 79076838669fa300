import t from 'tap';
import { parseConfigText } from '../../src/config/load.js';

t.test('filter.xdp: an interface and a mode (default auto); the TAP itself is refused', async (t) => {
  const r = await parseConfigText(`
listeners:
  - { name: edge, address: 198.18.0.2, port: 443, transport: tap, tap: { device: sl0 }, filter: { deny: [198.18.9.0/24], xdp: { interface: veth-front } } }
routes: []
`, 'inline.yaml');
  t.ok(r.ok, r.ok ? '' : JSON.stringify(r.problems));
  if (!r.ok) return;
  t.same(r.snapshot.listeners[0]!.filter?.xdp, { interface: 'veth-front', mode: 'auto' });

  const bad = await parseConfigText(`
listeners:
  - { name: edge, address: 198.18.0.2, port: 443, transport: tap, tap: { device: sl0 }, filter: { xdp: { interface: sl0, mode: native } } }
  - { name: b, address: 198.18.0.3, port: 443, transport: tap, tap: { device: sl1 }, filter: { xdp: { interface: "bad/name", mode: fast } } }
routes: []
`, 'inline.yaml');
  t.equal(bad.ok, false);
  if (bad.ok) return;
  const text = bad.problems.map((p) => `${p.line} ${p.path}: ${p.message}`).join('\n');
  t.match(text, /3 listeners\[0\]\.filter\.xdp\.interface: XDP on the TAP device 'sl0' itself never sees client traffic/);
  t.match(text, /4 listeners\[1\]\.filter\.xdp\.interface:/);
  t.match(text, /4 listeners\[1\]\.filter\.xdp\.mode:/);
});
