/** What to do about one claim by another host on an address this node holds. */
export type ConflictAction =
  /** Re-assert now (and log: the first claim in a while). */
  | { readonly kind: 'reassert' }
  /** Re-asserted moments ago: re-assert once more at `atMs`, after the claims stop or the interval passes. */
  | { readonly kind: 'schedule'; readonly atMs: number }
  /** A re-assertion is already scheduled: it covers this claim too. */
  | { readonly kind: 'covered' };

/**
 * Paces gratuitous ARP re-assertions per address, so a host that keeps
 * claiming a VIP cannot make the speaker flood the LAN: the first claim is
 * answered at once, later ones at most once per `intervalMs`, and a claim is
 * never left unanswered (the last word on the wire is the holder's). Pure:
 * times come from the caller.
 */
export class ConflictThrottle {
  private readonly lastMs = new Map<string, number>();
  private readonly scheduled = new Set<string>();

  constructor(readonly intervalMs: number) {}

  onClaim(ip: string, nowMs: number): ConflictAction {
    if (this.scheduled.has(ip)) return { kind: 'covered' };
    const last = this.lastMs.get(ip);
    if (last === undefined || nowMs - last >= this.intervalMs) {
      this.lastMs.set(ip, nowMs);
      return { kind: 'reassert' };
    }
    this.scheduled.add(ip);
    return { kind: 'schedule', atMs: last + this.intervalMs };
  }

  /** The scheduled re-assertion for `ip` went out at `nowMs`. */
  fired(ip: string, nowMs: number): void {
    this.scheduled.delete(ip);
    this.lastMs.set(ip, nowMs);
  }

  /** The address is no longer held. */
  forget(ip: string): void {
    this.scheduled.delete(ip);
    this.lastMs.delete(ip);
  }
}
