// Run in a lab namespace: claims VIP for a made-up MAC with gratuitous ARP in
// both forms (what a misconfigured or hostile host sends), COUNT times every
// INTERVAL ms, through the project's packet socket and encoder. Prints
// {"frames": n, "firstMs": t0, "lastMs": t1} (epoch ms) as one JSON line.
//   node arp-spoofer.mjs VIP MAC COUNT INTERVAL
import { MacAddress, encodeGratuitousArp } from '../../dist/src/net/arp-frame.js';
import { IpAddress } from '../../dist/src/net/ip.js';
import { PacketSocket } from '../../dist/src/net/packet-socket.js';

const [vipText, macText, count = '1', interval = '0'] = process.argv.slice(2);
const vip = IpAddress.parse(vipText);
const localMac = MacAddress.parse(macText);
const sock = PacketSocket.open('eth0', () => {}, () => {});
let frames = 0;
const firstMs = Date.now();
let lastMs = firstMs;
for (let i = 0; i < Number(count); i++) {
  if (i > 0) await new Promise((r) => setTimeout(r, Number(interval)));
  for (const form of ['request', 'reply']) {
    sock.send(encodeGratuitousArp({ localMac, vip, form }));
    frames++;
  }
  lastMs = Date.now();
}
sock.close();
console.log(JSON.stringify({ frames, firstMs, lastMs }));
