// What grew between two V8 heap snapshots of the same process, grouped by node type and name
// (constructor for objects, function name for closures, "system / ..." for V8 internals,
// "Node / ..." for Node's native objects that report their size), per unit of `per` (e.g. per
// connection opened between the two). Self sizes only: the bytes each object holds itself, so
// the groups add up to the heap growth without double counting. ArrayBuffer backing stores show
// as "native system / JSArrayBufferData" with their byte length.
//
//   node bench/heap-diff.mjs BEFORE.heapsnapshot AFTER.heapsnapshot [per] [top]
//
// The snapshots are read as bytes and their number arrays scanned directly, not JSON.parse'd
// whole: a snapshot of a process holding 10,000 connections is larger than V8's longest string.

import { readFileSync } from 'node:fs';

function indexOf(buf, text, from = 0) {
  const i = buf.indexOf(text, from, 'latin1');
  if (i < 0) throw new Error(`heap-diff: '${text}' not found; not a V8 heap snapshot?`);
  return i;
}

/** The integers of the JSON array that starts at buf[start] ('['), and the offset after its ']'. */
function scanInts(buf, start) {
  let out = new Float64Array(1 << 20);
  let n = 0;
  let cur = 0;
  let inNum = false;
  let i = start + 1;
  for (; i < buf.length; i++) {
    const c = buf[i];
    if (c >= 48 && c <= 57) {
      cur = cur * 10 + (c - 48);
      inNum = true;
      continue;
    }
    if (inNum) {
      if (n === out.length) {
        const next = new Float64Array(out.length * 2);
        next.set(out);
        out = next;
      }
      out[n++] = cur;
      cur = 0;
      inNum = false;
    }
    if (c === 93) break; // ']'
  }
  return { values: out.subarray(0, n), end: i + 1 };
}

/** Map "type name" -> { count, bytes } over every node of the snapshot. */
function summarize(file) {
  const buf = readFileSync(file);
  const nodesAt = indexOf(buf, '"nodes":');
  const head = buf.toString('utf8', 0, nodesAt).trim().replace(/,$/, '');
  const meta = JSON.parse(`${head}}`).snapshot.meta;
  const fields = meta.node_fields;
  const types = meta.node_types[0];
  const stride = fields.length;
  const fType = fields.indexOf('type');
  const fName = fields.indexOf('name');
  const fSize = fields.indexOf('self_size');
  const nodes = scanInts(buf, indexOf(buf, '[', nodesAt)).values;
  const stringsAt = indexOf(buf, '"strings":');
  const open = indexOf(buf, '[', stringsAt);
  const close = buf.lastIndexOf(']');
  const strings = JSON.parse(buf.toString('utf8', open, close + 1));
  const groups = new Map();
  let total = 0;
  for (let i = 0; i < nodes.length; i += stride) {
    const type = types[nodes[i + fType]];
    // Strings and numbers are grouped by type alone: their "name" is the value itself.
    const name = type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' ? '' : strings[nodes[i + fName]];
    const key = `${type} ${name.length > 60 ? `${name.slice(0, 57)}...` : name}`;
    const size = nodes[i + fSize];
    total += size;
    const g = groups.get(key);
    if (g) {
      g.count++;
      g.bytes += size;
    } else {
      groups.set(key, { count: 1, bytes: size });
    }
  }
  return { groups, total, nodeCount: nodes.length / stride };
}

const [beforeFile, afterFile, perArg, topArg] = process.argv.slice(2);
if (!beforeFile || !afterFile) {
  process.stderr.write('usage: node bench/heap-diff.mjs BEFORE.heapsnapshot AFTER.heapsnapshot [per] [top]\n');
  process.exit(2);
}
const per = Number(perArg ?? 1) || 1;
const top = Number(topArg ?? 25);
const a = summarize(beforeFile);
const b = summarize(afterFile);
const rows = [];
for (const [key, g] of b.groups) {
  const p = a.groups.get(key) ?? { count: 0, bytes: 0 };
  rows.push({ key, count: g.count - p.count, bytes: g.bytes - p.bytes });
}
for (const [key, p] of a.groups) if (!b.groups.has(key)) rows.push({ key, count: -p.count, bytes: -p.bytes });
rows.sort((x, y) => y.bytes - x.bytes);
const grew = (b.total - a.total) / per;
process.stdout.write(`heap snapshot growth ${(b.total / 1048576).toFixed(1)} - ${(a.total / 1048576).toFixed(1)} MiB = ${(grew / 1024).toFixed(2)} KiB per ${per === 1 ? 'snapshot' : `unit (${per} units)`}; top ${top} groups by bytes:\n`);
process.stdout.write(`${'bytes/unit'.padStart(11)} ${'objs/unit'.padStart(9)}  type name\n`);
let shown = 0;
for (const r of rows.slice(0, top)) {
  shown += r.bytes;
  process.stdout.write(`${(r.bytes / per).toFixed(0).padStart(11)} ${(r.count / per).toFixed(2).padStart(9)}  ${r.key}\n`);
}
process.stdout.write(`${((b.total - a.total - shown) / per).toFixed(0).padStart(11)} ${''.padStart(9)}  (everything else)\n`);
