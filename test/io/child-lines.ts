// The DPDK tests' child processes (test/io/dpdk-child.ts, test/io/flow-child.ts: the EAL starts
// once per process) report on stdout, one JSON object per line; the test waits for the line that
// carries a key. The child is killed in teardown if it is still running.

import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ChildLines {
  /** Every JSON line so far (other output is not ours and is skipped). */
  lines: Record<string, unknown>[];
  /** The first line carrying `key`; rejects on timeout or exit without one, with stderr and the lines. */
  next(key: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
  stderr(): string;
}

/** Reads `p`'s stdout as JSON lines and keeps its stderr; `next` waits `defaultTimeoutMs` unless told. */
export function childLines(t: { teardown(fn: () => void): void }, p: ChildProcess, defaultTimeoutMs: number): ChildLines {
  t.teardown(() => {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  });
  let err = '';
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const lines: Record<string, unknown>[] = [];
  const waiters: { key: string; resolve: (l: Record<string, unknown>) => void }[] = [];
  createInterface({ input: p.stdout! }).on('line', (line) => {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // not ours
    }
    lines.push(o);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.key in o) waiters.splice(i, 1)[0]!.resolve(o);
    }
  });
  const exited = new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
  return {
    lines,
    exited,
    stderr: () => err,
    next(key, timeoutMs = defaultTimeoutMs) {
      const seen = lines.find((l) => key in l);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no '${key}' from the child; stderr: ${err.slice(-2000)}; lines: ${JSON.stringify(lines).slice(-2000)}`)), timeoutMs);
        waiters.push({ key, resolve: (l) => { clearTimeout(timer); resolve(l); } });
        void exited.then((c) => {
          clearTimeout(timer);
          const l = lines.find((x) => key in x);
          if (l) resolve(l);
          else reject(new Error(`child exited (${c}) without '${key}'; stderr: ${err.slice(-2000)}; lines: ${JSON.stringify(lines).slice(-2000)}`));
        });
      });
    },
  };
}

/**
 * Commands to a child that answers them (test/io/dpdk-child.ts drive): each goes to its stdin as
 * one JSON line with a sequence number; the answer is the line carrying `key` and that number.
 */
export function commander(p: ChildProcess, child: ChildLines, timeoutMs = 5000): (command: Record<string, unknown>, key: string) => Promise<Record<string, unknown>> {
  let seq = 0;
  return async (command, key) => {
    const mine = ++seq;
    p.stdin!.write(`${JSON.stringify({ ...command, seq: mine })}\n`);
    const end = Date.now() + timeoutMs;
    for (;;) {
      const l = child.lines.find((x) => key in x && x.seq === mine);
      if (l) return l;
      if (Date.now() >= end || p.exitCode !== null) throw new Error(`no '${key}' for command ${mine}: ${child.stderr().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
}
