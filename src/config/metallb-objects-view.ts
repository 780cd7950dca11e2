import type { ObjectRef } from '../object-ref.js';
import { InvalidConfigError } from './config-error.js';
import type { LoadedConfig } from './config-loader.js';
import type { Attributed, ConfigView, Located } from './config-view.js';
import { convertMetallbObjects } from './convert/metallb-crds.js';
import { toPoolName } from './convert/pool-name.js';
import { EMPTY_CONFIG } from './types.js';

/*
 * `--config-format metallb-crds`: the config is every IPAddressPool and L2Advertisement (MetalLB 0.13 and
 * later) in --config-namespace, converted as `barelb config convert --from metallb` converts them, on every
 * change. This is the pure half (objects in, ConfigView out); k8s/config-source.ts lists and watches them.
 */

export const METALLB_GROUP = 'metallb.io';
export const METALLB_VERSION = 'v1beta1';
export const METALLB_API_VERSION = `${METALLB_GROUP}/${METALLB_VERSION}`;

/** The kinds read, in the order their objects are listed and reported on. */
export const METALLB_KINDS = [
  { kind: 'IPAddressPool', plural: 'ipaddresspools' },
  { kind: 'L2Advertisement', plural: 'l2advertisements' },
] as const;

export type MetallbKind = (typeof METALLB_KINDS)[number]['kind'];

/** A MetalLB object as the API serves it (only what is read). */
export interface MetallbObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: { [key: string]: string };
  };
  spec?: unknown;
}

/**
 * The objects of a kind cannot be read at all: the API server does not serve the kind (404: MetalLB's CRD is
 * not installed) or refuses barelb (403: RBAC). The config then counts as invalid, never as empty.
 */
export interface MetallbUnavailable {
  readonly kind: MetallbKind;
  readonly status: 404 | 403;
}

/** The message for an unavailable kind: what is wrong and what to do. */
export function describeUnavailable(u: MetallbUnavailable, namespace: string): string {
  const plural = pluralOf(u.kind);
  if (u.status === 404) {
    return (
      `the API server has no ${METALLB_API_VERSION} ${u.kind}: is MetalLB's CRD (${plural}.${METALLB_GROUP}) installed? ` +
      "Keep MetalLB's CRDs installed while barelb reads them, or convert once with 'barelb config convert --from metallb' and run with --config-format barelb"
    );
  }
  return (
    `barelb may not list ${METALLB_API_VERSION} ${plural} in ${namespace} (HTTP 403): grant get, list and watch on ` +
    `ipaddresspools and l2advertisements (${METALLB_GROUP}) in ${namespace} to barelb's service accounts, e.g. with examples/metallb-crds/rbac.yaml`
  );
}

/**
 * MetalLB's objects in `namespace` as barelb's config: converted with convertMetallbObjects, or invalid when a
 * kind is unavailable. No object at all is a valid, empty config, as no ConfigMap is. Events about a problem
 * or warning go on the objects it names (a pool's problems on its IPAddressPool; what concerns every
 * advertisement on each L2Advertisement), the rest on the first IPAddressPool by name; ConfigLoaded goes on
 * every IPAddressPool. Pure.
 */
