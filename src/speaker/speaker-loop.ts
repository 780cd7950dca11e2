import type { Heartbeat } from '../election/heartbeat-frame.js';
import { handoverWait } from '../election/holder-choice.js';
import { mayResume, resumeCheckAtMs } from '../election/rejoin.js';
import { lanView } from '../election/lan-view.js';
import { awaitedSpeakers } from './startup-settle.js';
import { SpeakerLeaseLiveness } from '../election/lease-liveness.js';
import type { Membership } from '../election/membership.js';
import type { EventRecorder } from '../k8s/event-recorder.js';
import type { NodeFacts } from '../k8s/node-facts.js';
import type { SpeakerWatches } from '../k8s/speaker-watches.js';
import { toServiceView } from '../k8s/service-view.js';
import { familyOf, type IpFamily } from '../net/ip.js';
import type { NodePortForward } from '../net/nft-ruleset.js';
import type { Logger } from '../observability/logger.js';
import type { SpeakerMetrics } from '../observability/metrics.js';
import { REASON } from '../names.js';
import type { Announcer } from './announcer.js';
import type { ArpThread } from './arp-thread.js';
import { decideRound, type IpAction, type RoundInterface, type RoundIp } from './decision-round.js';
import type { HostNetwork } from './host-network.js';
import { chooseInterface, interfaceSegments, type InterfaceChoice } from './interface-choice.js';
import { LastResult } from './last-result.js';
import { linkOf } from './link-monitor.js';
import { nodePortRules, type NodePortSync } from './nodeport-sync.js';
import type { RefusalReporter } from './refusal-reporter.js';
import { weight } from './rendezvous.js';
import type { SpeakerConfig } from './speaker-config.js';
import type { SigningKeys } from './signing-keys.js';
import type { SpeakerLeaseWriter } from './speaker-lease-writer.js';
import { wantedAddresses, type AddressUser } from './wanted-addresses.js';

/** What the loop works with; each part is built (and stopped) by the Speaker. */
export interface SpeakerLoopParts {
  readonly node: string;
  /** `--interface`; empty: the config's announce.interfaces, else any. */
  readonly interfaces: readonly string[];
  readonly lbClass: string;
  readonly heartbeat: { readonly intervalMs: number; readonly failureTimeoutMs: number };
  /** After starting, free addresses wait this long at most for the other speakers to be heard (awaitedSpeakers). */
  readonly settleMs: number;
  readonly l2: ArpThread;
  readonly watches: SpeakerWatches;
  readonly config: SpeakerConfig;
  readonly membership: Membership;
  readonly announcer: Announcer;
  readonly host: HostNetwork;
  readonly refusals: RefusalReporter;
  readonly leaseWriter: SpeakerLeaseWriter;
  /** The heartbeat keys: told what the live speakers hold, it switches the signing key when all do. */
  readonly keys: SigningKeys;
  /** nodeport mode only. */
  readonly nodeport: NodePortSync | undefined;
  readonly events: EventRecorder;
  readonly log: Logger;
  readonly metrics: SpeakerMetrics;
}

/** An address a Service holds in status, as this node tracks it between rounds. */
interface TrackedIp {
  readonly ip: string;
  readonly family: IpFamily;
  /** Rendezvous weights of nodes for this IP, computed once per node. */
  readonly weights: Map<string, bigint>;
  /** Keyed by SpeakerLoop.interfacesGeneration. */
  readonly iface: LastResult<number, InterfaceChoice | undefined>;
  /** Since when every round has seen it free; undefined: the last round did not. */
  freeSinceMs: number | undefined;
}

/**
 * A speaker's tick: re-reads what changed (informers, config, host interfaces, links, membership),
 * decides every address again when anything a decision reads changed (decideRound), and carries the
 * decisions out. A quiet tick costs next to nothing.
 */
