// Logging: pino JSON lines; pretty-printed only when stdout is a terminal, so pipes and log
// shippers always get JSON.

import pino from 'pino';
import type { Logger, LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

export interface LogOptions {
  level: LevelWithSilent;
  /** Default: pretty when stdout is a TTY. */
  pretty?: boolean;
  /** Write JSON lines here instead of stdout (tests). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(opts: LogOptions): Logger {
  const base = { level: opts.level, base: { service: 'sluice' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (opts.destination) return pino(base, opts.destination);
  const wantPretty = opts.pretty ?? process.stdout.isTTY === true;
  if (wantPretty) return pino(base, pretty({ colorize: true, sync: true }));
  return pino(base, pino.destination({ dest: 1, sync: false }));
}
