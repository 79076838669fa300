// Loading a config file: YAML (with node positions) -> schema validation (ajv, every error) ->
// semantic checks (names, references, regexes, certificates, addresses) -> snapshot.
// Every problem found is reported with file:line:column and its YAML path; loading never stops
// at the first one, so an operator fixes a file in one pass.

import { readFile } from 'node:fs/promises';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { resolve, dirname } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parseDocument, isMap, isSeq, isPair, isScalar, isAlias, type Document, type Node as YamlNode } from 'yaml';
import { ConfigSchema, NAME_PATTERN, type ConfigInput, type ResolvedConfig } from './schema.js';
import { isHostAddress, parseEndpoint, routeHostProblem } from './formats.js';
import { formatPath, type ConfigProblem, type PathSegment } from './problems.js';
import { buildSnapshot, type ConfigSnapshot } from './snapshot.js';
import { parseCidr } from '../net/filter.js';
import { captureGroupCount, compileFullMatch, isHeaderName, isHeaderValue, parseSubstitution } from '../gateway/routes.js';

export type LoadResult = { ok: true; snapshot: ConfigSnapshot } | { ok: false; problems: ConfigProblem[] };

export interface LoadOptions {
  /** Snapshot version (monotonic, chosen by the caller); default 1. */
  version?: number;
  /** Clock for loadedAt; default Date.now. */
  now?: () => number;
}

let validator: ValidateFunction | null = null;

/** The compiled validator: all errors, defaults inserted, failing data and schema attached. */
function getValidator(): ValidateFunction {
  if (validator !== null) return validator;
  const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true, strictTypes: false, strictRequired: false });
  ajv.addFormat('host', { type: 'string', validate: isHostAddress });
  ajv.addFormat('ipv4', { type: 'string', validate: (v: string) => isIP(v) === 4 });
  validator = ajv.compile(ConfigSchema);
  return validator;
}

// ---------------------------------------------------------------------------------------------
// Positions

interface Located {
  line: number;
  column: number;
}

/**
 * Line starts of the source text, for offset -> line:column. The yaml package's LineCounter
 * only learns the newlines its lexer emits as tokens, so after a syntax error (a scalar running
 * over a line break) its lines drift; counting in the text itself is always right.
 */
class LineIndex {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }

  /** 1-based line and column (UTF-16 units, as the yaml package counts offsets). */
  pos(offset: number): Located {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.starts[lo] + 1 };
  }
}

/** Maps YAML paths to positions in the source text. */
class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineIndex,
  ) {}

  /**
   * Position of the node at `path` (or of its key with `onKey`), falling back to the deepest
   * existing ancestor when the path goes through values the file does not contain (defaults).
   */
  at(path: readonly PathSegment[], onKey = false): Located {
    let node: unknown = this.doc.contents;
    let best: Located = { line: 1, column: 1 };
    const set = (n: unknown): void => {
      const range = (n as { range?: [number, number, number] } | null)?.range;
      if (range) best = this.pos(range[0]);
    };
    set(node);
    for (let i = 0; i < path.length; i++) {
      if (isAlias(node)) node = node.resolve(this.doc);
      const seg = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
        if (pair === undefined) return best;
        const keyNode = pair.key as YamlNode | null;
        const valueNode = pair.value as YamlNode | null;
        const emptyValue =
          valueNode === null || (isScalar(valueNode) && valueNode.value === null && valueNode.range?.[0] === valueNode.range?.[1]);
        if ((last && onKey) || emptyValue) {
          set(keyNode);
          if (last || emptyValue) return best;
        }
        node = valueNode;
        set(node);
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg];
        if (item === undefined) return best;
        node = item;
        set(node);
      } else {
        return best;
      }
    }
    return best;
  }

  /** The path of the innermost node around a source offset (for syntax errors); [] at top level. */
  pathAt(offset: number): PathSegment[] {
    const path: PathSegment[] = [];
    const within = (n: unknown): boolean => {
      const range = (n as { range?: [number, number, number] } | null)?.range;
      return range !== undefined && range[0] <= offset && offset < range[2];
    };
    let node: unknown = this.doc.contents;
    for (let depth = 0; depth < 64 && node !== null; depth++) {
      let next: unknown = null;
      if (isMap(node)) {
        for (const pair of node.items) {
          if (within(pair.value)) {
            path.push(keyText(pair.key));
            next = pair.value;
            break;
          }
          if (within(pair.key)) {
            path.push(keyText(pair.key));
            return path;
          }
        }
      } else if (isSeq(node)) {
        const i = node.items.findIndex(within);
        if (i >= 0) {
          path.push(i);
          next = node.items[i];
        }
      }
      node = next;
    }
    return path;
  }

  pos(offset: number): Located {
    return this.lines.pos(offset);
  }
}

