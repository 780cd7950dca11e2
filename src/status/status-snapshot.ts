import type { CoreV1Event, V1ConfigMap, V1Lease } from '@kubernetes/client-node';
import type { ServiceView } from '../k8s/service-view.js';
import type { ConfigView } from '../config/config-view.js';

/**
 * A Lease in the speakers' Lease namespace, as far as `barelb status` reads it: what readSpeakerLease needs to
 * read a speaker's Lease (`barelb-speaker-<node>`). Times are epoch milliseconds.
 */
export interface LeaseView {
  readonly name: string;
  readonly annotations: Readonly<Record<string, string>>;
  readonly holder: string | undefined;
  readonly renewMs: number | undefined;
  /** 0 when the Lease does not say: then it is never live. */
  readonly durationSeconds: number;
}

/** A core/v1 Event, as far as `barelb status` reads it. */
export interface EventView {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly type: string;
  readonly reason: string;
  readonly message: string;
  /** When it last happened (a repeated Event's lastTimestamp), epoch milliseconds. */
  readonly lastMs: number;
}

/** Everything the report is built from, read once from the cluster. */
export interface StatusSnapshot {
  /** The barelb ConfigMap; undefined when it does not exist. */
  readonly configMap: V1ConfigMap | undefined;
  /** The controller's record of the config it runs on (barelb-config-in-force); undefined when absent or unreadable. */
  readonly configInForce?: V1ConfigMap | undefined;
  /** With --config-format metallb-crds: MetalLB's objects as read, in place of `configMap`. */
  readonly configObjects?: ConfigView | undefined;
  readonly services: readonly ServiceView[];
  /** Leases in the speakers' Lease namespace (any name; the speakers' ones are picked out by name). */
  readonly leases: readonly LeaseView[];
  /** Events on Services and on the ConfigMap. */
  readonly events: readonly EventView[];
  readonly nowMs: number;
}

export function toLeaseView(lease: V1Lease): LeaseView {
  const spec = lease.spec ?? {};
  return {
    name: lease.metadata?.name ?? '',
    annotations: lease.metadata?.annotations ?? {},
    holder: spec.holderIdentity || undefined,
    renewMs: epochMs(spec.renewTime),
    durationSeconds: spec.leaseDurationSeconds ?? 0,
  };
}

export function toEventView(event: CoreV1Event): EventView {
  const o = event.involvedObject;
  return {
    kind: o.kind ?? '',
    namespace: o.namespace ?? event.metadata.namespace ?? '',
    name: o.name ?? '',
    uid: o.uid ?? '',
    type: event.type ?? '',
    reason: event.reason ?? '',
    message: event.message ?? '',
    lastMs: epochMs(event.lastTimestamp) ?? epochMs(event.eventTime) ?? epochMs(event.firstTimestamp) ?? epochMs(event.metadata.creationTimestamp) ?? 0,
  };
}

/** Objects from a list are deserialized (Date); raw JSON has strings. */
function epochMs(v: unknown): number | undefined {
  const ms = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}
