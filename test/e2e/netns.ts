// End-to-end helpers for the bypass path: a network namespace per test with a TAP device whose
// kernel side is 198.18.0.1/24 (the client and upstream side), the real `sluice serve` started
// inside it on that device (its own stack answers for 198.18.0.2), and clients and upstreams run
// inside the namespace too. Everything is removed in t.teardown; the host's interfaces are never
// touched. Same ideas as test/io/netns.ts, but the TAP is created by `ip tuntap` in the namespace
// and attached by name, because here the sluice process (not the test) owns it.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { open, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { BIN, ROOT, tempDir, type LogLine, type CmdResult } from './harness.js';
import type { Test } from 'tap';
import type { BypassNetstat } from '../../src/transport/bypass-stack.js';

export const KERNEL_IP = '198.18.0.1';
export const STACK_IP = '198.18.0.2';
export const TAP_DEV = 'stap0';

const isRoot = process.getuid?.() === 0;
/** Skipped only with a reason: CI runs these as root. */
export const bypassSkip: string | false = !isRoot
  ? 'bypass e2e tests need root (CAP_NET_ADMIN for namespaces and TAP devices)'
  : !existsSync('/dev/net/tun')
    ? '/dev/net/tun is missing'
    : !existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))
      ? 'dist/ is not built (npm run build)'
      : !existsSync(join(ROOT, 'native', 'build', 'Release', 'sluice_native.node'))
        ? 'the native addon is not built (npm run build:native)'
        : false;

interface Teardown {
  teardown(fn: () => unknown): void;
}

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

let counter = 0;

/** A fresh namespace `sluice-t-<pid>-<n>` with lo up and TAP `stap0` at 198.18.0.1/24 (IPv6 off). */
export function namespaceWithTap(t: Teardown): string {
  const ns = `sluice-t-${process.pid}-${counter++}`;
  try {
    sh('ip', ['netns', 'del', ns]);
  } catch {
    // not there: the normal case
  }
  sh('ip', ['netns', 'add', ns]);
  t.teardown(() => {
    try {
      sh('ip', ['netns', 'del', ns]);
    } catch {
      // already gone
    }
  });
  sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  sh('ip', ['-n', ns, 'tuntap', 'add', 'dev', TAP_DEV, 'mode', 'tap']);
  // No router solicitations or MLD reports in the frame counters.
  sh('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${TAP_DEV}.disable_ipv6=1`]);
  sh('ip', ['-n', ns, 'addr', 'add', `${KERNEL_IP}/24`, 'dev', TAP_DEV]);
  sh('ip', ['-n', ns, 'link', 'set', TAP_DEV, 'up']);
  return ns;
}

/** A command inside the namespace with a time limit; stdout kept as latin1 (bodies are bytes). */
export function nsRun(ns: string, cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<CmdResult> {
  return new Promise((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString('latin1'); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A command that exits without reading its input closes the pipe first: EPIPE then is not an
    // error of the command (its exit code says how it went).
    p.stdin.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') stderr += `stdin: ${e.message}\n`;
    });
    p.stdin.end(opts.input ?? '');
  });
}

export interface NsSluice {
  readonly proc: ChildProcess;
  readonly dir: string;
  readonly configPath: string;
  readonly adminSocket: string;
  readonly logs: LogLine[];
  waitLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  stop(): Promise<void>;
}

/**
 * `sluice serve` inside `ns` (ip netns exec execs node, so the child is sluice itself). The config
 * gets `admin: { socket: <dir>/admin.sock }` appended unless it names one. Needs logging.level info
 * or lower: readiness is the "sluice ready" line.
 */
export async function startNsSluice(t: Teardown, ns: string, configYaml: string, dir: string): Promise<NsSluice> {
  const configPath = join(dir, 'sluice.yaml');
  const adminSocket = join(dir, 'admin.sock');
  const yaml = /^admin:/m.test(configYaml) ? configYaml : `${configYaml}\nadmin: { address: 127.0.0.1, port: 0, socket: ${adminSocket} }\n`;
  await writeFile(configPath, yaml);
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, BIN, 'serve', '--config', configPath], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let parsed: LogLine;
    try {
      parsed = JSON.parse(line) as LogLine;
    } catch {
      parsed = { level: 30, msg: line };
    }
    logs.push(parsed);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].pred(parsed)) {
        waiters[i].resolve(parsed);
        waiters.splice(i, 1);
      }
    }
  });
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
  const waitLog = (pred: (l: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> => {
    const seen = logs.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`timed out waiting for a log line; stderr: ${stderr}; logs: ${JSON.stringify(logs.slice(-5))}`)), timeoutMs);
      waiters.push({ pred, resolve: (l) => { clearTimeout(timer); res(l); } });
      void exited.then((code) => { clearTimeout(timer); rej(new Error(`sluice exited (${code}) before the log line; stderr: ${stderr}; logs: ${JSON.stringify(logs.slice(-5))}`)); });
    });
  };
  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    })();
    return stopped;
  };
  t.teardown(stop);
  await waitLog((l) => l.msg === 'sluice ready');
  return { proc, dir, configPath, adminSocket, logs, waitLog, stop };
}

