// Hosts for the tests that join two of Sluice's stacks (NetStack + the real TcpLayer) over a
// simulated link or the memory wire, and a byte-pattern stream between them: the sender writes
// (i * mul) & 0xff, the receiver checks every byte in order.

import type { FilterRules } from '../../src/net/filter.js';
import { NetStack } from '../../src/net/stack.js';
import { TcpLayer, type TcpConnectOptions } from '../../src/net/tcp/layer.js';

/** A NetStack at `ip`/24, MTU 1500, with a TcpLayer attached; `mac` is a MAC or the last byte of 02:00:00:00:00:xx. */
export function tcpHost(ip: string, mac: Uint8Array | number, filter?: FilterRules): { net: NetStack; tcp: TcpLayer } {
  const net = new NetStack({ mac: typeof mac === 'number' ? new Uint8Array([2, 0, 0, 0, 0, mac]) : mac, ip, prefixLength: 24, mtu: 1500, filter });
  const tcp = new TcpLayer({ mtu: 1500 });
  net.attachTransport(tcp); // also wires tcp.onConnectionOpened/Closed to net.filter
  return { net, tcp };
}

export interface PatternSink {
  /** Bytes received so far, over every connection. */
  readonly received: number;
  /** Whether every byte so far was (i * mul) & 0xff, i counting from the first. */
  readonly intact: boolean;
}

/** Listens on `port` (any address): checks what arrives against the pattern; ends when the peer ends. */
export function patternSink(tcp: TcpLayer, port: number, mul: number): PatternSink {
  const sink = { received: 0, intact: true };
  tcp.listen({
    ip: 0,
    port,
    onConnection: (s) =>
      s.setHandler({
        onData: (c) => {
          for (let i = 0; i < c.length; i++) if (c[i] !== (((sink.received + i) * mul) & 0xff)) sink.intact = false;
          sink.received += c.length;
        },
        onEnd: () => s.end(),
        onDrain() {},
        onClose() {},
      }),
  });
  return sink;
}

/** Connects and sends `bytes` of the pattern in 16 KiB writes, resuming on drain, then ends. */
export function patternSource(tcp: TcpLayer, to: TcpConnectOptions, bytes: number, mul: number): void {
  const payload = new Uint8Array(bytes).map((_, i) => (i * mul) & 0xff);
  const client = tcp.connect(to);
  let off = 0;
  const write = (): void => {
    while (off < bytes) {
      const chunk = payload.subarray(off, Math.min(bytes, off + 16384));
      off += chunk.length;
      if (!client.write(chunk)) return;
    }
    client.end();
  };
  client.setHandler({ onConnect: write, onData() {}, onEnd() {}, onDrain: write, onClose() {} });
}
