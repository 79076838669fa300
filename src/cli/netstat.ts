// `sluice netstat`: the bypass stacks' connection tables and counters, read from GET /netstat on
// the admin unix socket of a running `sluice serve`. The kernel's own `ss`/`netstat` cannot show
// these connections: they live in Sluice's TCP, not in the kernel.

import { request } from 'node:http';
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { formatProblems } from '../config/problems.js';
import { SluiceError } from '../errors.js';
import type { BypassNetstat } from '../transport/bypass-stack.js';

export interface NetstatResponse {
  stacks: BypassNetstat[];
}

/** 5 s: the admin endpoint answers from memory; longer means the event loop is stuck. */
const FETCH_TIMEOUT_MS = 5000;
/** The admin socket caps nothing, but a netstat reply past this is not a netstat reply. */
const MAX_REPLY_BYTES = 64 * 1024 * 1024;

/** GET /netstat over the admin unix socket, with an error that says what to check. */
export function fetchNetstat(socketPath: string, timeoutMs = FETCH_TIMEOUT_MS): Promise<NetstatResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/netstat', method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > MAX_REPLY_BYTES) {
          req.destroy();
          reject(new SluiceError('SLUICE_IO', `admin socket ${socketPath}: /netstat reply exceeds ${MAX_REPLY_BYTES} bytes`, { socket: socketPath }));
          return;
        }
        chunks.push(d);
      });
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) {
          reject(new SluiceError('SLUICE_IO', `admin socket ${socketPath}: GET /netstat answered ${res.statusCode}: ${body.trim().slice(0, 300)}`, { socket: socketPath, status: res.statusCode }));
          return;
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(body);
        } catch (e) {
          reject(new SluiceError('SLUICE_IO', `admin socket ${socketPath}: /netstat is not JSON (${(e as Error).message})`, { socket: socketPath }));
          return;
        }
        try {
          resolve(checkNetstat(parsed));
        } catch (e) {
          reject(e);
        }
      });
      res.on('error', (e) => reject(socketError(socketPath, e)));
    });
    req.on('timeout', () => {
      req.destroy();
      reject(new SluiceError('SLUICE_IO', `admin socket ${socketPath}: no answer to GET /netstat within ${timeoutMs} ms (is the sluice process stopped or stuck?)`, { socket: socketPath }));
    });
    req.on('error', (e) => reject(socketError(socketPath, e)));
    req.end();
  });
}

function socketError(socketPath: string, e: Error): SluiceError {
  const code = (e as NodeJS.ErrnoException).code;
  let why: string;
  switch (code) {
    case 'ENOENT':
      why = 'does not exist: is sluice running with admin.socket set?';
      break;
    case 'ECONNREFUSED':
      why = 'refused the connection (a stale socket file from a stopped sluice?): is sluice running?';
      break;
    case 'EACCES':
    case 'EPERM':
      why = 'is not accessible to this user: the admin socket is mode 0600, run netstat as the user sluice runs as';
      break;
    case 'ENOTSOCK':
      why = 'is not a unix socket: check admin.socket in the config';
      break;
    default:
      why = `cannot be reached: ${e.message}`;
  }
  return new SluiceError('SLUICE_IO', `admin socket ${socketPath} ${why}`, { socket: socketPath, errno: code ?? null });
}

