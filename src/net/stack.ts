// NetStack: the dispatch between a packet port's frames and the protocol state machines.
// input(): Ethernet -> ARP | IPv4 (-> reassembly) -> ICMP | filter -> TCP.
// output(): ARP replies and requests, queued datagrams whose next hop resolved, then TCP segments
// written straight into the burst through a SegmentSink.
//
// Pure: no I/O, no clock (time is the `now` argument, ms), no exception for any input frame
// (every malformed or unwanted frame is dropped and counted by reason, see stats.ts), and nothing
// allocated per frame on the input or output path.

import { SluiceError } from '../errors.js';
import { RX_L4_SHIFT, TX_IP_CSUM, TX_TCP_CSUM, type FrameBatch, type PacketProcessor, type PortOffloads } from '../io/port.js';
import type { SegmentSink } from './tcp/sink.js';
import { ArpCache, PendingQueue, type ArpOptions } from './arp.js';
import { PacketFilter, type FilterRules } from './filter.js';
import { IcmpLayer, type IcmpOptions, type IpOutput } from './icmp.js';
import { Ipv4Host, NO_ROUTE, Reassembler, type ReassemblyOptions } from './ipv4.js';
import { positive } from './options.js';
import { NetStats, type AcceptKind, type NetStatsSnapshot, type RxDropReason } from './stats.js';
import {
  ARP_LEN,
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  arpOperation,
  arpSenderIp,
  arpSenderMac,
  arpTargetIp,
  checkArp,
  writeArp,
} from './wire/arp.js';
import { copyBytes } from './wire/bytes.js';
import { fillChecksum } from './wire/tcp.js';
import {
  ETH_HEADER_LEN,
  ETH_MIN_FRAME,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_QINQ,
  ETHERTYPE_VLAN,
  etherType,
  formatMac,
  isMulticastMac,
  MAC_BROADCAST,
  macEquals,
  macFromBytes,
  macHigh,
  macLow,
  writeEthernet,
  writeMacParts,
} from './wire/ethernet.js';
import {
  checkIpv4,
  fillIpv4Checksum,
  formatIpv4,
  IP_PROTO_ICMP,
  IP_PROTO_TCP,
  ipDstI32,
  ipHeaderLength,
  ipIsFragment,
  ipProtocol,
  ipSrcI32,
  ipTotalLength,
  ipTtl,
  IPV4_FLAG_DF,
  IPV4_MIN_HEADER,
  parseIpv4,
  writeIpv4Header,
} from './wire/ipv4.js';

/**
 * The TCP layer as the stack sees it. src/net/tcp's TcpLayer implements this. Addresses are
 * uint32 numbers; buf[off, off + len) is the TCP segment (header + payload), valid only during
 * the call (it lives in the receive burst or a reassembly buffer): copy what you keep.
 * `checksum` is the port's verdict on the segment's TCP checksum (RX_CSUM_*; NONE: check it).
 */
export interface TransportProtocol {
  input(srcIp: number, dstIp: number, buf: Uint8Array, off: number, len: number, now: number, checksum: number): void;
  output(now: number, sink: SegmentSink): void;
  nextDeadline(): number;
  /**
   * Connection-table hooks (TcpLayer has them). When present and unset, attachTransport() points
   * them at the filter's per-source connection counts, so the connection limit cannot be left
   * unwired by accident.
   */
  onConnectionOpened?: ((remoteIp: number) => void) | null;
  onConnectionClosed?: ((remoteIp: number) => void) | null;
}

export interface NetStackOptions {
  /** Our MAC address, 6 bytes (PacketPort.mac). */
  mac: Uint8Array;
  /** Our IPv4 address, dotted quad. */
  ip: string;
  /** On-link prefix length, 0-32. */
  prefixLength: number;
  /** Default gateway (must be on-link); without one only on-link hosts are reachable. */
  gateway?: string;
  /** IP MTU (Ethernet payload), 68-9000. */
  mtu: number;
  /** Source filter rules; default allows everything without limits. */
  filter?: FilterRules;
  /** Sources with a SYN token bucket held at once (default 65536). */
  filterMaxTrackedSources?: number;
  arp?: ArpOptions;
  reassembly?: ReassemblyOptions;
  icmp?: IcmpOptions;
  /** Datagrams parked while their next hop resolves (all hops together, and per hop). */
  pendingPackets?: number;
  pendingPerHop?: number;
  /** TTL of datagrams we originate. */
  ttl?: number;
}

