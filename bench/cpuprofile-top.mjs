// Summarises a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time,
// then self time per source file, so a profile can be read in a terminal or pasted in a report.
// Usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [N=15] [--window FROM_MS TO_MS]
//   --window: only samples taken FROM_MS..TO_MS after the profile started (e.g. the load phase,
//   leaving out start-up module loading and shutdown).
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
let windowMs = null;
const wi = args.indexOf('--window');
if (wi >= 0) {
  windowMs = [Number(args[wi + 1]), Number(args[wi + 2])];
  args.splice(wi, 3);
  if (!windowMs.every(Number.isFinite) || windowMs[0] >= windowMs[1]) {
    process.stderr.write('--window needs FROM_MS TO_MS with FROM_MS < TO_MS\n');
    process.exit(2);
  }
}
const [file, nArg] = args;
if (!file) {
  process.stderr.write('usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [N] [--window FROM_MS TO_MS]\n');
  process.exit(2);
}
const top = Number(nArg ?? 15);
const profile = JSON.parse(readFileSync(file, 'utf8'));
if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples) || !Array.isArray(profile.timeDeltas)) {
  process.stderr.write(`${file}: not a V8 cpuprofile (needs nodes, samples, timeDeltas)\n`);
  process.exit(1);
}

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
function where(cf) {
  let url = cf.url || '';
  if (url.startsWith('file://')) url = relative(repoRoot, fileURLToPath(url));
  if (!url) return '';
  // V8 line and column numbers are 0-based.
  return `${url}:${cf.lineNumber + 1}`;
}
function fileOf(cf) {
  let url = cf.url || '';
  if (url.startsWith('file://')) url = relative(repoRoot, fileURLToPath(url));
  return url || `(${cf.functionName || 'native'})`;
}

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
// Self time from the sample timeline: each sample's delta is the time spent in the sampled node
// (more exact than hitCount * interval when the sampler was late).
const selfUs = new Map();
let totalUs = 0;
let sampleCount = 0;
let atUs = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const d = profile.timeDeltas[i] ?? 0;
  atUs += d;
  if (d <= 0) continue;
  if (windowMs && (atUs < windowMs[0] * 1000 || atUs > windowMs[1] * 1000)) continue;
  sampleCount++;
  selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + d);
  totalUs += d;
}

const parentOf = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
const keyOf = (cf) => `${cf.functionName || '(anonymous)'}\t${where(cf)}`;

const byFunction = new Map();
const byFile = new Map();
// For each function, its self time split by the JavaScript caller chain that led to it (native
// functions such as writeBuffer only make sense with their callers).
const callers = new Map();
for (const [id, us] of selfUs) {
  const cf = byId.get(id).callFrame;
  const key = keyOf(cf);
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  // The three nearest callers outside Node's own library (node:...), which say whose write or
  // parse it was; Node-internal frames in between are skipped.
  const chain = [];
  for (let p = parentOf.get(id), depth = 0; p !== undefined && chain.length < 3 && depth < 60; p = parentOf.get(p), depth++) {
    const pcf = byId.get(p).callFrame;
    if (pcf.functionName === '(root)') break;
    if (pcf.url.startsWith('node:')) continue;
    chain.push(keyOf(pcf).replace('\t', ' ').trim());
  }
  const m = callers.get(key) ?? new Map();
  const c = chain.join(' < ') || '(no caller outside node:)';
  m.set(c, (m.get(c) ?? 0) + us);
  callers.set(key, m);
  const f = fileOf(cf);
  byFile.set(f, (byFile.get(f) ?? 0) + us);
}

const idleUs = [...byFunction].filter(([k]) => k.startsWith('(idle)\t')).reduce((a, [, v]) => a + v, 0);
const pct = (us) => ((100 * us) / totalUs).toFixed(1).padStart(5);
// Share of the samples that were not (idle): the JavaScript-visible work only.
const busyPct = (us, key) => (key.startsWith('(idle)') ? '    -' : ((100 * us) / Math.max(1, totalUs - idleUs)).toFixed(1).padStart(5));
const ms = (us) => (us / 1000).toFixed(0).padStart(7);

console.log(`profile: ${file}`);
console.log(
  `sampled ${(totalUs / 1e6).toFixed(2)} s, ${sampleCount} samples${windowMs ? ` (window ${windowMs[0]}..${windowMs[1]} ms after start)` : ''}; (idle) ${pct(idleUs).trim()}%`,
);
// Node marks the isolate idle for the whole libuv poll phase, so (idle) is waiting for I/O plus
// native work done in I/O callbacks before JavaScript is entered: OpenSSL handshakes and record
// decryption, socket reads. Compare with the process's CPU time to split the two.
console.log(
  '(idle) = event loop waiting + native work in I/O callbacks before JS runs (OpenSSL handshakes, TLS decryption, reads);\nbusy% = share of the samples that were not (idle)',
);
console.log(`\ntop ${top} functions by self time:`);
console.log(`${'self ms'.padStart(7)} ${'self%'.padStart(5)} ${'busy%'.padStart(5)}  function  (file:line)`);
const rows = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top);
for (const [key, us] of rows) {
  const [fn, loc] = key.split('\t');
  console.log(`${ms(us)} ${pct(us)} ${busyPct(us, key)}  ${fn}${loc ? `  (${loc})` : ''}`);
}
const withCallers = rows.filter(([key]) => !key.startsWith('(')).slice(0, 5);
console.log(`\ncallers of the top ${withCallers.length} functions (self time by nearest non-node: callers, innermost first):`);
for (const [key, us] of withCallers) {
  console.log(`${ms(us)} ${pct(us)}  ${key.split('\t')[0]}`);
  const m = [...callers.get(key)].sort((a, b) => b[1] - a[1]).slice(0, 3);
  for (const [chain, cus] of m) console.log(`        ${pct(cus)}    < ${chain}`);
}
console.log(`\ntop ${top} files by self time:`);
for (const [f, us] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${ms(us)} ${pct(us)}  ${f}`);
}