function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

// ---------------------------------------------------------------------------------------------
// Schema errors -> readable problems

interface Finding {
  path: PathSegment[];
  onKey?: boolean;
  message: string;
}

function decodePointer(pointer: string): PathSegment[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

/** A value as the user wrote it, for "got ..." in messages. */
function show(value: unknown): string {
  if (value === null || value === undefined) return 'nothing (empty value)';
  if (typeof value === 'string') return `'${value.length > 60 ? `${value.slice(0, 57)}...` : value}'`;
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return String(value);
}

interface SchemaLike {
  type?: string | string[];
  minimum?: number;
  maximum?: number;
  properties?: Record<string, unknown>;
  oneOf?: { required?: string[] }[];
  pattern?: string;
  format?: string;
  enum?: unknown[];
}

/** "integer 1..65535", "a string", ... from the schema at the failing value. */
function expected(schema: SchemaLike): string {
  const t = Array.isArray(schema.type) ? schema.type.join(' or ') : schema.type;
  if (t === 'integer' || t === 'number') {
    const lo = schema.minimum;
    const hi = schema.maximum;
    const range = lo !== undefined && hi !== undefined ? ` ${lo}..${hi}` : lo !== undefined ? ` >= ${lo}` : hi !== undefined ? ` <= ${hi}` : '';
    return `${t}${range}`;
  }
  if (schema.enum !== undefined) return `one of ${schema.enum.join(', ')}`;
  switch (t) {
    case 'string':
      return 'a string';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    case 'object':
      return 'a map';
    default:
      return t ?? 'a value';
  }
}

/** "exactly one of" groups declared with oneOf over `required` branches (schema.ts). */
function describeOneOf(schema: SchemaLike, data: unknown): string {
  const groups = (schema.oneOf ?? []).map((b) => b.required ?? []);
  const names = groups.map((g) => g.join(' + ')).join(', ');
  const obj = data !== null && typeof data === 'object' ? (data as Record<string, unknown>) : {};
  const present = groups.filter((g) => g.some((k) => obj[k] !== undefined));
  if (present.length > 1) return `only one of ${names} is allowed, got ${present.map((g) => g.join(' + ')).join(' and ')}`;
  return `expected exactly one of ${names}`;
}

function patternText(pattern: string): string {
  if (pattern === NAME_PATTERN) return "a name of letters, digits, '_', '.', '-' starting with a letter or digit";
  if (pattern === '^/') return "a path starting with '/'";
  return `a string matching /${pattern}/`;
}

function formatText(format: string): string {
  if (format === 'host') return 'an IP address or host name';
  if (format === 'ipv4') return 'a dotted-quad IPv4 address';
  return `a value in format '${format}'`;
}

/** Levenshtein distance, for "did you mean" on unknown keys (keys are short: O(n*m) is fine). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The allowed key a typo most likely meant: at most 2 edits away (1 for short keys). */
function closest(key: string, allowed: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = key.length <= 4 ? 2 : 3;
  for (const a of allowed) {
    const d = distance(key.toLowerCase(), a);
    if (d < bestD) {
      best = a;
      bestD = d;
    }
  }
  return best;
}

function findingOf(err: ErrorObject): Finding | null {
  const path = decodePointer(err.instancePath);
  const schema = (err.parentSchema ?? {}) as SchemaLike;
  const params = err.params as Record<string, unknown>;
  // Errors inside an "exactly one of" branch are summarised by the oneOf error itself.
  if (err.schemaPath.includes('/oneOf/')) return null;
  switch (err.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = Object.keys(schema.properties ?? {});
      const near = closest(key, allowed);
      const hint = near !== null ? `; did you mean '${near}'?` : '';
      return { path: [...path, key], onKey: true, message: `unknown key '${key}' (allowed: ${allowed.join(', ')})${hint}` };
    }
    case 'required':
      return { path, message: `missing required key '${String(params.missingProperty)}'` };
    case 'dependencies':
      return {
        path: [...path, String(params.property)],
        onKey: true,
        message: `'${String(params.property)}' needs '${String(params.missingProperty)}' beside it`,
      };
    case 'type':
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { path, message: `expected ${expected(schema)}, got ${show(err.data)}` };
    case 'enum':
      return { path, message: `expected one of ${(params.allowedValues as unknown[]).join(', ')}, got ${show(err.data)}` };
    case 'pattern':
      return { path, message: `expected ${patternText(String(params.pattern))}, got ${show(err.data)}` };
    case 'format':
      return { path, message: `expected ${formatText(String(params.format))}, got ${show(err.data)}` };
    case 'minLength':
      return {
        path,
        message: params.limit === 1 ? 'expected a non-empty string' : `expected at least ${String(params.limit)} characters`,
      };
    case 'maxLength':
      return { path, message: `expected at most ${String(params.limit)} characters, got ${String((err.data as string).length)}` };
    case 'minItems':
      return { path, message: params.limit === 1 ? 'expected at least one item' : `expected at least ${String(params.limit)} items` };
    case 'uniqueItems': {
      const i = Number(params.i);
      const j = Number(params.j);
      const later = Math.max(i, j);
      const first = Math.min(i, j);
      const item = Array.isArray(err.data) ? (err.data as unknown[])[later] : undefined;
      return { path: [...path, later], message: `duplicate item ${show(item)} (same as item ${first})` };
    }
    case 'oneOf':
      return { path, message: describeOneOf(schema, err.data) };
    default:
      return { path, message: err.message ?? `fails '${err.keyword}'` };
  }
}

