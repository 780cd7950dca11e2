import type { PoolSpec } from '../config/types.js';
import type { IpAddress, IpFamily } from '../net/ip.js';
import { AddressPool } from './address-pool.js';
import type { AllocationError } from './errors.js';
import {
  IpAvoidedError,
  IpInUseError,
  IpNotInPoolError,
  NoAddressError,
  PoolNotAllowedError,
  UnknownPoolError,
} from './errors.js';

export type IpFamilyPolicy = 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';

/** What a Service asks for, already read from its spec and annotations. */
export interface AddressRequest {
  /** `namespace/name` */
  readonly key: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** From `barelb.io/address-pool`. */
  readonly pool: string | undefined;
  /** From `barelb.io/loadBalancerIPs` or `spec.loadBalancerIP`; empty: pick for me. */
  readonly requestedIps: readonly IpAddress[];
  /** First is the primary family. */
  readonly families: readonly IpFamily[];
  readonly familyPolicy: IpFamilyPolicy;
  /** From `barelb.io/allow-shared-ip`. */
  readonly sharingKey: string | undefined;
  /** `TCP/80` style; sharing is allowed only when these don't overlap. */
  readonly ports: readonly string[];
}

export interface Assignment {
  readonly ips: readonly IpAddress[];
  /** Undefined when the config no longer covers the addresses (kept, never moved). */
  readonly pool: string | undefined;
  /**
   * The pool they were given from (the allocated-from-pool annotation). A pool
   * edit changes `pool`, never this, so a Service naming the pool it got its
   * address from keeps the address whatever the pool now covers.
   */
  readonly from: string | undefined;
}

export type AllocationResult = { ok: true; assignment: Assignment } | { ok: false; error: AllocationError };

interface Holding {
  readonly ip: IpAddress;
  pool: string | undefined;
  /** The key of every user: whoever commits while no one else holds the address sets it. */
  sharingKey: string | undefined;
  /** service key -> its ports */
  readonly users: Map<string, readonly string[]>;
}

export interface PoolUsage {
  readonly name: string;
  readonly size: bigint;
  readonly used: bigint;
}

/**
 * Who holds which address. Pure and synchronous: the controller feeds it what
 * the cluster says and writes back what it decides. An address held by one
 * Service is never given to another that may not share it.
 */
export class Allocator {
  private pools = new Map<string, AddressPool>();
  private readonly holdings = new Map<string, Holding>();
  private readonly assignments = new Map<string, Assignment>();
  private readonly bySharingKey = new Map<string, Set<string>>();

  constructor(pools: readonly PoolSpec[] = []) {
    this.setPools(pools);
  }

  /**
   * Replaces the pool config. Held addresses stay with their Services whatever
   * the new config says; returns the keys of Services whose addresses no pool
   * covers any more.
   */
  setPools(specs: readonly PoolSpec[]): string[] {
    this.pools = new Map(specs.map((s) => [s.name, new AddressPool(s)]));
    const uncovered = new Set<string>();
    for (const h of this.holdings.values()) {
      const pool = this.poolContaining(h.ip);
      h.pool = pool?.name;
      if (pool) pool.take(h.ip);
      else for (const key of h.users.keys()) uncovered.add(key);
    }
    for (const [key, a] of this.assignments) this.assignments.set(key, { ...a, pool: this.poolOfHeld(a.ips) });
    return [...uncovered].sort();
  }

  assignmentOf(key: string): Assignment | undefined {
    return this.assignments.get(key);
  }

  /** Services other than `key` holding `ip`. */
  holdersOf(ip: IpAddress, except?: string): string[] {
    return [...(this.holdings.get(idOf(ip))?.users.keys() ?? [])].filter((k) => k !== except);
  }

  /** Services holding addresses no configured pool covers. */
  keysOutsidePools(): string[] {
    return [...this.assignments].filter(([, a]) => a.pool === undefined).map(([k]) => k);
  }

  usage(): PoolUsage[] {
    return [...this.pools.values()].map((p) => ({ name: p.name, size: p.size, used: p.used }));
  }

  /**
   * Takes the given addresses for a Service as it asks now: because the cluster
   * says it has them (re-learning on start, or a status written by someone
   * else), or because it keeps what it holds. Ignores pool rules: an address
   * already given out stays where it is. Records the request's ports and
   * sharing key, replacing what the Service said before. Fails, changing
   * nothing, only when another Service holds an address and the two may not
   * share it. `from`: the pool they were given from, when the cluster or an
   * earlier assignment says; else the pool holding them now.
   */
  adopt(req: AddressRequest, ips: readonly IpAddress[], from?: string): AllocationResult {
    for (const ip of ips) {
      const clash = this.sharingConflict(req, ip);
      if (clash) return { ok: false, error: clash };
    }
    return { ok: true, assignment: this.commit(req, ips, from) };
  }

