// Run in a lab namespace: claims the IPv6 VIP for a made-up MAC with forged
// unsolicited Neighbor Advertisements (from the VIP to all-nodes, Override set,
// Solicited clear, Target Link-Layer Address = MAC: what a hostile host sends
// to take an address over), COUNT times every INTERVAL ms, through the
// project's packet socket and encoder. Prints {"frames": n, "firstMs": t0,
// "lastMs": t1} (epoch ms) as one JSON line.
//   node ndp-spoofer.mjs VIP MAC COUNT INTERVAL
import { encodeUnsolicitedAdvertisement } from '../../dist/src/net/ndp-frame.js';
import { spoof } from './spoof-loop.mjs';

await spoof((target, localMac) => [encodeUnsolicitedAdvertisement({ localMac, target })]);
