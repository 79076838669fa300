// Header rules of the proxy phase, as pure functions over HeaderLists (tested alone):
// - hop-by-hop fields never cross Sluice, in either direction (RFC 9110 7.6.1);
// - the upstream learns who asked: X-Forwarded-For/-Proto/-Host, Forwarded (RFC 7239),
//   Via (RFC 9110 7.6.3) and x-request-id;
// - the route's header edits apply last, so an operator can remove what Sluice added.

import type { HeaderList, RequestHead } from '../http/exchange.js';
import type { HeaderEdit } from './routes.js';

/**
 * RFC 9110 7.6.1 connection-specific fields, plus Proxy-Connection (a pre-standard name still
 * sent by some clients) and the proxy authentication pair, which concern this hop only.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);

// Fields Sluice sets itself on the upstream request: incoming copies are folded into ours (the
// lists) or replaced (the rest). 'expect' is answered by the codec (100-continue on first body
// read), so the upstream never sees it (undici refuses to send it anyway).
const REQUEST_MANAGED: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'expect',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'forwarded',
  'via',
  'x-request-id',
]);

// Framing belongs to the codec and to undici: a route edit never touches these.
const FRAMING: ReadonlySet<string> = new Set(['host', 'content-length', 'expect']);

export interface ForwardingContext {
  readonly requestId: string;
  readonly clientAddress: string;
  readonly listenerProto: 'http' | 'https';
}

const NOTHING_LISTED: ReadonlySet<string> = new Set();

/** Lowercased field names listed in every Connection header (RFC 9110 7.6.1). */
export function connectionListed(headers: HeaderList): ReadonlySet<string> {
  let out: Set<string> | null = null;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] !== 'connection') continue;
    out ??= new Set<string>();
    for (const token of headers[i + 1].split(',')) {
      const t = token.trim().toLowerCase();
      if (t !== '') out.add(t);
    }
  }
  // Most requests carry no Connection field: no Set is made for them (per-request garbage).
  return out ?? NOTHING_LISTED;
}

/** Drop hop-by-hop fields and every field the Connection header names. */
export function stripHopByHop(headers: HeaderList): HeaderList {
  const listed = connectionListed(headers);
  const out: HeaderList = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    if (HOP_BY_HOP.has(name) || listed.has(name)) continue;
    out.push(name, headers[i + 1]);
  }
  return out;
}

/** An IPv4-mapped IPv6 address (::ffff:192.0.2.1, how dual-stack sockets report IPv4) as IPv4. */
export function plainAddress(address: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return m ? m[1] : address;
}

// The client address and authority repeat for every request of a connection (and usually across
// connections): the last answers are kept so a keep-alive request does not run the regexes and
// build the same strings again.
let lastClient = '';
let lastPlainClient = '';
let lastFwdClient = '';
let lastFwdProto = '';
let lastFwdHost = '';
let lastForwarded = '';

function plainClient(address: string): string {
  if (address !== lastClient) {
    lastPlainClient = plainAddress(address);
    lastClient = address;
  }
  return lastPlainClient;
}

function thisHopForwarded(clientAddress: string, proto: string, host: string): string {
  if (lastForwarded === '' || clientAddress !== lastFwdClient || proto !== lastFwdProto || host !== lastFwdHost) {
    lastForwarded = forwardedElement(clientAddress, proto, host);
    lastFwdClient = clientAddress;
    lastFwdProto = proto;
    lastFwdHost = host;
  }
  return lastForwarded;
}

// RFC 9110 5.6.2 tchar.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** RFC 7239 4: a value is a token or a quoted-string (RFC 9110 5.6.4 escaping). */
export function forwardedValue(value: string): string {
  if (TOKEN.test(value)) return value;
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** RFC 7239 6: an IPv6 node is bracketed (and so quoted); unknown when there is no address. */
export function forwardedNode(address: string): string {
  if (address === '') return 'unknown';
  const a = plainAddress(address);
  return forwardedValue(a.includes(':') ? `[${a}]` : a);
}

/** One Forwarded element for this hop: for=...;proto=...;host=... (RFC 7239 4, 5.2-5.4). */
export function forwardedElement(clientAddress: string, proto: string, host: string): string {
  let element = `for=${forwardedNode(clientAddress)};proto=${proto}`;
  if (host !== '') element += `;host=${forwardedValue(host)}`;
  return element;
}

/** Appends a received list value (trimmed; empty ones dropped) to a comma-separated list. */
function addListValue(list: string, value: string): string {
  const v = value.trim();
  if (v === '') return list;
  return list === '' ? v : `${list}, ${v}`;
}

function joinList(existing: string, added: string): string {
  return existing !== '' ? `${existing}, ${added}` : added;
}

const VIA_RECEIVED: Readonly<Record<string, string>> = { '1.1': '1.1 sluice', '1.0': '1.0 sluice' };

function applyEdit(headers: HeaderList, edit: HeaderEdit, protect: ReadonlySet<string>): HeaderList {
  let out = headers;
  if (edit.remove.size > 0) {
    out = [];
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      if (edit.remove.has(name) && !protect.has(name)) continue;
      out.push(name, headers[i + 1]);
    }
  }
  for (let i = 0; i < edit.add.length; i += 2) {
    const name = edit.add[i];
    if (HOP_BY_HOP.has(name) || protect.has(name)) continue;
    out.push(name, edit.add[i + 1]);
  }
  return out;
}

