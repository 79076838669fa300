// Incremental HTTP/1.x request parser (RFC 9112, with RFC 9110 field rules). One explicit state
// machine over bytes: execute() takes any split of the stream, keeps no reference to the input
// after it returns (partial tokens are carried as strings, built only at chunk boundaries), checks
// every limit on the byte that crosses it, and reports each violation as one SluiceError whose
// detail names the rule and the absolute stream offset of the offending byte.
//
// Strict by default; there are no leniency flags yet. Choices where the RFCs allow either:
// - repeated Content-Length, even with identical values, is rejected (RFC 9110 8.6 allows merging
//   identical values; rejecting removes one more way for two parsers to disagree);
// - Transfer-Encoding in an HTTP/1.0 request is rejected (RFC 9112 6.1 says such framing is faulty);
// - a transfer coding other than a single final `chunked` is 501 (we decode none), chunked not
//   final is 400 (RFC 9112 6.3 (4));
// - Host disagreeing with an absolute-form target is rejected, not just ignored (RFC 9112 3.2.2
//   lets the target win; two different authorities in one request is how routing gets confused);
// - only HTTP/1.0 and HTTP/1.1 are served; any other well-formed version is 505;
// - CONNECT (authority-form) is 501: the session does not tunnel;
// - request-target bytes must be visible ASCII (0x21-0x7E); field values allow SP, HTAB, VCHAR and
//   obs-text; every other control byte is an error.

import { SluiceError, type ErrorCode } from '../errors.js';
import type { HeaderList, RequestHead } from '../http/exchange.js';

/** The parse result for one request head: the contract's RequestHead plus codec facts. */
export interface ParsedRequestHead extends RequestHead {
  /** Persist the connection after this exchange (1.1 default on, `Connection: close` off; 1.0 needs keep-alive). */
  readonly keepAlive: boolean;
  /** Bytes of the request line and field section, including the final CRLF. */
  readonly headBytes: number;
}

export interface ParserCallbacks {
  onHead(head: ParsedRequestHead): void;
  /** A view into the buffer given to execute(); valid only during the call. */
  onBody(chunk: Buffer): void;
  /** Trailer fields of a chunked body (only called when at least one was sent). */
  onTrailers(trailers: HeaderList): void;
  onMessageComplete(): void;
  onError(err: SluiceError): void;
}

export interface ParserLimits {
  scheme: 'http' | 'https';
  /** Bytes of the request line including its CRLF (and any empty lines before it); over -> 414. */
  maxRequestLineBytes: number;
  /** Bytes of the field section (or trailer section) including the final CRLF; over -> 431. */
  maxHeaderBytes: number;
  /** Field lines in the header (or trailer) section; over -> 431. */
  maxHeaderCount: number;
  /** Body content bytes; Content-Length over it is refused at the head, chunked when a chunk would cross it -> 413. */
  maxBodyBytes: number;
  /** Bytes of extensions on one chunk line; over -> 400 (bounds the work a chunk line can cost). */
  maxChunkExtBytes: number;
}

export const DEFAULT_PARSER_LIMITS: ParserLimits = {
  scheme: 'http',
  maxRequestLineBytes: 8192,
  maxHeaderBytes: 16384,
  maxHeaderCount: 100,
  maxBodyBytes: 1024 * 1024 * 1024,
  maxChunkExtBytes: 4096,
};

// States. Numbered so that "in a head" is a range check.
const S_START = 0; // before a request line; empty lines (CRLF) are skipped (RFC 9112 2.2)
const S_START_LF = 1;
const S_METHOD = 2;
const S_TARGET = 3;
const S_VERSION = 4;
const S_RL_LF = 5;
const S_FIELD_START = 6;
const S_FIELD_NAME = 7;
const S_FIELD_OWS = 8;
const S_FIELD_VALUE = 9;
const S_FIELD_LF = 10;
const S_SECTION_END_LF = 11;
const S_BODY_LENGTH = 12;
const S_CHUNK_SIZE = 13;
const S_CHUNK_BWS = 14; // whitespace after size or ext value: only more BWS or ';'
const S_CHUNK_EXT_NAME_START = 15;
const S_CHUNK_EXT_NAME = 16;
const S_CHUNK_EXT_AFTER_NAME = 17;
const S_CHUNK_EXT_VAL_START = 18;
const S_CHUNK_EXT_VAL_TOKEN = 19;
const S_CHUNK_EXT_QUOTED = 20;
const S_CHUNK_EXT_QPAIR = 21;
const S_CHUNK_EXT_AFTER_QUOTED = 22;
const S_CHUNK_SIZE_LF = 23;
const S_CHUNK_DATA = 24;
const S_CHUNK_DATA_CR = 25;
const S_CHUNK_DATA_LF = 26;
const S_DEAD = 27;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;

// tchar (RFC 9110 5.6.2): 1 = valid, 2 = valid upper-case letter (name needs lowering).
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 2;
// request-target bytes: visible ASCII only.
const TARGET = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1;
// field-value bytes (RFC 9110 5.5): field-vchar and inner SP / HTAB.
const FVALUE = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) FVALUE[c] = 1;
for (let c = 0x80; c <= 0xff; c++) FVALUE[c] = 1;
FVALUE[SP] = 1;
FVALUE[HTAB] = 1;
// qdtext (RFC 9110 5.6.4): HTAB, SP, 0x21, 0x23-0x5B, 0x5D-0x7E, obs-text.
const QDTEXT = new Uint8Array(256);
QDTEXT[HTAB] = 1;
QDTEXT[SP] = 1;
QDTEXT[0x21] = 1;
for (let c = 0x23; c <= 0x5b; c++) QDTEXT[c] = 1;
for (let c = 0x5d; c <= 0x7e; c++) QDTEXT[c] = 1;
for (let c = 0x80; c <= 0xff; c++) QDTEXT[c] = 1;
const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[0x41 + c] = 10 + c;
  HEX[0x61 + c] = 10 + c;
}
const VERSION_PREFIX = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

