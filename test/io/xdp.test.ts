// The XDP packet filter on a real veth in front of a TAP (test/io/veth-front.ts): drops happen in
// the kernel (the program's counters rise while the TAP reader above sees nothing), rules change
// in place (same program id), and every failure is a SLUICE_XDP error with the libbpf function.

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SluiceError } from '../../src/errors.js';
import { createFrameBatch, type FrameBatch } from '../../src/io/port.js';
import { TapPort } from '../../src/io/tap.js';
import { XdpFilter, xdpAvailability, type XdpRules } from '../../src/io/xdp.js';
import { tapSkip } from './netns.js';
import { CLIENT_IP, SLUICE_IP, sendSyns, sendUdp, vethInFrontOf, xdpProgId } from './veth-front.js';

const avail = xdpAvailability();
const skip = tapSkip || (avail.ok ? false : `XDP unavailable: ${avail.reason}`);

const ip = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const CLIENT = ip(CLIENT_IP);

function rules(over: Partial<XdpRules> = {}): XdpRules {
  return { deny: [], allow: [], synRatePerSource: 0, synBurstPerSource: 0, destination: ip(SLUICE_IP), ...over };
}

/** IPv4 frames from the client the TAP reader got, by protocol, over `ms` of polling. */
async function drain(port: TapPort, rx: FrameBatch, ms: number): Promise<{ udp: number; tcpSyn: number; other: number }> {
  const seen = { udp: 0, tcpSyn: 0, other: 0 };
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const n = port.rxBurst(rx);
    for (let i = 0; i < n; i++) {
      const b = rx.data.subarray(i * rx.slotSize, i * rx.slotSize + rx.lengths[i]!);
      if (b.length < 34 || b[12] !== 0x08 || b[13] !== 0x00) continue;
      const src = ((b[26]! << 24) | (b[27]! << 16) | (b[28]! << 8) | b[29]!) >>> 0;
      if (src !== CLIENT) continue;
      const proto = b[23];
      const l4 = 14 + (b[14]! & 15) * 4;
      if (proto === 17) seen.udp++;
      else if (proto === 6 && (b[l4 + 13]! & 0x12) === 0x02) seen.tcpSyn++;
      else seen.other++;
    }
    await new Promise((r) => setTimeout(r, n > 0 ? 0 : 5));
  }
  return seen;
}

