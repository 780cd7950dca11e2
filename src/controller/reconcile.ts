import type { Allocator, Assignment } from '../ipam/allocator.js';
import type { AllocationError } from '../ipam/errors.js';
import type { ServiceView } from '../k8s/service-view.js';
import { canonicalIp, type IpAddress } from '../net/ip.js';
import { handles } from '../k8s/service-view.js';
import { ANNOTATION, REASON } from '../names.js';
import { readRequest, shownAddresses } from './service-request.js';

export interface ServiceEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}


/** What to write back for one Service. */
export interface Outcome {
  /** status.loadBalancer.ingress IPs to write; undefined when the status is right as it is. */
  readonly status: readonly string[] | undefined;
  /** Value for the allocated-from-pool annotation (null: remove it), written with the status. */
  readonly pool: string | null | undefined;
  readonly events: readonly ServiceEvent[];
  /** Set when the Service is left without an address. */
  readonly failure: AllocationError | undefined;
  readonly assigned: boolean;
  readonly released: boolean;
}

const NOTHING: Outcome = { status: undefined, pool: undefined, events: [], failure: undefined, assigned: false, released: false };

/**
 * Decides a Service's addresses against the allocator (which it updates) and
 * says what to write. Pure apart from the allocator; the controller does the I/O.
 * `view` undefined: the Service is gone.
 */
export function reconcileService(alloc: Allocator, key: string, view: ServiceView | undefined, lbClass: string): Outcome {
  if (!view) {
    const released = alloc.release(key);
    return { ...NOTHING, released: released !== undefined };
  }
  if (!handles(view, lbClass)) {
    const released = alloc.release(key);
    if (!released) return NOTHING;
    const ips = released.ips.map(String);
    const stillShown = view.ingressIps.some((ip) => ips.includes(canonical(ip)));
    const why = view.type !== 'LoadBalancer' ? `type is now ${view.type}` : `loadBalancerClass is now "${view.loadBalancerClass}"`;
    return {
      ...NOTHING,
      status: stillShown ? [] : undefined,
      pool: stillShown ? null : undefined,
      events: [{ type: 'Normal', reason: REASON.released, message: `Released ${ips.join(', ')}: ${why}` }],
      released: true,
    };
  }

  const { request, error, aliases } = readRequest(view);
  const events: ServiceEvent[] = [];
  let current = alloc.assignmentOf(key);
  let lost: readonly IpAddress[] = [];
  // Said once per Service and controller: when barelb takes it on (adopted from status, or assigned;
  // relearn says it for the Services it adopts at start).
  const foreign = current ? undefined : foreignAnnotationEvent(aliases);

  if (current) {
    // Re-assert, don't remember: the allocator hears the Service's ports and
    // sharing key on every pass, so a spec change never leaves a stale record
    // for the next Service to share by.
    const kept = alloc.adopt(request, current.ips, current.from);
    if (kept.ok) {
      current = kept.assignment;
    } else {
      // Its own change clashes with the others on the address: they keep it.
      events.push({ type: 'Warning', reason: REASON.conflict, message: `${describe(current)} can no longer be kept: ${kept.error.message}` });
      lost = alloc.release(key)?.ips ?? [];
      current = undefined;
    }
  } else if (view.ingressIps.length > 0) {
    // The cluster says it has addresses we don't know of (written before we
    // started, or by a previous leader): keep them if nobody else may claim them.
    const adopted = alloc.adopt(request, shownAddresses(view), view.annotations[ANNOTATION.allocatedFromPool]);
    if (adopted.ok) {
      current = adopted.assignment;
      if (foreign) events.push(foreign);
      if (current.pool === undefined) {
        events.push({ type: 'Warning', reason: REASON.outsidePools, message: outsideMessage(current) });
      }
    } else {
      events.push({ type: 'Warning', reason: REASON.conflict, message: `status shows ${view.ingressIps.join(', ')} but ${adopted.error.message}; assigning another address` });
    }
  }

  // A Service that names the pool now holding its address has it from that pool, whatever the pool was called
  // when the address was given: recorded (allocated-from-pool), so an edit that later uncovers the address
  // keeps it with the Service, after a restart too.
  if (current && request.pool !== undefined && current.pool === request.pool && current.from !== request.pool) {
    const renamed = alloc.adopt(request, current.ips, request.pool);
    if (renamed.ok) current = renamed.assignment;
  }

  if (error) {
    if (current) {
      events.push({ type: 'Warning', reason: REASON.invalid, message: `${error.message}; keeping ${describe(current)}` });
      return finish(view, current, events, undefined, false);
    }
    events.push({ type: 'Warning', reason: REASON.invalid, message: `${error.message}; no address assigned` });
    return { ...finish(view, undefined, events, error, false), failure: error };
  }

  if (current && alloc.satisfies(request, current)) return finish(view, current, events, undefined, false);

  const result = alloc.assign(request, current?.ips ?? lost);
  if (result.ok) {
    if (foreign && !current) events.push(foreign);
    return finish(view, result.assignment, events, undefined, true);
  }
  if (current) {
    events.push({ type: 'Warning', reason: REASON.failed, message: `cannot change address: ${result.error.message}; keeping ${describe(current)}` });
    return finish(view, current, events, undefined, false);
  }
  events.push({ type: 'Warning', reason: REASON.failed, message: result.error.message });
  return { ...finish(view, undefined, events, result.error, false), failure: result.error };
}

