// Netstack counters, shared by every part of one stack instance (one per core) and read by the
// metrics exporter and `sluice netstat`. Plain numeric fields: incrementing one allocates nothing.
//
// Accounting rule: every frame given to NetStack.input ends in exactly one place, either one
// `accepted` kind or one `rxDrop` reason, so sum(accepted) + sum(rxDrop) === framesIn. Events that
// are not frame dispositions (a datagram timing out in reassembly, a reply that found no room)
// are counted in their own groups and never in that sum.

/** Why a received frame was discarded. Names are metric labels: keep them stable. */
export const RX_DROP_REASONS = [
  'short_frame', // shorter than the Ethernet header
  'not_for_us', // L2 destination not ours/broadcast, or L3 destination not our address
  'vlan_tagged', // 802.1Q / 802.1ad tagged: this stack serves one untagged link
  'bad_ethertype', // neither IPv4 nor ARP
  'bad_arp', // not Ethernet/IPv4 ARP, bad operation, short
  'arp_other', // well-formed ARP we take nothing from: for another host, unsolicited, or claiming our address
  'bad_ip_version',
  'bad_ip_header', // IHL < 5, header longer than the frame
  'bad_ip_length', // total length < header length or > frame length
  'bad_ip_checksum',
  'bad_ip_source', // martian source: ours, 0.0.0.0, broadcast, multicast, loopback
  'ttl', // TTL 0 on arrival
  'fragment_bad', // offset + length beyond 65535, non-final fragment not a multiple of 8, empty
  'fragment_overlap', // overlaps bytes already received (the datagram is discarded)
  'fragment_duplicate', // exact copy of a fragment already held
  'fragment_table_full', // too many datagrams already in reassembly
  'fragment_too_big', // reassembled size would exceed the per-datagram limit
  'fragment_too_many', // too many fragments for one datagram
  'bad_icmp', // short, bad checksum
  'icmp_ignored', // ICMP types we do not act on (errors: TCP has its own timers; redirects)
  'icmp_rate', // echo request over the reply rate limit
  'unknown_protocol', // neither ICMP nor TCP (answered with protocol unreachable, rate-limited)
  'bad_tcp', // shorter than a TCP header
  'no_transport', // TCP segment and no TCP layer attached
  'filter_deny', // source matched the deny list or missed the allow list
  'filter_syn_rate', // SYN over the per-source token bucket
  'filter_conn_limit', // SYN from a source already at its connection limit
] as const;
export type RxDropReason = (typeof RX_DROP_REASONS)[number];

/** Frames or packets this stack meant to send but did not. */
export const TX_DROP_REASONS = [
  'arp_unresolved', // next hop never answered ARP; packets waiting for it discarded
  'arp_queue_full', // no room to park a packet while its next hop resolves
  'no_route', // destination off-link and no gateway configured
  'tx_queue_full', // no room to queue an ARP or ICMP reply until the next output()
  'icmp_rate', // ICMP error suppressed by its rate limit
  'too_big', // a reply would exceed the MTU (we never fragment)
] as const;
export type TxDropReason = (typeof TX_DROP_REASONS)[number];

export const ACCEPT_KINDS = ['arp', 'icmp', 'tcp', 'fragment'] as const;
export type AcceptKind = (typeof ACCEPT_KINDS)[number];

function zeroed<K extends string>(keys: readonly K[]): Record<K, number> {
  const o = {} as Record<K, number>;
  for (const k of keys) o[k] = 0;
  return o;
}

export class NetStats {
  framesIn = 0;
  bytesIn = 0;
  framesOut = 0;
  bytesOut = 0;
  /** Frames handed on: ARP processed, ICMP processed, TCP delivered, fragment held for reassembly. */
  readonly accepted: Record<AcceptKind, number> = zeroed(ACCEPT_KINDS);
  readonly rxDrop: Record<RxDropReason, number> = zeroed(RX_DROP_REASONS);
  readonly txDrop: Record<TxDropReason, number> = zeroed(TX_DROP_REASONS);
  readonly arp = {
    requestsSent: 0,
    repliesSent: 0,
    announcementsSent: 0,
    /** Entries learned or refreshed from ARP traffic. */
    learned: 0,
    /** Entries given up on after the last retry. */
    failed: 0,
    /** Entries evicted because the table was full. */
    evicted: 0,
    /** ARP from another host claiming our address (RFC 5227 2.4). */
    conflicts: 0,
  };
  readonly reassembly = {
    /** Datagrams reassembled and delivered. */
    completed: 0,
    /** Datagrams discarded after the reassembly timeout (RFC 791: 15 s lower bound). */
    timedOut: 0,
    /** Datagrams discarded because a fragment overlapped (ambiguous contents). */
    overlapDiscarded: 0,
  };
  readonly icmp = {
    echoRequestsSent: 0,
    echoRepliesReceived: 0,
    echoRepliesSent: 0,
    unreachablesSent: 0,
  };
  readonly tcp = {
    /** Segments TCP committed to the sink (sent at once, or parked while ARP resolves). */
    segmentsOut: 0,
  };

  rxDropped(): number {
    let n = 0;
    for (const k of RX_DROP_REASONS) n += this.rxDrop[k];
    return n;
  }

  acceptedTotal(): number {
    let n = 0;
    for (const k of ACCEPT_KINDS) n += this.accepted[k];
    return n;
  }

  txDropped(): number {
    let n = 0;
    for (const k of TX_DROP_REASONS) n += this.txDrop[k];
    return n;
  }

  /** A detached copy for metrics and `sluice netstat` (not for the hot path). */
  snapshot(): NetStatsSnapshot {
    return {
      framesIn: this.framesIn,
      bytesIn: this.bytesIn,
      framesOut: this.framesOut,
      bytesOut: this.bytesOut,
      accepted: { ...this.accepted },
      rxDrop: { ...this.rxDrop },
      txDrop: { ...this.txDrop },
      arp: { ...this.arp },
      reassembly: { ...this.reassembly },
      icmp: { ...this.icmp },
      tcp: { ...this.tcp },
    };
  }
}

export interface NetStatsSnapshot {
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
  accepted: Record<AcceptKind, number>;
  rxDrop: Record<RxDropReason, number>;
  txDrop: Record<TxDropReason, number>;
  arp: NetStats['arp'];
  reassembly: NetStats['reassembly'];
  icmp: NetStats['icmp'];
  tcp: NetStats['tcp'];
}
