/**
 * Heartbeats on a 1400-byte MTU link (issue 16, item 7: VXLAN or overlay-backed bridges): the ARP
 * thread in namespace A announces enough addresses for several chunks; a listener in namespace B
 * receives the frames with a packet socket, decodes them and assembles A's claims as a peer's
 * Membership does. Every frame must fit the link, none may fail to send, and the whole set must
 * arrive. Needs root and iproute2.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../../testkit/lab.js';
import { createVethPair } from '../../../testkit/veth-pair.js';

const run = promisify(execFile);
const MTU = 1400;
const KEY = '11'.repeat(32);
const CLAIMS = Array.from({ length: 700 }, (_, i) => `198.18.${20 + (i >> 8)}.${i & 255}`);
const pair = createVethPair('mtu', '198.18.11.1/24', '198.18.11.2/24');
t.teardown(() => pair.cleanup());
for (const [ns, ifname] of [[pair.nsA, pair.ifA], [pair.nsB, pair.ifB]] as const) await run('ip', ['-n', ns, 'link', 'set', ifname, 'mtu', String(MTU)]);

// Both run with tap's loaders (process.execArgv), so they import the TypeScript sources.
const SPEAKER = String.raw`
const { ArpThread } = await import(process.env.M_THREAD);
const { MacAddress } = await import(process.env.M_FRAME);
const { interfaceInfo } = await import(process.env.M_SOCKET);
const { pino } = await import('pino');
const counts = {};
const log = pino({ level: 'silent' });
const thread = await ArpThread.start({ count: (i, k, n) => (counts[k] = (counts[k] ?? 0) + n), heartbeat: () => undefined, stalled: () => undefined, socketLost: () => undefined }, log);
thread.heartbeat({ node: 'node-a', incarnation: 1, intervalMs: 100, failureTimeoutMs: 400, keys: [process.env.KEY] });
const ifname = process.env.IFNAME;
const arp = thread.open(ifname, MacAddress.fromBytes(interfaceInfo(ifname).mac), 0);
for (const ip of JSON.parse(process.env.CLAIMS)) arp.announce(ip);
await new Promise((r) => setTimeout(r, 3000));
process.stdout.write(JSON.stringify(counts) + '\n');
await thread.close();
`;
const LISTENER = String.raw`
const { PacketSocket } = await import(process.env.M_SOCKET);
const { HEARTBEAT_ETHERTYPE, HeartbeatKey, decodeHeartbeat } = await import(process.env.M_HB);
const { Membership } = await import(process.env.M_MEMBERSHIP);
const key = HeartbeatKey.fromSecret(Buffer.from(process.env.KEY, 'hex'));
const m = new Membership('node-b', { failureTimeoutMs: 400, pauseThresholdMs: 300 });
const seen = { frames: 0, maxLength: 0, dropped: 0 };
const sock = PacketSocket.open(process.env.IFNAME, (f) => {
  const d = decodeHeartbeat(f, [key]);
  if (!d.ok) return void seen.dropped++;
  seen.frames++;
  seen.maxLength = Math.max(seen.maxLength, f.length);
  m.onHeartbeat(process.env.IFNAME, d.heartbeat, performance.now());
}, () => {}, { ethertype: HEARTBEAT_ETHERTYPE });
await new Promise((r) => setTimeout(r, 3500));
sock.close();
const peer = m.livePeers(process.env.IFNAME, performance.now()).find((p) => p.node === 'node-a');
process.stdout.write(JSON.stringify({ ...seen, claims: peer?.claims.size ?? 0, claimsKnown: peer?.claimsKnown ?? false }) + '\n');
`;

const mod = (p: string) => new URL(p, import.meta.url).href;
mkdirSync(path.join(ROOT, '.lab'), { recursive: true });
const dir = mkdtempSync(path.join(ROOT, '.lab', 'heartbeat-mtu-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function inNs(ns: string, ifname: string, name: string, code: string): Promise<Record<string, unknown>> {
  const script = path.join(dir, `${name}.mjs`);
  writeFileSync(script, code);
  const env = {
    ...process.env,
    M_THREAD: mod('../../../src/speaker/arp-thread.js'),
    M_FRAME: mod('../../../src/net/arp-frame.js'),
    M_SOCKET: mod('../../../src/net/packet-socket.js'),
    M_HB: mod('../../../src/election/heartbeat-frame.js'),
    M_MEMBERSHIP: mod('../../../src/election/membership.js'),
    IFNAME: ifname,
    KEY,
    CLAIMS: JSON.stringify(CLAIMS),
  };
  return run('ip', ['netns', 'exec', ns, process.execPath, ...process.execArgv, script], { env, timeout: 30_000 }).then(
    (r) => JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>,
  );
}

t.test(`a ${MTU}-byte MTU: every heartbeat fits, none fails to send, and the peer assembles the whole claim set`, async (t) => {
  const [heard, counts] = await Promise.all([inNs(pair.nsB, pair.ifB, 'listener', LISTENER), inNs(pair.nsA, pair.ifA, 'speaker', SPEAKER)]);
  t.ok(Number(counts['hb-sent']) > 10, `the speaker sent ${counts['hb-sent']} heartbeats`);
  t.equal(counts['hb-send-failed'] ?? 0, 0, 'none failed to send');
  t.ok(Number(heard['frames']) > 10, `the peer received ${heard['frames']}`);
  t.ok(Number(heard['maxLength']) <= 14 + MTU, `the largest was ${heard['maxLength']} bytes, within the link's ${14 + MTU}`);
  t.equal(heard['dropped'], 0, 'none was malformed');
  t.equal(heard['claims'], CLAIMS.length, `the peer knows all ${CLAIMS.length} claims`);
  t.equal(heard['claimsKnown'], true, 'and knows the set is whole');
});
