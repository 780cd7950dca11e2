// Run in a lab namespace (the client): an attacker on the LAN who does not know the heartbeat key.
// 1. listens for genuine heartbeats for `listenMs` and keeps them;
// 2. sends forged ones under a key of its own: a phantom node claiming every VIP given, and each
//    genuine node's name with the "leaving" flag (which would hand its addresses over if believed);
// 3. replays every genuine frame it captured, twice, as they were.
// Prints one JSON line: how many frames of each kind it sent.
// Usage: node forge-heartbeats.mjs LISTEN_MS VIP...
import { readFileSync } from 'node:fs';
import { TextDecoder } from 'node:util';
import { HeartbeatKey, decodeHeartbeat, encodeHeartbeat, HEARTBEAT_ETHERTYPE, claimsDigest } from '../../dist/src/election/heartbeat-frame.js';
import { MacAddress } from '../../dist/src/net/arp-frame.js';
import { PacketSocket } from '../../dist/src/net/packet-socket.js';

const [listenMs = '1000', ...vips] = process.argv.slice(2);
const mac = MacAddress.parse(readFileSync('/sys/class/net/eth0/address', 'utf8').trim());
const captured = [];
const sock = PacketSocket.open('eth0', (frame) => captured.push(Uint8Array.from(frame)), () => {}, { ethertype: HEARTBEAT_ETHERTYPE });
await new Promise((r) => setTimeout(r, Number(listenMs)));

// Names of the genuine senders, read from the frames' clear text (the node name sits after the fixed header).
const names = new Set();
for (const f of captured) {
  const len = f[14 + 40];
  names.add(new TextDecoder().decode(f.subarray(14 + 41, 14 + 41 + len)));
}
const ownKey = HeartbeatKey.fromSecret(new Uint8Array(32).fill(0x5a));
const forged = (node, flags, claims) => ({
  node, incarnation: Date.now() + 1e9, seq: 1, flags, claimsDigest: claimsDigest(claims), claimsTotal: claims.length,
  chunkIndex: 0, chunkCount: 1, claims, hears: [],
});
const counts = { captured: captured.length, forged: 0, replayed: 0, genuineNodes: names.size };
for (let round = 0; round < 20; round++) {
  sock.send(encodeHeartbeat({ ...forged('phantom', { leaving: false, apiReachable: true, rejoining: false }, vips), seq: round + 1 }, mac, ownKey));
  counts.forged++;
  for (const n of names) {
    sock.send(encodeHeartbeat({ ...forged(n, { leaving: true, apiReachable: true, rejoining: false }, []), seq: round + 1 }, mac, ownKey));
    counts.forged++;
  }
  await new Promise((r) => setTimeout(r, 20));
}
// Replayed from this device's own MAC: the payload is what is authenticated, and a copy that kept the
// speakers' source MACs would teach the LAN's bridge that they live here (an attack on the switch, not barelb).
const own = mac.bytes;
for (let pass = 0; pass < 2; pass++) {
  for (const f of captured) {
    const copy = Uint8Array.from(f);
    copy.set(own, 6);
    sock.send(copy);
    counts.replayed++;
  }
}
// The key this attacker used is not the cluster's: a decode under it must fail, or the test proves nothing.
counts.ownKeyDecodesGenuine = captured.some((f) => decodeHeartbeat(f, [ownKey]).ok);
sock.close();
console.log(JSON.stringify(counts));
