// DpdkPort's in-place rx (rxMode 'inplace', the default) against its copying rx, on net_ring: a
// loopback vdev (what the port sends, it receives; no kernel, no interface), so the test chooses
// every byte. The same frames, sent twice, must come back identical with identical checksum
// verdicts through both paths, bad checksums judged bad in place, and PortPump must take the
// port's own batch. The EAL runs in this test's process (tap runs each file in its own).

import t from 'tap';
import { cleanupDpdk, DpdkPort } from '../../src/io/dpdk.js';
import { PortPump } from '../../src/io/poll.js';
import { createFrameBatch, RX_CSUM_BAD, RX_CSUM_GOOD, RX_CSUM_NONE, RX_L4_SHIFT, type FrameBatch, type PacketProcessor } from '../../src/io/port.js';
import { inetChecksum, ipBytes, macBytes, udpFrame } from './frames.js';
import { dpdkSkip as skip, ealArgs } from './veth.js';

const SRC = ipBytes('198.18.0.1');
const DST = ipBytes('198.18.0.2');
const MAC_A = macBytes('02:00:00:00:00:01');
const MAC_B = macBytes('02:00:00:00:00:02');

/** An Ethernet/IPv4/TCP frame (ACK|PSH) with both checksums right. */
function tcpFrame(seq: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + 20 + 20 + payload.length);
  f.set(MAC_B, 0);
  f.set(MAC_A, 6);
  f[12] = 0x08;
  const ip = 14;
  f[ip] = 0x45;
  const total = 40 + payload.length;
  f[ip + 2] = total >> 8;
  f[ip + 3] = total & 0xff;
  f[ip + 6] = 0x40; // DF
  f[ip + 8] = 64;
  f[ip + 9] = 6;
  f.set(SRC, ip + 12);
  f.set(DST, ip + 16);
  const ipSum = inetChecksum(f, ip, 20);
  f[ip + 10] = ipSum >> 8;
  f[ip + 11] = ipSum & 0xff;
  const tcp = ip + 20;
  f[tcp] = 0x9c;
  f[tcp + 1] = 0x40; // 40000
  f[tcp + 3] = 80;
  new DataView(f.buffer).setUint32(tcp + 4, seq >>> 0);
  f[tcp + 12] = 5 << 4;
  f[tcp + 13] = 0x18;
  f[tcp + 14] = 0xff;
  f[tcp + 15] = 0xff;
  f.set(payload, tcp + 20);
  // Pseudo-header + segment, summed in a scratch buffer.
  const len = 20 + payload.length;
  const ps = new Uint8Array(12 + len);
  ps.set(SRC, 0);
  ps.set(DST, 4);
  ps[9] = 6;
  ps[10] = len >> 8;
  ps[11] = len & 0xff;
  ps.set(f.subarray(tcp), 12);
  const tcpSum = inetChecksum(ps, 0, ps.length);
  f[tcp + 16] = tcpSum >> 8;
  f[tcp + 17] = tcpSum & 0xff;
  return f;
}

// One EAL for the file (it cannot start again in a process once cleaned up).
const EAL = skip === false ? ealArgs(t) : [];
t.teardown(() => cleanupDpdk());

const GOOD = RX_CSUM_GOOD | (RX_CSUM_GOOD << RX_L4_SHIFT);

/** The frames sent each round, with the verdicts the port must give them. */
function fixtures(): { frame: Uint8Array; verdict: number; what: string }[] {
  const out: { frame: Uint8Array; verdict: number; what: string }[] = [];
  for (let i = 0; i < 6; i++) {
    const p = new Uint8Array(i * 283 % 1400 + 1).map((_, k) => (k * 7 + i) & 0xff);
    out.push({ frame: tcpFrame(1000 + i, p), verdict: GOOD, what: `tcp ${p.length} B` });
  }
  const badTcp = tcpFrame(7, new Uint8Array(1400).fill(0x5a));
  badTcp[14 + 20 + 20 + 99]! ^= 0x01;
  out.push({ frame: badTcp, verdict: RX_CSUM_GOOD | (RX_CSUM_BAD << RX_L4_SHIFT), what: 'tcp, payload bit flipped' });
  const badIp = tcpFrame(8, new Uint8Array(40).fill(1));
  badIp[14 + 8]! -= 1; // TTL changed, checksum not
  out.push({ frame: badIp, verdict: RX_CSUM_BAD, what: 'ipv4 header checksum wrong' });
  out.push({ frame: udpFrame(MAC_A, MAC_B, SRC, DST, 5000, 5001, new Uint8Array(64)), verdict: RX_CSUM_GOOD | (RX_CSUM_NONE << RX_L4_SHIFT), what: 'udp (not checked)' });
  return out;
}

