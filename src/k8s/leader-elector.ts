import { performance } from 'node:perf_hooks';
import { LeaseObservation } from '../election/lease-observation.js';
import type { Logger } from '../observability/logger.js';
import { describeApiError, isConflict } from './api-error.js';
import { sleep } from './backoff.js';
import type { LeaseClient, LeaseSnapshot } from './lease-client.js';

export interface ElectionTimers {
  /** How long a Lease stays valid without renewal; candidates wait this long. */
  readonly leaseDurationMs: number;
  /** A leader that could not renew for this long stops acting (must be < leaseDuration). */
  readonly renewDeadlineMs: number;
  /** Pause between attempts. */
  readonly retryPeriodMs: number;
}

/** Runs while this process leads; must stop when `signal` aborts. */
export type LeadingWork = (signal: AbortSignal) => Promise<void>;

/**
 * Leader election over one Lease. Acquire and renew are compare-and-swap on
 * resourceVersion; a conflict or a missed renew deadline ends leadership at
 * once. The deadline runs on a timer from the start of the last renewal that
 * succeeded, so a renewal that hangs cannot keep this process acting after a
 * standby may have taken over. On shutdown a leader gives the Lease back so a
 * standby takes over without waiting for it to expire.
 */
export class LeaderElector {
  private readonly observation = new LeaseObservation();
  private snapshot: LeaseSnapshot | undefined;
  /** When the write that last acquired or renewed the Lease was sent (the server's renewTime is later). */
  private renewedAtMs = 0;

  constructor(
    private readonly lease: LeaseClient,
    private readonly identity: string,
    private readonly timers: ElectionTimers,
    private readonly log: Logger,
    private readonly onLeadershipChange: (leading: boolean) => void = () => {},
  ) {
    if (timers.renewDeadlineMs >= timers.leaseDurationMs) {
      throw new Error('renew deadline must be shorter than the lease duration');
    }
  }

  async run(signal: AbortSignal, work: LeadingWork): Promise<void> {
    while (!signal.aborted) {
      if (!(await this.tryAcquire())) {
        await sleep(jitter(this.timers.retryPeriodMs), signal);
        continue;
      }
      this.log.info({ lease: `${this.lease.namespace}/${this.lease.name}`, identity: this.identity }, 'became leader');
      this.onLeadershipChange(true);
      const leading = new AbortController();
      const stopLeading = (): void => leading.abort();
      signal.addEventListener('abort', stopLeading, { once: true });
      const working = work(leading.signal).catch((err: unknown) => {
        this.log.error({ err }, 'leader work failed; giving up leadership');
        leading.abort();
      });
      await this.keepRenewing(leading);
      signal.removeEventListener('abort', stopLeading);
      leading.abort();
      await working;
      this.onLeadershipChange(false);
      if (signal.aborted) {
        await this.release();
        return;
      }
      this.log.warn('lost leadership; standing by');
    }
  }

  private async tryAcquire(): Promise<boolean> {
    try {
      const snap = await this.lease.get();
      this.observation.observe(snap?.record, performance.now());
      const sentAt = performance.now();
      if (!snap) {
        this.snapshot = await this.lease.create(this.identity, this.durationSeconds());
        this.renewedAtMs = sentAt;
        return true;
      }
      if (snap.record.holder === this.identity || this.observation.isFree(performance.now())) {
        this.snapshot = await this.lease.write(snap, this.identity, this.durationSeconds());
        this.renewedAtMs = sentAt;
        return true;
      }
      return false;
    } catch (err) {
      if (!isConflict(err)) {
        this.log.warn({ err: describeApiError(err), retryInMs: this.timers.retryPeriodMs }, 'leader election: cannot reach the Lease; retrying');
      }
      return false;
    }
  }

  private async keepRenewing(leading: AbortController): Promise<void> {
    let deadline: NodeJS.Timeout | undefined;
    const armDeadline = (): void => {
      clearTimeout(deadline);
      deadline = setTimeout(() => {
        this.log.warn({ renewDeadlineMs: this.timers.renewDeadlineMs }, 'leader election: no renewal within the renew deadline; stopping work');
        leading.abort();
      }, this.renewedAtMs + this.timers.renewDeadlineMs - performance.now());
    };
    armDeadline();
    try {
      while (!leading.signal.aborted) {
        await sleep(this.timers.retryPeriodMs, leading.signal);
        if (leading.signal.aborted) return;
        const sentAt = performance.now();
        try {
          const renewed = await this.lease.write(this.snapshot as LeaseSnapshot, this.identity, this.durationSeconds());
          if (leading.signal.aborted) return; // too late: work has stopped; run() acquires again if it can
          this.snapshot = renewed;
          this.renewedAtMs = sentAt;
          armDeadline();
        } catch (err) {
          if (isConflict(err)) {
            this.log.warn('leader election: the Lease was taken over');
            return;
          }
          const since = performance.now() - this.renewedAtMs;
          this.log.warn({ err: describeApiError(err), sinceRenewMs: Math.round(since) }, 'leader election: renew failed');
        }
      }
    } finally {
      clearTimeout(deadline);
    }
  }

  private async release(): Promise<void> {
    if (!this.snapshot) return;
    try {
      await this.lease.write(this.snapshot, undefined, 1);
      this.log.info('released leadership');
    } catch (err) {
      this.log.warn({ err: describeApiError(err) }, 'could not release the Lease; it will expire');
    }
  }

  private durationSeconds(): number {
    return Math.max(1, Math.ceil(this.timers.leaseDurationMs / 1000));
  }
}

function jitter(ms: number): number {
  return Math.round(ms * (1 + Math.random() * 0.2));
}
