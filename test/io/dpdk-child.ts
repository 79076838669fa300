// The DPDK side of test/io/dpdk.test.ts, run as its own process (node --import=tsx): the EAL
// starts once per process, so each scenario gets a fresh one. Prints progress and results as one
// JSON object per line on stdout; the test asserts on them. DPDK's own log goes to stderr.
//
//   dpdk-child.ts <scenario> <json options>
//   scenarios: answer (ARP + ICMP responder on a veth), drops (oversize rx, unsendable tx),
//   errors (EAL/port/mempool failures), cycle (tx and rx through every mbuf of the pool),
//   drive (the test sends and reads frames through the port, with checksum flags)

import { createInterface } from 'node:readline';
import { createFrameBatch, type FrameBatch } from '../../src/io/port.js';
import { cleanupDpdk, DpdkPort, initDpdk } from '../../src/io/dpdk.js';
import { loadNative, dpdkAddon } from '../../src/io/native.js';
import { SluiceError } from '../../src/errors.js';
import { arpFrame, inetChecksum, ipBytes, summarize } from './frames.js';

interface Options {
  eal: string[];
  device: string;
  /** cycle: the peer's MAC, frames each way, rx mode. */
  peerMac?: string;
  frames?: number;
  rxMode?: 'inplace' | 'copy';
  /** drive: DpdkPort's nicChecksum option. */
  nicChecksum?: boolean;
  stackIp: string;
  kernelIp: string;
  echoes: number;
  timeoutMs: number;
}

