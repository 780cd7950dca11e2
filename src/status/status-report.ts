import type { ConfigFormat } from '../config/convert/config-format.js';
import { DEFAULT_LB_CLASS, ANNOTATION } from '../controller/annotations.js';
import { loadConfig } from '../config/config-loader.js';
import { REASON } from '../controller/reconcile.js';
import { handles, readRequest, shownAddresses } from '../controller/service-request.js';
import { AddressPool } from '../ipam/address-pool.js';
import type { ServiceView } from '../k8s/service-view.js';
import { canonicalIp } from '../net/ip.js';
import { leaseNameFor } from '../speaker/eligibility.js';
import type { EventView, LeaseView, StatusSnapshot } from './status-snapshot.js';

/** What the report is about: where barelb keeps its ConfigMap and Leases, and which Services it handles. */
export interface StatusScope {
  readonly namespace: string;
  readonly configMap: string;
  /** How the ConfigMap is written, as the controller's --config-format. */
  readonly configFormat: ConfigFormat;
  readonly lbClass: string;
}

export const DEFAULT_SCOPE: StatusScope = { namespace: 'barelb-system', configMap: 'barelb-config', configFormat: 'barelb', lbClass: DEFAULT_LB_CLASS };

/** In the order the report lists them: the config first, since every other answer depends on it. */
export const PROBLEM_KINDS = ['missing-config', 'invalid-config', 'pending', 'ip-conflict', 'outside-pools', 'not-announced', 'orphaned-lease'] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

export interface StatusProblem {
  readonly kind: ProblemKind;
  /** `namespace/name` of the Service(s), ConfigMap or Lease concerned. */
  readonly object: string;
  readonly ip: string | undefined;
  /** The Event reason the message comes from, when it comes from one. */
  readonly reason: string | undefined;
  readonly message: string;
}

export interface PoolStatus {
  readonly name: string;
  readonly addresses: readonly string[];
  /** Addresses it can give out (without the avoided .0/.255 ones). */
  readonly size: bigint;
  /** Distinct addresses in it that Services show. */
  readonly used: bigint;
  readonly free: bigint;
}

export interface Announcer {
  readonly node: string;
  /** When this node took the Lease (acquireTime); undefined if the Lease does not say. */
  readonly sinceMs: number | undefined;
}

export interface AddressStatus {
  readonly ip: string;
  /** The configured pool holding it; with an invalid or missing config, the pool the controller annotated. */
  readonly pool: string | undefined;
  /** The holder of a live Lease; undefined when no node announces it. */
  readonly announcer: Announcer | undefined;
}

export interface ServiceStatus {
  readonly namespace: string;
  readonly name: string;
  /** Empty: pending. */
  readonly addresses: readonly AddressStatus[];
}

export interface StatusReport {
  readonly nowMs: number;
  readonly configMap: string;
  readonly config: 'valid' | 'invalid' | 'missing';
  /** Empty when the config is invalid: the pools in force are then the controller's last good ones, which it does not publish. */
  readonly pools: readonly PoolStatus[];
  /** Every LoadBalancer Service barelb handles, by namespace/name. */
  readonly services: readonly ServiceStatus[];
  readonly problems: readonly StatusProblem[];
}

// The Warning Events that say why a Service has no address.
const PENDING_REASONS: readonly string[] = [REASON.failed, REASON.invalid, REASON.conflict];
const CONFIG_REASONS: readonly string[] = ['InvalidConfig', 'ConfigLoaded'];
// leaseNameFor is the one place that names per-IP Leases; its empty-IP form is their prefix.
const LEASE_PREFIX = leaseNameFor('');

