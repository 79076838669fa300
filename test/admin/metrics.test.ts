// The per-request series (RequestSeries) must read exactly as prom-client's own Counter and
// Histogram would for the same observations: scrapers and dashboards see no difference.
import t from 'tap';
import { Counter, Histogram, Registry } from 'prom-client';
import { Metrics, methodLabel, statusClass } from '../../src/admin/metrics.js';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

function reference(): { registry: Registry; requests: Counter; duration: Histogram; upstream: Histogram } {
  const registry = new Registry();
  const requests = new Counter({ name: 'sluice_requests_total', help: 'Requests answered, by route, method and status class', labelNames: ['route', 'method', 'status_class'], registers: [registry] });
  const duration = new Histogram({ name: 'sluice_request_duration_seconds', help: 'Time from the complete request head to the end of the response', labelNames: ['route', 'method', 'status_class'], buckets: BUCKETS, registers: [registry] });
  const upstream = new Histogram({ name: 'sluice_upstream_duration_seconds', help: 'Time from dispatching to the upstream until its response head, by cluster', labelNames: ['cluster'], buckets: BUCKETS, registers: [registry] });
  return { registry, requests, duration, upstream };
}

const requestMetrics = (text: string): string =>
  text.split('\n').filter((l) => /sluice_(requests_total|request_duration_seconds|upstream_duration_seconds)/.test(l)).join('\n');

// Deterministic observations over routes, methods (one unknown), statuses (one out of range) and
// durations on, between and beyond the bucket bounds.
const requests: Array<[string, string, number, number]> = [];
const routes = ['all', 'api', 'none', 'quote"d\\route'];
const methods = ['GET', 'POST', 'HEAD', 'BREW', 'DELETE'];
const statuses = [200, 204, 301, 404, 499, 502, 99, 600];
const durations = [0.0001, 0.0005, 0.0007, 0.001, 0.003, 0.02, 0.3, 1, 7, 31, 120];
for (let i = 0; i < 500; i++) {
  requests.push([routes[i % routes.length], methods[(i * 7) % methods.length], statuses[(i * 3) % statuses.length], durations[(i * 5) % durations.length]]);
}

t.test('text exposition matches prom-client Counter and Histogram', async (t) => {
  const m = new Metrics({ processMetrics: false });
  const ref = reference();
  for (const [route, method, status, seconds] of requests) {
    m.observeRequest(route, method, status, seconds);
    const labels = { route, method: methodLabel(method), status_class: statusClass(status) };
    ref.requests.inc(labels);
    ref.duration.observe(labels, seconds);
    m.observeUpstream(route === 'none' ? 'b' : 'a', seconds / 2);
    ref.upstream.observe({ cluster: route === 'none' ? 'b' : 'a' }, seconds / 2);
  }
  const ours = requestMetrics(await m.registry.metrics());
  const theirs = requestMetrics(await ref.registry.metrics());
  t.ok(ours.includes('sluice_requests_total{route="all",method="GET",status_class="2xx"}'), 'a request series is exported');
  t.ok(ours.includes('sluice_request_duration_seconds_bucket{le="+Inf",route="api"'), 'buckets carry le first');
  t.ok(ours.includes('method="OTHER"') && ours.includes('status_class="other"'), 'unknown methods and statuses are folded');
  t.equal(ours, theirs);
});

t.test('JSON and OpenMetrics expositions match too; reset zeroes', async (t) => {
  const m = new Metrics({ processMetrics: false });
  const ref = reference();
  for (const [route, method, status, seconds] of requests.slice(0, 40)) {
    m.observeRequest(route, method, status, seconds);
    const labels = { route, method: methodLabel(method), status_class: statusClass(status) };
    ref.requests.inc(labels);
    ref.duration.observe(labels, seconds);
  }
  const pick = (all: Array<{ name: string }>) => all.filter((x) => x.name.startsWith('sluice_request'));
  t.same(pick(await m.registry.getMetricsAsJSON()), pick(await ref.registry.getMetricsAsJSON()));
  type OpenMetricsRegistry = Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>;
  (m.registry as unknown as OpenMetricsRegistry).setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  (ref.registry as unknown as OpenMetricsRegistry).setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  t.equal(requestMetrics(await m.registry.metrics()), requestMetrics(await ref.registry.metrics()));
  m.registry.resetMetrics();
  t.match(await m.registry.metrics(), /sluice_requests_total\{route="all",method="GET",status_class="2xx"\} 0/);
});