export interface NetstatView {
  address: string;
  prefixLength: number;
  gateway: string | null;
  mac: string;
  mtu: number;
  counters: NetStatsSnapshot;
  neighbours: { ip: string; mac: string | null; state: 'incomplete' | 'reachable' | 'probe'; timerMs: number }[];
  tables: {
    arpEntries: number;
    arpMax: number;
    reassemblyDatagrams: number;
    reassemblyMax: number;
    pendingPackets: number;
    pendingMax: number;
    filterSources: number;
    filterSourcesMax: number;
  };
}

export const ALLOW_ALL: FilterRules = {
  allow: [],
  deny: [],
  maxConnectionsPerSource: 0,
  synRatePerSource: 0,
  synBurstPerSource: 0,
};

const ETH_IP = ETH_HEADER_LEN + IPV4_MIN_HEADER;
/** Queued ARP replies between two output() calls; more are dropped (tx_queue_full). */
const ARP_REPLY_QUEUE = 32;
/** TCP flags byte offset in the TCP header and the SYN/ACK bits (RFC 9293 3.1). */
const TCP_FLAGS_OFFSET = 13;
const TCP_SYN = 0x02;
const TCP_ACK = 0x10;
const TCP_MIN_HEADER = 20;

function configError(field: string, value: unknown, why: string): SluiceError {
  return new SluiceError('SLUICE_CONFIG_INVALID', `netstack.${field}: ${JSON.stringify(value)} ${why}`, {
    field: `netstack.${field}`,
    value,
  });
}

/** The SegmentSink TCP writes into: one per stack, re-aimed at each output()'s batch. */
class BatchSink implements SegmentSink {
  buf: Uint8Array = new Uint8Array(0);
  maxSegmentBytes = 0;
  /** The port fills TCP checksums (NetStack.useOffloads); emitIp marks each frame for it. */
  checksumOffload = false;
  batch: FrameBatch | null = null;
  count = 0;
  now = 0;

  constructor(private readonly stack: NetStack) {}

  reserve(_remoteIp: number): number {
    const b = this.batch;
    if (b === null || this.count >= b.capacity) return -1;
    return this.count * b.slotSize + ETH_IP;
  }

  commit(localIp: number, remoteIp: number, tcpLen: number): void {
    const b = this.batch;
    if (b === null || this.count >= b.capacity) return;
    const slot = this.count * b.slotSize;
    this.stack.stats.tcp.segmentsOut++;
    if (this.stack.emitIp(b, slot, localIp, remoteIp, IP_PROTO_TCP, tcpLen, this.now)) this.count++;
  }
}

export class NetStack implements PacketProcessor {
  readonly stats = new NetStats();
  readonly mac: number;
  private readonly macHi: number;
  private readonly macLo: number;
  /** Our address, uint32. */
  readonly ip: number;
  private readonly ip32: number;
  readonly mtu: number;
  readonly host: Ipv4Host;
  readonly arp: ArpCache;
  readonly reassembler: Reassembler;
  readonly icmp: IcmpLayer;
  readonly filter: PacketFilter;
  readonly pending: PendingQueue;
  private readonly ttl: number;
  private transport: TransportProtocol | null = null;
  private readonly sink: BatchSink;
  private ipId = 1;
  private lastNow = 0;
  /** The port fills IPv4 and TCP checksums of the TCP frames we send (useOffloads). */
  private txOffload = false;
  /** Something queued at input time wants an output() soon. */
  private kick = false;
  private announcements = 0;
  private readonly replyMac = new Float64Array(ARP_REPLY_QUEUE);
  private readonly replyIp = new Float64Array(ARP_REPLY_QUEUE);
  private replyCount = 0;
  private readonly ipOut: IpOutput;

