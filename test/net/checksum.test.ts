import t from 'tap';
import { checksum, fold, pseudoHeaderSum, sum16, updateChecksum16 } from '../../src/net/wire/checksum.js';
import { fixture } from './fixtures.js';

t.test('RFC 1071 section 3 example sums to ddf2, checksum 220d', async (t) => {
  const b = fixture('rfc1071-example.hex');
  t.equal(fold(sum16(b, 0, b.length)), 0xddf2);
  t.equal(checksum(b, 0, b.length), 0x220d);
});

t.test('real IPv4 header verifies to 0 and re-emits b861', async (t) => {
  const h = fixture('ipv4-header.hex');
  t.equal(checksum(h, 0, 20), 0, 'verify with checksum in place');
  const copy = h.slice();
  copy[10] = 0;
  copy[11] = 0;
  t.equal(checksum(copy, 0, 20), 0xb861);
});

t.test('odd length pads with a zero byte; offset is honoured', async (t) => {
  const b = new Uint8Array([0xff, 0x12, 0x34, 0x56]);
  t.equal(fold(sum16(b, 1, 3)), 0x1234 + 0x5600);
  t.equal(checksum(b, 1, 3), ~(0x1234 + 0x5600) & 0xffff);
  t.equal(checksum(b, 0, 0), 0xffff, 'empty data');
});

t.test('seeded with a pseudo-header sum equals summing the pseudo-header bytes', async (t) => {
  // 198.18.0.1 -> 198.18.0.2, TCP (6), 20 bytes of segment
  const seg = new Uint8Array(21).map((_, i) => (i * 37 + 11) & 0xff);
  const ph = new Uint8Array([0xc6, 0x12, 0, 1, 0xc6, 0x12, 0, 2, 0, 6, 0, 21]);
  const joined = new Uint8Array(ph.length + seg.length);
  joined.set(ph);
  joined.set(seg, ph.length);
  t.equal(checksum(seg, 0, seg.length, pseudoHeaderSum(0xc6120001, 0xc6120002, 6, 21)), checksum(joined, 0, joined.length));
});

t.test('incremental update (RFC 1624) equals a full recompute', async (t) => {
  const h = fixture('ipv4-header.hex');
  const oldWord = (h[8] << 8) | h[9];
  const oldCk = (h[10] << 8) | h[11];
  h[8] = 0x3f; // TTL 64 -> 63
  const newWord = (h[8] << 8) | h[9];
  const upd = updateChecksum16(oldCk, oldWord, newWord);
  h[10] = 0;
  h[11] = 0;
  t.equal(upd, checksum(h, 0, 20));
});

t.test('large buffer sum does not lose precision', async (t) => {
  const b = new Uint8Array(65536).fill(0xff);
  t.equal(checksum(b, 0, b.length), 0);
  t.equal(fold(sum16(b, 0, b.length)), 0xffff);
});