/** Builds the report from one snapshot of the cluster. Pure. */
export function buildStatusReport(snap: StatusSnapshot, scope: StatusScope = DEFAULT_SCOPE): StatusReport {
  const now = snap.nowMs;
  const problems: StatusProblem[] = [];
  const configKey = `${scope.namespace}/${scope.configMap}`;
  const cm = snap.configMap;
  const loaded = loadConfig(cm, scope.configFormat);
  const config = !cm ? 'missing' : loaded.ok ? 'valid' : 'invalid';
  if (!cm) {
    problems.push(problem('missing-config', configKey, `ConfigMap ${configKey} not found: there are no pools, so nothing new is assigned (check --namespace and --config-map)`));
  } else if (!loaded.ok) {
    problems.push(problem('invalid-config', configKey, `${loaded.error.message}; the controller keeps its last good config, which this report cannot show`));
  } else {
    const verdict = latest(snap.events, (e) => e.kind === 'ConfigMap' && e.namespace === scope.namespace && e.name === scope.configMap && sameUid(e.uid, cm.metadata?.uid) && CONFIG_REASONS.includes(e.reason));
    if (verdict?.reason === 'InvalidConfig') {
      problems.push({
        kind: 'invalid-config',
        object: configKey,
        ip: undefined,
        reason: verdict.reason,
        message: `the controller's latest verdict on it is InvalidConfig (${new Date(verdict.lastMs).toISOString()}): ${verdict.message}; the current content parses, so the controller has not loaded it yet`,
      });
    }
  }

  const pools = loaded.ok ? loaded.config.pools.map((p) => new AddressPool(p)) : [];
  const leases = new Map(snap.leases.filter((l) => l.name.startsWith(LEASE_PREFIX)).map((l) => [l.name, l]));
  const handled = snap.services.filter((v) => handles(v, scope.lbClass)).sort((a, b) => compare(a.key, b.key));
  const usersOf = new Map<string, ServiceView[]>();

  const services = handled.map((view): ServiceStatus => {
    const shown = new Map(shownAddresses(view).map((a) => [a.toString(), a]));
    if (shown.size === 0) problems.push(pendingProblem(view, snap.events));
    const addresses = [...shown].map(([ip, address]): AddressStatus => {
      const list = usersOf.get(ip) ?? [];
      list.push(view);
      usersOf.set(ip, list);
      const pool = pools.find((p) => p.contains(address));
      pool?.take(address);
      if (config === 'valid' && !pool) {
        const from = view.annotations[ANNOTATION.allocatedFromPool];
        problems.push(problem('outside-pools', view.key, `${ip} is in no configured pool${from ? ` (it came from pool "${from}")` : ''}; the Service keeps it until it is deleted`, ip));
      }
      return {
        ip,
        pool: pool?.name ?? (config === 'valid' ? undefined : view.annotations[ANNOTATION.allocatedFromPool]),
        announcer: announcerOf(leases.get(leaseNameFor(ip)), now),
      };
    });
    return { namespace: view.namespace, name: view.name, addresses };
  });

  for (const [ip, users] of usersOf) {
    const keys = users.map((u) => u.key).join(', ');
    const lease = leases.get(leaseNameFor(ip));
    if (!announcerOf(lease, now)) problems.push(problem('not-announced', keys, whyNotAnnounced(ip, lease, now), ip));
    if (users.length > 1) {
      const conflict = sharingConflict(users);
      if (conflict) problems.push(problem('ip-conflict', keys, `${ip} is shown by ${keys}, ${conflict}`, ip));
    }
  }

  const shownLeases = new Set([...usersOf.keys()].map(leaseNameFor));
  for (const lease of leases.values()) {
    const live = announcerOf(lease, now);
    if (!live || shownLeases.has(lease.name)) continue;
    const ip = ipOfLeaseName(lease.name);
    problems.push(problem('orphaned-lease', `${scope.namespace}/${lease.name}`, `node ${live.node} holds the Lease for ${ip ?? 'an address'}, which no Service shows`, ip));
  }

  problems.sort((a, b) => PROBLEM_KINDS.indexOf(a.kind) - PROBLEM_KINDS.indexOf(b.kind) || compare(a.object, b.object) || compare(a.ip ?? '', b.ip ?? ''));
  return {
    nowMs: now,
    configMap: configKey,
    config,
    pools: pools.map((p) => ({ name: p.name, addresses: p.spec.ranges.map((r) => r.text ?? r.toString()), size: p.size, used: p.used, free: p.size - p.used })),
    services,
    problems,
  };
}

