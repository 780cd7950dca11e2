/*
 * A cluster of speakers in one process, on simulated time and a simulated LAN, built from the real pure
 * parts: HeartbeatSender (what goes out), the codec (frames, keys), Membership (who is live) and
 * chooseHolder (who announces). Faults are what the LAN and the processes do to them: crashes, stalls,
 * SIGTERM, one-way loss, partitions, and forged or replayed frames. Nothing here decides anything: it
 * only moves frames and time the way the speaker's threads do.
 */
import { HeartbeatKey, decodeHeartbeat, encodeHeartbeat } from '../../src/election/heartbeat-frame.js';
import { chooseHolder, handoverWait, seesFree } from '../../src/election/holder-choice.js';
import { Membership, hearsMeGraceFor } from '../../src/election/membership.js';
import { REJOIN_CLAIMS_WAIT_MS, mayResume } from '../../src/election/rejoin.js';
import { MacAddress } from '../../src/net/arp-frame.js';
import { weight } from '../../src/speaker/rendezvous.js';
import { HeartbeatSender } from '../../src/speaker/heartbeat-sender.js';

export const IFACE = 'eth0';

export interface SimTimers {
  readonly intervalMs: number;
  readonly failureTimeoutMs: number;
  readonly tickMs: number;
}

export const DEFAULT_TIMERS: SimTimers = { intervalMs: 100, failureTimeoutMs: 400, tickMs: 25 };

interface SimNode {
  readonly name: string;
  readonly mac: MacAddress;
  up: boolean;
  /** Stalled (SIGSTOP) until this time; the process does nothing until then. */
  stalledUntilMs: number;
  /** SIGTERM received at: says it is leaving, stops answering 2 intervals later, then exits. */
  leavingSinceMs: number | undefined;
  incarnation: number;
  sender: HeartbeatSender;
  /** The worker thread's view (hears lists, replay) and the main thread's view (decisions). */
  heard: Membership;
  view: Membership;
  announced: Set<string>;
  /** After a stall: listening until then, rejoining until the first decision that resumes answering. */
  rejoinUntilMs: number;
  /** Not answering: after a stall, until a decision round says it may resume (mayResume). */
  suspended: boolean;
  listeningSinceMs: number;
  nextBeatMs: number;
  eligible: boolean;
  /** The node's link (carrier): when down, nothing goes out or comes in, and the speaker knows it. */
  linkUp: boolean;
  /** Cannot serve (nodeport rules not installed): announces nothing, and its heartbeats say so. */
  unfit: boolean;
  /** IPs this node alone knows it cannot take (no address in their subnet, refused here): peers don't know. */
  cannotTake: Set<string>;
  /** Since when each IP has been free in this node's view (the speaker's TrackedIp.freeSinceMs). */
  freeSinceMs: Map<string, number>;
}

export interface Transition {
  readonly atMs: number;
  readonly node: string;
  readonly ip: string;
  readonly announce: boolean;
}

export class ClusterSim {
  nowMs = 0;
  readonly key = HeartbeatKey.fromSecret(new Uint8Array(32).fill(7));
  readonly nodes = new Map<string, SimNode>();
  /** `${from}>${to}` pairs whose frames are lost. */
  readonly lost = new Set<string>();
  readonly transitions: Transition[] = [];
  /** Frames seen on the wire, for replay attacks. */
  readonly captured: Uint8Array[] = [];
  readonly drops = new Map<string, number>();
  private nextIncarnation = 1;

  constructor(
    names: readonly string[],
    readonly ips: string[],
    readonly timers: SimTimers = DEFAULT_TIMERS,
  ) {
    names.forEach((name, i) => {
      const mac = MacAddress.parse(`02:00:00:00:00:${(i + 1).toString(16).padStart(2, '0')}`);
      this.nodes.set(name, this.fresh(name, mac, i * 7));
    });
  }

  private fresh(name: string, mac: MacAddress, offsetMs: number): SimNode {
    const { intervalMs, failureTimeoutMs } = this.timers;
    const incarnation = this.nextIncarnation++;
    const pause = failureTimeoutMs - intervalMs;
    return {
      name,
      mac,
      up: true,
      stalledUntilMs: -Infinity,
      leavingSinceMs: undefined,
      incarnation,
      sender: new HeartbeatSender({ node: name, incarnation, stallAfterMs: pause }),
      heard: new Membership(name, { failureTimeoutMs, pauseThresholdMs: pause }),
      view: new Membership(name, { failureTimeoutMs, pauseThresholdMs: pause, hearsMeGraceMs: hearsMeGraceFor(intervalMs) }),
      announced: new Set(),
      rejoinUntilMs: -Infinity,
      suspended: false,
      listeningSinceMs: this.nowMs,
      nextBeatMs: this.nowMs + offsetMs,
      eligible: true,
      linkUp: true,
      unfit: false,
      cannotTake: new Set(),
      freeSinceMs: new Map(),
    };
  }

