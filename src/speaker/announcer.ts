import { MacAddress } from '../net/arp-frame.js';
import { familyOf, type IpFamily } from '../net/ip.js';
import type { Logger } from '../observability/logger.js';
import type { SpeakerMetrics } from '../observability/metrics.js';
import type { ArpInterface } from './arp-thread.js';
import type { InterfaceChoice } from './interface-choice.js';
import { LinkMonitor, sameLink, type Link } from './link-monitor.js';

/** Opens an interface's answering (ARP, NDP, heartbeats) in the L2 thread. */
export interface InterfaceOpener {
  open(ifname: string, mac: MacAddress, garpRefreshSeconds: number): ArpInterface;
}

export type CloseReason = 'down' | 'replaced' | 'socket-lost';

export interface AnnouncerHooks {
  /** What is announced changed (nodeport mode rewrites follow it). */
  changed(): void;
  /** An interface was closed: interfaces are chosen again from a fresh read, and every address decided again. */
  closed(): void;
}

/**
 * What this node answers for, per interface: one responder per open interface (its packet sockets and
 * heartbeats live in the L2 thread), when each started listening, and which addresses each announces.
 * An interface that goes down or is recreated is closed, withdrawing what it announced; it is opened
 * again, and listened on anew, when an address needs it.
 */
export class Announcer {
  private readonly responders = new Map<string, ArpInterface>();
  /** When each interface started hearing: a node takes no new address there before it heard a whole failure timeout. */
  private readonly listeningSince = new Map<string, number>();
  private readonly held = new Map<string, ArpInterface>();
  private readonly links = new LinkMonitor();

  constructor(
    private readonly opener: InterfaceOpener,
    private readonly log: Logger,
    private readonly metrics: SpeakerMetrics,
    private readonly hooks: AnnouncerHooks,
  ) {}

  isAnnounced(ip: string): boolean {
    return this.held.has(ip);
  }

  announced(): IterableIterator<string> {
    return this.held.keys();
  }

  countByFamily(): Record<IpFamily, number> {
    const out = { IPv4: 0, IPv6: 0 };
    for (const ip of this.held.keys()) out[familyOf(ip)]++;
    return out;
  }

  listeningSinceOn(ifname: string): number | undefined {
    return this.listeningSince.get(ifname);
  }

  /** Every open interface listens again from `now` (after a stall): nothing new is taken before it has heard its peers. */
  listenAgain(now: number): void {
    for (const ifname of this.listeningSince.keys()) this.listeningSince.set(ifname, now);
  }

  /** Opens the interface (which starts the heartbeats there) unless it is open on this same link. False when it cannot be opened. */
  listenOn(iface: InterfaceChoice, link: Link, now: number, garpRefreshSeconds: number): boolean {
    const was = this.links.openedWith(iface.name);
    if (this.responders.has(iface.name) && was && sameLink(link, was)) return true;
    this.close(iface.name, 'replaced', `recreated or readdressed (now index ${link.index}, MAC ${link.mac})`);
    try {
      this.responders.set(iface.name, this.opener.open(iface.name, MacAddress.parse(link.mac), garpRefreshSeconds));
      this.links.watch(iface.name, link);
      this.listeningSince.set(iface.name, now);
      this.log.info({ interface: iface.name }, 'listening for peers and answering ARP and NDP on this interface');
      return true;
    } catch (err) {
      this.log.error({ interface: iface.name, err: (err as Error).message }, 'cannot open the interface');
      return false;
    }
  }

  /** Closes the open interfaces whose link went or changed. */
  checkLinks(now: number): void {
    for (const loss of this.links.check(now)) this.close(loss.ifname, loss.reason, loss.detail);
  }

  /** Starts answering for `ip` on `ifname` (moving it from another interface). True when it was not announced there before. */
  announce(ip: string, ifname: string): boolean {
    const current = this.held.get(ip);
    if (current?.ifname === ifname) return false;
    if (current) this.withdraw(ip);
    const responder = this.responders.get(ifname);
    if (!responder) return false;
    responder.announce(ip);
    this.held.set(ip, responder);
    this.hooks.changed();
    this.log.info({ ip, interface: ifname }, 'announcing');
    return true;
  }

  withdraw(ip: string): void {
    const responder = this.held.get(ip);
    if (!responder) return;
    responder.withdraw(ip);
    this.held.delete(ip);
    this.hooks.changed();
    this.log.info({ ip }, 'stopped announcing');
  }

  close(ifname: string, reason: CloseReason, detail: string): void {
    const responder = this.responders.get(ifname);
    if (!responder) return;
    let withdrawn = 0;
    for (const [ip, r] of this.held) {
      if (r !== responder) continue;
      this.withdraw(ip);
      withdrawn++;
    }
    responder.stop();
    this.responders.delete(ifname);
    this.links.forget(ifname);
    this.listeningSince.delete(ifname);
    this.hooks.closed();
    this.metrics.interfacesClosed.inc({ interface: ifname, reason });
    this.log.warn({ interface: ifname, reason, detail, withdrawn }, 'interface closed; it is listened on again before it announces anything');
  }

  /** Stops answering everything, on every interface (shutdown). */
  stop(): void {
    for (const ip of [...this.held.keys()]) this.withdraw(ip);
    for (const r of this.responders.values()) r.stop();
  }
}
