import type { LivePeer } from './membership.js';
import type { SpeakerLeaseView } from './speaker-lease.js';

/*
 * What an interface's silence means, from the heartbeats heard there and the speaker Leases the API server
 * holds: pure, no I/O.
 *
 * The LAN is the judge of liveness while it carries heartbeats. A switch that drops broadcast or EtherType
 * 0x88B5 frames (some managed switches, Wi-Fi bridges, VLAN or firewall setups) silences every node at
 * once, and then each would be alone on the LAN and announce every VIP. Every speaker's Lease is fresh in
 * the API at that moment, and each says whom its node hears. So a node that hears nobody on an interface
 * while other speakers' Leases are live is not alone:
 * - `deaf`: no live speaker hears anyone either. Heartbeats are blocked: the API judges. The live
 *   speakers of the Leases are the contenders, with what their Leases say they announce; the usual rules
 *   then give one answerer per VIP, slower (Leases are written at most once a second, and a dead node's
 *   Lease runs out after its duration, not a failure timeout).
 * - `cut-off`: other speakers hear each other. This node's own link to them is what is lost: they count
 *   it dead and take its VIPs, so it takes nothing and yields whatever their Leases say they announce, as a
 *   node back from a stall does.
 * - `lan`: it hears peers, or no other speaker is live, or one hears this node (one-way loss, which the
 *   LAN's own rule settles): the LAN decides, as always.
 */

export type LanView =
  | { readonly kind: 'lan' }
  | { readonly kind: 'deaf' | 'cut-off'; readonly peers: readonly LivePeer[] };

/**
 * `segments`: the subnets of the interface (interfaceSegments). Only speakers whose Leases say they speak on
 * one of them count: a node alone on a segment of its own (other speakers on other subnets) is alone there.
 */
export function lanView(self: string, heard: readonly LivePeer[], liveLeases: readonly SpeakerLeaseView[], segments: readonly string[]): LanView {
  if (heard.length > 0) return { kind: 'lan' };
  const mine = new Set(segments);
  const others = liveLeases.filter((l) => l.node !== self && l.segments.some((s) => mine.has(s)));
  if (others.length === 0) return { kind: 'lan' };
  // Someone hears this node: one-way loss, which the LAN's own rule settles (the side that cannot hear keeps).
  if (others.some((l) => l.hears.includes(self))) return { kind: 'lan' };
  const peers = others.map(
    (l): LivePeer => ({ node: l.node, claims: new Set(l.announces), claimsKnown: true, hearsMe: true, apiReachable: true, rejoining: false }),
  );
  return { kind: others.some((l) => l.hears.length > 0) ? 'cut-off' : 'deaf', peers };
}