function send(port: DpdkPort, frames: readonly Uint8Array[]): void {
  const tx = createFrameBatch(frames.length, port.frameMax);
  frames.forEach((f, i) => {
    tx.data.set(f, i * tx.slotSize);
    tx.lengths[i] = f.length;
  });
  t.equal(port.txBurst(tx, frames.length), frames.length, 'net_ring took every frame');
}

function received(batch: FrameBatch, n: number): { bytes: string; flags: number }[] {
  const out: { bytes: string; flags: number }[] = [];
  for (let i = 0; i < n; i++) {
    const off = batch.offsets === undefined ? i * batch.slotSize : batch.offsets[i]!;
    out.push({ bytes: Buffer.from(batch.data.subarray(off, off + batch.lengths[i]!)).toString('hex'), flags: batch.flags[i]! });
  }
  return out;
}

t.test('in place and copy deliver the same frames and checksum verdicts; the view dies with the port', { skip }, async (t) => {
  const port = DpdkPort.open({ eal: EAL, device: 'net_ring0', rxMode: 'inplace' });
  t.equal(port.rxMode, 'inplace');
  t.ok(port.offloads.rxChecksum, 'checksum offload on');
  const fx = fixtures();
  const frames = fx.map((f) => f.frame);
  const expect = fx.map((f) => ({ bytes: Buffer.from(f.frame).toString('hex'), flags: f.verdict }));

  const inPlace = port.createRxBatch(32, port.frameMax);
  t.ok(inPlace.offsets, 'the in-place batch carries offsets');
  send(port, frames);
  const n1 = port.rxBurst(inPlace);
  t.equal(n1, frames.length);
  const a = received(inPlace, n1);
  fx.forEach((f, i) => t.same(a[i], expect[i], `in place: ${f.what}`));

  const copy = createFrameBatch(32, port.frameMax);
  send(port, frames);
  const n2 = port.rxBurst(copy);
  t.equal(n2, frames.length);
  t.same(received(copy, n2), a, 'copy delivers the same bytes and verdicts');

  const c = port.counters();
  t.equal(c.rxFrames, 2 * frames.length);
  t.equal(c.rxBytes, 2 * frames.reduce((s, f) => s + f.length, 0), 'bytes counted in both modes');
  t.equal(c.rxDropped, 0);

  // A batch with offsets that is not this port's is refused, typed.
  const foreign: FrameBatch = { ...createFrameBatch(4, port.frameMax), offsets: new Uint32Array(4) };
  t.throws(() => port.rxBurst(foreign), { code: 'SLUICE_PORT_CONFIG' });

  // PortPump takes the port's batch and hands the stack each frame where it lies.
  const seen: { bytes: string; flags: number }[] = [];
  const proc: PacketProcessor = {
    input: (buf, off, len, _now, flags) => seen.push({ bytes: Buffer.from(buf.subarray(off, off + len)).toString('hex'), flags }),
    output: () => 0,
    nextDeadline: () => Infinity,
  };
  const pump = new PortPump(port, proc, { burst: 4 });
  t.equal(pump.rx.data, inPlace.data, 'the pump reads the pool view');
  send(port, frames);
  pump.step(0);
  pump.step(0);
  pump.step(0);
  t.same(seen, expect, 'the pump delivers every frame and verdict, across bursts of 4');

  port.close();
  t.equal(inPlace.data.byteLength, 0, 'closing the port detached the pool view');
  t.throws(() => port.rxBurst(inPlace), { code: 'SLUICE_DPDK_PORT' });
  t.throws(() => port.createRxBatch(4, 1518), { code: 'SLUICE_DPDK_PORT' });
});

t.test('rxMode copy, and a bad rxMode is a typed error', { skip }, async (t) => {
  const eal = EAL;
  t.throws(() => DpdkPort.open({ eal, device: 'net_ring1', rxMode: 'zero' as 'copy' }), { code: 'SLUICE_PORT_CONFIG' });
  const port = DpdkPort.open({ eal, device: 'net_ring1', rxMode: 'copy' });
  t.equal(port.rxMode, 'copy');
  const b = port.createRxBatch(8, port.frameMax);
  t.equal(b.offsets, undefined, 'copy mode: a plain batch');
  const fx = fixtures();
  send(port, fx.map((f) => f.frame));
  const n = port.rxBurst(b);
  t.same(received(b, n).map((r) => r.flags), fx.slice(0, 8).map((f) => f.verdict));
  port.close();
  if (process.env['SLUICE_DPDK_RX_MODE'] === undefined) {
    const def = DpdkPort.open({ eal, device: 'net_ring2' });
    t.equal(def.rxMode, 'inplace', 'in place is the default');
    t.ok(def.createRxBatch(4, def.frameMax).offsets);
    def.close();
  }
});