  constructor(opts: NetStackOptions) {
    if (!(opts.mac instanceof Uint8Array) || opts.mac.length !== 6) {
      throw configError('mac', opts.mac && opts.mac.length, 'must be a 6-byte MAC address');
    }
    this.mac = macFromBytes(opts.mac);
    this.macHi = macHigh(this.mac);
    this.macLo = macLow(this.mac);
    if (this.mac === 0 || isMulticastMac(this.mac)) throw configError('mac', Array.from(opts.mac), 'must be a unicast, non-zero MAC');
    this.ip = parseIpv4(opts.ip);
    if (this.ip < 0) throw configError('ip', opts.ip, 'is not a dotted-quad IPv4 address');
    this.ip32 = this.ip | 0;
    if (!Number.isInteger(opts.prefixLength) || opts.prefixLength < 0 || opts.prefixLength > 32) {
      throw configError('prefixLength', opts.prefixLength, 'must be an integer 0-32');
    }
    let gateway = -1;
    if (opts.gateway !== undefined) {
      gateway = parseIpv4(opts.gateway);
      if (gateway < 0) throw configError('gateway', opts.gateway, 'is not a dotted-quad IPv4 address');
    }
    this.host = new Ipv4Host(this.ip, opts.prefixLength, gateway);
    if ([0, 127].includes(this.ip >>> 24) || this.ip >>> 24 >= 224) {
      throw configError('ip', opts.ip, 'is not a usable host address (0/8, 127/8 and 224/3 are not)');
    }
    if (gateway >= 0 && (!this.host.isOnLink(gateway) || gateway === this.ip)) {
      throw configError('gateway', opts.gateway, `must be another address inside ${opts.ip}/${opts.prefixLength}`);
    }
    if (!Number.isInteger(opts.mtu) || opts.mtu < 68 || opts.mtu > 9000) {
      throw configError('mtu', opts.mtu, 'must be an integer 68-9000 (RFC 791 minimum to jumbo)');
    }
    this.mtu = opts.mtu;
    this.ttl = opts.ttl ?? 64;
    if (!Number.isInteger(this.ttl) || this.ttl < 1 || this.ttl > 255) throw configError('ttl', opts.ttl, 'must be an integer 1-255');
    const pendingPackets = opts.pendingPackets ?? 64;
    const pendingPerHop = opts.pendingPerHop ?? 16;
    if (!Number.isInteger(pendingPackets) || pendingPackets < 1 || pendingPackets > 65536) {
      throw configError('pendingPackets', opts.pendingPackets, 'must be an integer 1-65536');
    }
    if (!Number.isInteger(pendingPerHop) || pendingPerHop < 1) {
      throw configError('pendingPerHop', opts.pendingPerHop, 'must be an integer >= 1');
    }
    this.arp = new ArpCache(this.stats, opts.arp);
    this.reassembler = new Reassembler(this.stats, opts.reassembly);
    if (opts.filterMaxTrackedSources !== undefined) positive('netstack.filterMaxTrackedSources', opts.filterMaxTrackedSources, true);
    this.filter = new PacketFilter(opts.filter ?? ALLOW_ALL, this.stats, {
      path: 'netstack.filter',
      maxTrackedSources: opts.filterMaxTrackedSources,
    });
    this.pending = new PendingQueue(pendingPackets, this.mtu, pendingPerHop);
    this.sink = new BatchSink(this);
    const pending = this.pending;
    const self = this;
    let allocAt = -1;
    let allocHop = -1;
    this.ipOut = {
      buf: pending.buf,
      alloc(dst: number, payloadLen: number): number {
        allocAt = -1;
        const hop = self.host.nextHop(dst);
        if (hop === NO_ROUTE) {
          self.stats.txDrop.no_route++;
          return -1;
        }
        if (IPV4_MIN_HEADER + payloadLen > self.mtu) {
          self.stats.txDrop.too_big++;
          return -1;
        }
        const at = pending.alloc(hop, IPV4_MIN_HEADER + payloadLen);
        if (at < 0) {
          self.stats.txDrop.tx_queue_full++;
          return -1;
        }
        allocAt = at;
        allocHop = hop;
        return at + IPV4_MIN_HEADER;
      },
      commit(dst: number, protocol: number, payloadLen: number): void {
        if (allocAt < 0) return;
        writeIpv4Header(pending.buf, allocAt, IPV4_MIN_HEADER + payloadLen, self.nextId(), IPV4_FLAG_DF, self.ttl, protocol, self.ip, dst);
        self.arp.ensure(allocHop, self.lastNow); // starts resolution if needed
        self.kick = true;
        allocAt = -1;
      },
    };
    this.icmp = new IcmpLayer(this.stats, this.ipOut, opts.icmp);
  }