/** Checks the reply's shape before anything reads it (another program could own the socket). */
export function checkNetstat(v: unknown): NetstatResponse {
  const bad = (path: string, want: string): never => {
    throw new SluiceError('SLUICE_IO', `/netstat reply: ${path} is not ${want} (is this a sluice admin socket of the same version?)`, { path });
  };
  if (!isObject(v) || !Array.isArray(v.stacks)) return bad('stacks', 'an array');
  v.stacks.forEach((s: unknown, i: number) => {
    const p = `stacks[${i}]`;
    if (!isObject(s)) return bad(p, 'an object');
    if (typeof s.device !== 'string') bad(`${p}.device`, 'a string');
    if (!isObject(s.stack) || !isObject(s.stack.counters)) bad(`${p}.stack.counters`, 'an object');
    if (!isObject(s.tcp) || !isObject(s.tcp.states)) bad(`${p}.tcp.states`, 'an object');
    if (!Array.isArray(s.connections)) bad(`${p}.connections`, 'an array');
    if (!isObject(s.poll)) bad(`${p}.poll`, 'an object');
  });
  return v as unknown as NetstatResponse;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The admin socket named by a config file (absolute: the loader resolves it against the file). */
export async function socketFromConfig(configPath: string): Promise<string> {
  const r = await loadConfig(configPath);
  if (!r.ok) {
    throw new SluiceError('SLUICE_CONFIG_INVALID', `${configPath} is invalid, so its admin socket is unknown (or pass --socket):\n${formatProblems(r.problems)}`, { config: configPath });
  }
  const socket = r.snapshot.admin.socket;
  if (socket === undefined || socket === null) {
    throw new SluiceError('SLUICE_CONFIG_INVALID', `${configPath}: admin.socket is not set; netstat reads the admin unix socket (add admin: { socket: /run/sluice/admin.sock } and restart, or pass --socket)`, {
      config: configPath,
      field: 'admin.socket',
    });
  }
  return socket;
}

// ---- the table ------------------------------------------------------------------------------

const COLUMNS: { title: string; align: 'l' | 'r' }[] = [
  { title: 'State', align: 'l' },
  { title: 'Local', align: 'l' },
  { title: 'Remote', align: 'l' },
  { title: 'Send-Q', align: 'r' },
  { title: 'Recv-Q', align: 'r' },
  { title: 'RTT-ms', align: 'r' },
  { title: 'RTO-ms', align: 'r' },
  { title: 'Cwnd', align: 'r' },
  { title: 'Ssthresh', align: 'r' },
  { title: 'Retx', align: 'r' },
  { title: 'Bytes-In', align: 'r' },
  { title: 'Bytes-Out', align: 'r' },
];

/** The plain-text report: per device a header, the connection table, TCP counters, drops. */
export function formatNetstat(data: NetstatResponse): string {
  if (data.stacks.length === 0) {
    return 'no bypass stacks are running: every listener is on the kernel path (use ss/netstat for those); listeners with transport: tap appear here\n';
  }
  return data.stacks.map(formatStack).join('\n');
}

function formatStack(s: BypassNetstat): string {
  const out: string[] = [];
  const v = s.stack;
  const p = s.poll;
  out.push(
    `${s.device}  ${v.address}/${v.prefixLength}  mac ${v.mac}  mtu ${v.mtu}` +
      (v.gateway ? `  gateway ${v.gateway}` : '') +
      `  poll duty ${pct(p.dutyCycle)}  rx ${p.rxPackets} pkts ${bytes(p.rxBytes)}  tx ${p.txPackets} pkts ${bytes(p.txBytes)}` +
      (p.drops > 0 ? `  port drops ${p.drops}` : ''),
  );
  const l = s.port.link;
  if (l) out.push(`link ${l.up ? 'up' : 'DOWN'}` + (l.up && l.speedMbps > 0 ? ` ${l.speedMbps} Mb/s ${l.fullDuplex ? 'full' : 'half'} duplex` : ''));
  const c = s.port.checksum;
  if (c) out.push(`checksums: rx by ${c.rx}, tx by ${c.tx}` + (c.rx === 'device' || c.tx === 'device' ? ` (device judged ${c.deviceRx} frames, filled ${c.deviceTx})` : ''));
  if (v.neighbours.length > 0) {
    out.push('neighbours: ' + v.neighbours.map((n) => `${n.ip} ${n.mac ?? '(incomplete)'} ${n.state}`).join(', '));
  }
  const rows: string[][] = [];
  // Listeners first, then by state and remote address, so repeated runs line up.
  const conns = [...s.connections].sort((a, b) => rank(a.state) - rank(b.state) || a.state.localeCompare(b.state) || a.remote.localeCompare(b.remote));
  for (const c of conns) {
    const listen = c.state === 'LISTEN';
    rows.push([
      c.state,
      c.local,
      listen ? '*:*' : c.remote,
      String(c.sendQueue),
      String(c.recvQueue),
      listen ? '-' : ms(c.srttMs),
      listen ? '-' : ms(c.rtoMs),
      listen ? '-' : String(c.cwnd),
      listen ? '-' : window(c.ssthresh),
      String(c.retransmits),
      String(c.bytesIn),
      String(c.bytesOut),
    ]);
  }
  out.push(table(rows));
  const t = s.tcp;
  out.push(
    `tcp: segments in ${t.segmentsIn} out ${t.segmentsOut}, retransmits ${t.retransmits} (${bytes(t.retransmittedBytes)}), ` +
      `resets sent ${t.resetsSent} received ${t.resetsReceived}, checksum errors ${t.checksumErrors}, ` +
      `opens passive ${t.passiveOpens} active ${t.activeOpens}, timeouts ${t.timeouts}` +
      (t.windowProbes > 0 || t.zeroWindowAdvertised > 0 ? `, zero window probes sent ${t.windowProbes} advertised ${t.zeroWindowAdvertised}` : '') +
      (t.synCookiesSent > 0 ? `, syn cookies sent ${t.synCookiesSent} valid ${t.synCookiesValid} invalid ${t.synCookiesInvalid}` : ''),
  );
  const states = Object.entries(t.states).filter(([, n]) => n > 0);
  out.push(`states: ${states.length > 0 ? states.map(([k, n]) => `${k} ${n}`).join(', ') : 'none'}`);
  const drops = [
    ...nonZero('rx', v.counters.rxDrop),
    ...nonZero('tx', v.counters.txDrop),
    ...nonZero('tcp', t.drops),
  ];
  out.push(`drops: ${drops.length > 0 ? drops.join(', ') : 'none'}`);
  if (s.nic) out.push(formatNic(s.nic));
  if (s.xdp) out.push(formatXdp(s.xdp));
  return out.join('\n') + '\n';
}

/** The NIC copy of the filter (rte_flow on a DPDK port): its flows with their matches, or the PMD's refusal. */
export function formatNic(n: NonNullable<BypassNetstat['nic']>): string {
  const head = `nic: ${n.port} (${n.driver})`;
  const out: string[] = [];
  if (n.rules.length > 0) {
    out.push(`${head} ${n.rules.length} flow${n.rules.length === 1 ? '' : 's'}: ` +
      n.rules.map((r) => `${r.rule} ${r.action === 'drop' ? 'dropped' : 'passed'} ${r.packets === null ? '-' : r.packets}`).join(', '));
  } else if (n.refused !== null) {
    out.push(`${head} no rules in the NIC (the software filter and XDP, where configured, do the work): ${n.refused}`);
  } else {
    out.push(`${head} no rules in the NIC: the filter has no deny or allow CIDRs`);
  }
  if (n.allowRefused !== null && n.refused === null) out.push(`  allow list not in the NIC (XDP and software keep it): ${n.allowRefused}`);
  if (n.countersRefused !== null && n.rules.length > 0) out.push(`  no counters: ${n.countersRefused}`);
  if (n.error !== null) out.push(`  last error: ${n.error}`);
  return out.join('\n');
}

/** The XDP copy of the filter: drops counted here happened in the kernel, below the counters above. */
function formatXdp(x: NonNullable<BypassNetstat['xdp']>): string {
  if (!x.attached) return `xdp: ${x.interface} NOT attached (software filter only): ${x.error ?? 'unknown reason'}`;
  const head = `xdp: ${x.interface} prog ${x.progId} ${x.mode}  maps ${x.pinDir}`;
  const c = x.counters;
  if (!c) return `${head}  counters unreadable: ${x.error ?? 'unknown reason'}`;
  const rules = c.rules.filter((r) => r.packets > 0).map((r) => `deny ${r.rule} ${r.packets}`);
  return `${head}\n  passed ${c.passed.packets} pkts ${bytes(c.passed.bytes)}  dropped ${c.dropped.packets} pkts ${bytes(c.dropped.bytes)}` +
    ` (deny ${c.deny.packets}, not allowed ${c.notAllowed.packets}, syn rate ${c.synRate.packets})` +
    (rules.length > 0 ? `\n  by rule: ${rules.join(', ')}` : '') +
    (x.error ? `\n  last error: ${x.error}` : '');
}

function nonZero(prefix: string, counts: Record<string, number>): string[] {
  return Object.entries(counts).filter(([, n]) => n > 0).map(([k, n]) => `${prefix} ${k} ${n}`);
}

function rank(state: string): number {
  return state === 'LISTEN' ? 0 : state === 'ESTABLISHED' ? 1 : state === 'TIME-WAIT' ? 3 : 2;
}

function table(rows: string[][]): string {
  const widths = COLUMNS.map((c, i) => Math.max(c.title.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (COLUMNS[i].align === 'l' ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd();
  return [line(COLUMNS.map((c) => c.title)), ...rows.map(line)].join('\n');
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function ms(x: number | null): string {
  return x === null || !Number.isFinite(x) ? '-' : x < 10 ? x.toFixed(2) : x.toFixed(0);
}

/** ssthresh starts "arbitrarily high" (RFC 5681 3.1): show that as 'inf' rather than 4294967295. */
function window(x: number | null): string {
  return x === null || !Number.isFinite(x) || x >= 0x3fffffff ? 'inf' : String(x);
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

// ---- the command ----------------------------------------------------------------------------

export interface NetstatOptions {
  socket?: string;
  config?: string;
  json?: boolean;
}

/** Runs the command; returns the exit code (0 shown, 1 unreachable or misconfigured, 2 usage). */
export async function netstatCommand(opts: NetstatOptions, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  if (opts.socket !== undefined && opts.config !== undefined) {
    err('sluice netstat: give either --socket or --config, not both\n');
    return 2;
  }
  if (opts.socket === undefined && opts.config === undefined) {
    err('sluice netstat: say where the admin socket is: --socket PATH, or --config FILE (its admin.socket)\n');
    return 2;
  }
  try {
    const socket = opts.socket ?? (await socketFromConfig(opts.config!));
    const data = await fetchNetstat(socket);
    out(opts.json ? JSON.stringify(data, null, 2) + '\n' : formatNetstat(data));
    return 0;
  } catch (e) {
    if (e instanceof SluiceError) {
      err(`sluice netstat: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

export function registerNetstat(program: Command, done: (code: number) => void): void {
  program
    .command('netstat')
    .description("show the bypass stacks' connections and counters (from a running sluice's admin socket)")
    .option('-s, --socket <path>', 'admin unix socket of the running sluice')
    .option('-c, --config <file>', "config file whose admin.socket to use")
    .option('--json', 'print the raw JSON from GET /netstat')
    .action(async (opts: NetstatOptions) => {
      done(await netstatCommand(opts, (s) => process.stdout.write(s), (s) => process.stderr.write(s)));
    });
}
