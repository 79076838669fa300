// Runs the real `sluice` binary (bin/sluice.js over dist/) as a child process on a config the
// test writes, and real clients (curl, openssl) against it. Listeners use port 0; the harness
// learns the bound ports from Sluice's own "listener ready" log lines.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'sluice.js');

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface RunningSluice {
  readonly proc: ChildProcess;
  readonly dir: string;
  readonly configPath: string;
  /** Bound port per listener name, plus 'admin'. */
  readonly ports: Map<string, number>;
  readonly logs: LogLine[];
  /** Resolves with the first log line matching `pred` (already seen or future). */
  waitLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function tempDir(prefix = 'sluice-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function startSluice(configYaml: string, opts: { dir?: string; readyListeners?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<RunningSluice> {
  const dir = opts.dir ?? (await tempDir());
  const configPath = join(dir, 'sluice.yaml');
  await writeFile(configPath, configYaml);
  const proc = spawn(process.execPath, [BIN, 'serve', '--config', configPath], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  const logs: LogLine[] = [];
  const ports = new Map<string, number>();
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
    if (parsed.msg === 'listener ready' && typeof parsed.listener === 'string' && typeof parsed.port === 'number') {
      ports.set(parsed.listener, parsed.port);
    }
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].pred(parsed)) {
        waiters[i].resolve(parsed);
        waiters.splice(i, 1);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    proc.on('exit', (code, signal) => res({ code, signal }));
  });
  const waitLog = (pred: (l: LogLine) => boolean, timeoutMs = 15000): Promise<LogLine> => {
    const seen = logs.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`timed out waiting for a log line; stderr: ${stderr}; logs: ${JSON.stringify(logs.slice(-5))}`)), timeoutMs);
      waiters.push({ pred, resolve: (l) => { clearTimeout(timer); res(l); } });
      void exited.then(({ code }) => { clearTimeout(timer); rej(new Error(`sluice exited (${code}) before the log line; stderr: ${stderr}; logs: ${JSON.stringify(logs.slice(-5))}`)); });
    });
  };
  const running: RunningSluice = {
    proc, dir, configPath, ports, logs, waitLog, exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      const draining = logs.some((l) => l.msg === 'draining');
      if (proc.exitCode === null && proc.signalCode === null && !draining) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15000);
      const r = await exited;
      clearTimeout(timer);
      if (!opts.dir) await rm(dir, { recursive: true, force: true });
      return r;
    },
  };
  await waitLog((l) => l.msg === 'sluice ready');
  return running;
}

export interface CmdResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a real client (curl, openssl, ...) with a time limit. */
export function run(cmd: string, args: string[], opts: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<CmdResult> {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString('latin1'); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 30000);
    p.on('error', rej);
    p.on('close', (code) => { clearTimeout(timer); res({ code, stdout, stderr }); });
    if (opts.input !== undefined) p.stdin.end(opts.input);
    else p.stdin.end();
  });
}

/** curl with -sS, returning status, headers and body separately. */
export async function curl(args: string[], opts: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<{ status: number; headers: Map<string, string>; body: string; code: number | null; stderr: string }> {
  // Heads go to stdout before the body (-D -): /dev/stderr cannot be opened when stderr is a
  // socket, which is what Node gives a child, and curl 7.88 crashes on that.
  const r = await run('curl', ['-sS', '-D', '-', '--max-time', '20', ...args], opts);
  let rest = r.stdout;
  let last = '';
  while (rest.startsWith('HTTP/')) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    last = rest.slice(0, end);
    rest = rest.slice(end + 4);
  }
  const lines = last.split('\r\n');
  const status = Number(lines[0]?.split(' ')[1] ?? 0);
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers.set(l.slice(0, i).toLowerCase(), l.slice(i + 1).trim());
  }
  return { status, headers, body: rest, code: r.code, stderr: r.stderr };
}
