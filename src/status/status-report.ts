import type { ConfigFormat } from '../config/convert/config-format.js';
import { handles } from '../k8s/service-view.js';
import { ANNOTATION, DEFAULT_LB_CLASS, REASON, SPEAKER_LEASE_NAMESPACE } from '../names.js';
import { loadConfig } from '../config/config-loader.js';
import { CONFIG_IN_FORCE_NAME, parseConfigInForce } from '../k8s/config-in-force.js';
import { readRequest, shownAddresses } from '../controller/service-request.js';
import { AddressPool } from '../ipam/address-pool.js';
import type { ServiceView } from '../k8s/service-view.js';
import { isLive, readSpeakerLease, SPEAKER_LEASE_ANNOTATION, SPEAKER_LEASE_PREFIX, type SpeakerLeaseView } from '../election/speaker-lease.js';
import type { EventView, LeaseView, StatusSnapshot } from './status-snapshot.js';
import { formatAge } from './age.js';

/** What the report is about: where barelb keeps its ConfigMap and Leases, and which Services it handles. */
export interface StatusScope {
  /** The ConfigMap's (--config-namespace, else --namespace). */
  readonly namespace: string;
  readonly configMap: string;
  /** How the ConfigMap is written, as the controller's --config-format. */
  readonly configFormat: ConfigFormat;
  readonly lbClass: string;
  /** Where the speakers' Leases are (--lease-namespace). */
  readonly leaseNamespace: string;
  /** Where the controller records the config in force (--namespace). */
  readonly recordNamespace?: string;
}

export const DEFAULT_SCOPE: StatusScope = {
  namespace: 'barelb-system',
  configMap: 'barelb-config',
  configFormat: 'barelb',
  lbClass: DEFAULT_LB_CLASS,
  leaseNamespace: SPEAKER_LEASE_NAMESPACE,
  recordNamespace: 'barelb-system',
};

/** In the order the report lists them: the config first, since every other answer depends on it. */
export const PROBLEM_KINDS = [
  'missing-config',
  'invalid-config',
  'pending',
  'ip-conflict',
  'outside-pools',
  'not-announced',
  'multiple-announcers',
  'not-heard',
  'heartbeats-unheard',
  'orphaned-announcement',
] as const;
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

export interface AddressStatus {
  readonly ip: string;
  /** The configured pool holding it; with an invalid or missing config, the pool the controller annotated. */
  readonly pool: string | undefined;
  /**
   * The nodes whose live speaker Lease lists it in barelb.io/announces, sorted: empty when none does,
   * more than one a problem (multiple-announcers). When a node began to announce it is not published.
   */
  readonly announcedBy: readonly string[];
}

export interface ServiceStatus {
  readonly namespace: string;
  readonly name: string;
  /** Empty: pending. */
  readonly addresses: readonly AddressStatus[];
}

/** What `barelb status` says of the config in force. */
export interface ConfigInForceView {
  /** `namespace/name` of the record. */
  readonly object: string;
  /** `namespace/name` of the ConfigMap it was read from, and that ConfigMap's resourceVersion then. */
  readonly source: string;
  readonly sourceVersion: string | undefined;
  readonly acceptedMs: number;
  /** The ConfigMap as it is now is that same version. */
  readonly current: boolean;
}

export interface StatusReport {
  readonly nowMs: number;
  readonly configMap: string;
  readonly config: 'valid' | 'invalid' | 'missing';
  /** The version the controller last accepted, as it recorded it; undefined when it recorded none. */
  readonly inForce: ConfigInForceView | undefined;
  /** The pools of the ConfigMap when it is valid; when it is not, those of the version in force (none if unknown). */
  readonly pools: readonly PoolStatus[];
  /** Every LoadBalancer Service barelb handles, by namespace/name. */
  readonly services: readonly ServiceStatus[];
  readonly problems: readonly StatusProblem[];
}

