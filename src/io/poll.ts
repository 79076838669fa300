// The poll loop: the only place on the bypass path where wall-clock time and timers live. It moves
// bursts between a PacketPort and a PacketProcessor (the netstack): rxBurst -> input per frame ->
// output into a tx batch -> txBurst. Three pieces, smallest first:
//   nextPollDelay(history)  pure backoff policy over recent per-iteration packet counts;
//   PortPump.step(now)      one bounded iteration, no scheduling (simulated-time tests call it);
//   PollLoop                schedules steps on the event loop: setImmediate while busy, timers
//                           (and, with a wait fd, a one-shot libuv poll) when idle, always waking
//                           for processor.nextDeadline() and on wake().

import { SluiceError } from '../errors.js';
import { loadNative, type FdWaiter } from './native.js';
import { createFrameBatch, type FrameBatch, type PacketPort, type PacketProcessor } from './port.js';

// ---------------------------------------------------------------------------------------------
// Backoff policy

export interface PollPolicy {
  /** Empty polls to keep spinning (setImmediate) after the last packet, before any sleep. */
  spinPolls: number;
  /** First sleep step, ms (Node timers have 1 ms resolution). */
  minSleepMs: number;
  /** Longest sleep without a wait fd, ms: bounds the wake-up latency of a poll-only port. */
  maxSleepMs: number;
  /** Longest sleep with a wait fd, ms: the fd wakes the loop, so this only refreshes metrics. */
  maxWaitMs: number;
  /** Iterations before a quiet spell that count as recent load. */
  window: number;
}

// spinPolls 32: an empty poll turn (setImmediate + an empty step) measured 2.5 us on the memory
// port and 3.2-4 us on TAP (one read() returning EAGAIN), so 32 turns keep microsecond latency
// across the gaps of a flow (ACK clocking) for about 0.1 ms of CPU before the first sleep.
// maxSleepMs 4: a poll-only port (DPDK, memory) answers within 4 ms when traffic resumes while idle.
export const DEFAULT_POLICY: Readonly<PollPolicy> = Object.freeze({
  spinPolls: 32,
  minSleepMs: 1,
  maxSleepMs: 4,
  maxWaitMs: 1000,
  window: 64,
});

/**
 * How long to wait before the next poll, from the packet counts of recent iterations (oldest
 * first). 0 means poll again at once (setImmediate).
 * - traffic in the last iteration: 0;
 * - after it stops, spin for spinPolls + busy empty polls, where busy is how many of the `window`
 *   iterations before the quiet spell moved packets: a port that was busy is more patient;
 * - then sleep minSleepMs, doubling per further empty poll up to maxSleepMs; with a wait fd
 *   (`canWait`), sleep maxWaitMs at once, since readability ends the sleep anyway.
 * Callers keep at least historyLength(policy) entries so `busy` stays fixed while the spell lasts.
 */
export function nextPollDelay(history: ArrayLike<number>, policy: Readonly<PollPolicy> = DEFAULT_POLICY, canWait = false): number {
  const end = history.length;
  let idle = 0;
  while (idle < end && history[end - 1 - idle] === 0) idle++;
  if (idle === 0) return 0;
  let busy = 0;
  for (let i = Math.max(0, end - idle - policy.window); i < end - idle; i++) if (history[i]! > 0) busy++;
  const spin = policy.spinPolls + busy;
  if (idle <= spin) return 0;
  if (canWait) return policy.maxWaitMs;
  // 2^steps overflows to Infinity harmlessly; min() clamps it.
  return Math.min(policy.maxSleepMs, policy.minSleepMs * 2 ** (idle - spin - 1));
}

/** History entries the loop keeps: a full window before the longest possible spin. */
export function historyLength(policy: Readonly<PollPolicy>): number {
  return 2 * policy.window + policy.spinPolls + 1;
}

// ---------------------------------------------------------------------------------------------
// One iteration

export interface PumpOptions {
  /** Frames per rx/tx burst (batch capacity). Default 32 (DPDK's customary burst). */
  burst?: number;
  /** Bytes per slot. Default: the port's mtu + 18 (Ethernet header and one VLAN tag). */
  slotSize?: number;
  /** Frames received, and sent, per step before it yields (checked per burst), so one busy port cannot starve the loop. Default 256. */
  budget?: number;
  /**
   * Longest a step keeps taking bursts, ms, measured on `clock` (without a clock: no time limit).
   * It bounds the event-loop turn when the processor is slow per frame; each direction still moves
   * at least one burst per step.
   */
  timeBudgetMs?: number;
  /** Clock for timeBudgetMs (the PollLoop passes its own). */
  clock?: () => number;
}

