import t from 'tap';
import {
  checkEthernet,
  describeEthernet,
  dstMac,
  etherType,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  formatMac,
  isMulticastMac,
  MAC_BROADCAST,
  macFromBytes,
  macToBytes,
  readMac,
  srcMac,
  writeEthernet,
} from '../../src/net/wire/ethernet.js';
import {
  ARP_OP_REQUEST,
  arpOperation,
  arpSenderIp,
  arpSenderMac,
  arpTargetIp,
  arpTargetMac,
  checkArp,
  describeArp,
  writeArp,
} from '../../src/net/wire/arp.js';
import {
  checkIpv4,
  describeIpv4,
  formatIpv4,
  ipDontFragment,
  ipDst,
  ipFragmentOffset,
  ipHeaderLength,
  ipId,
  ipIsFragment,
  ipMoreFragments,
  ipProtocol,
  ipSrc,
  ipTotalLength,
  ipTtl,
  IPV4_FLAG_DF,
  IPV4_FLAG_MF,
  parseIpv4,
  prefixMask,
  writeIpv4Header,
} from '../../src/net/wire/ipv4.js';
import {
  checkIcmp,
  describeIcmp,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  icmpEchoId,
  icmpEchoSeq,
  icmpType,
  writeIcmpEcho,
} from '../../src/net/wire/icmp.js';
import { checksum } from '../../src/net/wire/checksum.js';
import { fixture } from './fixtures.js';

t.test('MAC addresses as 48-bit numbers round-trip', async (t) => {
  const b = new Uint8Array([0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54]);
  const m = macFromBytes(b);
  t.equal(m, 0xfedcba987654);
  t.same(macToBytes(m), b);
  t.equal(formatMac(m), 'fe:dc:ba:98:76:54');
  t.equal(readMac(macToBytes(MAC_BROADCAST), 0), MAC_BROADCAST);
  t.ok(isMulticastMac(MAC_BROADCAST));
  t.ok(isMulticastMac(0x01005e000001));
  t.notOk(isMulticastMac(0x020000000001));
  t.throws(() => macFromBytes(new Uint8Array(5)), /6 bytes/);
});

t.test('parses the captured ARP request fixture', async (t) => {
  const f = fixture('arp-request.hex');
  t.equal(f.length, 60);
  t.ok(checkEthernet(f.length));
  t.equal(dstMac(f, 0), MAC_BROADCAST);
  t.equal(srcMac(f, 0), 0x020000000001);
  t.equal(etherType(f, 0), ETHERTYPE_ARP);
  t.ok(checkArp(f, 14, f.length - 14));
  t.equal(arpOperation(f, 14), ARP_OP_REQUEST);
  t.equal(arpSenderMac(f, 14), 0x020000000001);
  t.equal(formatIpv4(arpSenderIp(f, 14)), '198.18.0.1');
  t.equal(arpTargetMac(f, 14), 0);
  t.equal(formatIpv4(arpTargetIp(f, 14)), '198.18.0.2');
  t.equal(describeArp(f, 14, 46), 'arp who-has 198.18.0.2 (00:00:00:00:00:00) tell 198.18.0.1 (02:00:00:00:00:01)');
  t.match(describeEthernet(f, 0, 60), /02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff type 0x0806/);

  // emit the same frame and compare byte for byte (padding included)
  const out = new Uint8Array(60);
  writeEthernet(out, 0, MAC_BROADCAST, 0x020000000001, ETHERTYPE_ARP);
  writeArp(out, 14, ARP_OP_REQUEST, 0x020000000001, parseIpv4('198.18.0.1'), 0, parseIpv4('198.18.0.2'));
  t.same(out, f);
});

t.test('checkArp refuses other hardware, protocol, sizes, operations and short bodies', async (t) => {
  const f = fixture('arp-request.hex');
  const body = () => f.slice(14);
  t.notOk(checkArp(body(), 0, 27), 'short');
  for (const [i, v, what] of [
    [1, 6, 'htype IEEE 802'],
    [2, 0x86, 'ptype IPv6'],
    [4, 8, 'hlen'],
    [5, 16, 'plen'],
    [7, 3, 'RARP op'],
  ] as const) {
    const b = body();
    b[i] = v;
    t.notOk(checkArp(b, 0, b.length), what);
  }
});

