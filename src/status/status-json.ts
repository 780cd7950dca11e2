import type { ProblemKind, StatusReport } from './status-report.js';

/**
 * `barelb status -o json`: a stable, documented shape (README). Every key is
 * always present (null when it does not apply). Pool sizes are decimal
 * strings, since an IPv6 pool outgrows a JSON number.
 */
export interface StatusJson {
  readonly generatedAt: string;
  readonly config: {
    readonly configMap: string;
    readonly state: 'valid' | 'invalid' | 'missing';
    /** The version the controller last accepted (its record); null when it recorded none. */
    readonly inForce: { readonly record: string; readonly source: string; readonly sourceVersion: string | null; readonly acceptedAt: string; readonly current: boolean } | null;
  };
  readonly pools: readonly { readonly name: string; readonly addresses: readonly string[]; readonly size: string; readonly used: string; readonly free: string }[];
  readonly services: readonly {
    readonly namespace: string;
    readonly name: string;
    readonly pending: boolean;
    readonly addresses: readonly {
      readonly ip: string;
      readonly pool: string | null;
      /** The node whose live speaker Lease lists it; several comma-separated (a multiple-announcers problem); null when none. */
      readonly announcedBy: string | null;
    }[];
  }[];
  readonly problems: readonly { readonly kind: ProblemKind; readonly object: string; readonly ip: string | null; readonly reason: string | null; readonly message: string }[];
}

export function statusJson(r: StatusReport): StatusJson {
  return {
    generatedAt: new Date(r.nowMs).toISOString(),
    config: {
      configMap: r.configMap,
      state: r.config,
      inForce: r.inForce
        ? { record: r.inForce.object, source: r.inForce.source, sourceVersion: r.inForce.sourceVersion ?? null, acceptedAt: new Date(r.inForce.acceptedMs).toISOString(), current: r.inForce.current }
        : null,
    },
    pools: r.pools.map((p) => ({ name: p.name, addresses: p.addresses, size: p.size.toString(), used: p.used.toString(), free: p.free.toString() })),
    services: r.services.map((s) => ({
      namespace: s.namespace,
      name: s.name,
      pending: s.addresses.length === 0,
      addresses: s.addresses.map((a) => ({ ip: a.ip, pool: a.pool ?? null, announcedBy: a.announcedBy.length > 0 ? a.announcedBy.join(',') : null })),
    })),
    problems: r.problems.map((p) => ({ kind: p.kind, object: p.object, ip: p.ip ?? null, reason: p.reason ?? null, message: p.message })),
  };
}