// Field names browsers and API clients send on nearly every request. Matching them in the buffer
// (case-insensitively) returns an interned lower-case string instead of slicing and lowering a new
// one per field: the difference between 0.35x and parity with llhttp on browser-like requests
// (bench/http1-parse.ts).
const KNOWN_NAMES = [
  'host', 'connection', 'keep-alive', 'user-agent', 'accept', 'accept-encoding', 'accept-language',
  'accept-charset', 'cache-control', 'pragma', 'cookie', 'content-type', 'content-length',
  'transfer-encoding', 'expect', 'te', 'trailer', 'upgrade', 'upgrade-insecure-requests', 'referer',
  'origin', 'authorization', 'if-none-match', 'if-modified-since', 'if-match', 'range', 'dnt',
  'priority', 'sec-fetch-site', 'sec-fetch-mode', 'sec-fetch-user', 'sec-fetch-dest', 'sec-ch-ua',
  'sec-ch-ua-mobile', 'sec-ch-ua-platform', 'x-forwarded-for', 'x-forwarded-proto',
  'x-forwarded-host', 'x-real-ip', 'x-request-id', 'forwarded', 'via', 'date', 'content-encoding',
];
// Open-addressed by a hash of the lower-cased name, computed in the name scan at no extra pass:
// a lookup then verifies one candidate instead of walking names that share a prefix.
const KNOWN_SLOTS = 256;
const KNOWN_TABLE: Array<{ name: string; bytes: Uint8Array } | undefined> = new Array(KNOWN_SLOTS);
function nameHash(h: number, c: number): number {
  return (Math.imul(h, 31) + c) | 0;
}
for (const name of KNOWN_NAMES) {
  let h = 0;
  for (let k = 0; k < name.length; k++) h = nameHash(h, name.charCodeAt(k));
  let slot = h & (KNOWN_SLOTS - 1);
  while (KNOWN_TABLE[slot] !== undefined) slot = (slot + 1) & (KNOWN_SLOTS - 1);
  KNOWN_TABLE[slot] = { name, bytes: Buffer.from(name, 'latin1') };
}

/**
 * The interned lower-case name if buf[start..end) is a known field name (any case), else ''.
 * `h` is nameHash folded over the lower-cased bytes from 0.
 */
function knownName(buf: Buffer, start: number, end: number, h: number): string {
  const n = end - start;
  let slot = h & (KNOWN_SLOTS - 1);
  for (;;) {
    const e = KNOWN_TABLE[slot];
    if (e === undefined) return '';
    const b = e.bytes;
    if (b.length === n) {
      // | 0x20 lowers A-Z; on the other tchars it cannot produce a letter, '-' or a digit that was not there
      let j = 0;
      while (j < n && (buf[start + j] | 0x20) === b[j]) j++;
      if (j === n) return e.name;
    }
    slot = (slot + 1) & (KNOWN_SLOTS - 1);
  }
}

