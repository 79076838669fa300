// The route table: compiled once per config version, never re-parsed per request.
//
// Lookup is O(1) on the host, then an ordered scan of precompiled matchers:
//   1. the bucket of routes naming the exact host (a Map lookup),
//   2. the buckets of wildcard routes ('*.example.com'), longest suffix first (one Map lookup per
//      label of the request host),
//   3. the routes that name no host.
// Within a bucket the first matching route (in config order) wins; when nothing in a bucket
// matches, the next less specific bucket is tried, so a host-less catch-all still serves paths
// that a host's own routes do not cover. Each listener has its own index: a route serves only
// the listeners it names (all listeners when it names none).

import type { HeaderList } from '../http/exchange.js';
import { SluiceError } from '../errors.js';
import type { RouteSpec, ValueMatchSpec, RewriteSpec, HeaderEditSpec, PathMatchSpec } from '../config/schema.js';

export interface DirectAction {
  readonly kind: 'direct';
  readonly status: number;
  /** Lowercase names; Content-Length is the responder's job (from body.length). */
  readonly headers: HeaderList;
  /** Shared by every request of this route: never write into it. */
  readonly body: Buffer;
}

export interface HeaderEdit {
  /** Lowercase names, added after removal. */
  readonly add: HeaderList;
  /** Lowercase names to drop. */
  readonly remove: ReadonlySet<string>;
}

export interface ProxyAction {
  readonly kind: 'proxy';
  readonly cluster: string;
  /** Path (without query) to send upstream for a request path that matched this route. */
  rewritePath(path: string): string;
  readonly requestHeaders: HeaderEdit;
  readonly responseHeaders: HeaderEdit;
  /** Per-route request timeout; null means the cluster's request_timeout_ms. */
  readonly timeoutMs: number | null;
}

export interface CompiledRoute {
  readonly name: string;
  /** Position in the config's routes list. */
  readonly index: number;
  readonly action: DirectAction | ProxyAction;
}

export interface RouteMatchInput {
  readonly listener: string;
  readonly method: string;
  /** Host or authority; normalised here (see normalizeHost), so either form works. */
  readonly host: string;
  /** Path without the query, as received. */
  readonly path: string;
  /** Query without '?', '' when absent. */
  readonly query: string;
  readonly headers: HeaderList;
}

// ---------------------------------------------------------------------------------------------
// Helpers shared with the config loader (validation uses the same rules as compilation).

/**
 * Routing form of a host or authority: lowercase, port and trailing dot removed; an IPv6 literal
 * keeps its brackets ('[::1]:8443' -> '[::1]').
 */
