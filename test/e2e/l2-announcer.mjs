// Run in a lab node namespace: another L2 load balancer's speaker as it behaves on the wire
// (MetalLB's layer-2 mode): it announces each VIP with gratuitous ARP at start, then answers
// every ARP request for them with this node's MAC, from user space, until SIGTERM.
// Prints "announcing" once the socket is open and the announcements are sent.
//   node l2-announcer.mjs VIP...
import { readFileSync } from 'node:fs';
import { IpAddress } from '../../dist/src/net/ip.js';
import { MacAddress, encodeArpReply, encodeGratuitousArp } from '../../dist/src/net/arp-frame.js';
import { PacketSocket } from '../../dist/src/net/packet-socket.js';
import { decideArp } from '../../dist/src/speaker/arp-policy.js';

const vips = process.argv.slice(2).map((v) => IpAddress.parse(v));
const held = new Set(vips.map(String));
const mac = MacAddress.parse(readFileSync('/sys/class/net/eth0/address', 'utf8').trim());
const sock = PacketSocket.open('eth0', (frame) => {
  const d = decideArp(frame, held, mac);
  if (d.action === 'answer') sock.send(encodeArpReply({ localMac: mac, vip: d.packet.targetIp, request: d.packet }));
}, () => {});
for (const vip of vips) for (const form of ['request', 'reply']) sock.send(encodeGratuitousArp({ localMac: mac, vip, form }));
console.log('announcing');
process.on('SIGTERM', () => {
  sock.close();
  process.exit(0);
});