export function metallbObjectsView(namespace: string, objects: readonly MetallbObject[], unavailable?: MetallbUnavailable): ConfigView {
  // Objects of a kind that cannot be read are unknown: none is reported on.
  const sorted = [...(unavailable ? [] : objects)].sort((a, b) => kindRank(a) - kindRank(b) || compare(a.metadata?.name ?? '', b.metadata?.name ?? ''));
  const name = `MetalLB IPAddressPools and L2Advertisements in ${namespace}`;
  const pools = sorted.filter((o) => o.kind === 'IPAddressPool');
  const ads = sorted.filter((o) => o.kind === 'L2Advertisement');
  const view = {
    name,
    logFields: { metallbObjects: namespace },
    version: sorted.length > 0 ? sorted.map((o) => `${o.kind}/${o.metadata?.name ?? ''}@${o.metadata?.resourceVersion ?? ''}`).join(',') : undefined,
    targets: pools.flatMap((o) => targetOf(o) ?? []),
    attribute: <T extends Located>(items: readonly T[]): readonly Attributed<T>[] => attribute(items, sorted, pools, ads),
  };
  if (unavailable) {
    const message = describeUnavailable(unavailable, namespace);
    const error = new InvalidConfigError([{ path: `${pluralOf(unavailable.kind)}.${METALLB_GROUP}`, pool: undefined, value: undefined, message }]);
    return { ...view, loaded: { ok: false, error, source: `unavailable:${unavailable.kind}:${unavailable.status}` }, absent: message };
  }
  // What the conversion reads, in a stable order: a change of anything else (status, managedFields) reloads nothing.
  const source = JSON.stringify(sorted.map((o) => [o.kind, o.metadata?.name, o.metadata?.labels ?? {}, o.spec ?? null]));
  if (sorted.length === 0) {
    const absent = `no IPAddressPool or L2Advertisement in ${namespace}: no pools (--config-namespace names the namespace MetalLB's objects are in, usually metallb-system)`;
    return { ...view, loaded: { ok: true, config: EMPTY_CONFIG, source, warnings: [] }, absent };
  }
  let loaded: LoadedConfig;
  try {
    const converted = convertMetallbObjects(sorted);
    loaded = { ok: true, config: converted.config, source, warnings: converted.warnings };
  } catch (err) {
    if (!(err instanceof InvalidConfigError)) throw err;
    loaded = { ok: false, error: err, source };
  }
  return { ...view, loaded, absent: undefined };
}

function attribute<T extends Located>(items: readonly T[], objects: readonly MetallbObject[], pools: readonly MetallbObject[], ads: readonly MetallbObject[]): Attributed<T>[] {
  const fallback = pools[0] ?? objects[0];
  const byObject = new Map<MetallbObject, T[]>();
  for (const item of items) {
    let concerned = objects.filter((o) => names(o, item));
    if (concerned.length === 0 && (item.path === 'L2Advertisement' || item.path.startsWith('L2Advertisement:'))) concerned = [...ads];
    if (concerned.length === 0 && fallback) concerned = [fallback];
    for (const o of concerned) byObject.set(o, [...(byObject.get(o) ?? []), item]);
  }
  // In object order (pools first, by name), each with its items in their order.
  return objects.flatMap((o) => {
    const list = byObject.get(o);
    const target = targetOf(o);
    return list && target ? [{ target, items: list }] : [];
  });
}

/** Whether a problem or warning names `o`: by its path (`IPAddressPool ns/name: ...`, as the converter writes it) or its pool. */
function names(o: MetallbObject, item: Located): boolean {
  const name = o.metadata?.name ?? '';
  const pool = o.kind === 'IPAddressPool' ? toPoolName(name) : undefined;
  const heads = [`${o.kind} ${o.metadata?.namespace ?? ''}/${name}`, `${o.kind} ${name}`, ...(pool ? [`${o.kind} ${pool}`] : [])];
  if (heads.some((h) => item.path === h || item.path.startsWith(`${h}:`))) return true;
  return pool !== undefined && item.pool === pool;
}

function targetOf(o: MetallbObject): ObjectRef | undefined {
  const m = o.metadata;
  if (!m?.uid || !m.name || !m.namespace || !o.kind) return undefined;
  return { apiVersion: o.apiVersion ?? METALLB_API_VERSION, kind: o.kind, namespace: m.namespace, name: m.name, uid: m.uid };
}

/** The resource name of a kind, as in its CRD's name (`ipaddresspools`.metallb.io) and in API paths. */
export function pluralOf(kind: MetallbKind): string {
  return METALLB_KINDS.find((k) => k.kind === kind)?.plural ?? kind.toLowerCase();
}

function kindRank(o: MetallbObject): number {
  const i = METALLB_KINDS.findIndex((k) => k.kind === o.kind);
  return i < 0 ? METALLB_KINDS.length : i;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