t.test('parses the captured ICMP echo fixture and re-emits identical headers', async (t) => {
  const f = fixture('icmp-echo-request.hex');
  t.equal(etherType(f, 0), ETHERTYPE_IPV4);
  const o = 14;
  t.equal(checkIpv4(f, o, f.length - o), null);
  t.equal(ipHeaderLength(f, o), 20);
  t.equal(ipTotalLength(f, o), 60);
  t.equal(ipId(f, o), 0x1c46);
  t.ok(ipDontFragment(f, o));
  t.notOk(ipMoreFragments(f, o));
  t.notOk(ipIsFragment(f, o));
  t.equal(ipTtl(f, o), 64);
  t.equal(ipProtocol(f, o), 1);
  t.equal(formatIpv4(ipSrc(f, o)), '198.18.0.1');
  t.equal(formatIpv4(ipDst(f, o)), '198.18.0.2');
  t.equal(describeIpv4(f, o, 60), 'ipv4 198.18.0.1 > 198.18.0.2 proto 1 ttl 64 id 7238 len 60 hl 20 DF');

  const out = new Uint8Array(20);
  writeIpv4Header(out, 0, 60, 0x1c46, IPV4_FLAG_DF, 64, 1, parseIpv4('198.18.0.1'), parseIpv4('198.18.0.2'));
  t.same(out, f.subarray(o, o + 20));

  const ic = o + 20;
  t.equal(checkIcmp(f, ic, 40), null);
  t.equal(icmpType(f, ic), ICMP_ECHO_REQUEST);
  t.equal(icmpEchoId(f, ic), 0x42);
  t.equal(icmpEchoSeq(f, ic), 1);
  t.equal(describeIcmp(f, ic, 40), 'icmp echo request id 66 seq 1 len 40');
  const echo = f.slice(ic);
  writeIcmpEcho(echo, 0, 40, ICMP_ECHO_REQUEST, 0x42, 1);
  t.same(echo, f.subarray(ic), 'checksum re-emitted identically');
  writeIcmpEcho(echo, 0, 40, ICMP_ECHO_REPLY, 0x42, 1);
  t.equal(checksum(echo, 0, 40), 0, 'reply checksum valid');
});

t.test('IPv4 header with options: IHL 6 is honoured', async (t) => {
  const f = fixture('ipv4-options-echo.hex');
  t.equal(checkIpv4(f, 14, f.length - 14), null);
  t.equal(ipHeaderLength(f, 14), 24);
  t.equal(ipTtl(f, 14), 1);
  t.notOk(ipDontFragment(f, 14));
  t.equal(checkIcmp(f, 14 + 24, ipTotalLength(f, 14) - 24), null);
});

t.test('checkIpv4 names each malformed-header class', async (t) => {
  const base = fixture('icmp-echo-request.hex').slice(14);
  const fix = (b: Uint8Array) => {
    b[10] = 0;
    b[11] = 0;
    const c = checksum(b, 0, (b[0] & 15) * 4 <= b.length ? (b[0] & 15) * 4 : 20);
    b[10] = c >> 8;
    b[11] = c & 0xff;
    return b;
  };
  t.equal(checkIpv4(base, 0, 19), 'bad_ip_header', 'shorter than 20');
  let b = base.slice();
  b[0] = 0x65;
  t.equal(checkIpv4(fix(b), 0, b.length), 'bad_ip_version', 'version 6');
  b = base.slice();
  b[0] = 0x44;
  t.equal(checkIpv4(b, 0, b.length), 'bad_ip_header', 'IHL 4');
  b = base.slice();
  b[0] = 0x4f;
  t.equal(checkIpv4(b, 0, 40), 'bad_ip_header', 'IHL 15 longer than the data');
  b = base.slice();
  b[2] = 0;
  b[3] = 61;
  t.equal(checkIpv4(fix(b), 0, b.length), 'bad_ip_length', 'total length > frame');
  b = base.slice();
  b[2] = 0;
  b[3] = 19;
  t.equal(checkIpv4(fix(b), 0, b.length), 'bad_ip_length', 'total length < header');
  b = base.slice();
  b[11] ^= 1;
  t.equal(checkIpv4(b, 0, b.length), 'bad_ip_checksum');
  t.equal(checkIpv4(base, 0, base.length + 0), null);
  const padded = new Uint8Array(base.length + 6);
  padded.set(base);
  t.equal(checkIpv4(padded, 0, padded.length), null, 'Ethernet padding after total length is fine');
});

