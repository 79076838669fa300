// Clusters (named sets of endpoints with a balancing policy) and the manager that keeps them in
// step with config reloads: a cluster whose spec hash is unchanged keeps its undici pools and
// their warm connections; a changed or removed cluster is drained (in-flight requests finish,
// then its pools close).

import type { ClusterSpec } from '../config/schema.js';
import { SluiceError } from '../errors.js';
import { type Balancer, BALANCE_POLICIES, createBalancer } from './balancer.js';
import { DEFAULT_PASSIVE_HEALTH, Endpoint, type PassiveHealthPolicy, parseEndpoint } from './endpoint.js';
import type { UpstreamEvents } from './events.js';
import { type UpstreamCall, type UpstreamRequest, type UpstreamResponseSink, startForward } from './forward.js';

/**
 * A cluster spec as the config snapshot hands it out (src/config/snapshot.ts ClusterSnapshot:
 * the schema's resolved ClusterSpec plus a content hash that changes when the spec changes).
 * request_timeout_ms is the default headers and body-inactivity timeout; a route overrides it.
 */
export type ClusterEntry = ClusterSpec & { readonly hash: string };

export interface UpstreamOptions {
  readonly events?: UpstreamEvents;
  /** Milliseconds clock for passive-health backoff; injected by tests. */
  readonly now?: () => number;
  /** Random source in [0, 1) for the random policy; injected by tests. */
  readonly random?: () => number;
  readonly health?: PassiveHealthPolicy;
}

export type PickResult =
  | { readonly endpoint: Endpoint; readonly index: number }
  | { readonly endpoint: null; readonly why: 'empty' | 'backoff' | 'exhausted' };

function checkPositiveInt(spec: ClusterSpec, field: keyof ClusterSpec, min: number): void {
  const v = spec[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new SluiceError('SLUICE_CONFIG_INVALID', `clusters.${spec.name}.${field}: expected an integer >= ${min}, got ${JSON.stringify(v)}`, {
      field: `clusters.${spec.name}.${field}`,
    });
  }
}

export class Cluster {
  readonly name: string;
  readonly spec: ClusterSpec;
  readonly hash: string;
  readonly endpoints: readonly Endpoint[];
  readonly balancer: Balancer;
  readonly events: UpstreamEvents;
  readonly now: () => number;
  #draining = false;
  #closed: Promise<void> | null = null;

  constructor(entry: ClusterEntry, options: UpstreamOptions = {}) {
    const spec: ClusterSpec = entry;
    if (typeof spec.name !== 'string' || spec.name === '') {
      throw new SluiceError('SLUICE_CONFIG_INVALID', 'clusters[].name: expected a non-empty string', { field: 'clusters[].name' });
    }
    if (!BALANCE_POLICIES.includes(spec.balance)) {
      throw new SluiceError('SLUICE_CONFIG_INVALID', `clusters.${spec.name}.balance: expected one of ${BALANCE_POLICIES.join(', ')}, got ${JSON.stringify(spec.balance)}`, {
        field: `clusters.${spec.name}.balance`,
      });
    }
    checkPositiveInt(spec, 'connect_timeout_ms', 1);
    checkPositiveInt(spec, 'request_timeout_ms', 1);
    checkPositiveInt(spec, 'idle_timeout_ms', 1);
    checkPositiveInt(spec, 'max_connections', 1);
    // Parse every address before opening any pool, so a bad entry leaves nothing behind.
    const addresses = spec.endpoints.map((text, i) => parseEndpoint(text, `clusters.${spec.name}.endpoints[${i}]`));
    const seen = new Set<string>();
    for (const [i, a] of addresses.entries()) {
      if (seen.has(a.origin)) {
        throw new SluiceError('SLUICE_CONFIG_INVALID', `clusters.${spec.name}.endpoints[${i}]: "${a.text}" is listed twice`, { field: `clusters.${spec.name}.endpoints[${i}]` });
      }
      seen.add(a.origin);
    }

    this.name = spec.name;
    this.spec = spec;
    this.hash = entry.hash;
    this.events = options.events ?? {};
    this.now = options.now ?? Date.now;
    this.balancer = createBalancer(spec.balance, options.random);
    const settings = {
      connectTimeoutMs: spec.connect_timeout_ms,
      requestTimeoutMs: spec.request_timeout_ms,
      idleTimeoutMs: spec.idle_timeout_ms,
      maxConnections: spec.max_connections,
    };
    const health = options.health ?? DEFAULT_PASSIVE_HEALTH;
    this.endpoints = addresses.map((a) => new Endpoint(a, settings, health));
  }

