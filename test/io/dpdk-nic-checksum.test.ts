// The device's own checksum offload through DPDK (rte_eth_conf offloads, mbuf ol_flags), on
// net_tap: the one PMD here that reports IPv4+TCP checksum offload both ways (it computes them in
// the PMD, behind the same API a NIC uses). The kernel's TCP is the judge, as in
// test/io/tap-offload.test.ts: a SYN sent with garbage in both checksum fields and the TX flags
// set is answered only if the device filled them; the kernel's SYN-ACK must read back good, and
// frames the kernel side injects with one checksum bit flipped must read back bad. Run with the
// device's offload (nicChecksum, the default; rx in place and copied) and without it (the bursts'
// software checksums): same verdicts, and the port's counters say which did the work.

import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { RX_CSUM_BAD, RX_CSUM_GOOD, RX_L4_SHIFT, TX_IP_CSUM, TX_TCP_CSUM } from '../../src/io/port.js';
import { ETHERTYPE_IPV4, macFromBytes, writeEthernet } from '../../src/net/wire/ethernet.js';
import { IPV4_FLAG_DF, parseIpv4, writeIpv4Header } from '../../src/net/wire/ipv4.js';
import { ACK, emitHeader, SYN } from '../../src/net/wire/tcp.js';
import { childLines, commander } from './child-lines.js';
import { macBytes } from './frames.js';
import { dpdkSkip as skip, ealArgs, freshNamespace, KERNEL_IP, sh, STACK_IP } from './veth.js';

const CHILD = join(import.meta.dirname, 'dpdk-child.ts');
const K = parseIpv4(KERNEL_IP);
const S = parseIpv4(STACK_IP);
const PORT = 7777;
const KERNEL_MAC = '02:00:c6:12:00:01';

function kernelSnmp(ns: string, proto: 'Ip' | 'Tcp', field: string): number {
  const lines = sh('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp']).split('\n').filter((l) => l.startsWith(`${proto}:`));
  return Number(lines[1]!.split(/\s+/)[lines[0]!.split(/\s+/).indexOf(field)]);
}

