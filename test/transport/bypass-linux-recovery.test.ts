// Interop with Linux's TCP when it has to recover, proved from both ends. Sluice's stack
// (BypassStack, TcpConnection) runs on a real TAP; the kernel's TCP is in a namespace the test
// creates (the TAP's kernel side at 198.18.0.1/24, Sluice at 198.18.0.2), removed in teardown.
//  1. Linux retransmits: a port under the stack (test/io/drop-port.ts) drops chosen frames of
//     Linux's data, so Linux's own TCP must send them again (fast retransmit, a lost
//     retransmission, a tail loss); its RetransSegs rises by at least the frames dropped, and the
//     8 MiB arrive intact.
//  2. Linux probes a zero window: the Sluice application stops reading, its window closes and
//     stays closed for seconds; Linux's persist timer sends window probes (TCPWinProbe), each
//     answered with a zero window (zeroWindowAdvertised); on resume everything arrives.
//  3. Sluice probes Linux's zero window: a Linux reader stops reading; Sluice's probes are dropped
//     by Linux (TCPZeroWindowDrop), counted in windowProbes and never as retransmissions.
// Every wait is bounded; a failure prints Sluice's netstat and `ss -tin` from the namespace.

import t, { type Test } from 'tap';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Metrics } from '../../src/admin/metrics.js';
import { formatNetstat } from '../../src/cli/netstat.js';
import type { FilterRules } from '../../src/net/filter.js';
import { BypassStack } from '../../src/transport/bypass-stack.js';
import { TcpConnection } from '../../src/transport/bypass.js';
import type { CloseReason } from '../../src/transport/connection.js';
import { RxDropPort, type DropTarget } from '../io/drop-port.js';
import { STACK_IP, namespaceFor, sh, tapSkip as skip } from '../io/netns.js';

/** A command in the namespace, without blocking the event loop the stack polls in; stdin is not a pipe. */
function nsExec(ns: string, cmd: string, args: string[], timeoutMs = 5000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr: err !== null && stderr === '' ? err.message : stderr });
    });
  });
}

const OPEN: FilterRules = { allow: [], deny: [], maxConnectionsPerSource: 0, synRatePerSource: 0, synBurstPerSource: 0 };
/** Sluice's receive buffer (TcpConfig default): the most a paused reader holds. */
const RECV_BUFFER = 256 * 1024;

interface Link {
  stack: BypassStack;
  ns: string;
  drops: RxDropPort | null;
}

/** A bypass stack on a new TAP whose kernel side is in a fresh namespace; optionally dropping rx frames. */
function link(t: Test, drop?: { port: number; targets: DropTarget[] }): Link {
  const h: { stack?: BypassStack; drops?: RxDropPort } = {};
  const ns = namespaceFor(
    t,
    () => {
      h.stack = BypassStack.openTap(
        { device: 'sluice-t%d', mtu: 1500, address: STACK_IP, prefixLength: 24, filter: OPEN },
        drop ? (tap) => (h.drops = new RxDropPort(tap, drop.port, drop.targets)) : undefined,
      );
      return h.stack.port.name;
    },
    () => h.stack?.close(),
  );
  return { stack: h.stack!, ns, drops: h.drops ?? null };
}

/** Linux's TCP counters in the namespace, named as nstat names them (TcpRetransSegs, TcpExtTCPWinProbe). */
async function linuxCounters(ns: string): Promise<Map<string, number>> {
  const r = await nsExec(ns, 'cat', ['/proc/net/snmp', '/proc/net/netstat']);
  if (r.code !== 0) throw new Error(`reading /proc/net/snmp and /proc/net/netstat in ${ns} failed (${r.code}): ${r.stderr}`);
  const m = new Map<string, number>();
  const lines = r.stdout.split('\n');
  // Pairs of lines: "Tcp: RtoAlgorithm RtoMin ..." then "Tcp: 1 200 ...".
  for (let i = 0; i + 1 < lines.length; i++) {
    const names = lines[i]!.trim().split(/\s+/);
    const values = lines[i + 1]!.trim().split(/\s+/);
    if (names[0] !== values[0] || !names[0]!.endsWith(':') || !/^-?\d+$/.test(values[1] ?? '')) continue;
    const prefix = names[0]!.slice(0, -1);
    for (let k = 1; k < names.length; k++) m.set(prefix + names[k], Number(values[k]));
    i++;
  }
  return m;
}

