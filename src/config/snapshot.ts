// The runtime snapshot: a validated config compiled once into what the data path reads, deeply
// frozen, and swapped as a whole on reload. A request keeps the snapshot it started with.

import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { RouteTable } from '../gateway/routes.js';
import type { AdminSpec, ClusterSpec, ListenerSpec, LoggingSpec, ResolvedConfig } from './schema.js';

/** A cluster spec with its content hash (equal hash: the upstream layer may keep its pools). */
export type ClusterSnapshot = ClusterSpec & { readonly hash: string };

export interface ConfigSnapshot {
  /** Monotonic version given by the caller (1 for the first load, +1 per reload). */
  readonly version: number;
  /** Absolute path of the config file. */
  readonly source: string;
  /** Directory relative paths were resolved against. */
  readonly baseDir: string;
  /** Milliseconds since the epoch when the snapshot was built (injected clock). */
  readonly loadedAt: number;
  /** Content hash of the resolved config (defaults applied, paths absolute). */
  readonly hash: string;
  /** The whole resolved config: defaults applied, certificate and socket paths absolute. */
  readonly config: ResolvedConfig;
  readonly listeners: readonly ListenerSpec[];
  /** The compiled route table, one host index per listener. */
  readonly routes: RouteTable;
  readonly clusters: readonly ClusterSnapshot[];
  readonly admin: AdminSpec;
  readonly logging: LoggingSpec;
  readonly drainTimeoutMs: number;
}

/** JSON with object keys sorted, so equal content always hashes equal. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Stable content hash of a cluster spec (key order and the `hash` field itself ignored). */
export function clusterHash(spec: ClusterSpec): string {
  const { hash: _ignored, ...rest } = spec as ClusterSpec & { hash?: string };
  return sha256(canonicalJson(rest));
}

/** Freezes plain objects and arrays recursively; byte buffers cannot be frozen and are skipped. */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return value;
}

export interface SnapshotMeta {
  /** Absolute (or cwd-relative) config path; relative paths in the config resolve against its directory. */
  readonly source: string;
  readonly version: number;
  readonly loadedAt: number;
}

/**
 * Builds the snapshot from a config that passed validation (see load.ts): resolves relative
 * paths, compiles the route table and hashes clusters. Throws SluiceError SLUICE_CONFIG_INVALID
 * only for a config that skipped validation.
 */
export function buildSnapshot(config: ResolvedConfig, meta: SnapshotMeta): ConfigSnapshot {
  const source = resolve(meta.source);
  const baseDir = dirname(source);
  const abs = (p: string): string => resolve(baseDir, p);

  const listeners: ListenerSpec[] = config.listeners.map((l) =>
    l.tls === undefined
      ? l
      : { ...l, tls: { ...l.tls, certificates: l.tls.certificates.map((c) => ({ ...c, cert: abs(c.cert), key: abs(c.key) })) } },
  );
  const admin: AdminSpec = config.admin.socket === undefined ? config.admin : { ...config.admin, socket: abs(config.admin.socket) };
  const resolved: ResolvedConfig = { ...config, listeners, admin };
  const clusters: ClusterSnapshot[] = config.clusters.map((c) => ({ ...c, hash: clusterHash(c) }));
  const routes = RouteTable.compile(
    config.routes,
    listeners.map((l) => l.name),
  );
  return deepFreeze({
    version: meta.version,
    source,
    baseDir,
    loadedAt: meta.loadedAt,
    hash: sha256(canonicalJson(resolved)),
    config: resolved,
    listeners,
    routes,
    clusters,
    admin,
    logging: config.logging,
    drainTimeoutMs: config.drain_timeout_ms,
  });
}
