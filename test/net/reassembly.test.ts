import t from 'tap';
import { Reassembler } from '../../src/net/ipv4.js';
import { NetStats } from '../../src/net/stats.js';
import { checkIpv4, IPV4_FLAG_MF, writeIpv4Header } from '../../src/net/wire/ipv4.js';

const SRC = 0xc6120001;
const DST = 0xc6120002;

function payload(n: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 7 + 3) & 0xff);
}

/** One fragment of `data`: bytes [start, start + len) with MF as given. */
function frag(data: Uint8Array, start: number, len: number, more: boolean, id = 1, proto = 6, src = SRC): Uint8Array {
  const b = new Uint8Array(20 + len);
  writeIpv4Header(b, 0, 20 + len, id, (more ? IPV4_FLAG_MF : 0) | (start >> 3), 64, proto, src, DST);
  b.set(data.subarray(start, start + len), 20);
  if (checkIpv4(b, 0, b.length) !== null) throw new Error('bad test fragment');
  return b;
}

function delivered(r: Reassembler): Uint8Array {
  return r.outBuf.slice(r.outOff, r.outOff + r.outLen);
}

t.test('in-order fragments reassemble; header of the first fragment is kept', async (t) => {
  const s = new NetStats();
  const r = new Reassembler(s);
  const d = payload(3000);
  t.equal(r.input(frag(d, 0, 1480, true), 0, 0), 'held');
  t.equal(r.input(frag(d, 1480, 1480, true), 0, 1), 'held');
  t.equal(r.active, 1);
  t.equal(r.input(frag(d, 2960, 40, false), 0, 2), 'complete');
  t.same(delivered(r), d);
  t.equal(r.outSrc >>> 0, SRC);
  t.equal(r.outDst >>> 0, DST);
  t.equal(r.outProto, 6);
  t.equal(r.outHeaderLength, 20);
  t.equal(r.outBuf[r.outHeaderOff], 0x45);
  t.equal(r.active, 0);
  t.equal(s.reassembly.completed, 1);
  t.equal(r.nextDeadline(), 30_000, 'timer of the finished datagram lingers until serviced');
  r.service(30_000);
  t.equal(r.nextDeadline(), Infinity);
});

t.test('out-of-order and last-first arrival', async (t) => {
  const r = new Reassembler(new NetStats());
  const d = payload(2000);
  t.equal(r.input(frag(d, 1600, 400, false), 0, 0), 'held');
  t.equal(r.input(frag(d, 800, 800, true), 0, 0), 'held');
  t.equal(r.input(frag(d, 0, 800, true), 0, 0), 'complete');
  t.same(delivered(r), d);
});

t.test('an exact duplicate is dropped alone; the datagram still completes', async (t) => {
  const s = new NetStats();
  const r = new Reassembler(s);
  const d = payload(1600);
  const f0 = frag(d, 0, 800, true);
  t.equal(r.input(f0, 0, 0), 'held');
  t.equal(r.input(f0, 0, 1), 'fragment_duplicate');
  const last = frag(d, 800, 800, false);
  t.equal(r.input(last, 0, 2), 'complete');
  t.same(delivered(r), d);
});

t.test('a duplicate last fragment is a duplicate, not a conflict', async (t) => {
  const r = new Reassembler(new NetStats());
  const d = payload(1600);
  const last = frag(d, 800, 800, false);
  t.equal(r.input(last, 0, 0), 'held');
  t.equal(r.input(last, 0, 0), 'fragment_duplicate');
  t.equal(r.input(frag(d, 0, 800, true), 0, 0), 'complete');
});

t.test('overlapping fragments discard the whole datagram (both directions)', async (t) => {
  const s = new NetStats();
  const r = new Reassembler(s);
  const d = payload(2400);
  t.equal(r.input(frag(d, 0, 1600, true), 0, 0), 'held');
  t.equal(r.input(frag(d, 800, 1600, false), 0, 0), 'fragment_overlap', 'starts inside previous');
  t.equal(r.active, 0);
  t.equal(r.input(frag(d, 800, 800, true), 0, 0), 'held');
  t.equal(r.input(frag(d, 0, 1600, true), 0, 0), 'fragment_overlap', 'ends inside next');
  t.equal(r.input(frag(d, 800, 800, true), 0, 0), 'held');
  t.equal(r.input(frag(d, 1200, 8, true), 0, 0), 'fragment_overlap', 'contained');
  t.equal(s.reassembly.overlapDiscarded, 3);
  t.equal(r.active, 0);
});

