// Retransmission timeout per RFC 6298.
//
// Minimum RTO: RFC 6298 2.4 says 1 s; we default to 200 ms (the value Linux has used for years)
// because a gateway's peers sit on LANs and metro links where 1 s stalls every lost tail segment
// for far longer than the path needs; `rtoMinMs` makes it the RFC's 1 s when wanted.

export interface RttConfig {
  rtoMinMs: number;
  rtoMaxMs: number;
  rtoInitialMs: number;
}

/** Clock granularity G of RFC 6298 2: our timestamps are milliseconds. */
const G = 1;

export class RttEstimator {
  srtt = 0;
  rttvar = 0;
  /** The RTO before backoff. */
  baseRto: number;
  /** Exponential backoff shift (RFC 6298 5.5), reset by a new sample. */
  backoff = 0;
  hasSample = false;

  constructor(private readonly cfg: RttConfig) {
    this.baseRto = cfg.rtoInitialMs;
  }

  get rto(): number {
    const r = this.baseRto * 2 ** this.backoff;
    return r > this.cfg.rtoMaxMs ? this.cfg.rtoMaxMs : r;
  }

  /** RFC 6298 2.2 / 2.3, with K = 4, alpha = 1/8, beta = 1/4. */
  sample(r: number): void {
    if (r < 0) return;
    if (!this.hasSample) {
      this.srtt = r;
      this.rttvar = r / 2;
      this.hasSample = true;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    let rto = this.srtt + Math.max(G, 4 * this.rttvar);
    if (rto < this.cfg.rtoMinMs) rto = this.cfg.rtoMinMs;
    if (rto > this.cfg.rtoMaxMs) rto = this.cfg.rtoMaxMs;
    this.baseRto = rto;
    this.backoff = 0;
  }

  /** RFC 6298 5.5: double the RTO on each expiry. */
  backOff(): void {
    if (this.baseRto * 2 ** this.backoff < this.cfg.rtoMaxMs) this.backoff++;
  }
}
