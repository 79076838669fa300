// The loader never throws, whatever the text: mutated versions of every fixture either load or
// yield problems whose positions lie inside the text. Seeded, bounded by count and time.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseConfigText } from '../../src/config/load.js';

const dir = fileURLToPath(new URL('../fixtures/config/', import.meta.url));
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => readFileSync(`${dir}${f}`, 'utf8'));

/** xorshift32: reproducible mutations (the seed is in the test name). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

const ALPHABET = [' ', '\n', ':', '-', '[', ']', '{', '}', ',', '"', "'", '#', '&', '*', '!', '0', '99999', 'x', '/', '\\', '\t', 'null', 'true'];

function mutate(text: string, r: () => number): string {
  let s = text;
  const edits = 1 + Math.floor(r() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(r() * (s.length + 1));
    const kind = r();
    if (kind < 0.4) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 8)); // delete a few chars
    else if (kind < 0.8) s = s.slice(0, at) + ALPHABET[Math.floor(r() * ALPHABET.length)] + s.slice(at); // insert a token
    else {
      // duplicate a line (duplicate keys, duplicate names)
      const lines = s.split('\n');
      const i = Math.floor(r() * lines.length);
      lines.splice(i, 0, lines[i] ?? '');
      s = lines.join('\n');
    }
  }
  return s;
}

const SEED = 0x5eed;
t.test(`mutated fixtures never make the loader throw (seed ${SEED})`, async (t) => {
  const r = rng(SEED);
  const deadline = Date.now() + 15_000;
  let runs = 0;
  let loaded = 0;
  let rejected = 0;
  while (runs < 600 && Date.now() < deadline) {
    const text = mutate(fixtures[runs % fixtures.length], r);
    runs++;
    let result;
    try {
      result = await parseConfigText(text, '/nonexistent/mutant.yaml');
    } catch (e) {
      t.fail(`threw on mutant #${runs}: ${(e as Error).stack}\n---\n${text}`);
      return;
    }
    if (result.ok) {
      loaded++;
      continue;
    }
    rejected++;
    const lines = text.split('\n');
    for (const p of result.problems) {
      const inside =
        (p.line === 0 && p.column === 0) ||
        (p.line >= 1 && p.line <= lines.length + 1 && p.column >= 1 && p.column <= (lines[p.line - 1]?.length ?? 0) + 1);
      if (!inside || p.message === '') {
        t.fail(`bad problem ${JSON.stringify(p)} for mutant #${runs}\n---\n${text}`);
        return;
      }
    }
  }
  t.ok(runs >= 100, `ran ${runs} mutants (${loaded} loaded, ${rejected} rejected)`);
  t.ok(rejected > 0);
});