/**
 * The header list sent upstream. Host is the client's original authority (name-based virtual
 * hosting at the upstream keeps working, and redirects it builds point back at Sluice); when the
 * client sent none (HTTP/1.0 without Host) undici writes the endpoint's host:port.
 */
export function upstreamRequestHeaders(head: RequestHead, edit: HeaderEdit, ctx: ForwardingContext): HeaderList {
  const listed = connectionListed(head.headers);
  let xff = '';
  let forwarded = '';
  let via = '';
  const out: HeaderList = [];
  if (head.authority !== '') out.push('host', head.authority);
  const h = head.headers;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i];
    if (HOP_BY_HOP.has(name) || listed.has(name)) continue;
    if (REQUEST_MANAGED.has(name)) {
      if (name === 'x-forwarded-for') xff = addListValue(xff, h[i + 1]);
      else if (name === 'forwarded') forwarded = addListValue(forwarded, h[i + 1]);
      else if (name === 'via') via = addListValue(via, h[i + 1]);
      continue;
    }
    out.push(name, h[i + 1]);
  }
  if (head.hasBody && head.contentLength >= 0) out.push('content-length', String(head.contentLength));
  const client = plainClient(ctx.clientAddress);
  out.push(
    'x-forwarded-for', joinList(xff, client),
    'x-forwarded-proto', ctx.listenerProto,
    'x-forwarded-host', head.authority,
    'forwarded', joinList(forwarded, thisHopForwarded(ctx.clientAddress, ctx.listenerProto, head.authority)),
    // RFC 9110 7.6.3: received-protocol is the version of the request Sluice received.
    'via', joinList(via, VIA_RECEIVED[head.version] ?? `${head.version} sluice`),
    'x-request-id', ctx.requestId,
  );
  if (head.authority === '') {
    // No authority to name: drop the empty X-Forwarded-Host rather than send an empty value.
    const i = out.indexOf('x-forwarded-host');
    out.splice(i, 2);
  }
  return applyEdit(out, edit, FRAMING);
}

export interface DownstreamHead {
  readonly headers: HeaderList;
  /** Content-Length the upstream declared, or -1 to stream (chunked or close-delimited). */
  readonly contentLength: number;
}

/**
 * The response header list sent to the client. Content-Length and Transfer-Encoding leave the list:
 * the codec frames the body itself from contentLength (kept when the upstream gave it, -1 when
 * the upstream streamed, in which case undici already decoded its chunking).
 */
export function downstreamResponseHeaders(headers: HeaderList, edit: HeaderEdit, requestId = ''): DownstreamHead {
  const listed = connectionListed(headers);
  let hasRequestId = false;
  let via = '';
  const out: HeaderList = [];
  let contentLength = -1;
  let chunked = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    if (name === 'transfer-encoding') chunked = true;
    if (HOP_BY_HOP.has(name) || listed.has(name)) continue;
    if (name === 'content-length') {
      // undici's parser already rejected conflicting lengths; keep the (single) value.
      const v = headers[i + 1].trim();
      if (/^[0-9]{1,15}$/.test(v)) contentLength = Number(v);
      continue;
    }
    if (name === 'via') {
      via = addListValue(via, headers[i + 1]);
      continue;
    }
    if (name === 'x-request-id') hasRequestId = true;
    out.push(name, headers[i + 1]);
  }
  // The client gets the id its access log line and any error body carry, unless the upstream
  // answered with its own.
  if (requestId !== '' && !hasRequestId) out.push('x-request-id', requestId);
  // RFC 9112 6.3 (3): Transfer-Encoding overrides Content-Length.
  if (chunked) contentLength = -1;
  // Upstream responses arrive over undici's HTTP/1.1 client.
  out.push('via', joinList(via, '1.1 sluice'));
  return { headers: applyEdit(out, edit, FRAMING), contentLength };
}
