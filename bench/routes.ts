// Route lookup cost: Sluice's compiled RouteTable against find-my-way (fastify's radix-tree
// router) on the same routes, median ns per lookup over several timed runs. Scenarios:
//   default   the shipped config/sluice.yaml: one catch-all route
//   hosts     25 exact hosts + 5 wildcard suffixes, 3 routes each; lookups spread over them
//             (30: find-my-way allows at most 31 host-constrained handlers per path)
//   prefixes  50 ordered prefix routes on one host, lookups hit all of them (worst case for an
//             ordered scan, best case for a radix tree)
//
//   node --import tsx bench/routes.ts [--runs 7] [--ms 300]

import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import FindMyWay from 'find-my-way';
import { loadConfig, parseConfigText } from '../src/config/load.js';
import { formatProblems } from '../src/config/problems.js';
import type { RouteTable, RouteMatchInput } from '../src/gateway/routes.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
const RUNS = arg('--runs', 7);
const RUN_MS = arg('--ms', 300);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median ns per call of fn(i) over RUNS timed runs of about RUN_MS each. */
function measure(fn: (i: number) => unknown): number {
  let sink = 0;
  for (let i = 0; i < 200_000; i++) if (fn(i) !== null) sink++; // warm up (JIT)
  const runs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let n = 0;
    const start = process.hrtime.bigint();
    const end = start + BigInt(RUN_MS) * 1_000_000n;
    let now = start;
    while (now < end) {
      for (let i = 0; i < 10_000; i++) if (fn(n + i) !== null) sink++;
      n += 10_000;
      now = process.hrtime.bigint();
    }
    runs.push(Number(now - start) / n);
  }
  if (sink < 0) console.log(sink);
  return median(runs);
}

async function table(text: string): Promise<RouteTable> {
  const r = await parseConfigText(text, 'bench.yaml');
  if (!r.ok) throw new Error(formatProblems(r.problems));
  return r.snapshot.routes;
}

const base = (over: Partial<RouteMatchInput>): RouteMatchInput => ({
  listener: 'p', method: 'GET', host: 'localhost', path: '/', query: '', headers: ['accept', '*/*'], ...over,
});

async function main(): Promise<void> {
  console.log(`command: node --import tsx bench/routes.ts --runs ${RUNS} --ms ${RUN_MS}`);
  console.log(`machine: ${cpus()[0]?.model ?? '?'} x${cpus().length}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, node ${process.version}`);
  const rows: string[][] = [['scenario', 'sluice ns/lookup', 'find-my-way ns/lookup', 'ratio (fmw/sluice)']];
  const noop = (): void => {};

  // default
  const def = await loadConfig(fileURLToPath(new URL('../config/sluice.yaml', import.meta.url)));
  if (!def.ok) throw new Error(formatProblems(def.problems));
  const dt = def.snapshot.routes;
  const dIn = base({ listener: 'public', host: 'localhost:8443', path: '/' });
  const fDef = FindMyWay();
  fDef.on('GET', '/*', noop);
  rows.push(['default', ...pair(measure(() => dt.match(dIn)), measure(() => fDef.find('GET', '/')))]);

  // hosts
  const hostNames = Array.from({ length: 25 }, (_, i) => `svc${i}.example.com`);
  const wild = Array.from({ length: 5 }, (_, i) => `*.zone${i}.example.net`);
  let yaml = 'listeners: [{ name: p, port: 0 }]\nroutes:\n';
  const fHosts = FindMyWay();
  let n = 0;
  for (const h of [...hostNames, ...wild]) {
    for (const p of ['/api/', '/static/', '/']) {
      yaml += `  - { name: r${n++}, match: { hosts: ["${h}"], path: { prefix: "${p}" } }, direct_response: {} }\n`;
      const hostConstraint = h.startsWith('*.') ? new RegExp(`^.+${h.slice(1).replace(/\./g, '\\.')}$`) : h;
      fHosts.on('GET', `${p}*`, { constraints: { host: hostConstraint } }, noop);
    }
  }
  const ht = await table(yaml);
  const hostInputs = Array.from({ length: 1024 }, (_, i) => {
    const host = i % 4 === 3 ? `a${i}.zone${i % 5}.example.net` : hostNames[i % 25];
    const path = ['/api/users/1', '/static/app.js', '/index.html'][i % 3];
    return base({ host, path });
  });
  rows.push([
    'hosts',
    ...pair(
      measure((i) => ht.match(hostInputs[i & 1023])),
      measure((i) => {
        const x = hostInputs[i & 1023];
        return fHosts.find('GET', x.path, { host: x.host });
      }),
    ),
  ]);

  // prefixes
  let py = 'listeners: [{ name: p, port: 0 }]\nroutes:\n';
  const fPre = FindMyWay();
  for (let i = 0; i < 50; i++) {
    py += `  - { name: p${i}, match: { path: { prefix: "/svc${i}/" } }, direct_response: {} }\n`;
    fPre.on('GET', `/svc${i}/*`, noop);
  }
  const pt = await table(py);
  const preInputs = Array.from({ length: 1024 }, (_, i) => base({ path: `/svc${i % 50}/items/${i}` }));
  rows.push([
    'prefixes',
    ...pair(
      measure((i) => pt.match(preInputs[i & 1023])),
      measure((i) => fPre.find('GET', preInputs[i & 1023].path)),
    ),
  ]);

  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(w[c])).join('  '));
}

function pair(sluice: number, fmw: number): string[] {
  return [sluice.toFixed(1), fmw.toFixed(1), (fmw / sluice).toFixed(2)];
}

await main();
