/**
 * Run in the lab's client namespace: asks who has each TARGET `--count` times, one question at a time
 * every `--gap` ms, and prints the round trips it saw (µs) as one JSON line, {"times": [...], "lost": n}.
 * An IPv6 target gets a Neighbor Solicitation to its solicited-node group (from the client's address, with
 * its MAC as Source Link-Layer Address, as the kernel sends one) and waits for the solicited Neighbor
 * Advertisement of that target; an IPv4 target gets an ARP request (broadcast) and waits for the reply. Frames
 * go out and come back through the project's PacketSocket (CAP_NET_RAW) and codecs; the clock is
 * process.hrtime around the send and the receive callback, so every target pays the same prober overhead.
 *
 *   node neighbour-probe.js --src-ip6 IP6 --src-ip4 IP4 [--count 100] [--gap 20] [--timeout 100] TARGET
 *
 * arping prints ARP round trips but ndisc6 prints none for NDP; this measures both the same way, so the
 * kernel's answer and the speaker's can be compared within a family and across the two.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { ETHERTYPE_ARP, MacAddress, decodeArpFrame } from '../src/net/arp-frame.js';
import { IpAddress } from '../src/net/ip.js';
import { NDP_ETHERTYPE, decodeNdpFrame, encodeNeighborSolicitation, ndpFilterProgram } from '../src/net/ndp-frame.js';
import { PacketSocket, interfaceInfo } from '../src/net/packet-socket.js';

const IFNAME = 'eth0';

/** who-has `target` tell `srcIp` at `srcMac`, broadcast (RFC 826; 42 bytes, padded to 60 on send). */
function encodeArpRequest(srcMac: MacAddress, srcIp: IpAddress, target: IpAddress): Uint8Array {
  const f = new Uint8Array(42);
  MacAddress.BROADCAST.writeTo(f, 0);
  srcMac.writeTo(f, 6);
  f.set([ETHERTYPE_ARP >> 8, ETHERTYPE_ARP & 0xff, 0, 1, 0x08, 0x00, 6, 4, 0, 1], 12);
  srcMac.writeTo(f, 22);
  f.set(ipv4Bytes(srcIp), 28);
  f.set(ipv4Bytes(target), 38);
  return f;
}

const ipv4Bytes = (ip: IpAddress): number[] => [24n, 16n, 8n, 0n].map((s) => Number((ip.value >> s) & 0xffn));

/** Whether `frame` answers a question about `target` to `mac`. */
function answers(frame: Uint8Array, target: IpAddress, mac: MacAddress): boolean {
  if (target.family === 'IPv6') {
    const d = decodeNdpFrame(frame);
    return d.ok && d.packet.kind === 'advertisement' && d.packet.solicited && d.packet.target.equals(target) && d.packet.dstMac.equals(mac);
  }
  const d = decodeArpFrame(frame);
  return d.ok && d.packet.operation === 'reply' && d.packet.senderIp.equals(target) && d.packet.targetMac.equals(mac);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'src-ip6': { type: 'string' },
      'src-ip4': { type: 'string' },
      count: { type: 'string', default: '100' },
      gap: { type: 'string', default: '20' },
      timeout: { type: 'string', default: '100' },
    },
  });
  const target = IpAddress.parse(positionals[0] as string);
  const v6 = target.family === 'IPv6';
  const srcIp = IpAddress.parse((v6 ? values['src-ip6'] : values['src-ip4']) as string);
  const mac = MacAddress.fromBytes(interfaceInfo(IFNAME).mac);
  const question = v6 ? encodeNeighborSolicitation({ localMac: mac, srcIp, target }) : encodeArpRequest(mac, srcIp, target);
  let waiting: ((at: bigint) => void) | undefined;
  const sock = PacketSocket.open(
    IFNAME,
    (frame) => {
      const at = process.hrtime.bigint();
      if (waiting && answers(frame, target, mac)) waiting(at);
    },
    (err) => {
      throw err;
    },
    v6 ? { ethertype: NDP_ETHERTYPE, filter: ndpFilterProgram(os.endianness()) } : {},
  );
  const times: number[] = [];
  let lost = 0;
  const timeoutMs = Number(values.timeout);
  for (let i = 0; i < Number(values.count); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, Number(values.gap)));
    const answered = new Promise<bigint | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      waiting = (at) => {
        clearTimeout(timer);
        resolve(at);
      };
    });
    const sent = process.hrtime.bigint();
    sock.send(question);
    const at = await answered;
    waiting = undefined;
    if (at === undefined) lost++;
    else times.push(Number(at - sent) / 1000);
  }
  sock.close();
  process.stdout.write(`${JSON.stringify({ times, lost })}\n`);
}

void main();
