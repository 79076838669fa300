// The admin listener. TCP (127.0.0.1:9901 by default) serves read-only endpoints: /metrics,
// /healthz, /readyz. The unix socket serves those plus the control endpoints (reload, config,
// netstat); its file permissions (0600, owner only) are its access control.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmod, unlink } from 'node:fs/promises';
import type { Metrics } from './metrics.js';

export interface AdminControl {
  /** True once every listener is bound and the server is not draining. */
  ready(): boolean;
  /** Load, validate and swap the config; resolves with the outcome. */
  reload(): Promise<{ ok: boolean; version: number; problems: string[] }>;
  /** Summary of the serving config. */
  status(): Record<string, unknown>;
  /** Connection table of the bypass stacks (empty when none runs). */
  netstat(): unknown;
}

export interface AdminOptions {
  address: string;
  port: number | null;
  socket: string | null;
}

export class AdminServer {
  private tcp: Server | null = null;
  private unix: Server | null = null;

  constructor(private readonly metrics: Metrics, private readonly control: AdminControl) {}

  async listen(opts: AdminOptions): Promise<{ port: number | null; socket: string | null }> {
    let port: number | null = null;
    if (opts.port !== null) {
      this.tcp = createServer((req, res) => void this.serve(req, res, false));
      port = await listenTcp(this.tcp, opts.address, opts.port);
    }
    if (opts.socket !== null) {
      this.unix = createServer((req, res) => void this.serve(req, res, true));
      await unlink(opts.socket).catch(() => undefined);
      await new Promise<void>((resolve, reject) => {
        this.unix!.once('error', reject);
        this.unix!.listen(opts.socket, () => resolve());
      });
      await chmod(opts.socket, 0o600);
    }
    return { port, socket: opts.socket };
  }

  async close(): Promise<void> {
    await Promise.all([this.tcp, this.unix].map((s) => (s ? closeServer(s) : Promise.resolve())));
  }

  private async serve(req: IncomingMessage, res: ServerResponse, control: boolean): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method === 'GET' && path === '/metrics') {
        const body = await this.metrics.registry.metrics();
        return reply(res, 200, body, this.metrics.registry.contentType);
      }
      if (req.method === 'GET' && path === '/healthz') return reply(res, 200, 'ok\n');
      if (req.method === 'GET' && path === '/readyz') {
        return this.control.ready() ? reply(res, 200, 'ready\n') : reply(res, 503, 'not ready\n');
      }
      if (control && req.method === 'POST' && path === '/reload') {
        const outcome = await this.control.reload();
        return json(res, outcome.ok ? 200 : 422, outcome);
      }
      if (control && req.method === 'GET' && path === '/status') return json(res, 200, this.control.status());
      if (control && req.method === 'GET' && path === '/netstat') return json(res, 200, this.control.netstat());
      return json(res, 404, { error: 'not_found', path });
    } catch (err) {
      return json(res, 500, { error: 'internal', message: err instanceof Error ? err.message : String(err) });
    }
  }
}

function reply(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  reply(res, status, JSON.stringify(body) + '\n', 'application/json');
}

function listenTcp(server: Server, address: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      const a = server.address();
      resolve(typeof a === 'object' && a !== null ? a.port : port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
