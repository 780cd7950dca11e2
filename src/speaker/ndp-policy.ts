import type { MacAddress } from '../net/arp-frame.js';
import {
  decodeNdpFrame,
  encodeSolicitedAdvertisement,
  type NdpDropReason,
  type NeighborAdvertisement,
  type NeighborSolicitation,
} from '../net/ndp-frame.js';

/** What to do with one NDP frame received on an interface. */
export type NdpDecision =
  /** A solicitation for a held address: answer it, Solicited set. */
  | { readonly action: 'answer'; readonly packet: NeighborSolicitation }
  /** A DAD probe (from ::) for a held address: someone wants it; tell all nodes it is in use. */
  | { readonly action: 'defend'; readonly packet: NeighborSolicitation }
  /** Someone else claims an address we hold: log, count, and re-assert with an unsolicited advertisement. */
  | { readonly action: 'conflict'; readonly packet: NeighborAdvertisement }
  | { readonly action: 'ignore'; readonly reason: NdpIgnoreReason }
  | { readonly action: 'drop'; readonly reason: NdpDropReason };

/** The decisions that are answered with a frame. */
export type NdpReplyDecision = Extract<NdpDecision, { readonly action: 'answer' | 'defend' }>;

/** not-held: a solicitation for an address we do not hold; advertisement: one that contests nothing we hold. */
export type NdpIgnoreReason = 'not-held' | 'own-frame' | 'advertisement';
export const NDP_IGNORE_REASONS: readonly NdpIgnoreReason[] = ['not-held', 'own-frame', 'advertisement'];

/**
 * Answer only solicitations for addresses this node holds on this interface;
 * an advertisement of a held address for another MAC is a conflict. Our own
 * frames (looped back, or reflected by the switch) are never acted on.
 * Malformed frames are dropped. `held` holds canonical IPv6 strings
 * (IpAddress#toString()).
 */
export function decideNdp(frame: Uint8Array, held: ReadonlySet<string>, localMac: MacAddress): NdpDecision {
  const decoded = decodeNdpFrame(frame);
  if (!decoded.ok) return { action: 'drop', reason: decoded.reason };
  const p = decoded.packet;
  if (p.srcMac.equals(localMac)) return { action: 'ignore', reason: 'own-frame' };
  const isHeld = held.has(p.target.toString());
  if (p.kind === 'solicitation') {
    if (!isHeld) return { action: 'ignore', reason: 'not-held' };
    return p.srcIp.value === 0n ? { action: 'defend', packet: p } : { action: 'answer', packet: p };
  }
  // Without the option, the sender's own MAC is what a listener would learn.
  const claimed = p.targetLinkAddress ?? p.srcMac;
  return isHeld && !claimed.equals(localMac) ? { action: 'conflict', packet: p } : { action: 'ignore', reason: 'advertisement' };
}

/**
 * The frame that answers an `answer` or `defend` decision, sent as is:
 * unicast to the solicitor, or to all nodes for a DAD probe; undefined for
 * every other decision.
 */
export function ndpReply(decision: NdpReplyDecision, localMac: MacAddress): Uint8Array;
export function ndpReply(decision: NdpDecision, localMac: MacAddress): Uint8Array | undefined;
export function ndpReply(decision: NdpDecision, localMac: MacAddress): Uint8Array | undefined {
  if (decision.action !== 'answer' && decision.action !== 'defend') return undefined;
  return encodeSolicitedAdvertisement({ localMac, solicitation: decision.packet });
}
