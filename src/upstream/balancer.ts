// Load-balancing policies over a cluster's endpoints. A balancer sees only indices, an
// eligibility test (passive health, endpoints already tried by this request) and each endpoint's
// load, so it is tested alone and knows nothing about undici or sockets.

export type BalancePolicy = 'round_robin' | 'least_request' | 'random';

export const BALANCE_POLICIES: readonly BalancePolicy[] = ['round_robin', 'least_request', 'random'];

/** What a balancer may ask about the endpoints of one cluster at the moment of one pick. */
export interface BalancerView {
  readonly size: number;
  /** Whether endpoint i may take this request (healthy and not already tried by it). */
  eligible(i: number): boolean;
  /** Requests outstanding on endpoint i (dispatched and not finished). */
  load(i: number): number;
}

export interface Balancer {
  readonly policy: BalancePolicy;
  /** Index of the chosen endpoint, or -1 when no endpoint is eligible. */
  pick(view: BalancerView): number;
}

/** Visits endpoints in order, skipping ineligible ones; the cursor moves past the chosen one. */
export class RoundRobinBalancer implements Balancer {
  readonly policy = 'round_robin' as const;
  #cursor = 0;

  pick(view: BalancerView): number {
    const n = view.size;
    for (let step = 0; step < n; step++) {
      const i = (this.#cursor + step) % n;
      if (view.eligible(i)) {
        this.#cursor = (i + 1) % n;
        return i;
      }
    }
    return -1;
  }
}

/**
 * Fewest outstanding requests wins. Ties are broken by a rotating start, so that equally idle
 * endpoints (the common case at low load, where every count is 0) share requests in turn instead
 * of the first endpoint taking them all.
 */
export class LeastRequestBalancer implements Balancer {
  readonly policy = 'least_request' as const;
  #cursor = 0;

  pick(view: BalancerView): number {
    const n = view.size;
    let best = -1;
    let bestLoad = Infinity;
    for (let step = 0; step < n; step++) {
      const i = (this.#cursor + step) % n;
      if (!view.eligible(i)) continue;
      const load = view.load(i);
      if (load < bestLoad) {
        best = i;
        bestLoad = load;
      }
    }
    if (best >= 0) this.#cursor = (best + 1) % n;
    return best;
  }
}

/** Uniform choice among eligible endpoints; the random source is injected for tests. */
export class RandomBalancer implements Balancer {
  readonly policy = 'random' as const;

  constructor(private readonly random: () => number = Math.random) {}

  pick(view: BalancerView): number {
    let eligible = 0;
    for (let i = 0; i < view.size; i++) if (view.eligible(i)) eligible++;
    if (eligible === 0) return -1;
    // Index among eligible endpoints; clamp guards a random() that returns exactly 1.
    let k = Math.min(Math.floor(this.random() * eligible), eligible - 1);
    for (let i = 0; i < view.size; i++) {
      if (!view.eligible(i)) continue;
      if (k === 0) return i;
      k--;
    }
    return -1;
  }
}

export function createBalancer(policy: BalancePolicy, random: () => number = Math.random): Balancer {
  switch (policy) {
    case 'round_robin':
      return new RoundRobinBalancer();
    case 'least_request':
      return new LeastRequestBalancer();
    case 'random':
      return new RandomBalancer(random);
  }
}