// ---------------------------------------------------------------------------------------------
// Semantic checks

class Problems {
  readonly list: ConfigProblem[] = [];
  constructor(
    private readonly file: string,
    private readonly locator: Locator,
  ) {}

  add(path: readonly PathSegment[], message: string, onKey = false): void {
    const { line, column } = this.locator.at(path, onKey);
    this.list.push({ file: this.file, line, column, path: formatPath(path), message });
  }

  line(path: readonly PathSegment[]): number {
    return this.locator.at(path).line;
  }
}

function isStr(v: unknown): v is string {
  return typeof v === 'string';
}

function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'ENOENT: no such file or directory';
  if (err.code === 'EACCES') return 'EACCES: permission denied';
  if (err.code === 'EISDIR') return 'EISDIR: is a directory';
  return err.code !== undefined ? `${err.code}: ${err.message}` : String(err.message ?? e);
}

function regexError(source: string): string | null {
  try {
    compileFullMatch(source);
    return null;
  } catch (e) {
    return (e as Error).message; // 'Invalid regular expression: /.../: <reason>'
  }
}

function checkUniqueNames(p: Problems, items: readonly { name?: unknown }[] | undefined, kind: string, key: string): void {
  const first = new Map<string, number>();
  (items ?? []).forEach((item, i) => {
    if (!isStr(item?.name)) return;
    const prev = first.get(item.name);
    if (prev === undefined) first.set(item.name, i);
    else p.add([key, i, 'name'], `duplicate ${kind} name '${item.name}' (first defined at ${key}[${prev}], line ${p.line([key, prev, 'name'])})`);
  });
}

