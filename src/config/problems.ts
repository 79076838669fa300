// Config problems: one per thing wrong in a config file, each with the file position and the
// YAML path, so an operator (or an editor plugin reading the JSON form) can jump to it.

import { SluiceError } from '../errors.js';

export interface ConfigProblem {
  /** The config file as given to the loader. */
  readonly file: string;
  /** 1-based; 0 when the problem concerns the whole file (unreadable, empty). */
  readonly line: number;
  /** 1-based; 0 together with line 0. */
  readonly column: number;
  /** YAML path such as 'routes[1].match.path'; '' for the document itself. */
  readonly path: string;
  readonly message: string;
}

/** A path segment: a map key or a sequence index. */
export type PathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** 'routes[1].match.path'; keys that are not plain identifiers are quoted: add["x gw"]. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (PLAIN_KEY.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** One line per problem: `file:line:col: path: message` (position and path left out when unknown). */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems
    .map((p) => {
      const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file;
      return p.path !== '' ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
    })
    .join('\n');
}

/** Machine form: a JSON array of ConfigProblem objects. */
export function problemsToJson(problems: readonly ConfigProblem[]): string {
  return JSON.stringify(
    problems.map((p) => ({ file: p.file, line: p.line, column: p.column, path: p.path, message: p.message })),
  );
}

/** The error a reload or `serve` raises for a rejected config; the problems ride in detail. */
export function configError(problems: readonly ConfigProblem[]): SluiceError {
  const first = problems[0];
  const summary = first === undefined ? 'invalid config' : formatProblems([first]);
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  return new SluiceError('SLUICE_CONFIG_INVALID', `${summary}${more}`, { problems });
}
