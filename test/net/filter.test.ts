import t from 'tap';
import { compileRules, PacketFilter, parseCidr, type FilterRules } from '../../src/net/filter.js';
import { NetStats } from '../../src/net/stats.js';
import { parseIpv4 } from '../../src/net/wire/ipv4.js';
import { SluiceError } from '../../src/errors.js';

const ip = (s: string) => parseIpv4(s);

function rules(over: Partial<FilterRules> = {}): FilterRules {
  return { allow: [], deny: [], maxConnectionsPerSource: 0, synRatePerSource: 0, synBurstPerSource: 0, ...over };
}

t.test('parseCidr accepts /0, /32 and bare addresses', async (t) => {
  t.same(parseCidr('0.0.0.0/0', 'x'), { network: 0, prefixLength: 0 });
  t.same(parseCidr('198.18.0.7/32', 'x'), { network: ip('198.18.0.7'), prefixLength: 32 });
  t.same(parseCidr('198.18.0.7', 'x'), { network: ip('198.18.0.7'), prefixLength: 32 });
  t.same(parseCidr('198.18.0.0/15', 'x'), { network: ip('198.18.0.0'), prefixLength: 15 });
});

t.test('parseCidr errors name the field and the precise problem', async (t) => {
  const cases: [unknown, RegExp][] = [
    [42, /^filter\.allow\[0\]: 42 must be a string like "198\.18\.0\.0\/15"$/],
    ['::1/128', /is IPv6/],
    ['10.0.0/8', /address "10\.0\.0" which is not a dotted-quad/],
    ['10.0.0.256/32', /address "10\.0\.0\.256"/],
    ['010.0.0.0/8', /no leading zeros/],
    ['/8', /address ""/],
    ['10.0.0.0/33', /prefix length "33" which is not an integer 0-32/],
    ['10.0.0.0/', /prefix length ""/],
    ['10.0.0.0/08', /prefix length "08"/],
    ['10.0.0.0/8/9', /prefix length "8\/9"/],
    ['10.0.0.1/8', /host bits set beyond \/8; did you mean "10\.0\.0\.0\/8"\?/],
    ['198.19.0.0/15', /did you mean "198\.18\.0\.0\/15"/],
  ];
  for (const [v, re] of cases) {
    try {
      parseCidr(v, 'filter.allow[0]');
      t.fail(`accepted ${JSON.stringify(v)}`);
    } catch (e) {
      t.ok(e instanceof SluiceError, 'SluiceError');
      t.equal((e as SluiceError).code, 'SLUICE_CONFIG_INVALID');
      t.equal((e as SluiceError).detail.field, 'filter.allow[0]');
      t.match((e as Error).message, re, JSON.stringify(v));
    }
  }
});

t.test('compileRules validates numbers and names the field', async (t) => {
  t.throws(() => compileRules(rules({ maxConnectionsPerSource: -1 })), /filter\.maxConnectionsPerSource: -1 must be an integer >= 0/);
  t.throws(() => compileRules(rules({ maxConnectionsPerSource: 1.5 })), /maxConnectionsPerSource/);
  t.throws(() => compileRules(rules({ synRatePerSource: Number.NaN })), /synRatePerSource: null must be a number >= 0/);
  t.throws(() => compileRules(rules({ synRatePerSource: 10, synBurstPerSource: 0 })), /synBurstPerSource: 0 must be an integer >= 1/);
  t.throws(() => compileRules({ ...rules(), deny: 'x' as unknown as string[] }), /filter\.deny: "x" must be an array/);
  t.throws(() => compileRules(rules({ deny: ['10.0.0.0/8', '1.2.3.4/40'] })), /filter\.deny\[1\]/);
});

t.test('empty allow list allows all; deny wins over allow; /0 and /32', async (t) => {
  const s = new NetStats();
  const f = new PacketFilter(rules(), s);
  t.ok(f.allowPacket(ip('203.0.113.9')));
  f.setRules(rules({ allow: ['198.18.0.0/15'], deny: ['198.18.5.5'] }));
  t.ok(f.allowPacket(ip('198.18.0.1')));
  t.ok(f.allowPacket(ip('198.19.255.255')), 'last address of /15');
  t.notOk(f.allowPacket(ip('198.20.0.0')), 'outside allow');
  t.notOk(f.allowPacket(ip('198.18.5.5')), 'deny /32 wins');
  t.ok(f.allowPacket(ip('198.18.5.4')));
  f.setRules(rules({ allow: ['0.0.0.0/0'], deny: ['0.0.0.0/0'] }));
  t.notOk(f.allowPacket(ip('1.1.1.1')), 'deny /0 wins over allow /0');
  f.setRules(rules({ allow: ['0.0.0.0/0'] }));
  t.ok(f.allowPacket(ip('255.255.255.254')));
  t.equal(s.rxDrop.filter_deny, 3);
});

