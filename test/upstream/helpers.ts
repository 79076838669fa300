// Real upstreams for upstream and proxy tests: node:http servers and raw TCP servers on
// 127.0.0.1:0, a listener that never accepts (connect timeouts), and a recording response sink.

import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import type { ClusterEntry } from '../../src/upstream/cluster.js';
import type { UpstreamFailure } from '../../src/upstream/failure.js';
import type { UpstreamResponseHead, UpstreamResponseSink } from '../../src/upstream/forward.js';

export interface Started<S> {
  readonly server: S;
  readonly port: number;
  readonly address: string;
  close(): Promise<void>;
}

function tracked<S extends net.Server>(server: S): Promise<Started<S>> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        server,
        port,
        address: `127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

export function httpUpstream(handler: http.RequestListener, configure?: (s: http.Server) => void): Promise<Started<http.Server>> {
  const server = http.createServer(handler);
  configure?.(server);
  return tracked(server);
}

export function rawUpstream(onConnection: (socket: net.Socket, index: number) => void): Promise<Started<net.Server>> {
  let n = 0;
  const server = net.createServer((s) => {
    s.on('error', () => {});
    onConnection(s, n++);
  });
  return tracked(server);
}

/** A port nothing listens on (bound once, then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * A listener with a backlog of 0 that never accepts, its queue filled by one connection: the
 * kernel drops further SYNs, so connects to it hang until the client's connect timeout.
 */
export async function blackholeListener(): Promise<{ port: number; close(): void }> {
  const code = [
    'import socket, time',
    's = socket.socket()',
    "s.bind(('127.0.0.1', 0))",
    's.listen(0)',
    'print(s.getsockname()[1], flush=True)',
    'time.sleep(60)',
  ].join('\n');
  const child: ChildProcess = spawn('python3', ['-c', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout?.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
  });
  const filler = net.connect(port, '127.0.0.1');
  filler.on('error', () => {});
  await new Promise<void>((r) => filler.once('connect', () => r()));
  return {
    port,
    close: () => {
      filler.destroy();
      child.kill();
    },
  };
}

export function clusterEntry(name: string, endpoints: string[], over: Partial<ClusterEntry> = {}): ClusterEntry {
  return {
    name,
    endpoints,
    balance: 'round_robin',
    connect_timeout_ms: 1000,
    request_timeout_ms: 5000,
    idle_timeout_ms: 4000,
    max_connections: 8,
    hash: `${name}:${endpoints.join(',')}:${JSON.stringify(over)}`,
    ...over,
  };
}

/** Records what a forward delivers; `done` settles on onEnd or onError. */
export class RecordingSink implements UpstreamResponseSink {
  head: UpstreamResponseHead | null = null;
  chunks: Buffer[] = [];
  bytes = 0;
  trailers: string[] | null = null;
  failure: UpstreamFailure | null = null;
  /** When set, onData returns this (false to apply backpressure). */
  accept: (chunk: Buffer) => boolean = () => true;
  keepBody = true;
  readonly done: Promise<void>;
  #resolve!: () => void;

  constructor() {
    this.done = new Promise((r) => (this.#resolve = r));
  }

  onResponse(head: UpstreamResponseHead): void {
    this.head = head;
  }

  onData(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    if (this.keepBody) this.chunks.push(Buffer.from(chunk));
    return this.accept(chunk);
  }

  onEnd(trailers: string[]): void {
    this.trailers = trailers;
    this.#resolve();
  }

  onError(failure: UpstreamFailure): void {
    this.failure = failure;
    this.#resolve();
  }

  get body(): string {
    return Buffer.concat(this.chunks).toString();
  }

  header(name: string): string | undefined {
    const h = this.head?.headers ?? [];
    for (let i = 0; i < h.length; i += 2) if (h[i] === name) return h[i + 1];
    return undefined;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
