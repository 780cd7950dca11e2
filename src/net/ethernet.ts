/** Ethernet II framing shared by the frame codecs: the header and at most one 802.1Q tag. Pure. */

export const ETH_HEADER = 14;
export const VLAN_TAG = 4;
export const ETHERTYPE_VLAN = 0x8100;

export interface EthernetHeader {
  /** The EtherType after the tag, if there is one. */
  readonly ethertype: number;
  /** Where the payload starts. */
  readonly offset: number;
  /** The VLAN ID of a single 802.1Q tag; undefined when untagged. */
  readonly vlan: number | undefined;
}

/** Reads the header of a frame as a packet socket delivers it (no FCS); undefined when it is cut short. */
export function readEthernetHeader(frame: Uint8Array): EthernetHeader | undefined {
  if (frame.length < ETH_HEADER) return undefined;
  const outer = readU16(frame, 12);
  if (outer !== ETHERTYPE_VLAN) return { ethertype: outer, offset: ETH_HEADER, vlan: undefined };
  if (frame.length < ETH_HEADER + VLAN_TAG) return undefined;
  return { ethertype: readU16(frame, 16), offset: ETH_HEADER + VLAN_TAG, vlan: readU16(frame, 14) & 0x0fff };
}

/** A big-endian 16-bit field. */
export function readU16(buf: Uint8Array, offset: number): number {
  return ((buf[offset] as number) << 8) | (buf[offset + 1] as number);
}
