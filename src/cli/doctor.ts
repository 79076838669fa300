// `sluice doctor`: which packet-port backends this machine can run (src/io/doctor.ts does the
// read-only checks), and for each one that cannot, why and how to fix it. It is a report: the
// exit code is 0 whatever it finds, so scripts read the JSON rather than the status.

import type { Command } from 'commander';
import { checkBackends, type BackendStatus } from '../io/doctor.js';
import { placeFilter, RTE_FLOW_REASON, type FilterPlacement } from '../io/doctor-filter.js';
import { xdpAvailability, type XdpAvailability } from '../io/xdp.js';
import { nativeAvailable } from '../io/native.js';
import { loadConfig } from '../config/load.js';
import type { ListenerSpec } from '../config/schema.js';

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

/** The packet filter's placement: XDP on this machine, and per listener when a config was given. */
export interface FilterReport {
  /** available: this build can program rte_flow (the addon has its DPDK port); per listener below. */
  nic: { available: boolean; reason: string };
  xdp: XdpAvailability;
  listeners: FilterPlacement[] | null;
}

export function filterReport(listeners: readonly ListenerSpec[] | null): FilterReport {
  const placed = listeners === null ? null : listeners.filter((l) => l.transport === 'tap' || l.transport === 'dpdk').map((l) => placeFilter({
    listener: l.name,
    transport: l.transport === 'dpdk' ? 'dpdk' : 'tap',
    device: l.transport === 'tap' ? l.tap?.device ?? 'sluice%d' : l.dpdk?.device ?? '',
    deny: l.filter?.deny.length ?? 0,
    allow: l.filter?.allow.length ?? 0,
    synRate: (l.filter?.syn_rate_per_source ?? 0) > 0,
    connLimit: (l.filter?.max_connections_per_source ?? 0) > 0,
    xdp: l.filter?.xdp ? { interface: l.filter.xdp.interface, mode: l.filter.xdp.mode } : null,
  }));
  const n = nativeAvailable();
  const dpdk = n.ok && n.addon.features.dpdk;
  return {
    nic: { available: dpdk, reason: dpdk ? RTE_FLOW_REASON : `NOT available: the native addon has no DPDK port (${n.ok ? 'built without libdpdk' : n.error.message}); ${RTE_FLOW_REASON}` },
    xdp: xdpAvailability(),
    listeners: placed,
  };
}

export function formatFilterReport(r: FilterReport): string {
  const out: string[] = ['', 'packet filter (where the rules of filter: run):', `nic     ${r.nic.reason}`];
  out.push(`xdp     ${r.xdp.ok ? 'available' : 'NOT available'}: ${r.xdp.reason}`);
  if (!r.xdp.ok && r.xdp.fix !== '') out.push(`  fix:    ${r.xdp.fix}`);
  if (r.listeners === null) {
    out.push('  (per listener: sluice doctor --config <file>)');
  } else if (r.listeners.length === 0) {
    out.push('  no bypass listeners in the config (transport kernel uses the host firewall)');
  }
  for (const p of r.listeners ?? []) {
    out.push('', `listener ${p.listener} (${p.transport} ${p.device})`);
    out.push(`  nic:      ${p.nic.rules.length ? p.nic.rules.join(', ') : 'none'} - ${p.nic.reason}`);
    out.push(`  xdp:      ${p.xdp.rules.length ? `${p.xdp.rules.join(', ')} on ${p.xdp.interface}` : 'none'} - ${p.xdp.reason}`);
    out.push(`  software: ${p.software.rules.length ? p.software.rules.join(', ') : 'none'} - ${p.software.reason}`);
  }
  return out.join('\n') + '\n';
}

export function doctorCommand(opts: { json?: boolean; listeners?: readonly ListenerSpec[] | null }, out: (s: string) => void): number {
  const statuses = checkBackends();
  const filter = filterReport(opts.listeners ?? null);
  out(opts.json ? JSON.stringify({ backends: statuses, filter }, null, 2) + '\n' : formatDoctor(statuses) + formatFilterReport(filter));
  return 0;
}

export function registerDoctor(program: Command, done: (code: number) => void): void {
  program
    .command('doctor')
    .description('report which packet-port backends (tap, dpdk) can run here, with the reason and the fix for each')
    .option('--json', 'print the findings as JSON')
    .option('--config <file>', 'also say, per bypass listener of this config, which filter rules run in the NIC, in XDP and in software')
    .action(async (opts: { json?: boolean; config?: string }) => {
      let listeners: readonly ListenerSpec[] | null = null;
      if (opts.config !== undefined) {
        const r = await loadConfig(opts.config);
        if (!r.ok) {
          process.stderr.write(`sluice doctor: ${opts.config} is not a valid config:\n${r.problems.map((p) => `  ${p.file}:${p.line}:${p.column} ${p.path}: ${p.message}`).join('\n')}\n`);
          done(1);
          return;
        }
        listeners = r.snapshot.listeners;
      }
      done(doctorCommand({ json: opts.json ?? false, listeners }, (s) => process.stdout.write(s)));
    });
}
