import { performance } from 'node:perf_hooks';
import { encodeArpReply, encodeGratuitousArp, type MacAddress } from '../net/arp-frame.js';
import { IpAddress } from '../net/ip.js';
import { NDP_ETHERTYPE, encodeUnsolicitedAdvertisement, ndpFilterProgram } from '../net/ndp-frame.js';
import { PacketSocket, type PacketSocketError } from '../net/packet-socket.js';
import type { Logger } from '../observability/logger.js';
import { decideArp, type ArpDecision } from './arp-policy.js';
import { ConflictThrottle } from './conflict-throttle.js';
import { decideNdp, ndpReply, type NdpDecision } from './ndp-policy.js';
import { SolicitedNodeGroups } from './solicited-node-groups.js';

export interface NeighborCounters {
  observe(decision: ArpDecision, ifname: string): void;
  observeNdp(decision: NdpDecision, ifname: string): void;
  /** One announcement of one address: gratuitous ARP (both forms) or an unsolicited Neighbor Advertisement. */
  announced(ifname: string, family: 'IPv4' | 'IPv6'): void;
  /** A frame not looked at: the speaker is suspended after a stall. */
  suspended(ifname: string): void;
  /** The packet socket reported an error (logged here already). */
  socketError?(ifname: string, err: PacketSocketError): void;
}

/** Announcements after a takeover (gratuitous ARP, unsolicited NA), at these offsets (ms), so a lost frame or two don't matter. */
export const GARP_BURST_MS = [0, 200, 700, 1500, 3000] as const;

/** Re-assertions against another host claiming a held VIP: at most one per this many ms per VIP. */
export const REASSERT_INTERVAL_MS = 500;

/**
 * Answers ARP (IPv4) and NDP (IPv6) on one interface for the VIPs this node holds there. Add a VIP only
 * once this node is its holder; remove it before another node may take it, so two nodes never answer at
 * once. The NDP socket is opened with the first IPv6 VIP, so IPv4-only nodes never listen to IPv6.
 */
export class NeighborResponder {
  private readonly held = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout[]>();
  private readonly throttle = new ConflictThrottle(REASSERT_INTERVAL_MS);
  private readonly reassertTimers = new Map<string, NodeJS.Timeout>();
  /** Claims per VIP not logged yet (logged with the next re-assertion). */
  private readonly unlogged = new Map<string, number>();
  private refresh: NodeJS.Timeout | undefined;
  private arp: PacketSocket | undefined;
  private ndp: PacketSocket | undefined;
  private groups: SolicitedNodeGroups | undefined;
  private stopped = false;
  readonly mac: MacAddress;

  constructor(
    readonly ifname: string,
    mac: MacAddress,
    private readonly counters: NeighborCounters,
    private readonly log: Logger,
    /**
     * Asked before each received frame is looked at and before anything is sent: false while the speaker is
     * suspended after a stall (it must learn whether it was declared dead before it answers again).
     */
    private readonly mayAnswer: () => boolean = () => true,
  ) {
    this.mac = mac;
  }

  /** Opens the ARP socket (needs CAP_NET_RAW; the error says so). */
  start(garpRefreshSeconds = 0): void {
    this.arp = PacketSocket.open(this.ifname, (frame) => this.onArpFrame(frame), (err) => this.onSocketError(err));
    if (garpRefreshSeconds > 0) {
      this.refresh = setInterval(() => {
        for (const ip of this.held) this.sendAnnouncement(ip);
      }, garpRefreshSeconds * 1000);
      this.refresh.unref();
    }
  }

  /** Throws when the IPv6 side cannot be set up (no IPv6 on the interface): the address is then not held. */
  announce(ip: string): void {
    if (this.held.has(ip) || this.stopped) return;
    const vip = IpAddress.parse(ip);
    if (vip.family === 'IPv6') this.openNdp().join(vip);
    this.held.add(ip);
    // Clients keep the old MAC until they hear the new holder announce the address.
    this.timers.set(
      ip,
      GARP_BURST_MS.map((ms) => {
        const t = setTimeout(() => this.held.has(ip) && this.sendAnnouncement(ip), ms);
        t.unref();
        return t;
      }),
    );
  }

