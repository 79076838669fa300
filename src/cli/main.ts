// The `sluice` command line: serve, validate, version (and more as the data paths arrive).
// commander parses; each action returns an exit code instead of calling process.exit, so tests
// can run commands in-process.

import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { formatProblems, problemsToJson } from '../config/problems.js';
import { createLogger } from '../log.js';
import { SluiceServer } from '../server.js';
import { SluiceError } from '../errors.js';
import { registerNetstat } from './netstat.js';
import { registerDoctor } from './doctor.js';
import type { LevelWithSilent } from 'pino';

/** The package's version, found by walking up from this file (src/ under tsx, dist/src/ when built). */
function packageVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'sluice' && pkg.version) return pkg.version;
    } catch {
      // not at this level
    }
  }
  return 'unknown';
}

export async function run(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command();
  program
    .name('sluice')
    .description('TLS-terminating API edge gateway')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });

  program
    .command('serve')
    .description('run the gateway on a config file until SIGTERM/SIGINT (SIGHUP reloads)')
    .requiredOption('-c, --config <file>', 'config file (YAML)')
    .option('--log-level <level>', 'override logging.level from the config')
    .action(async (opts: { config: string; logLevel?: string }) => {
      code = await serve(opts.config, opts.logLevel);
    });

  program
    .command('validate')
    .description('check a config file without starting anything; exit 1 and list every problem when invalid')
    .requiredOption('-c, --config <file>', 'config file (YAML)')
    .option('--json', 'print problems as JSON')
    .action(async (opts: { config: string; json?: boolean }) => {
      const r = await loadConfig(opts.config);
      if (r.ok) {
        if (opts.json) process.stdout.write(JSON.stringify({ ok: true, problems: [] }) + '\n');
        else process.stdout.write(`${opts.config}: ok (${r.snapshot.listeners.length} listeners, ${r.snapshot.config.routes.length} routes, ${r.snapshot.clusters.length} clusters)\n`);
        code = 0;
      } else {
        if (opts.json) process.stdout.write(problemsToJson(r.problems) + '\n');
        else process.stderr.write(formatProblems(r.problems) + '\n');
        code = 1;
      }
    });

  program
    .command('version')
    .description('print the version')
    .action(() => {
      process.stdout.write(`sluice ${packageVersion()} (node ${process.version})\n`);
    });

  registerNetstat(program, (c) => { code = c; });
  registerDoctor(program, (c) => { code = c; });

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  return code;
}

async function serve(configPath: string, logLevel: string | undefined): Promise<number> {
  // The logger's level comes from the config, so read it before anything else logs; a config
  // that does not load is reported on stderr in the same file:line:column form as `validate`.
  const first = await loadConfig(configPath);
  if (!first.ok) {
    process.stderr.write(`sluice: ${configPath} is invalid:\n${formatProblems(first.problems)}\n`);
    return 1;
  }
  const log = createLogger({ level: (logLevel ?? first.snapshot.logging.level) as LevelWithSilent });
  let server: SluiceServer;
  try {
    server = await SluiceServer.start({ configPath, logger: log });
  } catch (err) {
    const e = err as Error;
    log.fatal({ code: err instanceof SluiceError ? err.code : undefined, err: e.message }, 'sluice failed to start');
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        // Already draining: a repeated signal does not cut in-flight requests short; the drain
        // timeout bounds the wait.
        log.info({ signal }, 'already draining');
        return;
      }
      stopping = true;
      log.info({ signal }, 'draining');
      void server.shutdown().then(({ forced }) => {
        log.info({ forced_connections: forced }, 'stopped');
        log.flush();
        resolve(0);
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => void server.reload('SIGHUP'));
  });
}
