// Simulated-time driver: steps PortPumps over a memory wire (on its simulated clock) and jumps the
// clock straight to the next event - a frame becoming deliverable or a processor deadline - so a
// test runs minutes of retransmission timers in milliseconds, deterministically for a given seed.

import { SluiceError } from '../errors.js';
import type { MemoryWire } from './memory.js';
import type { PortPump } from './poll.js';

export interface SimulateOptions {
  /** Stop as soon as this returns true (checked after each round). */
  done: () => boolean;
  /** Give up at this simulated time, ms. */
  untilMs: number;
  /** Give up after this many rounds (each round steps every pump once). Default 1_000_000. */
  maxRounds?: number;
}

export interface SimulateResult {
  done: boolean;
  /** Simulated time at the end, ms. */
  now: number;
  rounds: number;
  /** Why it stopped: 'done', 'until' (time limit), 'idle' (nothing left to happen), 'rounds'. */
  stop: 'done' | 'until' | 'idle' | 'rounds';
}

/**
 * Runs `pumps` (each over one of `wire`'s ports) until `done()`. At each simulated instant every
 * pump steps until no frame moves; then the clock jumps to the earliest of the wire's next
 * delivery and the processors' deadlines.
 */
export function simulate(wire: MemoryWire, pumps: PortPump[], opts: SimulateOptions): SimulateResult {
  const maxRounds = opts.maxRounds ?? 1_000_000;
  let rounds = 0;
  for (;;) {
    const now = wire.now();
    let moved: number;
    do {
      moved = 0;
      for (const p of pumps) moved += p.step(now);
      rounds++;
      if (opts.done()) return { done: true, now, rounds, stop: 'done' };
      if (rounds >= maxRounds) return { done: false, now, rounds, stop: 'rounds' };
    } while (moved > 0);
    let next = wire.nextDeliveryAt();
    for (const p of pumps) {
      const d = p.processor.nextDeadline();
      if (d < next) next = d;
    }
    if (next === Infinity) return { done: false, now, rounds, stop: 'idle' };
    if (next > opts.untilMs) return { done: false, now, rounds, stop: 'until' };
    if (Number.isNaN(next)) throw new SluiceError('SLUICE_PORT_CONFIG', 'simulate: a processor returned NaN from nextDeadline()');
    // A deadline already past (the processor did not act on it) still moves time forward by the
    // smallest step, so a stuck timer cannot spin the simulation at one instant forever.
    wire.setTime(next > now ? next : now + 1e-3);
  }
}