const KNOWN_METHODS = ['GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'PATCH', 'OPTIONS'].map((m) => ({ name: m, bytes: Buffer.from(m + ' ', 'latin1') }));

/** A common method followed by SP at buf[i], as an interned string, else ''. Case-sensitive (RFC 9110 9.1). */
function knownMethod(buf: Buffer, i: number, len: number): string {
  const c = buf[i];
  for (let k = 0; k < KNOWN_METHODS.length; k++) {
    const b = KNOWN_METHODS[k].bytes;
    if (b[0] !== c || i + b.length > len) continue;
    let j = 1;
    while (j < b.length && buf[i + j] === b[j]) j++;
    if (j === b.length) return KNOWN_METHODS[k].name;
  }
  return '';
}

// Buffer#latin1Slice is the fastest bytes->string path in Node (no encoding lookup); it exists on
// every Buffer but is not in @types/node.
interface Latin1Buffer {
  latin1Slice(start: number, end: number): string;
}
function slice(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as Latin1Buffer).latin1Slice(start, end);
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
// 16 hex digits: enough for any size below 2^53 with a few leading zeros, and a bound on the work.
const MAX_CHUNK_SIZE_DIGITS = 16;

export class Http1Parser {
  private readonly cb: ParserCallbacks;
  private readonly lim: ParserLimits;

  private state = S_START;
  private paused = false;
  /** Absolute stream offset of buf[0] in the current execute(). */
  private base = 0;
  private messageStart = 0;

  // Carried between executes: the unfinished token and the section counters.
  private partial = '';
  private partialUpper = false;
  private rlBytes = 0;
  private sectionBytes = 0;
  private fieldCount = 0;
  private versionIndex = 0;
  private versionMajor = 0;
  private versionMinor = 0;
  private inTrailers = false;

  // The message being parsed.
  private method = '';
  private target = '';
  private fieldName = '';
  private headers: HeaderList = [];
  private trailers: HeaderList = [];
  private hostCount = 0;
  private host = '';
  private clCount = 0;
  private contentLength = -1;
  private teSeen = false;
  private teChunkedCount = 0;
  private teLastChunked = false;
  private teOther = '';
  private connClose = false;
  private connKeepAlive = false;
  private expect100 = false;

  // Body framing.
  private remaining = 0;
  private bodyBytes = 0;
  private chunkDigits = 0;
  private chunkExtBytes = 0;
  private bodyState = S_START;
  /** The current head decoded once, and where it lies in the buffer of this execute() (hsEnd -1: none). */
  private hs = '';
  private hsStart = 0;
  private hsEnd = -1;
  /** Last Host value that passed validation: a keep-alive connection repeats it on every request. */
  private lastValidHost = '\u0000';

  /** Raw bytes (head + framing + body) of the last completed message. */
  lastMessageBytes = 0;

  constructor(callbacks: ParserCallbacks, limits: Partial<ParserLimits> = {}) {
    this.cb = callbacks;
    this.lim = { ...DEFAULT_PARSER_LIMITS, ...limits };
  }

  /** Stop at the next event boundary; execute() returns how many bytes it consumed. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Between messages with nothing partial: a close here loses no request. */
  get idle(): boolean {
    return this.state === S_START;
  }

  /** Some bytes of a request head (not trailers) have arrived but the head is not complete. */
  get inHead(): boolean {
    return this.state > S_START && this.state <= S_SECTION_END_LF && !this.inTrailers;
  }

  /** The head was delivered and body bytes (or trailers) are still expected. */
  get inBody(): boolean {
    return this.state >= S_BODY_LENGTH && this.state < S_DEAD || (this.inTrailers && this.state !== S_DEAD);
  }

  get failed(): boolean {
    return this.state === S_DEAD;
  }

  /** Absolute offset of the next byte to parse. */
  get offset(): number {
    return this.base;
  }

  /**
   * Parse bytes. Returns how many were consumed: all of them, unless pause() was called from a
   * callback (the rest belongs to the next message) or an error was reported (returns the error's
   * position; the parser is dead afterwards and consumes nothing more).
   */
  execute(buf: Buffer): number {
    const len = buf.length;
    let i = 0;
    let state = this.state;
    if (state === S_DEAD || this.paused) return 0;
    const lim = this.lim;

    this.hsEnd = -1; // indexes into the previous buffer mean nothing now
    while (i < len) {
      switch (state) {
        case S_START: {
          const c = buf[i];
          if (c === CR) {
            if (++this.rlBytes > lim.maxRequestLineBytes) return this.fail414(i);
            state = S_START_LF;
            i++;
            break;
          }
          if (c === LF) return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'bare LF before the request line', 'RFC 9112 2.2: a line ends with CRLF', i);
          this.messageStart = this.base + i - this.rlBytes;
          // When the whole head is in this chunk, decode it once and cut every token from that
          // string: JS string slices stay in the JIT, a Buffer decode per token is a C++ call each
          // (about half the parse time on browser-like heads, bench/http1-parse.ts).
          const end = buf.indexOf(HEAD_END, i);
          if (end >= 0 && end - i < lim.maxRequestLineBytes + lim.maxHeaderBytes) {
            this.hs = slice(buf, i, end + 4);
            this.hsStart = i;
            this.hsEnd = end + 4;
          } else this.hsEnd = -1;
          state = S_METHOD;
          break;
        }
        case S_START_LF: {
          if (buf[i] !== LF) return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'bare CR before the request line', 'RFC 9112 2.2: bare CR is invalid', i);
          if (++this.rlBytes > lim.maxRequestLineBytes) return this.fail414(i);
          i++;
          state = S_START;
          break;
        }
        case S_METHOD: {
          if (this.partial.length === 0) {
            const m = knownMethod(buf, i, len);
            if (m && this.rlBytes + m.length + 1 <= lim.maxRequestLineBytes) {
              this.method = m;
              this.rlBytes += m.length + 1;
              i += m.length + 1;
              state = S_TARGET;
              break;
            }
          }
          const start = i;
          const stop = Math.min(len, i + (lim.maxRequestLineBytes - this.rlBytes));
          while (i < stop && TOKEN[buf[i]] !== 0) i++;
          this.rlBytes += i - start;
          if (i === stop) {
            if (i < len) return this.fail414(i);
            this.partial += slice(buf, start, i);
            break;
          }
          if (buf[i] !== SP) {
            return this.failAt('SLUICE_HTTP_BAD_REQUEST', `invalid byte 0x${hex2(buf[i])} in method`, 'RFC 9112 3.1: method is a token (upper case as sent) followed by SP', i);
          }
          const m = this.partial.length ? this.partial + slice(buf, start, i) : this.str(buf, start, i);
          this.partial = '';
          if (m.length === 0) return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'empty method', 'RFC 9112 3: request-line = method SP request-target SP HTTP-version', i);
          this.method = m;
          if (++this.rlBytes > lim.maxRequestLineBytes) return this.fail414(i);
          i++;
          state = S_TARGET;
          break;
        }
        case S_TARGET: {
          const start = i;
          const stop = Math.min(len, i + (lim.maxRequestLineBytes - this.rlBytes));
          while (i < stop && TARGET[buf[i]] === 1) i++;
          this.rlBytes += i - start;
          if (i === stop) {
            if (i < len) return this.fail414(i);
            this.partial += slice(buf, start, i);
            break;
          }
          if (buf[i] !== SP) {
            return this.failAt('SLUICE_HTTP_BAD_REQUEST', `invalid byte 0x${hex2(buf[i])} in request-target`, 'RFC 9112 3.2: request-target is visible ASCII (no CTL, NUL, SP or non-ASCII)', i);
          }
          const t = this.partial.length ? this.partial + slice(buf, start, i) : this.str(buf, start, i);
          this.partial = '';
          if (t.length === 0) return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'empty request-target', 'RFC 9112 3: request-line = method SP request-target SP HTTP-version', i);
          this.target = t;
          if (++this.rlBytes > lim.maxRequestLineBytes) return this.fail414(i);
          i++;
          this.versionIndex = 0;
          state = S_VERSION;
          break;
        }
        case S_VERSION: {
          // Fast path: the whole "HTTP/1.x" CRLF is in this chunk and within the limit.
          if (this.versionIndex === 0 && i + 10 <= len && this.rlBytes + 10 <= lim.maxRequestLineBytes &&
              buf[i] === 0x48 && buf[i + 1] === 0x54 && buf[i + 2] === 0x54 && buf[i + 3] === 0x50 &&
              buf[i + 4] === 0x2f && buf[i + 5] === 0x31 && buf[i + 6] === 0x2e &&
              (buf[i + 7] === 0x31 || buf[i + 7] === 0x30) && buf[i + 8] === CR && buf[i + 9] === LF) {
            this.versionMajor = 1;
            this.versionMinor = buf[i + 7] - 0x30;
            this.rlBytes += 10;
            i += 10;
            this.beginSection();
            state = S_FIELD_START;
            break;
          }
          const c = buf[i];
          if (++this.rlBytes > lim.maxRequestLineBytes) return this.fail414(i);
          const vi = this.versionIndex;
          if (vi < 5) {
            if (c !== VERSION_PREFIX[vi]) return this.failVersion(i);
          } else if (vi === 5) {
            if (c < 0x30 || c > 0x39) return this.failVersion(i);
            this.versionMajor = c - 0x30;
          } else if (vi === 6) {
            if (c !== 0x2e) return this.failVersion(i);
          } else if (vi === 7) {
            if (c < 0x30 || c > 0x39) return this.failVersion(i);
            this.versionMinor = c - 0x30;
          } else {
            if (c === LF) return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'bare LF ends the request line', 'RFC 9112 2.2: a line ends with CRLF', i);
            if (c !== CR) return this.failVersion(i);
            if (this.versionMajor !== 1 || this.versionMinor > 1) {
              return this.failAt('SLUICE_HTTP_VERSION', `HTTP/${this.versionMajor}.${this.versionMinor} is not supported`, 'RFC 9110 15.6.6: only HTTP/1.0 and HTTP/1.1 are served here', i - 3);
            }
            state = S_RL_LF;
          }
          this.versionIndex = vi + 1;
          i++;
          break;
        }
        case S_RL_LF: {
          if (buf[i] !== LF) return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'bare CR in the request line', 'RFC 9112 2.2: bare CR is invalid', i);
          if (++this.rlBytes > lim.maxRequestLineBytes) return this.fail414(i);
          i++;
          this.beginSection();
          state = S_FIELD_START;
          break;
        }
        case S_FIELD_START: {
          const c = buf[i];
          if (++this.sectionBytes > lim.maxHeaderBytes) return this.fail431(i);
          if (c === CR) {
            state = S_SECTION_END_LF;
            i++;
            break;
          }
          if (c === SP || c === HTAB) {
            if (this.fieldCount === 0 && !this.inTrailers) {
              return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'whitespace before the first field line', 'RFC 9112 2.2: whitespace between start-line and first field is invalid', i);
            }
            return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'obsolete line folding (field line starts with whitespace)', 'RFC 9112 5.2: obs-fold is rejected', i);
          }
          if (c === LF) return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'bare LF in the field section', 'RFC 9112 2.2: a line ends with CRLF', i);
          if (this.fieldCount >= lim.maxHeaderCount) {
            return this.failAt('SLUICE_HTTP_HEADERS_TOO_LARGE', `more than ${lim.maxHeaderCount} field lines`, 'limit: maxHeaderCount', i);
          }
          this.sectionBytes--; // recounted by the name scan
          this.partialUpper = false;
          state = S_FIELD_NAME;
          break;
        }
        case S_FIELD_NAME: {
          const start = i;
          const stop = Math.min(len, i + (lim.maxHeaderBytes - this.sectionBytes));
          let upper = 0;
          let t = 0;
          let h = 0;
          let c = 0;
          while (i < stop && (t = TOKEN[(c = buf[i])]) !== 0) {
            upper |= t;
            h = nameHash(h, c | 0x20);
            i++;
          }
          this.sectionBytes += i - start;
          if (upper & 2) this.partialUpper = true;
          if (i === stop) {
            if (i < len) return this.fail431(i);
            this.partial += slice(buf, start, i);
            break;
          }
          c = buf[i];
          if (c !== 0x3a) {
            if (c === SP || c === HTAB) {
              return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'whitespace between field name and colon', 'RFC 9112 5.1: no whitespace is allowed between field name and colon', i);
            }
            if (c === CR || c === LF) {
              return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'field line without a colon', 'RFC 9112 5: field-line = field-name ":" OWS field-value OWS', i);
            }
            return this.failAt('SLUICE_HTTP_BAD_REQUEST', `invalid byte 0x${hex2(c)} in field name`, 'RFC 9110 5.1: field-name is a token', i);
          }
          let name: string;
          if (this.partial.length === 0) {
            if (i === start) return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'empty field name', 'RFC 9110 5.1: field-name is a token', i);
            name = knownName(buf, start, i, h);
            if (name === '') {
              name = this.str(buf, start, i);
              if (this.partialUpper) name = name.toLowerCase();
            }
          } else {
            name = this.partial + slice(buf, start, i);
            this.partial = '';
            if (this.partialUpper) name = name.toLowerCase();
          }
          this.fieldName = name;
          this.sectionBytes++;
          i++;
          // OWS after the colon, inline (the common single SP)
          while (i < len && (buf[i] === SP || buf[i] === HTAB)) {
            if (++this.sectionBytes > lim.maxHeaderBytes) return this.fail431(i);
            i++;
          }
          state = i < len ? S_FIELD_VALUE : S_FIELD_OWS;
          break;
        }
        case S_FIELD_OWS: {
          const c = buf[i];
          if (c === SP || c === HTAB) {
            if (++this.sectionBytes > lim.maxHeaderBytes) return this.fail431(i);
            i++;
            break;
          }
          state = S_FIELD_VALUE;
          break;
        }
        case S_FIELD_VALUE: {
          const start = i;
          const stop = Math.min(len, i + (lim.maxHeaderBytes - this.sectionBytes));
          while (i < stop && FVALUE[buf[i]] === 1) i++;
          this.sectionBytes += i - start;
          if (i === stop) {
            if (i < len) return this.fail431(i);
            this.partial += slice(buf, start, i);
            break;
          }
          const c = buf[i];
          if (c !== CR) {
            if (c === LF) return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'bare LF ends a field line', 'RFC 9112 2.2: a line ends with CRLF', i);
            return this.failAt('SLUICE_HTTP_BAD_REQUEST', `invalid byte 0x${hex2(c)} in the value of field '${this.fieldName}'`, 'RFC 9110 5.5: field values must not contain NUL, CR, LF or other CTLs', i);
          }
          let v = this.partial.length ? this.partial + slice(buf, start, i) : this.str(buf, start, i);
          this.partial = '';
          // OWS before CRLF is not part of the value (RFC 9112 5).
          let e = v.length;
          while (e > 0) {
            const ch = v.charCodeAt(e - 1);
            if (ch !== SP && ch !== HTAB) break;
            e--;
          }
          if (e !== v.length) v = v.slice(0, e);
          if (++this.sectionBytes > lim.maxHeaderBytes) return this.fail431(i);
          i++;
          const err = this.inTrailers ? this.addTrailer(v) : this.addField(v, i - 1);
          if (err) return this.fail(err, i - 1);
          if (i < len && buf[i] === LF) {
            // the LF of this field line, inline
            if (++this.sectionBytes > lim.maxHeaderBytes) return this.fail431(i);
            this.fieldCount++;
            i++;
            state = S_FIELD_START;
            break;
          }
          state = S_FIELD_LF;
          break;
        }
        case S_FIELD_LF: {
          if (buf[i] !== LF) return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'bare CR in a field line', 'RFC 9112 2.2: bare CR is invalid', i);
          if (++this.sectionBytes > lim.maxHeaderBytes) return this.fail431(i);
          this.fieldCount++;
          i++;
          state = S_FIELD_START;
          break;
        }
        case S_SECTION_END_LF: {
          if (buf[i] !== LF) return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'bare CR at the end of the field section', 'RFC 9112 2.2: bare CR is invalid', i);
          if (++this.sectionBytes > lim.maxHeaderBytes) return this.fail431(i);
          i++;
          if (this.inTrailers) {
            this.inTrailers = false;
            if (this.trailers.length) this.cb.onTrailers(this.trailers);
            state = this.complete(i);
          } else {
            const head = this.finishHead(i);
            if (head === null) return i - 1;
            state = this.bodyState;
            this.state = state;
            this.cb.onHead(head);
            if (state === S_START) state = this.complete(i);
          }
          if (this.state === S_DEAD) return i;
          if (this.paused) return this.stop(i, state);
          break;
        }
        case S_BODY_LENGTH: {
          const n = Math.min(len - i, this.remaining);
          this.remaining -= n;
          const start = i;
          i += n;
          if (this.remaining === 0) {
            this.state = S_START;
            this.cb.onBody(buf.subarray(start, i));
            state = this.complete(i);
          } else {
            this.state = state;
            this.cb.onBody(buf.subarray(start, i));
          }
          if (this.paused) return this.stop(i, state);
          break;
        }
        case S_CHUNK_SIZE: {
          const c = buf[i];
          const h = HEX[c];
          if (h >= 0) {
            if (++this.chunkDigits > MAX_CHUNK_SIZE_DIGITS) {
              return this.failAt('SLUICE_HTTP_BAD_REQUEST', `chunk size longer than ${MAX_CHUNK_SIZE_DIGITS} hex digits`, 'RFC 9112 7.1: chunk-size = 1*HEXDIG (bounded here)', i);
            }
            const size = this.remaining * 16 + h;
            if (size > MAX_SAFE) return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'chunk size overflows', 'RFC 9112 7.1: chunk-size must be representable', i);
            this.remaining = size;
            i++;
            break;
          }
          if (this.chunkDigits === 0) {
            return this.failAt('SLUICE_HTTP_BAD_REQUEST', `invalid byte 0x${hex2(c)} where a chunk size was expected`, 'RFC 9112 7.1: chunk-size = 1*HEXDIG', i);
          }
          if (this.bodyBytes + this.remaining > lim.maxBodyBytes) {
            return this.failAt('SLUICE_HTTP_BODY_TOO_LARGE', `chunked body exceeds ${lim.maxBodyBytes} bytes`, 'limit: maxBodyBytes', i - 1);
          }
          this.chunkExtBytes = 0;
          if (c === CR) state = S_CHUNK_SIZE_LF;
          else if (c === 0x3b) state = S_CHUNK_EXT_NAME_START;
          else if (c === SP || c === HTAB) state = S_CHUNK_BWS;
          else if (c === LF) return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'bare LF after chunk size', 'RFC 9112 7.1: chunk line ends with CRLF', i);
          else return this.failAt('SLUICE_HTTP_BAD_REQUEST', `invalid byte 0x${hex2(c)} in chunk size`, 'RFC 9112 7.1: chunk-size = 1*HEXDIG', i);
          i++;
          break;
        }
        case S_CHUNK_BWS:
        case S_CHUNK_EXT_NAME_START:
        case S_CHUNK_EXT_NAME:
        case S_CHUNK_EXT_AFTER_NAME:
        case S_CHUNK_EXT_VAL_START:
        case S_CHUNK_EXT_VAL_TOKEN:
        case S_CHUNK_EXT_QUOTED:
        case S_CHUNK_EXT_QPAIR:
        case S_CHUNK_EXT_AFTER_QUOTED: {
          const c = buf[i];
          if (++this.chunkExtBytes > lim.maxChunkExtBytes) {
            return this.failAt('SLUICE_HTTP_BAD_REQUEST', `chunk extensions longer than ${lim.maxChunkExtBytes} bytes`, 'limit: maxChunkExtBytes', i);
          }
          const next = chunkExtStep(state, c);
          if (next < 0) {
            return this.failAt('SLUICE_HTTP_BAD_REQUEST', `invalid byte 0x${hex2(c)} in chunk extension`, 'RFC 9112 7.1.1: chunk-ext = *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )', i);
          }
          state = next;
          i++;
          break;
        }
        case S_CHUNK_SIZE_LF: {
          if (buf[i] !== LF) return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'bare CR in chunk line', 'RFC 9112 7.1: chunk line ends with CRLF', i);
          i++;
          if (this.remaining === 0) {
            // last-chunk: the trailer section follows (RFC 9112 7.1.2).
            this.inTrailers = true;
            this.beginSection();
            state = S_FIELD_START;
          } else {
            this.bodyBytes += this.remaining;
            state = S_CHUNK_DATA;
          }
          break;
        }
        case S_CHUNK_DATA: {
          const n = Math.min(len - i, this.remaining);
          this.remaining -= n;
          const start = i;
          i += n;
          if (this.remaining === 0) state = S_CHUNK_DATA_CR;
          this.state = state;
          this.cb.onBody(buf.subarray(start, i));
          if (this.paused) return this.stop(i, state);
          break;
        }
        case S_CHUNK_DATA_CR: {
          if (buf[i] !== CR) return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'chunk data not followed by CRLF', 'RFC 9112 7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF', i);
          i++;
          state = S_CHUNK_DATA_LF;
          break;
        }
        case S_CHUNK_DATA_LF: {
          if (buf[i] !== LF) return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'chunk data not followed by CRLF', 'RFC 9112 7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF', i);
          i++;
          this.chunkDigits = 0;
          this.remaining = 0;
          state = S_CHUNK_SIZE;
          break;
        }
        default:
          return i;
      }
    }
    this.state = state;
    this.base += len;
    return len;
  }

  /** Token text: cut from the decoded head when it covers [start, end), else decoded from the buffer. */
  private str(buf: Buffer, start: number, end: number): string {
    if (start >= this.hsStart && end <= this.hsEnd) return this.hs.slice(start - this.hsStart, end - this.hsStart);
    return slice(buf, start, end);
  }

  private stop(i: number, state: number): number {
    this.state = state;
    this.base += i;
    return i;
  }

  private beginSection(): void {
    this.sectionBytes = 0;
    this.fieldCount = 0;
    this.partial = '';
  }

  /** Message done: emit, reset per-message state, return the next state. */
  private complete(i: number): number {
    this.lastMessageBytes = this.base + i - this.messageStart;
    this.state = S_START;
    this.resetMessage();
    this.cb.onMessageComplete();
    return this.state; // the callback may have failed us, never moved us elsewhere
  }

  private resetMessage(): void {
    this.rlBytes = 0;
    this.headers = [];
    this.trailers = [];
    this.hostCount = 0;
    this.host = '';
    this.clCount = 0;
    this.contentLength = -1;
    this.teSeen = false;
    this.teChunkedCount = 0;
    this.teLastChunked = false;
    this.teOther = '';
    this.connClose = false;
    this.connKeepAlive = false;
    this.expect100 = false;
    this.bodyBytes = 0;
    this.remaining = 0;
    this.chunkDigits = 0;
  }

  private addTrailer(value: string): SluiceError | null {
    this.trailers.push(this.fieldName, value);
    return null;
  }

  /** Record a header field; framing fields are checked as they arrive. `at` is the CR's index. */
  private addField(value: string, at: number): SluiceError | null {
    const name = this.fieldName;
    this.headers.push(name, value);
    switch (name.length) {
      case 4:
        if (name === 'host') {
          this.hostCount++;
          this.host = value;
          if (this.hostCount > 1) return err('SLUICE_HTTP_BAD_REQUEST', 'repeated Host header', 'RFC 9112 3.2: a request with more than one Host field is rejected', this.base + at);
        }
        break;
      case 6:
        if (name === 'expect' && asciiLowerEquals(value, '100-continue')) this.expect100 = true;
        break;
      case 10:
        if (name === 'connection') this.noteConnection(value);
        break;
      case 14:
        if (name === 'content-length') return this.noteContentLength(value, at);
        break;
      case 17:
        if (name === 'transfer-encoding') return this.noteTransferEncoding(value, at);
        break;
    }
    return null;
  }

  private noteConnection(value: string): void {
    let s = 0;
    const n = value.length;
    while (s <= n) {
      let e = value.indexOf(',', s);
      if (e < 0) e = n;
      const opt = value.slice(s, e).trim().toLowerCase();
      if (opt === 'close') this.connClose = true;
      else if (opt === 'keep-alive') this.connKeepAlive = true;
      s = e + 1;
    }
  }

  private noteContentLength(value: string, at: number): SluiceError | null {
    this.clCount++;
    if (this.clCount > 1) {
      return err('SLUICE_HTTP_BAD_REQUEST', 'repeated Content-Length header', 'RFC 9110 8.6: repeated Content-Length (rejected even when identical, strict)', this.base + at);
    }
    if (value.length === 0) return err('SLUICE_HTTP_BAD_REQUEST', 'empty Content-Length', 'RFC 9110 8.6: Content-Length = 1*DIGIT', this.base + at);
    let n = 0;
    for (let k = 0; k < value.length; k++) {
      const d = value.charCodeAt(k) - 0x30;
      if (d < 0 || d > 9) {
        return err('SLUICE_HTTP_BAD_REQUEST', `Content-Length '${value}' is not a decimal number`, 'RFC 9110 8.6: Content-Length = 1*DIGIT (a list of values is rejected)', this.base + at);
      }
      n = n * 10 + d;
      if (n > MAX_SAFE) return err('SLUICE_HTTP_BAD_REQUEST', 'Content-Length overflows', 'RFC 9112 6.3 (5): invalid Content-Length', this.base + at);
    }
    this.contentLength = n;
    return null;
  }

  private noteTransferEncoding(value: string, at: number): SluiceError | null {
    this.teSeen = true;
    let s = 0;
    const n = value.length;
    let any = false;
    while (s <= n) {
      let e = value.indexOf(',', s);
      if (e < 0) e = n;
      let coding = value.slice(s, e);
      const semi = coding.indexOf(';');
      if (semi >= 0) coding = coding.slice(0, semi);
      coding = coding.trim().toLowerCase();
      s = e + 1;
      if (coding.length === 0) continue; // empty list elements are ignored (RFC 9110 5.6.1)
      for (let k = 0; k < coding.length; k++) {
        if (TOKEN[coding.charCodeAt(k)] === 0) {
          return err('SLUICE_HTTP_BAD_REQUEST', `invalid transfer coding '${coding}'`, 'RFC 9112 6.1: transfer-coding is a token', this.base + at);
        }
      }
      any = true;
      if (coding === 'chunked') {
        this.teChunkedCount++;
        this.teLastChunked = true;
      } else {
        this.teLastChunked = false;
        if (!this.teOther) this.teOther = coding;
      }
    }
    if (!any) return err('SLUICE_HTTP_BAD_REQUEST', 'empty Transfer-Encoding', 'RFC 9112 6.1: Transfer-Encoding = #transfer-coding (at least one)', this.base + at);
    return null;
  }

  /** A head-level rule failed; reported at the final LF. (A method, not a closure: see bench/http1-parse.ts.) */
  private headFail(i: number, msg: string, rule: string, code: ErrorCode = 'SLUICE_HTTP_BAD_REQUEST'): null {
    this.fail(err(code, msg, rule, this.base + i - 1), i - 1);
    return null;
  }

  /** Apply the framing rules to a complete head; sets bodyState. Null when a rule failed (reported). */
  private finishHead(i: number): ParsedRequestHead | null {
    const http11 = this.versionMinor === 1;
    // Framing (RFC 9112 6.3).
    let contentLength = 0;
    let next = S_START;
    if (this.teSeen) {
      if (this.clCount > 0) return this.headFail(i, 'Content-Length and Transfer-Encoding together', 'RFC 9112 6.3 (3): Transfer-Encoding and Content-Length together');
      if (!http11) return this.headFail(i, 'Transfer-Encoding in an HTTP/1.0 request', 'RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing');
      if (!this.teLastChunked) return this.headFail(i, 'chunked is not the final transfer coding', 'RFC 9112 6.3 (4): chunked must be the final transfer coding');
      if (this.teChunkedCount > 1) return this.headFail(i, 'chunked applied more than once', 'RFC 9112 7: chunked must not be applied more than once');
      if (this.teOther) return this.headFail(i, `transfer coding '${this.teOther}' is not supported`, 'RFC 9112 6.1: unknown transfer coding -> 501', 'SLUICE_HTTP_NOT_IMPLEMENTED');
      contentLength = -1;
      next = S_CHUNK_SIZE;
      this.remaining = 0;
      this.chunkDigits = 0;
      this.bodyBytes = 0;
    } else if (this.clCount > 0) {
      contentLength = this.contentLength;
      if (contentLength > this.lim.maxBodyBytes) {
        return this.headFail(i, `Content-Length ${contentLength} exceeds the limit of ${this.lim.maxBodyBytes} bytes`, 'limit: maxBodyBytes', 'SLUICE_HTTP_BODY_TOO_LARGE');
      }
      if (contentLength > 0) {
        this.remaining = contentLength;
        next = S_BODY_LENGTH;
      }
    }

    // Target and authority (RFC 9112 3.2, 3.3).
    const method = this.method;
    const target = this.target;
    let path: string;
    let query = '';
    let authority: string;
    const c0 = target.charCodeAt(0);
    if (c0 === 0x2f) {
      const q = target.indexOf('?');
      if (q < 0) path = target;
      else {
        path = target.slice(0, q);
        query = target.slice(q + 1);
      }
      const frag = target.indexOf('#');
      if (frag >= 0) return this.headFail(i, 'fragment in request-target', 'RFC 9112 3.2: request-target = origin-form (no fragment)');
      authority = '';
    } else if (target === '*') {
      if (method !== 'OPTIONS') return this.headFail(i, "asterisk-form '*' is only for OPTIONS", 'RFC 9112 3.2.4: asterisk-form is only for OPTIONS');
      path = '*';
      authority = '';
    } else if (method === 'CONNECT') {
      return this.headFail(i, 'CONNECT is not supported', 'RFC 9110 9.3.6: CONNECT tunnels are not offered by this server', 'SLUICE_HTTP_NOT_IMPLEMENTED');
    } else {
      const abs = parseAbsoluteForm(target);
      if (typeof abs === 'string') return this.headFail(i, abs, 'RFC 9112 3.2.2: absolute-form = absolute-URI with an http(s) authority');
      path = abs.path;
      query = abs.query;
      authority = abs.authority;
    }

    // Host (RFC 9112 3.2).
    if (this.hostCount === 0) {
      if (http11) return this.headFail(i, 'missing Host header', 'RFC 9112 3.2: an HTTP/1.1 request must carry Host');
    } else {
      const h = this.host;
      if (h !== this.lastValidHost && !validAuthority(h, true)) return this.headFail(i, `invalid Host '${h}'`, 'RFC 9110 7.2: Host = uri-host [ ":" port ]');
      this.lastValidHost = h;
      if (authority) {
        if (normalizeAuthority(h, target) !== normalizeAuthority(authority, target)) {
          return this.headFail(i, `Host '${h}' disagrees with the request-target authority '${authority}'`, 'RFC 9112 3.2.2: Host must agree with an absolute-form authority (strict)');
        }
      } else authority = h;
    }

    let keepAlive: boolean;
    if (http11) keepAlive = !this.connClose;
    else keepAlive = this.connKeepAlive && !this.connClose;
    const hasBody = next !== S_START;
    const head: ParsedRequestHead = {
      method,
      target,
      path,
      query,
      authority,
      scheme: this.lim.scheme,
      version: http11 ? '1.1' : '1.0',
      headers: this.headers,
      contentLength,
      hasBody,
      // RFC 9110 10.1.1: a 100-continue expectation in HTTP/1.0 is ignored; without a body it means nothing.
      expectContinue: this.expect100 && http11 && hasBody,
      keepAlive,
      headBytes: this.base + i - this.messageStart,
    };
    this.bodyState = next;
    return head;
  }

  private fail414(i: number): number {
    return this.failAt('SLUICE_HTTP_URI_TOO_LONG', `request line longer than ${this.lim.maxRequestLineBytes} bytes`, 'limit: maxRequestLineBytes', i);
  }

  private fail431(i: number): number {
    const what = this.inTrailers ? 'trailer section' : 'header section';
    return this.failAt('SLUICE_HTTP_HEADERS_TOO_LARGE', `${what} longer than ${this.lim.maxHeaderBytes} bytes`, 'limit: maxHeaderBytes', i);
  }

  private failVersion(i: number): number {
    return this.failAt('SLUICE_HTTP_BAD_REQUEST', 'invalid HTTP-version', 'RFC 9112 2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT', i);
  }

  private failAt(code: ErrorCode, message: string, rule: string, i: number): number {
    return this.fail(err(code, message, rule, this.base + i), i);
  }

  private fail(e: SluiceError, i: number): number {
    this.state = S_DEAD;
    this.partial = '';
    this.cb.onError(e);
    return i;
  }
}

