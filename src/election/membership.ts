import { BarelbError } from '../errors.js';
import { claimsDigest, nodeId, type Heartbeat } from './heartbeat-frame.js';

/*
 * Who is alive on each interface, judged from authenticated heartbeats alone: pure, no timers, no I/O.
 * - Time is this node's monotonic clock; a peer's own clock is never read.
 * - A peer is live on an interface while its heartbeats arrive there within failureTimeout, and it has not
 *   said it is leaving. Liveness is per interface: a node on another segment is no candidate for this one.
 * - Replays: within one incarnation (one process of the peer), a sequence at or below the newest seen on the
 *   interface is refused. A live incarnation yields only to a newer one; a silent one (not heard for the
 *   failure timeout, or leaving) to any other, so a peer restarted with its clock behind (no RTC before NTP,
 *   an NTP step), or shut out by one forged frame with a huge incarnation, is heard again within a failure
 *   timeout. Incarnations it replaced stay known with their sequences: their old frames stay refused.
 * - What a peer announces (its claims) comes in chunks; a set counts once all its chunks arrived.
 * - When this node itself was paused (a long GC, SIGSTOP), it could not have heard anyone: the pause is not
 *   counted against its peers.
 */

export interface MembershipConfig {
  /** A peer not heard for this long on an interface is dead there. */
  readonly failureTimeoutMs: number;
  /** A gap between two tick() calls longer than this is a pause of ours, not silence of theirs. */
  readonly pauseThresholdMs: number;
  /**
   * For this long after a peer starts being heard on an interface, it counts as hearing this node whatever
   * its heartbeats say: they were sent before it could have heard ours (a healed partition, a node back on
   * the LAN). Without it both sides of a heal see "announces and does not hear me" and both yield: an
   * instant with no announcer. Two heartbeat intervals and a little; 0 (the default): none.
   */
  readonly hearsMeGraceMs?: number;
}

/** MembershipConfig.hearsMeGraceMs for heartbeats every `intervalMs`: ours reach the peer within one interval, its next one lists us within another. */
export function hearsMeGraceFor(intervalMs: number): number {
  return 2.5 * intervalMs;
}

export class InvalidMembershipConfigError extends BarelbError {
  readonly code = 'BARELB_INVALID_MEMBERSHIP_CONFIG';
}

export type HeartbeatVerdict = 'accepted' | 'replay' | 'self';

/** A live peer on one interface, as the holder choice needs it. */
export interface LivePeer {
  readonly node: string;
  /** Its complete claim set (empty until the first whole set arrived). */
  readonly claims: ReadonlySet<string>;
  /** `claims` is the set its latest heartbeat describes; false while a newer set is still arriving in chunks. */
  readonly claimsKnown: boolean;
  /** Its last heartbeat on this interface listed this node among those it hears. */
  readonly hearsMe: boolean;
  readonly apiReachable: boolean;
  /** Back from a stall, not yet settled on what it keeps. */
  readonly rejoining: boolean;
}

interface Assembly {
  readonly digest: string;
  readonly total: number;
  readonly chunkCount: number;
  readonly chunks: Map<number, readonly string[]>;
}

/** An incarnation of a peer and the newest sequence number heard from it on each interface. */
interface Incarnation {
  readonly incarnation: number;
  readonly seqOn: Map<string, number>;
}

/** Replaced incarnations kept per peer (a few bytes each): enough for any restart sequence short of an attack. */
const RETIRED_KEPT = 8;

/** A peer on one interface: when last heard, what that heartbeat said, since when it has been heard there. */
interface Heard {
  atMs: number;
  readonly hears: ReadonlySet<number>;
  readonly sinceMs: number;
}

interface Peer {
  readonly node: string;
  incarnation: number;
  /** The newest sequence number heard on each interface; kept after the peer dies there, against replays. */
  seqOn: Map<string, number>;
  /** Incarnations this one replaced, oldest first: their frames count only where they go on past what was heard. */
  retired: readonly Incarnation[];
  /** Interface -> when last heard there, and what that heartbeat said. */
  readonly heard: Map<string, Heard>;
  leaving: boolean;
  apiReachable: boolean;
  rejoining: boolean;
  /** Alive, but standing aside from every choice (its heartbeats say it cannot serve). */
  unfit: boolean;
  claims: ReadonlySet<string>;
  claimsDigest: string;
  /** The digest its latest heartbeat announced: claims are known when they match. */
  latestDigest: string;
  /**
   * Per receiving interface: a set still arriving in chunks. Each interface has its own chunking (the frame
   * size follows its MTU, the header holds that interface's hears list), so chunks of one set must not be
   * mixed across interfaces.
   */
  readonly assemblies: Map<string, Assembly>;
}