  /**
   * What `sluice netstat` and the metrics show for this stack (allocates: not per frame):
   * counters, the neighbour table and table occupancy against their limits.
   */
  netstat(now = this.lastNow): NetstatView {
    return {
      address: formatIpv4(this.ip),
      prefixLength: this.host.prefixLength,
      gateway: this.host.gateway < 0 ? null : formatIpv4(this.host.gateway),
      mac: formatMac(this.mac),
      mtu: this.mtu,
      counters: this.stats.snapshot(),
      neighbours: this.arp.list(now).map((e) => ({
        ip: formatIpv4(e.ip),
        mac: e.mac < 0 ? null : formatMac(e.mac),
        state: e.state,
        timerMs: e.timerMs,
      })),
      tables: {
        arpEntries: this.arp.size,
        arpMax: this.arp.maxEntries,
        reassemblyDatagrams: this.reassembler.active,
        reassemblyMax: this.reassembler.maxDatagrams,
        pendingPackets: this.pending.size,
        pendingMax: this.pending.slots,
        filterSources: this.filter.trackedSources,
        filterSourcesMax: this.filter.maxTrackedSources,
      },
    };
  }

  /** Attach the TCP layer (once); wires its connection hooks to the filter if they are unset. */
  attachTransport(t: TransportProtocol): void {
    this.transport = t;
    const f = this.filter;
    if ('onConnectionOpened' in t && t.onConnectionOpened == null) t.onConnectionOpened = (ip) => f.connectionOpened(ip);
    if ('onConnectionClosed' in t && t.onConnectionClosed == null) t.onConnectionClosed = (ip) => f.connectionClosed(ip);
  }

  /** Queue a gratuitous ARP announcement (RFC 5227 2.3) for the next output(); call at start. */
  announce(): void {
    if (this.announcements < 3) this.announcements++;
    this.kick = true;
  }

  /**
   * Send an ICMP echo request (diagnostics and tests); replies arrive through
   * `icmp.onEchoReply`. Resolves the next hop first if needed. False when it could not be queued.
   */
  ping(dst: string | number, id: number, seq: number, dataLen = 32, now = this.lastNow): boolean {
    const ip = typeof dst === 'number' ? dst : parseIpv4(dst);
    if (ip < 0) throw new RangeError(`ping: ${JSON.stringify(dst)} is not a dotted-quad IPv4 address`);
    this.lastNow = now;
    return this.icmp.echoRequest(ip, id, seq, dataLen);
  }

  /**
   * What the port under this stack offloads (PacketProcessor; PortPump calls it). With tx checksum
   * offload, TCP frames leave with their IPv4 header and TCP checksums for the port to fill
   * (batch.flags); rx verdicts need nothing here: input() takes them per frame.
   */
  useOffloads(offloads: PortOffloads): void {
    this.txOffload = offloads.txChecksum;
    this.sink.checksumOffload = offloads.txChecksum;
  }

  nextDeadline(): number {
    if (this.kick || this.replyCount > 0 || this.announcements > 0) return this.lastNow;
    let d = Math.min(this.arp.nextDeadline(), this.reassembler.nextDeadline());
    if (this.transport !== null) d = Math.min(d, this.transport.nextDeadline());
    return d;
  }

  /**
   * One received frame. `rxFlags`: the port's checksum verdicts (src/io/port.ts RX_*), 0 when it
   * checked nothing; a verdict replaces the check here, with the same drop reason and counters.
   */
  input(buf: Uint8Array, off: number, len: number, now: number, rxFlags = 0): void {
    this.lastNow = now;
    this.stats.framesIn++;
    this.stats.bytesIn += len;
    const r = this.dispatch(buf, off, len, now, rxFlags);
    if (r === 'counted') return;
    if (r === 'arp' || r === 'icmp' || r === 'tcp' || r === 'fragment') this.stats.accepted[r]++;
    else this.stats.rxDrop[r]++;
  }

