// Run in a lab namespace: claims VIP for a made-up MAC with gratuitous ARP in
// both forms (what a misconfigured or hostile host sends), COUNT times every
// INTERVAL ms, through the project's packet socket and encoder. Prints
// {"frames": n, "firstMs": t0, "lastMs": t1} (epoch ms) as one JSON line.
//   node arp-spoofer.mjs VIP MAC COUNT INTERVAL
import { encodeGratuitousArp } from '../../dist/src/net/arp-frame.js';
import { spoof } from './spoof-loop.mjs';

await spoof((vip, localMac) => ['request', 'reply'].map((form) => encodeGratuitousArp({ localMac, vip, form })));
