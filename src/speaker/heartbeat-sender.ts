import { HEARTBEAT_MAX_FRAME, claimChunks, claimsDigest, nodeId, type Heartbeat, type HeartbeatFlags } from '../election/heartbeat-frame.js';

/*
 * What the ARP thread says on the LAN every heartbeat interval, and its guard against answering after a
 * stall. No timers and no sockets: the worker calls beat() from its timer and checkStall() before anything it
 * does, and sends what it is handed.
 *
 * A stall (SIGSTOP, a long GC pause, a starved thread) longer than stallAfterMs means peers may have declared
 * this node dead and taken its addresses: the worker must stop answering before it answers anything, and
 * its next heartbeat must already say it announces nothing, so no peer sees two claims for one address.
 */

const MAX_SEQ = 2 ** 32 - 1;

export interface HeartbeatSenderConfig {
  readonly node: string;
  /** This process's incarnation: its start time in ms, so a restart is newer than anything before it. */
  readonly incarnation: number;
  /** Since the last heartbeat sent, after this long peers may have given up on us (failure timeout − interval). */
  readonly stallAfterMs: number;
}

export interface OutgoingHeartbeat {
  readonly ifname: string;
  readonly heartbeat: Heartbeat;
}

interface PreparedClaims {
  readonly claims: readonly string[];
  readonly digest: string;
  /** Distinct addresses (chunks hold each once). */
  readonly total: number;
  chunksFor(hearsCount: number, maxFrame: number): string[][];
}

export class HeartbeatSender {
  private claimsCache: PreparedClaims | undefined;
  private seq = 0;
  /** The config's incarnation, one up each time the sequence wraps. */
  private incarnation: number;
  private lastBeatMs: number | undefined;
  private rotation = 0;
  /**
   * Per interface in the last round, the claims digest whose every chunk went out on it; a change of claims, or an
   * interface that was not in the last round, gets all chunks at once.
   */
  private fullySent = new Map<string, string>();
  private leaving = false;
  private apiReachable = true;
  private unfit = false;
  private rejoiningUntilMs = -Infinity;

  constructor(private readonly config: HeartbeatSenderConfig) {
    this.incarnation = config.incarnation;
  }

  setLeaving(leaving: boolean): void {
    this.leaving = leaving;
  }

  setApiReachable(reachable: boolean): void {
    this.apiReachable = reachable;
  }

  setUnfit(unfit: boolean): void {
    this.unfit = unfit;
  }

  /**
   * The stall's length, once per stall (else undefined): the caller withdraws everything before doing
   * anything else. Heartbeats then say "rejoining" until resumed(), for `rejoinMs` at the most.
   */
  checkStall(nowMs: number, rejoinMs: number): number | undefined {
    if (this.lastBeatMs === undefined) return undefined;
    const gap = nowMs - this.lastBeatMs;
    if (gap <= this.config.stallAfterMs) return undefined;
    this.lastBeatMs = nowMs;
    this.rejoiningUntilMs = nowMs + rejoinMs;
    return gap;
  }

  /** A new thread that replaces a lost one starts as after a stall: heartbeats say "rejoining" until resumed(). */
  startRejoining(nowMs: number, rejoinMs: number): void {
    this.rejoiningUntilMs = nowMs + rejoinMs;
  }

  /** Answering again after a stall: heartbeats stop saying "rejoining". */
  resumed(): void {
    this.rejoiningUntilMs = -Infinity;
  }

  /**
   * The heartbeats for one round: one per interface, each with the next chunk of the claims, or every chunk
   * when the claims changed since they last went out whole. `hearing(ifname)`: peers heard there;
   * `maxFrameOf(ifname)`: the largest frame that interface carries (heartbeatFrameLimit of its MTU). Hand in
   * the same `claims` array while they do not change: their digest and chunks are kept for it. Throws
   * HeartbeatEncodeError when an interface's header leaves no room for claims (hundreds of peers heard there).
   */
  beat(
    nowMs: number,
    interfaces: readonly string[],
    claims: readonly string[],
    hearing: (ifname: string) => readonly string[],
    maxFrameOf: (ifname: string) => number = () => HEARTBEAT_MAX_FRAME,
  ): OutgoingHeartbeat[] {
    this.lastBeatMs = nowMs;
    const cached = this.prepared(claims);
    const digest = cached.digest;
    const flags: HeartbeatFlags = { leaving: this.leaving, apiReachable: this.apiReachable, rejoining: nowMs < this.rejoiningUntilMs, unfit: this.unfit };
    const out: OutgoingHeartbeat[] = [];
    for (const ifname of interfaces) {
      const all = this.fullySent.get(ifname) !== digest;
      const hears = hearing(ifname).map(nodeId);
      const chunks = cached.chunksFor(hears.length, maxFrameOf(ifname));
      const indexes = all ? chunks.map((_, i) => i) : [this.rotation % chunks.length];
      for (const i of indexes) {
        const seq = this.nextSeq();
        out.push({
          ifname,
          heartbeat: {
            node: this.config.node,
            incarnation: this.incarnation,
            seq,
            flags,
            claimsDigest: digest,
            claimsTotal: cached.total,
            chunkIndex: i,
            chunkCount: chunks.length,
            claims: chunks[i] as string[],
            hears,
          },
        });
      }
    }
    this.fullySent = new Map(interfaces.map((ifname) => [ifname, digest]));
    this.rotation++;
    return out;
  }

  /**
   * Digest and chunks of `claims`, kept while the caller hands in the same array: canonicalizing, sorting and
   * hashing thousands of addresses ten times a second would be most of a speaker's idle CPU.
   */
  private prepared(claims: readonly string[]): PreparedClaims {
    if (this.claimsCache?.claims !== claims) {
      const byLayout = new Map<string, string[][]>();
      const chunksFor = (hearsCount: number, maxFrame: number): string[][] => {
        const layout = `${hearsCount}/${maxFrame}`;
        let chunks = byLayout.get(layout);
        if (!chunks) byLayout.set(layout, (chunks = claimChunks(claims, this.config.node, hearsCount, maxFrame)));
        return chunks;
      };
      const first = chunksFor(0, HEARTBEAT_MAX_FRAME);
      this.claimsCache = { claims, digest: claimsDigest(claims), total: first.reduce((n, c) => n + c.length, 0), chunksFor };
    }
    return this.claimsCache;
  }

  private nextSeq(): number {
    // u32 on the wire (2^32 beats at 10 a second is 13 years of one process on one interface, less on
    // several). Peers refuse a sequence that goes back within an incarnation, so a wrap moves to the next
    // incarnation, which peers take as newer at once.
    if (this.seq === MAX_SEQ) {
      this.seq = 0;
      this.incarnation++;
    }
    return ++this.seq;
  }
}
