// Peer for bench/proxy.sh: fastify 5 + @fastify/http-proxy as a TLS 1.3 terminating HTTP/1.1
// reverse proxy with an undici keep-alive pool to one upstream.
// Plain ESM JavaScript on purpose: the measured process runs on bare `node`, with no TypeScript
// loader hooks (tsx registers a hooks thread) sharing its pinned core.
// Usage: node fastify-proxy.mjs PORT UPSTREAM_HOST:PORT CERT_PEM KEY_PEM [TLS13_SUITES] [GROUPS]
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import httpProxy from '@fastify/http-proxy';

const [portArg, upstream, certPath, keyPath, suites, groups] = process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || port <= 0 || port > 65535 || !upstream || !certPath || !keyPath) {
  process.stderr.write('usage: node fastify-proxy.mjs PORT UPSTREAM_HOST:PORT CERT_PEM KEY_PEM [TLS13_SUITES] [GROUPS]\n');
  process.exit(2);
}

const app = Fastify({
  logger: false,
  // Same client-side keep-alive as the other peers: no per-connection request cap, 60 s idle.
  keepAliveTimeout: 60_000,
  https: {
    cert: readFileSync(certPath),
    key: readFileSync(keyPath),
    minVersion: 'TLSv1.3',
    ALPNProtocols: ['http/1.1'],
    // The suite order and groups bench/proxy.sh gives every peer (Sluice's), server's preference.
    ...(suites ? { ciphers: suites, honorCipherOrder: true } : {}),
    ...(groups ? { ecdhCurve: groups } : {}),
  },
});

await app.register(httpProxy, {
  upstream: `http://${upstream}`,
  // 64: the pool size the other peers get (Sluice max_connections, nginx keepalive 64).
  undici: { connections: 64, pipelining: 1, keepAliveTimeout: 60_000 },
});

const stop = () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

await app.listen({ host: '127.0.0.1', port });
