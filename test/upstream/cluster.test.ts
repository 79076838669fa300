import t from 'tap';
import { SluiceError } from '../../src/errors.js';
import { Cluster, ClusterManager } from '../../src/upstream/cluster.js';
import { parseEndpoint } from '../../src/upstream/endpoint.js';
import type { UpstreamRequest } from '../../src/upstream/forward.js';
import { RecordingSink, clusterEntry, httpUpstream, sleep } from './helpers.js';

const GET: UpstreamRequest = { method: 'GET', path: '/', headers: ['host', 'x.test'], body: null, timeoutMs: null };

async function send(c: Cluster, req: UpstreamRequest = GET): Promise<RecordingSink> {
  const sink = new RecordingSink();
  c.forward(req, sink);
  await sink.done;
  return sink;
}

t.test('parseEndpoint accepts IPv4, bracketed IPv6 and host names', async (t) => {
  t.match(parseEndpoint('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080, origin: 'http://127.0.0.1:8080' });
  t.match(parseEndpoint('[::1]:81'), { host: '::1', port: 81, origin: 'http://[::1]:81' });
  t.match(parseEndpoint('api.internal:80'), { host: 'api.internal', port: 80, origin: 'http://api.internal:80' });
});

t.test('parseEndpoint names the field and the problem', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['localhost', /expected "host:port"/],
    ['::1:80', /IPv6 addresses in brackets/],
    ['[::1]80', /expected "\[ipv6\]:port"/],
    ['[zz]:80', /not an IPv6 address/],
    ['a b:80', /invalid host "a b"/],
    ['h:0', /port must be 1-65535, got "0"/],
    ['h:65536', /port must be 1-65535/],
    ['h:', /port must be 1-65535, got ""/],
    ['h:8o', /port must be 1-65535, got "8o"/],
  ];
  for (const [text, why] of bad) {
    let err: unknown = null;
    try {
      parseEndpoint(text, 'clusters.api.endpoints[2]');
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof SluiceError, `${text}: SluiceError`);
    t.equal((err as SluiceError).code, 'SLUICE_CONFIG_INVALID');
    t.match((err as SluiceError).message, why);
    t.ok((err as SluiceError).message.startsWith(`clusters.api.endpoints[2] "${text}"`), `${text}: message names the field`);
  }
});

t.test('Cluster rejects invalid specs with the field path', async (t) => {
  const cases: Array<[Parameters<typeof clusterEntry>[2], RegExp]> = [
    [{ balance: 'fastest' as 'random' }, /^clusters\.c\.balance: expected one of round_robin, least_request, random/],
    [{ max_connections: 0 }, /^clusters\.c\.max_connections: expected an integer >= 1, got 0/],
    [{ connect_timeout_ms: 1.5 }, /^clusters\.c\.connect_timeout_ms/],
  ];
  for (const [over, why] of cases) {
    t.throws(() => new Cluster(clusterEntry('c', ['127.0.0.1:1'], over)), why);
  }
  t.throws(() => new Cluster(clusterEntry('c', ['127.0.0.1:1', '127.0.0.1:1'])), /^clusters\.c\.endpoints\[1\]: "127\.0\.0\.1:1" is listed twice/);
  t.throws(() => new Cluster(clusterEntry('c', ['127.0.0.1:1', 'nope'])), /^clusters\.c\.endpoints\[1\] "nope"/);
});

t.test('update keeps clusters whose hash is unchanged, with their warm connections', async (t) => {
  const ports: number[] = [];
  const up = await httpUpstream((req, res) => {
    ports.push(req.socket.remotePort ?? 0);
    res.end('ok');
  });
  t.teardown(() => up.close());
  const m = new ClusterManager();
  t.teardown(() => m.close());
  // One connection: a reused connection shows up as the same client port at the upstream.
  const a = clusterEntry('a', [up.address], { max_connections: 1 });
  const b = clusterEntry('b', [up.address]);
  t.same(m.update([a, b]), { kept: [], added: ['a', 'b'], replaced: [], removed: [] });
  const first = m.get('a')!;
  t.equal((await send(first)).body, 'ok');

  t.same(m.update([a, { ...b, hash: 'b2' }]), { kept: ['a'], added: [], replaced: ['b'], removed: [] });
  t.equal(m.get('a'), first, 'same Cluster object');
  t.equal((await send(m.get('a')!)).body, 'ok');
  t.equal(ports[0], ports[1], 'the second request reused the first connection');
  t.same(m.names.sort(), ['a', 'b']);

  t.same(m.update([a]), { kept: ['a'], added: [], replaced: [], removed: ['b'] });
  t.equal(m.get('b'), undefined);
});

t.test('a removed cluster finishes its in-flight requests, then closes', async (t) => {
  const up = await httpUpstream((_req, res) => setTimeout(() => res.end('slow ok'), 300));
  t.teardown(() => up.close());
  const m = new ClusterManager();
  t.teardown(() => m.close());
  m.update([clusterEntry('a', [up.address])]);
  const old = m.get('a')!;
  const sink = new RecordingSink();
  old.forward(GET, sink);
  await sleep(50);
  m.update([]);
  t.equal(old.draining, true);
  const late = await send(old);
  t.equal(late.failure?.error.code, 'SLUICE_NO_ENDPOINT', 'no new request on a removed cluster');
  await sink.done;
  t.equal(sink.failure, null, 'the in-flight request completed');
  t.equal(sink.body, 'slow ok');
  await old.retire();
  t.ok(old.endpoints.every((e) => e.pool.closed), 'pools closed');
});

t.test('an invalid entry leaves the running clusters untouched', async (t) => {
  const m = new ClusterManager();
  t.teardown(() => m.close());
  m.update([clusterEntry('a', ['127.0.0.1:1'])]);
  const a = m.get('a');
  t.throws(() => m.update([clusterEntry('a', ['127.0.0.1:1'], { hash: 'new' }), clusterEntry('b', ['bad'])]), /clusters\.b\.endpoints\[0\]/);
  t.equal(m.get('a'), a);
  t.equal(a?.draining, false);
  t.equal(m.get('b'), undefined);
  t.throws(() => m.update([clusterEntry('a', ['127.0.0.1:1']), clusterEntry('a', ['127.0.0.1:2'])]), /clusters\.a: cluster name is defined twice/);
});

t.test('close waits for in-flight requests', async (t) => {
  const up = await httpUpstream((_req, res) => setTimeout(() => res.end('done'), 200));
  t.teardown(() => up.close());
  const m = new ClusterManager();
  m.update([clusterEntry('a', [up.address])]);
  const sink = new RecordingSink();
  m.get('a')!.forward(GET, sink);
  await sleep(30);
  await m.close();
  t.equal(sink.body, 'done', 'the response was complete before close resolved');
  t.equal(m.get('a'), undefined);
});
