import type { V1Node } from '@kubernetes/client-node';
import { canonicalIp } from '../net/ip.js';

/** What the election reads of a Node: every speaker reads the same from the same object. */
export interface NodeFacts {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Its InternalIP addresses (from the Node's status). */
  readonly internalIps?: readonly string[];
}

export function nodeFactsOf(node: V1Node): NodeFacts {
  return {
    name: node.metadata?.name ?? '',
    labels: node.metadata?.labels ?? {},
    internalIps: (node.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address),
  };
}

/** Every address of every Node (any type), canonical: addresses a VIP must never be. */
export function nodeAddresses(nodes: readonly V1Node[]): string[] {
  return nodes.flatMap((n) => (n.status?.addresses ?? []).map((a) => canonicalIp(a.address) ?? a.address));
}
