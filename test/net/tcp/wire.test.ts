// The TCP header as functions over bytes (src/net/wire/tcp.ts): fields, options, checksum.

import t from 'tap';
import * as w from '../../../src/net/wire/tcp.js';
import { checksum } from '../../../src/net/wire/checksum.js';
import { forge, ip } from './sim.js';

const A = ip('198.18.0.1');
const B = ip('198.18.0.2');

t.test('reads and writes every fixed header field in place', async (t) => {
  const b = new Uint8Array(40);
  w.emitHeader(b, 8, 443, 51000, 0xfffffff0, 0x12345678, 20, w.SYN | w.ACK, 29200);
  t.equal(w.srcPort(b, 8), 443);
  t.equal(w.dstPort(b, 8), 51000);
  t.equal(w.seqNum(b, 8), 0xfffffff0, 'sequence numbers above 2^31 stay unsigned');
  t.equal(w.ackNum(b, 8), 0x12345678);
  t.equal(w.headerLen(b, 8), 20);
  t.equal(w.flags(b, 8), w.SYN | w.ACK);
  t.equal(w.windowField(b, 8), 29200);
  t.equal(w.urgentPtr(b, 8), 0);
  w.setSeq(b, 8, 1);
  w.setAck(b, 8, 2);
  w.setWindow(b, 8, 3);
  w.setSrcPort(b, 8, 4);
  w.setDstPort(b, 8, 5);
  w.setUrgentPtr(b, 8, 6);
  w.setHeaderLenAndFlags(b, 8, 32, w.FIN);
  t.same([w.seqNum(b, 8), w.ackNum(b, 8), w.windowField(b, 8), w.srcPort(b, 8), w.dstPort(b, 8), w.urgentPtr(b, 8), w.headerLen(b, 8), w.flags(b, 8)], [1, 2, 3, 4, 5, 6, 32, w.FIN]);
  t.same(Array.from(b.subarray(0, 8)), [0, 0, 0, 0, 0, 0, 0, 0], 'nothing written before the offset');
});

t.test('options round-trip: MSS, window scale, SACK-permitted, timestamps, SACK blocks', async (t) => {
  const b = new Uint8Array(60);
  let i = 20;
  i = w.emitMss(b, i, 1460);
  i = w.emitWscale(b, i, 7);
  i = w.emitSackPermitted(b, i);
  i = w.emitTimestamps(b, i, 0xdeadbeef, 12345);
  w.emitHeader(b, 0, 1, 2, 0, 0, i, w.SYN, 0);
  t.equal(i, 44, '24 bytes of options, 32-bit aligned');
  const o = w.createOptions();
  t.equal(w.parseOptions(b, 0, o), w.OptionError.None);
  t.same({ mss: o.mss, ws: o.wscale, sp: o.sackPermitted, ts: o.hasTimestamps, v: o.tsVal, e: o.tsEcr }, { mss: 1460, ws: 7, sp: true, ts: true, v: 0xdeadbeef, e: 12345 });
  const s = new Uint8Array(60);
  const L = Uint32Array.of(1000, 5000, 0xfffffff0);
  const R = Uint32Array.of(2000, 6000, 0x10);
  const end = w.emitSack(s, 20, L, R, 3);
  w.emitHeader(s, 0, 1, 2, 0, 0, end, w.ACK, 0);
  t.equal(w.parseOptions(s, 0, o), w.OptionError.None);
  t.equal(o.sackCount, 3);
  t.same([...o.sackLeft.subarray(0, 3)], [...L]);
  t.same([...o.sackRight.subarray(0, 3)], [...R]);
  t.equal(o.mss, -1, 'fields reset between segments');
});

t.test('window scale above 14 is read as 14 (RFC 7323 2.3); unknown options are skipped by length', async (t) => {
  const b = new Uint8Array(32);
  b.set([3, 3, 15, 99, 4, 0xaa, 0xbb, 1], 20);
  w.emitHeader(b, 0, 1, 2, 0, 0, 28, w.SYN, 0);
  b.set([3, 3, 15, 99, 4, 0xaa, 0xbb, 1], 20);
  const o = w.createOptions();
  t.equal(w.parseOptions(b, 0, o), w.OptionError.None);
  t.equal(o.wscale, 14);
});

