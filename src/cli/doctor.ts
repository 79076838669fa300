// `sluice doctor`: which packet-port backends this machine can run (src/io/doctor.ts does the
// read-only checks), and for each one that cannot, why and how to fix it. It is a report: the
// exit code is 0 whatever it finds, so scripts read the JSON rather than the status.

import type { Command } from 'commander';
import { checkBackends, type BackendStatus } from '../io/doctor.js';

export function formatDoctor(statuses: readonly BackendStatus[]): string {
  const out: string[] = ['packet-port backends (transport: tap uses tap; dpdk uses dpdk; memory is for tests):'];
  for (const s of statuses) {
    out.push('');
    out.push(`${s.backend.padEnd(7)} ${s.available ? 'available' : 'NOT available'}`);
    out.push(`  reason: ${s.reason}`);
    if (!s.available && s.fix !== '') out.push(`  fix:    ${s.fix}`);
    for (const c of s.checks) out.push(`  [${c.ok ? 'ok' : '--'}] ${c.name}: ${c.detail}`);
  }
  return out.join('\n') + '\n';
}

export function doctorCommand(opts: { json?: boolean }, out: (s: string) => void): number {
  const statuses = checkBackends();
  out(opts.json ? JSON.stringify({ backends: statuses }, null, 2) + '\n' : formatDoctor(statuses));
  return 0;
}

export function registerDoctor(program: Command, done: (code: number) => void): void {
  program
    .command('doctor')
    .description('report which packet-port backends (tap, dpdk) can run here, with the reason and the fix for each')
    .option('--json', 'print the findings as JSON')
    .action((opts: { json?: boolean }) => {
      done(doctorCommand(opts, (s) => process.stdout.write(s)));
    });
}
