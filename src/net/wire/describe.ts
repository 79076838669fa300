// One line per frame, tcpdump style, for logs, traces and test failure messages. Allocates
// strings: never on the per-frame path.

import { checkArp, describeArp } from './arp.js';
import { checkEthernet, describeEthernet, ETH_HEADER_LEN, etherType, ETHERTYPE_ARP, ETHERTYPE_IPV4 } from './ethernet.js';
import { describeIcmp } from './icmp.js';
import { checkIpv4, describeIpv4, IP_PROTO_ICMP, IP_PROTO_TCP, ipFragmentOffset, ipHeaderLength, ipProtocol, ipTotalLength } from './ipv4.js';
import { describe as describeTcp, TCP_HEADER_MIN } from './tcp.js';

export function describeFrame(buf: Uint8Array, off: number, len: number): string {
  if (!checkEthernet(len)) return `short frame (${len} bytes)`;
  const eth = describeEthernet(buf, off, len);
  const type = etherType(buf, off);
  const o = off + ETH_HEADER_LEN;
  const rest = len - ETH_HEADER_LEN;
  if (type === ETHERTYPE_ARP) return `${eth} | ${checkArp(buf, o, rest) ? describeArp(buf, o, rest) : 'arp invalid'}`;
  if (type !== ETHERTYPE_IPV4) return eth;
  const ip = describeIpv4(buf, o, rest);
  if (checkIpv4(buf, o, rest) !== null) return `${eth} | ${ip}`;
  const hl = ipHeaderLength(buf, o);
  const pl = ipTotalLength(buf, o) - hl;
  if (ipFragmentOffset(buf, o) !== 0) return `${eth} | ${ip}`;
  const p = ipProtocol(buf, o);
  if (p === IP_PROTO_ICMP) return `${eth} | ${ip} | ${describeIcmp(buf, o + hl, pl)}`;
  if (p === IP_PROTO_TCP && pl >= TCP_HEADER_MIN) {
    const d = describeTcp(buf, o + hl, pl);
    return `${eth} | ${ip} | tcp ${d.srcPort} > ${d.dstPort} [${d.flags}] seq ${d.seq} ack ${d.ack} win ${d.window} len ${d.payloadLen}`;
  }
  return `${eth} | ${ip}`;
}
