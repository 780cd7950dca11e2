import { MacAddress, encodeArpReply, encodeGratuitousArp } from '../net/arp-frame.js';
import { IpAddress } from '../net/ip.js';
import { PacketSocket, type PacketSocketError } from '../net/packet-socket.js';
import type { Logger } from '../observability/logger.js';
import { decideArp, type ArpDecision } from './arp-policy.js';

export interface ArpCounters {
  observe(decision: ArpDecision, ifname: string): void;
  garpSent(ifname: string): void;
}

/** Gratuitous ARP after a takeover: both forms, at these offsets (ms), so a lost frame or two don't matter. */
export const GARP_BURST_MS = [0, 200, 700, 1500, 3000] as const;

/**
 * Answers ARP on one interface for the VIPs this node holds there. Add a VIP
 * only after winning its Lease; remove it before giving the Lease up, so two
 * nodes never answer at once.
 */
export class ArpResponder {
  private readonly held = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout[]>();
  private refresh: NodeJS.Timeout | undefined;
  private socket: PacketSocket | undefined;
  readonly mac: MacAddress;

  constructor(
    readonly ifname: string,
    mac: MacAddress,
    private readonly counters: ArpCounters,
    private readonly log: Logger,
  ) {
    this.mac = mac;
  }

  /** Opens the packet socket (needs CAP_NET_RAW; the error says so). */
  start(garpRefreshSeconds = 0): void {
    this.socket = PacketSocket.open(
      this.ifname,
      (frame) => this.onFrame(frame),
      (err: PacketSocketError) => this.log.warn({ ifname: this.ifname, err: err.message, errno: err.errno }, 'packet socket error'),
    );
    if (garpRefreshSeconds > 0) {
      this.refresh = setInterval(() => {
        for (const ip of this.held) this.sendGarp(ip);
      }, garpRefreshSeconds * 1000);
      this.refresh.unref();
    }
  }

  announce(ip: string): void {
    if (this.held.has(ip)) return;
    this.held.add(ip);
    // Clients keep the old MAC until they see gratuitous ARP from the new holder.
    this.timers.set(
      ip,
      GARP_BURST_MS.map((ms) => {
        const t = setTimeout(() => this.held.has(ip) && this.sendGarp(ip), ms);
        t.unref();
        return t;
      }),
    );
  }

  withdraw(ip: string): void {
    this.held.delete(ip);
    for (const t of this.timers.get(ip) ?? []) clearTimeout(t);
    this.timers.delete(ip);
  }

  stop(): void {
    for (const ip of [...this.held]) this.withdraw(ip);
    clearInterval(this.refresh);
    this.socket?.close();
    this.socket = undefined;
  }

  private onFrame(frame: Uint8Array): void {
    const d = decideArp(frame, this.held, this.mac);
    this.counters.observe(d, this.ifname);
    if (d.action === 'answer') {
      this.send(encodeArpReply({ localMac: this.mac, vip: d.packet.targetIp, request: d.packet }));
    } else if (d.action === 'conflict') {
      const ip = d.packet.senderIp.toString();
      this.log.warn({ ifname: this.ifname, ip, claimedBy: d.packet.senderMac.toString() }, 'another host claims an address this node announces; re-asserting');
      this.sendGarp(ip);
    }
  }

  private sendGarp(ip: string): void {
    const vip = IpAddress.parse(ip);
    for (const form of ['request', 'reply'] as const) this.send(encodeGratuitousArp({ localMac: this.mac, vip, form }));
    this.counters.garpSent(this.ifname);
  }

  private send(frame: Uint8Array): void {
    try {
      this.socket?.send(frame);
    } catch (err) {
      this.log.warn({ ifname: this.ifname, err: (err as Error).message }, 'could not send an ARP frame');
    }
  }
}
