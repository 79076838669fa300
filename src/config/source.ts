// The live config: the current snapshot of one file, replaced as a whole on reload (admin API,
// SIGHUP, or a file watch). A rejected file never replaces a good snapshot; versions only grow.

import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { loadConfig, parseConfigText } from './load.js';
import type { ConfigProblem } from './problems.js';
import type { ConfigSnapshot } from './snapshot.js';

export interface ReloadOutcome {
  readonly ok: boolean;
  /** The version now in force (unchanged when the file was rejected). */
  readonly version: number;
  /** Empty when ok. */
  readonly problems: readonly ConfigProblem[];
  /** The snapshot now in force (null only when no load has ever succeeded). */
  readonly snapshot: ConfigSnapshot | null;
}

export interface ConfigSourceOptions {
  /** Clock for snapshots' loadedAt; default Date.now. */
  now?: () => number;
  /** Called after every load attempt, in order (for logs and metrics). */
  onLoad?: (outcome: ReloadOutcome) => void;
}

export class ConfigSource {
  readonly file: string;
  #current: ConfigSnapshot | null = null;
  #lastVersion = 0;
  /** Loads run one at a time, so versions are handed out in order and a slow load never lands last. */
  #queue: Promise<unknown> = Promise.resolve();
  #watcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  #lastText: string | null = null;

  constructor(
    file: string,
    private readonly opts: ConfigSourceOptions = {},
  ) {
    this.file = resolve(file);
  }

  get current(): ConfigSnapshot | null {
    return this.#current;
  }

  /** Loads the file (first load or reload); on success the new snapshot replaces the current one. */
  load(): Promise<ReloadOutcome> {
    const run = this.#queue.then(() => this.#loadNow());
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #loadNow(): Promise<ReloadOutcome> {
    const version = this.#lastVersion + 1;
    const opts = { version, now: this.opts.now };
    // Read once and parse that text, so the text compared by the watch is the text loaded.
    const text = await readFile(this.file, 'utf8').then(
      (t) => t,
      () => null,
    );
    this.#lastText = text;
    const r = text === null ? await loadConfig(this.file, opts) : await parseConfigText(text, this.file, opts);
    let outcome: ReloadOutcome;
    if (r.ok) {
      this.#lastVersion = version;
      this.#current = r.snapshot;
      outcome = { ok: true, version, problems: [], snapshot: r.snapshot };
    } else {
      outcome = { ok: false, version: this.#current?.version ?? 0, problems: r.problems, snapshot: this.#current };
    }
    this.opts.onLoad?.(outcome);
    return outcome;
  }

  /**
   * Reloads when the file's content changes. The directory is watched, not the file: editors
   * save by renaming a new file over the old one, and Kubernetes swaps a `..data` symlink, both
   * of which a watch on the old inode would miss. Events are debounced, and a reload happens only
   * when the text differs from what was last loaded. Returns a function that stops watching.
   */
  watch(debounceMs = 200): () => void {
    if (this.#watcher !== null) return () => this.unwatch();
    const name = basename(this.file);
    this.#watcher = watch(dirname(this.file), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== name && !String(changed).startsWith('..')) return;
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timer = setTimeout(() => {
        this.#timer = null;
        void this.#reloadIfChanged();
      }, debounceMs);
    });
    return () => this.unwatch();
  }

  unwatch(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#watcher?.close();
    this.#watcher = null;
  }

  async #reloadIfChanged(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      return; // mid-rename; the next event brings the new file
    }
    if (text === this.#lastText) return;
    await this.load();
  }
}