export function normalizeHost(authority: string): string {
  let host = authority;
  if (host.charCodeAt(0) === 0x5b /* [ */) {
    const close = host.indexOf(']');
    if (close > 0) host = host.slice(0, close + 1);
  } else {
    const colon = host.indexOf(':');
    if (colon >= 0) host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host.toLowerCase();
}

/**
 * Compiles a path or value pattern so it must match the whole string (like Envoy's safe_regex):
 * '/api/.*' never matches '/v2/api/x' by accident. Throws the RegExp SyntaxError.
 */
export function compileFullMatch(source: string): RegExp {
  // Validate the source alone first so the error message names the user's pattern, not ours.
  new RegExp(source);
  return new RegExp(`^(?:${source})$`);
}

/** Number of capture groups in a pattern (for checking \N references in substitutions). */
export function captureGroupCount(source: string): number {
  const m = new RegExp(`${source}|`).exec('');
  return m === null ? 0 : m.length - 1;
}

/**
 * A substitution as literal strings and group numbers: '\1'..'\9' insert a capture group ('\0'
 * the whole match), '\\' a backslash; any other character, '$' included, is literal.
 */
export function parseSubstitution(sub: string): ReadonlyArray<string | number> {
  const parts: Array<string | number> = [];
  let lit = '';
  for (let i = 0; i < sub.length; i++) {
    const c = sub[i];
    if (c === '\\' && i + 1 < sub.length) {
      const n = sub.charCodeAt(i + 1);
      if (n >= 0x30 && n <= 0x39) {
        if (lit !== '') parts.push(lit);
        lit = '';
        parts.push(n - 0x30);
        i++;
        continue;
      }
      if (n === 0x5c) {
        lit += '\\';
        i++;
        continue;
      }
    }
    lit += c;
  }
  if (lit !== '') parts.push(lit);
  return parts;
}

/** RFC 9110 5.1 field-name: a token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
export function isHeaderName(name: string): boolean {
  return TOKEN.test(name);
}
/** RFC 9110 5.5: no CR, LF or NUL in a field value (and no surrounding whitespace to trim). */
export function isHeaderValue(value: string): boolean {
  return !/[\r\n\0]/.test(value);
}

/** A Set that refuses changes once built: compiled actions are shared by every request. */
const sealedSets = new WeakSet<object>();
class SealedSet<T> extends Set<T> {
  constructor(values: Iterable<T>) {
    super(values);
    sealedSets.add(this);
  }
  override add(value: T): this {
    if (sealedSets.has(this)) throw new TypeError('route table sets are immutable');
    return super.add(value);
  }
  override delete(value: T): boolean {
    if (sealedSets.has(this)) throw new TypeError('route table sets are immutable');
    return super.delete(value);
  }
  override clear(): void {
    if (sealedSets.has(this)) throw new TypeError('route table sets are immutable');
    super.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// Compiled matchers

type ValuePredicate = (value: string) => boolean;

interface ValueMatcher {
  readonly name: string;
  /** null: presence test only. */
  readonly test: ValuePredicate | null;
  /** For presence tests: must be present (true) or absent (false). */
  readonly present: boolean;
}

interface Matcher {
  readonly route: CompiledRoute;
  readonly path: (path: string) => boolean;
  /** The first path segment every matching path has ('api' for prefix '/api/'), or null. */
  readonly segment: string | null;
  readonly methods: ReadonlySet<string> | null;
  readonly headers: readonly ValueMatcher[];
  readonly query: readonly ValueMatcher[];
}

/**
 * The routes of one host bucket in config order. Large buckets also index their routes by first
 * path segment: the list for a segment is the bucket without the routes that cannot match a path
 * starting with that segment, so order (first match wins) is kept while a request scans only the
 * routes that could match it. Measured in bench/routes.ts ('prefixes').
 */
interface Bucket {
  readonly all: readonly Matcher[];
  /** null: scan `all`. */
  readonly bySegment: ReadonlyMap<string, readonly Matcher[]> | null;
  /** Routes with no fixed first segment: what a path whose segment is not in bySegment scans. */
  readonly rest: readonly Matcher[];
}

/** Below this many routes a plain scan costs less than extracting the path's first segment. */
const SEGMENT_INDEX_MIN = 8;

function makeBucket(all: readonly Matcher[]): Bucket {
  Object.freeze(all);
  const segments = new Set<string>();
  for (const m of all) if (m.segment !== null) segments.add(m.segment);
  if (all.length < SEGMENT_INDEX_MIN || segments.size < 2) return Object.freeze({ all, bySegment: null, rest: all });
  const bySegment = new Map<string, readonly Matcher[]>();
  for (const seg of segments) bySegment.set(seg, Object.freeze(all.filter((m) => m.segment === null || m.segment === seg)));
  return Object.freeze({ all, bySegment, rest: Object.freeze(all.filter((m) => m.segment === null)) });
}

/** First segment of a path: 'api' for '/api/users' and for '/api'; '' for '/'. */
function firstSegment(path: string): string {
  const slash = path.indexOf('/', 1);
  return slash < 0 ? path.slice(1) : path.slice(1, slash);
}

/** The segment every path matched by `spec` starts with, when the spec fixes one. */
function fixedSegment(spec: PathMatchSpec): string | null {
  if (spec.exact !== undefined) return firstSegment(spec.exact);
  if (spec.prefix !== undefined) {
    // '/api/...' fixes 'api'; '/api' also matches '/apis', so it fixes nothing.
    const slash = spec.prefix.indexOf('/', 1);
    return slash < 0 ? null : spec.prefix.slice(1, slash);
  }
  return null;
}

interface HostIndex {
  readonly exact: ReadonlyMap<string, Bucket>;
  /** Key: the suffix with its leading dot ('.example.com' for '*.example.com'). */
  readonly wildcard: ReadonlyMap<string, Bucket>;
  readonly any: Bucket;
}

function invalid(route: string, message: string): SluiceError {
  return new SluiceError('SLUICE_CONFIG_INVALID', `route '${route}': ${message}`, { route });
}

function compilePath(spec: PathMatchSpec, route: string): (path: string) => boolean {
  if (spec.exact !== undefined) {
    const exact = spec.exact;
    return (p) => p === exact;
  }
  if (spec.regex !== undefined) {
    let re: RegExp;
    try {
      re = compileFullMatch(spec.regex);
    } catch (e) {
      throw invalid(route, `invalid path regex: ${(e as Error).message}`);
    }
    return (p) => re.test(p);
  }
  const prefix = spec.prefix ?? '/';
  // The common catch-all: skip the comparison entirely.
  if (prefix === '/') return (p) => p.charCodeAt(0) === 0x2f;
  return (p) => p.startsWith(prefix);
}

function compileValueMatchers(specs: readonly ValueMatchSpec[] | undefined, lowercase: boolean, route: string): ValueMatcher[] {
  if (specs === undefined) return [];
  return specs.map((m) => {
    const name = lowercase ? m.name.toLowerCase() : m.name;
    if (m.present !== undefined) return { name, test: null, present: m.present };
    if (m.regex !== undefined) {
      let re: RegExp;
      try {
        re = compileFullMatch(m.regex);
      } catch (e) {
        throw invalid(route, `invalid regex for '${m.name}': ${(e as Error).message}`);
      }
      return { name, test: (v: string) => re.test(v), present: true };
    }
    const exact = m.exact ?? '';
    return { name, test: (v: string) => v === exact, present: true };
  });
}

function headerListOf(record: Readonly<Record<string, string>>): HeaderList {
  const list: string[] = [];
  for (const [name, value] of Object.entries(record)) list.push(name.toLowerCase(), value);
  return Object.freeze(list) as HeaderList;
}

function compileHeaderEdit(spec: HeaderEditSpec | undefined): HeaderEdit {
  return Object.freeze({
    add: headerListOf(spec?.add ?? {}),
    remove: new SealedSet((spec?.remove ?? []).map((n) => n.toLowerCase())),
  });
}

function compileRewrite(spec: RewriteSpec | undefined, match: PathMatchSpec, route: string): (path: string) => string {
  if (spec === undefined) return (p) => p;
  if (spec.prefix !== undefined) {
    if (match.prefix === undefined) throw invalid(route, 'rewrite.prefix needs match.path.prefix');
    const from = match.prefix;
    const to = spec.prefix;
    return (p) => (p.startsWith(from) ? to + p.slice(from.length) : p);
  }
  const source = spec.regex ?? '';
  let re: RegExp;
  try {
    re = new RegExp(source, 'g');
  } catch (e) {
    throw invalid(route, `invalid rewrite regex: ${(e as Error).message}`);
  }
  const parts = parseSubstitution(spec.substitution ?? '');
  const groups = captureGroupCount(source);
  for (const p of parts) {
    if (typeof p === 'number' && p > groups) throw invalid(route, `substitution uses \\${p} but the regex has ${groups} group(s)`);
  }
  return (p) => {
    const out = p.replace(re, (...m: unknown[]) => {
      let s = '';
      for (const part of parts) s += typeof part === 'number' ? ((m[part] as string | undefined) ?? '') : part;
      return s;
    });
    // An upstream request target must start with '/' (RFC 9112 3.2.1 origin-form).
    return out.charCodeAt(0) === 0x2f ? out : `/${out}`;
  };
}

function compileRoute(spec: RouteSpec, index: number): Matcher {
  const name = spec.name;
  let action: DirectAction | ProxyAction;
  if (spec.direct_response !== undefined) {
    const d = spec.direct_response;
    action = Object.freeze({
      kind: 'direct' as const,
      status: d.status ?? 200,
      headers: headerListOf(d.headers ?? {}),
      body: Buffer.from(d.body ?? '', 'utf8'),
    });
  } else if (spec.proxy !== undefined) {
    const p = spec.proxy;
    action = Object.freeze({
      kind: 'proxy' as const,
      cluster: p.cluster,
      rewritePath: compileRewrite(p.rewrite, spec.match?.path ?? { prefix: '/' }, name),
      requestHeaders: compileHeaderEdit(p.request_headers),
      responseHeaders: compileHeaderEdit(p.response_headers),
      timeoutMs: p.timeout_ms ?? null,
    });
  } else {
    throw invalid(name, 'needs exactly one of proxy or direct_response');
  }
  const route: CompiledRoute = Object.freeze({ name, index, action });
  const m = spec.match;
  return Object.freeze({
    route,
    path: compilePath(m?.path ?? { prefix: '/' }, name),
    segment: fixedSegment(m?.path ?? { prefix: '/' }),
    methods: m?.methods !== undefined ? new SealedSet<string>(m.methods) : null,
    headers: Object.freeze(compileValueMatchers(m?.headers, true, name)),
    query: Object.freeze(compileValueMatchers(m?.query, false, name)),
  });
}

// ---------------------------------------------------------------------------------------------

export class RouteTable {
  readonly #byListener: ReadonlyMap<string, HostIndex>;
  readonly #routes: readonly CompiledRoute[];
  // Per-request scratch: match() is synchronous, so one slot per table is safe and saves an
  // allocation per request. The query string is parsed at most once, and only when a route with
  // query matchers is reached.
  #queryRaw = '';
  #queryParsed: URLSearchParams | null = null;
  #segment: string | null = null;

  private constructor(byListener: ReadonlyMap<string, HostIndex>, routes: readonly CompiledRoute[]) {
    this.#byListener = byListener;
    this.#routes = routes;
  }

  /**
   * Compiles validated route specs for the given listeners. Throws SluiceError
   * SLUICE_CONFIG_INVALID for specs the loader would have rejected (when built in code).
   */
  static compile(routes: readonly RouteSpec[], listeners: readonly string[]): RouteTable {
    const matchers = routes.map((r, i) => compileRoute(r, i));
    const byListener = new Map<string, HostIndex>();
    for (const listener of listeners) {
      const exact = new Map<string, Matcher[]>();
      const wildcard = new Map<string, Matcher[]>();
      const any: Matcher[] = [];
      routes.forEach((spec, i) => {
        if (spec.listeners !== undefined && !spec.listeners.includes(listener)) return;
        const matcher = matchers[i];
        const hosts = spec.match?.hosts;
        if (hosts === undefined) {
          any.push(matcher);
          return;
        }
        const seen = new Set<string>();
        for (const raw of hosts) {
          const h = raw.startsWith('*.') ? `*.${normalizeHost(raw.slice(2))}` : normalizeHost(raw);
          if (seen.has(h)) continue;
          seen.add(h);
          const [map, key] = h.startsWith('*.') ? [wildcard, h.slice(1)] : [exact, h];
          let bucket = map.get(key);
          if (bucket === undefined) map.set(key, (bucket = []));
          bucket.push(matcher);
        }
      });
      const buckets = (m: Map<string, Matcher[]>): Map<string, Bucket> => new Map([...m].map(([k, v]) => [k, makeBucket(v)]));
      byListener.set(listener, Object.freeze({ exact: buckets(exact), wildcard: buckets(wildcard), any: makeBucket(any) }));
    }
    const table = new RouteTable(byListener, Object.freeze(matchers.map((m) => m.route)));
    Object.freeze(table);
    return table;
  }

  /** All routes in config order (for admin output). */
  get routes(): readonly CompiledRoute[] {
    return this.#routes;
  }

  /** Listener names this table serves. */
  get listeners(): readonly string[] {
    return [...this.#byListener.keys()];
  }

  match(input: RouteMatchInput): CompiledRoute | null {
    const index = this.#byListener.get(input.listener);
    if (index === undefined) return null;
    this.#queryRaw = input.query;
    this.#queryParsed = null;
    this.#segment = null;
    // A table whose routes name no host (the default config) never looks at the host at all.
    if (index.exact.size === 0 && index.wildcard.size === 0) return this.#scan(index.any, input);
    const host = normalizeHost(input.host);

    const exact = index.exact.get(host);
    if (exact !== undefined) {
      const r = this.#scan(exact, input);
      if (r !== null) return r;
    }
    if (index.wildcard.size > 0) {
      // '*.example.com' needs at least one label before the suffix, so start after the first
      // label; each later dot gives a shorter suffix, hence longest first.
      for (let dot = host.indexOf('.', 1); dot > 0; dot = host.indexOf('.', dot + 1)) {
        const bucket = index.wildcard.get(host.slice(dot));
        if (bucket === undefined) continue;
        const r = this.#scan(bucket, input);
        if (r !== null) return r;
      }
    }
    return this.#scan(index.any, input);
  }

  #scan(bucket: Bucket, input: RouteMatchInput): CompiledRoute | null {
    let list = bucket.all;
    if (bucket.bySegment !== null) {
      if (this.#segment === null) this.#segment = firstSegment(input.path);
      list = bucket.bySegment.get(this.#segment) ?? bucket.rest;
    }
    for (let i = 0; i < list.length; i++) {
      const m = list[i];
      if (m.methods !== null && !m.methods.has(input.method)) continue;
      if (!m.path(input.path)) continue;
      if (m.headers.length > 0 && !headersMatch(m.headers, input.headers)) continue;
      if (m.query.length > 0 && !this.#queryMatch(m.query)) continue;
      return m.route;
    }
    return null;
  }

  #queryMatch(matchers: readonly ValueMatcher[]): boolean {
    if (this.#queryParsed === null) this.#queryParsed = new URLSearchParams(this.#queryRaw);
    const params = this.#queryParsed;
    for (const vm of matchers) {
      const values = params.getAll(vm.name);
      if (!valuesMatch(vm, values)) return false;
    }
    return true;
  }
}

/** A matcher holds when any field line (or parameter) of that name satisfies it. */
function valuesMatch(vm: ValueMatcher, values: readonly string[]): boolean {
  if (vm.test === null) return (values.length > 0) === vm.present;
  for (const v of values) if (vm.test(v)) return true;
  return false;
}

function headersMatch(matchers: readonly ValueMatcher[], headers: HeaderList): boolean {
  for (const vm of matchers) {
    let found = false;
    let ok = false;
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i] !== vm.name) continue;
      found = true;
      if (vm.test !== null && vm.test(headers[i + 1])) {
        ok = true;
        break;
      }
    }
    if (vm.test === null ? found !== vm.present : !ok) return false;
  }
  return true;
}

export function compileRouteTable(routes: readonly RouteSpec[], listeners: readonly string[]): RouteTable {
  return RouteTable.compile(routes, listeners);
}
