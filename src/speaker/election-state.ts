import { LeaseObservation, type LeaseRecord } from '../election/lease-observation.js';
import { BarelbError } from '../errors.js';

/*
 * Per-IP announcer election over one Lease: pure, no timers, no I/O. Invariants:
 * 1. Announcing "on the Lease" ends leaseDuration after its last answered write was *sent*; rivals wait leaseDuration
 *    from *seeing* that write, so (with compare-and-swap writes) such an announcer is always the store's holder.
 * 2. API unreachable (told so, or its last write failed): a holder keeps announcing ("degraded"); nothing is acquired.
 * 3. A 409, a record naming another holder, or lost eligibility stops announcing in the same step.
 * 4. A live holder is never preempted; rank n tries n × stagger after the Lease became free.
 */

export interface ElectionConfig {
  /** How long a Lease stays valid unrenewed. Writes must carry durationSeconds ≥ this / 1000. */
  readonly leaseDurationMs: number;
  /** Renew period of a holder, and the retry period after a failed write. Must be < leaseDurationMs. */
  readonly renewIntervalMs: number;
  /** Rank n waits n × this after the Lease became free. */
  readonly staggerMs: number;
}

export interface ElectionInput {
  /**
   * The latest record of the IP's Lease from one ordered stream (an informer): it never goes back to an
   * older version; undefined when there is no Lease. An acquire compare-and-swaps on this record.
   */
  readonly lease: LeaseRecord | undefined;
  /** False while the API server cannot be reached: nothing is written then. */
  readonly apiReachable: boolean;
  /** False also when the node should let go of the IP: it lost the IP, or the speaker is terminating. */
  readonly eligible: boolean;
  /** Eligible nodes, best first (rankCandidates). A node not listed never acquires. */
  readonly candidates: readonly string[];
  /** This process's monotonic clock; never compared with another node's. */
  readonly nowMs: number;
}

export type ElectionAction =
  | { readonly kind: 'acquire' }
  | { readonly kind: 'renew' }
  | { readonly kind: 'release' }
  /** Call decide() again at untilMs (Infinity: only when an input changes) or when any input changes. */
  | { readonly kind: 'wait'; readonly untilMs: number };

export interface ElectionDecision {
  /** Apply this before performing the action: stop answering, then release. */
  readonly announce: boolean;
  /**
   * `announce` stays right until this time unless an input changes or a write is answered: call decide()
   * again by then (a wait already ends by then; a write may still be out). Infinity when not announcing or
   * announcing degraded.
   */
  readonly announceUntilMs: number;
  /** Announcing without a write younger than leaseDuration, trusting that nobody could take over. */
  readonly degraded: boolean;
  readonly action: ElectionAction;
}

export class InvalidElectionConfigError extends BarelbError {
  readonly code = 'BARELB_INVALID_ELECTION_CONFIG';
}

/** Lease keys that are never a resourceVersion. */
const ABSENT = '\u0000absent';
const UNKNOWN_HOLDER = '\u0000someone-else';

interface PendingWrite {
  readonly kind: 'acquire' | 'renew' | 'release';
  readonly sentAtMs: number;
  /** The last stream key seen when the write was decided. */
  readonly keyAtSend: string | undefined;
}

/**
 * One IP's election, seen from one node. Call decide() whenever an input changes or a wait ends, perform the
 * action, report its outcome with exactly one on*() call, then call decide() again.
 */
export class IpElection {
  private observation = new LeaseObservation();
  /** Mirrors the observation's clock (LeaseObservation keeps it private) to schedule wake-ups. */
  private changedAtMs = 0;
  private currentKey: string | undefined;
  /** Last key accepted from the stream, and a key known to be older than our own last answered write. */
  private lastStreamKey: string | undefined;
  private staleKey: string | undefined;
  private localVersions = 0;
  private holding = false;
  private outage = false;
  private apiWasReachable = true;
  private validFromMs = -Infinity;
  private renewAtMs = -Infinity;
  private retryAtMs = -Infinity;
  private pending: PendingWrite | undefined;

  constructor(
    readonly identity: string,
    private readonly config: ElectionConfig,
  ) {
    const { leaseDurationMs: l, renewIntervalMs: r, staggerMs: s } = config;
    if (!(l > 0 && r > 0 && r < l && s >= 0)) {
      throw new InvalidElectionConfigError(`need 0 < renewIntervalMs (${r}) < leaseDurationMs (${l}) and staggerMs (${s}) >= 0`);
    }
  }

  /** Whether this node believes it holds the Lease (it may still not announce: ineligible, or stale). */
  get holds(): boolean {
    return this.holding;
  }

  decide(input: ElectionInput): ElectionDecision {
    const now = input.nowMs;
    if (!input.apiReachable) this.outage = true;
    else if (!this.apiWasReachable) this.restartClock(now); // time spent unable to watch does not count
    this.apiWasReachable = input.apiReachable;
    this.observe(input.lease, now);

    const rank = input.candidates.indexOf(this.identity);
    const eligible = input.eligible && rank >= 0;
    let action = this.nextAction(input, eligible, rank);
    const validUntil = this.validFromMs + this.config.leaseDurationMs;
    const valid = now < validUntil;
    const announce = this.holding && eligible && (valid || this.outage);
    // Announcing on the Lease must end (or turn degraded) when the last answered write runs out.
    const announceUntilMs = announce && valid ? validUntil : Infinity;
    if (action.kind === 'wait' && announceUntilMs < action.untilMs) action = wait(announceUntilMs);
    return { announce, announceUntilMs, degraded: announce && !valid, action };
  }