function emit(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

function caught(f: () => unknown): Record<string, unknown> {
  try {
    f();
    return { ok: true };
  } catch (e) {
    if (e instanceof SluiceError) return { ok: false, code: e.code, message: e.message, detail: e.detail };
    return { ok: false, code: 'not-a-SluiceError', message: String(e) };
  }
}

function send(port: DpdkPort, tx: FrameBatch, f: Uint8Array): number {
  tx.data.set(f, 0);
  tx.lengths[0] = f.length;
  return port.txBurst(tx, 1);
}

/** Echo reply from a request in place: swap MACs and IPs, type 0, checksum again. */
function echoReply(b: Uint8Array, off: number, len: number): Uint8Array {
  const f = b.slice(off, off + len);
  const mac = f.slice(0, 6);
  f.copyWithin(0, 6, 12);
  f.set(mac, 6);
  const ip = f.slice(26, 30);
  f.copyWithin(26, 30, 34);
  f.set(ip, 30);
  const ihl = (f[14]! & 0x0f) * 4;
  const icmp = 14 + ihl;
  const total = (f[16]! << 8) | f[17]!;
  f[icmp] = 0;
  f[icmp + 2] = 0;
  f[icmp + 3] = 0;
  const ck = inetChecksum(f, icmp, total - ihl);
  f[icmp + 2] = ck >> 8;
  f[icmp + 3] = ck & 0xff;
  return f;
}

async function answer(o: Options): Promise<void> {
  const port = DpdkPort.open({ eal: o.eal, device: o.device, mempoolSize: 2303, rxQueueSize: 1024, txQueueSize: 1024 });
  emit({ ready: true, mac: port.macString, name: port.name, mtu: port.mtu, waitFd: port.waitFd, backend: port.backend, info: { ...port.info, mac: port.macString } });
  const rx = createFrameBatch(32, port.frameMax);
  const tx = createFrameBatch(4, port.frameMax);
  const seen: { arp?: number; icmpType?: number; len: number }[] = [];
  let arpReplies = 0;
  let echoReplies = 0;
  let rxBytes = 0;
  const end = Date.now() + o.timeoutMs;
  while (Date.now() < end && echoReplies < o.echoes) {
    const n = port.rxBurst(rx);
    for (let i = 0; i < n; i++) {
      const off = i * rx.slotSize;
      const len = rx.lengths[i]!;
      rxBytes += len;
      const s = summarize(rx.data, off, len);
      seen.push({ ...(s.arp ? { arp: s.arp.op } : {}), ...(s.ip?.icmpType !== undefined ? { icmpType: s.ip.icmpType } : {}), len });
      if (s.arp?.op === 1 && s.arp.targetIp === o.stackIp) {
        const kmac = rx.data.slice(off + 6, off + 12);
        arpReplies += send(port, tx, arpFrame(2, port.mac, ipBytes(o.stackIp), kmac, ipBytes(o.kernelIp), kmac));
      } else if (s.ip?.proto === 1 && s.ip.icmpType === 8 && s.dst === port.macString) {
        echoReplies += send(port, tx, echoReply(rx.data, off, len));
      }
    }
    // Poll-only port: a short sleep between empty polls keeps this test off the CPU.
    if (n === 0) await new Promise((r) => setTimeout(r, 1));
  }
  const stats = port.deviceStats();
  emit({ done: true, arpReplies, echoReplies, seen, rxBytes, counters: port.counters(), stats });
  // The port stays open until the test has looked at the other side (closing a net_tap port
  // deletes its interface): it says so by closing our stdin.
  await new Promise<void>((resolve) => {
    process.stdin.resume();
    process.stdin.on('end', () => resolve());
  });
  port.close();
  emit({ closedPortRx: caught(() => port.rxBurst(rx)) });
  cleanupDpdk();
  emit({ cleaned: dpdkAddon(loadNative())!.dpdkState().state });
}

/** Frames longer than the rx slot are dropped whole and counted; unsendable tx frames are consumed and counted. */
async function drops(o: Options): Promise<void> {
  const port = DpdkPort.open({ eal: o.eal, device: o.device });
  emit({ ready: true });
  const rx = createFrameBatch(32, 128);
  const tx = createFrameBatch(4, 128);
  const delivered: number[] = [];
  const end = Date.now() + o.timeoutMs;
  while (Date.now() < end && port.counters().rxDropped < o.echoes) {
    const n = port.rxBurst(rx);
    for (let i = 0; i < n; i++) {
      const off = i * rx.slotSize;
      delivered.push(rx.lengths[i]!);
      const s = summarize(rx.data, off, rx.lengths[i]!);
      if (s.arp?.op === 1 && s.arp.targetIp === o.stackIp) {
        const kmac = rx.data.slice(off + 6, off + 12);
        send(port, tx, arpFrame(2, port.mac, ipBytes(o.stackIp), kmac, ipBytes(o.kernelIp), kmac));
      }
    }
    if (n === 0) await new Promise((r) => setTimeout(r, 1));
  }
  emit({ rxDone: true, delivered, counters: port.counters(), rxTooBig: port.deviceStats().rxTooBig });
  // tx: a zero-length frame, a valid one, and one longer than an mbuf's 2048-byte data room.
  const big = createFrameBatch(3, 4096);
  const announce = arpFrame(1, port.mac, ipBytes(o.stackIp), new Uint8Array(6), ipBytes(o.stackIp), new Uint8Array(6).fill(0xff));
  big.data.set(announce, 4096);
  big.lengths.set([0, announce.length, 3000]);
  const before = port.counters();
  const consumed = port.txBurst(big, 3);
  const after = port.counters();
  emit({ txDone: true, consumed, txFrames: after.txFrames - before.txFrames, txDropped: after.txDropped - before.txDropped, txTooBig: port.deviceStats().txTooBig });
  port.close();
  cleanupDpdk();
}

/** IEEE 802 local experimental EtherType: the peer's stack counts these frames and drops them. */
const PROBE_TYPE = 0x88b5;

/**
 * tx and rx through every mbuf of the pool: with no per-lcore cache, mbufs come out of the pool's
 * ring in turn, so `frames` (several pool sizes) touch each of them, including those at the top
 * of the pool's memory. tx sends numbered 60-byte frames to the peer and reports the port's
 * counters (the test compares the peer's); then rx takes as many numbered frames from the peer.
 */
async function cycle(o: Options): Promise<void> {
  const frames = o.frames!;
  const port = DpdkPort.open({ eal: o.eal, device: o.device, mempoolSize: 2559, rxQueueSize: 2048, txQueueSize: 256, mempoolCache: 0, ...(o.rxMode ? { rxMode: o.rxMode } : {}) });
  emit({ ready: true, mac: port.macString, rxMode: port.rxMode, pool: port.info.mempool.size });
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  const tx = createFrameBatch(32, port.frameMax);
  const peer = o.peerMac!.split(':').map((h) => parseInt(h, 16));
  let sent = 0;
  const txEnd = Date.now() + o.timeoutMs;
  while (sent < frames && Date.now() < txEnd) {
    const n = Math.min(32, frames - sent);
    for (let i = 0; i < n; i++) {
      const off = i * tx.slotSize;
      tx.data.fill(0, off, off + 60);
      tx.data.set(peer, off);
      tx.data.set(port.mac, off + 6);
      tx.data[off + 12] = PROBE_TYPE >> 8;
      tx.data[off + 13] = PROBE_TYPE & 0xff;
      new DataView(tx.data.buffer, tx.data.byteOffset + off + 14, 4).setUint32(0, sent + i);
      tx.lengths[i] = 60;
    }
    // A frame the PMD could not take now is sent again: count only what it took.
    sent += port.txBurst(tx, n);
  }
  emit({ txDone: true, sent, counters: port.counters(), stats: { ...port.deviceStats(), xstats: undefined } });
  const rx = port.createRxBatch(32, port.frameMax);
  const seen = new Uint8Array(frames);
  let got = 0;
  let outOfRange = 0;
  const rxEnd = Date.now() + o.timeoutMs;
  emit({ rxReady: true });
  while (got < frames && Date.now() < rxEnd) {
    const n = port.rxBurst(rx);
    for (let i = 0; i < n; i++) {
      const off = rx.offsets === undefined ? i * rx.slotSize : rx.offsets[i]!;
      if (((rx.data[off + 12]! << 8) | rx.data[off + 13]!) !== PROBE_TYPE) continue;
      const seq = new DataView(rx.data.buffer, rx.data.byteOffset + off + 14, 4).getUint32(0);
      if (seq >= frames) outOfRange++;
      else if (seen[seq] === 0) {
        seen[seq] = 1;
        got++;
      }
    }
    if (n === 0) await new Promise((r) => setImmediate(r));
  }
  emit({ rxDone: true, got, outOfRange, counters: port.counters(), stats: { ...port.deviceStats(), xstats: undefined } });
  port.close();
  cleanupDpdk();
}

/**
 * The port under the test's control: every frame received is reported as { rx: hex, flags } (its
 * checksum verdicts); stdin lines { tx: hex, flags, seq } send one frame (answered { sent, seq,
 * slot: the slot's bytes after the burst }), and { stats: true, seq } answers { stats, counters,
 * seq }, { link: true, seq } answers { link, seq }. stdin's end closes the port.
 */
async function drive(o: Options): Promise<void> {
  const port = DpdkPort.open({ eal: o.eal, device: o.device, ...(o.nicChecksum !== undefined ? { nicChecksum: o.nicChecksum } : {}), ...(o.rxMode ? { rxMode: o.rxMode } : {}) });
  emit({ ready: true, mac: port.macString, offloads: port.offloads, rxMode: port.rxMode, info: { ...port.info, mac: port.macString } });
  const rx = port.createRxBatch(32, port.frameMax);
  const tx = createFrameBatch(1, port.frameMax);
  let open = true;
  const commands = createInterface({ input: process.stdin });
  commands.on('line', (line) => {
    const c = JSON.parse(line) as { tx?: string; flags?: number; stats?: boolean; link?: boolean; seq?: number };
    if (c.tx !== undefined) {
      const f = Buffer.from(c.tx, 'hex');
      tx.data.set(f, 0);
      tx.lengths[0] = f.length;
      tx.flags[0] = c.flags ?? 0;
      emit({ sent: port.txBurst(tx, 1), seq: c.seq, slot: Buffer.from(tx.data.subarray(0, f.length)).toString('hex') });
    } else if (c.stats) emit({ stats: { ...port.deviceStats(), xstats: undefined }, counters: port.counters(), seq: c.seq });
    else if (c.link) emit({ link: port.link(), seq: c.seq });
  });
  commands.on('close', () => (open = false));
  while (open) {
    const n = port.rxBurst(rx);
    for (let i = 0; i < n; i++) {
      const off = rx.offsets === undefined ? i * rx.slotSize : rx.offsets[i]!;
      emit({ rx: Buffer.from(rx.data.subarray(off, off + rx.lengths[i]!)).toString('hex'), flags: rx.flags[i]! });
    }
    await new Promise((r) => setTimeout(r, n === 0 ? 1 : 0));
  }
  port.close();
  cleanupDpdk();
  emit({ closed: true });
}

function errors(o: Options): void {
  emit({ badEal: caught(() => initDpdk(['--this-is-not-an-eal-option'])) });
  // Argument errors leave the EAL startable: the same process then starts it properly.
  emit({ goodEal: caught(() => initDpdk(o.eal)) });
  emit({ otherEal: caught(() => initDpdk([...o.eal, '--no-shconf'])) });
  emit({ missingIface: caught(() => DpdkPort.open({ eal: o.eal, device: 'net_af_packet0,iface=sluice-t-absent' })) });
  emit({ smallPool: caught(() => DpdkPort.open({ eal: o.eal, device: o.device, mempoolSize: 100 })) });
  emit({ hugePool: caught(() => DpdkPort.open({ eal: o.eal, device: o.device, mempoolSize: 4_000_000, rxQueueSize: 512, txQueueSize: 512 })) });
  emit({ badMtu: caught(() => DpdkPort.open({ eal: o.eal, device: o.device, mtu: 20 })) });
  // After every failure above, the same device opens: nothing was left half set up.
  let port: DpdkPort | undefined;
  emit({ reopen: caught(() => (port = DpdkPort.open({ eal: o.eal, device: o.device }))) });
  emit({ secondOpen: caught(() => DpdkPort.open({ eal: o.eal, device: o.device })) });
  port?.close();
  emit({ reopenAfterClose: caught(() => DpdkPort.open({ eal: o.eal, device: o.device }).close()) });
  cleanupDpdk();
  emit({ afterCleanup: caught(() => initDpdk(o.eal)) });
}

const [scenario, json] = process.argv.slice(2);
const opts = JSON.parse(json ?? '{}') as Options;
try {
  if (scenario === 'answer') await answer(opts);
  else if (scenario === 'errors') errors(opts);
  else if (scenario === 'drops') await drops(opts);
  else if (scenario === 'cycle') await cycle(opts);
  else if (scenario === 'drive') await drive(opts);
  else throw new Error(`unknown scenario ${scenario}`);
} catch (e) {
  emit({ fatal: e instanceof SluiceError ? { code: e.code, message: e.message, detail: e.detail } : String(e) });
  process.exitCode = 1;
}
