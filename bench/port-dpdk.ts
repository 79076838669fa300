// Raw DPDK packet-port rates: frames per second per core for rx and tx bursts of DpdkPort over
// net_af_packet and net_af_xdp on a veth whose peer sits in a throwaway namespace
// (sluice-t-bench-<pid>). tx: the port sends 60-byte frames in bursts of 32 as fast as it can.
// rx: bench/tools/pktflood.c floods 60-byte frames from the namespace (AF_PACKET, sendmmsg)
// while the port busy-polls bursts of 32 into its rx batch (in place by default; SLUICE_DPDK_RX_MODE=copy). Each DPDK side runs
// in its own process (the EAL is once per process), pinned to core 0 with the flood on core 1;
// CPU is that process's user+sys time.
// tx counts only frames that arrived: the peer's rx_packets, read before and after each run (a
// PMD's own count says what it handed to the kernel; the veth may still drop, and it counts that).
// tx runs twice: with the veth's far end receiving inline (its stack runs in the port's syscall,
// on the port's core) and with it receiving on its own NAPI thread, pinned to core 1 (the port's
// cost alone, as with a NIC, whose sender stops at the descriptor ring). rx runs twice too:
// busy-polling a flood (frames per CPU-second is then the flood's rate over a spinning core) and
// draining a ring filled during 5 ms pauses (the port's own cost per frame when bursts are full).
// net_null (no kernel, no wire) gives the port's own cost per frame for comparison.
// Every case runs once per round, rounds interleaved; each row is the median with the range.
// Needs root and an addon built with libdpdk.
// Run: node --import tsx bench/port-dpdk.ts [seconds per case, default 3] [rounds, default 5]

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupDpdk, DpdkPort } from '../src/io/dpdk.js';
import { loadNative } from '../src/io/native.js';
import { createFrameBatch, type FrameBatch } from '../src/io/port.js';

const HERE = import.meta.dirname;
const BURST = 32;

function eal(tag: string): string[] {
  return ['--no-huge', '--no-pci', '-m', '256', '-l', '0', '--no-telemetry', '--file-prefix', `sluice-t-bench-${process.pid}-${tag}`, '--log-level', 'lib.eal:warning'];
}

interface ChildResult {
  frames: number;
  wallMs: number;
  cpuMs: number;
  dropped: number;
  stats: Record<string, unknown>;
}

function child(mode: string, device: string, seconds: number, tag: string, dstMac: string): void {
  const port = DpdkPort.open({ eal: eal(tag), device, mempoolSize: 8191, rxQueueSize: 2048, txQueueSize: 2048 });
  // rx: the batch the poll loop would get (port.rxMode: in place by default, SLUICE_DPDK_RX_MODE=copy).
  const batch = mode === 'tx' ? createFrameBatch(BURST, port.frameMax) : port.createRxBatch(BURST, port.frameMax);
  if (mode === 'tx') {
    const mac = dstMac.split(':').map((h) => parseInt(h, 16));
    for (let i = 0; i < BURST; i++) {
      const o = i * batch.slotSize;
      batch.data.set(mac, o);
      batch.data.set(port.mac, o + 6);
      batch.data[o + 12] = 0x88; // IEEE 802 local experimental ethertype: the peer's stack ignores it
      batch.data[o + 13] = 0xb5;
      batch.lengths[i] = 60;
    }
  }
  process.stdout.write('ready\n');
  if (mode === 'rxdrain') {
    drain(port, batch, seconds);
    return;
  }
  let frames = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  // Check the clock every 64 bursts: performance.now() costs about as much as a small burst.
  outer: for (;;) {
    for (let k = 0; k < 64; k++) frames += mode === 'tx' ? port.txBurst(batch, BURST) : port.rxBurst(batch);
    if (performance.now() >= end) break outer;
  }
  const wallMs = performance.now() - t0;
  const cu = process.cpuUsage(c0);
  const c = port.counters();
  const r: ChildResult = { frames, wallMs, cpuMs: (cu.user + cu.system) / 1000, dropped: mode === 'tx' ? c.txDropped : c.rxDropped, stats: { ...port.deviceStats(), xstats: undefined } };
  process.stdout.write(`${JSON.stringify(r)}\n`);
  port.close();
  cleanupDpdk();
}

