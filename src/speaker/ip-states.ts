/**
 * A speaker's per-IP states, found by IP and by the name of their Lease. Every
 * Lease change in the namespace reaches every speaker (thousands a second with
 * thousands of IPs), so finding the state a Lease event wakes must not scan them all.
 */
export class IpStates<S extends { readonly ip: string }> {
  private readonly byIp = new Map<string, S>();
  private readonly byLease = new Map<string, S>();

  constructor(private readonly leaseNameOf: (state: S) => string) {}

  get size(): number {
    return this.byIp.size;
  }

  has(ip: string): boolean {
    return this.byIp.has(ip);
  }

  get(ip: string): S | undefined {
    return this.byIp.get(ip);
  }

  /** The state whose Lease has this name. */
  ofLease(name: string): S | undefined {
    return this.byLease.get(name);
  }

  /** Adds or replaces the state of `state.ip`. */
  set(state: S): void {
    this.delete(state.ip);
    this.byIp.set(state.ip, state);
    this.byLease.set(this.leaseNameOf(state), state);
  }

  delete(ip: string): boolean {
    const st = this.byIp.get(ip);
    if (!st) return false;
    this.byIp.delete(ip);
    this.byLease.delete(this.leaseNameOf(st));
    return true;
  }

  values(): IterableIterator<S> {
    return this.byIp.values();
  }
}
