import { selectorMatches } from '../config/label-selector.js';
import type { AnnounceSpec } from '../config/types.js';

/** Nodes with this label never announce (the upstream Kubernetes convention). */
export const EXCLUDE_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';

export interface NodeFacts {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** A Service holding the IP, as far as announcing it is concerned. */
export interface IpUser {
  readonly key: string;
  readonly externalTrafficPolicy: string | undefined;
  /** Nodes with a ready endpoint of the Service (only consulted for `Local`). */
  readonly readyNodes: ReadonlySet<string>;
}

export type Ineligibility =
  | { readonly why: 'node-selector' }
  | { readonly why: 'excluded' }
  | { readonly why: 'no-local-endpoint'; readonly service: string };

/**
 * Whether a node may announce an IP: it matches announce.nodeSelector, lacks
 * the exclude label, and for every `externalTrafficPolicy: Local` Service on
 * the IP has a ready endpoint (traffic to any other node would be dropped).
 * Undefined means eligible. Interfaces are checked by the speaker itself.
 */
export function ineligibility(node: NodeFacts, announce: AnnounceSpec, users: readonly IpUser[]): Ineligibility | undefined {
  if (announce.nodeSelector && !selectorMatches(announce.nodeSelector, node.labels)) return { why: 'node-selector' };
  if (Object.hasOwn(node.labels, EXCLUDE_LABEL)) return { why: 'excluded' };
  for (const u of users) {
    if (u.externalTrafficPolicy === 'Local' && !u.readyNodes.has(node.name)) return { why: 'no-local-endpoint', service: u.key };
  }
  return undefined;
}

export function describeIneligibility(i: Ineligibility): string {
  switch (i.why) {
    case 'node-selector':
      return 'does not match announce.nodeSelector';
    case 'excluded':
      return `has the label ${EXCLUDE_LABEL}`;
    case 'no-local-endpoint':
      return `has no ready endpoint of ${i.service} (externalTrafficPolicy: Local)`;
  }
}