async function setup(t: { teardown(fn: () => void): void }): Promise<{ port: TapPort; rx: FrameBatch; ns: string; hostIf: string }> {
  const port = TapPort.open({ name: 'sluice-t%d', mtu: 1500 });
  t.teardown(() => port.close());
  const front = vethInFrontOf(t, port.name);
  // The client sends to Sluice's MAC directly (no ARP: nothing answers on a raw TAP reader).
  const mac = [...port.mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
  execFileSync('ip', ['-n', front.ns, 'neigh', 'replace', SLUICE_IP, 'lladdr', mac, 'dev', front.peerIf, 'nud', 'permanent']);
  return { port, rx: createFrameBatch(64, 2048), ns: front.ns, hostIf: front.hostIf };
}

t.test('deny 198.18.0.1/32 drops in XDP: its rule counter rises and the TAP reader sees nothing; rules change in place', { skip }, async (t) => {
  const { port, rx, ns, hostIf } = await setup(t);
  const deny = [{ network: CLIENT, prefixLength: 32 }];
  const f = XdpFilter.attach(hostIf, rules({ deny }));
  t.teardown(() => f.detach());
  t.ok(f.progId > 0, `program id ${f.progId}, mode ${f.mode}`);
  t.equal(xdpProgId(hostIf), f.progId, 'ip link show reports the program');
  t.ok(existsSync(join(f.pinDir, 'deny_v4')), 'maps pinned for bpftool');
  if (hasBpftool()) {
    const dump = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'dump', 'pinned', join(f.pinDir, 'deny_v4')], { encoding: 'utf8' })) as { formatted?: { key: { prefixlen: number; addr: number } } }[];
    t.equal(dump.length, 1, 'bpftool reads the pinned deny map');
    // BTF (clang -g) lets bpftool print the key's fields; addr is in network order.
    t.same(dump[0]!.formatted?.key, { prefixlen: 32, addr: 0x010012c6 });
  }

  await sendUdp(ns, SLUICE_IP, 20);
  let seen = await drain(port, rx, 300);
  let c = f.counters();
  t.equal(seen.udp, 0, 'nothing from the denied source reached user space');
  t.ok(c.rules[0]!.packets >= 20, `deny rule counted ${c.rules[0]!.packets} drops`);
  t.equal(c.rules[0]!.rule, '198.18.0.1/32');
  t.equal(c.dropped.packets, c.rules[0]!.packets, 'all drops are the deny rule');
  t.ok(c.rules[0]!.bytes >= 20 * 42, 'bytes counted');

  // Allow again without detaching.
  f.setRules(rules());
  t.equal(xdpProgId(hostIf), f.progId, 'program id unchanged after setRules');
  await sendUdp(ns, SLUICE_IP, 20);
  seen = await drain(port, rx, 300);
  c = f.counters();
  t.ok(seen.udp >= 20, `the TAP reader got ${seen.udp} datagrams once allowed`);
  t.ok(c.passed.packets >= 20, `pass counter ${c.passed.packets}`);
  t.same(c.rules, [], 'no deny rules in force');

  // Traffic to another destination is outside the program's scope.
  f.setRules(rules({ deny }));
  await sendUdp(ns, '198.18.0.3', 5);
  await drain(port, rx, 100);
  c = f.counters();
  t.equal(c.rules[0]!.packets, 0, 'a rule added again starts from zero; other destinations are not filtered');

  // Allow list that misses the client.
  f.setRules(rules({ allow: [{ network: ip('198.18.1.0'), prefixLength: 24 }] }));
  await sendUdp(ns, SLUICE_IP, 10);
  seen = await drain(port, rx, 300);
  c = f.counters();
  t.equal(seen.udp, 0, 'outside the allow list: dropped');
  t.ok(c.notAllowed.packets >= 10, `not-allowed counter ${c.notAllowed.packets}`);

  // Inside the allow list (a /16 covering the client): passes.
  const before = f.counters().passed.packets;
  f.setRules(rules({ allow: [{ network: ip('198.18.0.0'), prefixLength: 16 }] }));
  await sendUdp(ns, SLUICE_IP, 10);
  seen = await drain(port, rx, 300);
  t.ok(seen.udp >= 10, 'inside the allow list: passes');
  t.ok(f.counters().passed.packets >= before + 10);
  t.equal(xdpProgId(hostIf), f.progId, 'still the same program after four rule changes');
});

t.test('per-source SYN limit: burst 2 at 1/s lets 2 of 10 simultaneous SYNs through', { skip }, async (t) => {
  const { port, rx, ns, hostIf } = await setup(t);
  const f = XdpFilter.attach(hostIf, rules({ synRatePerSource: 1, synBurstPerSource: 2 }));
  t.teardown(() => f.detach());
  await sendSyns(ns, SLUICE_IP, 10);
  const seen = await drain(port, rx, 200);
  const c = f.counters();
  t.ok(seen.tcpSyn >= 2 && seen.tcpSyn <= 3, `SYNs that reached the TAP: ${seen.tcpSyn}`);
  t.ok(c.synRate.packets >= 7, `SYN-rate drops: ${c.synRate.packets}`);
  t.equal(c.synRate.packets + seen.tcpSyn, 10, 'each SYN either dropped in XDP or delivered');
});

t.test('a missing interface is a SLUICE_XDP error from if_nametoindex (ENODEV)', { skip }, async (t) => {
  const err = t.throws(() => XdpFilter.attach('sx-missing0', rules())) as SluiceError;
  t.equal(err.code, 'SLUICE_XDP');
  t.equal(err.detail.function, 'if_nametoindex');
  t.equal(err.detail.errnoName, 'ENODEV');
  t.match(err.message, /sx-missing0/);
});

