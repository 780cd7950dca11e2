/**
 * The ARP thread: answers ARP for the held VIPs on its own event loop, so a
 * reply never waits behind the main thread's informers and Lease writes.
 * Runs the same ArpResponder the main thread would; counters and log lines
 * go back to the main thread in batches.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { MacAddress } from '../net/arp-frame.js';
import { PacketSocketError } from '../net/packet-socket.js';
import { ArpResponder } from './arp-responder.js';
import { CONTROL_SEQ, CONTROL_STATUS, type ArpCall, type ArpReport, type ArpWorkerData } from './arp-thread-protocol.js';

const COUNTS_EVERY_MS = 200;

const port = parentPort;
if (!port) throw new Error('arp-worker.js runs only as a worker thread');
const data = workerData as ArpWorkerData;
const control = new Int32Array(data.control);
const errorBytes = new Uint8Array(data.error);
const post = (m: ArpReport): void => port.postMessage(m);

const log = pino({ level: data.logLevel, base: undefined }, { write: (line: string) => post({ type: 'log', line }) });
const responders = new Map<string, ArpResponder>();
let counts = new Map<string, number>();
const bump = (ifname: string, key: string): void => {
  const k = `${ifname}\0${key}`;
  counts.set(k, (counts.get(k) ?? 0) + 1);
};

setInterval(() => {
  if (counts.size === 0) return;
  const batch = [...counts].map(([k, n]) => {
    const [ifname, key] = k.split('\0') as [string, string];
    return [ifname, key, n] as const;
  });
  counts = new Map();
  post({ type: 'counts', counts: batch });
}, COUNTS_EVERY_MS);

function perform(call: ArpCall): void {
  switch (call.op) {
    case 'open': {
      if (responders.has(call.ifname)) return;
      const responder = new ArpResponder(
        call.ifname,
        MacAddress.parse(call.mac),
        {
          observe: (d, ifname) => bump(ifname, d.action === 'ignore' || d.action === 'drop' ? `${d.action}:${d.reason}` : d.action),
          garpSent: (ifname) => bump(ifname, 'garp'),
        },
        log,
      );
      responder.start(call.garpRefreshSeconds);
      responders.set(call.ifname, responder);
      return;
    }
    case 'announce':
      return responders.get(call.ifname)?.announce(call.ip);
    case 'withdraw':
      return responders.get(call.ifname)?.withdraw(call.ip);
    case 'stop':
      responders.get(call.ifname)?.stop();
      responders.delete(call.ifname);
      return;
  }
}

port.on('message', (call: ArpCall) => {
  let status = 0;
  try {
    perform(call);
  } catch (err) {
    status = 1;
    const e = err as Error;
    const text = JSON.stringify({ message: e.message, errno: err instanceof PacketSocketError ? err.errno : undefined });
    const n = new TextEncoder().encodeInto(text, errorBytes.subarray(0, errorBytes.length - 1)).written;
    errorBytes[n] = 0;
  }
  Atomics.store(control, CONTROL_STATUS, status);
  Atomics.store(control, CONTROL_SEQ, call.seq);
  Atomics.notify(control, CONTROL_SEQ);
});

post({ type: 'ready' });
