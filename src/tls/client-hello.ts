// Reads a TLS ClientHello far enough to learn its server_name (and ALPN list) before any TLS
// engine sees the bytes. The kernel path needs this because Node's SNICallback installs only one
// certificate of the context it returns (the ECDSA/RSA pair of a name would be cut to one), so
// the listener picks the whole context up front instead. The bypass path's engine can use the
// same reader. The bytes read are kept for replay into the TLS engine.
//
// Incremental: accepts any split of the input, keeps an explicit state, and enforces its limit
// as bytes arrive. It never decides a handshake's fate: anything it cannot read is handed to
// OpenSSL as is, which then produces the real alert and error.

export type ClientHelloResult =
  | { kind: 'need_more' }
  /** A complete ClientHello. sni is '' when the client sent no server_name. */
  | { kind: 'hello'; sni: string; alpn: string[] }
  /** Not a TLS ClientHello (plain HTTP, SSLv2, garbage) or not readable; reason says why. */
  | { kind: 'unreadable'; reason: string };

const RECORD_HEADER = 5;
const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
// RFC 8446 5.1: a plaintext record's fragment is at most 2^14 bytes.
const MAX_RECORD = 1 << 14;
const EXT_SERVER_NAME = 0; // RFC 6066 3
const EXT_ALPN = 16; // RFC 7301 3.1
const NAME_TYPE_HOST = 0;

export class ClientHelloReader {
  private readonly chunks: Buffer[] = [];
  private total = 0;
  /** Offset (in the whole stream) of the next record header not yet consumed. */
  private recordAt = 0;
  private readonly handshake: Buffer[] = [];
  private handshakeLength = 0;
  private result: ClientHelloResult = { kind: 'need_more' };

  /**
   * @param maxBytes Bytes buffered before giving up. 16 KiB holds any real ClientHello (even
   * with post-quantum key shares, ~2 KiB) without letting a client park much memory on us.
   */
  constructor(private readonly maxBytes = 16 * 1024) {}

  /** Every byte pushed so far, for replay into the TLS engine. */
  get buffered(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.total);
  }

  push(chunk: Buffer): ClientHelloResult {
    if (this.result.kind !== 'need_more') return this.result;
    this.chunks.push(chunk);
    this.total += chunk.length;
    this.result = this.advance();
    return this.result;
  }

  private advance(): ClientHelloResult {
    while (this.total - this.recordAt >= RECORD_HEADER) {
      const head = this.bytesAt(this.recordAt, RECORD_HEADER);
      if (head[0] !== CONTENT_HANDSHAKE) return unreadable(`record type ${head[0]} at byte ${this.recordAt} is not handshake (22)`);
      // TLS record versions are 3.x; SSLv2-format hellos and other protocols fail here.
      if (head[1] !== 3) return unreadable(`record version ${head[1]}.${head[2]} at byte ${this.recordAt + 1} is not 3.x`);
      const len = head.readUInt16BE(3);
      if (len === 0 || len > MAX_RECORD) return unreadable(`record length ${len} at byte ${this.recordAt + 3} is outside 1..${MAX_RECORD}`);
      if (this.total - this.recordAt - RECORD_HEADER < len) break;
      this.handshake.push(this.bytesAt(this.recordAt + RECORD_HEADER, len));
      this.handshakeLength += len;
      this.recordAt += RECORD_HEADER + len;
      // A ClientHello may span several records (RFC 8446 5.1 allows fragmenting handshakes).
      if (this.handshakeLength >= 4) {
        const hs = this.handshake.length === 1 ? this.handshake[0] : Buffer.concat(this.handshake);
        if (hs[0] !== HANDSHAKE_CLIENT_HELLO) return unreadable(`handshake type ${hs[0]} is not client_hello (1)`);
        const bodyLength = hs.readUIntBE(1, 3);
        if (4 + bodyLength > this.maxBytes) return unreadable(`client_hello of ${bodyLength} bytes exceeds the ${this.maxBytes}-byte limit`);
        if (hs.length >= 4 + bodyLength) return parseClientHello(hs.subarray(4, 4 + bodyLength));
      }
    }
    if (this.total > this.maxBytes) return unreadable(`no complete client_hello within ${this.maxBytes} bytes`);
    return { kind: 'need_more' };
  }

  /** Copies `len` stream bytes from offset `at` (spanning chunks as needed). */
  private bytesAt(at: number, len: number): Buffer {
    const out = Buffer.allocUnsafe(len);
    let base = 0;
    let written = 0;
    for (const c of this.chunks) {
      const end = base + c.length;
      if (end > at + written && written < len) {
        const from = at + written - base;
        const n = Math.min(c.length - from, len - written);
        c.copy(out, written, from, from + n);
        written += n;
      }
      base = end;
      if (written === len) break;
    }
    return out;
  }
}