/**
 * An upstream HTTP/1.1 server (Node, keep-alive) inside the namespace on 198.18.0.1:8080:
 *   GET /hello                -> "upstream hello\n" and the request's Host and x-forwarded-* headers
 *   PUT|POST /sink            -> JSON { bytes, sha256 } of the request body
 *   GET /stream?bytes=N       -> N pseudo-random bytes in 64 KiB writes honouring backpressure;
 *                                GET /last-stream then gives { bytes, sha256 } of what was sent
 */
const UPSTREAM_JS = `
import { createServer } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
const block = randomBytes(65536);
let last = { bytes: 0, sha256: '' };
const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/hello') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ hello: 'upstream', host: req.headers.host, xff: req.headers['x-forwarded-for'] ?? null }) + '\\n');
    return;
  }
  if (url.pathname === '/sink') {
    const h = createHash('sha256');
    let n = 0;
    req.on('data', (d) => { n += d.length; h.update(d); });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ bytes: n, sha256: h.digest('hex') }));
    });
    return;
  }
  if (url.pathname === '/stream') {
    const total = Number(url.searchParams.get('bytes'));
    const h = createHash('sha256');
    let sent = 0;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
    const pump = () => {
      while (sent < total) {
        const chunk = block.subarray(0, Math.min(block.length, total - sent));
        h.update(chunk);
        sent += chunk.length;
        if (!res.write(chunk)) { res.once('drain', pump); return; }
      }
      last = { bytes: sent, sha256: h.digest('hex') };
      res.end();
    };
    pump();
    return;
  }
  if (url.pathname === '/last-stream') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(last));
    return;
  }
  res.statusCode = 404;
  res.end('no such upstream path\\n');
});
server.keepAliveTimeout = 30000;
server.listen(8080, '${KERNEL_IP}', () => process.stdout.write('upstream ready\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

export const UPSTREAM = `${KERNEL_IP}:8080`;

/** Starts the upstream above inside `ns`; stopped in teardown. */
export async function startNsUpstream(t: Teardown, ns: string, dir: string): Promise<void> {
  const script = join(dir, 'upstream.mjs');
  await writeFile(script, UPSTREAM_JS);
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((res) => proc.on('exit', () => res()));
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  });
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`upstream did not start: ${stderr}`)), 10_000);
    proc.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('upstream ready')) {
        clearTimeout(timer);
        res();
      }
    });
    proc.on('exit', (code) => { clearTimeout(timer); rej(new Error(`upstream exited (${code}): ${stderr}`)); });
  });
}

/** A temp dir removed in teardown. */
export async function scratch(t: Teardown): Promise<string> {
  const dir = await tempDir('sluice-bypass-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** `openssl req` for an ECDSA P-256 self-signed certificate naming `cn` (SAN DNS:cn). */
export async function makeCert(dir: string, name: string, cn: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  sh('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn}`, '-keyout', key, '-out', cert]);
  return { cert, key };
}