/** What the last step did; reused, never reallocated. */
export interface StepStats {
  rxFrames: number;
  rxBytes: number;
  rxBursts: number;
  txFrames: number;
  txBytes: number;
  txBursts: number;
  /** Frames the processor produced that wait because the device took fewer. */
  txPending: number;
  /** The step stopped on its frame or time budget with work possibly left. */
  limited: boolean;
}

export class PortPump {
  readonly rx: FrameBatch;
  readonly tx: FrameBatch;
  readonly budget: number;
  readonly last: StepStats = { rxFrames: 0, rxBytes: 0, rxBursts: 0, txFrames: 0, txBytes: 0, txBursts: 0, txPending: 0, limited: false };
  readonly timeBudgetMs: number;
  private readonly clock: (() => number) | undefined;
  /** Whether the port writes checksum verdicts into rx.flags (else the processor gets 0). */
  private readonly rxVerdicts: boolean;
  private pending = 0;

  constructor(
    readonly port: PacketPort,
    readonly processor: PacketProcessor,
    options: PumpOptions = {},
  ) {
    const burst = options.burst ?? 32;
    const slotSize = options.slotSize ?? port.mtu + 18;
    const budget = options.budget ?? 256;
    if (!Number.isInteger(burst) || burst < 1 || burst > 4096) {
      throw new SluiceError('SLUICE_PORT_CONFIG', `poll: option 'burst' must be an integer in [1, 4096], got ${burst}`, { field: 'burst' });
    }
    if (!Number.isInteger(slotSize) || slotSize < 60 || slotSize > 65535) {
      throw new SluiceError('SLUICE_PORT_CONFIG', `poll: option 'slotSize' must be an integer in [60, 65535], got ${slotSize}`, {
        field: 'slotSize',
      });
    }
    if (!Number.isInteger(budget) || budget < burst) {
      throw new SluiceError('SLUICE_PORT_CONFIG', `poll: option 'budget' must be an integer >= burst (${burst}), got ${budget}`, {
        field: 'budget',
      });
    }
    const timeBudgetMs = options.timeBudgetMs ?? Infinity;
    if (!(timeBudgetMs > 0)) {
      throw new SluiceError('SLUICE_PORT_CONFIG', `poll: option 'timeBudgetMs' must be > 0, got ${timeBudgetMs}`, { field: 'timeBudgetMs' });
    }
    this.rx = port.createRxBatch?.(burst, slotSize) ?? createFrameBatch(burst, slotSize);
    this.tx = createFrameBatch(burst, slotSize);
    this.budget = budget;
    this.timeBudgetMs = timeBudgetMs;
    this.clock = options.clock;
    this.rxVerdicts = port.offloads.rxChecksum;
    processor.useOffloads?.(port.offloads);
  }

  /**
   * One iteration at time `now`; returns frames moved (received + sent). The time budget runs
   * from `startedAt` (the clock's reading; default `now`).
   */
  step(now: number, startedAt = now): number {
    const s = this.last;
    const { port, processor, rx, tx, budget, clock } = this;
    s.rxFrames = s.rxBytes = s.rxBursts = s.txFrames = s.txBytes = s.txBursts = 0;
    s.limited = false;
    const timeLimited = clock !== undefined && this.timeBudgetMs !== Infinity;
    const until = startedAt + this.timeBudgetMs;

    for (;;) {
      const n = port.rxBurst(rx);
      if (n === 0) break;
      s.rxBursts++;
      const slot = rx.slotSize;
      const flags = this.rxVerdicts ? rx.flags : null;
      // A port's own memory (DPDK in place): frame i where the port says; else slot i.
      const offsets = rx.offsets;
      for (let i = 0; i < n; i++) {
        const len = rx.lengths[i]!;
        s.rxBytes += len;
        processor.input(rx.data, offsets === undefined ? i * slot : offsets[i]!, len, now, flags === null ? 0 : flags[i]!);
      }
      s.rxFrames += n;
      if (n < rx.capacity) break;
      if (s.rxFrames >= budget || (timeLimited && clock() >= until)) {
        s.limited = true;
        break;
      }
    }

    for (;;) {
      let produced = 0;
      if (this.pending === 0) {
        produced = processor.output(tx, now);
        if (produced === 0) break;
        this.pending = produced;
      }
      const offered = this.pending;
      const sent = port.txBurst(tx, offered);
      s.txBursts++;
      for (let i = 0; i < sent; i++) s.txBytes += tx.lengths[i]!;
      s.txFrames += sent;
      if (sent < offered) {
        // The device is full: keep the rest at the front of the batch and retry next step,
        // without asking the processor for more (backpressure reaches TCP as unsent data).
        const slot = tx.slotSize;
        tx.data.copyWithin(0, sent * slot, offered * slot);
        tx.lengths.copyWithin(0, sent, offered);
        tx.flags.copyWithin(0, sent, offered);
        this.pending = offered - sent;
        break;
      }
      this.pending = 0;
      // A short fresh batch means the processor had no more to say; after a retried remainder,
      // ask it again.
      if (produced > 0 && produced < tx.capacity) break;
      if (s.txFrames >= budget || (timeLimited && clock() >= until)) {
        s.limited = true;
        break;
      }
    }
    s.txPending = this.pending;
    return s.rxFrames + s.txFrames;
  }
}

