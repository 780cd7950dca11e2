/**
 * A set of integers kept as sorted, disjoint, non-adjacent closed intervals.
 * Finding the lowest absent value at or after a point is a binary search, so
 * allocation cost follows fragmentation, not pool size.
 */
export class IntervalSet {
  // starts[i]..ends[i] inclusive; starts ascending; ends[i] + 1 < starts[i + 1].
  private readonly starts: bigint[] = [];
  private readonly ends: bigint[] = [];

  get intervalCount(): number {
    return this.starts.length;
  }

  has(v: bigint): boolean {
    const i = this.indexAtOrBefore(v);
    return i >= 0 && v <= (this.ends[i] as bigint);
  }

  /** Adds v; returns false when it was already present. */
  add(v: bigint): boolean {
    const i = this.indexAtOrBefore(v);
    if (i >= 0 && v <= (this.ends[i] as bigint)) return false;
    const joinsLeft = i >= 0 && (this.ends[i] as bigint) + 1n === v;
    const joinsRight = i + 1 < this.starts.length && (this.starts[i + 1] as bigint) - 1n === v;
    if (joinsLeft && joinsRight) {
      this.ends[i] = this.ends[i + 1] as bigint;
      this.starts.splice(i + 1, 1);
      this.ends.splice(i + 1, 1);
    } else if (joinsLeft) {
      this.ends[i] = v;
    } else if (joinsRight) {
      this.starts[i + 1] = v;
    } else {
      this.starts.splice(i + 1, 0, v);
      this.ends.splice(i + 1, 0, v);
    }
    return true;
  }

  /** Removes v; returns false when it was absent. */
  delete(v: bigint): boolean {
    const i = this.indexAtOrBefore(v);
    if (i < 0) return false;
    const s = this.starts[i] as bigint;
    const e = this.ends[i] as bigint;
    if (v > e) return false;
    if (s === e) {
      this.starts.splice(i, 1);
      this.ends.splice(i, 1);
    } else if (v === s) {
      this.starts[i] = s + 1n;
    } else if (v === e) {
      this.ends[i] = e - 1n;
    } else {
      this.ends[i] = v - 1n;
      this.starts.splice(i + 1, 0, v + 1n);
      this.ends.splice(i + 1, 0, e);
    }
    return true;
  }

  /** Lowest value in [from, to] not in the set, or undefined when all are. */
  lowestAbsent(from: bigint, to: bigint): bigint | undefined {
    if (from > to) return undefined;
    const i = this.indexAtOrBefore(from);
    if (i < 0 || from > (this.ends[i] as bigint)) return from;
    const next = (this.ends[i] as bigint) + 1n; // intervals never touch, so next is absent
    return next <= to ? next : undefined;
  }

  /** How many members fall in [from, to]. */
  countIn(from: bigint, to: bigint): bigint {
    let n = 0n;
    let i = Math.max(0, this.indexAtOrBefore(from));
    for (; i < this.starts.length; i++) {
      const s = this.starts[i] as bigint;
      const e = this.ends[i] as bigint;
      if (s > to) break;
      const lo = s > from ? s : from;
      const hi = e < to ? e : to;
      if (hi >= lo) n += hi - lo + 1n;
    }
    return n;
  }

  private indexAtOrBefore(v: bigint): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((this.starts[mid] as bigint) <= v) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }
}