/** The IP a per-IP Lease is for: the inverse of leaseNameFor, undefined for other names. */
export function ipOfLeaseName(name: string): string | undefined {
  if (!name.startsWith(LEASE_PREFIX)) return undefined;
  const rest = name.slice(LEASE_PREFIX.length);
  // leaseNameFor turns "." (IPv4) and ":" (IPv6) into "-": four decimal groups can only be IPv4.
  return /^\d{1,3}(-\d{1,3}){3}$/.test(rest) ? canonicalIp(rest.replace(/-/g, '.')) : canonicalIp(rest.replace(/-/g, ':'));
}

/**
 * The Lease's holder while it is valid: renewed within its duration. Judged
 * by this machine's clock against the holder's renewTime, unlike the speakers
 * (which never compare clocks): an operator's clock off by more than the lease
 * duration misjudges it.
 */
export function announcerOf(lease: LeaseView | undefined, nowMs: number): Announcer | undefined {
  if (!lease?.holder) return undefined;
  const renewed = lease.renewMs ?? lease.acquireMs;
  if (renewed === undefined || nowMs > renewed + lease.durationSeconds * 1000) return undefined;
  return { node: lease.holder, sinceMs: lease.acquireMs };
}

function whyNotAnnounced(ip: string, lease: LeaseView | undefined, nowMs: number): string {
  if (ip.includes(':')) return 'IPv6 addresses are not announced yet (NDP is not implemented)';
  if (!lease) return `no node has taken its Lease ${leaseNameFor(ip)}: are the speakers running, and is any node eligible?`;
  if (!lease.holder) return `its Lease ${lease.name} was released and no node has taken it since: is any node eligible?`;
  const renewed = lease.renewMs ?? lease.acquireMs;
  const ago = renewed === undefined ? 'at an unknown time' : `${Math.round((nowMs - renewed) / 1000)}s ago`;
  return `its Lease ${lease.name} held by ${lease.holder} expired (last renewed ${ago}, valid ${lease.durationSeconds}s): is that speaker running?`;
}

/** Why these Services may not share an address, or undefined when they may (the allocator's rule). */
function sharingConflict(users: readonly ServiceView[]): string | undefined {
  const requests = users.map((u) => readRequest(u).request);
  const keys = new Set(requests.map((r) => r.sharingKey));
  if (keys.size > 1 || keys.has(undefined)) return `which do not share one ${ANNOTATION.allowSharedIp} key`;
  for (let i = 0; i < requests.length; i++) {
    for (let j = i + 1; j < requests.length; j++) {
      const a = requests[i];
      const b = requests[j];
      const overlap = a && b ? a.ports.filter((p) => b.ports.includes(p)) : [];
      if (a && b && overlap.length > 0) return `and ${a.key} and ${b.key} both use ${overlap.join(', ')}`;
    }
  }
  return undefined;
}

function pendingProblem(view: ServiceView, events: readonly EventView[]): StatusProblem {
  const why = latest(
    events,
    (e) => e.kind === 'Service' && e.namespace === view.namespace && e.name === view.name && sameUid(e.uid, view.uid) && e.type === 'Warning' && PENDING_REASONS.includes(e.reason),
  );
  if (!why) return problem('pending', view.key, 'no event yet: the controller has not said why (is it running?)');
  return { kind: 'pending', object: view.key, ip: undefined, reason: why.reason, message: why.message };
}

function latest(events: readonly EventView[], match: (e: EventView) => boolean): EventView | undefined {
  let best: EventView | undefined;
  for (const e of events) if (match(e) && (!best || e.lastMs >= best.lastMs)) best = e;
  return best;
}

/** An Event about an older object of the same name is not about this one. */
function sameUid(eventUid: string, objectUid: string | undefined): boolean {
  return !eventUid || !objectUid || eventUid === objectUid;
}

function problem(kind: ProblemKind, object: string, message: string, ip?: string): StatusProblem {
  return { kind, object, ip, reason: undefined, message };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
