// What arp-spoofer.mjs and ndp-spoofer.mjs share: run in a lab namespace with
// the arguments VIP MAC COUNT INTERVAL, sends the frames `claim(vip, mac)`
// builds COUNT times every INTERVAL ms out of eth0 through the project's packet
// socket, then prints {"frames": n, "firstMs": t0, "lastMs": t1} (epoch ms) as
// one JSON line.
import { MacAddress } from '../../dist/src/net/arp-frame.js';
import { IpAddress } from '../../dist/src/net/ip.js';
import { PacketSocket } from '../../dist/src/net/packet-socket.js';

/** @param {(vip: IpAddress, mac: MacAddress) => Uint8Array[]} claim */
export async function spoof(claim) {
  const [vipText, macText, count = '1', interval = '0'] = process.argv.slice(2);
  const claims = claim(IpAddress.parse(vipText), MacAddress.parse(macText));
  const sock = PacketSocket.open('eth0', () => {}, () => {});
  let frames = 0;
  const firstMs = Date.now();
  let lastMs = firstMs;
  for (let i = 0; i < Number(count); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, Number(interval)));
    for (const frame of claims) {
      sock.send(frame);
      frames++;
    }
    lastMs = Date.now();
  }
  sock.close();
  console.log(JSON.stringify({ frames, firstMs, lastMs }));
}