  node(name: string): SimNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  crash(name: string): void {
    const n = this.node(name);
    n.up = false;
    for (const ip of n.announced) this.transitions.push({ atMs: this.nowMs, node: name, ip, announce: false });
    n.announced.clear();
  }

  restart(name: string): void {
    const old = this.node(name);
    if (old.up) this.crash(name);
    this.nodes.set(name, this.fresh(name, old.mac, 0));
  }

  stall(name: string, forMs: number): void {
    this.node(name).stalledUntilMs = this.nowMs + forMs;
  }

  sigterm(name: string): void {
    const n = this.node(name);
    if (!n.up || n.leavingSinceMs !== undefined) return;
    n.leavingSinceMs = this.nowMs;
    n.sender.setLeaving(true);
    this.beat(n); // the speaker sends one at once
  }

  /** The node's link goes down: like the speaker, it sees the interface go and announces nothing there. */
  linkDown(name: string): void {
    this.node(name).linkUp = false;
  }

  /** The link is back: the speaker opens the interface again and listens before it takes anything. */
  linkUp(name: string): void {
    const n = this.node(name);
    if (n.linkUp) return;
    n.linkUp = true;
    n.listeningSinceMs = this.nowMs;
  }

  /** The node can no longer serve (or can again), as the speaker does when its nodeport rules fail. */
  setUnfit(name: string, unfit: boolean): void {
    const n = this.node(name);
    n.unfit = unfit;
    n.sender.setUnfit(unfit);
  }

  /** A Service is given `ip` now: every speaker tracks it from its next decision. */
  assign(ip: string): void {
    if (!this.ips.includes(ip)) this.ips.push(ip);
  }

  /** Views of eligibility that lag the truth: `viewer` sees `node` as `eligible` until `untilMs`. */
  private readonly staleViews: { viewer: string; node: string; eligible: boolean; untilMs: number }[] = [];

  /**
   * `node`'s eligibility (an endpoint, a label) changes to `eligible`, and `lateViewer` sees it only `lateMs`
   * later, as an informer event that reaches one speaker late.
   */
  setEligible(node: string, eligible: boolean, lateViewer?: string, lateMs = 0): void {
    const n = this.node(node);
    if (lateViewer !== undefined && n.eligible !== eligible) this.staleViews.push({ viewer: lateViewer, node, eligible: n.eligible, untilMs: this.nowMs + lateMs });
    n.eligible = eligible;
  }

  /** Whether `viewer` counts `node` eligible now (the shared fact, unless its view still lags). */
  private eligibleSeenBy(viewer: string, node: string): boolean {
    for (let i = this.staleViews.length - 1; i >= 0; i--) {
      const v = this.staleViews[i] as (typeof this.staleViews)[number];
      if (v.untilMs <= this.nowMs) this.staleViews.splice(i, 1);
      else if (v.viewer === viewer && v.node === node) return v.eligible;
    }
    return this.nodes.get(node)?.eligible !== false;
  }

  /** `ips` are out of this node's reach for reasons only it knows; its peers still count it a contender. */
  setCannotTake(name: string, ips: readonly string[]): void {
    this.node(name).cannotTake = new Set(ips);
  }

  /** Inject a frame from outside any speaker (a forger, a replayer). */
  inject(frame: Uint8Array): void {
    for (const n of this.nodes.values()) if (this.running(n) && n.linkUp) this.receive(n, frame);
  }

  running(n: SimNode): boolean {
    return n.up && this.nowMs >= n.stalledUntilMs;
  }

  /** Advances time by `ms` in steps of 1 ms: heartbeats, stall guards, decisions. */
  run(ms: number): void {
    const end = this.nowMs + ms;
    while (this.nowMs < end) {
      this.nowMs++;
      for (const n of [...this.nodes.values()]) {
        if (!this.running(n)) continue;
        if (n.leavingSinceMs !== undefined && this.nowMs - n.leavingSinceMs >= 2 * this.timers.intervalMs) {
          this.crash(n.name); // withdraws, then exits
          continue;
        }
        this.guard(n);
        if (this.nowMs >= n.nextBeatMs) {
          this.beat(n);
          n.nextBeatMs = this.nowMs + this.timers.intervalMs;
        }
        // A leaving speaker has stopped deciding: it answers as it was until it exits.
        if (this.nowMs % this.timers.tickMs === 0 && n.leavingSinceMs === undefined) this.decide(n);
      }
    }
  }

  /** The worker's stall guard, as arp-worker.ts runs it before anything else: answering is suspended. */
  private guard(n: SimNode): void {
    if (n.sender.checkStall(this.nowMs, this.timers.failureTimeoutMs + 2 * this.timers.intervalMs + REJOIN_CLAIMS_WAIT_MS) === undefined) return;
    n.rejoinUntilMs = this.nowMs + this.timers.failureTimeoutMs + this.timers.intervalMs;
    n.suspended = true;
    n.listeningSinceMs = this.nowMs;
  }