  /** Set once the cluster has been replaced or removed by a reload; new requests get 503. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Choose an endpoint that is out of backoff and not in `tried`. */
  pick(tried: ReadonlySet<Endpoint> = new Set()): PickResult {
    const eps = this.endpoints;
    if (eps.length === 0) return { endpoint: null, why: 'empty' };
    const now = this.now();
    const index = this.balancer.pick({
      size: eps.length,
      eligible: (i) => !tried.has(eps[i]) && eps[i].isAvailable(now),
      load: (i) => eps[i].outstanding,
    });
    if (index >= 0) return { endpoint: eps[index], index };
    return { endpoint: null, why: tried.size > 0 ? 'exhausted' : 'backoff' };
  }

  /** Send one request to this cluster; the sink receives the response or one failure. */
  forward(request: UpstreamRequest, sink: UpstreamResponseSink): UpstreamCall {
    return startForward(this, request, sink);
  }

  /** Stop taking requests and close the pools once in-flight requests have finished. */
  retire(): Promise<void> {
    this.#draining = true;
    this.#closed ??= Promise.all(this.endpoints.map((e) => e.close())).then(() => undefined);
    return this.#closed;
  }

  /** Abort everything at once (shutdown after the drain deadline). */
  destroy(): Promise<void> {
    this.#draining = true;
    return Promise.all(this.endpoints.map((e) => e.destroy())).then(() => undefined);
  }
}

export interface ClusterUpdate {
  readonly kept: readonly string[];
  readonly added: readonly string[];
  readonly replaced: readonly string[];
  readonly removed: readonly string[];
}

export class ClusterManager {
  #clusters = new Map<string, Cluster>();
  #retiring = new Set<Promise<void>>();

  constructor(private readonly options: UpstreamOptions = {}) {}

  /**
   * Apply a config version. All new clusters are built before anything is swapped, so an invalid
   * spec throws (SLUICE_CONFIG_INVALID naming the field) and leaves the running set untouched.
   */
  update(entries: readonly ClusterEntry[]): ClusterUpdate {
    const names = new Set<string>();
    for (const e of entries) {
      if (names.has(e.name)) {
        throw new SluiceError('SLUICE_CONFIG_INVALID', `clusters.${e.name}: cluster name is defined twice`, { field: `clusters.${e.name}` });
      }
      names.add(e.name);
    }
    const built: Cluster[] = [];
    const next = new Map<string, Cluster>();
    const kept: string[] = [];
    const added: string[] = [];
    const replaced: string[] = [];
    try {
      for (const e of entries) {
        const current = this.#clusters.get(e.name);
        if (current && current.hash === e.hash) {
          next.set(e.name, current);
          kept.push(e.name);
          continue;
        }
        const cluster = new Cluster(e, this.options);
        built.push(cluster);
        next.set(e.name, cluster);
        (current ? replaced : added).push(e.name);
      }
    } catch (err) {
      for (const c of built) void c.destroy();
      throw err;
    }
    const removed: string[] = [];
    for (const [name, old] of this.#clusters) {
      if (next.get(name) === old) continue;
      if (!next.has(name)) removed.push(name);
      this.#retire(old);
    }
    this.#clusters = next;
    return { kept, added, replaced, removed };
  }

  get(name: string): Cluster | undefined {
    return this.#clusters.get(name);
  }

  get names(): string[] {
    return [...this.#clusters.keys()];
  }

  /** Drain every cluster (in-flight requests finish) and close all pools. */
  async close(): Promise<void> {
    for (const c of this.#clusters.values()) this.#retire(c);
    this.#clusters = new Map();
    await Promise.all([...this.#retiring]);
  }

  #retire(cluster: Cluster): void {
    const p = cluster.retire().finally(() => this.#retiring.delete(p));
    this.#retiring.add(p);
  }
}
