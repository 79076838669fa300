import t from 'tap';
import { lowerToXdp } from '../../src/net/filter-xdp.js';
import { SluiceError } from '../../src/errors.js';

const base = { allow: [], deny: [], maxConnectionsPerSource: 0, synRatePerSource: 0, synBurstPerSource: 0 };

t.test('CIDRs become host-order networks; the listener address scopes the program', async (t) => {
  const x = lowerToXdp({ ...base, deny: ['198.18.0.1', '10.0.0.0/8'], allow: ['198.18.0.0/15'], synRatePerSource: 2.5, synBurstPerSource: 4, maxConnectionsPerSource: 9 }, '198.18.0.2');
  t.same(x.deny, [{ network: 0xc6120001, prefixLength: 32 }, { network: 0x0a000000, prefixLength: 8 }]);
  t.same(x.allow, [{ network: 0xc6120000, prefixLength: 15 }]);
  t.equal(x.synRatePerSource, 2.5);
  t.equal(x.synBurstPerSource, 4);
  t.equal(x.destination, 0xc6120002);
  t.equal(lowerToXdp(base, '0.0.0.0').destination, 0, '0.0.0.0 filters every destination');
});

t.test('a bad rule is refused with the field path, as the software filter refuses it', async (t) => {
  const err = t.throws(() => lowerToXdp({ ...base, deny: ['198.18.0.1/33'] }, '198.18.0.2', 'listeners[0].filter')) as SluiceError;
  t.equal(err.code, 'SLUICE_CONFIG_INVALID');
  t.match(err.message, /listeners\[0\]\.filter\.deny\[0\]/);
});