/** `sluice netstat` (the real CLI, from the host namespace: the admin socket is a file). */
export function netstatCli(socket: string, json: boolean): Promise<CmdResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, 'netstat', '--socket', socket, ...(json ? ['--json'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
    p.on('error', reject);
    p.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

export interface NetstatJson {
  stacks: {
    device: string;
    stack: { address: string; mtu: number; counters: { rxDrop: Record<string, number> } };
    tcp: { states: Record<string, number>; segmentsIn: number; retransmits: number; checksumErrors: number };
    connections: { state: string; local: string; remote: string }[];
    port: BypassNetstat['port'];
  }[];
}

/** The first stack of `sluice netstat --json` (one listener on transport tap or dpdk). */
export async function netstatStack(socket: string): Promise<BypassNetstat> {
  const r = await netstatCli(socket, true);
  if (r.code !== 0) throw new Error(`sluice netstat --json failed (${r.code}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { stacks: BypassNetstat[] }).stacks[0]!;
}

export async function netstatJson(socket: string): Promise<NetstatJson> {
  const r = await netstatCli(socket, true);
  if (r.code !== 0) throw new Error(`sluice netstat --json failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as NetstatJson;
}

/**
 * A Node script run inside a namespace: sequential new TLS connections to HOST:443, one
 * `GET /direct` each (Connection: close), bounded by COUNT and BUDGET_MS. Arguments:
 * HOST COUNT BUDGET_MS SERVERNAME BODY_SUFFIX. Prints {attempted, ok, errors, ms} as JSON.
 */
export const CHURN_JS = `
import { connect } from 'node:tls';
const [host, count, budgetMs, servername, suffix] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), process.argv[5], process.argv[6]];
const deadline = Date.now() + budgetMs;
let ok = 0;
const errors = [];
function once() {
  return new Promise((resolve) => {
    const s = connect({ host, port: 443, servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      s.write('GET /direct HTTP/1.1\\r\\nHost: ' + servername + '\\r\\nConnection: close\\r\\n\\r\\n');
    });
    let text = '';
    const timer = setTimeout(() => { s.destroy(); resolve('timeout'); }, 5000);
    s.on('data', (d) => { text += d.toString('latin1'); });
    s.on('end', () => { clearTimeout(timer); resolve(text.startsWith('HTTP/1.1 200 ') && text.endsWith(suffix) ? null : 'bad response: ' + JSON.stringify(text.slice(0, 80))); });
    s.on('error', (e) => { clearTimeout(timer); resolve(e.code ?? e.message); });
  });
}
const start = Date.now();
let i = 0;
for (; i < count && Date.now() < deadline; i++) {
  const err = await once();
  if (err === null) ok++; else errors.push(err);
}
process.stdout.write(JSON.stringify({ attempted: i, ok, errors: errors.slice(0, 10), ms: Date.now() - start }));
`;

/** Connections in a state other than LISTEN or TIME-WAIT, as "STATE remote". */
export function busyConnections(n: NetstatJson): string[] {
  return n.stacks[0].connections.filter((c) => c.state !== 'LISTEN' && c.state !== 'TIME-WAIT').map((c) => `${c.state} ${c.remote}`);
}

/** Polls netstat until only LISTEN and TIME-WAIT remain (or the time is up); returns the last view. */
export async function drained(socket: string, withinMs: number): Promise<NetstatJson> {
  const until = Date.now() + withinMs;
  for (;;) {
    const n = await netstatJson(socket);
    if (busyConnections(n).length === 0 || Date.now() > until) return n;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * openssl s_client from the namespace against STACK_IP:443: TLS 1.3 with `nameA`'s certificate,
 * TLS 1.2 (ECDHE-ECDSA AEAD) with `nameB`'s, and TLS 1.1 refused. Returns the 1.1 attempt's output.
 */
export async function checkTlsVersions(t: Test, ns: string, nameA: string, nameB: string): Promise<string> {
  const v13 = await nsRun(ns, 'openssl', ['s_client', '-connect', `${STACK_IP}:443`, '-servername', nameA, '-tls1_3', '-brief'], { timeoutMs: 10_000 });
  t.match(v13.stderr + v13.stdout, /Protocol version: TLSv1\.3/);
  t.match(v13.stderr + v13.stdout, /Ciphersuite: TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)/);
  t.match(v13.stderr + v13.stdout, new RegExp(`Peer certificate: CN = ${nameA.replace(/\./g, '\\.')}`));
  const v12 = await nsRun(ns, 'openssl', ['s_client', '-connect', `${STACK_IP}:443`, '-servername', nameB, '-tls1_2', '-brief'], { timeoutMs: 10_000 });
  t.match(v12.stderr + v12.stdout, /Protocol version: TLSv1\.2/);
  t.match(v12.stderr + v12.stdout, /Ciphersuite: ECDHE-ECDSA-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)/);
  t.match(v12.stderr + v12.stdout, new RegExp(`Peer certificate: CN = ${nameB.replace(/\./g, '\\.')}`));
  const old = await nsRun(ns, 'openssl', ['s_client', '-connect', `${STACK_IP}:443`, '-tls1_1', '-brief'], { timeoutMs: 10_000 });
  t.not(old.code, 0, 'TLS 1.1 refused');
  return old.stderr + old.stdout;
}

/** SHA-256 of a file, streamed (bodies up to 100 MiB are checked this way). */
export async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** A file of `size` random bytes, written in 1 MiB pieces. */
export async function randomFile(path: string, size: number): Promise<void> {
  const fh = await open(path, 'w');
  const buf = Buffer.alloc(1 << 20);
  try {
    for (let left = size; left > 0; left -= buf.length) {
      randomFillSync(buf);
      await fh.write(buf, 0, Math.min(buf.length, left));
    }
  } finally {
    await fh.close();
  }
}

/** GET over the admin unix socket (/metrics, /status, ...); rejects on a status other than 200. */
export function adminGet(socketPath: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${path}: ${res.statusCode} ${body}`))));
    });
    req.on('error', reject);
    req.end();
  });
}