t.test('many rules of mixed lengths', async (t) => {
  const deny: string[] = [];
  for (let i = 0; i < 1000; i++) deny.push(`10.${i >> 8}.${i & 255}.0/24`);
  deny.push('172.16.0.0/12', '192.0.2.1');
  const f = new PacketFilter(rules({ deny }));
  t.notOk(f.allowPacket(ip('10.3.231.77')));
  t.ok(f.allowPacket(ip('10.3.232.77')), '10.3.232.0/24 is rule 1000, not present');
  t.notOk(f.allowPacket(ip('172.31.255.255')));
  t.ok(f.allowPacket(ip('172.32.0.0')));
  t.notOk(f.allowPacket(ip('192.0.2.1')));
  t.ok(f.allowPacket(ip('192.0.2.2')));
});

t.test('SYN token bucket per source over injected time', async (t) => {
  const s = new NetStats();
  const f = new PacketFilter(rules({ synRatePerSource: 10, synBurstPerSource: 3 }), s);
  const a = ip('198.18.0.10');
  const b = ip('198.18.0.11');
  t.same([f.allowSyn(a, 0), f.allowSyn(a, 0), f.allowSyn(a, 0), f.allowSyn(a, 0)], [true, true, true, false], 'burst of 3');
  t.ok(f.allowSyn(b, 0), 'other source has its own bucket');
  t.notOk(f.allowSyn(a, 99), '0.99 token after 99 ms at 10/s');
  t.ok(f.allowSyn(a, 100), 'one token per 100 ms');
  t.notOk(f.allowSyn(a, 150));
  t.same([f.allowSyn(a, 10_000), f.allowSyn(a, 10_000), f.allowSyn(a, 10_000), f.allowSyn(a, 10_000)], [true, true, true, false], 'refill capped at burst');
  t.equal(s.rxDrop.filter_syn_rate, 4);
  f.setRules(rules({ synRatePerSource: 10, synBurstPerSource: 1 }));
  t.ok(f.allowSyn(a, 20_000));
  t.notOk(f.allowSyn(a, 20_000), 'new burst applies, banked tokens clamped');
  t.equal(s.rxDrop.filter_syn_rate, 5, 'counters survive setRules');
  f.setRules(rules());
  let passed = 0;
  for (let i = 0; i < 100; i++) if (f.allowSyn(a, 20_000)) passed++;
  t.equal(passed, 100, 'rate 0 = unlimited');
});

t.test('per-source connection limit fed by opened/closed hooks', async (t) => {
  const s = new NetStats();
  const f = new PacketFilter(rules({ maxConnectionsPerSource: 2 }), s);
  const a = ip('198.18.0.10');
  t.ok(f.allowSyn(a, 0));
  f.connectionOpened(a);
  f.connectionOpened(a);
  t.equal(f.connectionsFrom(a), 2);
  t.notOk(f.allowSyn(a, 0));
  t.ok(f.allowSyn(ip('198.18.0.11'), 0));
  f.connectionClosed(a);
  t.ok(f.allowSyn(a, 0));
  f.connectionClosed(a);
  f.connectionClosed(a);
  f.connectionClosed(ip('9.9.9.9'));
  t.equal(f.connectionsFrom(a), 0, 'never negative');
  t.equal(s.rxDrop.filter_conn_limit, 1);
});

t.test('bucket table is bounded; eviction drops the least recently active source', async (t) => {
  const f = new PacketFilter(rules({ synRatePerSource: 1, synBurstPerSource: 1 }), new NetStats(), { maxTrackedSources: 100 });
  const hot = ip('198.18.0.1');
  t.ok(f.allowSyn(hot, 0));
  let most = 0;
  for (let i = 0; i < 10_000; i++) {
    f.allowSyn(ip('203.0.113.0') + (i % 5000), 1);
    if (i % 50 === 0) f.allowSyn(hot, 1); // stays recently active, and stays limited
    most = Math.max(most, f.trackedSources);
  }
  t.equal(most, 100, 'never more than maxTrackedSources');
  t.notOk(f.allowSyn(hot, 1), 'active source kept its (empty) bucket through the churn');
});

t.test('a bad setRules leaves the old rules in force', async (t) => {
  const f = new PacketFilter(rules({ deny: ['10.0.0.0/8'] }));
  t.throws(() => f.setRules(rules({ deny: ['10.0.0.0/8', 'nope'] })), /filter\.deny\[1\]/);
  t.same(f.rules.deny, ['10.0.0.0/8']);
  t.notOk(f.allowPacket(ip('10.1.1.1')));
});