const EMPTY: ReadonlySet<string> = new Set();
const EMPTY_DIGEST = claimsDigest([]);

export class Membership {
  private readonly peers = new Map<string, Peer>();
  private readonly selfId: number;
  private lastTickMs: number | undefined;
  private changes = 0;

  constructor(
    readonly self: string,
    private readonly config: MembershipConfig,
  ) {
    const { failureTimeoutMs: f, pauseThresholdMs: p } = config;
    if (!(f > 0 && p > 0)) throw new InvalidMembershipConfigError(`need failureTimeoutMs (${f}) > 0 and pauseThresholdMs (${p}) > 0`);
    this.selfId = nodeId(self);
  }

  /** Bumped whenever anything a holder choice reads may have changed: compare it to skip unchanged ticks. */
  get version(): number {
    return this.changes;
  }

  /** An authenticated heartbeat heard on `ifname` at `nowMs`. */
  onHeartbeat(ifname: string, hb: Heartbeat, nowMs: number): HeartbeatVerdict {
    if (hb.node === this.self) return 'self';
    let p = this.peers.get(hb.node);
    // Sequence numbers count every frame the peer sends, on any interface: they grow on each interface, but
    // frames of two interfaces may arrive in either order, so each interface is checked on its own.
    if (p && hb.incarnation === p.incarnation && hb.seq <= (p.seqOn.get(ifname) ?? -1)) return 'replay';
    if (!p || hb.incarnation !== p.incarnation) {
      const known = p?.retired.find((r) => r.incarnation === hb.incarnation);
      if (known && hb.seq <= (known.seqOn.get(ifname) ?? -1)) return 'replay';
      // Incarnations are start times, but clocks are not to be trusted: an older one (or one it already
      // replaced) never replaces a live one, and any replaces a silent one.
      const wasLive = p !== undefined && this.liveOnAny(p, nowMs);
      if (p && wasLive && (known !== undefined || hb.incarnation < p.incarnation)) return 'replay';
      // Another process on that node: nothing the one before said holds any more.
      const retired = p ? [...p.retired.filter((r) => r !== known), { incarnation: p.incarnation, seqOn: p.seqOn }].slice(-RETIRED_KEPT) : [];
      p = {
        node: hb.node, incarnation: hb.incarnation, seqOn: known?.seqOn ?? new Map(), retired, heard: new Map(), leaving: false, apiReachable: true,
        rejoining: false, unfit: false, claims: EMPTY, claimsDigest: EMPTY_DIGEST, latestDigest: EMPTY_DIGEST, assemblies: new Map(),
      };
      this.peers.set(hb.node, p);
      if (wasLive || hb.claimsTotal > 0) this.changes++;
    }
    p.seqOn.set(ifname, hb.seq);

    const before = p.heard.get(ifname);
    const wasLive = before !== undefined && nowMs - before.atMs < this.config.failureTimeoutMs && !p.leaving;
    const now: Heard = { atMs: nowMs, hears: new Set(hb.hears), sinceMs: wasLive ? before.sinceMs : nowMs };
    if (!wasLive || hb.flags.leaving !== p.leaving || this.hearsMe(before, before.atMs) !== this.hearsMe(now, nowMs)) this.changes++;
    p.heard.set(ifname, now);
    p.leaving = hb.flags.leaving;
    const unfit = hb.flags.unfit === true;
    if (p.apiReachable !== hb.flags.apiReachable || p.rejoining !== hb.flags.rejoining || p.unfit !== unfit) {
      p.apiReachable = hb.flags.apiReachable;
      p.rejoining = hb.flags.rejoining;
      p.unfit = unfit;
      this.changes++;
    }
    this.assemble(p, ifname, hb);
    return 'accepted';
  }

