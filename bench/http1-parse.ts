// Request parse rate: Sluice's Http1Parser against Node's own llhttp (the C parser behind node:http,
// reached from JS through process.binding('http_parser').HTTPParser, which is what node:http itself
// drives). Both parse the same pipelined buffers and are counted by message-complete callbacks, so
// each side pays its own JS callback costs. Median of several timed runs, the two parsers
// alternating run by run.
//
//   node --import tsx bench/http1-parse.ts [--runs 7] [--ms 300]

import { Http1Parser } from '../src/http1/parser.js';
import { BROWSER_GET, CHUNKED_POST, SMALL_GET } from '../test/http1/parser-cases.js';

interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize?: number, lenient?: number): void;
  execute(buf: Buffer): number | Error;
  finish(): void;
  [k: number]: unknown;
}
interface LlhttpCtor {
  new (): LlhttpParser;
  REQUEST: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
}

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
const RUNS = arg('--runs', 7);
const RUN_MS = arg('--ms', 300);
const BATCH = 200; // requests per buffer: pipelined, as a busy keep-alive connection sees them

process.noDeprecation = true; // process.binding is deprecated but is the only way to llhttp from JS
const binding = (process as unknown as { binding(name: string): { HTTPParser: LlhttpCtor } }).binding('http_parser');
const HTTPParser = binding.HTTPParser;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs the two parsers in alternation so a noisy machine (shared cores) hits both alike. */
function timePair(a: () => number, b: () => number): [number, number] {
  for (const f of [a, b]) {
    const warmEnd = performance.now() + 200;
    while (performance.now() < warmEnd) f();
  }
  const rates: [number[], number[]] = [[], []];
  for (let r = 0; r < RUNS; r++) {
    for (let k = 0; k < 2; k++) {
      const f = k === 0 ? a : b;
      let n = 0;
      const t0 = performance.now();
      let t1 = t0;
      while (t1 - t0 < RUN_MS) {
        n += f();
        t1 = performance.now();
      }
      rates[k].push((n * 1000) / (t1 - t0));
    }
  }
  return [median(rates[0]), median(rates[1])];
}

function sluiceParse(buf: Buffer): () => number {
  let done = 0;
  let sink = 0;
  const p = new Http1Parser(
    {
      onHead: (h) => {
        sink += h.headers.length;
      },
      onBody: (b) => {
        sink += b.length;
      },
      onTrailers: () => {},
      onMessageComplete: () => {
        done++;
      },
      onError: (e) => {
        throw e;
      },
    },
    { maxHeaderBytes: 65536 },
  );
  return () => {
    const before = done;
    p.execute(buf);
    if (sink < 0) console.log(sink);
    return done - before;
  };
}

function llhttpParse(buf: Buffer): () => number {
  let done = 0;
  let sink = 0;
  const p = new HTTPParser();
  p.initialize(HTTPParser.REQUEST, {}, 65536, 0);
  p[HTTPParser.kOnHeaders] = (headers: string[]) => {
    sink += headers.length;
  };
  p[HTTPParser.kOnHeadersComplete] = (_maj: number, _min: number, headers: string[], _method: number, url: string) => {
    sink += headers.length + url.length;
    return 0;
  };
  p[HTTPParser.kOnBody] = (b: Buffer) => {
    sink += b.length;
  };
  p[HTTPParser.kOnMessageComplete] = () => {
    done++;
  };
  p[HTTPParser.kOnExecute] = () => {};
  return () => {
    const before = done;
    const r = p.execute(buf);
    if (r instanceof Error) throw r;
    if (sink < 0) console.log(sink);
    return done - before;
  };
}

const cases: Array<[string, string]> = [
  ['small GET', SMALL_GET],
  ['GET with 16 browser headers', BROWSER_GET],
  ['POST with chunked body', CHUNKED_POST],
];

console.log(`command: node --import tsx bench/http1-parse.ts --runs ${RUNS} --ms ${RUN_MS}`);
console.log(`node ${process.version}, ${BATCH} pipelined requests per execute(), median of ${RUNS} runs of ${RUN_MS} ms`);
console.log('case                            sluice req/s   llhttp req/s   sluice/llhttp');
for (const [name, req] of cases) {
  const buf = Buffer.from(req.repeat(BATCH), 'latin1');
  const sp = sluiceParse(buf);
  const lp = llhttpParse(buf);
  const sn = sp();
  const ln = lp();
  if (sn !== BATCH || ln !== BATCH) throw new Error(`${name}: sluice parsed ${sn}, llhttp ${ln} of ${BATCH} requests`);
  const [s, l] = timePair(sp, lp);
  console.log(`${name.padEnd(30)} ${Math.round(s).toString().padStart(13)} ${Math.round(l).toString().padStart(14)} ${(s / l).toFixed(2).padStart(15)}`);
}