  /**
   * Finds addresses for a Service and takes them. `prefer` are addresses it
   * held before a change of request; they are kept where still valid.
   */
  assign(req: AddressRequest, prefer: readonly IpAddress[] = []): AllocationResult {
    const result = req.requestedIps.length > 0 ? this.pickRequested(req) : this.pickAuto(req, prefer);
    if (!result.ok) return result;
    return { ok: true, assignment: this.commit(req, result.assignment.ips, result.assignment.pool) };
  }

  /** Whether the Service's current assignment still answers its request. */
  satisfies(req: AddressRequest, a: Assignment): boolean {
    for (const ip of a.ips) {
      if (this.sharingConflict(req, ip)) return false;
    }
    if (req.requestedIps.length > 0) {
      return sameAddresses(req.requestedIps, a.ips);
    }
    // A pool edit never moves an address: the pool it was given from still answers for it.
    if (req.pool !== undefined && a.pool !== req.pool && a.from !== req.pool) return false;
    const have = new Set(a.ips.map((ip) => ip.family));
    if (have.size !== a.ips.length) return false;
    const primary = req.families[0] ?? 'IPv4';
    switch (req.familyPolicy) {
      case 'SingleStack':
        return a.ips.length === 1 && have.has(primary);
      case 'PreferDualStack':
        return have.has(primary) && [...have].every((f) => req.families.includes(f));
      case 'RequireDualStack':
        return req.families.every((f) => have.has(f)) && have.size === req.families.length;
    }
  }

  release(key: string): Assignment | undefined {
    const a = this.assignments.get(key);
    if (!a) return undefined;
    this.assignments.delete(key);
    for (const ip of a.ips) this.letGo(key, ip);
    return a;
  }

  /**
   * Makes `ips` the Service's addresses, recorded with its ports and sharing key
   * as the request states them now, whatever it said before. The caller has
   * checked that everyone else on those addresses may share them with it.
   */
  private commit(req: AddressRequest, ips: readonly IpAddress[], from: string | undefined): Assignment {
    const keep = new Set(ips.map(idOf));
    for (const ip of this.assignments.get(req.key)?.ips ?? []) if (!keep.has(idOf(ip))) this.letGo(req.key, ip);
    for (const ip of ips) {
      const id = idOf(ip);
      let h = this.holdings.get(id);
      if (!h) {
        const pool = this.poolContaining(ip);
        h = { ip, pool: pool?.name, sharingKey: undefined, users: new Map() };
        this.holdings.set(id, h);
        pool?.take(ip);
      }
      if (h.users.size === 0 || (h.users.size === 1 && h.users.has(req.key))) this.setSharingKey(id, h, req.sharingKey);
      h.users.set(req.key, [...req.ports]);
    }
    const pool = this.poolOfHeld(ips);
    const a: Assignment = { ips: [...ips], pool, from: from ?? pool };
    this.assignments.set(req.key, a);
    return a;
  }

  private letGo(key: string, ip: IpAddress): void {
    const id = idOf(ip);
    const h = this.holdings.get(id);
    if (!h) return;
    h.users.delete(key);
    if (h.users.size > 0) return;
    this.holdings.delete(id);
    this.setSharingKey(id, h, undefined);
    if (h.pool !== undefined) this.pools.get(h.pool)?.give(ip);
  }

  private setSharingKey(id: string, h: Holding, sharingKey: string | undefined): void {
    if (h.sharingKey === sharingKey) return;
    if (h.sharingKey !== undefined) {
      const set = this.bySharingKey.get(h.sharingKey);
      set?.delete(id);
      if (set?.size === 0) this.bySharingKey.delete(h.sharingKey);
    }
    h.sharingKey = sharingKey;
    if (sharingKey !== undefined) {
      let set = this.bySharingKey.get(sharingKey);
      if (!set) this.bySharingKey.set(sharingKey, (set = new Set()));
      set.add(id);
    }
  }

  private pickRequested(req: AddressRequest): AllocationResult {
    let pool: AddressPool | undefined;
    for (const ip of req.requestedIps) {
      const p = this.poolContaining(ip);
      if (!p) return fail(new IpNotInPoolError(ip.toString(), 'any configured pool'));
      if (req.pool !== undefined && p.name !== req.pool) {
        return fail(new IpNotInPoolError(ip.toString(), `pool "${req.pool}" named by barelb.io/address-pool (it is in pool "${p.name}")`));
      }
      if (pool && p !== pool) {
        return fail(new IpNotInPoolError(ip.toString(), `pool "${pool.name}" like the other requested addresses`));
      }
      pool = p;
      const refusal = p.refusal(req.namespace, req.labels);
      if (refusal) return fail(new PoolNotAllowedError(p.name, refusal));
      if (p.avoids(ip)) return fail(new IpAvoidedError(ip.toString(), p.name));
      const clash = this.sharingConflict(req, ip);
      if (clash) return fail(clash);
    }
    return { ok: true, assignment: { ips: req.requestedIps, pool: pool?.name, from: pool?.name } };
  }