t.test('malformed options are reported with a reason', async (t) => {
  const cases: Array<[string, number[], w.OptionError]> = [
    ['length byte missing at the end', [1, 1, 1, 2], w.OptionError.Truncated],
    ['length 1 (below the minimum 2)', [8, 1, 0, 0], w.OptionError.Truncated],
    ['length past the header', [8, 10, 0, 0], w.OptionError.Truncated],
    ['MSS of length 3', [2, 3, 5, 1], w.OptionError.BadLength],
    ['window scale of length 4', [3, 4, 1, 1], w.OptionError.BadLength],
    ['SACK-permitted of length 4', [4, 4, 0, 0], w.OptionError.BadLength],
    ['SACK with a partial block', [5, 6, 0, 0, 0, 0, 1, 1], w.OptionError.BadLength],
    ['timestamps of length 6', [8, 6, 0, 0, 0, 0, 1, 1], w.OptionError.BadLength],
  ];
  for (const [name, opts, want] of cases) {
    const b = new Uint8Array(20 + opts.length);
    w.emitHeader(b, 0, 1, 2, 0, 0, 20 + opts.length, w.ACK, 0);
    b.set(opts, 20);
    t.equal(w.parseOptions(b, 0, w.createOptions()), want, name);
  }
  t.equal(w.optionErrorName(w.OptionError.Truncated), 'options_truncated');
  t.equal(w.optionErrorName(w.OptionError.BadLength), 'options_bad_length');
});

t.test('checksum covers the IPv4 pseudo header: valid segments sum to 0, a flipped bit or a wrong address does not', async (t) => {
  const seg = forge(A, B, { sport: 1, dport: 2, seq: 3, ack: 4, flags: w.ACK, data: new TextEncoder().encode('odd length!') });
  t.equal(seg.length % 2, 1, 'odd length exercises the padding rule');
  t.equal(w.segmentChecksum(seg, 0, seg.length, A, B), 0);
  t.not(w.segmentChecksum(seg, 0, seg.length, A, B + 1), 0, 'the destination address is covered');
  const bad = seg.slice();
  bad[25] ^= 1;
  t.not(w.segmentChecksum(bad, 0, bad.length, A, B), 0);
  // The same value computed by hand: pseudo header bytes then the segment.
  const pseudo = new Uint8Array(12 + seg.length);
  new DataView(pseudo.buffer).setUint32(0, A);
  new DataView(pseudo.buffer).setUint32(4, B);
  pseudo[9] = 6;
  new DataView(pseudo.buffer).setUint16(10, seg.length);
  pseudo.set(seg, 12);
  t.equal(checksum(pseudo, 0, pseudo.length), 0);
});

t.test('describe() summarises a segment for logs', async (t) => {
  const seg = forge(A, B, { sport: 5, dport: 80, seq: 9, flags: w.SYN, mss: 1460, wscale: 2, sackPermitted: true, ts: [1, 0] });
  t.same(w.describe(seg, 0, seg.length), {
    srcPort: 5, dstPort: 80, seq: 9, ack: 0, flags: 'SYN', window: 65535, headerLen: 44, payloadLen: 0,
    options: { mss: 1460, wscale: 2, sackPermitted: true, timestamps: [1, 0], sack: [] },
  });
  t.equal(w.flagNames(w.FIN | w.ACK | w.PSH | w.RST | w.URG), 'ACK|FIN|RST|PSH|URG');
});

t.test('the word-at-a-time checksum equals the byte loop at every alignment and length', async (t) => {
  const { sum16, fold } = await import('../../../src/net/wire/checksum.js');
  const buf = new Uint8Array(4096);
  let x = 12345;
  for (let i = 0; i < buf.length; i++) buf[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  let mismatches = 0;
  let cases = 0;
  for (const off of [0, 1, 2, 3, 34, 35]) {
    for (const len of [0, 1, 63, 64, 65, 100, 1460, 1461, 1500, 4000]) {
      if (off + len > buf.length) continue;
      cases++;
      if (fold(w.sum16Fast(buf, off, len, 777)) !== fold(sum16(buf, off, len, 777))) mismatches++;
    }
  }
  // A view that starts at an odd byteOffset of its ArrayBuffer.
  const view = new Uint8Array(buf.buffer, 1, 2000);
  if (fold(w.sum16Fast(view, 1, 1500, 0)) !== fold(sum16(view, 1, 1500, 0))) mismatches++;
  t.equal(mismatches, 0, `${cases + 1} alignment/length cases agree`);
});
