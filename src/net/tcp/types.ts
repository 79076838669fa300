// Configuration, counters and the connection summary of the TCP layer.

import type { TcpStateName } from './state.js';

export interface TcpConfig {
  /** IP MTU of the port; our MSS option is mtu - 40 (RFC 9293 3.7.1, IPv4 without options). */
  mtu: number;
  /** Send queue mark: write() returns false above it (bytes queued, sent or not, not yet acked). */
  sendBufferBytes: number;
  /** Receive buffer: its free space is the window we advertise (RFC 9293 3.8.6). */
  recvBufferBytes: number;
  rtoMinMs: number;
  rtoMaxMs: number;
  rtoInitialMs: number;
  /** Delayed ACK: ack every second full segment or after this long (RFC 9293 3.8.6.3, RFC 1122 4.2.3.2). */
  delayedAckMs: number;
  /** TIME-WAIT lasts 2*MSL (RFC 9293 3.3.2); MSL 30 s by default, short in tests. */
  timeWaitMs: number;
  /** FIN-WAIT-2 gives up after this long without a segment from the peer (not in the RFC; Linux's tcp_fin_timeout). */
  finWait2TimeoutMs: number;
  /** SYN / SYN-ACK retransmissions before giving up. */
  synRetries: number;
  /** Data retransmissions (consecutive RTOs) before the connection is aborted. */
  maxRetries: number;
  timestamps: boolean;
  sack: boolean;
  windowScaling: boolean;
  /** RFC 5961 10: challenge ACKs per second for the whole layer. */
  challengeAckLimit: number;
  /** false when the device verified and fills checksums (offload). */
  checksums: boolean;
  /** Ephemeral port range for connect() without a local port (RFC 6056 suggests 1024-65535; we use the IANA range). */
  ephemeralLow: number;
  ephemeralHigh: number;
  /** Congestion avoidance: 'newreno' (RFC 5681 / 6582) or 'cubic' (RFC 9438). */
  congestionControl: 'newreno' | 'cubic';
  /** Key for ISNs and SYN cookies; random when absent. */
  secret?: Uint8Array;
}

export const DEFAULT_TCP_CONFIG: TcpConfig = {
  mtu: 1500,
  sendBufferBytes: 256 * 1024,
  recvBufferBytes: 256 * 1024,
  rtoMinMs: 200,
  rtoMaxMs: 120_000,
  rtoInitialMs: 1000,
  delayedAckMs: 40,
  timeWaitMs: 60_000,
  finWait2TimeoutMs: 60_000,
  synRetries: 6,
  maxRetries: 15,
  timestamps: true,
  sack: true,
  windowScaling: true,
  challengeAckLimit: 1000,
  checksums: true,
  ephemeralLow: 49152,
  ephemeralHigh: 65535,
  congestionControl: 'newreno',
};

/** Why a connection ended, from the TCP point of view. */
export type TcpCloseReason =
  | 'closed' // orderly: both FINs exchanged
  | 'peer_reset' // RST received
  | 'refused' // RST in answer to our SYN
  | 'aborted' // destroy() (we sent RST)
  | 'timeout' // retransmissions or FIN-WAIT-2 exhausted
  | 'keepalive'; // keepalive probes unanswered

export interface TcpConnectionInfo {
  state: TcpStateName;
  localIp: number;
  localPort: number;
  remoteIp: number;
  remotePort: number;
  /** Bytes written and not yet acknowledged by the peer. */
  sendQueue: number;
  /** Bytes received and not yet taken by the application. */
  recvQueue: number;
  srttMs: number;
  rtoMs: number;
  cwnd: number;
  ssthresh: number;
  sndWnd: number;
  rcvWnd: number;
  mss: number;
  retransmits: number;
  bytesIn: number;
  bytesOut: number;
  segmentsIn: number;
  segmentsOut: number;
  /** Sequence state (RFC 9293 3.3.1), for netstat -o style detail and tests. */
  iss: number;
  sndUna: number;
  sndNxt: number;
  irs: number;
  rcvNxt: number;
  timestamps: boolean;
  sack: boolean;
  sndWscale: number;
  rcvWscale: number;
}

export interface TcpCounters {
  segmentsIn: number;
  segmentsOut: number;
  /**
   * Segments sent again (RTO, fast retransmit, SACK hole fill, tail loss probe of sent data).
   * Zero-window probes are not retransmissions: they count in windowProbes only.
   */
  retransmits: number;
  retransmittedBytes: number;
  resetsSent: number;
  resetsReceived: number;
  checksumErrors: number;
  challengeAcks: number;
  challengeAcksLimited: number;
  activeOpens: number;
  passiveOpens: number;
  synCookiesSent: number;
  synCookiesValid: number;
  synCookiesInvalid: number;
  /** Connections given up (retransmissions, FIN-WAIT-2, keepalive). */
  timeouts: number;
  /** Retransmission timer expiries (RFC 6298 5.4). */
  rtoExpirations: number;
  /** Fast retransmit / recovery episodes entered (RFC 5681 3.2, RFC 6675). */
  fastRecoveries: number;
  /** Tail loss probes sent (RFC 8985 7). */
  tailLossProbes: number;
  /** Zero-window probes sent (RFC 9293 3.8.6.1), first and repeated alike. */
  windowProbes: number;
  /** Segments sent advertising a zero receive window: the application stopped reading (RFC 9293 3.8.6). */
  zeroWindowAdvertised: number;
  keepaliveProbes: number;
  /** Drops by reason: short, bad_header, checksum, options_truncated, options_bad_length, paws, out_of_window, ... */
  drops: Record<string, number>;
  /** Connections currently in each state (LISTEN counts listeners). */
  states: Record<TcpStateName, number>;
}