// ---------------------------------------------------------------------------------------------
// The loop

export interface PollMetrics {
  iterations: number;
  /** Iterations that moved no frame. */
  emptyPolls: number;
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  /** rxBurst calls that returned frames. */
  rxBursts: number;
  txBursts: number;
  /** Port-level drops (rxDropped + txDropped) since start. */
  drops: number;
  /** Time spent inside steps, ms. */
  busyMs: number;
  /** Time since start, ms. */
  wallMs: number;
  /** busyMs / wallMs. */
  dutyCycle: number;
  maxLoopMs: number;
  /** Iterations cut short by the frame or time budget. */
  budgetHits: number;
  /** Sleeps taken, and what ended them. */
  sleeps: number;
  fdWakes: number;
  timerWakes: number;
  kicks: number;
}

/** One observer report: what happened since the previous report. */
export interface PollReport {
  intervalMs: number;
  packets: number;
  bytes: number;
  drops: number;
  bursts: number;
  emptyPolls: number;
  iterations: number;
  packetsPerBurst: number;
  loopMsAvg: number;
  loopMsMax: number;
  dutyCycle: number;
  sleeps: number;
}

export interface PollObserver {
  report(r: PollReport, totals: Readonly<PollMetrics>): void;
}

export interface PollLoopOptions extends PumpOptions {
  /** Milliseconds, monotonic; the processor's `now` and deadlines use it. Default performance.now. */
  clock?: () => number;
  policy?: Partial<PollPolicy>;
  /** Sleep on the port's waitFd through the native FdWaiter when it has one. Default true. */
  useWaitFd?: boolean;
  observer?: PollObserver;
  /** How often the observer hears from the loop, ms. Default 1000. */
  reportIntervalMs?: number;
  /** A port or processor error stops the loop and lands here. Default: rethrown (uncaught). */
  onError?: (e: unknown) => void;
  /** Called after every iteration with the frames it moved and the delay chosen (tracing, bench). */
  onIteration?: (moved: number, delayMs: number) => void;
}

type Wake = 'timer' | 'fd';

// 4 ms: the longest one poll iteration may hold the event loop, so timers, TLS and HTTP work
// sharing the loop wait at most that long even when the netstack is slow per frame (TCP echo over
// TAP measured ~30 ms for a 256-frame iteration before this bound, bench/port-memory.ts).
export const DEFAULT_TIME_BUDGET_MS = 4;

export class PollLoop {
  readonly pump: PortPump;
  private readonly clock: () => number;
  private readonly policy: Readonly<PollPolicy>;
  private readonly history: Int32Array;
  private readonly useWaitFd: boolean;
  private waiter: FdWaiter | undefined;
  private readonly onIteration: ((moved: number, delayMs: number) => void) | undefined;
  private readonly observer: PollObserver | undefined;
  private readonly reportIntervalMs: number;
  private readonly onError: (e: unknown) => void;
  private running = false;
  private immediate: ReturnType<typeof setImmediate> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sleeping = false;
  private startedAt = NaN;
  private readonly m: PollMetrics = {
    iterations: 0,
    emptyPolls: 0,
    rxPackets: 0,
    rxBytes: 0,
    txPackets: 0,
    txBytes: 0,
    rxBursts: 0,
    txBursts: 0,
    drops: 0,
    busyMs: 0,
    wallMs: 0,
    dutyCycle: 0,
    maxLoopMs: 0,
    budgetHits: 0,
    sleeps: 0,
    fdWakes: 0,
    timerWakes: 0,
    kicks: 0,
  };
  private dropsAtStart = 0;
  // Totals of earlier runs (start/stop cycles), so duty cycle and drops stay cumulative.
  private wallBefore = 0;
  private dropsBefore = 0;
  private lastReportAt = 0;
  private lastReport: PollMetrics;
  private intervalMaxLoop = 0;

