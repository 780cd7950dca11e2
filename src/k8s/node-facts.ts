import type { V1Node } from '@kubernetes/client-node';
import { canonicalIp } from '../net/ip.js';

/** What the election reads of a Node: every speaker reads the same from the same object. */
export interface NodeFacts {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Its InternalIP addresses (from the Node's status). */
  readonly internalIps?: readonly string[];
  /** Its Ready condition: false when the Node says it is not ready; undefined when it says nothing. */
  readonly ready?: boolean;
}

export function nodeFactsOf(node: V1Node): NodeFacts {
  return {
    name: node.metadata?.name ?? '',
    labels: node.metadata?.labels ?? {},
    internalIps: (node.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address),
    ...readyOf(node),
  };
}

function readyOf(node: V1Node): { ready?: boolean } {
  const status = node.status?.conditions?.find((c) => c.type === 'Ready')?.status;
  return status === undefined ? {} : { ready: status === 'True' };
}

/** Every address of every Node (any type), canonical: addresses a VIP must never be. */
export function nodeAddresses(nodes: readonly V1Node[]): string[] {
  return nodes.flatMap((n) => (n.status?.addresses ?? []).map((a) => canonicalIp(a.address) ?? a.address));
}