/** after - before for each name; `optional` ones a kernel may lack count 0 when absent. */
function deltas(before: Map<string, number>, after: Map<string, number>, names: string[], optional: string[] = []): Record<string, number> {
  const d: Record<string, number> = {};
  for (const n of [...names, ...optional]) {
    const a = after.get(n);
    const b = before.get(n);
    if (a === undefined || b === undefined) {
      if (optional.includes(n)) {
        d[n] = 0;
        continue;
      }
      throw new Error(`Linux counter ${n} is missing from /proc/net/snmp or /proc/net/netstat`);
    }
    d[n] = a - b;
  }
  return d;
}

/** What to print when something failed: Sluice's netstat and the kernel side's sockets. */
async function diagnostics(l: Link): Promise<string> {
  const ss = await nsExec(l.ns, 'ss', ['-tin']);
  const drops = l.drops ? `\nrx drops: ${JSON.stringify(l.drops.dropped)} of ${l.drops.dataFrames} data frames` : '';
  return `sluice netstat:\n${formatNetstat({ stacks: [l.stack.netstat()] })}\nss -tin in ${l.ns}:\n${ss.stdout}${ss.stderr}${drops}`;
}

async function withDiagnostics(t: Test, l: Link, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } finally {
    if (!t.passing()) t.comment(await diagnostics(l));
  }
}

/** Polls `cond` every 50 ms for at most `ms`; true when it held. */
async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface NsNode {
  /** JSON lines the script printed so far. */
  readonly lines: Record<string, unknown>[];
  waitLine(pred: (l: Record<string, unknown>) => boolean, ms: number): Promise<Record<string, unknown> | null>;
  send(s: string): void;
  /** Exit code and the last JSON line. */
  readonly exit: Promise<{ code: number | null; last: Record<string, unknown> }>;
}

/** A Node script on the kernel's TCP in the namespace; it reports in JSON lines; killed in teardown. */
function nsNode(t: Test, ns: string, script: string): NsNode {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      lines.push({ unparsed: line });
    }
    for (const w of waiters) w();
  });
  const exit = new Promise<{ code: number | null; last: Record<string, unknown> }>((resolve) => {
    child.on('close', (code) => resolve({ code, last: lines.at(-1) ?? { stderr } }));
  });
  return {
    lines,
    exit,
    send: (s) => child.stdin.write(s),
    waitLine(pred, ms) {
      const seen = lines.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          resolve(null);
        }, ms);
        const check = (): void => {
          const l = lines.find(pred);
          if (!l) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(l);
        };
        waiters.add(check);
        void exit.then(() => check());
      });
    },
  };
}

/**
 * Linux sender: connects to Sluice, writes `bytes` random bytes and FIN at once (Node queues what
 * the socket does not take), then reads to Sluice's FIN. Prints {bytes, sha256, ms, ended, hadError}.
 */
function senderScript(port: number, bytes: number, timeoutMs: number): string {
  return `
const net = require('net'), crypto = require('crypto');
const data = crypto.randomBytes(${bytes});
const sha256 = crypto.createHash('sha256').update(data).digest('hex');
const t0 = Date.now();
let ended = false, finishedMs = -1;
const out = (o, code) => { process.stdout.write(JSON.stringify(o) + '\\n'); process.exit(code); };
const s = net.connect(${port}, '${STACK_IP}', () => {
  process.stdout.write(JSON.stringify({ connected: s.localPort }) + '\\n');
  s.end(data, () => { finishedMs = Date.now() - t0; });
});
s.on('data', () => {});
s.on('end', () => { ended = true; });
s.on('close', (hadError) => out({ bytes: data.length, sha256, ms: Date.now() - t0, finishedMs, ended, hadError }, hadError || !ended ? 1 : 0));
s.on('error', (e) => out({ error: e.code || e.message, written: s.bytesWritten }, 1));
setTimeout(() => out({ error: 'timeout', written: s.bytesWritten, ended }, 2), ${timeoutMs});
`;
}