// The Warning Events that say why a Service has no address.
const PENDING_REASONS: readonly string[] = [REASON.failed, REASON.invalid, REASON.conflict];
const CONFIG_REASONS: readonly string[] = ['InvalidConfig', 'ConfigLoaded'];
// The Warning a speaker records on a Service when its address guard refuses the Service's address.

/** A speaker's Lease, read back: `namespace/name`, what it says, and whether it is live now. */
interface SpeakerLease {
  readonly object: string;
  readonly view: SpeakerLeaseView;
  readonly live: boolean;
}

/** Builds the report from one snapshot of the cluster. Pure. */
export function buildStatusReport(snap: StatusSnapshot, scope: StatusScope = DEFAULT_SCOPE): StatusReport {
  const now = snap.nowMs;
  const problems: StatusProblem[] = [];
  // --config-format metallb-crds: MetalLB's objects, read in place of a ConfigMap.
  const objects = snap.configObjects;
  const configKey = objects?.name ?? `${scope.namespace}/${scope.configMap}`;
  const cm = snap.configMap;
  const loaded = objects?.loaded ?? loadConfig(cm, scope.configFormat);
  const present = objects ? objects.absent === undefined : cm !== undefined;
  const config = !present ? 'missing' : loaded.ok ? 'valid' : 'invalid';
  const record = parseConfigInForce(snap.configInForce);
  const recordObject = `${scope.recordNamespace ?? DEFAULT_SCOPE.namespace}/${CONFIG_IN_FORCE_NAME}`;
  const inForce: ConfigInForceView | undefined = record && {
    object: recordObject,
    source: record.source,
    sourceVersion: record.sourceVersion,
    acceptedMs: record.acceptedAt.getTime(),
    current: record.source === configKey && (objects ? record.sourceVersion === objects.version : cm !== undefined && record.sourceVersion === cm.metadata?.resourceVersion),
  };
  const kept = record
    ? `the controller runs on the version it accepted ${formatAge(now - record.acceptedAt.getTime())} ago (${record.source} version ${record.sourceVersion ?? '?'}, recorded in ${recordObject}; its pools are shown)`
    : `the controller keeps its last good config, which it has not recorded in ${recordObject}`;
  if (!present) {
    problems.push(problem('missing-config', configKey, objects?.absent ?? `ConfigMap ${configKey} not found: there are no pools, so nothing new is assigned (check --namespace and --config-map)`));
  } else if (!loaded.ok) {
    problems.push(problem('invalid-config', configKey, `${loaded.error.message}; ${kept}`));
  } else if (cm) {
    const verdict = latest(snap.events, (e) => e.kind === 'ConfigMap' && e.namespace === scope.namespace && e.name === scope.configMap && sameUid(e.uid, cm.metadata?.uid) && CONFIG_REASONS.includes(e.reason));
    if (verdict?.reason === 'InvalidConfig') {
      problems.push({
        kind: 'invalid-config',
        object: configKey,
        ip: undefined,
        reason: verdict.reason,
        message: `the controller's latest verdict on it is InvalidConfig (${new Date(verdict.lastMs).toISOString()}): ${verdict.message}; the current content parses, so the controller has not loaded it yet; ${kept}`,
      });
    }
  }

  const pools = (loaded.ok ? loaded.config.pools : (record?.config.pools ?? [])).map((p) => new AddressPool(p));
  const speakers = speakerLeases(snap.leases, scope.leaseNamespace, now);
  const live = speakers.filter((s) => s.live);
  const announcersOf = new Map<string, SpeakerLease[]>();
  for (const s of live) {
    for (const ip of new Set(s.view.announces)) announcersOf.set(ip, [...(announcersOf.get(ip) ?? []), s]);
  }
  const handled = snap.services.filter((v) => handles(v, scope.lbClass)).sort((a, b) => compare(a.key, b.key));
  const usersOf = new Map<string, ServiceView[]>();
  const outsidePools = new Set<string>();

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
        outsidePools.add(ip);
        const from = view.annotations[ANNOTATION.allocatedFromPool];
        problems.push(problem('outside-pools', view.key, `${ip} is in no configured pool${from ? ` (it came from pool "${from}")` : ''}; the Service keeps it until it is deleted`, ip));
      }
      return {
        ip,
        pool: pool?.name ?? (config === 'valid' ? undefined : view.annotations[ANNOTATION.allocatedFromPool]),
        announcedBy: (announcersOf.get(ip) ?? []).map((s) => s.view.node),
      };
    });
    return { namespace: view.namespace, name: view.name, addresses };
  });

  for (const [ip, users] of usersOf) {
    const keys = users.map((u) => u.key).join(', ');
    if (!announcersOf.has(ip)) {
      const why = whyNotAnnounced(ip, { users, speakers, outsidePools: outsidePools.has(ip), events: snap.events, nowMs: now, namespace: scope.leaseNamespace });
      problems.push({ kind: 'not-announced', object: keys, ip, reason: why.reason, message: why.message });
    }
    if (users.length > 1) {
      const conflict = sharingConflict(users);
      if (conflict) problems.push(problem('ip-conflict', keys, `${ip} is shown by ${keys}, ${conflict}`, ip));
    }
  }

  for (const [ip, by] of announcersOf) {
    if (by.length < 2) continue;
    const object = usersOf.get(ip)?.map((u) => u.key).join(', ') ?? by.map((s) => s.object).join(', ');
    const nodes = by.map((s) => `${s.view.node} (renewed ${ago(s.view, now)})`).join(', ');
    problems.push(
      problem(
        'multiple-announcers',
        object,
        `the live speaker Leases of ${nodes} all list ${ip}: each of these nodes answers ARP for it, so clients may reach any ` +
          '(a speaker that stopped without deleting its Lease stays listed until the Lease expires)',
        ip,
      ),
    );
  }

  // Only meaningful with peers to hear it: a lone speaker is heard by no one.
  if (live.length >= 2) {
    for (const s of live) {
      // A node that says it hears nobody is reported below, with what it made of it.
      if (s.view.announces.length === 0 || s.view.unheard) continue;
      const others = live.filter((o) => o.view.node !== s.view.node);
      if (others.some((o) => o.view.hears.includes(s.view.node))) continue;
      problems.push(
        problem(
          'not-heard',
          s.object,
          `node ${s.view.node} announces ${[...new Set(s.view.announces)].join(', ')}, but no other live speaker (${others.map((o) => o.view.node).join(', ')}) lists it in ${SPEAKER_LEASE_ANNOTATION.hears}: ` +
            `it may be cut off from the LAN, and then its peers may answer for those addresses too; or its speaker stopped without deleting its Lease (renewed ${ago(s.view, now)})`,
        ),
      );
    }
  }

  for (const s of live) {
    for (const u of s.view.unheard ?? []) {
      problems.push(
        problem(
          'heartbeats-unheard',
          s.object,
          u.mode === 'deaf'
            ? `node ${s.view.node} hears no heartbeats on ${u.ifname}, and no other speaker hears any: heartbeats are blocked on that LAN (a switch or bridge dropping broadcast or EtherType 0x88B5?); the speaker Leases decide who answers meanwhile, and a dead node's addresses move only once its Lease runs out`
            : `node ${s.view.node} hears no heartbeats on ${u.ifname} while the other speakers hear each other: its link to them is cut; it takes nothing and yields what they announce`,
        ),
      );
    }
  }

  for (const s of live) {
    for (const ip of new Set(s.view.announces)) {
      if (usersOf.has(ip)) continue;
      problems.push(problem('orphaned-announcement', s.object, `node ${s.view.node} announces ${ip} (its speaker Lease lists it), which no Service barelb handles shows`, ip));
    }
  }

  problems.sort((a, b) => PROBLEM_KINDS.indexOf(a.kind) - PROBLEM_KINDS.indexOf(b.kind) || compare(a.object, b.object) || compare(a.ip ?? '', b.ip ?? ''));
  return {
    nowMs: now,
    configMap: configKey,
    config,
    inForce,
    pools: pools.map((p) => ({ name: p.name, addresses: p.spec.ranges.map((r) => r.text ?? r.toString()), size: p.size, used: p.used, free: p.size - p.used })),
    services,
    problems,
  };
}

