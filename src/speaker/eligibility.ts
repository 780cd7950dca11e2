import { selectorMatches } from '../config/label-selector.js';
import type { AnnounceSpec } from '../config/types.js';
import type { NodeFacts } from '../k8s/node-facts.js';
import { familyOf } from '../net/ip.js';

/** Nodes with this label never announce (the upstream Kubernetes convention). */
export const EXCLUDE_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';


/** What the IP needs of the node that announces it beyond the config's rules. */
export interface IpNeeds {
  /** `--forward nodeport`: the node forwards to its own InternalIP of this family. */
  readonly nodeAddressFamily?: 'IPv4' | 'IPv6';
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
  | { readonly why: 'no-local-endpoint'; readonly service: string }
  | { readonly why: 'no-node-address'; readonly family: 'IPv4' | 'IPv6' };

/**
 * Whether a node may announce an IP: it matches announce.nodeSelector, lacks
 * the exclude label, and for every `externalTrafficPolicy: Local` Service on
 * the IP has a ready endpoint (traffic to any other node would be dropped);
 * in nodeport mode, it has an InternalIP of the IP's family to forward to.
 * Every speaker computes this for every node from the same objects. Undefined
 * means eligible. Interfaces are checked by the speaker itself.
 */
export function ineligibility(node: NodeFacts, announce: AnnounceSpec, users: readonly IpUser[], needs: IpNeeds = {}): Ineligibility | undefined {
  if (announce.nodeSelector && !selectorMatches(announce.nodeSelector, node.labels)) return { why: 'node-selector' };
  if (Object.hasOwn(node.labels, EXCLUDE_LABEL)) return { why: 'excluded' };
  for (const u of users) {
    if (u.externalTrafficPolicy === 'Local' && !u.readyNodes.has(node.name)) return { why: 'no-local-endpoint', service: u.key };
  }
  const family = needs.nodeAddressFamily;
  if (family && !(node.internalIps ?? []).some((a) => familyOf(a) === family)) return { why: 'no-node-address', family };
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
    case 'no-node-address':
      return `has no ${i.family} InternalIP for --forward nodeport to forward to`;
  }
}
