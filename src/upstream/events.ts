// What the upstream layer reports, for the integrator to map onto Prometheus metrics and logs.
// Labels use the config's words: cluster, endpoint ("host:port"). Every method is optional and
// called synchronously; an observer must not throw.

import type { ErrorCode } from '../errors.js';
import type { UpstreamErrorSource } from './failure.js';

export interface UpstreamRequestDone {
  readonly cluster: string;
  readonly endpoint: string;
  /** Upstream response status. */
  readonly status: number;
  /** From dispatch of the first attempt to the end of the response body. */
  readonly durationMs: number;
  /** 1, or more when a connect failure or a stale keep-alive connection made us resend. */
  readonly attempts: number;
  readonly bytes: number;
}

export interface UpstreamErrorEvent {
  readonly cluster: string;
  /** '' when no endpoint was chosen (empty cluster, all in backoff). */
  readonly endpoint: string;
  readonly code: ErrorCode;
  /** Short label: the code without the prefix, lowercased (reasonOf). */
  readonly reason: string;
  readonly source: UpstreamErrorSource;
  /** true when this failure was followed by another attempt (so the client did not see it). */
  readonly retried: boolean;
}

export interface UpstreamEndpointHealth {
  readonly cluster: string;
  readonly endpoint: string;
  readonly healthy: boolean;
  /** Backoff started by this failure; 0 when healthy. */
  readonly backoffMs: number;
}

export interface UpstreamEvents {
  onRequestDone?(e: UpstreamRequestDone): void;
  onError?(e: UpstreamErrorEvent): void;
  onEndpointHealth?(e: UpstreamEndpointHealth): void;
}