async function run(t: Test, nicChecksum: boolean, rxMode: 'inplace' | 'copy'): Promise<void> {
  const tag = `${nicChecksum ? 1 : 0}${rxMode === 'copy' ? 'c' : 'i'}`;
  const ns = `sluice-t-${process.pid}-nck${tag}`;
  const ifname = `sluice-tk${process.pid.toString(36)}${tag}`.slice(0, 15);
  freshNamespace(t, ns);
  const p = spawn(process.execPath, ['--import=tsx', CHILD, 'drive', JSON.stringify({ eal: ealArgs(t), device: `net_tap0,iface=${ifname}`, nicChecksum, rxMode })], { stdio: ['pipe', 'pipe', 'pipe'] });
  const child = childLines(t, p, 20_000);
  const command = commander(p, child);
  const ready = await child.next('ready');
  const info = ready.info as { driver: string; capabilities: { rx: Record<string, boolean>; tx: Record<string, boolean> }; checksumInUse: { rx: boolean; tx: boolean } };
  t.equal(info.driver, 'net_tap');
  t.match(info.capabilities, { rx: { ipv4Checksum: true, tcpChecksum: true }, tx: { ipv4Checksum: true, tcpChecksum: true } }, 'net_tap reports IPv4 and TCP checksum offload both ways');
  t.same(info.checksumInUse, { rx: nicChecksum, tx: nicChecksum }, nicChecksum ? 'and the port enables it' : 'nicChecksum false: the port leaves it off');
  t.same(ready.offloads, { rxChecksum: true, txChecksum: true }, 'the stack gets verdicts and fills either way');
  t.equal(ready.rxMode, rxMode, `rx ${rxMode === 'copy' ? 'copied into slots' : 'in place'}`);
  const mac = ready.mac as string;

  // The PMD keeps its fd; only the kernel side moves (as in test/io/dpdk.test.ts).
  sh('ip', ['link', 'set', ifname, 'netns', ns]);
  sh('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${ifname}.disable_ipv6=1`]);
  sh('ip', ['-n', ns, 'addr', 'add', `${KERNEL_IP}/24`, 'dev', ifname]);
  sh('ip', ['-n', ns, 'link', 'set', ifname, 'address', KERNEL_MAC]);
  sh('ip', ['-n', ns, 'link', 'set', ifname, 'up']);
  sh('ip', ['-n', ns, 'neigh', 'replace', STACK_IP, 'lladdr', mac, 'dev', ifname]);
  const server = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', `require('net').createServer((s)=>s.destroy()).listen(${PORT},'${KERNEL_IP}',()=>console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (server.exitCode === null) server.kill();
  });
  await new Promise<void>((r) => server.stdout.once('data', () => r()));

  const syn = (sport: number, garbage: boolean): string => {
    const f = new Uint8Array(54);
    writeEthernet(f, 0, macFromBytes(macBytes(KERNEL_MAC)), macFromBytes(macBytes(mac)), ETHERTYPE_IPV4);
    writeIpv4Header(f, 14, 40, sport & 0xffff, IPV4_FLAG_DF, 64, 6, S, K, 0, false);
    emitHeader(f, 34, sport, PORT, 0x10000 * sport, 0, 20, SYN, 65535);
    if (garbage) f.set([0xde, 0xad], 24), f.set([0xbe, 0xef], 50);
    return Buffer.from(f).toString('hex');
  };
  // The frame received after `from` (a line count) that `want` picks, with its verdicts.
  const received = async (from: number, want: (f: Buffer) => boolean, ms: number): Promise<{ frame: Buffer; flags: number } | null> => {
    const end = Date.now() + ms;
    for (;;) {
      for (const l of child.lines.slice(from)) {
        if (typeof l.rx === 'string' && want(Buffer.from(l.rx, 'hex'))) return { frame: Buffer.from(l.rx, 'hex'), flags: l.flags as number };
      }
      if (Date.now() >= end) return null;
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const synAckTo = (sport: number) => (f: Buffer): boolean =>
    f[12] === 0x08 && f[13] === 0 && f[23] === 6 && f.readUInt16BE(36) === sport && (f[47]! & (SYN | ACK)) === (SYN | ACK);

  // Not asked: the fields go out as they are (zero), and the kernel counts a bad IPv4 header.
  const ipErrors = kernelSnmp(ns, 'Ip', 'InHdrErrors');
  let from = child.lines.length;
  t.equal((await command({ tx: syn(40001, false), flags: 0 }, 'sent')).sent, 1);
  t.equal(await received(from, synAckTo(40001), 500), null, 'checksums not asked for: no answer');
  t.equal(kernelSnmp(ns, 'Ip', 'InHdrErrors'), ipErrors + 1, 'the kernel counted a bad IPv4 header');

  // Asked: filled whatever the fields held, by the device or by the burst.
  const csumErrors = kernelSnmp(ns, 'Tcp', 'InCsumErrors');
  from = child.lines.length;
  const sent = await command({ tx: syn(40003, true), flags: TX_IP_CSUM | TX_TCP_CSUM }, 'sent');
  t.equal(sent.sent, 1);
  const answer = await received(from, synAckTo(40003), 3000);
  t.ok(answer, 'garbage in both checksum fields, both asked for: the kernel answers SYN-ACK');
  t.equal(answer?.flags, RX_CSUM_GOOD | (RX_CSUM_GOOD << RX_L4_SHIFT), "the kernel's SYN-ACK reads back with both verdicts good");
  t.equal(kernelSnmp(ns, 'Tcp', 'InCsumErrors'), csumErrors, 'no TCP checksum error in the kernel');
  // The slot after the burst: filled in place by the software burst; left as given when the
  // device does it (the burst readies the mbuf's copy for it instead).
  const slot = Buffer.from(sent.slot as string, 'hex');
  if (nicChecksum) t.equal(slot.toString('hex'), syn(40003, true), 'device fills: the slot is left as given, garbage and all');
  else t.same([slot.readUInt16BE(24), slot.readUInt16BE(50)].map((v) => v === 0xdead || v === 0xbeef), [false, false], 'software fill: the burst wrote both checksums into the slot');

  // From the kernel side, the SYN-ACK with one bit flipped in each checksum.
  const good = answer!.frame;
  const badTcp = Buffer.from(good);
  badTcp[14 + 20 + 16]! ^= 0x01;
  const badIp = Buffer.from(good);
  badIp[14 + 10]! ^= 0x01;
  const hex = [badTcp, badIp].map((f) => f.toString('hex'));
  from = child.lines.length;
  const inject = `import socket,sys\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\ns.bind((sys.argv[1],0))\nfor h in sys.argv[2:]: s.send(bytes.fromhex(h))`;
  sh('ip', ['netns', 'exec', ns, 'python3', '-c', inject, ifname, ...hex]);
  const tcpOff = await received(from, (f) => f.toString('hex') === hex[0], 3000);
  const ipOff = await received(from, (f) => f.toString('hex') === hex[1], 3000);
  t.equal(tcpOff?.flags, RX_CSUM_GOOD | (RX_CSUM_BAD << RX_L4_SHIFT), 'TCP checksum off by one bit: IPv4 good, TCP bad');
  t.equal(ipOff?.flags, RX_CSUM_BAD, 'IPv4 checksum off by one bit: IPv4 bad, TCP not looked at');

  const st = (await command({ stats: true }, 'stats')).stats as { rxNicVerdicts: number; txNicChecksums: number };
  if (nicChecksum) {
    t.ok(st.rxNicVerdicts >= 3, `the device gave the rx verdicts (${st.rxNicVerdicts} frames)`);
    t.equal(st.txNicChecksums, 1, 'the device filled the one SYN that asked');
  } else {
    t.same({ rx: st.rxNicVerdicts, tx: st.txNicChecksums }, { rx: 0, tx: 0 }, 'the device did none of it');
  }
  p.stdin.end();
  await child.next('closed');
  t.equal(await child.exited, 0);
}

t.test('net_tap with its checksum offload: the device fills and judges, the kernel agrees', { skip }, (t) => run(t, true, 'inplace'));
t.test('the same with rx copied into slots (the verdicts come from the mbufs either way)', { skip }, (t) => run(t, true, 'copy'));
t.test('net_tap without it (nicChecksum false): the bursts do the same in software', { skip }, (t) => run(t, false, 'inplace'));
