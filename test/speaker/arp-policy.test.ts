import t from 'tap';
import { MacAddress, encodeArpReply, encodeGratuitousArp, decodeArpFrame } from '../../src/net/arp-frame.js';
import { IpAddress } from '../../src/net/ip.js';
import { decideArp } from '../../src/speaker/arp-policy.js';

const ME = MacAddress.parse('02:00:00:00:00:11');
const PEER = MacAddress.parse('02:00:00:00:00:99');
const VIP = '198.51.100.200';
const held = new Set([VIP]);

/** An ARP frame built by hand: who-has target tell sender. */
function arp(op: 1 | 2, senderMac: MacAddress, senderIp: string, targetIp: string, targetMac = MacAddress.ZERO): Uint8Array {
  const f = new Uint8Array(60);
  f.set(MacAddress.BROADCAST.bytes, 0);
  f.set(senderMac.bytes, 6);
  f.set([0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, op], 12);
  f.set(senderMac.bytes, 22);
  f.set(ip4(senderIp), 28);
  f.set(targetMac.bytes, 32);
  f.set(ip4(targetIp), 38);
  return f;
}
const ip4 = (s: string): number[] => s.split('.').map(Number);

t.test('decisions', async (t) => {
  const rows: [string, Uint8Array, string, string?][] = [
    ['request for a held VIP: answer', arp(1, PEER, '198.51.100.100', VIP), 'answer'],
    ['request for another address: ignore', arp(1, PEER, '198.51.100.100', '198.51.100.201'), 'ignore', 'not-held'],
    ['probe for a held VIP (RFC 5227): answered, the address is in use', arp(1, PEER, '0.0.0.0', VIP), 'answer'],
    ['probe for another address: ignore', arp(1, PEER, '0.0.0.0', '198.51.100.201'), 'ignore', 'probe'],
    ['gratuitous from another MAC for a held VIP: conflict', arp(1, PEER, VIP, VIP), 'conflict'],
    ['gratuitous for another address: ignore', arp(2, PEER, '198.51.100.7', '198.51.100.7'), 'ignore', 'gratuitous'],
    ['reply claiming a held VIP: conflict', arp(2, PEER, VIP, '198.51.100.100'), 'conflict'],
    ['reply for someone else: ignore', arp(2, PEER, '198.51.100.7', '198.51.100.100'), 'ignore', 'reply'],
    ['our own gratuitous ARP: ignore', encodeGratuitousArp({ localMac: ME, vip: IpAddress.parse(VIP), form: 'reply' }), 'ignore', 'own-frame'],
    ['truncated: drop', arp(1, PEER, '198.51.100.100', VIP).slice(0, 30), 'drop', 'truncated'],
    ['not ARP: drop', Uint8Array.from([...arp(1, PEER, '198.51.100.100', VIP)].map((b, i) => (i === 13 ? 0x00 : b))), 'drop', 'not-arp'],
  ];
  for (const [name, frame, action, reason] of rows) {
    const d = decideArp(frame, held, ME);
    t.equal(d.action, action, name);
    if (reason) t.equal((d as { reason?: string }).reason, reason, `${name}: ${reason}`);
  }
});

t.test('the answer to a request is a reply from our MAC for the VIP', async (t) => {
  const d = decideArp(arp(1, PEER, '198.51.100.100', VIP), held, ME);
  if (d.action !== 'answer') return t.fail('expected an answer');
  const reply = decodeArpFrame(encodeArpReply({ localMac: ME, vip: IpAddress.parse(VIP), request: d.packet }));
  t.ok(reply.ok);
  if (reply.ok) {
    t.equal(reply.packet.operation, 'reply');
    t.ok(reply.packet.senderMac.equals(ME));
    t.equal(reply.packet.senderIp.toString(), VIP);
    t.ok(reply.packet.ethDestination.equals(PEER));
    t.equal(reply.packet.targetIp.toString(), '198.51.100.100');
  }
});

t.test('the answer to a probe tells the prober the VIP is ours: sender VIP at our MAC, target 0.0.0.0 at its MAC', async (t) => {
  const d = decideArp(arp(1, PEER, '0.0.0.0', VIP), held, ME);
  if (d.action !== 'answer') return t.fail('expected an answer');
  const reply = decodeArpFrame(encodeArpReply({ localMac: ME, vip: IpAddress.parse(VIP), request: d.packet }));
  t.ok(reply.ok);
  if (reply.ok) {
    t.equal(reply.packet.operation, 'reply');
    t.equal(reply.packet.senderIp.toString(), VIP, 'RFC 5227: a packet whose sender is the probed address means it is in use');
    t.ok(reply.packet.senderMac.equals(ME));
    t.ok(reply.packet.ethDestination.equals(PEER), 'unicast to the prober');
    t.equal(reply.packet.targetIp.toString(), '0.0.0.0');
  }
});
