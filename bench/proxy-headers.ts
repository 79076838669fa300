// Cost of the proxy phase's header rules per proxied request: upstreamRequestHeaders (what goes
// upstream) plus downstreamResponseHeaders (what goes back), on a wrk-like keep-alive request and
// an nginx-like answer, as bench/proxy.sh sends them. Not a ratio against a peer: the figure is
// for comparing this file's versions (run it against a copy of the old module with --module).
// Usage: node --import tsx bench/proxy-headers.ts [--runs 9] [--n 1000000] [--module PATH]
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { RequestHead } from '../src/http/exchange.js';
import type { HeaderEdit } from '../src/gateway/routes.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '9' }, n: { type: 'string', default: '1000000' }, module: { type: 'string' } } });
const mod: typeof import('../src/gateway/proxy-headers.js') = await import(
  values.module ? pathToFileURL(resolve(values.module)).href : '../src/gateway/proxy-headers.js'
);
const head = {
  method: 'GET', path: '/', query: '', authority: '127.0.0.1:8443', version: '1.1', hasBody: false, contentLength: -1,
  headers: ['host', '127.0.0.1:8443', 'user-agent', 'wrk', 'accept', '*/*'],
} as unknown as RequestHead;
const edit: HeaderEdit = { remove: new Set<string>(), add: [] } as unknown as HeaderEdit;
const ctx = { requestId: '5f0c6d3e-8b1a-4c2e-9a57-0d1e2f3a4b5c', clientAddress: '127.0.0.1', listenerProto: 'https' as const };
const answer = ['server', 'nginx/1.22.1', 'date', 'Wed, 25 Nov 2026 09:48:20 GMT', 'content-type', 'text/plain', 'content-length', '3', 'connection', 'keep-alive'];
const n = Number(values.n);
const runs: number[] = [];
let sink = 0;
for (let r = 0; r < Number(values.runs); r++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    sink += mod.upstreamRequestHeaders(head, edit, ctx).length;
    sink += mod.downstreamResponseHeaders(answer, edit, ctx.requestId).headers.length;
  }
  runs.push(Number(process.hrtime.bigint() - t0) / n);
}
runs.sort((a, b) => a - b);
console.log(`${values.module ?? 'src/gateway/proxy-headers.ts'}: ns per request (both directions), ${runs.length} runs of ${n}: min ${runs[0].toFixed(0)}, median ${runs[runs.length >> 1].toFixed(0)}${sink === 0 ? ' ' : ''}`);