  private dispatch(buf: Uint8Array, off: number, len: number, now: number, rxFlags: number): RxDropReason | AcceptKind | 'counted' {
    if (len < ETH_HEADER_LEN || off < 0 || off + len > buf.length) return 'short_frame';
    // Compared as int32 halves: a 48-bit number here would be a heap number per frame.
    const unicast = macEquals(buf, off, this.macHi, this.macLo);
    if (!unicast && !macEquals(buf, off, 0xffff, -1)) return 'not_for_us';
    const type = etherType(buf, off);
    if (type === ETHERTYPE_IPV4) {
      if (!unicast) return 'not_for_us'; // IPv4 to the broadcast MAC: not unicast to us
      return this.ipInput(buf, off + ETH_HEADER_LEN, len - ETH_HEADER_LEN, now, rxFlags);
    }
    if (type === ETHERTYPE_ARP) return this.arpInput(buf, off + ETH_HEADER_LEN, len - ETH_HEADER_LEN, now);
    if (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ) return 'vlan_tagged';
    return 'bad_ethertype';
  }

  private arpInput(buf: Uint8Array, o: number, len: number, now: number): RxDropReason | AcceptKind {
    if (!checkArp(buf, o, len)) return 'bad_arp';
    const op = arpOperation(buf, o);
    const sha = arpSenderMac(buf, o);
    const spa = arpSenderIp(buf, o);
    const tpa = arpTargetIp(buf, o);
    if (sha === this.mac || isMulticastMac(sha) || sha === 0) return 'arp_other';
    if (spa === this.ip) {
      // Another host claims our address (RFC 5227 2.4 conflict): never learn it; counted.
      this.stats.arp.conflicts++;
      return 'arp_other';
    }
    const forUs = tpa === this.ip;
    // Learn only plausible on-link neighbours; spa 0.0.0.0 is an RFC 5227 probe (nothing to learn).
    // New entries only from requests to us (RFC 826: we are about to answer them); an unsolicited
    // reply only refreshes an entry we have (Linux arp_accept=0 behaves the same).
    let merged = false;
    if (spa !== 0 && this.host.isOnLink(spa) && !this.host.isMartianSource(spa)) {
      merged = this.arp.learn(spa, sha, now, forUs && op === ARP_OP_REQUEST);
      if (merged && this.pending.size > 0) this.kick = true;
    }
    if (forUs && op === ARP_OP_REQUEST) {
      if (this.replyCount < ARP_REPLY_QUEUE) {
        this.replyMac[this.replyCount] = sha;
        this.replyIp[this.replyCount] = spa;
        this.replyCount++;
      } else {
        this.stats.txDrop.tx_queue_full++;
      }
      return 'arp';
    }
    return merged ? 'arp' : 'arp_other';
  }

  private ipInput(buf: Uint8Array, o: number, len: number, now: number, rxFlags: number): RxDropReason | AcceptKind | 'counted' {
    const err = checkIpv4(buf, o, len, rxFlags & 3);
    if (err !== null) return err;
    // int32 forms on the per-frame path (see ipSrcI32); uint32 again only at the TCP boundary.
    const dst = ipDstI32(buf, o);
    if (dst !== this.ip32) return 'not_for_us';
    const src = ipSrcI32(buf, o);
    if (this.host.isMartianSource(src)) return 'bad_ip_source';
    // A router would never forward TTL 0; a host keeps TTL 1 (RFC 1122 3.2.1.7).
    if (ipTtl(buf, o) === 0) return 'ttl';
    const proto = ipProtocol(buf, o);
    // Filter before reassembly too: a denied source gets no reassembly memory.
    if (proto === IP_PROTO_TCP && !this.filter.allowPacket(src)) return 'counted';
    const hl = ipHeaderLength(buf, o);
    if (ipIsFragment(buf, o)) {
      const r = this.reassembler.input(buf, o, now);
      if (r === 'held') return 'fragment';
      if (r !== 'complete') return r;
      const ra = this.reassembler;
      // The port saw only fragments (no verdict): the reassembled segment is checked in TCP.
      return this.deliver(ra.outSrc, ra.outDst, ra.outProto, ra.outBuf, ra.outHeaderOff, ra.outHeaderLength, ra.outOff, ra.outLen, now, 0);
    }
    return this.deliver(src, dst, proto, buf, o, hl, o + hl, ipTotalLength(buf, o) - hl, now, (rxFlags >>> RX_L4_SHIFT) & 3);
  }

