import t from 'tap';
import { ArpCache, PendingQueue } from '../../src/net/arp.js';
import { NetStats } from '../../src/net/stats.js';

const IP1 = 0xc6120001;
const IP2 = 0xc6120002;
const MAC1 = 0x020000000001;
const MAC2 = 0x020000000002;

function drain(c: ArpCache): number[] {
  const out: number[] = [];
  for (let ip = c.popDue(); ip >= 0; ip = c.popDue()) out.push(ip);
  return out;
}

t.test('a miss creates an incomplete entry and queues one request', async (t) => {
  const s = new NetStats();
  const c = new ArpCache(s, { retryMs: 1000, maxRetries: 3 });
  t.equal(c.lookup(IP1, 0), -1);
  t.equal(c.nextDeadline(), 0);
  t.equal(c.lookup(IP1, 1), -1, 'second miss does not queue again');
  c.service(1);
  t.same(drain(c), [IP1]);
  c.requestSent(IP1, 1);
  t.equal(c.nextDeadline(), 1001);
  c.learn(IP1, MAC1, 500, false);
  t.equal(c.lookup(IP1, 600), MAC1);
  c.service(1001); // the retry timer that was armed finds the entry resolved
  t.same(drain(c), [], 'no retry once answered');
  t.equal(c.nextDeadline(), 60_500);
});

t.test('retries at retryMs, gives up after maxRetries and removes the entry', async (t) => {
  const s = new NetStats();
  const c = new ArpCache(s, { retryMs: 1000, maxRetries: 3 });
  c.lookup(IP1, 0);
  const sent: number[] = [];
  for (let now = 0; now <= 5000; now += 100) {
    c.service(now);
    for (let ip = c.popDue(); ip >= 0; ip = c.popDue()) {
      sent.push(now);
      c.requestSent(ip, now);
    }
  }
  t.same(sent, [0, 1000, 2000], 'three requests one second apart');
  t.notOk(c.has(IP1), 'given up');
  t.equal(s.arp.failed, 1);
  t.equal(c.nextDeadline(), Infinity);
});

t.test('reachable entries lapse: unused are removed, used ones are probed and keep working', async (t) => {
  const s = new NetStats();
  const c = new ArpCache(s, { reachableMs: 60_000, retryMs: 1000, maxRetries: 2 });
  t.ok(c.learn(IP1, MAC1, 0, true));
  t.ok(c.learn(IP2, MAC2, 0, true));
  c.lookup(IP2, 30_000); // in use
  c.service(59_999);
  t.equal(c.size, 2);
  c.service(60_000);
  t.notOk(c.has(IP1), 'idle entry removed at expiry');
  t.equal(c.lookup(IP2, 60_000), MAC2, 'probed entry still answers');
  t.same(drain(c), [IP2], 'probe request queued');
  c.requestSent(IP2, 60_000);
  c.learn(IP2, MAC2 + 1, 60_100, false);
  t.equal(c.peek(IP2), MAC2 + 1, 'reply refreshes (and updates) the MAC');
  c.service(61_000); // the earlier retry timer fires early and finds nothing to do
  t.equal(c.nextDeadline(), 120_100);
});

t.test('an unanswered probe removes the entry after its retries', async (t) => {
  const s = new NetStats();
  const c = new ArpCache(s, { reachableMs: 1000, retryMs: 100, maxRetries: 2 });
  c.learn(IP1, MAC1, 0, true);
  c.lookup(IP1, 500);
  for (let now = 1000; now <= 1300; now += 50) {
    c.service(now);
    for (let ip = c.popDue(); ip >= 0; ip = c.popDue()) c.requestSent(ip, now);
  }
  t.notOk(c.has(IP1));
  t.equal(s.arp.failed, 1);
});

t.test('learn without create ignores strangers (no cache filling by unsolicited replies)', async (t) => {
  const c = new ArpCache(new NetStats());
  t.notOk(c.learn(IP1, MAC1, 0, false));
  t.equal(c.size, 0);
});

t.test('table is bounded; eviction prefers idle/incomplete over a busy neighbour', async (t) => {
  const s = new NetStats();
  const c = new ArpCache(s, { maxEntries: 4, reachableMs: 60_000 });
  c.learn(IP1, MAC1, 0, true); // the gateway, busy
  for (let i = 0; i < 100; i++) {
    c.lookup(IP1, i * 10); // keep it used
    c.learn(0xc6120100 + i, 0x020000000100 + i, i * 10, true);
    t.ok(c.size <= 4);
  }
  t.equal(c.peek(IP1), MAC1, 'busy neighbour survived the flood');
  t.ok(s.arp.evicted >= 96);
});

t.test('PendingQueue: bounded pool, per-hop share, FIFO removal', async (t) => {
  const q = new PendingQueue(4, 100, 2);
  const pkt = new Uint8Array(50).fill(7);
  t.ok(q.park(1, pkt, 0, 50));
  t.ok(q.park(1, pkt, 0, 10));
  t.notOk(q.park(1, pkt, 0, 10), 'per-hop share full');
  t.ok(q.park(2, pkt, 0, 20));
  t.notOk(q.park(3, pkt, 0, 101), 'bigger than a slot');
  t.ok(q.park(3, pkt, 0, 30));
  t.notOk(q.park(4, pkt, 0, 10), 'pool full');
  t.equal(q.size, 4);
  t.same([q.hopAt(0), q.lengthAt(0), q.hopAt(1), q.lengthAt(1)], [1, 50, 1, 10]);
  t.equal(q.buf[q.offsetAt(0) + 49], 7);
  q.removeAt(1);
  t.same([q.hopAt(0), q.hopAt(1), q.hopAt(2)], [1, 2, 3]);
  t.ok(q.park(4, pkt, 0, 10), 'slot reused');
  const q2 = new PendingQueue(4, 100, 1);
  t.ok(q2.park(0xc6120001, pkt, 0, 10));
  t.notOk(q2.park(0xc6120001 | 0, pkt, 0, 10), 'uint32 and int32 spellings of one hop share its limit');
  t.equal(q2.hopAt(0) >>> 0, 0xc6120001);
  t.equal(q.size, 4);
});