/** 'host:port' as an operator writes it, IPv6 in brackets. */
function hostPort(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * Whether two bind addresses collide on one port: the same address, or a wildcard covering the
 * other (Linux refuses 127.0.0.1:p beside 0.0.0.0:p without SO_REUSEPORT; '::' is dual-stack in
 * Node, so it covers IPv4 too). Host names are compared as written.
 */
function overlaps(a: string, b: string): boolean {
  if (a === b) return true;
  const wildcard = (x: string): 0 | 4 | 6 => (x === '0.0.0.0' ? 4 : isIP(x) === 6 && x.replace(/^[:0]+$/, '') === '' ? 6 : 0);
  for (const [w, other] of [
    [a, b],
    [b, a],
  ] as const) {
    const kind = wildcard(w);
    if (kind === 6 && isIP(other) !== 0) return true;
    if (kind === 4 && isIP(other) === 4) return true;
  }
  return false;
}

/** Listeners (and the admin port) must not share address:port; port 0 is always distinct. */
function checkAddresses(p: Problems, cfg: ConfigInput): void {
  const taken: { address: string; port: number; what: string; path: PathSegment[] }[] = [];
  const claim = (address: unknown, port: unknown, what: string, path: PathSegment[]): void => {
    if (!isStr(address) || typeof port !== 'number' || port === 0) return;
    const addr = address.toLowerCase();
    const prev = taken.find((t) => t.port === port && overlaps(t.address, addr));
    if (prev === undefined) taken.push({ address: addr, port, what, path });
    else if (prev.address === addr) p.add(path, `address ${hostPort(addr, port)} is already used by ${prev.what} (line ${p.line(prev.path)})`);
    else {
      p.add(path, `address ${hostPort(addr, port)} overlaps ${hostPort(prev.address, port)} of ${prev.what} (line ${p.line(prev.path)})`);
    }
  };
  (cfg.listeners ?? []).forEach((l, i) => claim(l?.address, l?.port, `listener '${String(l?.name)}'`, ['listeners', i, 'port']));
  const admin = cfg.admin;
  if (admin !== undefined) claim(admin.address, admin.port, 'the admin listener', ['admin', 'port']);
}

async function readPem(path: string): Promise<{ text: string } | { error: unknown }> {
  try {
    return { text: await readFile(path, 'utf8') };
  } catch (error) {
    return { error };
  }
}

/** Certificates: at most one default; files readable, parseable and matching their key. */
async function checkTls(p: Problems, cfg: ConfigInput, baseDir: string): Promise<void> {
  const jobs: Promise<void>[] = [];
  (cfg.listeners ?? []).forEach((l, li) => {
    const certs = l?.tls?.certificates;
    if (!Array.isArray(certs)) return;
    let defaultAt = -1;
    certs.forEach((c, ci) => {
      const base: PathSegment[] = ['listeners', li, 'tls', 'certificates', ci];
      if (c?.default === true) {
        if (defaultAt >= 0) p.add([...base, 'default'], `only one certificate per listener may be the default (certificates[${defaultAt}] already is)`);
        else defaultAt = ci;
      }
      if (!isStr(c?.cert) || !isStr(c?.key)) return;
      const certPath = resolve(baseDir, c.cert);
      const keyPath = resolve(baseDir, c.key);
      jobs.push(
        (async () => {
          const [cert, key] = await Promise.all([readPem(certPath), readPem(keyPath)]);
          const missing = (r: { error: unknown } | { text: string }): boolean =>
            'error' in r && (r.error as NodeJS.ErrnoException).code === 'ENOENT';
          if (c.generate === 'dev' && missing(cert) && missing(key)) return; // created on first start
          const hint = c.generate === 'dev' ? ' (generate: dev creates the pair only when both files are missing)' : '';
          let x509: X509Certificate | null = null;
          let pkey: KeyObject | null = null;
          if ('error' in cert) p.add([...base, 'cert'], `cannot read certificate '${certPath}': ${errnoText(cert.error)}${hint}`);
          else {
            try {
              x509 = new X509Certificate(cert.text);
            } catch (e) {
              p.add([...base, 'cert'], `'${certPath}' is not a PEM X.509 certificate: ${(e as Error).message}`);
            }
          }
          if ('error' in key) p.add([...base, 'key'], `cannot read private key '${keyPath}': ${errnoText(key.error)}${hint}`);
          else {
            try {
              pkey = createPrivateKey(key.text);
            } catch (e) {
              p.add([...base, 'key'], `'${keyPath}' is not a PEM private key: ${(e as Error).message}`);
            }
          }
          if (x509 !== null && pkey !== null && !x509.checkPrivateKey(pkey)) {
            p.add([...base, 'key'], `private key '${keyPath}' does not match certificate '${certPath}'`);
          }
        })(),
      );
    });
  });
  await Promise.all(jobs);
}

/**
 * Message framing and connection-scoped fields (RFC 9110 7.6.1, RFC 9112 6): Sluice sets these
 * itself per hop, so configuring them would corrupt framing.
 */
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'proxy-connection']);