  onAcquired(nowMs: number): void {
    this.wroteHolder(nowMs);
  }

  onRenewed(nowMs: number): void {
    this.wroteHolder(nowMs);
  }

  /** The write lost a compare-and-swap (409): someone else wrote first. Stops announcing at once. */
  onConflict(nowMs: number): void {
    const p = this.answered();
    this.holding = false;
    this.validFromMs = -Infinity;
    if (p) this.learned(p, UNKNOWN_HOLDER, nowMs);
  }

  /** The API could not be reached (or failed) for the write; whether it was applied is unknown. */
  onWriteFailed(nowMs: number): void {
    if (!this.pending) return;
    this.pending = undefined;
    this.outage = true;
    this.retryAtMs = nowMs + this.config.renewIntervalMs;
  }

  /** The write was never sent (the Lease changed while it waited for a slot): decide again on what is there now. */
  onDropped(): void {
    this.pending = undefined;
  }

  onReleased(nowMs: number): void {
    const p = this.answered();
    if (p) this.learned(p, undefined, nowMs);
  }

  private nextAction(input: ElectionInput, eligible: boolean, rank: number): ElectionAction {
    const now = input.nowMs;
    if (this.pending) return wait(Infinity); // its outcome comes next
    const storeSaysMine = this.observation.heldBy(this.identity);
    if (!eligible) {
      if (!this.holding && !storeSaysMine) return wait(Infinity);
      this.holding = false; // stop announcing first, then release
      if (!input.apiReachable) return wait(Infinity);
      return now < this.retryAtMs ? wait(this.retryAtMs) : this.send('release', now);
    }
    if (!input.apiReachable) return wait(Infinity); // acquire nothing new; a holder keeps what it has
    if (now < this.retryAtMs) return wait(this.retryAtMs);
    if (this.holding) return now >= this.renewAtMs ? this.send('renew', now) : wait(this.renewAtMs);
    if (storeSaysMine) return this.send('acquire', now); // ours already: a restart, or a lost answer
    const turnAt = this.freeAtMs() + rank * this.config.staggerMs;
    if (now >= turnAt && this.observation.isFree(now)) return this.send('acquire', now);
    return wait(turnAt);
  }

  /** When the observed Lease became (or will become) free by this node's clock. */
  private freeAtMs(): number {
    const r = this.observation.current;
    return r?.holder ? this.changedAtMs + r.durationSeconds * 1000 + 1 : this.changedAtMs;
  }

  private send(kind: PendingWrite['kind'], now: number): ElectionAction {
    this.pending = { kind, sentAtMs: now, keyAtSend: this.lastStreamKey };
    return { kind };
  }

  private answered(): PendingWrite | undefined {
    const p = this.pending;
    this.pending = undefined;
    this.outage = false;
    this.retryAtMs = -Infinity;
    return p;
  }

  private wroteHolder(now: number): void {
    const p = this.answered();
    if (!p || p.kind === 'release') return;
    this.validFromMs = p.sentAtMs; // the store applied it after this, so rivals' clocks started later
    this.renewAtMs = p.sentAtMs + this.config.renewIntervalMs;
    this.learned(p, this.identity, now);
    this.holding = true; // unless the stream already shows a newer holder: the next decide() sees it
  }

  /**
   * An answered write proves the store has moved past the record the stream showed when it was sent:
   * ignore that record from now on, and take what the answer tells (holder) as the newest record until
   * the stream shows a newer one. (The stream never goes back, so that record is the only stale one.)
   */
  private learned(p: PendingWrite, holder: string | undefined, now: number): void {
    this.staleKey = p.keyAtSend;
    const version = `\u0000local-${++this.localVersions}`;
    this.see({ holder, version, durationSeconds: this.config.leaseDurationMs / 1000 }, version, now);
  }

  private observe(lease: LeaseRecord | undefined, now: number): void {
    const key = lease === undefined ? ABSENT : lease.version;
    if (key === this.staleKey) return;
    this.staleKey = undefined;
    this.lastStreamKey = key;
    this.see(lease, key, now);
    if (lease?.holder !== this.identity) this.holding = false; // another holder, or none: stop at once
  }

  private see(record: LeaseRecord | undefined, key: string, now: number): void {
    if (key !== this.currentKey) this.changedAtMs = now;
    this.currentKey = key;
    this.observation.observe(record, now);
  }

  private restartClock(now: number): void {
    const current = this.observation.current;
    this.observation = new LeaseObservation();
    this.observation.observe(current, now);
    this.changedAtMs = now;
  }
}

function wait(untilMs: number): ElectionAction {
  return { kind: 'wait', untilMs };
}
