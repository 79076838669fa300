// Checksum offload on a real TAP (namespace from test/io/netns.ts, 198.18.0.0/24): the kernel's
// TCP is the judge. A SYN sent with both checksums zeroed and the TX flags set is answered (the
// native tx burst filled them); without the flags it is dropped and counted by the kernel. The
// kernel's SYN-ACK reads back with both rx verdicts good, and frames injected on the kernel side
// through an AF_PACKET socket (python3) with a broken TCP or IPv4 checksum read back bad.

import t from 'tap';
import { spawn } from 'node:child_process';
import { createFrameBatch, RX_CSUM_BAD, RX_CSUM_GOOD, RX_L4_SHIFT, TX_IP_CSUM, TX_TCP_CSUM, type FrameBatch } from '../../src/io/port.js';
import type { TapPort } from '../../src/io/tap.js';
import { ETHERTYPE_IPV4, macFromBytes, writeEthernet } from '../../src/net/wire/ethernet.js';
import { fillIpv4Checksum, IPV4_FLAG_DF, parseIpv4, writeIpv4Header } from '../../src/net/wire/ipv4.js';
import { ACK, emitHeader, fillChecksum, SYN } from '../../src/net/wire/tcp.js';
import { KERNEL_IP, sh, STACK_IP, tapInNamespace, tapSkip as skip } from './netns.js';

const K = parseIpv4(KERNEL_IP);
const S = parseIpv4(STACK_IP);
const PORT = 7777;

function synFrame(port: TapPort, sport: number): Uint8Array {
  const f = new Uint8Array(54);
  writeEthernet(f, 0, macFromBytes(port.kernelMac), macFromBytes(port.mac), ETHERTYPE_IPV4);
  writeIpv4Header(f, 14, 40, sport & 0xffff, IPV4_FLAG_DF, 64, 6, S, K, 0, false);
  emitHeader(f, 34, sport, PORT, 0x10000 * sport, 0, 20, SYN, 65535);
  return f; // both checksum fields 0
}

function kernelSnmp(ns: string, proto: 'Ip' | 'Tcp', field: string): number {
  const lines = sh('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp']).split('\n').filter((l) => l.startsWith(`${proto}:`));
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/);
  return Number(values[names.indexOf(field)]);
}

/** Polls rxBurst until a frame matches; returns its bytes and rx flags. */
async function receive(port: TapPort, rx: FrameBatch, want: (f: Uint8Array) => boolean, ms = 3000): Promise<{ frame: Uint8Array; flags: number } | null> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const n = port.rxBurst(rx);
    for (let i = 0; i < n; i++) {
      const f = rx.data.subarray(i * rx.slotSize, i * rx.slotSize + rx.lengths[i]!);
      if (want(f)) return { frame: f.slice(), flags: rx.flags[i]! };
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  return null;
}

const synAckTo = (sport: number) => (f: Uint8Array) =>
  f[12] === 0x08 && f[13] === 0 && f[23] === 6 && ((f[36]! << 8) | f[37]!) === sport && (f[47]! & (SYN | ACK)) === (SYN | ACK);

t.test('TAP: the kernel accepts what the tx burst filled and the rx burst judges what the kernel sent', { skip }, async (t) => {
  const { port, ns } = tapInNamespace(t);
  t.same(port.offloads, { rxChecksum: true, txChecksum: true }, 'TapPort offloads checksums');
  // The kernel needs our MAC for its answers; a static neighbour keeps ARP out of the way.
  sh('ip', ['-n', ns, 'neigh', 'replace', STACK_IP, 'lladdr', Array.from(port.mac, (b) => b.toString(16).padStart(2, '0')).join(':'), 'dev', port.name]);
  const server = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', `require('net').createServer((s)=>s.destroy()).listen(${PORT},'${KERNEL_IP}',()=>console.log('up'))`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    if (server.exitCode === null) server.kill();
  });
  await new Promise<void>((r) => server.stdout.once('data', () => r()));
  const rx = createFrameBatch(32, 2048);
  const tx = createFrameBatch(4, 2048);
  const send = (f: Uint8Array, flags: number): number => {
    tx.data.set(f, 0);
    tx.lengths[0] = f.length;
    tx.flags[0] = flags;
    return port.txBurst(tx, 1);
  };

  const ipErrors = kernelSnmp(ns, 'Ip', 'InHdrErrors');
  t.equal(send(synFrame(port, 40001), 0), 1);
  t.equal(await receive(port, rx, synAckTo(40001), 500), null, 'unfilled checksums: no answer');
  t.equal(kernelSnmp(ns, 'Ip', 'InHdrErrors'), ipErrors + 1, 'the kernel counted a bad IPv4 header');

  const tcpErrors = kernelSnmp(ns, 'Tcp', 'InCsumErrors');
  const ipOnly = synFrame(port, 40002);
  fillIpv4Checksum(ipOnly, 14);
  t.equal(send(ipOnly, 0), 1);
  t.equal(await receive(port, rx, synAckTo(40002), 500), null, 'IPv4 filled, TCP not: no answer');
  t.equal(kernelSnmp(ns, 'Tcp', 'InCsumErrors'), tcpErrors + 1, 'the kernel counted a TCP checksum error');

  t.equal(send(synFrame(port, 40003), TX_IP_CSUM | TX_TCP_CSUM), 1);
  const answer = await receive(port, rx, synAckTo(40003));
  t.ok(answer, 'both filled by the tx burst: the kernel answers SYN-ACK');
  t.equal(answer?.flags, RX_CSUM_GOOD | (RX_CSUM_GOOD << RX_L4_SHIFT), 'and its SYN-ACK reads back with both verdicts good');
  const expected = synFrame(port, 40003);
  fillIpv4Checksum(expected, 14);
  fillChecksum(expected, 34, 20, S, K);
  t.same(tx.data.subarray(0, 54), expected, 'the burst wrote the checksums JavaScript computes (in the slot)');

  // Frames from the kernel side with broken checksums: the SYN-ACK again, one bit off in each.
  const good = answer!.frame;
  const badTcp = good.slice();
  badTcp[14 + 20 + 16]! ^= 0x01;
  const badIp = good.slice();
  badIp[14 + 10]! ^= 0x01;
  const fixedUp = good.slice();
  fillChecksum(fixedUp, 34, fixedUp.length - 34, K, S);
  const hex = [badTcp, badIp].map((f) => Buffer.from(f).toString('hex'));
  const inject = `import socket,sys\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\ns.bind((sys.argv[1],0))\nfor h in sys.argv[2:]: s.send(bytes.fromhex(h))`;
  sh('ip', ['netns', 'exec', ns, 'python3', '-c', inject, port.name, ...hex]);
  const flagsOf = new Map<string, number>();
  const end = Date.now() + 3000;
  while (flagsOf.size < 2 && Date.now() < end) {
    const n = port.rxBurst(rx);
    for (let i = 0; i < n; i++) {
      const h = Buffer.from(rx.data.subarray(i * rx.slotSize, i * rx.slotSize + rx.lengths[i]!)).toString('hex');
      if (hex.includes(h)) flagsOf.set(h, rx.flags[i]!);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  t.equal(flagsOf.get(hex[0]!), RX_CSUM_GOOD | (RX_CSUM_BAD << RX_L4_SHIFT), 'TCP checksum off by one bit: IPv4 good, TCP bad');
  t.equal(flagsOf.get(hex[1]!), RX_CSUM_BAD, 'IPv4 checksum off by one bit: IPv4 bad, TCP not looked at');
  t.equal(Buffer.compare(fixedUp, good), 0, "the kernel's own SYN-ACK checksum is the one JavaScript computes");
});