  private deliver(
    src: number,
    dst: number,
    proto: number,
    buf: Uint8Array,
    ipOff: number,
    hl: number,
    off: number,
    len: number,
    now: number,
    l4Verdict: number,
  ): RxDropReason | AcceptKind | 'counted' {
    if (proto === IP_PROTO_TCP) {
      if (len < TCP_MIN_HEADER) return 'bad_tcp';
      if (this.transport === null) return 'no_transport';
      // A connection-opening SYN (SYN without ACK) passes the per-source limits first.
      if ((buf[off + TCP_FLAGS_OFFSET] & (TCP_SYN | TCP_ACK)) === TCP_SYN && !this.filter.allowSyn(src, now)) return 'counted';
      // The TransportProtocol/SegmentSink contract is uint32 addresses.
      this.transport.input(src >>> 0, dst >>> 0, buf, off, len, now, l4Verdict);
      return 'tcp';
    }
    if (proto === IP_PROTO_ICMP) return this.icmp.input(src, buf, off, len, now) ?? 'icmp';
    this.icmp.protocolUnreachable(src, buf, ipOff, hl, len, now);
    return 'unknown_protocol';
  }

  output(batch: FrameBatch, now: number): number {
    this.lastNow = now;
    this.kick = false;
    this.arp.service(now);
    this.reassembler.service(now);
    const cap = batch.capacity;
    const size = batch.slotSize;
    const data = batch.data;
    let n = 0;
    if (size < ETH_MIN_FRAME) return 0;
    // Frames other than our TCP (ARP, parked datagrams) go out as written: no offload asked.
    if (this.txOffload) batch.flags.fill(0, 0, cap);

    while (this.replyCount > 0 && n < cap) {
      this.replyCount--;
      this.writeArpFrame(data, n * size, ARP_OP_REPLY, this.replyMac[this.replyCount], this.replyMac[this.replyCount], this.replyIp[this.replyCount]);
      batch.lengths[n++] = ETH_MIN_FRAME;
      this.stats.arp.repliesSent++;
    }
    while (this.announcements > 0 && n < cap) {
      this.announcements--;
      // RFC 5227 2.3 announcement: a request with sender and target address both ours.
      this.writeArpFrame(data, n * size, ARP_OP_REQUEST, MAC_BROADCAST, 0, this.ip);
      batch.lengths[n++] = ETH_MIN_FRAME;
      this.stats.arp.announcementsSent++;
    }
    while (n < cap && this.arp.dueCount > 0) {
      const ip = this.arp.popDue();
      if (ip < 0) break;
      this.writeArpFrame(data, n * size, ARP_OP_REQUEST, MAC_BROADCAST, 0, ip);
      batch.lengths[n++] = ETH_MIN_FRAME;
      this.arp.requestSent(ip, now);
      this.stats.arp.requestsSent++;
    }

    // Parked datagrams: send those whose next hop resolved, drop those whose resolution failed.
    const p = this.pending;
    for (let i = 0; i < p.size && n < cap; ) {
      const hop = p.hopAt(i);
      if (!this.arp.has(hop)) {
        this.stats.txDrop.arp_unresolved++;
        p.removeAt(i);
        continue;
      }
      const len = p.lengthAt(i);
      if (ETH_HEADER_LEN + len > size) {
        this.stats.txDrop.too_big++;
        p.removeAt(i);
        continue;
      }
      const slot = n * size;
      if (!this.arp.resolve(hop, now, data, slot)) {
        i++;
        continue;
      }
      this.writeEthernetSource(data, slot);
      copyBytes(data, slot + ETH_HEADER_LEN, p.buf, p.offsetAt(i), len);
      batch.lengths[n++] = this.pad(data, slot, ETH_HEADER_LEN + len);
      p.removeAt(i);
    }

    if (this.transport !== null && n < cap) {
      const s = this.sink;
      s.batch = batch;
      s.buf = data;
      s.count = n;
      s.now = now;
      s.maxSegmentBytes = Math.min(size - ETH_IP, this.mtu - IPV4_MIN_HEADER);
      this.transport.output(now, s);
      n = s.count;
      s.batch = null;
    }
    if (this.replyCount > 0 || this.announcements > 0 || this.arp.dueCount > 0) this.kick = true;
    this.stats.framesOut += n;
    for (let i = 0; i < n; i++) this.stats.bytesOut += batch.lengths[i];
    return n;
  }