export class SpeakerLoop {
  private readonly tracked = new Map<string, TrackedIp>();
  private wanted = new Map<string, AddressUser[]>();
  private nodeFacts: NodeFacts[] = [];
  /** Set by every informer event; the next tick re-reads what changed. */
  private dirty = true;
  /** Set when anything a decision reads changed; the next tick decides every IP again. */
  private undecided = true;
  private lastMembershipVersion = -1;
  /** Bumped when the interfaces or the config's announce.interfaces change: per-IP interface choices are redone then. */
  private interfacesGeneration = 0;
  /** Decide again then: a listening interface finishes listening, or a free IP's handover wait ends. */
  private decideAgainAtMs = Infinity;
  private apiReachable = true;
  /** The last write of this node's Lease was answered: a silently dropped connection shows here within its deadline. */
  private leaseAnswered = true;
  /**
   * After a stall: this node listens until then, answering suspended, and yields what others announce; it
   * answers again at the first round after it that knows every live peer's claims (mayResume).
   */
  private rejoinUntilMs = -Infinity;

  private readonly handoverAfterMs: (rank: number) => number;
  /** Where the API judges: a Lease write (at most one a second) on each side, and its watch event, more. */
  private readonly apiHandoverAfterMs: (rank: number) => number;
  /** The speakers' Leases, judged live by this process's clock: the fallback judge (lanView). */
  private readonly leases = new SpeakerLeaseLiveness();
  /** When this loop first decided; undefined: not yet. Free addresses wait for the other speakers from then. */
  private startedAtMs: number | undefined;
  /** Every awaited speaker was heard, or the settle time passed: stays so. */
  private settled = false;
  /** Interfaces where this node hears nobody while Leases are live, and how it decides there. */
  private readonly fallbacks = new Map<string, 'deaf' | 'cut-off'>();

  constructor(private readonly p: SpeakerLoopParts) {
    this.handoverAfterMs = handoverWait(p.heartbeat.failureTimeoutMs);
    this.apiHandoverAfterMs = handoverWait(p.heartbeat.failureTimeoutMs + API_HANDOVER_EXTRA_MS);
    p.watches.onChange(() => (this.dirty = true));
  }

  /** Something a decision reads changed outside the loop's view (an interface closed, a table applied). */
  redecide(rereadInterfaces = false): void {
    this.undecided = true;
    if (rereadInterfaces) {
      this.interfacesGeneration++;
      this.p.host.invalidate();
    }
  }

  leaseWritten(answered: boolean): void {
    this.leaseAnswered = answered;
  }

  onHeartbeat(ifname: string, hb: Heartbeat): void {
    this.p.membership.onHeartbeat(ifname, hb, performance.now());
    // A peer that says it is leaving is replaced at once, not on the next tick.
    if (hb.flags.leaving && this.p.membership.version !== this.lastMembershipVersion) this.tick();
  }

  /**
   * The L2 thread was stalled long enough for peers to give up on us, or was lost and replaced, and has
   * suspended answering. Listen for a failure timeout (peers' heartbeats say whether they still hear us and
   * what they took), keep only what nobody else announces, then answer again: a stall that nobody noticed
   * moves nothing, and one that was noticed ends with no address taken back. A new thread is a stall, not
   * a takeover: it replays what was held, suspended, and the same rejoining decides what stays.
   */
  onStalled(gapMs: number, cause: 'stall' | 'restart' = 'stall'): void {
    const now = performance.now();
    this.p.metrics.stalls.inc();
    this.p.log.warn(
      { gapMs: Math.round(gapMs), cause },
      cause === 'stall'
        ? 'stalled long enough for peers to declare this node dead: not answering until it has heard them'
        : 'a new ARP thread replaced the lost one: not answering until it has heard the peers',
    );
    this.rejoinUntilMs = now + this.p.heartbeat.failureTimeoutMs + this.p.heartbeat.intervalMs;
    this.p.announcer.listenAgain(now);
    this.undecided = true;
  }

