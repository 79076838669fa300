// Every fixture runs whole, split at every byte boundary, and one byte at a time; each run must
// produce the same events (body chunks merged) and the same error at the same offset.
import t from 'tap';
import { Http1Parser, type ParserLimits } from '../../src/http1/parser.js';
import type { SluiceError } from '../../src/errors.js';
import { INVALID, VALID, type ParserCase } from './parser-cases.js';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FIXTURES = fileURLToPath(new URL('../fixtures/http1/', import.meta.url));

/** A .txt fixture (format: test/fixtures/http1/README.md) as a ParserCase. */
function loadFixture(file: string): ParserCase {
  let expect: Partial<ParserCase> = {};
  let input = '';
  for (const line of readFileSync(FIXTURES + file, 'latin1').split('\n')) {
    if (line.startsWith('#!')) expect = JSON.parse(line.slice(2)) as Partial<ParserCase>;
    else if (line.startsWith('#')) continue;
    else {
      input += line.replace(/\\(r|n|t|\\|x[0-9a-fA-F]{2})/g, (_m, e: string) =>
        e === 'r' ? '\r' : e === 'n' ? '\n' : e === 't' ? '\t' : e === '\\' ? '\\' : String.fromCharCode(parseInt(e.slice(1), 16)),
      );
    }
  }
  return { ...expect, name: file, input };
}

type Ev = [string, ...unknown[]];

function run(input: Buffer, splits: number[], limits?: Partial<ParserLimits>): Ev[] {
  const evs: Ev[] = [];
  const p = new Http1Parser(
    {
      onHead: (h) => evs.push(['head', { ...h }]),
      onBody: (b) => {
        const last = evs[evs.length - 1];
        const s = b.toString('latin1');
        if (last && last[0] === 'body') last[1] = (last[1] as string) + s;
        else evs.push(['body', s]);
      },
      onTrailers: (tr) => evs.push(['trailers', [...tr]]),
      onMessageComplete: () => evs.push(['complete']),
      onError: (e: SluiceError) => evs.push(['error', e.status, e.code, e.detail.rule, e.detail.offset]),
    },
    limits,
  );
  let prev = 0;
  for (const end of [...splits, input.length]) {
    if (end <= prev) continue;
    // A fresh copy per chunk, scribbled over after execute(): the parser must not keep references.
    const chunk = Buffer.from(input.subarray(prev, end));
    const n = p.execute(chunk);
    chunk.fill(0xee);
    if (p.failed) break;
    if (n !== chunk.length) throw new Error(`execute consumed ${n} of ${chunk.length} without pause or error`);
    prev = end;
  }
  return evs;
}

type TT = Parameters<Parameters<typeof t.test>[0]>[0];

