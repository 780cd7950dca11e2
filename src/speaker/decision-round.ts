import type { AnnounceSpec } from '../config/types.js';
import { chooseHolder, seesFree, type Contender } from '../election/holder-choice.js';
import type { LivePeer } from '../election/membership.js';
import type { NodeFacts } from '../k8s/node-facts.js';
import type { IpFamily } from '../net/ip.js';
import { ineligibility, type IpNeeds, type IpUser } from './eligibility.js';

/*
 * One decision round of a speaker: for every address it tracks, whether this node announces it, from
 * what the round's inputs say of this node and its live peers. Pure: the speaker gathers the inputs
 * (opening the interfaces the addresses need first), then carries out the actions.
 */

/** One tracked address, as the round sees it. */
export interface RoundIp {
  readonly ip: string;
  readonly family: IpFamily;
  /** The Services holding it; none: it is no longer wanted. */
  readonly users: readonly IpUser[];
  /** The interface whose subnet holds it here; undefined: no L2 segment of this node carries it. */
  readonly ifname: string | undefined;
  /** This node announces it now. */
  readonly announced: boolean;
  /** Since when this node has seen it free (announced by nobody it hears); undefined: it was not free last round. */
  readonly freeSinceMs: number | undefined;
  /** Rank of a node for this address (rendezvous weight). */
  weightOf(node: string): bigint;
}

/** An interface some tracked address needs. */
export interface RoundInterface {
  /** Open and carrying traffic. */
  readonly up: boolean;
  /** Since when this node has listened there; undefined: not open. */
  readonly listeningSince: number | undefined;
  /** The live peers heard there; where it hears nobody but speaker Leases are live, the Leases' speakers (lanView). */
  readonly peers: readonly LivePeer[];
  /**
   * lanView's verdict where this node hears nobody: `deaf` (nobody hears anyone: the API judges, `peers`
   * come from Leases, handovers wait for Lease writes), `cut-off` (the others hear each other: this node
   * takes nothing and yields what their Leases say they announce). Undefined: the LAN decides.
   */
  readonly fallback?: 'deaf' | 'cut-off';
}

export interface RoundInput {
  readonly self: string;
  readonly now: number;
  /** How long a node listens on an interface before it takes anything there: failure timeout + interval. */
  readonly listenForMs: number;
  /** How long a free address waits for better-ranked nodes before the one ranked `rank` (1: second) takes it. */
  readonly handoverAfterMs: (rank: number) => number;
  /** The same where the API judges (a deaf interface): claims come from Leases, written at most once a second. */
  readonly apiHandoverAfterMs: (rank: number) => number;
  readonly ips: readonly RoundIp[];
  readonly nodes: readonly NodeFacts[];
  readonly announce: AnnounceSpec;
  /** `--forward nodeport`: a node needs an InternalIP of the address's family, and its rewrite before it answers. */
  readonly nodeport: boolean;
  /** Keyed by interface name: every interface named by `ips`. */
  readonly interfaces: ReadonlyMap<string, RoundInterface>;
  /** Addresses the address guard refuses here. */
  readonly refused: { has(ip: string): boolean };
  /** This node cannot serve (its nodeport rules failed): it takes and keeps nothing. */
  readonly unfit: boolean;
  /** Back from a stall: it keeps only what no other node announces. */
  readonly rejoining: boolean;
  /** Just started, still waiting to hear the other speakers (awaitedSpeakers): takes no free address yet. */
  readonly settling?: boolean;
  /** nodeport mode: addresses whose rewrite is in place. */
  readonly forwarded: ReadonlySet<string>;
}

export type IpAction =
  /** No Service holds it any more: stop announcing it and stop tracking it. */
  | { readonly kind: 'forget'; readonly ip: string }
  | { readonly kind: 'withdraw'; readonly ip: string }
  /** Announce it on `ifname` (a no-op where it already is). */
  | { readonly kind: 'announce'; readonly ip: string; readonly ifname: string; readonly why: 'keeps' | 'takes' }
  /** nodeport mode: to be announced once its rewrite is in place. */
  | { readonly kind: 'await-forward'; readonly ip: string };

export interface RoundResult {
  readonly actions: IpAction[];
  /** The addresses this round saw free: nobody this node hears announces them, and neither does this node. */
  readonly free: ReadonlySet<string>;
  /**
   * Decide again then (Infinity: no need): the next time a listening interface finishes listening, or a
   * free address has waited long enough for the better-ranked nodes to hand it over here.
   */
  readonly decideAgainAtMs: number;
}

export function decideRound(input: RoundInput): RoundResult {
  const actions: IpAction[] = [];
  const free = new Set<string>();
  let decideAgainAtMs = Infinity;
  for (const ip of input.ips) {
    if (ip.users.length === 0) {
      actions.push({ kind: 'forget', ip: ip.ip });
      continue;
    }
    const needs: IpNeeds = input.nodeport ? { nodeAddressFamily: ip.family } : {};
    const eligible = new Set(input.nodes.filter((n) => ineligibility(n, input.announce, ip.users, needs) === undefined).map((n) => n.name));
    const iface = ip.ifname === undefined ? undefined : input.interfaces.get(ip.ifname);
    let mayTakeNew = false;
    let contenders: Contender[] = [];
    if (iface) {
      const since = iface.listeningSince ?? input.now;
      const listened = input.now - since >= input.listenForMs;
      if (!listened) decideAgainAtMs = Math.min(decideAgainAtMs, since + input.listenForMs);
      mayTakeNew = listened && iface.fallback !== 'cut-off' && input.settling !== true;
      contenders = iface.peers
        .filter((p) => eligible.has(p.node))
        .map((p) => ({ node: p.node, announces: p.claims.has(ip.ip), hearsMe: p.hearsMe, rejoining: p.rejoining, claimsKnown: p.claimsKnown }));
    }
    const freeSinceMs = ip.freeSinceMs ?? input.now;
    const verdict = chooseHolder({
      self: input.self,
      selfEligible: iface !== undefined && iface.up && eligible.has(input.self) && !input.refused.has(ip.ip) && !input.unfit,
      selfAnnounces: ip.announced,
      mayTakeNew,
      rejoining: input.rejoining || iface?.fallback === 'cut-off',
      contenders,
      weightOf: (node) => ip.weightOf(node),
      freeForMs: input.now - freeSinceMs,
      handoverAfterMs: iface?.fallback === 'deaf' ? input.apiHandoverAfterMs : input.handoverAfterMs,
    });
    // While every node may still be settling, silence says nothing of the better-ranked: no clock runs.
    if (seesFree(verdict) && input.settling !== true) free.add(ip.ip);
    if (verdict.why === 'better-ranked' && verdict.inMs !== undefined) decideAgainAtMs = Math.min(decideAgainAtMs, input.now + verdict.inMs);
    if (!verdict.announce) actions.push({ kind: 'withdraw', ip: ip.ip });
    // nodeport mode: the rewrite must be in place before the first ARP answer draws traffic here.
    else if (input.nodeport && !ip.announced && !input.forwarded.has(ip.ip)) actions.push({ kind: 'await-forward', ip: ip.ip });
    else if (ip.ifname !== undefined) actions.push({ kind: 'announce', ip: ip.ip, ifname: ip.ifname, why: verdict.why });
  }
  return { actions, free, decideAgainAtMs };
}