  /**
   * Finish a datagram whose payload (`payloadLen` bytes) is already at slot + 34: IPv4 header
   * (DF, our TTL, next id) and Ethernet header to the next hop. Returns false when the datagram
   * did not take the slot (no route, or parked/dropped while ARP resolves; counted). With tx
   * checksum offload the IPv4 checksum, and a TCP payload's (which TCP left), are the port's.
   */
  emitIp(batch: FrameBatch, slot: number, src: number, dst: number, proto: number, payloadLen: number, now: number): boolean {
    const data = batch.data;
    const ipLen = IPV4_MIN_HEADER + payloadLen;
    const offload = this.txOffload;
    const ip = slot + ETH_HEADER_LEN;
    writeIpv4Header(data, ip, ipLen, this.nextId(), IPV4_FLAG_DF, this.ttl, proto, src, dst, 0, !offload);
    const hop = this.host.nextHop(dst);
    if (hop === NO_ROUTE) {
      this.stats.txDrop.no_route++;
      return false;
    }
    if (!this.arp.resolve(hop, now, data, slot)) {
      // Parked datagrams leave later as written (no flags): finish their checksums here.
      if (offload) {
        fillIpv4Checksum(data, ip);
        if (proto === IP_PROTO_TCP) fillChecksum(data, ip + IPV4_MIN_HEADER, payloadLen, src, dst);
      }
      if (this.pending.park(hop, data, ip, ipLen)) this.kick = true;
      else this.stats.txDrop.arp_queue_full++;
      return false;
    }
    this.writeEthernetSource(data, slot);
    const i = slot / batch.slotSize;
    batch.lengths[i] = this.pad(data, slot, ETH_HEADER_LEN + ipLen);
    if (offload) batch.flags[i] = proto === IP_PROTO_TCP ? TX_IP_CSUM | TX_TCP_CSUM : TX_IP_CSUM;
    return true;
  }

  /** Source MAC and IPv4 EtherType after a destination resolve() already wrote. */
  private writeEthernetSource(data: Uint8Array, slot: number): void {
    writeMacParts(data, slot + 6, this.macHi, this.macLo);
    data[slot + 12] = ETHERTYPE_IPV4 >>> 8;
    data[slot + 13] = ETHERTYPE_IPV4 & 0xff;
  }

  private writeArpFrame(data: Uint8Array, slot: number, op: number, ethDst: number, targetMac: number, targetIp: number): void {
    writeEthernet(data, slot, ethDst, this.mac, ETHERTYPE_ARP);
    writeArp(data, slot + ETH_HEADER_LEN, op, this.mac, this.ip, targetMac, targetIp);
    data.fill(0, slot + ETH_HEADER_LEN + ARP_LEN, slot + ETH_MIN_FRAME);
  }

  /** Zero-pad short frames to the Ethernet minimum; returns the frame length. */
  private pad(data: Uint8Array, slot: number, len: number): number {
    if (len >= ETH_MIN_FRAME) return len;
    data.fill(0, slot + len, slot + ETH_MIN_FRAME);
    return ETH_MIN_FRAME;
  }

  private nextId(): number {
    const id = this.ipId;
    this.ipId = (this.ipId + 1) & 0xffff;
    return id;
  }
}