function checkCase(t: TT, c: ParserCase): void {
  const input = Buffer.from(c.input, 'latin1');
  const whole = run(input, [], c.limits);

  // expectations against the whole-buffer run
  const heads = whole.filter((e) => e[0] === 'head').map((e) => e[1] as Record<string, unknown>);
  const errors = whole.filter((e) => e[0] === 'error');
  if (c.error) {
    t.equal(errors.length, 1, 'exactly one error');
    const e = errors[0] ?? [];
    t.equal(e[1], c.error.status, `status ${c.error.status}`);
    t.match(String(e[3]), c.error.rule, `rule names ${c.error.rule}`);
    t.type(e[4], 'number', 'error carries the byte offset');
    if (c.error.offset !== undefined) t.equal(e[4], c.error.offset, `offset ${c.error.offset}`);
    t.equal(whole[whole.length - 1]?.[0], 'error', 'nothing after the error');
  } else {
    t.equal(errors.length, 0, 'no error: ' + JSON.stringify(errors[0]));
  }
  if (c.heads) {
    t.equal(heads.length, c.heads.length, `${c.heads.length} head(s)`);
    c.heads.forEach((exp, k) => t.match(heads[k], exp, `head ${k}`));
  }
  if (c.bodies) {
    // body bytes per message, in order
    const bodies: string[] = [];
    for (const e of whole) {
      if (e[0] === 'head') bodies.push('');
      if (e[0] === 'body') bodies[bodies.length - 1] += e[1] as string;
    }
    t.same(bodies, c.bodies, 'bodies');
  }
  if (c.trailers) t.same(whole.filter((e) => e[0] === 'trailers').map((e) => e[1]), c.trailers, 'trailers');
  if (!c.error) {
    const completes = whole.filter((e) => e[0] === 'complete').length;
    t.equal(completes, heads.length, 'every head completes');
  }

  // identical events for every split
  let mismatches = 0;
  let firstBad = '';
  for (let k = 1; k < input.length; k++) {
    const got = run(input, [k], c.limits);
    if (JSON.stringify(got) !== JSON.stringify(whole)) {
      mismatches++;
      if (!firstBad) firstBad = `split at ${k}: ${JSON.stringify(got)}`;
    }
  }
  t.equal(mismatches, 0, `same events split at each of ${input.length - 1} boundaries ${firstBad}`);
  const bytewise = run(input, Array.from({ length: input.length }, (_, k) => k + 1), c.limits);
  t.same(bytewise, whole, 'same events one byte at a time');
}

t.test('valid requests', async (t) => {
  for (const c of VALID) t.test(c.name, async (t) => checkCase(t, c));
});

t.test('rejections', async (t) => {
  for (const c of INVALID) t.test(c.name, async (t) => checkCase(t, c));
});

t.test('byte fixtures (test/fixtures/http1/*.txt)', async (t) => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.txt')).sort();
  t.ok(files.length >= 5, `${files.length} fixture files`);
  for (const f of files) t.test(f, async (t) => checkCase(t, loadFixture(f)));
});

t.test('pause after a message holds pipelined bytes and reports how many were consumed', async (t) => {
  const first = 'GET /1 HTTP/1.1\r\nHost: a\r\n\r\n';
  const second = 'GET /2 HTTP/1.1\r\nHost: a\r\n\r\n';
  const paths: string[] = [];
  const p: Http1Parser = new Http1Parser({
    onHead: (h) => paths.push(h.path),
    onBody: () => {},
    onTrailers: () => {},
    onMessageComplete: () => p.pause(),
    onError: (e) => t.fail(e.message),
  });
  const buf = Buffer.from(first + second);
  const n = p.execute(buf);
  t.equal(n, first.length, 'consumed exactly the first request');
  t.same(paths, ['/1']);
  t.equal(p.execute(buf.subarray(n)), 0, 'paused parser consumes nothing');
  p.resume();
  t.equal(p.execute(buf.subarray(n)), second.length);
  t.same(paths, ['/1', '/2']);
  t.equal(p.offset, buf.length, 'offset counts the stream');
});

t.test('body chunks are views of the input, not copies', async (t) => {
  const input = Buffer.from('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello');
  let view: Buffer | null = null;
  const p = new Http1Parser({
    onHead: () => {},
    onBody: (b) => (view = b),
    onTrailers: () => {},
    onMessageComplete: () => {},
    onError: (e) => t.fail(e.message),
  });
  p.execute(input);
  t.ok(view);
  t.equal((view as unknown as Buffer).buffer, input.buffer, 'same ArrayBuffer');
});

t.test('a dead parser consumes nothing more', async (t) => {
  let errors = 0;
  const p = new Http1Parser({ onHead: () => t.fail('no head'), onBody: () => {}, onTrailers: () => {}, onMessageComplete: () => {}, onError: () => errors++ });
  t.equal(p.execute(Buffer.from('GET / HTTP/1.1\r\nHost : a\r\n\r\n')), 20);
  t.equal(p.execute(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n')), 0);
  t.equal(errors, 1);
  t.ok(p.failed);
});
