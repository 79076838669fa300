// CUBIC congestion avoidance (RFC 9438), used when TcpConfig.congestionControl is 'cubic'.
// Slow start, fast retransmit / recovery and the RTO stay as in tcb.ts (RFC 5681, 6582, 6675);
// CUBIC changes the multiplicative decrease (beta 0.7 instead of 0.5) and the window growth in
// congestion avoidance: a cubic function of the time since the last reduction, never slower
// than Reno would be (the Reno-friendly estimate W_est, RFC 9438 4.3).

/** RFC 9438 5.1 / 4.6 constants. */
const C = 0.4;
const BETA = 0.7;
const ALPHA = (3 * (1 - BETA)) / (1 + BETA);

export class Cubic {
  /** Window before the last reduction, in segments (W_max). */
  private wMax = 0;
  /** Start of the current congestion-avoidance epoch (ms), -1 when none. */
  private epoch = -1;
  /** Seconds from the epoch to the time the window is back at W_max. */
  private k = 0;
  /** Reno-friendly estimate, segments. */
  private wEst = 0;
  private cwndEpoch = 0;

  /**
   * A congestion event (RFC 9438 4.6 / 4.7): returns the new ssthresh in bytes. `cwnd` is the
   * window at the moment loss was detected.
   */
  onCongestion(cwndBytes: number, mss: number): number {
    const cwnd = cwndBytes / mss;
    // 4.7 fast convergence: a flow whose window keeps shrinking releases bandwidth sooner.
    this.wMax = cwnd < this.wMax ? (cwnd * (1 + BETA)) / 2 : cwnd;
    this.epoch = -1;
    return Math.max(Math.floor(cwnd * BETA) * mss, 2 * mss);
  }

  /** RFC 9438 4.8: after an RTO the epoch restarts like after any congestion event. */
  onTimeout(cwndBytes: number, mss: number): number {
    return this.onCongestion(cwndBytes, mss);
  }

  /**
   * Congestion avoidance for an ACK of `acked` bytes at `now` (ms) with smoothed RTT `srttMs`.
   * Returns the new cwnd in bytes.
   */
  onAck(cwndBytes: number, mss: number, acked: number, now: number, srttMs: number): number {
    const cwnd = cwndBytes / mss;
    if (this.epoch < 0) {
      // 4.2: a new epoch starts with the first ACK in congestion avoidance.
      this.epoch = now;
      this.cwndEpoch = cwnd;
      if (this.wMax < cwnd) this.wMax = cwnd;
      this.k = Math.cbrt((this.wMax - cwnd) / C);
      this.wEst = cwnd;
    }
    const t = (now - this.epoch + srttMs) / 1000; // target one RTT ahead (4.4)
    const wCubic = C * (t - this.k) ** 3 + this.wMax;
    this.wEst += (ALPHA * (acked / mss)) / cwnd;
    let target: number;
    if (wCubic < this.wEst) {
      // 4.3 Reno-friendly region
      target = this.wEst;
    } else {
      // 4.4 / 4.5: concave or convex region, at most 1.5x per RTT
      target = Math.min(Math.max(wCubic, cwnd), 1.5 * cwnd);
    }
    const next = cwnd + ((target - cwnd) / cwnd) * (acked / mss);
    return Math.max(next, cwnd) * mss;
  }

  /** W_max in segments, for tests and stats. */
  get windowMax(): number {
    return this.wMax;
  }
}