function hasBpftool(): boolean {
  try {
    execFileSync('bpftool', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function hasClang(): boolean {
  try {
    execFileSync('clang', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

t.test('a program the verifier rejects: SLUICE_XDP from bpf_object__load with the log tail', { skip: skip || (hasClang() ? false : 'clang is not installed') }, async (t) => {
  const { hostIf } = await setup(t);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-xdp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Reads the packet without the bounds check the verifier demands; same program and map names.
  const src = join(dir, 'bad.bpf.c');
  writeFileSync(src, [
    '#include <linux/bpf.h>',
    '#include <bpf/bpf_helpers.h>',
    'SEC("xdp") int sluice_filter(struct xdp_md *ctx) { return *(unsigned char *)(long)ctx->data; }',
    'char LICENSE[] SEC("license") = "GPL";',
  ].join('\n'));
  const multiarch = execFileSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).trim();
  execFileSync('clang', ['-O2', '-target', 'bpf', `-I/usr/include/${multiarch}`, '-c', src, '-o', join(dir, 'bad.bpf.o')]);
  const err = t.throws(() => XdpFilter.attach(hostIf, rules(), { objectPath: join(dir, 'bad.bpf.o') })) as SluiceError;
  t.equal(err.code, 'SLUICE_XDP');
  t.equal(err.detail.function, 'bpf_object__load');
  t.match(String(err.detail.log), /invalid access to packet|R\d+ invalid mem access/, 'the verifier says why');
  t.equal(xdpProgId(hostIf), 0, 'nothing left attached');
});

t.test('adopt: SLUICE_XDP when the interface has no program, or one that is not sluice_filter', { skip: skip || (hasClang() ? false : 'clang is not installed') }, async (t) => {
  const { hostIf } = await setup(t);
  const none = t.throws(() => XdpFilter.adopt(hostIf, rules())) as SluiceError;
  t.equal(none.code, 'SLUICE_XDP');
  t.equal(none.detail.errnoName, 'ENOENT');
  t.match(none.message, /no XDP program on/);
  // A valid program with another name, attached the way another tool would.
  const dir = mkdtempSync(join(tmpdir(), 'sluice-xdp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, 'other.bpf.c');
  writeFileSync(src, '#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nSEC("xdp") int other_prog(struct xdp_md *ctx) { return XDP_PASS; }\nchar LICENSE[] SEC("license") = "GPL";\n');
  const multiarch = execFileSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).trim();
  execFileSync('clang', ['-O2', '-target', 'bpf', `-I/usr/include/${multiarch}`, '-c', src, '-o', join(dir, 'other.bpf.o')]);
  execFileSync('ip', ['link', 'set', 'dev', hostIf, 'xdp', 'obj', join(dir, 'other.bpf.o'), 'sec', 'xdp']);
  t.teardown(() => {
    try {
      execFileSync('ip', ['link', 'set', 'dev', hostIf, 'xdp', 'off']);
    } catch {
      // the veth is already gone
    }
  });
  const foreign = t.throws(() => XdpFilter.adopt(hostIf, rules())) as SluiceError;
  t.equal(foreign.code, 'SLUICE_XDP');
  t.match(foreign.message, /is 'other_prog', not sluice_filter/);
  // And attach refuses to replace it.
  const busy = t.throws(() => XdpFilter.attach(hostIf, rules())) as SluiceError;
  t.equal(busy.detail.errnoName, 'EBUSY');
  t.match(busy.message, /already has an XDP program/);
});

t.test("mode 'generic' runs after skb allocation and still drops the denied source", { skip }, async (t) => {
  const { port, rx, ns, hostIf } = await setup(t);
  const f = XdpFilter.attach(hostIf, rules({ deny: [{ network: CLIENT, prefixLength: 32 }] }), { mode: 'generic' });
  t.teardown(() => f.detach());
  t.equal(f.mode, 'generic');
  await sendUdp(ns, SLUICE_IP, 10);
  const seen = await drain(port, rx, 300);
  t.equal(seen.udp, 0);
  t.ok(f.counters().rules[0]!.packets >= 10, `generic-mode drops: ${f.counters().rules[0]!.packets}`);
});
