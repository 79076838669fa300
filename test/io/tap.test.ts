// TapPort against a real TAP device whose kernel side lives in a namespace the test creates
// (test/io/netns.ts), checked against the kernel's own ARP, IPv4, ICMP and UDP.

import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { createFrameBatch, type FrameBatch } from '../../src/io/port.js';
import { TapPort } from '../../src/io/tap.js';
import { loadNative } from '../../src/io/native.js';
import { SluiceError } from '../../src/errors.js';
import { arpFrame, icmpEcho, ipBytes, macString, summarize, udpFrame, type FrameSummary } from './frames.js';
import { KERNEL_IP, sh, STACK_IP, tapInNamespace, tapSkip as skip } from './netns.js';

function send(port: TapPort, tx: FrameBatch, frames: Uint8Array[]): number {
  frames.forEach((f, i) => {
    tx.data.set(f, i * tx.slotSize);
    tx.lengths[i] = f.length;
  });
  return port.txBurst(tx, frames.length);
}

/** Polls rxBurst every 2 ms until `want` matches a frame; `onFrame` may answer frames. */
async function receive(
  port: TapPort,
  rx: FrameBatch,
  want: (s: FrameSummary) => boolean,
  timeoutMs = 5000,
  onFrame?: (s: FrameSummary) => void,
): Promise<{ match: FrameSummary | undefined; seen: FrameSummary[] }> {
  const seen: FrameSummary[] = [];
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const n = port.rxBurst(rx);
    for (let i = 0; i < n; i++) {
      const s = summarize(rx.data, i * rx.slotSize, rx.lengths[i]!);
      seen.push(s);
      onFrame?.(s);
      if (want(s)) return { match: s, seen };
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  return { match: undefined, seen };
}

t.test('kernel ARP request is answered by a hand-built reply; the neighbour table learns our MAC; UDP round-trips', { skip }, async (t) => {
  const { port, ns: NS } = tapInNamespace(t);
  const rx = createFrameBatch(32, 2048);
  const tx = createFrameBatch(32, 2048);
  t.match(port.name, /^sluice-t\d+$/);
  t.equal(port.mac.length, 6);
  t.not(macString(port.mac), macString(port.kernelMac), 'the stack MAC is not the kernel interface MAC');

  // A UDP client in the namespace: the kernel must ARP for 198.18.0.2 before it can send.
  const script = `const d=require('dgram').createSocket('udp4');d.on('message',m=>{process.stdout.write(m.toString());process.exit(0)});d.bind(0,'${KERNEL_IP}',()=>d.send('ping from ns',9999,'${STACK_IP}'));setTimeout(()=>process.exit(3),8000)`;
  const child = spawn('ip', ['netns', 'exec', NS, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill();
  });
  let childOut = '';
  child.stdout.on('data', (d: Buffer) => (childOut += d.toString()));
  // 'close', not 'exit': 'exit' can come before the last stdout chunk has been read.
  const childDone = new Promise<number | null>((r) => child.on('close', (c) => r(c)));

  const arp = await receive(port, rx, (s) => s.arp?.op === 1 && s.arp.targetIp === STACK_IP);
  t.ok(arp.match, `kernel asked who-has ${STACK_IP} (saw ${arp.seen.length} frames)`);
  t.equal(arp.match?.arp?.senderIp, KERNEL_IP);
  t.equal(arp.match?.arp?.senderMac, macString(port.kernelMac), 'the ARP request comes from the kernel MAC');
  t.equal(arp.match?.dst, 'ff:ff:ff:ff:ff:ff');

  const reply = arpFrame(2, port.mac, ipBytes(STACK_IP), port.kernelMac, ipBytes(KERNEL_IP), port.kernelMac);
  t.equal(send(port, tx, [reply]), 1, 'txBurst took the ARP reply');

  const udp = await receive(port, rx, (s) => s.ip?.proto === 17 && s.ip.dport === 9999);
  t.ok(udp.match, 'the queued UDP datagram follows, addressed to our MAC');
  t.equal(udp.match?.dst, macString(port.mac));
  t.equal(Buffer.from(udp.match!.ip!.payload).toString(), 'ping from ns');

  const neigh = sh('ip', ['-n', NS, 'neigh', 'show', STACK_IP, 'dev', port.name]);
  t.match(neigh, new RegExp(`lladdr ${macString(port.mac)} `), `kernel neighbour table: ${neigh.trim()}`);

  send(port, tx, [udpFrame(port.mac, port.kernelMac, ipBytes(STACK_IP), ipBytes(KERNEL_IP), 9999, udp.match!.ip!.sport!, Buffer.from('pong from sluice'))]);
  t.equal(await childDone, 0, 'the namespace client got our UDP reply');
  t.equal(childOut, 'pong from sluice');

  const c = port.counters();
  const seen = [...arp.seen, ...udp.seen];
  t.equal(c.rxFrames, seen.length, `rx counters ${JSON.stringify(c)}`);
  t.equal(c.rxBytes, seen.reduce((a, s) => a + s.len, 0), 'rxBytes is the sum of the frames read (the kernel does not pad to 60)');
  t.equal(c.txFrames, 2);
  t.equal(c.txBytes, 60 + 60, 'two minimum-size frames');
  t.equal(c.txDropped, 0);
});

t.test('ICMP echo to the kernel: it resolves us by ARP, replies, and the payload comes back intact', { skip }, async (t) => {
  const { port, ns: NS } = tapInNamespace(t, 1400);
  t.match(sh('ip', ['-n', NS, 'link', 'show', port.name]), /mtu 1400 /, 'the MTU option reached the interface');
  const rx = createFrameBatch(32, port.frameMax);
  const tx = createFrameBatch(32, port.frameMax);
  const payload = new Uint8Array(1000).map((_, i) => (i * 7) & 0xff);
  const pings = [1, 2, 3].map((seq) => icmpEcho(port.mac, port.kernelMac, ipBytes(STACK_IP), ipBytes(KERNEL_IP), 0x5151, seq, payload));
  t.equal(send(port, tx, pings), 3, 'one txBurst carried three echo requests');
  const replies = new Set<number>();
  const answerArp = (s: FrameSummary): void => {
    if (s.arp?.op === 1 && s.arp.targetIp === STACK_IP) {
      send(port, tx, [arpFrame(2, port.mac, ipBytes(STACK_IP), port.kernelMac, ipBytes(KERNEL_IP), port.kernelMac)]);
    }
  };
  const r = await receive(
    port,
    rx,
    (s) => {
      if (s.ip?.proto === 1 && s.ip.icmpType === 0 && s.ip.ident === 0x5151) {
        t.same(Buffer.from(s.ip.payload), Buffer.from(payload), `echo reply ${s.ip.seq} payload`);
        replies.add(s.ip.seq!);
      }
      return replies.size === 3;
    },
    5000,
    answerArp,
  );
  t.same([...replies].sort(), [1, 2, 3], `three echo replies (saw ${r.seen.length} frames)`);
});

t.test('FdWaiter fires once when the tun fd becomes readable, not while idle', { skip }, async (t) => {
  const { port } = tapInNamespace(t);
  const addon = loadNative();
  const rx = createFrameBatch(32, port.frameMax);
  const tx = createFrameBatch(32, port.frameMax);
  // Teach the kernel our MAC first so the echo reply needs no ARP round.
  send(port, tx, [arpFrame(1, port.mac, ipBytes(STACK_IP), new Uint8Array(6), ipBytes(KERNEL_IP), new Uint8Array(6).fill(0xff))]);
  await receive(port, rx, (s) => s.arp?.op === 2);
  while (port.rxBurst(rx) > 0);

  let fired = 0;
  let wake: (() => void) | undefined;
  const waiter = new addon.FdWaiter(port.waitFd, (status) => {
    t.equal(status, 0, 'uv_poll status');
    fired++;
    wake?.();
  });
  t.teardown(() => waiter.close());
  waiter.arm();
  await new Promise((r) => setTimeout(r, 150));
  t.equal(fired, 0, 'no wake-up on an idle fd');

  const woke = new Promise<void>((r) => (wake = r));
  send(port, tx, [icmpEcho(port.mac, port.kernelMac, ipBytes(STACK_IP), ipBytes(KERNEL_IP), 7, 1, new Uint8Array(32))]);
  await Promise.race([woke, new Promise((_, rej) => setTimeout(() => rej(new Error('waiter never fired')), 3000))]);
  t.equal(fired, 1);
  // One-shot: unread frames stay readable, yet a disarmed waiter must not fire again.
  await new Promise((r) => setTimeout(r, 50));
  t.equal(fired, 1, 'one callback per wake-up');
  const n = port.rxBurst(rx);
  t.ok(n >= 1, `rxBurst after the wake-up read ${n} frame(s)`);
});

t.test('frames longer than the rx slot are dropped and counted, not truncated', { skip }, async (t) => {
  const { port } = tapInNamespace(t);
  const tx = createFrameBatch(4, port.frameMax);
  send(port, tx, [arpFrame(1, port.mac, ipBytes(STACK_IP), new Uint8Array(6), ipBytes(KERNEL_IP), new Uint8Array(6).fill(0xff))]);
  await receive(port, createFrameBatch(8, port.frameMax), (s) => s.arp?.op === 2);
  const small = createFrameBatch(8, 128);
  send(port, tx, [icmpEcho(port.mac, port.kernelMac, ipBytes(STACK_IP), ipBytes(KERNEL_IP), 9, 1, new Uint8Array(500))]);
  const before = port.counters().rxDropped;
  const end = Date.now() + 3000;
  while (port.counters().rxDropped === before && Date.now() < end) {
    const n = port.rxBurst(small);
    for (let i = 0; i < n; i++) {
      const s = summarize(small.data, i * small.slotSize, small.lengths[i]!);
      t.ok(s.len <= small.slotSize, `only whole frames are delivered: ${JSON.stringify({ ...s, ip: undefined })}`);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  t.equal(port.counters().rxDropped, before + 1, 'the 542-byte echo reply was dropped at a 128-byte slot');
});

t.test('an interface set down drops tx frames (counted) instead of failing; up again, they flow', { skip }, async (t) => {
  const { port, ns: NS } = tapInNamespace(t);
  const tx = createFrameBatch(4, port.frameMax);
  const rx = createFrameBatch(8, port.frameMax);
  sh('ip', ['-n', NS, 'link', 'set', port.name, 'down']);
  const probe = arpFrame(1, port.mac, ipBytes(STACK_IP), new Uint8Array(6), ipBytes(KERNEL_IP), new Uint8Array(6).fill(0xff));
  t.equal(send(port, tx, [probe, probe, probe]), 3, 'all three consumed');
  t.same(port.counters(), { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxDropped: 0, txDropped: 3 }, 'and counted as dropped (EIO)');
  t.equal(port.rxBurst(rx), 0, 'a down interface reads as empty');
  sh('ip', ['-n', NS, 'link', 'set', port.name, 'up']);
  t.equal(send(port, tx, [probe]), 1);
  const r = await receive(port, rx, (s) => s.arp?.op === 2 && s.arp.senderIp === KERNEL_IP);
  t.ok(r.match, 'the kernel answers once the link is up');
  t.equal(port.counters().txFrames, 1);
});

t.test('errors are typed: bad name, closed port, no privilege', { skip }, async (t) => {
  const bad = (() => {
    try {
      TapPort.open({ name: 'bad/name' });
      return undefined;
    } catch (e) {
      return e;
    }
  })();
  t.type(bad, SluiceError);
  const e = bad as SluiceError;
  t.equal(e.code, 'SLUICE_TAP_OPEN');
  t.equal(e.message, "tap open 'bad/name': TUNSETIFF: Invalid argument (EINVAL)");
  t.same(e.detail, { errno: 22, errnoName: 'EINVAL', syscall: 'TUNSETIFF' });

  t.throws(() => TapPort.open({ mtu: 40 }), { code: 'SLUICE_PORT_CONFIG', message: /option 'mtu' must be an integer in \[68, 65517\], got 40/ });
  t.throws(() => TapPort.open({ mac: new Uint8Array([1, 2, 3, 4, 5, 6]) }), { code: 'SLUICE_PORT_CONFIG', message: /must be unicast/ });

  const port = TapPort.open({ name: 'sluice-t%d' });
  port.close();
  port.close();
  t.throws(() => port.rxBurst(createFrameBatch(1, 64)), { code: 'SLUICE_TAP_IO', message: /rxBurst on a closed port/ });

  // An unprivileged process (uid 65534, no capabilities) can open /dev/net/tun but not TUNSETIFF.
  const out = execFileSync(
    'setpriv',
    [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      // env -i: tap's process-info hook re-adds its loader to a child's env; the uid 65534 child
      // cannot write tap's .tap/ files, so start it with a clean environment.
      'env',
      '-i',
      `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`,
      'HOME=/tmp',
      process.execPath,
      '--import=tsx',
      '-e',
      `import('./src/io/tap.ts').then(m=>{try{m.TapPort.open({name:'sluice-t%d'});console.log('opened')}catch(e){console.log(JSON.stringify({code:e.code,message:e.message,detail:e.detail}))}})`,
    ],
    { encoding: 'utf8', timeout: 20_000, cwd: process.cwd(), env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp' } },
  );
  const parsed = JSON.parse(out.trim().split('\n').pop()!) as { code: string; message: string; detail: Record<string, unknown> };
  t.equal(parsed.code, 'SLUICE_TAP_OPEN');
  t.equal(parsed.message, "tap open 'sluice-t%d': TUNSETIFF: Operation not permitted (EPERM)");
  t.equal(parsed.detail.errnoName, 'EPERM');
});