function checkHeaderMap(p: Problems, map: unknown, path: PathSegment[]): void {
  if (map === null || typeof map !== 'object') return;
  for (const [name, value] of Object.entries(map as Record<string, unknown>)) {
    if (!isHeaderName(name)) p.add([...path, name], `'${name}' is not a valid header name (RFC 9110 token)`, true);
    else if (FRAMING_HEADERS.has(name.toLowerCase())) {
      p.add([...path, name], `'${name}' is set by Sluice for each connection and cannot be configured`, true);
    }
    else if (isStr(value) && !isHeaderValue(value)) p.add([...path, name], `header value must not contain CR, LF or NUL`);
  }
}

function checkHeaderNames(p: Problems, names: unknown, path: PathSegment[]): void {
  if (!Array.isArray(names)) return;
  names.forEach((n, i) => {
    if (isStr(n) && !isHeaderName(n)) p.add([...path, i], `'${n}' is not a valid header name (RFC 9110 token)`);
  });
}

function defined(kind: string, names: ReadonlySet<string>): string {
  return names.size === 0 ? `no ${kind} are defined` : `${kind}: ${[...names].join(', ')}`;
}

function checkRoutes(p: Problems, cfg: ConfigInput): void {
  const listenerNames = new Set((cfg.listeners ?? []).map((l) => l?.name).filter(isStr));
  const clusterNames = new Set((cfg.clusters ?? []).map((c) => c?.name).filter(isStr));
  (cfg.routes ?? []).forEach((r, ri) => {
    if (r === null || typeof r !== 'object') return;
    const base: PathSegment[] = ['routes', ri];
    (Array.isArray(r.listeners) ? r.listeners : []).forEach((name, i) => {
      if (isStr(name) && !listenerNames.has(name)) {
        p.add([...base, 'listeners', i], `listener '${name}' is not defined (${defined('listeners', listenerNames)})`);
      }
    });
    const m = r.match;
    if (m !== null && typeof m === 'object') {
      (Array.isArray(m.hosts) ? m.hosts : []).forEach((h, i) => {
        const problem = isStr(h) ? routeHostProblem(h) : null;
        if (problem !== null) p.add([...base, 'match', 'hosts', i], problem);
      });
      if (isStr(m.path?.regex)) {
        const e = regexError(m.path.regex);
        if (e !== null) p.add([...base, 'match', 'path', 'regex'], e);
      }
      for (const kind of ['headers', 'query'] as const) {
        (Array.isArray(m[kind]) ? m[kind] : []).forEach((vm, i) => {
          if (kind === 'headers' && isStr(vm?.name) && !isHeaderName(vm.name)) {
            p.add([...base, 'match', kind, i, 'name'], `'${vm.name}' is not a valid header name (RFC 9110 token)`);
          }
          if (isStr(vm?.regex)) {
            const e = regexError(vm.regex);
            if (e !== null) p.add([...base, 'match', kind, i, 'regex'], e);
          }
        });
      }
    }
    const d = r.direct_response;
    if (d !== null && typeof d === 'object') checkHeaderMap(p, d.headers, [...base, 'direct_response', 'headers']);
    const px = r.proxy;
    if (px === null || typeof px !== 'object') return;
    if (isStr(px.cluster) && !clusterNames.has(px.cluster)) {
      p.add([...base, 'proxy', 'cluster'], `cluster '${px.cluster}' is not defined (${defined('clusters', clusterNames)})`);
    }
    const rw = px.rewrite;
    if (rw !== null && typeof rw === 'object') {
      if (isStr(rw.prefix) && m?.path !== undefined && m.path.prefix === undefined) {
        p.add([...base, 'proxy', 'rewrite', 'prefix'], 'rewrite.prefix replaces the matched prefix, so match.path must be a prefix');
      }
      if (isStr(rw.regex)) {
        let groups = -1;
        try {
          new RegExp(rw.regex);
          groups = captureGroupCount(rw.regex);
        } catch (e) {
          p.add([...base, 'proxy', 'rewrite', 'regex'], (e as Error).message);
        }
        if (groups >= 0 && isStr(rw.substitution)) {
          const used = parseSubstitution(rw.substitution).filter((x): x is number => typeof x === 'number');
          const over = used.find((n) => n > groups);
          if (over !== undefined) {
            p.add([...base, 'proxy', 'rewrite', 'substitution'], `\\${over} refers to a capture group the regex does not have (it has ${groups})`);
          }
        }
      }
    }
    for (const side of ['request_headers', 'response_headers'] as const) {
      const edit = px[side];
      if (edit === null || typeof edit !== 'object') continue;
      checkHeaderMap(p, edit.add, [...base, 'proxy', side, 'add']);
      checkHeaderNames(p, edit.remove, [...base, 'proxy', side, 'remove']);
    }
  });
}