  tick(): void {
    const { membership, watches, host } = this.p;
    const now = performance.now();
    membership.tick(now);
    if (this.dirty) this.reread();
    const changed = host.refresh(now);
    if (changed.interfaces) {
      this.interfacesGeneration++;
      this.undecided = true;
    }
    if (changed.gateways) this.dirty = true;
    this.p.announcer.checkLinks(now);
    this.p.nodeport?.check(now);
    const reachable = watches.reachable && this.leaseAnswered;
    if (reachable !== this.apiReachable) {
      this.apiReachable = reachable;
      this.p.metrics.apiReachable.set(reachable ? 1 : 0);
      this.p.l2.setFlags({ apiReachable: reachable });
      if (reachable) this.p.log.info('API server reachable again');
      else this.p.log.warn('API server unreachable: keeping what this node announces while its peers hear it; nothing new is learned');
    }
    if (membership.version !== this.lastMembershipVersion || now >= this.decideAgainAtMs) this.undecided = true;
    // No L2 thread (between a lost one and its replacement): nothing is heard, so every peer looks dead;
    // deciding now would take every IP. The replacement reports a stall, and deciding resumes from that.
    if (!this.undecided || !this.p.l2.running) return;
    this.undecided = false;
    this.lastMembershipVersion = membership.version;
    this.decide(now);
  }

  /** Informers or the config changed: read config, nodes and wanted addresses again. */
  private reread(): void {
    const { watches, config, host } = this.p;
    this.dirty = false;
    this.undecided = true;
    this.p.nodeport?.markStale();
    this.leases.observe(watches.speakerLeases(), performance.now());
    if (config.apply(watches.config.current().loaded)) this.interfacesGeneration++;
    this.nodeFacts = watches.nodeFacts();
    const wanted = wantedAddresses({
      services: watches.services.list().map(toServiceView),
      lbClass: this.p.lbClass,
      readyNodes: watches.readyNodes(),
      pools: config.pools,
      hostAddresses: new Set([...watches.nodeAddresses(), ...host.addresses()]),
      gateways: host.gateways,
    });
    this.p.refusals.report(wanted);
    this.wanted = wanted.users;
    for (const ip of this.wanted.keys()) {
      if (!this.tracked.has(ip)) this.tracked.set(ip, { ip, family: familyOf(ip), weights: new Map(), iface: new LastResult(), freeSinceMs: undefined });
    }
  }

