// DpdkPort (net_af_packet on a veth whose peer sits in a namespace the test creates) against the
// kernel's own ARP and ICMP, and the typed error paths. The EAL starts once per process, so the
// DPDK side of each test runs in its own child process (test/io/dpdk-child.ts).

import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { childLines, type ChildLines } from './child-lines.js';
import { until } from './netns.js';
import { dpdkSkip as skip, ealArgs, KERNEL_IP, linkExists, namespaceExists, sh, STACK_IP, vethInNamespace, type VethNamespace } from './veth.js';

const CHILD = join(import.meta.dirname, 'dpdk-child.ts');

interface Child extends ChildLines {
  /** Closes the child's stdin: the answer scenario then closes its port and cleans up. */
  finish(): void;
  /** Writes to the child's stdin: the cycle scenario starts on it. */
  write(line: string): void;
}

function startChild(t: { teardown(fn: () => void): void }, scenario: string, opts: Record<string, unknown>): Child {
  const p = spawn(process.execPath, ['--import=tsx', CHILD, scenario, JSON.stringify(opts)], { stdio: ['pipe', 'pipe', 'pipe'] });
  return { ...childLines(t, p, 20_000), finish: () => p.stdin.end(), write: (line) => p.stdin.write(line) };
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

// ping(8) may be absent (iputils-ping is not among the test deps): three ICMP echo requests with
// 600-byte payloads over a raw socket, each waiting up to 2 s for its reply; prints ping's summary.
const PING = `
import os, socket, struct, sys, time
dst = sys.argv[1]
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(2)
ident, got = os.getpid() & 0xffff, 0
for seq in range(1, 4):
    body = bytes((i * 7) & 0xff for i in range(600))
    hdr = struct.pack('!BBHHH', 8, 0, 0, ident, seq)
    s.sendto(struct.pack('!BBHHH', 8, 0, csum(hdr + body), ident, seq) + body, (dst, 0))
    end = time.time() + 2
    while time.time() < end:
        try: pkt, _ = s.recvfrom(2048)
        except socket.timeout: break
        icmp = pkt[(pkt[0] & 15) * 4:]
        if icmp[0] == 0 and struct.unpack('!HH', icmp[4:8]) == (ident, seq) and icmp[8:] == body:
            got += 1
            break
    time.sleep(0.2)
print('3 packets transmitted, %d received' % got)
sys.exit(0 if got == 3 else 1)
`;

/** The namespace pings the stack address; the child answers ARP and echo; then counters, stats and cleanup. */
async function answered(t: Test, child: Child, v: VethNamespace, mac: string, name: string, eal: string[]): Promise<void> {
  const ping = await run('ip', ['netns', 'exec', v.ns, 'python3', '-c', PING, STACK_IP], 20_000);
  t.equal(ping.code, 0, `ping from the namespace through DPDK answered: ${ping.out.trim().split('\n').slice(-2).join(' / ')}`);
  t.match(ping.out, /3 packets transmitted, 3 received/);
  // Before the child finishes: closing a net_tap port deletes its interface.
  const neigh = sh('ip', ['-n', v.ns, 'neigh', 'show', STACK_IP, 'dev', v.peer]);
  t.match(neigh, new RegExp(`lladdr ${mac} `), `namespace neighbour table: ${neigh.trim()}`);
  const done = await child.next('done');
  t.ok((done.arpReplies as number) >= 1, 'answered the kernel ARP request');
  t.equal(done.echoReplies, 3, 'answered three echo requests');
  const seen = done.seen as { arp?: number; icmpType?: number; len: number }[];
  t.ok(seen.some((s) => s.arp === 1), 'rx saw the ARP request');
  t.equal(seen.filter((s) => s.icmpType === 8 && s.len === 14 + 20 + 8 + 600).length, 3, 'rx saw three 642-byte echo requests, whole');


  const c = done.counters as Record<string, number>;
  t.equal(c.rxFrames, seen.length, 'rx frames counted once each');
  t.equal(c.rxBytes, done.rxBytes);
  t.equal(c.txFrames, (done.arpReplies as number) + 3);
  t.equal(c.txDropped, 0);
  const s = done.stats as { ipackets: number; opackets: number; xstats: Record<string, number> };
  t.equal(s.ipackets, c.rxFrames, "the device's ipackets match the port's rx count");
  t.equal(s.opackets, c.txFrames);
  t.equal(s.xstats.rx_good_packets, s.ipackets, 'xstats come through by name');
  child.finish();
  t.same((await child.next('closedPortRx')).closedPortRx, { ok: false, code: 'SLUICE_DPDK_PORT', message: `dpdk ${name}: rxBurst on a closed port`, detail: { op: 'rxBurst' } });
  t.equal((await child.next('cleaned')).cleaned, 'cleaned');
  t.equal(await child.exited, 0, 'the child exits cleanly after rte_eal_cleanup');
  t.notOk(existsSync(`/var/run/dpdk/${eal[eal.indexOf('--file-prefix') + 1]}`), 'cleanup removed the EAL runtime directory');
}

for (const pmd of ['net_af_packet', 'net_af_xdp'] as const) {
  t.test(`${pmd}: the namespace ARPs and pings us; hand-built replies go out; its neighbour table learns our MAC`, { skip }, async (t) => {
    const v = vethInNamespace(t);
    const eal = ealArgs(t);
    const child = startChild(t, 'answer', { eal, device: `${pmd}0,iface=${v.host}`, stackIp: STACK_IP, kernelIp: KERNEL_IP, echoes: 3, timeoutMs: 15_000 });
    const ready = await child.next('ready');
    const hostMac = sh('cat', [`/sys/class/net/${v.host}/address`]).trim();
    t.equal(ready.mac, hostMac, `the port MAC is the veth host end (${pmd} uses the interface MAC)`);
    t.equal(ready.name, `${pmd}0`);
    t.equal(ready.backend, 'dpdk');
    t.equal(ready.waitFd, -1, 'poll-only');
    t.equal(ready.mtu, 1500);
    const info = ready.info as { driver: string; link: { up: boolean }; mempool: { size: number } };
    t.equal(info.driver, pmd);
    t.equal(info.link.up, true, 'link up (the veth is up)');
    t.equal(info.mempool.size, 2303);
    await answered(t, child, v, hostMac, `${pmd}0`, eal);
  });
}

// The peer's side sends numbered frames with the test's EtherType from an AF_PACKET socket, a
// group of 32 at a time with a short pause, so the port's 2048-deep ring absorbs scheduling hiccups.
const FLOOD = `
import socket, struct, sys, time
ifname, dst, count = sys.argv[1], bytes.fromhex(sys.argv[2].replace(':', '')), int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
src = s.getsockname()[4]
for seq in range(count):
    s.send(dst + src + struct.pack('!HI', 0x88b5, seq) + bytes(42))
    if seq % 32 == 31: time.sleep(0.0005)
`;

function peerRxPackets(v: VethNamespace): number {
  return Number(sh('ip', ['netns', 'exec', v.ns, 'cat', `/sys/class/net/${v.peer}/statistics/rx_packets`]).trim());
}

// DPDK 22.11's af_xdp PMD takes the pool's memory as the socket's UMEM assuming packed objects; a
// pool laid out one mbuf per 4 KiB page left its upper part outside the UMEM, and the kernel
// silently dropped every tx descriptor and fill-ring entry pointing there (tx frames counted as sent
// never arrived; rx stalled). Every mbuf is used here, so a pool the PMD misreads loses frames.
for (const [pmd, rxMode] of [['net_af_xdp', 'inplace'], ['net_af_xdp', 'copy'], ['net_af_packet', 'inplace']] as const) {
  t.test(`${pmd}, rx ${rxMode}: frames through every mbuf of the pool all arrive, both ways`, { skip }, async (t) => {
    const v = vethInNamespace(t);
    const eal = ealArgs(t);
    const frames = 3 * 2559;
    const peerMac = sh('ip', ['netns', 'exec', v.ns, 'cat', `/sys/class/net/${v.peer}/address`]).trim();
    const child = startChild(t, 'cycle', { eal, device: `${pmd}0,iface=${v.host}`, peerMac, frames, rxMode, timeoutMs: 20_000 });
    const ready = await child.next('ready');
    t.equal(ready.rxMode, rxMode);
    t.equal(ready.pool, 2559);
    const before = peerRxPackets(v);
    child.write('go\n');
    child.finish();
    const tx = await child.next('txDone');
    t.equal(tx.sent, frames, `the port took all ${frames} frames (three times the pool)`);
    const c = tx.counters as Record<string, number>;
    t.equal(c.txDropped, 0);
    // The kernel counts what actually left on the veth; the port's count must not exceed it.
    await until(() => peerRxPackets(v) - before >= frames, 5_000);
    t.equal(peerRxPackets(v) - before, frames, "the peer received every frame the port counted as sent (veth rx_packets)");
    await child.next('rxReady');
    const flood = await run('ip', ['netns', 'exec', v.ns, 'python3', '-c', FLOOD, v.peer, ready.mac as string, String(frames)], 30_000);
    t.equal(flood.code, 0, flood.out);
    const rx = await child.next('rxDone');
    const s = rx.stats as { imissed: number; rxNombuf: number };
    t.equal(rx.got, frames, `all ${frames} numbered frames received, each once (device imissed ${s.imissed}, rx_nombuf ${s.rxNombuf})`);
    t.equal(rx.outOfRange, 0);
    t.equal(await child.exited, 0);
  });
}

t.test('rx frames longer than the slot are dropped whole and counted; unsendable tx frames are consumed and counted', { skip }, async (t) => {
  const v = vethInNamespace(t);
  const eal = ealArgs(t);
  const child = startChild(t, 'drops', { eal, device: `net_af_packet0,iface=${v.host}`, stackIp: STACK_IP, kernelIp: KERNEL_IP, echoes: 3, timeoutMs: 15_000 });
  await child.next('ready');
  // Three 642-byte echo requests into 128-byte slots; no replies come, so the pinger fails.
  await run('ip', ['netns', 'exec', v.ns, 'python3', '-c', PING, STACK_IP], 20_000);
  const rx = await child.next('rxDone');
  const c = rx.counters as Record<string, number>;
  t.ok(c.rxDropped >= 3, `three oversize frames dropped (${c.rxDropped})`);
  t.equal(rx.rxTooBig, c.rxDropped, "the device stats' rxTooBig agrees");
  t.ok((rx.delivered as number[]).every((l) => l <= 128), 'only whole frames that fit were delivered');
  const tx = await child.next('txDone');
  t.same({ consumed: tx.consumed, txFrames: tx.txFrames, txDropped: tx.txDropped, txTooBig: tx.txTooBig }, { consumed: 3, txFrames: 1, txDropped: 2, txTooBig: 2 });
  t.equal(await child.exited, 0);
});

t.test('errors are typed and leave nothing behind: bad EAL args, missing interface, mempool too small or too big, bad MTU', { skip }, async (t) => {
  const v = vethInNamespace(t);
  const eal = ealArgs(t);
  const device = `net_af_packet0,iface=${v.host}`;
  const child = startChild(t, 'errors', { eal, device });
  type R = { ok: boolean; code?: string; message?: string; detail?: Record<string, unknown> };
  const get = async (k: string): Promise<R> => (await child.next(k))[k] as R;

  const bad = await get('badEal');
  t.equal(bad.code, 'SLUICE_DPDK_EAL');
  t.equal(bad.message, 'dpdk EAL [--this-is-not-an-eal-option]: rte_eal_init: Invalid argument (EINVAL)');
  t.same(bad.detail, { errno: 22, errnoName: 'EINVAL', syscall: 'rte_eal_init', function: 'rte_eal_init' });
  t.same(await get('goodEal'), { ok: true }, 'after an argument error the EAL still starts');
  const other = await get('otherEal');
  t.equal(other.code, 'SLUICE_DPDK_EAL');
  t.match(other.message, /already initialised in this process with other arguments .*it starts once per process/);

  const missing = await get('missingIface');
  t.equal(missing.code, 'SLUICE_DPDK_PORT');
  t.match(missing.message, /^dpdk port 'net_af_packet0,iface=sluice-t-absent': rte_dev_probe\('net_af_packet0,iface=sluice-t-absent'\): /);
  t.equal(missing.detail?.function, 'rte_dev_probe');
  t.type(missing.detail?.errno, 'number');

  const small = await get('smallPool');
  t.equal(small.code, 'SLUICE_DPDK_MEMPOOL');
  t.match(small.message, /option 'mempoolSize' 100 is too small: rx ring 1024 \+ tx ring 1024 \+ one burst 64 \+ cache 64 need at least 2176 mbufs/);
  const huge = await get('hugePool');
  t.equal(huge.code, 'SLUICE_DPDK_MEMPOOL', `a pool larger than EAL memory (-m 256): ${huge.message}`);
  t.match(huge.message, /rte_pktmbuf_pool_create\(sluice_p\d+, 4000000 mbufs of \d+ bytes\): /);
  t.equal(huge.detail?.errnoName, 'ENOMEM');
  const mtu = await get('badMtu');
  t.equal(mtu.code, 'SLUICE_PORT_CONFIG');

  t.same(await get('reopen'), { ok: true }, 'the device opens after all those failures');
  const second = await get('secondOpen');
  t.equal(second.code, 'SLUICE_DPDK_PORT');
  t.match(second.message, /is already open/);
  t.same(await get('reopenAfterClose'), { ok: true }, 'close releases the hot-plugged device: it can be probed again');
  const after = await get('afterCleanup');
  t.equal(after.code, 'SLUICE_DPDK_EAL');
  t.match(after.message, /cleaned up and cannot start again/);
  t.equal(await child.exited, 0, 'no crash: the child exits normally');
  t.ok(linkExists(v.host), 'the veth is still there (DPDK never deletes the interface)');
  t.ok(namespaceExists(v.ns));
});

t.test('teardown removed every namespace and veth this file created', { skip }, async (t) => {
  // Runs after the tests above (tap runs subtests in order); their teardowns have run.
  const left = sh('ip', ['netns', 'list']).split('\n').filter((l) => l.startsWith(`sluice-t-${process.pid}-`));
  t.same(left, [], 'no namespace left');
  const links = sh('ip', ['-o', 'link', 'show']).split('\n').filter((l) => l.includes(`sluice-t${process.pid.toString(36)}`));
  t.same(links, [], 'no veth left');
});

t.test('net_tap: the TAP interface DPDK creates, moved into a namespace, carries the same ARP/ICMP exchange', { skip }, async (t) => {
  const ns = `sluice-t-${process.pid}-tap`;
  const ifname = `sluice-tt${process.pid.toString(36)}`.slice(0, 15);
  t.teardown(() => {
    try {
      sh('ip', ['netns', 'del', ns]);
    } catch {
      // gone
    }
  });
  sh('ip', ['netns', 'add', ns]);
  const eal = ealArgs(t);
  const child = startChild(t, 'answer', { eal, device: `net_tap0,iface=${ifname}`, stackIp: STACK_IP, kernelIp: KERNEL_IP, echoes: 3, timeoutMs: 15_000 });
  const ready = await child.next('ready');
  t.equal((ready.info as { driver: string }).driver, 'net_tap');
  // The PMD keeps its fd; only the kernel side moves, as with TapPort (test/io/netns.ts).
  sh('ip', ['link', 'set', ifname, 'netns', ns]);
  sh('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${ifname}.disable_ipv6=1`]);
  sh('ip', ['-n', ns, 'addr', 'add', `${KERNEL_IP}/24`, 'dev', ifname]);
  // net_tap gives the kernel interface the port's own MAC; the kernel is another host on this
  // link, so it gets a different (locally administered) one.
  t.equal(sh('ip', ['netns', 'exec', ns, 'cat', `/sys/class/net/${ifname}/address`]).trim(), ready.mac, 'net_tap mirrors its MAC onto the kernel interface');
  sh('ip', ['-n', ns, 'link', 'set', ifname, 'address', '02:00:c6:12:00:01']);
  sh('ip', ['-n', ns, 'link', 'set', ifname, 'up']);
  await answered(t, child, { ns, host: ifname, peer: ifname }, ready.mac as string, 'net_tap0', eal);
});
