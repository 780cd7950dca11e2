import type { AnnounceSpec } from '../config/types.js';
import type { NodeFacts } from '../k8s/node-facts.js';
import { ineligibility } from './eligibility.js';

/*
 * A fresh install divides the addresses that already exist: pure, no I/O.
 *
 * A DaemonSet's speakers start seconds apart. The first one ready hears nobody, ranks first for every free
 * address among the nodes it hears, and (no preemption) would keep them all. So after it starts, a
 * speaker takes no free address until it hears the speaker of every Node that could announce (matching
 * announce.nodeSelector, not excluded, not NotReady), or `settleMs` has passed: then each takes its own
 * share by rank. Addresses it holds, and what it keeps, are not held back. Once settled it stays settled.
 */

export interface SettleInput {
  readonly nowMs: number;
  /** When this speaker started deciding. */
  readonly startedAtMs: number;
  readonly settleMs: number;
  readonly self: string;
  readonly nodes: readonly NodeFacts[];
  readonly announce: AnnounceSpec;
  /** Peers heard live on some interface. */
  readonly heard: ReadonlySet<string>;
}

/** The Nodes still to be heard before free addresses are taken; empty: settled. */
export function awaitedSpeakers(input: SettleInput): string[] {
  if (input.nowMs >= input.startedAtMs + input.settleMs) return [];
  return input.nodes
    .filter((n) => n.name !== input.self && n.ready !== false && ineligibility(n, input.announce, []) === undefined && !input.heard.has(n.name))
    .map((n) => n.name);
}
