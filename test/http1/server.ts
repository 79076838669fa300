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
  const server = net.createServer((socket) => {
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
