import { classifyArp, decodeArpFrame, type ArpPacket, type DropReason, type MacAddress } from '../net/arp-frame.js';

/** What to do with one frame received on an interface. */
export type ArpDecision =
  | { readonly action: 'answer'; readonly packet: ArpPacket }
  /** Someone else claims an address we hold: log, count, and re-assert with gratuitous ARP. */
  | { readonly action: 'conflict'; readonly packet: ArpPacket }
  | { readonly action: 'ignore'; readonly reason: IgnoreReason }
  | { readonly action: 'drop'; readonly reason: DropReason };

export type IgnoreReason = 'not-held' | 'probe' | 'gratuitous' | 'reply' | 'own-frame';

/**
 * Answer only requests for addresses this node holds on this interface, probes
 * among them: an RFC 5227 probe (sender 0.0.0.0) for a held address is answered
 * as the kernel answers one for its own address, so a host about to take the
 * VIP (a DHCP client's check, a static address being configured) sees it in
 * use. The reply goes to the prober with target 0.0.0.0, as the request said.
 * Gratuitous ARP from others is never answered; another MAC claiming a held
 * address is a conflict. Malformed frames are dropped.
 * `held` holds canonical IPv4 strings.
 */
export function decideArp(frame: Uint8Array, held: ReadonlySet<string>, localMac: MacAddress): ArpDecision {
  const decoded = decodeArpFrame(frame);
  if (!decoded.ok) return { action: 'drop', reason: decoded.reason };
  const p = decoded.packet;
  if (p.senderMac.equals(localMac)) return { action: 'ignore', reason: 'own-frame' };
  const kind = classifyArp(p);
  const claimsHeld = held.has(p.senderIp.toString());
  switch (kind) {
    case 'probe':
      return held.has(p.targetIp.toString()) ? { action: 'answer', packet: p } : { action: 'ignore', reason: 'probe' };
    case 'gratuitous':
      return claimsHeld ? { action: 'conflict', packet: p } : { action: 'ignore', reason: 'gratuitous' };
    case 'reply':
      return claimsHeld ? { action: 'conflict', packet: p } : { action: 'ignore', reason: 'reply' };
    case 'request':
      return held.has(p.targetIp.toString()) ? { action: 'answer', packet: p } : { action: 'ignore', reason: 'not-held' };
  }
}