function err(code: ErrorCode, message: string, rule: string, offset: number): SluiceError {
  return new SluiceError(code, `${message} (at byte ${offset})`, { rule, offset });
}

function hex2(c: number): string {
  return c.toString(16).padStart(2, '0');
}

/** One step of the chunk-extension grammar; -1 on a byte the grammar does not allow. */
function chunkExtStep(state: number, c: number): number {
  const ws = c === SP || c === HTAB;
  switch (state) {
    case S_CHUNK_BWS: // BWS that must be followed by ';'
      if (ws) return S_CHUNK_BWS;
      if (c === 0x3b) return S_CHUNK_EXT_NAME_START;
      return -1;
    case S_CHUNK_EXT_NAME_START:
      if (ws) return S_CHUNK_EXT_NAME_START;
      return TOKEN[c] ? S_CHUNK_EXT_NAME : -1;
    case S_CHUNK_EXT_NAME:
      if (TOKEN[c]) return S_CHUNK_EXT_NAME;
      if (c === CR) return S_CHUNK_SIZE_LF;
      if (c === 0x3b) return S_CHUNK_EXT_NAME_START;
      if (c === 0x3d) return S_CHUNK_EXT_VAL_START;
      if (ws) return S_CHUNK_EXT_AFTER_NAME;
      return -1;
    case S_CHUNK_EXT_AFTER_NAME: // BWS after a name: '=' or ';' may follow
      if (ws) return S_CHUNK_EXT_AFTER_NAME;
      if (c === 0x3d) return S_CHUNK_EXT_VAL_START;
      if (c === 0x3b) return S_CHUNK_EXT_NAME_START;
      return -1;
    case S_CHUNK_EXT_VAL_START:
      if (ws) return S_CHUNK_EXT_VAL_START;
      if (c === 0x22) return S_CHUNK_EXT_QUOTED;
      return TOKEN[c] ? S_CHUNK_EXT_VAL_TOKEN : -1;
    case S_CHUNK_EXT_VAL_TOKEN:
      if (TOKEN[c]) return S_CHUNK_EXT_VAL_TOKEN;
      if (c === CR) return S_CHUNK_SIZE_LF;
      if (c === 0x3b) return S_CHUNK_EXT_NAME_START;
      if (ws) return S_CHUNK_BWS;
      return -1;
    case S_CHUNK_EXT_QUOTED:
      if (c === 0x22) return S_CHUNK_EXT_AFTER_QUOTED;
      if (c === 0x5c) return S_CHUNK_EXT_QPAIR;
      return QDTEXT[c] ? S_CHUNK_EXT_QUOTED : -1;
    case S_CHUNK_EXT_QPAIR: // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
      return c === HTAB || (c >= 0x20 && c !== 0x7f) ? S_CHUNK_EXT_QUOTED : -1;
    case S_CHUNK_EXT_AFTER_QUOTED:
      if (c === CR) return S_CHUNK_SIZE_LF;
      if (c === 0x3b) return S_CHUNK_EXT_NAME_START;
      if (ws) return S_CHUNK_BWS;
      return -1;
  }
  return -1;
}