/** Sluice's side of cases 1 and 2: a TcpConnection that hashes what it reads, optionally stopping at `pauseAt`. */
class Sink {
  conn: TcpConnection | null = null;
  bytes = 0;
  sha256 = '';
  ended = false;
  pausedAt = -1;
  readonly closed: Promise<CloseReason>;
  private readonly hash = createHash('sha256');

  constructor(stack: BypassStack, port: number, pauseAt = Infinity) {
    this.closed = new Promise((resolve) => {
      stack.listen(port, (sock) => {
        const conn = new TcpConnection(sock, { listener: 'recovery', transport: 'tap' });
        this.conn = conn;
        conn.setHandler({
          onData: (c) => {
            this.hash.update(c);
            this.bytes += c.length;
            if (this.pausedAt < 0 && this.bytes >= pauseAt) {
              this.pausedAt = this.bytes;
              conn.pause();
            }
          },
          onEnd: () => {
            this.ended = true;
            this.sha256 = this.hash.digest('hex');
            conn.end();
          },
          onDrain() {},
          onClose: (r) => resolve(r),
        });
      });
    });
  }
}

function conn(stack: BypassStack, port: number) {
  return stack.netstat().connections.find((c) => c.localPort === port && c.state !== 'LISTEN');
}

async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

const MiB = 1024 * 1024;

