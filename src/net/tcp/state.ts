// The connection states of RFC 9293 3.3.2, as an explicit enum, and the list of transitions this
// implementation can take (tests check that every one of them is exercised).

export const enum TcpState {
  CLOSED = 0,
  LISTEN = 1,
  SYN_SENT = 2,
  SYN_RECEIVED = 3,
  ESTABLISHED = 4,
  FIN_WAIT_1 = 5,
  FIN_WAIT_2 = 6,
  CLOSE_WAIT = 7,
  CLOSING = 8,
  LAST_ACK = 9,
  TIME_WAIT = 10,
}

export const STATE_NAMES = [
  'CLOSED',
  'LISTEN',
  'SYN-SENT',
  'SYN-RECEIVED',
  'ESTABLISHED',
  'FIN-WAIT-1',
  'FIN-WAIT-2',
  'CLOSE-WAIT',
  'CLOSING',
  'LAST-ACK',
  'TIME-WAIT',
] as const;

export type TcpStateName = (typeof STATE_NAMES)[number];

export function stateName(s: TcpState): TcpStateName {
  return STATE_NAMES[s];
}

/**
 * Every transition the state machine in tcb.ts takes, as 'FROM>TO'. A passive open starts from
 * LISTEN (the listener's state at the moment the SYN arrives); an active open from CLOSED.
 * LISTEN>ESTABLISHED is the SYN-cookie path: the ACK that returns a valid cookie creates the
 * connection directly in ESTABLISHED. A FIN that also acknowledges our FIN takes FIN-WAIT-1 to
 * FIN-WAIT-2 (fifth step, ACK) and then TIME-WAIT (eighth step, FIN) within the same segment, as
 * the processing order of 3.10.7.4 implies, so there is no direct FIN-WAIT-1>TIME-WAIT edge.
 */
export const TRANSITIONS: readonly string[] = [
  'CLOSED>SYN-SENT', // 3.10.1 OPEN call, active
  'LISTEN>SYN-RECEIVED', // 3.10.7.2 SYN on a listener
  'LISTEN>ESTABLISHED', // SYN cookie validated (RFC 4987 4.4)
  'SYN-SENT>ESTABLISHED', // 3.10.7.3 SYN+ACK
  'SYN-SENT>SYN-RECEIVED', // 3.10.7.3 SYN without ACK: simultaneous open (3.5, figure 8)
  'SYN-SENT>CLOSED', // 3.10.7.3 RST with acceptable ACK; 3.10.4 abort; 3.8.3 retries exhausted
  'SYN-RECEIVED>ESTABLISHED', // 3.10.7.4 fifth, acceptable ACK
  'SYN-RECEIVED>FIN-WAIT-1', // 3.10.4 CLOSE in SYN-RECEIVED
  'SYN-RECEIVED>CLOSED', // 3.10.7.4 second, RST (passive: back to LISTEN, the listener stays)
  'ESTABLISHED>FIN-WAIT-1', // 3.10.4 CLOSE
  'ESTABLISHED>CLOSE-WAIT', // 3.10.7.4 eighth, FIN
  'ESTABLISHED>CLOSED', // 3.10.7.4 second, RST; 3.10.5 ABORT
  'FIN-WAIT-1>FIN-WAIT-2', // 3.10.7.4 fifth, our FIN acknowledged
  'FIN-WAIT-1>CLOSING', // 3.10.7.4 eighth, FIN before our FIN is acked: simultaneous close (3.6)
  'FIN-WAIT-1>CLOSED', // RST or ABORT
  'FIN-WAIT-2>TIME-WAIT', // 3.10.7.4 eighth, FIN
  'FIN-WAIT-2>CLOSED', // RST, ABORT or the FIN-WAIT-2 timeout
  'CLOSE-WAIT>LAST-ACK', // 3.10.4 CLOSE
  'CLOSE-WAIT>CLOSED', // RST or ABORT
  'CLOSING>TIME-WAIT', // 3.10.7.4 fifth, our FIN acknowledged
  'CLOSING>CLOSED', // RST or ABORT
  'LAST-ACK>CLOSED', // 3.10.7.4 fifth, our FIN acknowledged; or RST / ABORT
  'TIME-WAIT>CLOSED', // 3.10.8 time-wait timeout (2 MSL)
];
