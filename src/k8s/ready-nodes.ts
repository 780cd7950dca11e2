import type { V1Endpoints } from '@kubernetes/client-node';

/** The parts of a discovery.k8s.io/v1 EndpointSlice read here (client-node's model of it varies by version). */
export interface EndpointSliceLike {
  readonly metadata?: { readonly namespace?: string; readonly labels?: Readonly<Record<string, string>> };
  readonly endpoints?: readonly { readonly nodeName?: string; readonly conditions?: { readonly ready?: boolean } }[];
}

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** Service key -> nodes with a ready endpoint, from Endpoints (every Kubernetes version). */
export function readyNodesFromEndpoints(list: readonly V1Endpoints[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const ep of list) {
    const set = new Set<string>();
    // notReadyAddresses are left out: traffic sent there would be dropped.
    for (const sub of ep.subsets ?? []) for (const a of sub.addresses ?? []) if (a.nodeName) set.add(a.nodeName);
    out.set(`${ep.metadata?.namespace}/${ep.metadata?.name}`, set);
  }
  return out;
}

/**
 * Service key -> nodes with a ready endpoint, from v1 EndpointSlices (a
 * Service may have several). A missing `ready` condition means ready, as the
 * API documents.
 */
export function readyNodesFromSlices(list: readonly EndpointSliceLike[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const slice of list) {
    const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!service) continue;
    const key = `${slice.metadata?.namespace}/${service}`;
    let set = out.get(key);
    if (!set) out.set(key, (set = new Set()));
    for (const e of slice.endpoints ?? []) if (e.nodeName && e.conditions?.ready !== false) set.add(e.nodeName);
  }
  return out;
}
