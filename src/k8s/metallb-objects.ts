import type { CustomObjectsApi, KubernetesListObject } from '@kubernetes/client-node';
import type { ConfigView } from '../config/config-view.js';
import {
  METALLB_API_VERSION, METALLB_GROUP, METALLB_KINDS, METALLB_VERSION, metallbObjectsView, pluralOf, type MetallbKind, type MetallbObject, type MetallbUnavailable,
} from '../config/metallb-objects-view.js';
import { statusCodeOf } from './api-error.js';

/** The watch path of a kind's objects in `namespace`, for ResilientInformer. */
export function metallbWatchPath(namespace: string, plural: string): string {
  return `/apis/${METALLB_GROUP}/${METALLB_VERSION}/namespaces/${encodeURIComponent(namespace)}/${plural}`;
}

/** Lists one kind of MetalLB object in `namespace`; every item says its apiVersion and kind. */
export async function listMetallbObjects(
  api: Pick<CustomObjectsApi, 'listNamespacedCustomObject'>,
  namespace: string,
  kind: MetallbKind,
  limit?: number,
): Promise<KubernetesListObject<MetallbObject>> {
  const plural = pluralOf(kind);
  const list = (await api.listNamespacedCustomObject({ group: METALLB_GROUP, version: METALLB_VERSION, namespace, plural, ...(limit ? { limit } : {}) })) as KubernetesListObject<MetallbObject>;
  return { ...list, items: (list.items ?? []).map((o) => ({ ...o, apiVersion: o.apiVersion ?? METALLB_API_VERSION, kind })) };
}

/** A failed list that says the kind cannot be read at all (not served: 404; forbidden: 403); undefined for anything else. */
export function unavailableOf(err: unknown, kind: MetallbKind): MetallbUnavailable | undefined {
  const code = statusCodeOf(err);
  return code === 404 || code === 403 ? { kind, status: code } : undefined;
}

/**
 * MetalLB's objects in `namespace` as a ConfigView, read once (`barelb status`): a kind the API server does
 * not serve makes the view say so; any other failure is thrown.
 */
export async function readMetallbObjectsView(api: Pick<CustomObjectsApi, 'listNamespacedCustomObject'>, namespace: string): Promise<ConfigView> {
  const objects: MetallbObject[] = [];
  for (const { kind } of METALLB_KINDS) {
    try {
      objects.push(...(await listMetallbObjects(api, namespace, kind)).items);
    } catch (err) {
      if (statusCodeOf(err) === 404) return metallbObjectsView(namespace, [], { kind, status: 404 });
      throw err;
    }
  }
  return metallbObjectsView(namespace, objects);
}
