import { BarelbError } from '../errors.js';
import { ETHERTYPE_VLAN, VLAN_TAG, readEthernetHeader, readU16 } from './ethernet.js';
import { IpAddress } from './ip.js';

/**
 * Ethernet II frames carrying ARP for IPv4 over Ethernet (RFC 826), as read
 * from and written to a packet socket. Pure: bytes in, values out.
 *
 * Frames are handled without the FCS, as packet sockets deliver them.
 * A single 802.1Q tag is understood; stacked tags (QinQ) are not ARP to us.
 */

/** A 48-bit Ethernet address. Immutable. */
export class MacAddress {
  private constructor(private readonly octets: Uint8Array) {}

  static readonly BROADCAST = new MacAddress(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  static readonly ZERO = new MacAddress(new Uint8Array(6));

  /** 'aa:bb:cc:dd:ee:ff' (either case, exactly six two-digit groups). */
  static parse(text: string): MacAddress {
    const trimmed = text.trim();
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(trimmed)) throw new InvalidMacError(text);
    return new MacAddress(new Uint8Array(trimmed.split(':').map((h) => parseInt(h, 16))));
  }

  static tryParse(text: string): MacAddress | undefined {
    try {
      return MacAddress.parse(text);
    } catch {
      return undefined;
    }
  }

  /** The six bytes at `offset` of a frame (copied); the caller checked the length. */
  static read(buf: Uint8Array, offset: number): MacAddress {
    return MacAddress.fromBytes(buf.subarray(offset, offset + 6));
  }

  /** Exactly six bytes; they are copied. */
  static fromBytes(bytes: Uint8Array): MacAddress {
    if (bytes.length !== 6) throw new InvalidMacError(`<${bytes.length} bytes>`);
    return new MacAddress(Uint8Array.from(bytes));
  }

  /** A copy of the six bytes. */
  get bytes(): Uint8Array {
    return Uint8Array.from(this.octets);
  }

  /** Group bit set: broadcast or multicast, never a host's own address. */
  get isMulticast(): boolean {
    return ((this.octets[0] as number) & 1) === 1;
  }

  toString(): string {
    return Array.from(this.octets, (b) => b.toString(16).padStart(2, '0')).join(':');
  }

  equals(other: MacAddress): boolean {
    return this.octets.every((b, i) => b === other.octets[i]);
  }

  /** Writes the six bytes into `buf` at `offset`. */
  writeTo(buf: Uint8Array, offset: number): void {
    buf.set(this.octets, offset);
  }
}