  /** Answering ARP now: running and not suspended after a stall. */
  answering(n: SimNode): boolean {
    return this.running(n) && !n.suspended;
  }

  private beat(n: SimNode): void {
    n.heard.tick(this.nowMs);
    const out = n.sender.beat(this.nowMs, [IFACE], [...n.announced], (ifname) => n.heard.hearing(ifname, this.nowMs));
    for (const { heartbeat } of out) {
      if (!n.linkUp) continue; // the send fails
      const frame = encodeHeartbeat(heartbeat, n.mac, this.key);
      if (this.captured.length < 2000) this.captured.push(frame);
      for (const peer of this.nodes.values()) {
        if (peer === n || !this.running(peer) || !peer.linkUp || this.lost.has(`${n.name}>${peer.name}`)) continue;
        this.receive(peer, frame);
      }
    }
  }

  private receive(n: SimNode, frame: Uint8Array): void {
    this.guard(n);
    const d = decodeHeartbeat(frame, [this.key]);
    if (!d.ok) {
      this.drops.set(d.reason, (this.drops.get(d.reason) ?? 0) + 1);
      return;
    }
    const verdict = n.heard.onHeartbeat(IFACE, d.heartbeat, this.nowMs);
    if (verdict !== 'accepted') {
      this.drops.set(verdict, (this.drops.get(verdict) ?? 0) + 1);
      return;
    }
    n.view.onHeartbeat(IFACE, d.heartbeat, this.nowMs);
    if (d.heartbeat.flags.leaving) this.decide(n);
  }

  /** The speaker's decision round (Speaker.decideAll), for one interface where every node is eligible unless told. */
  private decide(n: SimNode): void {
    n.view.tick(this.nowMs);
    const peers = n.view.livePeers(IFACE, this.nowMs).filter((p) => this.eligibleSeenBy(n.name, p.node));
    const listenFor = this.timers.failureTimeoutMs + this.timers.intervalMs;
    const handoverAfterMs = handoverWait(this.timers.failureTimeoutMs);
    for (const ip of this.ips) {
      const freeSince = n.freeSinceMs.get(ip) ?? this.nowMs;
      const v = chooseHolder({
        self: n.name,
        selfEligible: this.eligibleSeenBy(n.name, n.name) && n.linkUp && !n.unfit && !n.cannotTake.has(ip),
        selfAnnounces: n.announced.has(ip),
        mayTakeNew: this.nowMs - n.listeningSinceMs >= listenFor,
        contenders: peers.map((p) => ({ node: p.node, announces: p.claims.has(ip), hearsMe: p.hearsMe, rejoining: p.rejoining, claimsKnown: p.claimsKnown })),
        weightOf: (node) => this.weightOf(ip, node),
        rejoining: Number.isFinite(n.rejoinUntilMs),
        freeForMs: this.nowMs - freeSince,
        handoverAfterMs,
      });
      if (seesFree(v)) n.freeSinceMs.set(ip, freeSince);
      else n.freeSinceMs.delete(ip);
      if (v.announce !== n.announced.has(ip)) {
        if (v.announce) n.announced.add(ip);
        else n.announced.delete(ip);
        this.transitions.push({ atMs: this.nowMs, node: n.name, ip, announce: v.announce });
      }
    }
    // The speaker's decision round: the first one after the window that knows every peer's claims resumes answering.
    if (n.suspended && mayResume(this.nowMs, n.rejoinUntilMs, peers)) {
      n.suspended = false;
      n.rejoinUntilMs = -Infinity;
      n.sender.resumed();
    }
  }

  private readonly weights = new Map<string, bigint>();
  /** Rendezvous weights, computed once per (IP, node) as the speaker keeps them. */
  private weightOf(ip: string, node: string): bigint {
    const k = `${ip} ${node}`;
    let w = this.weights.get(k);
    if (w === undefined) this.weights.set(k, (w = weight(ip, node)));
    return w;
  }

  /** The nodes that answer ARP for `ip` now. */
  announcers(ip: string): string[] {
    return [...this.nodes.values()].filter((n) => this.answering(n) && n.announced.has(ip)).map((n) => n.name).sort();
  }

  /** Running nodes that may announce. */
  candidates(): string[] {
    return [...this.nodes.values()].filter((n) => this.running(n) && n.eligible && n.linkUp && !n.unfit && n.leavingSinceMs === undefined).map((n) => n.name);
  }

  /** Per IP, when it last changed hands after `sinceMs` (undefined: it did not). */
  lastChangeAfter(sinceMs: number): number | undefined {
    const after = this.transitions.filter((t) => t.atMs > sinceMs);
    return after.length ? Math.max(...after.map((t) => t.atMs)) : undefined;
  }

  /** Announcement starts and stops in (from, to]. */
  transitionsIn(fromMs: number, toMs: number, ip?: string): Transition[] {
    return this.transitions.filter((t) => t.atMs > fromMs && t.atMs <= toMs && (ip === undefined || t.ip === ip));
  }
}