function unreadable(reason: string): ClientHelloResult {
  return { kind: 'unreadable', reason };
}

/** RFC 8446 4.1.2 ClientHello body (also the TLS 1.2 layout, RFC 5246 7.4.1.2). */
export function parseClientHello(body: Buffer): ClientHelloResult {
  let p = 0;
  const need = (n: number, what: string): string | null => (p + n > body.length ? `client_hello truncated in ${what} at byte ${p}` : null);
  let err = need(2 + 32 + 1, 'version/random');
  if (err) return unreadable(err);
  p += 2 + 32;
  const sessionIdLength = body[p];
  p += 1;
  if ((err = need(sessionIdLength + 2, 'legacy_session_id'))) return unreadable(err);
  p += sessionIdLength;
  const suitesLength = body.readUInt16BE(p);
  p += 2;
  if ((err = need(suitesLength + 1, 'cipher_suites'))) return unreadable(err);
  p += suitesLength;
  const compressionLength = body[p];
  p += 1;
  if ((err = need(compressionLength, 'compression_methods'))) return unreadable(err);
  p += compressionLength;
  const result = { kind: 'hello' as const, sni: '', alpn: [] as string[] };
  // Extensions are optional in a TLS 1.2 ClientHello (RFC 5246 7.4.1.2).
  if (p === body.length) return result;
  if ((err = need(2, 'extensions length'))) return unreadable(err);
  const extEnd = p + 2 + body.readUInt16BE(p);
  p += 2;
  if (extEnd > body.length) return unreadable(`extensions run past the client_hello (${extEnd} > ${body.length})`);
  while (p + 4 <= extEnd) {
    const type = body.readUInt16BE(p);
    const len = body.readUInt16BE(p + 2);
    const data = p + 4;
    if (data + len > extEnd) return unreadable(`extension ${type} at byte ${p} runs past the extensions block`);
    if (type === EXT_SERVER_NAME) {
      const sni = readServerName(body.subarray(data, data + len));
      if (sni === null) return unreadable(`server_name extension at byte ${p} is malformed`);
      result.sni = sni;
    } else if (type === EXT_ALPN) {
      const alpn = readAlpn(body.subarray(data, data + len));
      if (alpn === null) return unreadable(`application_layer_protocol_negotiation extension at byte ${p} is malformed`);
      result.alpn = alpn;
    }
    p = data + len;
  }
  return result;
}

function readServerName(ext: Buffer): string | null {
  if (ext.length < 2) return null;
  const end = 2 + ext.readUInt16BE(0);
  if (end > ext.length) return null;
  for (let p = 2; p + 3 <= end; ) {
    const type = ext[p];
    const len = ext.readUInt16BE(p + 1);
    if (p + 3 + len > end) return null;
    // RFC 6066 3: at most one name per type; host_name is the only type defined.
    if (type === NAME_TYPE_HOST) return ext.toString('latin1', p + 3, p + 3 + len);
    p += 3 + len;
  }
  return '';
}

function readAlpn(ext: Buffer): string[] | null {
  if (ext.length < 2) return null;
  const end = 2 + ext.readUInt16BE(0);
  if (end > ext.length) return null;
  const out: string[] = [];
  for (let p = 2; p < end; ) {
    const len = ext[p];
    if (len === 0 || p + 1 + len > end) return null;
    out.push(ext.toString('latin1', p + 1, p + 1 + len));
    p += 1 + len;
  }
  return out;
}