  /**
   * Call often (every decision round). Returns true when a peer's liveness ran out since the last call (the
   * version moved). A gap since the last call longer than pauseThresholdMs was our own pause: every peer's
   * last-heard time moves forward by it, so peers are judged only on time this node was listening.
   */
  tick(nowMs: number): boolean {
    const last = this.lastTickMs;
    this.lastTickMs = nowMs;
    if (last !== undefined && nowMs - last > this.config.pauseThresholdMs) {
      const pause = nowMs - last;
      for (const p of this.peers.values()) for (const h of p.heard.values()) h.atMs = Math.min(nowMs, h.atMs + pause);
    }
    let expired = false;
    // A dead peer's record stays (a few bytes per node that ever spoke): its incarnation and sequence are
    // what refuse a replay of its old heartbeats.
    for (const p of this.peers.values()) {
      for (const [ifname, h] of p.heard) {
        if (nowMs - h.atMs < this.config.failureTimeoutMs) continue;
        p.heard.delete(ifname);
        if (!p.leaving) expired = true;
      }
    }
    if (expired) this.changes++;
    return expired;
  }

  /** Live peers heard on `ifname` that take part in choices: leaving and unfit ones excluded. */
  livePeers(ifname: string, nowMs: number): LivePeer[] {
    const out: LivePeer[] = [];
    for (const p of this.peers.values()) {
      const h = this.liveOn(p, ifname, nowMs);
      if (!h || p.unfit) continue;
      out.push({ node: p.node, claims: p.claims, claimsKnown: p.claimsDigest === p.latestDigest, hearsMe: this.hearsMe(h, nowMs), apiReachable: p.apiReachable, rejoining: p.rejoining });
    }
    return out;
  }

  /** Names of the peers live on `ifname` (unfit ones included: they are heard), for this node's own heartbeats. */
  hearing(ifname: string, nowMs: number): string[] {
    return [...this.peers.values()].filter((p) => this.liveOn(p, ifname, nowMs)).map((p) => p.node);
  }

  /** What `p` last said on `ifname`, while it is live there (heard within the failure timeout, not leaving). */
  /** Its heartbeat lists this node, or it has been heard for too short a time to have heard ours. */
  private hearsMe(h: Heard, nowMs: number): boolean {
    return h.hears.has(this.selfId) || nowMs - h.sinceMs < (this.config.hearsMeGraceMs ?? 0);
  }

  private liveOn(p: Peer, ifname: string, nowMs: number): Heard | undefined {
    const h = p.heard.get(ifname);
    return h && !p.leaving && nowMs - h.atMs < this.config.failureTimeoutMs ? h : undefined;
  }

  /** Every peer live on some interface, with what it claims: for status and logs. */
  liveNodes(nowMs: number): string[] {
    return [...this.peers.values()].filter((p) => this.liveOnAny(p, nowMs)).map((p) => p.node).sort();
  }

  private liveOnAny(p: Peer, nowMs: number): boolean {
    if (p.leaving) return false;
    for (const h of p.heard.values()) if (nowMs - h.atMs < this.config.failureTimeoutMs) return true;
    return false;
  }

  private assemble(p: Peer, ifname: string, hb: Heartbeat): void {
    if (hb.claimsDigest !== p.latestDigest) {
      p.latestDigest = hb.claimsDigest;
      this.changes++;
    }
    if (hb.claimsDigest === p.claimsDigest) {
      p.assemblies.clear();
      return;
    }
    let a = p.assemblies.get(ifname);
    if (!a || a.digest !== hb.claimsDigest || a.chunkCount !== hb.chunkCount || a.total !== hb.claimsTotal) {
      a = { digest: hb.claimsDigest, total: hb.claimsTotal, chunkCount: hb.chunkCount, chunks: new Map() };
      p.assemblies.set(ifname, a);
    }
    a.chunks.set(hb.chunkIndex, hb.claims);
    if (a.chunks.size < a.chunkCount) return;
    const all = [...a.chunks.values()].flat();
    p.assemblies.clear();
    // A set that does not add up (a sender bug; the frames are authenticated) is not believed.
    if (all.length !== a.total || claimsDigest(all) !== a.digest) return;
    p.claims = new Set(all);
    p.claimsDigest = a.digest;
    this.changes++;
  }
}
