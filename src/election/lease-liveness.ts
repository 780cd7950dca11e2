import type { SpeakerLeaseView } from './speaker-lease.js';

/** A speaker Lease as listed, with the resourceVersion that changes on every write. */
export interface ObservedLease {
  readonly view: SpeakerLeaseView;
  readonly version: string;
}

interface Seen {
  version: string;
  view: SpeakerLeaseView;
  /** Seen written since this process first looked: a Lease left behind by a dead speaker never is. */
  renewed: boolean;
  changedAtMs: number;
}

/**
 * Which speakers the API server says are alive, judged as client-go judges Leases: by this process's own
 * monotonic clock since it last saw a Lease change, never by comparing renewTime with local time (clocks
 * drift, and a node back from a power cut may not have NTP yet). A Lease present at the first look counts
 * only once it has been seen to change: one left behind by a speaker killed without SIGTERM, or by a
 * removed node, looks fresh then and never changes again. Pure: time is handed in.
 */
export class SpeakerLeaseLiveness {
  private readonly seen = new Map<string, Seen>();
  private primed = false;

  observe(leases: readonly ObservedLease[], nowMs: number): void {
    const present = new Set<string>();
    for (const { view, version } of leases) {
      present.add(view.node);
      const s = this.seen.get(view.node);
      if (!s) {
        // One that appears after the first look was created meanwhile: that is a write.
        this.seen.set(view.node, { version, view, renewed: this.primed, changedAtMs: nowMs });
      } else {
        if (s.version !== version) {
          s.version = version;
          s.renewed = true;
          s.changedAtMs = nowMs;
        }
        s.view = view;
      }
    }
    for (const node of [...this.seen.keys()]) if (!present.has(node)) this.seen.delete(node);
    this.primed = true;
  }

  /** The Leases written within their duration, as last observed. */
  live(nowMs: number): SpeakerLeaseView[] {
    return [...this.seen.values()].filter((s) => s.renewed && nowMs - s.changedAtMs <= s.view.durationSeconds * 1000).map((s) => s.view);
  }

  /** When the next live Lease runs out if it is not written again (Infinity: none live). */
  nextExpiryMs(nowMs: number): number {
    let next = Infinity;
    for (const s of this.seen.values()) {
      const end = s.changedAtMs + s.view.durationSeconds * 1000;
      if (s.renewed && end >= nowMs) next = Math.min(next, end + 1);
    }
    return next;
  }
}