function asciiLowerEquals(value: string, lower: string): boolean {
  return value.length === lower.length && value.toLowerCase() === lower;
}

// reg-name, IP-literal and port characters (RFC 3986 3.2.2).
const REGNAME = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) REGNAME[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) REGNAME[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) REGNAME[c] = 1;
for (const c of "-._~!$&'()*+,;=") REGNAME[c.charCodeAt(0)] = 1;

/** uri-host [ ":" port ] with pct-encoding checked; '' is allowed only for Host (RFC 9112 3.2). */
export function validAuthority(s: string, allowEmpty: boolean): boolean {
  const n = s.length;
  if (n === 0) return allowEmpty;
  let k = 0;
  if (s.charCodeAt(0) === 0x5b) {
    const close = s.indexOf(']');
    if (close < 2) return false;
    const v = s.charCodeAt(1) === 0x76 || s.charCodeAt(1) === 0x56; // IPvFuture
    for (k = 1; k < close; k++) {
      const c = s.charCodeAt(k);
      if (c === 0x3a || c === 0x2e || HEX[c] >= 0) continue;
      if (v && c < 128 && REGNAME[c]) continue;
      return false;
    }
    k = close + 1;
  } else {
    for (; k < n; k++) {
      const c = s.charCodeAt(k);
      if (c === 0x3a) break;
      if (c === 0x25) {
        if (k + 2 >= n || HEX[s.charCodeAt(k + 1)] < 0 || HEX[s.charCodeAt(k + 2)] < 0) return false;
        k += 2;
        continue;
      }
      if (c >= 128 || !REGNAME[c]) return false;
    }
    if (k === 0) return false; // ":80" has no host
  }
  if (k === n) return true;
  if (s.charCodeAt(k) !== 0x3a) return false;
  const port = s.slice(k + 1);
  if (port.length > 5) return false;
  for (let j = 0; j < port.length; j++) {
    const c = port.charCodeAt(j);
    if (c < 0x30 || c > 0x39) return false;
  }
  return port.length === 0 || Number(port) <= 65535;
}

