// Syntax checks for addresses, hosts and endpoints, shared by the schema validator (the 'host'
// format) and the semantic checks, so each rule is written once and errors say what is wrong.

import { isIP } from 'node:net';

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** RFC 1123 2.1 host name: dot-separated labels of letters, digits and inner hyphens. */
export function isHostname(s: string): boolean {
  const name = s.endsWith('.') ? s.slice(0, -1) : s;
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((l) => LABEL.test(l));
}

/** The schema's 'host' format: an IP literal (IPv6 without brackets) or a host name. */
export function isHostAddress(s: string): boolean {
  return isIP(s) !== 0 || isHostname(s);
}

export interface Endpoint {
  /** Host name or IP literal, IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
}

/** Parses 'host:port', '[v6]:port'; returns the endpoint or a sentence saying what is wrong. */
export function parseEndpoint(s: string): Endpoint | { error: string } {
  let host: string;
  let portText: string;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) return { error: `missing ']' after the IPv6 address in '${s}'` };
    host = s.slice(1, close);
    if (isIP(host) !== 6) return { error: `'${host}' is not an IPv6 address` };
    if (s[close + 1] !== ':') return { error: `expected ':port' after ']' in '${s}'` };
    portText = s.slice(close + 2);
  } else {
    const colon = s.lastIndexOf(':');
    if (colon < 0) return { error: `expected host:port, got '${s}' (missing port)` };
    host = s.slice(0, colon);
    if (host.includes(':')) return { error: `IPv6 addresses need brackets: '[${host}]:${s.slice(colon + 1)}'` };
    portText = s.slice(colon + 1);
    if (host === '') return { error: `missing host before ':' in '${s}'` };
    if (isIP(host) === 0 && !isHostname(host)) return { error: `'${host}' is not an IPv4 address or host name` };
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return { error: `port '${portText}' is not a number 1..65535` };
  const port = Number(portText);
  if (port < 1 || port > 65535) return { error: `port ${port} is outside 1..65535` };
  return { host, port };
}

/**
 * A route host: a host name, '*.' + host name (one or more labels), an IPv4 literal or a
 * bracketed IPv6 literal. Returns null when valid, else what is wrong.
 */
export function routeHostProblem(s: string): string | null {
  if (s.startsWith('[')) {
    if (s.endsWith(']') && isIP(s.slice(1, -1)) === 6) return null;
    return `'${s}' is not a bracketed IPv6 address; routes match hosts without the port`;
  }
  if (isIP(s) === 6) return `IPv6 hosts need brackets: '[${s}]'`;
  const colon = s.indexOf(':');
  if (colon >= 0) return `routes match hosts without the port: use '${s.slice(0, colon)}'`;
  if (s.startsWith('*.')) {
    if (isHostname(s.slice(2))) return null;
    return `'${s}' is not a valid wildcard host ('*.' followed by a host name)`;
  }
  if (s.includes('*')) return `'${s}': '*' is only allowed as the first label ('*.example.com')`;
  if (isIP(s) === 4 || isHostname(s)) return null;
  return `'${s}' is not a valid host name`;
}
