import { selectorMatches, describeSelector } from '../config/label-selector.js';
import type { PoolSpec } from '../config/types.js';
import { IpAddress, type IpFamily } from '../net/ip.js';
import { IntervalSet } from './interval-set.js';

/** x.x.x.0 and x.x.x.255: some old client stacks mistake them for broadcast. */
export function isBuggyIPv4(ip: IpAddress): boolean {
  if (ip.family !== 'IPv4') return false;
  const last = ip.value & 0xffn;
  return last === 0n || last === 255n;
}

/** A configured pool plus which of its addresses are taken. */
export class AddressPool {
  /** Taken addresses, and with avoidBuggyIPs the avoided ones too, so a search skips both at once. */
  private readonly taken: Record<IpFamily, IntervalSet> = { IPv4: new IntervalSet(), IPv6: new IntervalSet() };
  private readonly avoided: bigint;
  private inUse = 0n;

  constructor(readonly spec: PoolSpec) {
    let avoided = 0n;
    if (spec.avoidBuggyIPs) {
      for (const r of spec.ranges) {
        if (r.family !== 'IPv4') continue;
        for (let block = r.first & ~0xffn; block <= r.last; block += 256n) {
          for (const v of [block, block + 255n]) {
            if (v >= r.first && v <= r.last) {
              this.taken.IPv4.add(v);
              avoided++;
            }
          }
        }
      }
    }
    this.avoided = avoided;
  }

  get name(): string {
    return this.spec.name;
  }

  get size(): bigint {
    return this.spec.ranges.reduce((n, r) => n + r.size, 0n) - this.avoided;
  }

  get used(): bigint {
    return this.inUse;
  }

  families(): Set<IpFamily> {
    return new Set(this.spec.ranges.map((r) => r.family));
  }

  contains(ip: IpAddress): boolean {
    return this.spec.ranges.some((r) => r.contains(ip));
  }

  avoids(ip: IpAddress): boolean {
    return this.spec.avoidBuggyIPs && isBuggyIPv4(ip);
  }

  isTaken(ip: IpAddress): boolean {
    return this.taken[ip.family].has(ip.value);
  }

  take(ip: IpAddress): void {
    if (this.taken[ip.family].add(ip.value)) this.inUse++;
  }

  give(ip: IpAddress): void {
    if (this.avoids(ip)) return;
    if (this.taken[ip.family].delete(ip.value)) this.inUse--;
  }

  /** The lowest free address of a family, ranges in the order configured. */
  lowestFree(family: IpFamily): IpAddress | undefined {
    for (const r of this.spec.ranges) {
      if (r.family !== family) continue;
      const v = this.taken[family].lowestAbsent(r.first, r.last);
      if (v !== undefined) return IpAddress.fromValue(family, v);
    }
    return undefined;
  }

  /** Undefined when the Service may use the pool, else why not. */
  refusal(namespace: string, labels: Readonly<Record<string, string>>): string | undefined {
    if (this.spec.namespaces.length > 0 && !this.spec.namespaces.includes(namespace)) {
      return `namespace "${namespace}" is not in its namespaces (${this.spec.namespaces.join(', ')})`;
    }
    if (this.spec.serviceSelector && !selectorMatches(this.spec.serviceSelector, labels)) {
      return `the Service's labels do not match its serviceSelector (${describeSelector(this.spec.serviceSelector)})`;
    }
    return undefined;
  }
}