/**
 * The speakers' Leases among `leases`, by node, each marked live when renewed within its duration.
 * Judged by this machine's clock against the speaker's renewTime, unlike the speakers (which never
 * compare clocks): an operator's clock off by more than the Lease duration misjudges it.
 */
function speakerLeases(leases: readonly LeaseView[], namespace: string, nowMs: number): SpeakerLease[] {
  return leases
    .flatMap((l): SpeakerLease[] => {
      const view = readSpeakerLease({
        metadata: { name: l.name, annotations: { ...l.annotations } },
        spec: { holderIdentity: l.holder, renewTime: l.renewMs === undefined ? undefined : new Date(l.renewMs), leaseDurationSeconds: l.durationSeconds },
      });
      return view ? [{ object: `${namespace}/${l.name}`, view, live: isLive(view, nowMs) }] : [];
    })
    .sort((a, b) => compare(a.view.node, b.view.node) || compare(a.object, b.object));
}

interface NotAnnouncedFacts {
  readonly users: readonly ServiceView[];
  readonly speakers: readonly SpeakerLease[];
  /** The config is valid and no pool of it holds the address. */
  readonly outsidePools: boolean;
  readonly events: readonly EventView[];
  readonly nowMs: number;
  readonly namespace: string;
}

/** Why no live speaker Lease lists `ip`, as far as the snapshot tells. */
function whyNotAnnounced(ip: string, f: NotAnnouncedFacts): { reason: string | undefined; message: string } {
  const expired = f.speakers
    .filter((s) => !s.live && s.view.announces.includes(ip))
    .map((s) => `; the expired Lease of ${s.view.node} (renewed ${ago(s.view, f.nowMs)}, valid ${s.view.durationSeconds}s) still lists it: is that speaker running?`)
    .join('');
  const live = f.speakers.filter((s) => s.live).map((s) => s.view.node);
  const none = 'no live speaker Lease lists it';
  if (live.length === 0) {
    return { reason: undefined, message: `${none}: there is no live speaker Lease (${SPEAKER_LEASE_PREFIX}<node>) in ${f.namespace}; are the speakers running?${expired}` };
  }
  if (f.outsidePools) return { reason: undefined, message: `${none}: the speakers refuse to announce addresses outside the configured pools${expired}` };
  const refused = latest(
    f.events,
    (e) => e.kind === 'Service' && e.reason === REASON.refused && mentions(e.message, ip) && f.users.some((u) => e.namespace === u.namespace && e.name === u.name && sameUid(e.uid, u.uid)),
  );
  if (refused) {
    return { reason: refused.reason, message: `${none}; the latest refusal (${formatAge(f.nowMs - refused.lastMs)} ago): ${refused.message}${expired}` };
  }
  return {
    reason: undefined,
    message:
      `${none} (live: ${live.join(', ')}): is any of these nodes eligible (announce.nodeSelector, the label node.kubernetes.io/exclude-from-external-load-balancers, ` +
      `a ready endpoint with externalTrafficPolicy: Local) and on a subnet holding it?${expired}`,
  };
}

/** `ip` appears in `text` as a whole address, not as the start of a longer one. */
function mentions(text: string, ip: string): boolean {
  let at = text.indexOf(ip);
  while (at >= 0) {
    if (!/[\d.]/.test(text[at - 1] ?? '') && !/^\.?\d/.test(text.slice(at + ip.length, at + ip.length + 2))) return true;
    at = text.indexOf(ip, at + 1);
  }
  return false;
}

function ago(view: SpeakerLeaseView, nowMs: number): string {
  return view.renewMs === undefined ? 'never' : `${formatAge(nowMs - view.renewMs)} ago`;
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