  constructor(
    readonly port: PacketPort,
    readonly processor: PacketProcessor,
    options: PollLoopOptions = {},
  ) {
    this.clock = options.clock ?? (() => performance.now());
    this.pump = new PortPump(port, processor, { timeBudgetMs: DEFAULT_TIME_BUDGET_MS, ...options, clock: this.clock });
    this.policy = { ...DEFAULT_POLICY, ...options.policy };
    const p = this.policy;
    if (
      !Number.isInteger(p.window) ||
      p.window < 1 ||
      p.window > 65536 ||
      !Number.isInteger(p.spinPolls) ||
      p.spinPolls < 0 ||
      p.spinPolls > 65536 ||
      !(p.minSleepMs >= 1) ||
      !(p.maxSleepMs >= p.minSleepMs) ||
      !(p.maxWaitMs >= 1)
    ) {
      throw new SluiceError(
        'SLUICE_PORT_CONFIG',
        `poll: invalid policy ${JSON.stringify(p)} (integers window in [1, 65536] and spinPolls in [0, 65536]; 1 <= minSleepMs <= maxSleepMs; maxWaitMs >= 1)`,
        { field: 'policy' },
      );
    }
    this.history = new Int32Array(historyLength(this.policy));
    this.observer = options.observer;
    this.reportIntervalMs = options.reportIntervalMs ?? 1000;
    this.onError =
      options.onError ??
      ((e) => {
        throw e;
      });
    this.onIteration = options.onIteration;
    this.useWaitFd = (options.useWaitFd ?? true) && port.waitFd >= 0;
    // Load the addon now so a missing build fails at construction, not at start().
    if (this.useWaitFd) loadNative();
    this.lastReport = { ...this.m };
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Whether the loop sleeps on the port's fd when idle. */
  get waitsOnFd(): boolean {
    return this.useWaitFd;
  }

  /** Starts polling (again, after stop()). The port must stay open until stop(). */
  start(): void {
    if (this.running) return;
    if (this.useWaitFd) this.waiter = new (loadNative().FdWaiter)(this.port.waitFd, () => this.wakeUp('fd'));
    this.running = true;
    this.startedAt = this.lastReportAt = this.clock();
    const c = this.port.counters();
    this.dropsAtStart = c.rxDropped + c.txDropped;
    this.schedule(0);
  }

  /** Stops polling and releases the fd waiter; call it before closing the port. Idempotent. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.cancel();
    this.waiter?.close();
    this.waiter = undefined;
    this.refreshTotals();
    this.wallBefore = this.m.wallMs;
    this.dropsBefore = this.m.drops;
    this.startedAt = NaN;
    this.maybeReport(true);
  }

  /**
   * Poll soon: the application queued output (a TCP write) while the loop may be asleep. The
   * iteration runs on the next event-loop turn, never inside the caller's stack, so the netstack
   * is not re-entered from its own callbacks.
   */
  wake(): void {
    if (!this.running || !this.sleeping) return;
    this.cancel();
    this.m.kicks++;
    this.immediate = setImmediate(this.iterate);
  }

  /** Cumulative metrics since start. */
  metrics(): PollMetrics {
    this.refreshTotals();
    return { ...this.m };
  }

  private readonly iterate = (): void => {
    this.immediate = undefined;
    if (!this.running) return;
    const t0 = this.clock();
    let moved: number;
    try {
      // The stack's time is whole milliseconds: a fractional number handed to a function V8 did
      // not inline is boxed (a heap object per call), and `now` goes with every frame. Integral
      // values stay unboxed for 2^31 ms (24.8 days) of the clock; RTT and timers keep 1 ms
      // granularity, as with Linux's TCP timestamps (RFC 6298 allows for a clock granularity).
      // Rounded up, so a deadline the loop woke for (deadline <= t0) is due at the time it gets.
      moved = this.pump.step(Math.ceil(t0), t0);
    } catch (e) {
      this.stop();
      this.onError(e);
      return;
    }
    const t1 = this.clock();
    const m = this.m;
    const s = this.pump.last;
    const loopMs = t1 - t0;
    m.iterations++;
    m.busyMs += loopMs;
    if (loopMs > m.maxLoopMs) m.maxLoopMs = loopMs;
    if (loopMs > this.intervalMaxLoop) this.intervalMaxLoop = loopMs;
    if (moved === 0) m.emptyPolls++;
    if (s.limited) m.budgetHits++;
    m.rxPackets += s.rxFrames;
    m.rxBytes += s.rxBytes;
    m.txPackets += s.txFrames;
    m.txBytes += s.txBytes;
    m.rxBursts += s.rxBursts;
    m.txBursts += s.txBursts;

    const h = this.history;
    h.copyWithin(0, 1);
    h[h.length - 1] = moved;
    let delay = nextPollDelay(h, this.policy, this.waiter !== undefined);
    // A device that refused frames gets them again soon, whatever the traffic looked like.
    if (s.txPending > 0 && delay > this.policy.minSleepMs) delay = this.policy.minSleepMs;
    const deadline = this.processor.nextDeadline();
    if (deadline <= t1) delay = 0;
    else if (deadline - t1 < delay) delay = deadline - t1;
    if (t1 - this.lastReportAt >= this.reportIntervalMs) {
      this.refreshTotals();
      this.maybeReport(false);
    }
    this.onIteration?.(moved, delay);
    this.schedule(delay);
  };

  private schedule(delay: number): void {
    if (delay <= 0) {
      this.immediate = setImmediate(this.iterate);
      return;
    }
    this.sleeping = true;
    this.m.sleeps++;
    // ceil: waking before the deadline would only cost an empty poll and a second sleep.
    this.timer = setTimeout(() => this.wakeUp('timer'), Math.ceil(delay));
    if (this.waiter) {
      try {
        this.waiter.arm();
      } catch (e) {
        this.stop();
        this.onError(e);
      }
    }
  }

  private wakeUp(why: Wake): void {
    if (!this.running || !this.sleeping) return;
    this.cancel();
    if (why === 'fd') this.m.fdWakes++;
    else this.m.timerWakes++;
    // Called from a timer or libuv poll callback: run now rather than one more loop turn later.
    this.iterate();
  }

  private cancel(): void {
    this.sleeping = false;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.immediate !== undefined) {
      clearImmediate(this.immediate);
      this.immediate = undefined;
    }
    this.waiter?.disarm();
  }