export class InvalidMacError extends BarelbError {
  readonly code = 'BARELB_INVALID_MAC';
  constructor(readonly text: string) {
    super(`"${text}" is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  }
}

/** ARP can only announce IPv4 addresses; IPv6 needs NDP. */
export class NotIpv4Error extends BarelbError {
  readonly code = 'BARELB_ARP_NOT_IPV4';
  constructor(readonly ip: IpAddress) {
    super(`ARP cannot announce ${ip.toString()}: not an IPv4 address`);
  }
}

export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV4 = 0x0800;
export { ETHERTYPE_VLAN };
/** Ethernet minimum frame length without the FCS. */
export const MIN_FRAME_LENGTH = 60;

/** Why a frame was dropped; stable, usable as a metric label. */
export const DROP_REASONS = ['truncated', 'not-arp', 'bad-hardware-type', 'bad-protocol-type', 'bad-lengths', 'bad-opcode'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface ArpPacket {
  readonly ethSource: MacAddress;
  readonly ethDestination: MacAddress;
  /** 802.1Q VLAN id (0-4095) when the frame carried a tag. */
  readonly vlan?: number;
  readonly operation: 'request' | 'reply';
  readonly senderMac: MacAddress;
  /** Always IPv4. */
  readonly senderIp: IpAddress;
  readonly targetMac: MacAddress;
  /** Always IPv4. */
  readonly targetIp: IpAddress;
}

export type DecodeResult = { readonly ok: true; readonly packet: ArpPacket } | { readonly ok: false; readonly reason: DropReason };

const ARP_BODY = 28;
const HTYPE_ETHERNET = 1;
const OP_REQUEST = 1;
const OP_REPLY = 2;

/** Decodes an Ethernet frame holding an IPv4-over-Ethernet ARP packet. Never throws. */
export function decodeArpFrame(frame: Uint8Array): DecodeResult {
  const eth = readEthernetHeader(frame);
  if (!eth) return drop('truncated');
  const { ethertype, offset, vlan } = eth;
  if (ethertype !== ETHERTYPE_ARP) return drop('not-arp');
  if (frame.length < offset + 8) return drop('truncated');
  if (readU16(frame, offset) !== HTYPE_ETHERNET) return drop('bad-hardware-type');
  if (readU16(frame, offset + 2) !== ETHERTYPE_IPV4) return drop('bad-protocol-type');
  if (frame[offset + 4] !== 6 || frame[offset + 5] !== 4) return drop('bad-lengths');
  const op = readU16(frame, offset + 6);
  if (op !== OP_REQUEST && op !== OP_REPLY) return drop('bad-opcode');
  if (frame.length < offset + ARP_BODY) return drop('truncated');
  const packet: ArpPacket = {
    ethDestination: MacAddress.read(frame, 0),
    ethSource: MacAddress.read(frame, 6),
    ...(vlan === undefined ? {} : { vlan }),
    operation: op === OP_REQUEST ? 'request' : 'reply',
    senderMac: MacAddress.read(frame, offset + 8),
    senderIp: ipv4(frame, offset + 14),
    targetMac: MacAddress.read(frame, offset + 18),
    targetIp: ipv4(frame, offset + 24),
  };
  return { ok: true, packet };
}

export type ArpKind = 'request' | 'reply' | 'gratuitous' | 'probe';

/**
 * probe: sender IP 0.0.0.0 (RFC 5227 address probe); gratuitous: sender IP equals
 * target IP, request or reply (announcements, RFC 5227 / RFC 5944 4.6);
 * otherwise the opcode.
 */
export function classifyArp(packet: ArpPacket): ArpKind {
  if (packet.senderIp.value === 0n) return 'probe';
  if (packet.senderIp.equals(packet.targetIp)) return 'gratuitous';
  return packet.operation;
}

export interface ArpReplyInput {
  /** The MAC of the interface the request arrived on. */
  readonly localMac: MacAddress;
  /** The announced address asked for; must be IPv4. */
  readonly vip: IpAddress;
  readonly request: ArpPacket;
}

/**
 * The unicast reply to `request`: "vip is at localMac", sent to the requester.
 * 60 bytes, or 64 when the request was VLAN-tagged (the tag's VLAN id is kept;
 * its priority bits are not, they are written as 0).
 */
export function encodeArpReply({ localMac, vip, request }: ArpReplyInput): Uint8Array {
  requireIpv4(vip);
  return frameOf(request.senderMac, localMac, request.vlan, OP_REPLY, localMac, vip, request.senderMac, request.senderIp);
}

export interface GratuitousArpInput {
  readonly localMac: MacAddress;
  /** Must be IPv4. */
  readonly vip: IpAddress;
  readonly form: 'request' | 'reply';
  /** Tag the frame with this VLAN id (64 bytes then). */
  readonly vlan?: number;
}

/**
 * An unsolicited, broadcast announcement that vip is at localMac.
 * - request form (RFC 5227 ARP Announcement): oper 1, sender (localMac, vip),
 *   target (00:00:00:00:00:00, vip); the target MAC is ignored by receivers.
 * - reply form (RFC 5944 section 4.6, as `arping -A` sends it): oper 2, sender
 *   (localMac, vip), target (localMac, vip): "the Target Hardware Address is
 *   also set to the link-layer address to which this cache entry should be
 *   updated". Some peers only refresh their caches from one of the two forms,
 *   so both are sent.
 */
export function encodeGratuitousArp({ localMac, vip, form, vlan }: GratuitousArpInput): Uint8Array {
  requireIpv4(vip);
  const op = form === 'request' ? OP_REQUEST : OP_REPLY;
  const targetMac = form === 'request' ? MacAddress.ZERO : localMac;
  return frameOf(MacAddress.BROADCAST, localMac, vlan, op, localMac, vip, targetMac, vip);
}

function frameOf(
  ethDestination: MacAddress,
  ethSource: MacAddress,
  vlan: number | undefined,
  op: number,
  senderMac: MacAddress,
  senderIp: IpAddress,
  targetMac: MacAddress,
  targetIp: IpAddress,
): Uint8Array {
  if (vlan !== undefined && !(Number.isInteger(vlan) && vlan >= 0 && vlan <= 0x0fff)) {
    throw new RangeError(`${vlan} is not a VLAN id (0-4095)`);
  }
  const tagged = vlan !== undefined;
  const buf = new Uint8Array(MIN_FRAME_LENGTH + (tagged ? VLAN_TAG : 0));
  ethDestination.writeTo(buf, 0);
  ethSource.writeTo(buf, 6);
  let offset = 12;
  if (tagged) {
    put16(buf, offset, ETHERTYPE_VLAN);
    put16(buf, offset + 2, vlan);
    offset += VLAN_TAG;
  }
  put16(buf, offset, ETHERTYPE_ARP);
  offset += 2;
  put16(buf, offset, HTYPE_ETHERNET);
  put16(buf, offset + 2, ETHERTYPE_IPV4);
  buf[offset + 4] = 6;
  buf[offset + 5] = 4;
  put16(buf, offset + 6, op);
  senderMac.writeTo(buf, offset + 8);
  put32(buf, offset + 14, senderIp);
  targetMac.writeTo(buf, offset + 18);
  put32(buf, offset + 24, targetIp);
  return buf; // the rest stays zero: padding up to the Ethernet minimum
}

function requireIpv4(ip: IpAddress): void {
  if (ip.family !== 'IPv4') throw new NotIpv4Error(ip);
}

function drop(reason: DropReason): DecodeResult {
  return { ok: false, reason };
}



function ipv4(buf: Uint8Array, offset: number): IpAddress {
  let v = 0n;
  for (let i = 0; i < 4; i++) v = (v << 8n) | BigInt(buf[offset + i] as number);
  return IpAddress.fromValue('IPv4', v);
}

function put16(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = (value >> 8) & 0xff;
  buf[offset + 1] = value & 0xff;
}

function put32(buf: Uint8Array, offset: number, ip: IpAddress): void {
  for (let i = 0; i < 4; i++) buf[offset + i] = Number((ip.value >> BigInt(8 * (3 - i))) & 0xffn);
}
