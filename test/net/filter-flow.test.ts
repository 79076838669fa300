import t from 'tap';
import { encodeFlowRules, FLOW_PRIORITY, lowerToFlow, NOT_ALLOWED_RULE } from '../../src/net/filter-flow.js';
import { SluiceError } from '../../src/errors.js';
import type { FilterRules } from '../../src/net/filter.js';

const base: FilterRules = { allow: [], deny: [], maxConnectionsPerSource: 0, synRatePerSource: 0, synBurstPerSource: 0 };

/** Which sources a lowered rule set drops, decided as a NIC would: the lowest priority value that matches wins. */
function nicDrops(rules: ReturnType<typeof lowerToFlow>, src: number): boolean {
  const all = [...rules.deny, ...rules.allow].sort((a, b) => a.priority - b.priority);
  const hit = all.find((r) => ((src & r.mask) >>> 0) === r.network);
  return hit !== undefined && hit.fate === 'drop';
}

t.test('deny CIDRs: one drop each at the highest priority, with the prefix as a source mask', async (t) => {
  const l = lowerToFlow({ ...base, deny: ['203.0.113.0/24', '198.18.0.1', '10.0.0.0/8', '0.0.0.0/0'] });
  t.same(l.deny.map((r) => [r.rule, r.network, r.mask, r.priority, r.fate]), [
    ['deny 203.0.113.0/24', 0xcb007100, 0xffffff00, FLOW_PRIORITY.deny, 'drop'],
    ['deny 198.18.0.1/32', 0xc6120001, 0xffffffff, 0, 'drop'],
    ['deny 10.0.0.0/8', 0x0a000000, 0xff000000, 0, 'drop'],
    ['deny 0.0.0.0/0', 0, 0, 0, 'drop'],
  ]);
  t.same(l.allow, [], 'no allow list: nothing else goes down');
  t.same(l.stays, []);
});

t.test('odd prefix lengths: the mask keeps exactly the prefix bits, unsigned', async (t) => {
  const l = lowerToFlow({ ...base, deny: ['198.18.0.0/15', '128.0.0.0/1', '192.0.2.128/25', '100.64.0.0/10'] });
  t.same(l.deny.map((r) => r.mask), [0xfffe0000, 0x80000000, 0xffffff80, 0xffc00000]);
  t.ok(l.deny.every((r) => r.mask >= 0 && r.network >= 0), 'no negative (int32) values reach the native words');
  t.same(l.deny.map((r) => r.network), [0xc6120000, 0x80000000, 0xc0000280, 0x64400000]);
});

t.test('the same CIDR twice is one flow (two identical flows can be refused as a collision)', async (t) => {
  const l = lowerToFlow({ ...base, deny: ['198.18.0.1', '198.18.0.1/32', '10.0.0.0/8'], allow: ['198.18.0.0/15', '198.18.0.0/15'] });
  t.same(l.deny.map((r) => r.rule), ['deny 198.18.0.1/32', 'deny 10.0.0.0/8']);
  t.same(l.allow.map((r) => r.rule), ['allow 198.18.0.0/15', NOT_ALLOWED_RULE]);
});

t.test('an allow list passes its sources above a drop of every other source; deny still wins', async (t) => {
  const l = lowerToFlow({ ...base, deny: ['198.18.0.1'], allow: ['198.18.0.0/24', '192.0.2.0/24'] });
  t.same(l.allow.map((r) => [r.rule, r.network, r.mask, r.priority, r.fate]), [
    ['allow 198.18.0.0/24', 0xc6120000, 0xffffff00, FLOW_PRIORITY.allow, 'pass'],
    ['allow 192.0.2.0/24', 0xc0000200, 0xffffff00, FLOW_PRIORITY.allow, 'pass'],
    [NOT_ALLOWED_RULE, 0, 0, FLOW_PRIORITY.notAllowed, 'drop'],
  ]);
  t.ok(FLOW_PRIORITY.deny < FLOW_PRIORITY.allow && FLOW_PRIORITY.allow < FLOW_PRIORITY.notAllowed, 'deny before allow before the rest');
  // The same decisions as PacketFilter.allowPacket: deny wins over allow, and outside the allow list is refused.
  t.equal(nicDrops(l, 0xc6120001), true, '198.18.0.1: allowed by the /24 but denied');
  t.equal(nicDrops(l, 0xc6120002), false, '198.18.0.2: allowed');
  t.equal(nicDrops(l, 0xc00002fe), false, '192.0.2.254: allowed');
  t.equal(nicDrops(l, 0xcb007101), true, '203.0.113.1: not in the allow list');
  // The drop of the rest is created after the passes (it comes last in the set) and, destroying
  // last first, goes before them: a reload never drops an allowed source for a moment.
  t.equal(l.allow.at(-1)!.rule, NOT_ALLOWED_RULE);
});

t.test('the SYN rate and the connection limit never go to a NIC, with why', async (t) => {
  const l = lowerToFlow({ ...base, synRatePerSource: 5, synBurstPerSource: 2, maxConnectionsPerSource: 10 });
  t.same(l.deny, []);
  t.same(l.allow, []);
  t.same(l.stays.map((s) => s.rule), ['SYN rate per source', 'connections per source']);
  t.match(l.stays[0]!.reason, /no per-source state/);
  t.match(l.stays[1]!.reason, /TCP state/);
});

t.test('native words: network, mask, priority, fate (0 drop, 1 queue 0) per rule', async (t) => {
  const l = lowerToFlow({ ...base, deny: ['203.0.113.0/24'], allow: ['198.18.0.0/15'] });
  const w = encodeFlowRules([...l.deny, ...l.allow]);
  t.same([...w], [
    0xcb007100, 0xffffff00, 0, 0,
    0xc6120000, 0xfffe0000, 1, 1,
    0, 0, 2, 0,
  ]);
  t.equal(encodeFlowRules([]).length, 0);
});

t.test('a bad rule is refused with the field path, as the software filter refuses it', async (t) => {
  const err = t.throws(() => lowerToFlow({ ...base, allow: ['10.0.0.1/8'] }, 'listeners[0].filter')) as SluiceError;
  t.equal(err.code, 'SLUICE_CONFIG_INVALID');
  t.match(err.message, /listeners\[0\]\.filter\.allow\[0\].*host bits/);
});
