// Interop with Linux's TCP over DPDK net_tap (see dpdk-interop.ts for the layout and the steps).

import t from 'tap';
import { interop, interopSkip } from './dpdk-interop.js';

t.test('gateway over DPDK net_tap: openssl, curl SNI/ALPN, bodies both ways, churn, wrk, SIGTERM', { skip: interopSkip }, async (t) => {
  await interop(t, 'net_tap', { sizes: [0, 1 << 20, 100 << 20], churn: 200 });
});
