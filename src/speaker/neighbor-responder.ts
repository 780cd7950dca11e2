import { performance } from 'node:perf_hooks';
import { MacAddress, encodeArpReply, encodeGratuitousArp } from '../net/arp-frame.js';
import { IpAddress } from '../net/ip.js';
import { PacketSocket, type PacketSocketError } from '../net/packet-socket.js';
import type { Logger } from '../observability/logger.js';
import { decideArp, type ArpDecision } from './arp-policy.js';
import { ConflictThrottle } from './conflict-throttle.js';

export interface ArpCounters {
  observe(decision: ArpDecision, ifname: string): void;
  garpSent(ifname: string): void;
  /** A frame not looked at: the speaker is suspended after a stall. */
  suspended(ifname: string): void;
  /** The packet socket reported an error (logged here already). */
  socketError?(ifname: string, err: PacketSocketError): void;
}

/** Gratuitous ARP after a takeover: both forms, at these offsets (ms), so a lost frame or two don't matter. */
export const GARP_BURST_MS = [0, 200, 700, 1500, 3000] as const;

/** Re-assertions against another host claiming a held VIP: at most one per this many ms per VIP. */
export const REASSERT_INTERVAL_MS = 500;

/**
 * Answers ARP on one interface for the VIPs this node holds there. Add a VIP
 * only after winning its Lease; remove it before giving the Lease up, so two
 * nodes never answer at once.
 */
export class ArpResponder {
  private readonly held = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout[]>();
  private readonly throttle = new ConflictThrottle(REASSERT_INTERVAL_MS);
  private readonly reassertTimers = new Map<string, NodeJS.Timeout>();
  /** Claims per VIP not logged yet (logged with the next re-assertion). */
  private readonly unlogged = new Map<string, number>();
  private refresh: NodeJS.Timeout | undefined;
  private socket: PacketSocket | undefined;
  readonly mac: MacAddress;

  constructor(
    readonly ifname: string,
    mac: MacAddress,
    private readonly counters: ArpCounters,
    private readonly log: Logger,
    /**
     * Asked before each received frame is looked at and before anything is sent: false while the speaker is
     * suspended after a stall (it must learn whether it was declared dead before it answers again).
     */
    private readonly mayAnswer: () => boolean = () => true,
  ) {
    this.mac = mac;
  }

  /** Opens the packet socket (needs CAP_NET_RAW; the error says so). */
  start(garpRefreshSeconds = 0): void {
    this.socket = PacketSocket.open(
      this.ifname,
      (frame) => this.onFrame(frame),
      (err: PacketSocketError) => {
        this.log.warn({ ifname: this.ifname, err: err.message, errno: err.errno }, 'packet socket error');
        this.counters.socketError?.(this.ifname, err);
      },
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
    clearTimeout(this.reassertTimers.get(ip));
    this.reassertTimers.delete(ip);
    this.throttle.forget(ip);
    this.unlogged.delete(ip);
  }

  stop(): void {
    for (const ip of [...this.held]) this.withdraw(ip);
    clearInterval(this.refresh);
    this.socket?.close();
    this.socket = undefined;
  }

  /** The addresses answered for now. */
  get addresses(): IterableIterator<string> {
    return this.held.values();
  }

  private onFrame(frame: Uint8Array): void {
    if (!this.mayAnswer()) {
      this.counters.suspended(this.ifname);
      return;
    }
    const d = decideArp(frame, this.held, this.mac);
    this.counters.observe(d, this.ifname);
    if (d.action === 'answer') {
      this.send(encodeArpReply({ localMac: this.mac, vip: d.packet.targetIp, request: d.packet }));
    } else if (d.action === 'conflict') {
      this.onConflict(d.packet.senderIp.toString(), d.packet.senderMac.toString());
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
    this.sendGarp(ip);
  }

  private sendGarp(ip: string): void {
    if (!this.mayAnswer()) return;
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