t.test('malformed fragments: empty, non-final not multiple of 8, beyond 65535, conflicting ends', async (t) => {
  const r = new Reassembler(new NetStats());
  const d = payload(65535);
  const empty = new Uint8Array(20);
  writeIpv4Header(empty, 0, 20, 9, IPV4_FLAG_MF, 64, 6, SRC, DST);
  t.equal(r.input(empty, 0, 0), 'fragment_bad', 'empty');
  t.equal(r.input(frag(d, 0, 100, true), 0, 0), 'fragment_bad', 'MF with 100 bytes');
  t.equal(r.input(frag(d, 65512, 8, false, 2), 0, 0), 'fragment_bad', 'ends past 65535');
  t.equal(r.active, 0);
  t.equal(r.input(frag(d, 0, 800, true, 3), 0, 0), 'held');
  t.equal(r.input(frag(d, 1600, 800, false, 3), 0, 0), 'held');
  t.equal(r.input(frag(d, 800, 808, false, 3), 0, 0), 'fragment_bad', 'second last fragment with another length');
  t.equal(r.active, 0);
  t.equal(r.input(frag(d, 800, 800, false, 4), 0, 0), 'held');
  t.equal(r.input(frag(d, 1600, 800, true, 4), 0, 0), 'fragment_bad', 'data beyond the last fragment');
  t.equal(r.active, 0);
});

t.test('timeout discards an incomplete datagram and frees its slot', async (t) => {
  const s = new NetStats();
  const r = new Reassembler(s, { timeoutMs: 30_000 });
  const d = payload(1600);
  t.equal(r.input(frag(d, 0, 800, true), 0, 1000), 'held');
  t.equal(r.nextDeadline(), 31_000);
  r.service(30_999);
  t.equal(r.active, 1);
  r.service(31_000);
  t.equal(r.active, 0);
  t.equal(s.reassembly.timedOut, 1);
  t.equal(r.input(frag(d, 800, 800, false), 0, 31_001), 'held', 'late fragment starts a new datagram');
});

t.test('limits: datagrams in flight, bytes per datagram, fragments per datagram', async (t) => {
  const s = new NetStats();
  const r = new Reassembler(s, { maxDatagrams: 2, maxDatagramBytes: 1500, maxFragments: 3 });
  const d = payload(4000);
  t.equal(r.input(frag(d, 0, 8, true, 1), 0, 0), 'held');
  t.equal(r.input(frag(d, 0, 8, true, 2), 0, 0), 'held');
  t.equal(r.input(frag(d, 0, 8, true, 3), 0, 0), 'fragment_table_full');
  t.equal(r.active, 2);
  t.equal(r.input(frag(d, 1480, 8, false, 1), 0, 0), 'fragment_too_big', '1488 + 20 > 1500');
  t.equal(r.active, 1, 'oversized datagram released');
  t.equal(r.input(frag(d, 1480, 8, false, 5), 0, 0), 'fragment_too_big', 'refused before taking a slot');
  t.equal(r.input(frag(d, 8, 8, true, 2), 0, 0), 'held');
  t.equal(r.input(frag(d, 16, 8, true, 2), 0, 0), 'held');
  t.equal(r.input(frag(d, 24, 8, false, 2), 0, 0), 'fragment_too_many');
  t.equal(r.active, 0);
  t.ok(r.allocatedBytes <= 2 * (1500 + 60), 'memory bounded by maxDatagrams');
});

t.test('datagrams are keyed by (src, dst, protocol, id)', async (t) => {
  const r = new Reassembler(new NetStats());
  const d = payload(1600);
  const e = payload(1600).reverse();
  t.equal(r.input(frag(d, 0, 800, true, 1, 6), 0, 0), 'held');
  t.equal(r.input(frag(e, 0, 800, true, 1, 1), 0, 0), 'held');
  t.equal(r.input(frag(e, 0, 800, true, 1, 6, SRC + 5), 0, 0), 'held');
  t.equal(r.active, 3);
  t.equal(r.input(frag(e, 800, 800, false, 1, 1), 0, 0), 'complete');
  t.same(delivered(r), e);
  t.equal(r.outProto, 1);
  t.equal(r.input(frag(d, 800, 800, false, 1, 6), 0, 0), 'complete');
  t.same(delivered(r), d);
});