  private refreshTotals(): void {
    const m = this.m;
    if (Number.isNaN(this.startedAt)) return;
    m.wallMs = this.wallBefore + (this.clock() - this.startedAt);
    m.dutyCycle = m.wallMs > 0 ? Math.min(1, m.busyMs / m.wallMs) : 0;
    const c = this.port.counters();
    m.drops = this.dropsBefore + (c.rxDropped + c.txDropped - this.dropsAtStart);
  }

  private maybeReport(final: boolean): void {
    if (!this.observer) return;
    const now = this.clock();
    const prev = this.lastReport;
    const m = this.m;
    const intervalMs = now - this.lastReportAt;
    if (!final && intervalMs < this.reportIntervalMs) return;
    const iterations = m.iterations - prev.iterations;
    const bursts = m.rxBursts - prev.rxBursts + (m.txBursts - prev.txBursts);
    const rxBursts = m.rxBursts - prev.rxBursts;
    const busy = m.busyMs - prev.busyMs;
    const r: PollReport = {
      intervalMs,
      packets: m.rxPackets - prev.rxPackets + (m.txPackets - prev.txPackets),
      bytes: m.rxBytes - prev.rxBytes + (m.txBytes - prev.txBytes),
      drops: m.drops - prev.drops,
      bursts,
      emptyPolls: m.emptyPolls - prev.emptyPolls,
      iterations,
      packetsPerBurst: rxBursts > 0 ? (m.rxPackets - prev.rxPackets) / rxBursts : 0,
      loopMsAvg: iterations > 0 ? busy / iterations : 0,
      loopMsMax: this.intervalMaxLoop,
      dutyCycle: intervalMs > 0 ? Math.min(1, busy / intervalMs) : 0,
      sleeps: m.sleeps - prev.sleeps,
    };
    this.lastReport = { ...m };
    this.lastReportAt = now;
    this.intervalMaxLoop = 0;
    this.observer.report(r, { ...m });
  }
}