/** The Normal Event for a Service read through MetalLB's or kube-vip's annotations: which, and barelb's to set. */
function foreignAnnotationEvent(aliases: ReadonlyArray<{ readonly read: string; readonly as: string }>): ServiceEvent | undefined {
  if (aliases.length === 0) return undefined;
  return {
    type: 'Normal',
    reason: REASON.foreignAnnotation,
    message: `reading ${aliases.map((a) => `${a.read} as ${a.as}`).join(', ')}; set ${aliases.map((a) => a.as).join(', ')} instead (barelb's own wins when both are set)`,
  };
}

export interface Relearned {
  readonly learned: number;
  /** Services whose status shows an address an older Service holds. */
  readonly conflicts: readonly { readonly key: string; readonly error: AllocationError }[];
  /** Services taken on here that are read through another implementation's annotations, with the Event that says so. */
  readonly foreign: readonly { readonly view: ServiceView; readonly event: ServiceEvent }[];
}

/**
 * Takes every address the cluster shows, with the pool each came from, before
 * any new one is handed out; the oldest Service wins a clash.
 */
export function relearn(alloc: Allocator, views: readonly ServiceView[], lbClass: string): Relearned {
  const shown = views
    .filter((v) => handles(v, lbClass) && v.ingressIps.length > 0)
    .sort((a, b) => a.createdMs - b.createdMs || a.key.localeCompare(b.key));
  const conflicts: { key: string; error: AllocationError }[] = [];
  const foreign: { view: ServiceView; event: ServiceEvent }[] = [];
  for (const v of shown) {
    const { request, aliases } = readRequest(v);
    const r = alloc.adopt(request, shownAddresses(v), v.annotations[ANNOTATION.allocatedFromPool]);
    if (!r.ok) {
      conflicts.push({ key: v.key, error: r.error });
      continue;
    }
    const event = foreignAnnotationEvent(aliases);
    if (event) foreign.push({ view: v, event });
  }
  return { learned: shown.length - conflicts.length, conflicts, foreign };
}

/**
 * The Warnings last recorded for each Service, so that a retry reaching the same
 * verdict writes nothing. Waiting Services are retried whenever any address
 * frees; with a thousand of them waiting for one address, every release would
 * otherwise write a thousand Event updates. A verdict is repeated once the quiet
 * period has passed, so the Event stays current.
 */
export class WarningMemory {
  private readonly last = new Map<string, { text: string; atMs: number }>();

  constructor(private readonly quietMs = 10 * 60_000) {}

  /** The events to record now for the Service `key` (object `uid`: a Service made anew is told again). Normal events always pass. */
  filter(key: string, uid: string, events: readonly ServiceEvent[], nowMs: number): readonly ServiceEvent[] {
    const warnings = events.filter((e) => e.type === 'Warning');
    if (warnings.length === 0) {
      this.last.delete(key);
      return events;
    }
    const text = [uid, ...warnings.map((e) => `${e.reason}\u0000${e.message}`)].join('\u0000');
    const seen = this.last.get(key);
    if (seen && seen.text === text && nowMs - seen.atMs < this.quietMs) return events.filter((e) => e.type !== 'Warning');
    this.last.set(key, { text, atMs: nowMs });
    return events;
  }

  /** The Service is gone. */
  forget(key: string): void {
    this.last.delete(key);
  }
}

/** Events for Services whose addresses a new config no longer covers. */
export function outsidePoolsEvent(a: Assignment): ServiceEvent {
  return { type: 'Warning', reason: REASON.outsidePools, message: outsideMessage(a) };
}

function outsideMessage(a: Assignment): string {
  return `${a.ips.map(String).join(', ')} is in no configured pool; the Service keeps it until it is deleted`;
}

function finish(view: ServiceView, a: Assignment | undefined, events: ServiceEvent[], failure: AllocationError | undefined, fresh: boolean): Outcome {
  const want = a ? orderIps(a.ips, view.ipFamilies) : [];
  const have = view.ingressIps.map(canonical);
  const statusChanged = want.length !== have.length || want.some((ip, i) => ip !== have[i]);
  const poolShown = view.annotations[ANNOTATION.allocatedFromPool] ?? null;
  // Where it came from, whatever pool covers it now: after a restart it is what keeps the address.
  const poolWanted = a ? (a.from ?? null) : null;
  const poolChanged = poolWanted !== poolShown;
  if (statusChanged && want.length > 0) {
    events.push({ type: 'Normal', reason: REASON.assigned, message: `Assigned ${want.join(', ')}${a?.pool ? ` from pool "${a.pool}"` : ''}` });
  }
  return {
    status: statusChanged || poolChanged ? want : undefined,
    pool: statusChanged || poolChanged ? poolWanted : undefined,
    events,
    failure,
    assigned: fresh || (statusChanged && want.length > 0),
    released: false,
  };
}

function orderIps(ips: readonly IpAddress[], families: readonly string[]): string[] {
  const rank = (f: string): number => {
    const i = families.indexOf(f);
    return i < 0 ? families.length : i;
  };
  return [...ips].sort((a, b) => rank(a.family) - rank(b.family)).map(String);
}

function canonical(ip: string): string {
  return canonicalIp(ip) ?? ip;
}

function describe(a: Assignment): string {
  return a.ips.map(String).join(', ');
}