/** Bypass listeners own a link: the tap block goes with transport tap, and the address is the stack's. */
function checkBypass(p: Problems, cfg: ConfigInput): void {
  const devices = new Map<string, { address: string; index: number }>();
  (cfg.listeners ?? []).forEach((l, i) => {
    if (l === null || typeof l !== 'object') return;
    const base: PathSegment[] = ['listeners', i];
    const transport = l.transport ?? 'kernel';
    if (transport === 'tap' && l.tap === undefined) p.add([...base, 'transport'], "transport 'tap' needs a 'tap' block (device, prefix_length, mtu)");
    if (transport !== 'tap' && l.tap !== undefined) p.add([...base, 'tap'], `a 'tap' block only applies to transport 'tap' (this listener uses '${transport}')`, true);
    if (transport === 'dpdk' && l.dpdk === undefined) p.add([...base, 'transport'], "transport 'dpdk' needs a 'dpdk' block (device, prefix_length, mtu)");
    if (transport !== 'dpdk' && l.dpdk !== undefined) p.add([...base, 'dpdk'], `a 'dpdk' block only applies to transport 'dpdk' (this listener uses '${transport}')`, true);
    if (transport === 'dpdk' && cfg.dpdk === undefined) {
      p.add([...base, 'transport'], "transport 'dpdk' needs the top-level 'dpdk' section with eal_args (the EAL starts once per process)");
    }
    const dp = l.dpdk;
    if (transport === 'dpdk' && dp !== null && typeof dp === 'object') {
      const rx = dp.rx_queue_size ?? 1024;
      const tx = dp.tx_queue_size ?? 1024;
      const pool = dp.mempool_size ?? 4095;
      // Same bound as the native port: both rings, one 64-frame burst and the 64-mbuf cache.
      if (typeof rx === 'number' && typeof tx === 'number' && typeof pool === 'number' && pool < rx + tx + 128) {
        p.add(dp.mempool_size === undefined ? [...base, 'dpdk'] : [...base, 'dpdk', 'mempool_size'], `mempool_size ${pool} cannot fill the rings: rx_queue_size ${rx} + tx_queue_size ${tx} + 128 need at least ${rx + tx + 128} mbufs`);
      }
    }
    if (transport === 'kernel' && l.filter !== undefined) {
      p.add([...base, 'filter'], "the packet filter runs in the bypass stack; on transport 'kernel' use the host firewall", true);
    }
    if ((transport === 'tap' || transport === 'dpdk') && isStr(l.address)) {
      if (isIP(l.address) !== 4 || l.address === '0.0.0.0') {
        p.add([...base, 'address'], `a ${transport} listener's address is the stack's own IPv4 address (e.g. 198.18.0.2), got '${l.address}'`);
      }
      const dev = transport === 'dpdk' ? `dpdk:${isStr(l.dpdk?.device) ? l.dpdk.device.split(',')[0] : ''}` : isStr(l.tap?.device) ? l.tap.device : 'sluice%d';
      const prev = devices.get(dev);
      if (prev !== undefined && prev.address !== l.address) {
        p.add([...base, 'address'], `device '${dev}' is already used by listeners[${prev.index}] with address ${prev.address}; one device has one stack address`);
      } else if (prev === undefined) devices.set(dev, { address: l.address, index: i });
    }
    const f = l.filter;
    if (f !== null && typeof f === 'object' && isStr(f.xdp?.interface) && f.xdp.interface === l.tap?.device) {
      p.add([...base, 'filter', 'xdp', 'interface'], `XDP on the TAP device '${f.xdp.interface}' itself never sees client traffic (frames to Sluice leave the kernel through the TAP, and XDP hooks ingress only); name the interface client traffic enters by (docs/xdp.md)`);
    }
    if (f !== null && typeof f === 'object' && typeof f.syn_rate_per_source === 'number' && f.syn_rate_per_source > 0 && !((f.syn_burst_per_source ?? 0) >= 1)) {
      p.add([...base, 'filter', 'syn_rate_per_source'], 'a SYN rate limit needs syn_burst_per_source >= 1 (how many SYNs a source may send at once)');
    }
    if (f !== null && typeof f === 'object') {
      for (const kind of ['allow', 'deny'] as const) {
        (Array.isArray(f[kind]) ? f[kind] : []).forEach((cidr, ci) => {
          if (!isStr(cidr)) return;
          try {
            parseCidr(cidr, `listeners[${i}].filter.${kind}[${ci}]`);
          } catch (e) {
            p.add([...base, 'filter', kind, ci], (e as Error).message.replace(/^.*?: /, ''));
          }
        });
      }
    }
  });
}