  withdraw(ip: string): void {
    if (!this.held.delete(ip)) return;
    for (const t of this.timers.get(ip) ?? []) clearTimeout(t);
    this.timers.delete(ip);
    clearTimeout(this.reassertTimers.get(ip));
    this.reassertTimers.delete(ip);
    this.throttle.forget(ip);
    this.unlogged.delete(ip);
    const vip = IpAddress.parse(ip);
    if (vip.family === 'IPv6') this.groups?.leave(vip);
  }

  stop(): void {
    for (const ip of [...this.held]) this.withdraw(ip);
    this.stopped = true;
    clearInterval(this.refresh);
    this.arp?.close();
    this.ndp?.close();
    this.groups?.close();
    this.arp = this.ndp = this.groups = undefined;
  }

  /** The addresses answered for now. */
  get addresses(): IterableIterator<string> {
    return this.held.values();
  }

  private openNdp(): SolicitedNodeGroups {
    if (this.ndp && this.groups) return this.groups;
    const groups = new SolicitedNodeGroups(this.ifname);
    try {
      this.ndp = PacketSocket.open(this.ifname, (frame) => this.onNdpFrame(frame), (err) => this.onSocketError(err), {
        ethertype: NDP_ETHERTYPE,
        filter: ndpFilterProgram(),
      });
    } catch (err) {
      groups.close();
      throw err;
    }
    this.groups = groups;
    return groups;
  }

  private onSocketError(err: PacketSocketError): void {
    this.log.warn({ ifname: this.ifname, err: err.message, errno: err.errno }, 'packet socket error');
    this.counters.socketError?.(this.ifname, err);
  }

  private onArpFrame(frame: Uint8Array): void {
    if (!this.mayAnswer()) return this.counters.suspended(this.ifname);
    const d = decideArp(frame, this.held, this.mac);
    this.counters.observe(d, this.ifname);
    if (d.action === 'answer') {
      this.send(encodeArpReply({ localMac: this.mac, vip: d.packet.targetIp, request: d.packet }));
    } else if (d.action === 'conflict') {
      this.onConflict(d.packet.senderIp.toString(), d.packet.senderMac.toString());
    }
  }

  private onNdpFrame(frame: Uint8Array): void {
    if (!this.mayAnswer()) return this.counters.suspended(this.ifname);
    const d = decideNdp(frame, this.held, this.mac);
    this.counters.observeNdp(d, this.ifname);
    if (d.action === 'answer' || d.action === 'defend') {
      this.send(ndpReply(d, this.mac));
    } else if (d.action === 'conflict') {
      this.onConflict(d.packet.target.toString(), (d.packet.targetLinkAddress ?? d.packet.srcMac).toString());
    }
  }

  /** Every claim is counted (by the caller); re-assertions and log lines are paced so a spoofer cannot make us flood. */
  private onConflict(ip: string, claimedBy: string): void {
    const now = performance.now();
    const a = this.throttle.onClaim(ip, now);
    this.unlogged.set(ip, (this.unlogged.get(ip) ?? 0) + 1);
    if (a.kind === 'reassert') {
      this.reassert(ip, claimedBy);
    } else if (a.kind === 'schedule') {
      const t = setTimeout(() => {
        this.reassertTimers.delete(ip);
        this.throttle.fired(ip, performance.now());
        if (this.held.has(ip)) this.reassert(ip, claimedBy);
      }, a.atMs - now);
      t.unref();
      this.reassertTimers.set(ip, t);
    }
  }

  private reassert(ip: string, claimedBy: string): void {
    const claims = this.unlogged.get(ip) ?? 0;
    this.unlogged.delete(ip);
    this.log.warn({ ifname: this.ifname, ip, claimedBy, claims }, 'another host claims an address this node announces; re-asserting');
    this.sendAnnouncement(ip);
  }

  private sendAnnouncement(ip: string): void {
    if (!this.mayAnswer()) return;
    const vip = IpAddress.parse(ip);
    if (vip.family === 'IPv4') {
      for (const form of ['request', 'reply'] as const) this.send(encodeGratuitousArp({ localMac: this.mac, vip, form }));
    } else {
      this.send(encodeUnsolicitedAdvertisement({ localMac: this.mac, target: vip }));
    }
    this.counters.announced(this.ifname, vip.family);
  }

  /** Sends go out raw whatever the socket's EtherType: the ARP socket carries the NDP replies too. */
  private send(frame: Uint8Array): void {
    try {
      this.arp?.send(frame);
    } catch (err) {
      this.log.warn({ ifname: this.ifname, err: (err as Error).message }, 'could not send a frame');
    }
  }
}