  private decide(now: number): void {
    const { announcer, config, membership, nodeport } = this.p;
    const rejoining = Number.isFinite(this.rejoinUntilMs);
    const allowed = this.p.interfaces.length ? this.p.interfaces : config.announce.interfaces;
    const ips: RoundIp[] = [];
    const interfaces = new Map<string, RoundInterface>();
    /** The subnets of the interfaces this round opened: lanView reads them, the Lease publishes them. */
    const segments: string[] = [];
    const liveLeases = this.leases.live(now);
    const listenForMs = this.p.heartbeat.failureTimeoutMs + this.p.heartbeat.intervalMs;
    this.p.keys.peersChanged(liveLeases.filter((l) => l.node !== this.p.node).map((l) => ({ node: l.node, keys: l.keys })));
    for (const t of this.tracked.values()) {
      const users = this.wanted.get(t.ip) ?? [];
      const iface = users.length === 0 ? undefined : t.iface.get(this.interfacesGeneration, () => chooseInterface(t.ip, this.p.host.interfaces, allowed));
      if (iface && !interfaces.has(iface.name)) {
        // Opened before the round: the round itself does no I/O.
        const link = linkOf(iface.name);
        const up = link !== undefined && announcer.listenOn(iface, link, now, config.announce.garpRefreshSeconds);
        const heard = membership.livePeers(iface.name, now);
        const listeningSince = announcer.listeningSinceOn(iface.name);
        // Silence means something only once this node has listened there (just opened, it has heard nobody yet).
        const listened = listeningSince !== undefined && now - listeningSince >= listenForMs;
        const own = interfaceSegments(this.p.host.interfaces[iface.name] ?? []);
        segments.push(...own);
        const view = listened ? lanView(this.p.node, heard, liveLeases, own) : ({ kind: 'lan' } as const);
        interfaces.set(iface.name, {
          up,
          listeningSince,
          ...(view.kind === 'lan' ? { peers: heard } : { peers: view.peers, fallback: view.kind }),
        });
      }
      ips.push({ ip: t.ip, family: t.family, users, ifname: iface?.name, announced: announcer.isAnnounced(t.ip), freeSinceMs: t.freeSinceMs, weightOf: (node) => weightOf(t, node) });
    }
    const settling = this.settling(now);
    const round = decideRound({
      self: this.p.node,
      now,
      listenForMs,
      handoverAfterMs: this.handoverAfterMs,
      apiHandoverAfterMs: this.apiHandoverAfterMs,
      ips,
      nodes: this.nodeFacts,
      announce: config.announce,
      nodeport: nodeport !== undefined,
      interfaces,
      refused: this.p.refusals,
      unfit: nodeport?.unfit ?? false,
      rejoining,
      settling,
      forwarded: nodeport?.rewritten ?? new Set(),
    });
    for (const t of this.tracked.values()) t.freeSinceMs = round.free.has(t.ip) ? (t.freeSinceMs ?? now) : undefined;
    const resumes = rejoining && mayResume(now, this.rejoinUntilMs, [...interfaces.values()].flatMap((i) => i.peers));
    // A peer's claim set completing moves the membership version, which decides again; the times bound the wait.
    this.decideAgainAtMs = rejoining && !resumes ? Math.min(resumeCheckAtMs(now, this.rejoinUntilMs), round.decideAgainAtMs) : round.decideAgainAtMs;
    if (settling) this.decideAgainAtMs = Math.min(this.decideAgainAtMs, (this.startedAtMs ?? now) + this.p.settleMs);
    // Where the API judges, a Lease running out (its speaker died) frees what it announced.
    if ([...interfaces.values()].some((i) => i.fallback)) this.decideAgainAtMs = Math.min(this.decideAgainAtMs, this.leases.nextExpiryMs(now));
    this.reportFallbacks(interfaces, liveLeases.length);
    for (const action of round.actions) this.carryOut(action);
    const announced = announcer.countByFamily();
    if (resumes) {
      // Heard every peer for a failure timeout since the stall, and holds their whole claim sets: what is
      // still held here is nobody else's.
      this.rejoinUntilMs = -Infinity;
      this.p.l2.resume();
      this.p.log.info({ kept: announced.IPv4 + announced.IPv6 }, 'answering again after the stall');
    }
    this.report(announced, interfaces, segments);
    nodeport?.sync(now, announcer.announced(), (vips) => this.nodePortRulesFor(vips));
  }

  private carryOut(action: IpAction): void {
    const { announcer } = this.p;
    try {
      switch (action.kind) {
        case 'forget':
          announcer.withdraw(action.ip);
          this.tracked.delete(action.ip);
          return;
        case 'withdraw':
          announcer.withdraw(action.ip);
          return;
        case 'await-forward':
          this.p.nodeport?.await(action.ip);
          return;
        case 'announce':
          if (announcer.announce(action.ip, action.ifname)) this.announced(action.ip, action.ifname, action.why);
          return;
      }
    } catch (err) {
      this.p.log.error({ ip: action.ip, interface: action.kind === 'announce' ? action.ifname : undefined, err: (err as Error).message }, 'cannot announce');
    }
  }

  private announced(ip: string, ifname: string, why: 'keeps' | 'takes'): void {
    if (why === 'takes') this.p.metrics.takeovers.inc();
    for (const u of this.wanted.get(ip) ?? []) {
      this.p.events.record(
        { kind: 'Service', namespace: u.view.namespace, name: u.view.name, uid: u.view.uid },
        { type: 'Normal', reason: REASON.announcing, message: `node ${this.p.node} announces ${ip} on ${ifname}` },
      );
    }
  }

  /** Gauges, and the speaker Lease's record of what this node announces and hears. */
  private report(announced: Record<IpFamily, number>, interfaces: ReadonlyMap<string, RoundInterface>, segments: readonly string[]): void {
    const { metrics } = this.p;
    for (const family of ['IPv4', 'IPv6'] as const) metrics.announcing.set({ family }, announced[family]);
    const hears = new Set<string>();
    for (const [ifname, { peers, fallback }] of interfaces) {
      // Peers known from their Leases are not heard: saying so would hide the deafness from the others.
      if (fallback) {
        metrics.peersLive.set({ interface: ifname }, 0);
        continue;
      }
      metrics.peersLive.set({ interface: ifname }, peers.length);
      for (const peer of peers) hears.add(peer.node);
    }
    const unheard = [...this.fallbacks].map(([ifname, mode]) => ({ ifname, mode }));
    this.p.leaseWriter.update({ announces: [...this.p.announcer.announced()], hears: [...hears], segments, keys: this.p.keys.published(), unheard });
  }