  private pickAuto(req: AddressRequest, prefer: readonly IpAddress[]): AllocationResult {
    let candidates: AddressPool[];
    const reasons: string[] = [];
    if (req.pool !== undefined) {
      const p = this.pools.get(req.pool);
      if (!p) return fail(new UnknownPoolError(req.pool, [...this.pools.keys()]));
      const refusal = p.refusal(req.namespace, req.labels);
      if (refusal) return fail(new PoolNotAllowedError(p.name, refusal));
      candidates = [p];
    } else {
      candidates = [];
      for (const p of this.pools.values()) {
        const refusal = p.spec.autoAssign ? p.refusal(req.namespace, req.labels) : 'autoAssign is false (request it by name)';
        if (refusal) reasons.push(`pool "${p.name}": ${refusal}`);
        else candidates.push(p);
      }
      if (this.pools.size === 0) reasons.push('no pools are configured');
    }
    const primary = req.families[0] ?? 'IPv4';
    const attempts: IpFamily[][] =
      req.familyPolicy === 'SingleStack'
        ? [[primary]]
        : req.familyPolicy === 'RequireDualStack'
          ? [[...req.families]]
          : req.families.length > 1
            ? [[...req.families], [primary]]
            : [[primary]];
    for (const families of attempts) {
      for (const p of candidates) {
        const ips: IpAddress[] = [];
        for (const f of families) {
          const ip = this.pickInPool(req, p, f, prefer);
          if (!ip) break;
          ips.push(ip);
        }
        if (ips.length === families.length) return { ok: true, assignment: { ips, pool: p.name, from: p.name } };
      }
    }
    const want = (attempts[0] ?? []).join(' and ');
    for (const p of candidates) {
      const fams = p.families();
      const missing = (attempts[0] ?? []).filter((f) => !fams.has(f));
      if (missing.length > 0 && !(attempts.length > 1 && fams.has(primary))) {
        reasons.push(`pool "${p.name}" has no ${missing.join(' or ')} addresses`);
      } else {
        reasons.push(`pool "${p.name}" is full for ${want} (${p.used} of ${p.size} in use)`);
      }
    }
    return fail(new NoAddressError(reasons));
  }

  private pickInPool(req: AddressRequest, p: AddressPool, family: IpFamily, prefer: readonly IpAddress[]): IpAddress | undefined {
    for (const ip of prefer) {
      if (ip.family === family && p.contains(ip) && !p.avoids(ip) && !this.sharingConflict(req, ip)) return ip;
    }
    if (req.sharingKey !== undefined) {
      const shared = [...(this.bySharingKey.get(req.sharingKey) ?? [])]
        .map((id) => this.holdings.get(id) as Holding)
        .filter((h) => h.ip.family === family && h.pool === p.name && !p.avoids(h.ip) && !this.sharingConflict(req, h.ip))
        .sort((a, b) => (a.ip.value < b.ip.value ? -1 : 1));
      if (shared[0]) return shared[0].ip;
    }
    return p.lowestFree(family);
  }

  /** Undefined when `req` may hold `ip` beside whoever holds it now. */
  private sharingConflict(req: AddressRequest, ip: IpAddress): IpInUseError | undefined {
    const h = this.holdings.get(idOf(ip));
    if (!h) return undefined;
    const others = [...h.users.keys()].filter((k) => k !== req.key);
    if (others.length === 0) return undefined;
    if (h.sharingKey === undefined || req.sharingKey !== h.sharingKey) {
      const why =
        h.sharingKey === undefined
          ? 'it does not allow sharing'
          : req.sharingKey === undefined
            ? `set barelb.io/allow-shared-ip: "${h.sharingKey}" to share it`
            : `its sharing key is "${h.sharingKey}", not "${req.sharingKey}"`;
      return new IpInUseError(ip.toString(), others, why);
    }
    const mine = new Set(req.ports);
    for (const other of others) {
      const overlap = (h.users.get(other) ?? []).filter((port) => mine.has(port));
      if (overlap.length > 0) return new IpInUseError(ip.toString(), [other], `both use ${overlap.join(', ')}`);
    }
    return undefined;
  }

  /** The one pool all these held addresses are in, else undefined (outside pools, or split). */
  private poolOfHeld(ips: readonly IpAddress[]): string | undefined {
    const names = new Set(ips.map((ip) => this.holdings.get(idOf(ip))?.pool));
    return names.size === 1 ? [...names][0] : undefined;
  }

  private poolContaining(ip: IpAddress): AddressPool | undefined {
    for (const p of this.pools.values()) if (p.contains(ip)) return p;
    return undefined;
  }
}

/** Map key of an address; cheaper than its text form. */
function idOf(ip: IpAddress): string {
  return ip.family === 'IPv4' ? `4:${ip.value}` : `6:${ip.value}`;
}

function fail(error: AllocationError): AllocationResult {
  return { ok: false, error };
}

function sameAddresses(a: readonly IpAddress[], b: readonly IpAddress[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a.map(idOf));
  return b.every((ip) => s.has(idOf(ip)));
}
