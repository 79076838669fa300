// The DPDK side of test/io/flow.test.ts, in its own process (the EAL starts once per process):
// opens the port, asks for the filter's rules in the NIC, reports what the PMD answered, then
// shows the port still moves frames (answers ARP for the stack address and reports the ICMP
// echo requests that follow), and checks the closed-port errors. One JSON object per line.
//
//   flow-child.ts <json options>

import { createFrameBatch, type FrameBatch } from '../../src/io/port.js';
import { cleanupDpdk, DpdkPort, requireDpdk } from '../../src/io/dpdk.js';
import { NicFilter } from '../../src/io/flow.js';
import { lowerToFlow } from '../../src/net/filter-flow.js';
import type { FilterRules } from '../../src/net/filter.js';
import { arpFrame, ipBytes, summarize } from './frames.js';

interface Options {
  eal: string[];
  device: string;
  stackIp: string;
  kernelIp: string;
  timeoutMs: number;
}

function emit(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

/** Outcome of f: ok with its value, or the error's code, message and detail (SluiceError or the addon's own). */
function caught(f: () => unknown): Record<string, unknown> {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    const x = e as { code?: unknown; message?: unknown; detail?: unknown; function?: unknown };
    return { ok: false, code: x.code, message: x.message, detail: x.detail ?? null, function: x.function ?? null };
  }
}

function send(port: DpdkPort, tx: FrameBatch, f: Uint8Array): number {
  tx.data.set(f, 0);
  tx.lengths[0] = f.length;
  return port.txBurst(tx, 1);
}

const rules: FilterRules = { deny: ['203.0.113.0/24', '198.18.0.99'], allow: ['198.18.0.0/24'], synRatePerSource: 10, synBurstPerSource: 5, maxConnectionsPerSource: 0 };

async function main(o: Options): Promise<void> {
  const port = DpdkPort.open({ eal: o.eal, device: o.device });
  const d = requireDpdk();
  emit({ ready: true, driver: port.info.driver, name: port.name });
  const nic = new NicFilter(port);
  const low = lowerToFlow(rules);
  emit({ deny: caught(() => nic.setFlowRules(low.deny)) });
  emit({ applied: nic.apply(rules) });
  emit({ empty: caught(() => nic.setFlowRules([])) });
  emit({ badFate: caught(() => d.flowReplace(port.portId, new Uint32Array([0, 0, 0, 7]), true)) });
  emit({ badWords: caught(() => d.flowReplace(port.portId, new Uint32Array(3), true)) });
  emit({ counters: caught(() => d.flowCounters(port.portId, new Float64Array(0))) });
  emit({ flush: caught(() => d.flowFlush(port.portId)) });

  // The port serves on: ARP replies for the stack address go out, the echo requests after them come in.
  const rx = createFrameBatch(32, port.frameMax);
  const tx = createFrameBatch(1, port.frameMax);
  let arpReplies = 0;
  let echoRequests = 0;
  emit({ serving: true });
  const end = Date.now() + o.timeoutMs;
  while (Date.now() < end && echoRequests < 1) {
    const n = port.rxBurst(rx);
    for (let i = 0; i < n; i++) {
      const off = i * rx.slotSize;
      const s = summarize(rx.data, off, rx.lengths[i]!);
      if (s.arp?.op === 1 && s.arp.targetIp === o.stackIp) {
        const kmac = rx.data.slice(off + 6, off + 12);
        arpReplies += send(port, tx, arpFrame(2, port.mac, ipBytes(o.stackIp), kmac, ipBytes(o.kernelIp), kmac));
      } else if (s.ip?.icmpType === 8 && s.dst === port.macString) {
        echoRequests++;
      }
    }
    if (n === 0) await new Promise((r) => setTimeout(r, 1));
  }
  emit({ served: true, arpReplies, echoRequests });
  port.close();
  emit({ closedPort: caught(() => nic.setFlowRules(low.deny)) });
  emit({ closedNative: caught(() => d.flowReplace(port.portId, new Uint32Array(0), true)) });
  cleanupDpdk();
  emit({ cleaned: true });
}

const opts = JSON.parse(process.argv[2] ?? '{}') as Options;
try {
  await main(opts);
} catch (e) {
  emit({ fatal: caught(() => { throw e; }) });
  process.exitCode = 1;
}
