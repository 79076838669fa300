// nextPollDelay replayed on a trace recorded from a real PollLoop over TAP (bench/poll-trace.ts):
// the pure policy must reproduce every delay the live loop chose, from the frame counts alone.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { historyLength, nextPollDelay, type PollPolicy } from '../../src/io/poll.js';

interface Trace {
  recordedWith: string;
  policy: PollPolicy;
  canWait: boolean;
  moved: number[];
  delays: number[];
}

const trace = JSON.parse(readFileSync(new URL('../fixtures/io/poll-trace-tap.json', import.meta.url), 'utf8')) as Trace;

t.test(`replaying ${trace.moved.length} recorded iterations gives the live loop's delays`, async (t) => {
  const n = historyLength(trace.policy);
  // The loop starts with an all-zero history of historyLength entries.
  const history = [...new Array<number>(n).fill(0), ...trace.moved];
  const replayed = trace.moved.map((_, i) => nextPollDelay(history.slice(i + 1, i + 1 + n), trace.policy, trace.canWait));
  t.same(replayed, trace.delays);
});

t.test('the recorded trace: busy iterations never sleep; every quiet spell spins, then waits on the fd', async (t) => {
  const { moved, delays, policy } = trace;
  t.ok(moved.some((m) => m > 0), 'the trace carries traffic');
  for (let i = 0; i < moved.length; i++) if (moved[i]! > 0) t.equal(delays[i], 0, `iteration ${i} moved ${moved[i]} frames: poll again at once`);
  const sleeps = delays.filter((d) => d > 0);
  t.ok(sleeps.every((d) => d === policy.maxWaitMs), 'with a wait fd a sleep is the long wait');
  // the spin before each sleep: at least spinPolls empty polls after the last traffic
  for (let i = 0; i < moved.length; i++) {
    if (delays[i]! > 0 && moved.slice(0, i).some((m) => m > 0)) {
      let idle = 0;
      while (moved[i - idle] === 0) idle++;
      t.ok(idle > policy.spinPolls, `sleep at iteration ${i} after ${idle} empty polls`);
    }
  }
});