t.test('fragment fields and flags', async (t) => {
  const b = new Uint8Array(20);
  writeIpv4Header(b, 0, 20 + 8, 7, IPV4_FLAG_MF | (1480 >> 3), 64, 6, 1, 2);
  t.ok(ipMoreFragments(b, 0));
  t.equal(ipFragmentOffset(b, 0), 1480);
  t.ok(ipIsFragment(b, 0));
  t.match(describeIpv4(b, 0, 28), /MF frag 1480/);
});

t.test('parseIpv4 is strict; prefixMask covers /0 and /32', async (t) => {
  t.equal(parseIpv4('198.18.0.1'), 0xc6120001);
  t.equal(parseIpv4('0.0.0.0'), 0);
  t.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.-4', ' 1.2.3.4', '1.2.3.4 ', '1..3.4', '0x1.2.3.4']) {
    t.equal(parseIpv4(bad), -1, JSON.stringify(bad));
  }
  t.equal(prefixMask(0), 0);
  t.equal(prefixMask(32), 0xffffffff);
  t.equal(prefixMask(15), 0xfffe0000);
});

t.test('checkIcmp: short and bad checksum', async (t) => {
  const f = fixture('icmp-echo-request.hex').slice(34);
  t.equal(checkIcmp(f, 0, 7), 'bad_icmp');
  f[20] ^= 0xff;
  t.equal(checkIcmp(f, 0, f.length), 'bad_icmp');
  t.match(describeIcmp(f, 0, f.length), /bad-checksum/);
});

t.test('emit then parse round-trips random IPv4 and ARP fields', async (t) => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const b = new Uint8Array(64);
  let ok = 0;
  for (let i = 0; i < 2000; i++) {
    const total = 20 + rnd(1481);
    const id = rnd(65536);
    const ff = rnd(65536) & 0x7fff; // reserved bit clear
    const ttl = rnd(256);
    const proto = rnd(256);
    const src = rnd(0x10000) * 0x10000 + rnd(0x10000);
    const dst = rnd(0x10000) * 0x10000 + rnd(0x10000);
    writeIpv4Header(b, 4, total, id, ff, ttl, proto, src, dst);
    const fields = [ipTotalLength(b, 4), ipId(b, 4), (b[10] << 8) | b[11], ipTtl(b, 4), ipProtocol(b, 4), ipSrc(b, 4), ipDst(b, 4)];
    if (
      fields[0] === total &&
      fields[1] === id &&
      fields[2] === ff &&
      fields[3] === ttl &&
      fields[4] === proto &&
      fields[5] === src &&
      fields[6] === dst &&
      checkIpv4(b, 4, total) === null &&
      ipHeaderLength(b, 4) === 20
    ) {
      ok++;
    }
    const op = 1 + rnd(2);
    const sm = rnd(0x10000) * 0x100000000 + rnd(0x10000) * 0x10000 + rnd(0x10000);
    const tm = rnd(0x10000) * 0x100000000 + rnd(0x10000) * 0x10000 + rnd(0x10000);
    writeArp(b, 3, op, sm, src, tm, dst);
    if (!(checkArp(b, 3, 28) && arpOperation(b, 3) === op && arpSenderMac(b, 3) === sm && arpTargetMac(b, 3) === tm && arpSenderIp(b, 3) === src && arpTargetIp(b, 3) === dst)) {
      t.fail(`ARP round trip ${i}`);
    }
  }
  t.equal(ok, 2000);
});
