/*
 * Which node announces an IP, decided by every speaker alone from what it hears: pure, no I/O.
 *
 * Inputs are the live peers on the IP's interface that are eligible for it, what each of them announces
 * (its claims), and whether each hears this node. The rules, in order:
 * 1. A node that may not announce (ineligible, terminating, rejoining after a stall) does not.
 * 2. A peer that announces the IP and does not hear this node believes this node dead and will never yield
 *    to it: this node yields. (One-way loss settles on the side that cannot hear.)
 * 3. No preemption: if anyone announces the IP already (this node included), the best-ranked of those keeps
 *    it. Two announcers (a healed partition) settle on the better-ranked one. A node back from a stall
 *    (rejoining) counts as an announcer only where nobody else announces, and itself yields every IP another
 *    node announces: whoever took over while it was stalled keeps what it took.
 * 4. Nobody announces it: the best-ranked of the live eligible nodes takes it, and only once this node has
 *    listened long enough (mayTakeNew) and holds every peer's whole current claim set: a claim set still
 *    arriving in chunks may hold the IP, and taking it would make a second announcer that outranks the first.
 *    Silence hands over (VRRP's rule): a better-ranked node may be unable to take the IP for reasons only it
 *    knows (no address in the IP's subnet, the address refused there, no config yet), so the node ranked
 *    k-th (k = 1 for the second) takes a free IP once it has stayed free for handoverAfterMs(k)
 *    (handoverWait: k × (failure timeout + 500 ms)). That outlasts a better-ranked node's listening, its
 *    informer's lag and its next heartbeat, so a node that can take it has, and said so, before the next one
 *    would. If both take it at once anyway, rule 3 settles it on the better-ranked one.
 * Every node computes the same answer from the same view, so once views agree there is one announcer.
 */

/** A live, eligible peer as far as one IP is concerned. */
export interface Contender {
  readonly node: string;
  /** It announces the IP now. */
  readonly announces: boolean;
  /** Its heartbeats list this node among the peers it hears. */
  readonly hearsMe: boolean;
  /** It is back from a stall and has not decided yet what it keeps. */
  readonly rejoining?: boolean;
  /** False while its current claim set is still arriving: `announces` may be out of date. */
  readonly claimsKnown?: boolean;
}

export interface HolderInput {
  readonly self: string;
  /** This node may announce the IP: eligible, interface up, not terminating, not rejoining. */
  readonly selfEligible: boolean;
  /** This node announces the IP now. */
  readonly selfAnnounces: boolean;
  /** This node has listened for a whole failure timeout on the interface since it (re)joined. */
  readonly mayTakeNew: boolean;
  /** This node is back from a stall: it keeps only what no other node announces. */
  readonly rejoining?: boolean;
  /** Live peers on the IP's interface that are eligible for it (this node excluded). */
  readonly contenders: readonly Contender[];
  /** Rank of a node for the IP: higher is better (the rendezvous weight). Ties broken by name. */
  readonly weightOf: (node: string) => bigint;
  /** How long this node has seen the IP free (wanted, announced by nobody it hears). */
  readonly freeForMs?: number;
  /** How long a free IP waits for better-ranked nodes before the one ranked `rank` (1: second) takes it; undefined: only the best-ranked ever takes it. */
  readonly handoverAfterMs?: (rank: number) => number;
}

export type HolderVerdict =
  | { readonly announce: true; readonly why: 'keeps' | 'takes' }
  /** `inMs`: with better-ranked, how much longer the IP must stay free before this node takes it. */
  | { readonly announce: false; readonly why: 'better-ranked'; readonly inMs?: number }
  | { readonly announce: false; readonly why: 'ineligible' | 'not-heard' | 'held-elsewhere' | 'listening' };

export function chooseHolder(input: HolderInput): HolderVerdict {
  if (!input.selfEligible) return { announce: false, why: 'ineligible' };
  const others = input.contenders.filter((c) => c.announces);
  const settled = others.filter((c) => !c.rejoining);
  // A rejoining announcer counts only where no settled node (this one included) announces the IP.
  const announcers = settled.length > 0 || (input.selfAnnounces && !input.rejoining) ? settled : others;
  if (announcers.some((c) => !c.hearsMe)) return { announce: false, why: 'not-heard' };
  if (input.rejoining && settled.length > 0) return { announce: false, why: 'held-elsewhere' };
  if (announcers.length > 0 || input.selfAnnounces) {
    const names = announcers.map((c) => c.node);
    if (input.selfAnnounces) names.push(input.self);
    return best(names, input.weightOf) === input.self ? { announce: true, why: 'keeps' } : { announce: false, why: 'held-elsewhere' };
  }
  const rank = rankOf(input.self, input.contenders.map((c) => c.node), input.weightOf);
  if (rank > 0) {
    const needMs = input.handoverAfterMs?.(rank);
    const freeForMs = input.freeForMs ?? 0;
    if (needMs === undefined) return { announce: false, why: 'better-ranked' };
    if (freeForMs < needMs) return { announce: false, why: 'better-ranked', inMs: needMs - freeForMs };
  }
  if (!input.mayTakeNew || input.contenders.some((c) => c.claimsKnown === false)) return { announce: false, why: 'listening' };
  return { announce: true, why: 'takes' };
}

/** Extra time, beyond a failure timeout, that each better-ranked node is given to take a free IP. */
export const HANDOVER_SLACK_MS = 500;

/** Rule 4's handover wait for the node ranked `rank` (1: second) among the live eligible ones. */
export function handoverWait(failureTimeoutMs: number): (rank: number) => number {
  return (rank) => rank * (failureTimeoutMs + HANDOVER_SLACK_MS);
}

/** The verdict saw the IP free: nobody this node hears announces it, and neither does this node. */
export function seesFree(v: HolderVerdict): boolean {
  return v.why === 'better-ranked' || v.why === 'listening' || v.why === 'takes';
}

/** How many of `others` rank above `self` (0: self is the best-ranked), by the order best() uses. */
function rankOf(self: string, others: readonly string[], weightOf: (node: string) => bigint): number {
  const w = weightOf(self);
  let above = 0;
  for (const n of others) {
    const wn = weightOf(n);
    if (wn > w || (wn === w && n < self)) above++;
  }
  return above;
}

/** The node with the highest weight; equal weights go to the smaller name (code-unit order). */
export function best(nodes: readonly string[], weightOf: (node: string) => bigint): string | undefined {
  let top: string | undefined;
  let topW = 0n;
  for (const n of nodes) {
    const w = weightOf(n);
    if (top === undefined || w > topW || (w === topW && n < top)) {
      top = n;
      topW = w;
    }
  }
  return top;
}
