/**
 * Run in a lab namespace (the client's): receives the speakers' heartbeat frames (EtherType 0x88b5) on eth0
 * through the project's PacketSocket and, on SIGTERM, prints per sending node the intervals between
 * consecutive heartbeat rounds as one JSON line. Frames are not authenticated here: only the sender's name
 * is read, at its fixed offset. A round whose claims changed goes out as several frames back to back; frames
 * from one node within 10 ms of the one before count as the same round.
 *
 *   node heartbeat-capture.js [--interface eth0]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { HEARTBEAT_ETHERTYPE } from '../src/election/heartbeat-frame.js';
import { PacketSocket } from '../src/net/packet-socket.js';

export interface CaptureResult {
  /** Per node: the intervals (ms) between consecutive rounds, in order. */
  readonly intervals: Record<string, number[]>;
  readonly frames: number;
}

const ETH_HEADER = 14;
/** "BL", version, flags, key fingerprint 8, incarnation 8, seq 4, claims digest 8, claims total 4, chunk index 2, chunk count 2. */
const NAME_LENGTH_AT = ETH_HEADER + 40;
const SAME_ROUND_MS = 10;

function main(): void {
  const { values } = parseArgs({ options: { interface: { type: 'string', default: 'eth0' } } });
  const last = new Map<string, number>();
  const intervals: Record<string, number[]> = {};
  let frames = 0;
  const socket = PacketSocket.open(values.interface as string, (frame) => {
    const t = performance.now();
    if (frame.length < NAME_LENGTH_AT + 1 || frame.readUInt16BE(12) !== HEARTBEAT_ETHERTYPE) return;
    const len = frame[NAME_LENGTH_AT] as number;
    const node = frame.toString('utf8', NAME_LENGTH_AT + 1, NAME_LENGTH_AT + 1 + len);
    frames++;
    const prev = last.get(node);
    last.set(node, t);
    if (prev === undefined || t - prev < SAME_ROUND_MS) return;
    (intervals[node] ??= []).push(t - prev);
  }, (err) => process.stderr.write(`capture: ${err.message}\n`), { ethertype: HEARTBEAT_ETHERTYPE });
  process.on('SIGTERM', () => {
    socket.close();
    const out: CaptureResult = { intervals, frames };
    process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
  });
  process.stdout.write('ready\n');
}

main();