  /** True while free addresses wait for the other speakers (awaitedSpeakers); says once when it ends. */
  private settling(now: number): boolean {
    if (this.settled) return false;
    this.startedAtMs ??= now;
    const heard = new Set(this.p.membership.liveNodes(now));
    const awaited = awaitedSpeakers({ nowMs: now, startedAtMs: this.startedAtMs, settleMs: this.p.settleMs, self: this.p.node, nodes: this.nodeFacts, announce: this.p.config.announce, heard });
    if (awaited.length > 0) return true;
    this.settled = true;
    const waitedMs = Math.round(now - this.startedAtMs);
    if (now >= this.startedAtMs + this.p.settleMs && this.p.settleMs > 0) this.p.log.info({ waitedMs, heard: [...heard] }, 'settle time over: taking free addresses without the speakers not heard yet');
    else this.p.log.info({ waitedMs }, 'heard the speakers of every eligible node: taking free addresses by rank');
    return false;
  }

  /** Says when an interface goes deaf or cut off, and when it hears again: log, metric, an Event on the Node. */
  private reportFallbacks(interfaces: ReadonlyMap<string, RoundInterface>, liveLeases: number): void {
    const node = { kind: 'Node', namespace: 'default', name: this.p.node, uid: this.p.node };
    for (const [ifname, { fallback }] of interfaces) {
      const before = this.fallbacks.get(ifname);
      if (fallback === before) continue;
      for (const mode of ['deaf', 'cut-off'] as const) this.p.metrics.heartbeatFallback.set({ interface: ifname, mode }, fallback === mode ? 1 : 0);
      if (fallback) {
        this.fallbacks.set(ifname, fallback);
        const message =
          fallback === 'deaf'
            ? `node ${this.p.node} hears no heartbeats on ${ifname}, and no speaker hears any, while ${liveLeases} speakers' Leases are live: heartbeats are blocked on the LAN (a switch dropping broadcast or EtherType 0x88B5?); the speaker Leases decide who answers, failover takes a Lease duration`
            : `node ${this.p.node} hears no heartbeats on ${ifname} while the other speakers hear each other: its link to them is cut; it takes nothing and yields what they announce`;
        this.p.log.warn({ interface: ifname, mode: fallback, liveLeases }, message);
        this.p.events.record(node, { type: 'Warning', reason: REASON.heartbeatsUnheard, message });
      } else {
        this.fallbacks.delete(ifname);
        const message = `node ${this.p.node} hears heartbeats on ${ifname} again: the LAN decides who answers`;
        this.p.log.info({ interface: ifname }, message);
        this.p.events.record(node, { type: 'Normal', reason: REASON.heartbeatsHeard, message });
      }
    }
  }

  /** The nodeport rewrites for `vips`, to this node's InternalIPs, with the ports the Services have now. */
  private nodePortRulesFor(vips: ReadonlySet<string>): NodePortForward[] {
    const internal = this.nodeFacts.find((n) => n.name === this.p.node)?.internalIps ?? [];
    return nodePortRules(vips, internal, (vip) =>
      (this.wanted.get(vip) ?? []).flatMap((u) => this.p.watches.services.get(u.view.name, u.view.namespace)?.spec?.ports ?? []),
    );
  }
}

/** Beyond the LAN's handover wait, where the API judges: a Lease write on each side (at most one a second) and its watch event. */
const API_HANDOVER_EXTRA_MS = 2000;

function weightOf(t: TrackedIp, node: string): bigint {
  let w = t.weights.get(node);
  if (w === undefined) t.weights.set(node, (w = weight(t.ip, node)));
  return w;
}
