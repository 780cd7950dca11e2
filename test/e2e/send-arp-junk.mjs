// Run in the client namespace: sends malformed, foreign, spoofing and probe ARP
// frames at the lab LAN, then prints how many of each were sent, and how many
// probe answers (replies from the VIP to 0.0.0.0) came back, as one JSON line.
import { readFileSync } from 'node:fs';
import { PacketSocket } from '../../dist/src/net/packet-socket.js';

const vip = process.argv[2];
const mac = readFileSync('/sys/class/net/eth0/address', 'utf8').trim().split(':').map((h) => parseInt(h, 16));
const ip4 = (s) => s.split('.').map(Number);
const fake = [0x02, 0xde, 0xad, 0xbe, 0xef, 0x01];

function arp({ htype = 1, ptype = 0x0800, hlen = 6, plen = 4, op = 1, senderMac = mac, senderIp = '198.51.100.100', targetIp }) {
  const f = new Uint8Array(60);
  f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0);
  f.set(mac, 6);
  f.set([0x08, 0x06, htype >> 8, htype & 255, ptype >> 8, ptype & 255, hlen, plen, 0, op], 12);
  f.set(senderMac, 22);
  f.set(ip4(senderIp), 28);
  f.set(ip4(targetIp), 38);
  return f;
}

let probeAnswers = 0;
const vipBytes = ip4(vip);
const isProbeAnswer = (f) =>
  f.length >= 42 && f[12] === 0x08 && f[13] === 0x06 && f[21] === 2 &&
  vipBytes.every((b, i) => f[28 + i] === b) && [0, 0, 0, 0].every((b, i) => f[38 + i] === b);
const sock = PacketSocket.open('eth0', (f) => { if (isProbeAnswer(f)) probeAnswers++; }, () => {});
const malformed = [
  arp({ htype: 7, targetIp: vip }),
  arp({ ptype: 0x86dd, targetIp: vip }),
  arp({ hlen: 8, targetIp: vip }),
  arp({ op: 9, targetIp: vip }),
];
const foreign = [arp({ targetIp: '198.51.100.99' }), arp({ senderIp: '0.0.0.0', targetIp: '198.51.100.98' })];
// An RFC 5227 probe for the VIP: the holder must answer it, as a host answers for its own address.
const probe = arp({ senderIp: '0.0.0.0', targetIp: vip });
const spoof = [arp({ op: 2, senderMac: fake, senderIp: vip, targetIp: vip })];
const counts = { malformed: 0, foreign: 0, spoof: 0, probes: 0, probeAnswers: 0 };
for (let round = 0; round < 5; round++) {
  for (const f of malformed) {
    sock.send(f);
    counts.malformed++;
  }
  for (const f of foreign) {
    sock.send(f);
    counts.foreign++;
  }
  sock.send(probe);
  counts.probes++;
  await new Promise((r) => setTimeout(r, 20));
}
for (const f of spoof) {
  sock.send(f);
  counts.spoof++;
}
await new Promise((r) => setTimeout(r, 200));
sock.close();
counts.probeAnswers = probeAnswers;
console.log(JSON.stringify(counts));