function parseAbsoluteForm(target: string): { authority: string; path: string; query: string } | string {
  const colon = target.indexOf('://');
  if (colon <= 0) return `request-target '${target}' is neither origin-form, absolute-form nor '*'`;
  const scheme = target.slice(0, colon).toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return `absolute-form scheme '${scheme}' is not http or https`;
  const rest = colon + 3;
  let end = target.length;
  for (let k = rest; k < target.length; k++) {
    const c = target.charCodeAt(k);
    if (c === 0x2f || c === 0x3f || c === 0x23) {
      end = k;
      break;
    }
  }
  const authority = target.slice(rest, end);
  if (authority.includes('@')) return 'userinfo in the request-target authority';
  if (!validAuthority(authority, false)) return `invalid authority '${authority}' in the request-target`;
  if (target.indexOf('#', end) >= 0) return 'fragment in request-target';
  let path = '/';
  let query = '';
  if (end < target.length) {
    const tail = target.slice(end);
    const q = tail.indexOf('?');
    if (q < 0) path = tail;
    else {
      path = tail.slice(0, q) || '/';
      query = tail.slice(q + 1);
    }
  }
  return { authority, path, query };
}

/** Case-insensitive authority with the scheme's default port removed, for comparing Host with a target. */
function normalizeAuthority(a: string, target: string): string {
  const lower = a.toLowerCase();
  const https = target.length > 5 && target.slice(0, 6).toLowerCase() === 'https:';
  const def = https ? ':443' : ':80';
  return lower.endsWith(def) ? lower.slice(0, -def.length) : lower.endsWith(':') ? lower.slice(0, -1) : lower;
}