/**
 * rx capacity: a trickle of frames makes every burst small, so frames per CPU-second of a
 * busy-polling port measures the offered load, not the port. Here the port sleeps 5 ms (the
 * device ring fills, up to its size) and then drains it in full bursts; only the draining is
 * timed (wall time of bursts that returned frames: the process is on CPU throughout).
 */
function drain(port: DpdkPort, batch: FrameBatch, seconds: number): void {
  let frames = 0;
  let busyMs = 0;
  let bursts = 0;
  const end = performance.now() + seconds * 1000;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (performance.now() < end) {
    Atomics.wait(pause, 0, 0, 5);
    const t0 = performance.now();
    let n = 0;
    let got: number;
    while ((got = port.rxBurst(batch)) > 0) {
      n += got;
      bursts++;
    }
    if (n > 0) {
      busyMs += performance.now() - t0;
      frames += n;
    }
  }
  const c = port.counters();
  const r: ChildResult = { frames, wallMs: busyMs, cpuMs: busyMs, dropped: c.rxDropped, stats: { ...port.deviceStats(), xstats: undefined, bursts } };
  process.stdout.write(`${JSON.stringify(r)}\n`);
  port.close();
  cleanupDpdk();
}

/**
 * Copy versus in-place rx on net_null (frames of `size` bytes made by the PMD, no kernel), both
 * through DpdkPort.rxBurst as the poll loop calls it: a plain FrameBatch (copied into slots) and
 * the port's createRxBatch (offsets into the mbuf pool's view). The consumer reads each frame's
 * EtherType and last byte, as the stack's first parse would.
 */
function rxCompare(size: number, seconds: number, tag: string): void {
  const port = DpdkPort.open({ eal: eal(tag), device: `net_null0,size=${size}`, mempoolSize: 8191, rxQueueSize: 2048, txQueueSize: 2048, rxMode: 'inplace' });
  const out: Record<string, number> = {};
  let sink = 0;
  const measure = (name: string, batch: FrameBatch): void => {
    let frames = 0;
    const c0 = process.cpuUsage();
    const end = performance.now() + (seconds * 1000) / 2;
    const { data, lengths, offsets, slotSize } = batch;
    do {
      for (let k = 0; k < 64; k++) {
        const n = port.rxBurst(batch);
        for (let i = 0; i < n; i++) {
          const o = offsets === undefined ? i * slotSize : offsets[i]!;
          sink += data[o + 12]! + data[o + lengths[i]! - 1]!;
        }
        frames += n;
      }
    } while (performance.now() < end);
    const cu = process.cpuUsage(c0);
    out[name] = frames / ((cu.user + cu.system) / 1e6);
  };
  measure('copy', createFrameBatch(BURST, port.frameMax));
  measure('inPlace', port.createRxBatch(BURST, port.frameMax));
  process.stdout.write(`${JSON.stringify({ ...out, sink: sink & 1 })}\n`);
  port.close();
  cleanupDpdk();
}

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

function runChild(mode: string, device: string, seconds: number, tag: string, dstMac: string, onReady: () => void): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    // stderr (DPDK's and libxdp's log) is shown only when the child fails.
    const p = spawn('taskset', ['-c', '0', process.execPath, '--import=tsx', join(HERE, 'port-dpdk.ts'), '--child', mode, device, String(seconds), tag, dstMac], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.stdout.on('data', (d: Buffer) => {
      const before = out;
      out += d.toString();
      if (!before.includes('ready\n') && out.includes('ready\n')) onReady();
    });
    p.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code === 0 && line) resolve(JSON.parse(line) as ChildResult);
      else reject(new Error(`${mode} child exited ${code}: ${out}\n${err}`));
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Frames per second in millions; a row's median with the range over the rounds. */
function mfps(perSecond: number[]): string {
  const m = (x: number): string => (x / 1e6).toFixed(2);
  return perSecond.length === 1 ? `${m(perSecond[0]!)} M` : `${m(median(perSecond))} M (${m(Math.min(...perSecond))}-${m(Math.max(...perSecond))})`;
}