function checkClusters(p: Problems, cfg: ConfigInput): void {
  (cfg.clusters ?? []).forEach((c, ci) => {
    const seen = new Map<string, number>();
    (Array.isArray(c?.endpoints) ? c.endpoints : []).forEach((e, i) => {
      if (!isStr(e) || e === '') return; // the schema already reports non-strings and ''
      const parsed = parseEndpoint(e);
      if ('error' in parsed) p.add(['clusters', ci, 'endpoints', i], `invalid endpoint: ${parsed.error}`);
      const prev = seen.get(e);
      if (prev !== undefined) p.add(['clusters', ci, 'endpoints', i], `duplicate endpoint '${e}' (same as endpoints[${prev}])`);
      else seen.set(e, i);
    });
  });
}

// ---------------------------------------------------------------------------------------------

function byPosition(a: ConfigProblem, b: ConfigProblem): number {
  return a.line - b.line || a.column - b.column;
}

/**
 * Validates config text and builds its snapshot. `file` names the source in problems and is
 * the base for relative paths (certificates, admin socket); it need not exist.
 */
export async function parseConfigText(text: string, file: string, opts: LoadOptions = {}): Promise<LoadResult> {
  const lines = new LineIndex(text);
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const locator = new Locator(doc, lines);
  const problems = new Problems(file, locator);

  if (doc.errors.length > 0) {
    // One syntax error often cascades into many on the same line; the first says what is wrong.
    const seenLines = new Set<number>();
    for (const e of doc.errors) {
      let where = locator.pos(e.pos[0]);
      let path = locator.pathAt(e.pos[0]);
      if (e.code === 'MISSING_CHAR' && e.pos[0] > 0) {
        // An unclosed quote or bracket is found at the end of the text; point at what it opened.
        const opened = locator.pathAt(e.pos[0] - 1);
        if (opened.length > 0) {
          path = opened;
          where = locator.at(opened);
        }
      }
      if (seenLines.has(where.line)) continue;
      seenLines.add(where.line);
      problems.list.push({ file, line: where.line, column: where.column, path: formatPath(path), message: `YAML: ${e.message}` });
    }
    return { ok: false, problems: problems.list.sort(byPosition) };
  }
  if (doc.contents === null) {
    return { ok: false, problems: [{ file, line: 0, column: 0, path: '', message: 'config is empty' }] };
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    return { ok: false, problems: [{ file, line: 1, column: 1, path: '', message: `YAML: ${(e as Error).message}` }] };
  }

  const validate = getValidator();
  const schemaOk = validate(data) === true;
  if (!schemaOk) {
    for (const err of validate.errors ?? []) {
      const f = findingOf(err);
      if (f !== null) problems.add(f.path, f.message, f.onKey);
    }
  }

  // Semantic checks also run on a file with schema errors, so one pass reports everything. The
  // checks guard the shapes they read; should one still trip over malformed data, its findings
  // are dropped (the schema errors already point there), but on a schema-valid file it is a bug.
  const cfg = (data !== null && typeof data === 'object' ? data : {}) as ConfigInput;
  const baseDir = dirname(resolve(file));
  const guarded = async (check: () => void | Promise<void>): Promise<void> => {
    try {
      await check();
    } catch (e) {
      if (schemaOk) throw e;
    }
  };
  await guarded(() => checkUniqueNames(problems, cfg.listeners, 'listener', 'listeners'));
  await guarded(() => checkUniqueNames(problems, cfg.routes, 'route', 'routes'));
  await guarded(() => checkUniqueNames(problems, cfg.clusters, 'cluster', 'clusters'));
  await guarded(() => checkAddresses(problems, cfg));
  await guarded(() => checkRoutes(problems, cfg));
  await guarded(() => checkClusters(problems, cfg));
  await guarded(() => checkBypass(problems, cfg));
  await guarded(() => checkTls(problems, cfg, baseDir));

  if (problems.list.length > 0) {
    // Stable order: by position, then as found.
    return { ok: false, problems: problems.list.map((p, i) => ({ p, i })).sort((a, b) => byPosition(a.p, b.p) || a.i - b.i).map((x) => x.p) };
  }
  const snapshot = buildSnapshot(data as ResolvedConfig, {
    source: file,
    version: opts.version ?? 1,
    loadedAt: (opts.now ?? Date.now)(),
  });
  return { ok: true, snapshot };
}

/** Reads, validates and compiles a config file. Never throws for a bad file: see `problems`. */
export async function loadConfig(file: string, opts: LoadOptions = {}): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return { ok: false, problems: [{ file, line: 0, column: 0, path: '', message: `cannot read config: ${errnoText(e)}` }] };
  }
  return parseConfigText(text, file, opts);
}
