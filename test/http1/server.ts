// A real TCP listener on 127.0.0.1:0 whose connections run Http1Session, for session tests.
import net from 'node:net';
import { StreamConnection } from '../../src/transport/stream.js';
import { serveHttp1, type Http1Events, type Http1Options } from '../../src/http1/session.js';
import type { ExchangeHandler, HttpExchange } from '../../src/http/exchange.js';

export interface TestServer {
  port: number;
  close(): Promise<void>;
}

export async function startServer(handle: (ex: HttpExchange) => void, opts: Partial<Http1Options> = {}, events?: Http1Events): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const handler: ExchangeHandler = { handle };
  // allowHalfOpen: the Connection contract lets us write after the peer's FIN (onEnd); Node's
  // default would end our side at once and lose answers to requests already received.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const conn = new StreamConnection(socket, { transport: 'kernel', listener: 'test', tls: null });
    serveHttp1(conn, handler, opts, events);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('no address');
  return {
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Send raw bytes, collect everything until the server closes (or timeoutMs). */
export function rawExchange(port: number, chunks: Array<string | Buffer>, opts: { timeoutMs?: number; gapMs?: number; endAfter?: boolean } = {}): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let closed = false;
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ data: Buffer.concat(got), closed });
    }, opts.timeoutMs ?? 3000);
    sock.on('data', (d) => got.push(d));
    sock.on('error', () => {});
    sock.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ data: Buffer.concat(got), closed });
    });
    sock.on('connect', async () => {
      try {
        for (const c of chunks) {
          if (sock.destroyed) break;
          sock.write(c);
          if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
        }
        if (opts.endAfter) sock.end();
      } catch (e) {
        reject(e);
      }
    });
  });
}

export interface RawResponse {
  status: number;
  reason: string;
  headers: Record<string, string>;
  body: string;
  trailers: Record<string, string>;
}

/**
 * Split raw response bytes into responses (test-side reader, deliberately simple): Content-Length,
 * chunked, or read-to-end bodies; 1xx and the given no-body responses (HEAD, 204, 304) have none.
 */
export function parseResponses(data: Buffer, noBody: boolean[] = []): RawResponse[] {
  const s = data.toString('latin1');
  const out: RawResponse[] = [];
  let pos = 0;
  let finalIndex = 0;
  while (pos < s.length) {
    const headEnd = s.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) throw new Error(`incomplete response head at ${pos}: ${JSON.stringify(s.slice(pos, pos + 80))}`);
    const lines = s.slice(pos, headEnd).split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) ?(.*)$/.exec(lines[0]);
    if (!m) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
    }
    const status = Number(m[1]);
    pos = headEnd + 4;
    const r: RawResponse = { status, reason: m[2], headers, body: '', trailers: {} };
    out.push(r);
    if (status < 200) continue;
    const skip = noBody[finalIndex++] || status === 204 || status === 304;
    if (skip) continue;
    if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const le = s.indexOf('\r\n', pos);
        const size = parseInt(s.slice(pos, le), 16);
        pos = le + 2;
        if (size === 0) {
          const end = s.indexOf('\r\n\r\n', pos - 2);
          for (const l of s.slice(pos, end + 2).split('\r\n').filter(Boolean)) {
            const c = l.indexOf(':');
            r.trailers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
          }
          pos = end + 4;
          break;
        }
        r.body += s.slice(pos, pos + size);
        pos += size + 2;
      }
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      r.body = s.slice(pos, pos + n);
      pos += n;
    } else {
      r.body = s.slice(pos);
      pos = s.length;
    }
  }
  return out;
}