/** One row of the table: a case run once per round; `cells` formats its rounds' results. */
interface Case {
  pmd: string;
  what: string;
  run(): Promise<Record<string, number>>;
  cells(rs: Record<string, number>[]): string[];
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 3);
  const rounds = Number(process.argv[3] ?? 5);
  console.log(`# command: node --import tsx bench/port-dpdk.ts ${seconds} ${rounds}`);
  if (process.getuid?.() !== 0) throw new Error('needs root (namespace, veth, AF_PACKET)');
  if (!loadNative().features.dpdk) throw new Error('the addon was built without libdpdk (apt-get install libdpdk-dev pkg-config; npm run build:native)');
  console.log(`# node ${process.version}, ${new Date().toISOString()}, burst ${BURST}, 60-byte frames, one lcore, --no-huge; port on core 0, flood and veth NAPI threads on core 1; ${rounds} rounds of ${seconds} s per case, interleaved`);
  const work = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const flood = join(work, 'pktflood');
  sh('cc', ['-O2', '-o', flood, join(HERE, 'tools', 'pktflood.c')]);
  const ns = `sluice-t-bench-${process.pid}`;
  const host = `sluice-tb${process.pid.toString(36)}`.slice(0, 15);
  const peer = 'sluice-t-peer';
  const cleanup = (): void => {
    try { sh('ip', ['link', 'del', host]); } catch { /* gone */ }
    try { sh('ip', ['netns', 'del', ns]); } catch { /* gone */ }
    rmSync(work, { recursive: true, force: true });
  };
  process.on('SIGINT', () => { cleanup(); process.exit(130); });
  try {
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', ns]);
    sh('sysctl', ['-q', '-w', `net.ipv6.conf.${host}.disable_ipv6=1`]);
    sh('ip', ['link', 'set', host, 'up']);
    sh('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${peer}.disable_ipv6=1`]);
    sh('ip', ['-n', ns, 'link', 'set', peer, 'up']);
    // The veth's far end receives what the port sends. By default it does that inline, in the
    // sender's softirq, so the port process pays for the receiver's stack too (a real NIC's
    // sender stops at its descriptor ring). With GRO requested and no TSO on the sending end,
    // veth hands frames to the receiver's NAPI instance, run in its own thread ("threaded"),
    // pinned to core 1, so the receive work moves off the port's core. tx is measured both ways.
    const napiThreads = (): string[] => {
      try {
        return sh('pgrep', ['^napi/']).split('\n').filter(Boolean);
      } catch {
        return []; // pgrep exits 1 when there are none
      }
    };
    const napiBefore = new Set(napiThreads());
    const receiverThreads = (on: boolean): void => {
      const f = on ? ['tso', 'off', 'gso', 'off', 'gro', 'on'] : ['tso', 'on', 'gso', 'on', 'gro', 'off'];
      sh('ethtool', ['-K', host, ...f]);
      sh('ip', ['netns', 'exec', ns, 'ethtool', '-K', peer, ...f]);
      // "threaded" exists only while veth runs NAPI (GRO requested, or an XDP program attached).
      if (on) {
        sh('sh', ['-c', `echo 1 > /sys/class/net/${host}/threaded`]);
        sh('ip', ['netns', 'exec', ns, 'sh', '-c', `echo 1 > /sys/class/net/${peer}/threaded`]);
        // Only the threads this veth pair got (the host's own NICs' are left alone), one per
        // end; veth makes new ones each time NAPI comes back on, a moment after the switch.
        const pause = new Int32Array(new SharedArrayBuffer(4));
        let ours: string[] = [];
        for (let i = 0; i < 100 && ours.length < 2; i++) {
          ours = napiThreads().filter((p) => !napiBefore.has(p));
          if (ours.length < 2) Atomics.wait(pause, 0, 0, 10);
        }
        if (ours.length < 2) throw new Error(`threaded NAPI: expected a thread per veth end, found ${ours.length}`);
        for (const pid of ours) sh('taskset', ['-p', '-c', '1', pid]);
      }
    };
    const peerCounters = (): { rx: number; hostDropped: number } => ({
      rx: Number(sh('ip', ['netns', 'exec', ns, 'cat', `/sys/class/net/${peer}/statistics/rx_packets`]).trim()),
      hostDropped: Number(sh('cat', [`/sys/class/net/${host}/statistics/tx_dropped`]).trim()),
    });
    const hostMac = sh('cat', [`/sys/class/net/${host}/address`]).trim();
    const peerMac = sh('ip', ['netns', 'exec', ns, 'cat', `/sys/class/net/${peer}/address`]).trim();
    const perCpu = (r: Record<string, number>[], k = 'frames'): number[] => r.map((x) => x[k]! / (x.cpuMs! / 1000));
    const wall = (r: Record<string, number>[], k = 'frames', ms = 'wallMs'): number[] => r.map((x) => x[k]! / (x[ms]! / 1000));
    const cpuPct = (r: Record<string, number>[]): string => `${median(r.map((x) => (x.cpuMs! / x.wallMs!) * 100)).toFixed(0)}`;
    // An rx child, with the namespace flooding the port for floodSecs from the moment it is
    // ready (on core 1); the child's result and the flood's report.
    const flooding = async (mode: string, device: string, tag: string, floodSecs: number): Promise<[ChildResult, string]> => {
      let report = '';
      let done: Promise<void> = Promise.resolve();
      const r = await runChild(mode, device, seconds, tag, hostMac, () => {
        done = new Promise((resolve) => {
          const f = spawn('ip', ['netns', 'exec', ns, 'taskset', '-c', '1', flood, peer, hostMac, String(floodSecs)], { stdio: ['ignore', 'pipe', 'inherit'] });
          f.stdout.on('data', (d: Buffer) => (report += d.toString()));
          f.on('exit', () => resolve());
        });
      });
      await done;
      return [r, report];
    };
    const cases: Case[] = [];
    // net_null: no kernel and no wire, so these rows are the port's own cost per frame (N-API call
    // per burst, mbuf alloc/free, one copy per frame); its rx side makes 64-byte frames itself.
    for (const mode of ['tx', 'rx'] as const) {
      cases.push({
        pmd: 'net_null', what: mode,
        run: async () => {
          const r = await runChild(mode, 'net_null0', seconds, `null-${mode}`, peerMac, () => {});
          return { frames: r.frames, cpuMs: r.cpuMs, wallMs: r.wallMs };
        },
        cells: (r) => [mfps(wall(r)), mfps(perCpu(r)), cpuPct(r), '-', mode === 'rx' ? '(frames made by the PMD)' : '-'],
      });
    }
    // Copy into the stack's slots vs frames read where the PMD put them (zero-copy views).
    for (const size of [60, 1514]) {
      cases.push({
        pmd: `net_null ${size} B`, what: 'rx copy vs in place',
        run: async () => JSON.parse(sh('taskset', ['-c', '0', process.execPath, '--import=tsx', join(HERE, 'port-dpdk.ts'), '--rx-compare', String(size), String(seconds), `cmp-${size}`]).trim().split('\n').pop()!) as Record<string, number>,
        cells: (r) => ['-', `copy ${mfps(r.map((x) => x.copy!))}, in place ${mfps(r.map((x) => x.inPlace!))} (x${median(r.map((x) => x.inPlace! / x.copy!)).toFixed(2)})`, '-', '-', '-'],
      });
    }
    for (const pmd of ['net_af_packet', 'net_af_xdp']) {
      const device = `${pmd}0,iface=${host}`;
      for (const threaded of [false, true]) {
        cases.push({
          pmd, what: threaded ? 'tx, receiver on its NAPI thread (core 1)' : 'tx, receiver inline',
          run: async () => {
            receiverThreads(threaded);
            const before = peerCounters();
            const tx = await runChild('tx', device, seconds, `${pmd}-tx`, peerMac, () => {});
            // The veth's NAPI thread may still be draining its ring: wait until the count settles.
            let after = peerCounters();
            for (let i = 0; i < 50; i++) {
              await new Promise((r) => setTimeout(r, 20));
              const again = peerCounters();
              if (again.rx === after.rx) break;
              after = again;
            }
            return { frames: tx.frames, cpuMs: tx.cpuMs, wallMs: tx.wallMs, delivered: after.rx - before.rx, vethDropped: after.hostDropped - before.hostDropped };
          },
          // Arrived, as a share of what the port counted as sent: the veth's own drops (its ring
          // to the NAPI thread full) and anything else lost on the way.
          cells: (r) => [mfps(wall(r, 'delivered')), mfps(perCpu(r, 'delivered')), cpuPct(r), '-',
            `arrived ${median(r.map((x) => (x.delivered! / x.frames!) * 100)).toFixed(2)}% of the port's count (veth drops ${median(r.map((x) => (x.vethDropped! / x.frames!) * 100)).toFixed(2)}%); by round ${perCpu(r, 'delivered').map((v) => (v / 1e6).toFixed(2)).join(', ')}`],
        });
      }
      cases.push({
        pmd, what: 'rx, busy-polling a flood',
        run: async () => {
          receiverThreads(false);
          const [rx, flooded] = await flooding('rx', device, `${pmd}-rx`, Math.max(1, seconds - 0.5));
          const sent = Number(/frames=(\d+)/.exec(flooded)?.[1] ?? 0);
          const fsecs = Number(/seconds=([\d.]+)/.exec(flooded)?.[1] ?? 1);
          return { frames: rx.frames, cpuMs: rx.cpuMs, wallMs: rx.wallMs, floodMs: fsecs * 1000, sent, dropped: rx.dropped, imissed: Number(rx.stats.imissed) };
        },
        // rx wall rate over the flood's duration: the port polls longer than the flood lasts.
        cells: (r) => [mfps(wall(r, 'frames', 'floodMs')), mfps(perCpu(r)), cpuPct(r), mfps(wall(r, 'sent', 'floodMs')), `${median(r.map((x) => x.dropped!))} (device imissed ${median(r.map((x) => x.imissed!))})`],
      });
      cases.push({
        pmd, what: 'rx, draining a filled ring (5 ms pauses)',
        run: async () => {
          receiverThreads(false);
          const [rd] = await flooding('rxdrain', device, `${pmd}-rxd`, seconds + 0.5);
          return { frames: rd.frames, cpuMs: rd.cpuMs, wallMs: rd.wallMs, bursts: Number(rd.stats.bursts ?? 1), dropped: rd.dropped, imissed: Number(rd.stats.imissed) };
        },
        cells: (r) => ['-', `${mfps(perCpu(r))}, ${median(r.map((x) => x.frames! / x.bursts!)).toFixed(1)} per burst`, '-', '(flood)', `${median(r.map((x) => x.dropped!))} (device imissed ${median(r.map((x) => x.imissed!))})`],
      });
    }
    const results: Record<string, number>[][] = cases.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < cases.length; i++) results[i]!.push(await cases[i]!.run());
    }
    console.log('| pmd | case | frames/s (wall) | frames per CPU-second of the port process | CPU % | offered (flood) | notes |');
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    for (let i = 0; i < cases.length; i++) console.log(`| ${cases[i]!.pmd} | ${cases[i]!.what} | ${cases[i]!.cells(results[i]!).join(' | ')} |`);
  } finally {
    cleanup();
  }
}

// A DPDK child that fails (a port that will not open) still ends its EAL, so its runtime
// directory (/var/run/dpdk/<prefix>) does not outlive it.
function endingEal(f: () => void): void {
  try {
    f();
  } catch (e) {
    cleanupDpdk();
    throw e;
  }
}

if (process.argv[2] === '--rx-compare') {
  const [, size, secs, tag] = process.argv.slice(2);
  endingEal(() => rxCompare(Number(size), Number(secs), tag!));
} else if (process.argv[2] === '--child') {
  const [, mode, device, secs, tag, mac] = process.argv.slice(2);
  endingEal(() => child(mode!, device!, Number(secs), tag!, mac!));
} else {
  await main();
}
