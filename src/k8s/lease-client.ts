import { V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import type { LeaseRecord } from '../election/lease-observation.js';
import { isNotFound } from './api-error.js';

/** A Lease as read, with what is needed to write it back compare-and-swap. */
export interface LeaseSnapshot {
  readonly record: LeaseRecord;
  readonly raw: V1Lease;
}

/** Get / create / compare-and-swap update of one Lease. A 409 means someone else wrote first. */
export class LeaseClient {
  constructor(
    private readonly api: CoordinationV1Api,
    readonly namespace: string,
    readonly name: string,
  ) {}

  async get(): Promise<LeaseSnapshot | undefined> {
    try {
      return snapshot(await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace }));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async create(holder: string, durationSeconds: number): Promise<LeaseSnapshot> {
    const now = new V1MicroTime();
    const lease = await this.api.createNamespacedLease({
      namespace: this.namespace,
      body: {
        metadata: { name: this.name, namespace: this.namespace },
        spec: { holderIdentity: holder, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
      },
    });
    return snapshot(lease);
  }

  /**
   * Writes the Lease as `holder` (renewing, taking over, or releasing with
   * holder undefined), compare-and-swap on `prev`'s resourceVersion. `prev`
   * may come from a watch (raw JSON: times are strings), so the body is
   * rebuilt from the fields that matter rather than sent back as read.
   */
  async write(prev: LeaseSnapshot, holder: string | undefined, durationSeconds: number): Promise<LeaseSnapshot> {
    const spec = prev.raw.spec ?? {};
    const now = new V1MicroTime();
    const takeover = holder !== undefined && spec.holderIdentity !== holder;
    const body: V1Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace, resourceVersion: prev.raw.metadata?.resourceVersion },
      spec: {
        holderIdentity: holder,
        leaseDurationSeconds: durationSeconds,
        renewTime: holder === undefined ? undefined : now,
        acquireTime: takeover ? now : microTime(spec.acquireTime),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (takeover ? 1 : 0),
      },
    };
    return snapshot(await this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body }));
  }
}

function microTime(v: unknown): V1MicroTime | undefined {
  if (v instanceof Date) return new V1MicroTime(v.getTime());
  if (typeof v === 'string' && !Number.isNaN(Date.parse(v))) return new V1MicroTime(Date.parse(v));
  return undefined;
}

/** A Lease as read (from a GET, a write's answer or a watch event). */
export function leaseSnapshot(lease: V1Lease): LeaseSnapshot {
  return snapshot(lease);
}

function snapshot(lease: V1Lease): LeaseSnapshot {
  return {
    raw: lease,
    record: {
      holder: lease.spec?.holderIdentity || undefined,
      durationSeconds: lease.spec?.leaseDurationSeconds ?? 15,
      version: lease.metadata?.resourceVersion ?? '',
    },
  };
}
