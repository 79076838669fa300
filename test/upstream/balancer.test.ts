import t from 'tap';
import { type BalancerView, LeastRequestBalancer, RandomBalancer, RoundRobinBalancer, createBalancer } from '../../src/upstream/balancer.js';

function view(loads: number[], down: number[] = []): BalancerView {
  return { size: loads.length, eligible: (i) => !down.includes(i), load: (i) => loads[i] };
}

function picks(b: { pick(v: BalancerView): number }, v: BalancerView, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(b.pick(v));
  return out;
}

t.test('round robin visits endpoints in order', async (t) => {
  t.same(picks(new RoundRobinBalancer(), view([0, 0, 0]), 7), [0, 1, 2, 0, 1, 2, 0]);
});

t.test('round robin skips ineligible endpoints without losing its place', async (t) => {
  const b = new RoundRobinBalancer();
  t.same(picks(b, view([0, 0, 0, 0], [1]), 6), [0, 2, 3, 0, 2, 3]);
  t.equal(b.pick(view([0, 0, 0, 0], [1])), 0);
  // Endpoint 1 back: the cursor continues after the last pick (0), so 1 comes next.
  t.same(picks(b, view([0, 0, 0, 0]), 4), [1, 2, 3, 0]);
});

t.test('every policy returns -1 when nothing is eligible or the cluster is empty', async (t) => {
  for (const policy of ['round_robin', 'least_request', 'random'] as const) {
    const b = createBalancer(policy, () => 0.5);
    t.equal(b.policy, policy);
    t.equal(b.pick(view([0, 0], [0, 1])), -1, `${policy}: all down`);
    t.equal(b.pick(view([])), -1, `${policy}: empty`);
  }
});

t.test('least request picks the endpoint with the fewest outstanding requests', async (t) => {
  const b = new LeastRequestBalancer();
  t.equal(b.pick(view([5, 2, 9])), 1);
  t.equal(b.pick(view([5, 2, 1])), 2);
  t.equal(b.pick(view([5, 2, 1], [2])), 1, 'the least loaded one is down: next least');
});

t.test('least request spreads ties in turn instead of piling onto the first', async (t) => {
  t.same(picks(new LeastRequestBalancer(), view([0, 0, 0]), 6), [0, 1, 2, 0, 1, 2]);
});

t.test('least request follows load as it changes', async (t) => {
  const loads = [0, 0, 0];
  const b = new LeastRequestBalancer();
  // Each pick adds one outstanding request and nothing finishes: the picks stay balanced.
  for (let i = 0; i < 30; i++) loads[b.pick(view(loads))]++;
  t.same(loads, [10, 10, 10]);
  loads[0] = 0; // endpoint 0 finished all of its requests
  t.equal(b.pick(view(loads)), 0);
});

t.test('random maps the random source uniformly over eligible endpoints', async (t) => {
  const seq = [0, 0.26, 0.5, 0.76, 0.999999, 1];
  let k = 0;
  const b = new RandomBalancer(() => seq[k++]);
  t.same(picks(b, view([0, 0, 0, 0]), 6), [0, 1, 2, 3, 3, 3], 'random() == 1 is clamped to the last');
  k = 0;
  t.same(picks(b, view([0, 0, 0, 0], [0, 2]), 4), [1, 1, 3, 3], 'only eligible endpoints are chosen');
});

t.test('random spreads a seeded sequence over every endpoint', async (t) => {
  // xorshift32, seeded: deterministic, and enough to see every endpoint gets a fair share.
  let x = 2463534242;
  const rnd = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
  const b = new RandomBalancer(rnd);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) counts[b.pick(view([0, 0, 0, 0]))]++;
  for (const c of counts) t.ok(c > 850 && c < 1150, `share ${c} of 4000 near 1000`);
});
