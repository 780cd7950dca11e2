/** What a candidate knows of a Lease: its holder and when the record last changed. */
export interface LeaseRecord {
  readonly holder: string | undefined;
  readonly durationSeconds: number;
  /** Changes whenever the holder renews; the only thing compared, never clocks. */
  readonly version: string;
}

/**
 * Judges a Lease expired by this process's own monotonic clock since it last
 * saw the record change, as client-go does: node clocks drift, so another
 * node's renewTime is never compared with local time.
 */
export class LeaseObservation {
  private record: LeaseRecord | undefined;
  private changedAtMs = 0;

  observe(record: LeaseRecord | undefined, nowMs: number): void {
    if (record === undefined || this.record === undefined || record.version !== this.record.version) {
      this.changedAtMs = nowMs;
    }
    this.record = record;
  }

  get current(): LeaseRecord | undefined {
    return this.record;
  }

  /** Free to take: no record, no holder, or unchanged for longer than its duration. */
  isFree(nowMs: number): boolean {
    const r = this.record;
    if (!r || !r.holder) return true;
    return nowMs - this.changedAtMs > r.durationSeconds * 1000;
  }

  heldBy(identity: string): boolean {
    return this.record?.holder === identity;
  }
}