t.test('Linux retransmits the data frames Sluice drops; 8 MiB arrive intact', { skip, timeout: 40_000 }, async (t) => {
  const PORT = 7101;
  const TOTAL = 8 * MiB;
  // Offsets more than one MSS apart: each target is in frames of its own.
  const targets: DropTarget[] = [
    { offset: 100_000, copies: 1 }, // early, in slow start
    { offset: 1_000_000, copies: 1 },
    { offset: 3_000_000, copies: 1 }, // three in one window
    { offset: 3_002_000, copies: 1 },
    { offset: 3_004_000, copies: 1 },
    { offset: 5_000_000, copies: 2 }, // the retransmission is lost too
    { offset: TOTAL - 1, copies: 1 }, // the tail: no later data to report it
  ];
  const expected = targets.reduce((n, x) => n + x.copies, 0);
  const l = link(t, { port: PORT, targets });
  await withDiagnostics(t, l, async () => {
    const sink = new Sink(l.stack, PORT);
    const before = await linuxCounters(l.ns);
    const client = nsNode(t, l.ns, senderScript(PORT, TOTAL, 30_000));
    // ss -tin samples while it runs: the connection's own retransmission count (retrans:cur/total).
    let ssRetrans = -1;
    const sampler = setInterval(() => {
      void nsExec(l.ns, 'ss', ['-tinH', 'dst', STACK_IP], 2000).then((r) => {
        const m = /retrans:\d+\/(\d+)/.exec(r.stdout);
        if (m) ssRetrans = Math.max(ssRetrans, Number(m[1]));
      });
    }, 100);
    const res = await client.exit.finally(() => clearInterval(sampler));
    t.equal(res.code, 0, `Linux client: ${JSON.stringify(res.last)}`);
    const reason = await bounded(sink.closed, 5000, 'Sluice side close');
    const after = await linuxCounters(l.ns);
    const d = deltas(before, after, ['TcpRetransSegs', 'TcpExtTCPFastRetrans', 'TcpExtTCPLostRetransmit', 'TcpExtTCPLossProbes', 'TcpExtTCPTimeouts', 'TcpExtTCPSackRecovery']);
    const drops = l.drops!;

    t.equal(drops.dropped.length, expected, `Sluice's port dropped ${expected} frames of Linux's data: ${drops.dropped.map((x) => `${x.offset}#${x.copy}`).join(' ')} (of ${drops.dataFrames} data frames)`);
    t.ok(drops.done, 'every target as often as asked');
    t.equal(sink.bytes, TOTAL, 'every byte arrived at Sluice');
    t.equal(sink.sha256, res.last.sha256, 'sha256 of what Linux sent and what Sluice read match');
    t.ok(d.TcpRetransSegs! >= expected, `Linux's TcpRetransSegs rose by ${d.TcpRetransSegs} (>= ${expected} dropped)`);
    t.ok(d.TcpExtTCPFastRetrans! + d.TcpExtTCPLossProbes! + d.TcpExtTCPTimeouts! > 0, 'through its loss recovery');
    t.comment(`Linux: ${JSON.stringify(d)}, ss -ti retrans total ${ssRetrans} (last sample); transfer ${String(res.last.ms)} ms`);
    t.equal(reason, 'peer_closed', 'Linux closed first, Sluice followed: an orderly close');
    t.equal(res.last.ended, true, "Linux read Sluice's FIN");

    const n = l.stack.netstat();
    t.equal(n.tcp.retransmits, 0, 'Sluice sent only ACKs and a FIN: nothing of its own retransmitted');
    t.equal(n.tcp.windowProbes, 0);
    t.equal(n.tcp.checksumErrors, 0);
    t.equal(n.tcp.states.ESTABLISHED, 0, 'no connection left open');
    t.comment(`Sluice: segments in ${n.tcp.segmentsIn} out ${n.tcp.segmentsOut}, drops ${JSON.stringify(n.tcp.drops)}`);
  });
});

t.test('Linux probes the zero window of a Sluice reader that stopped; nothing lost when it resumes', { skip, timeout: 40_000 }, async (t) => {
  const PORT = 7102;
  const TOTAL = 4 * MiB;
  const PAUSE_AT = MiB;
  const HOLD_MS = 3500;
  const l = link(t);
  await withDiagnostics(t, l, async () => {
    const sink = new Sink(l.stack, PORT, PAUSE_AT);
    const before = await linuxCounters(l.ns);
    const client = nsNode(t, l.ns, senderScript(PORT, TOTAL, 30_000));
    t.ok(await until(() => sink.pausedAt > 0, 10_000), `the Sluice reader stopped after ${sink.pausedAt} bytes`);
    t.ok(await until(() => conn(l.stack, PORT)?.rcvWnd === 0, 5000), 'its receive buffer filled: window zero');
    const closedAt = Date.now();
    t.ok(l.stack.tcp.counters.zeroWindowAdvertised > 0, 'and Sluice advertised it');
    // Hold it closed: at least HOLD_MS and until Linux has probed twice (its persist timer backs off).
    let probes = 0;
    await until(async () => {
      probes = deltas(before, await linuxCounters(l.ns), ['TcpExtTCPWinProbe']).TcpExtTCPWinProbe!;
      return probes >= 2 && Date.now() - closedAt >= HOLD_MS;
    }, 15_000);
    const held = Date.now() - closedAt;
    const c = conn(l.stack, PORT);
    t.equal(c?.recvQueue, RECV_BUFFER, `Sluice still holds a full buffer after ${held} ms`);
    t.equal(sink.bytes, sink.pausedAt, 'and the application read nothing more');
    const zeroBefore = l.stack.tcp.counters.zeroWindowAdvertised;
    sink.conn!.resume();

    const res = await client.exit;
    t.equal(res.code, 0, `Linux client: ${JSON.stringify(res.last)}`);
    const reason = await bounded(sink.closed, 5000, 'Sluice side close');
    const after = await linuxCounters(l.ns);
    const d = deltas(before, after, ['TcpExtTCPWinProbe', 'TcpRetransSegs', 'TcpExtTCPTimeouts']);
    const n = l.stack.netstat();
    t.ok(d.TcpExtTCPWinProbe! >= 2, `Linux sent ${d.TcpExtTCPWinProbe} zero-window probes (TcpExtTCPWinProbe) while the window was closed for ${held} ms`);
    t.ok(zeroBefore >= d.TcpExtTCPWinProbe!, `Sluice answered with a zero window ${zeroBefore} times (zeroWindowAdvertised)`);
    t.ok((n.tcp.drops.out_of_window ?? 0) >= d.TcpExtTCPWinProbe!, `each probe (SEQ = RCV.NXT - 1) is outside the zero window and acked: out_of_window ${n.tcp.drops.out_of_window ?? 0}`);
    t.equal(sink.bytes, TOTAL, 'every byte arrived after the reopening');
    t.equal(sink.sha256, res.last.sha256, 'sha256 matches');
    t.equal(reason, 'peer_closed', 'an orderly close');
    t.equal(res.last.ended, true, "Linux read Sluice's FIN");
    t.equal(n.tcp.retransmits, 0, 'Sluice retransmitted nothing');
    t.equal(n.tcp.windowProbes, 0, 'and, as the receiver, sent no probes');
    t.equal(n.tcp.states.ESTABLISHED, 0, 'no connection left open');
    t.comment(`Linux: ${JSON.stringify(d)}; Sluice: zeroWindowAdvertised ${n.tcp.zeroWindowAdvertised} (${zeroBefore} while held), out_of_window ${n.tcp.drops.out_of_window ?? 0}, transfer ${String(res.last.ms)} ms`);

    // Where operators see it: sluice netstat's counters line and /metrics.
    t.match(formatNetstat({ stacks: [n] }), new RegExp(`^tcp: .*, zero window probes sent 0 advertised ${n.tcp.zeroWindowAdvertised}$`, 'm'));
    const metrics = new Metrics({ processMetrics: false });
    metrics.watchBypass(() => [n]);
    const text = await metrics.registry.metrics();
    t.match(text, new RegExp(`^sluice_bypass_tcp_zero_window_advertised_total\\{device="${n.device}"\\} ${n.tcp.zeroWindowAdvertised}$`, 'm'));
    t.match(text, new RegExp(`^sluice_bypass_tcp_window_probes_total\\{device="${n.device}"\\} 0$`, 'm'));
  });
});

t.test("Sluice probes a Linux reader's zero window; its probes are not counted as retransmissions", { skip, timeout: 40_000 }, async (t) => {
  const PORT = 7103;
  const TOTAL = 4 * MiB;
  const PAUSE_AT = 256 * 1024;
  const HOLD_MS = 3500;
  const l = link(t);
  // A small receive buffer on the Linux side (this namespace only), so its window closes soon.
  sh('ip', ['netns', 'exec', l.ns, 'sysctl', '-q', '-w', 'net.ipv4.tcp_rmem=4096 65536 262144']);
  await withDiagnostics(t, l, async () => {
    const data = randomBytes(TOTAL);
    const sha256 = createHash('sha256').update(data).digest('hex');
    let reason: CloseReason | null = null;
    l.stack.listen(PORT, (sock) => {
      const c = new TcpConnection(sock, { listener: 'recovery', transport: 'tap' });
      let off = 0;
      const pump = (): void => {
        while (off < data.length) {
          const n = Math.min(64 * 1024, data.length - off);
          const ok = c.write(data.subarray(off, off + n));
          off += n;
          if (!ok) return;
        }
        c.end();
      };
      c.setHandler({ onData() {}, onEnd() {}, onDrain: pump, onClose: (r) => (reason = r) });
      pump();
    });
    const before = await linuxCounters(l.ns);
    const client = nsNode(t, l.ns, `
const net = require('net'), crypto = require('crypto');
const h = crypto.createHash('sha256');
let n = 0, paused = false, ended = false;
const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const out = (o, code) => { say(o); process.exit(code); };
const s = net.connect(${PORT}, '${STACK_IP}');
s.on('data', (d) => {
  h.update(d);
  n += d.length;
  if (!paused && n >= ${PAUSE_AT}) { paused = true; s.pause(); say({ paused: n }); }
});
process.stdin.on('data', (d) => { if (String(d).includes('resume')) s.resume(); });
s.on('end', () => { ended = true; s.end(); });
s.on('close', (hadError) => out({ bytes: n, sha256: h.digest('hex'), ended, hadError }, hadError || !ended ? 1 : 0));
s.on('error', (e) => out({ error: e.code || e.message, bytes: n }, 1));
setTimeout(() => out({ error: 'timeout', bytes: n }, 2), 30000);
`);
    t.ok(await client.waitLine((x) => typeof x.paused === 'number', 10_000), 'the Linux reader stopped');
    t.ok(await until(() => conn(l.stack, PORT)?.sndWnd === 0, 10_000), 'Linux advertised a zero window to Sluice');
    const closedAt = Date.now();
    const atClose = { ...l.stack.tcp.counters };
    await until(() => l.stack.tcp.counters.windowProbes - atClose.windowProbes >= 2 && Date.now() - closedAt >= HOLD_MS, 15_000);
    const held = Date.now() - closedAt;
    const probes = l.stack.tcp.counters.windowProbes;
    const mid = l.stack.netstat();
    client.send('resume\n');

    const res = await client.exit;
    t.equal(res.code, 0, `Linux client: ${JSON.stringify(res.last)}`);
    t.ok(await until(() => reason !== null, 5000), `Sluice's side closed: ${String(reason)}`);
    const after = await linuxCounters(l.ns);
    const d = deltas(before, after, ['TcpExtTCPToZeroWindowAdv', 'TcpExtTCPFromZeroWindowAdv'], ['TcpExtTCPZeroWindowDrop', 'TcpExtBeyondWindow']);
    const n = l.stack.netstat();
    const heldProbes = probes - atClose.windowProbes;
    t.ok(heldProbes >= 2, `Sluice sent ${heldProbes} zero-window probes while Linux's window was closed for ${held} ms`);
    t.ok(d.TcpExtTCPToZeroWindowAdv! >= 1, `Linux advertised a zero window (TcpExtTCPToZeroWindowAdv +${d.TcpExtTCPToZeroWindowAdv})`);
    // Linux rejects a probe's byte beyond its zero window: before 6.17-ish in tcp_data_queue
    // (TCPZeroWindowDrop), since then already in tcp_sequence (BeyondWindow). One probe may meet
    // the window already reopened.
    const rejected = d.TcpExtTCPZeroWindowDrop! + d.TcpExtBeyondWindow!;
    t.ok(rejected >= Math.max(1, heldProbes - 1) && rejected <= probes, `and rejected the probes' byte: TcpExtTCPZeroWindowDrop +${d.TcpExtTCPZeroWindowDrop}, TcpExtBeyondWindow +${d.TcpExtBeyondWindow}`);
    t.equal(mid.tcp.retransmits - atClose.retransmits, 0, 'no probe counted as a retransmission while the window was closed');
    t.equal(mid.tcp.retransmittedBytes - atClose.retransmittedBytes, 0);
    t.equal(n.tcp.retransmits, 0, 'nor anything else on this lossless link (the data after the reopening starts at the probe byte)');
    t.same(n.connections.filter((c) => c.localPort === PORT).map((c) => c.retransmits).filter((r) => r !== 0), [], 'per connection too (netstat Retx)');
    t.equal(n.tcp.windowProbes, probes, 'no probe after the reopening');
    t.equal(res.last.bytes, TOTAL, 'every byte arrived at Linux');
    t.equal(res.last.sha256, sha256, 'sha256 matches');
    t.equal(reason, 'local_closed', 'Sluice closed first, Linux followed: an orderly close');
    t.equal(n.tcp.states.ESTABLISHED, 0, 'no connection left open');
    t.match(formatNetstat({ stacks: [n] }), new RegExp(`^tcp: segments in \\d+ out \\d+, retransmits 0 .*, zero window probes sent ${probes} advertised \\d+$`, 'm'));
    t.comment(`Linux: ${JSON.stringify(d)}; Sluice: windowProbes ${probes}, retransmits ${n.tcp.retransmits}, TLPs ${n.tcp.tailLossProbes}, RTOs ${n.tcp.rtoExpirations}`);
  });
});
