import { BarelbError } from '../errors.js';
import { MacAddress } from './arp-frame.js';
import { ETHERTYPE_VLAN, VLAN_TAG, readEthernetHeader, readU16 } from './ethernet.js';
import { IpAddress } from './ip.js';

/**
 * Ethernet II frames carrying IPv6 Neighbor Discovery (RFC 4861) Neighbor
 * Solicitations and Advertisements, as read from and written to a packet
 * socket. Pure: bytes in, values out.
 *
 * Frames are handled without the FCS, as packet sockets deliver them, and may
 * carry Ethernet padding after the IPv6 payload. A single 802.1Q tag is
 * understood; stacked tags (QinQ) are not NDP to us. Extension headers are
 * not followed: neighbours send NDP without them (RFC 6980 has fragmented NDP
 * dropped), and following them would only widen what a hostile frame can make
 * us parse.
 */

/** NDP can only announce IPv6 addresses; IPv4 needs ARP. */
export class NotIpv6Error extends BarelbError {
  readonly code = 'BARELB_NDP_NOT_IPV6';
  constructor(readonly ip: IpAddress) {
    super(`NDP cannot announce ${ip.toString()}: not an IPv6 address`);
  }
}

export const ETHERTYPE_IPV6 = 0x86dd;
/** What the NDP packet socket binds to: NDP rides in IPv6. */
export const NDP_ETHERTYPE = ETHERTYPE_IPV6;
export const NEXT_HEADER_ICMPV6 = 58;
export const ICMPV6_NEIGHBOR_SOLICITATION = 135;
export const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;
/** RFC 4861 7.1: a router would have decremented it, so anything less came from off-link. */
export const NDP_HOP_LIMIT = 255;

export const UNSPECIFIED = IpAddress.parse('::');
export const ALL_NODES = IpAddress.parse('ff02::1');
export const ALL_NODES_MAC = MacAddress.parse('33:33:00:00:00:01');

/** Why a frame was dropped; stable, usable as a metric label. */
export const NDP_DROP_REASONS = [
  'truncated',
  'not-ipv6',
  'bad-ip-version',
  'extension-header',
  'not-icmpv6',
  'bad-length',
  'not-ndp',
  'bad-hop-limit',
  'bad-code',
  'bad-checksum',
  'multicast-source',
  'multicast-target',
  'bad-option',
  'bad-link-address-option',
  'dad-bad-destination',
  'dad-with-link-address',
  'solicited-multicast',
] as const;
export type NdpDropReason = (typeof NDP_DROP_REASONS)[number];

interface NdpCommon {
  /** Ethernet source of the frame. */
  readonly srcMac: MacAddress;
  /** Ethernet destination of the frame. */
  readonly dstMac: MacAddress;
  /** 802.1Q VLAN id (0-4095) when the frame carried a tag. */
  readonly vlan?: number;
  /** Always IPv6, never multicast. */
  readonly srcIp: IpAddress;
  /** Always IPv6. */
  readonly dstIp: IpAddress;
  /** The address solicited or advertised; always IPv6, never multicast. */
  readonly target: IpAddress;
}

export interface NeighborSolicitation extends NdpCommon {
  readonly kind: 'solicitation';
  /** From the Source Link-Layer Address option; never present when srcIp is :: (a DAD probe). */
  readonly sourceLinkAddress?: MacAddress;
}

export interface NeighborAdvertisement extends NdpCommon {
  readonly kind: 'advertisement';
  readonly router: boolean;
  /** Always false when dstIp is multicast. */
  readonly solicited: boolean;
  readonly override: boolean;
  /** From the Target Link-Layer Address option. */
  readonly targetLinkAddress?: MacAddress;
}

export type NdpPacket = NeighborSolicitation | NeighborAdvertisement;

export type NdpDecodeResult = { readonly ok: true; readonly packet: NdpPacket } | { readonly ok: false; readonly reason: NdpDropReason };

const IPV6_HEADER = 40;
const ICMP_HEADER = 4;
/** Type, code, checksum, reserved or flags, target: RFC 4861 4.3 and 4.4. */
const ND_FIXED = 24;
const OPTION_UNIT = 8;
const OPT_SOURCE_LLA = 1;
const OPT_TARGET_LLA = 2;
const FLAG_ROUTER = 0x80;
const FLAG_SOLICITED = 0x40;
const FLAG_OVERRIDE = 0x20;
/** IANA "IPv6 Extension Header Types": counted apart from upper layers that are simply not ICMPv6. */
const EXTENSION_HEADERS: ReadonlySet<number> = new Set([0, 43, 44, 50, 51, 60, 135, 139, 140, 253, 254]);
const SOLICITED_NODE_PREFIX = 0xff02_0000_0000_0000_0000_0001_ff00_0000n;

/** Decodes an Ethernet frame holding an NDP Neighbor Solicitation or Advertisement. Never throws. */
export function decodeNdpFrame(frame: Uint8Array): NdpDecodeResult {
  const eth = readEthernetHeader(frame);
  if (!eth) return drop('truncated');
  const { ethertype, offset: ip, vlan } = eth;
  if (ethertype !== ETHERTYPE_IPV6) return drop('not-ipv6');
  if (frame.length < ip + IPV6_HEADER) return drop('truncated');
  if ((frame[ip] as number) >> 4 !== 6) return drop('bad-ip-version');
  const nextHeader = frame[ip + 6] as number;
  if (nextHeader !== NEXT_HEADER_ICMPV6) return drop(EXTENSION_HEADERS.has(nextHeader) ? 'extension-header' : 'not-icmpv6');
  const length = readU16(frame, ip + 4);
  const icmp = ip + IPV6_HEADER;
  // The payload length, not the frame, bounds the message: bytes after it are Ethernet padding or trailers.
  if (frame.length < icmp + length) return drop('truncated');
  if (length < ICMP_HEADER) return drop('bad-length');
  const type = frame[icmp] as number;
  if (type !== ICMPV6_NEIGHBOR_SOLICITATION && type !== ICMPV6_NEIGHBOR_ADVERTISEMENT) return drop('not-ndp');
  if (frame[ip + 7] !== NDP_HOP_LIMIT) return drop('bad-hop-limit');
  if (frame[icmp + 1] !== 0) return drop('bad-code');
  if (length < ND_FIXED) return drop('bad-length');
  if (checksumOf(frame, ip + 8, ip + 24, icmp, length) !== 0) return drop('bad-checksum');
  // RFC 4291 2.7: never a source. Answering one would send a unicast frame to a group.
  if (frame[ip + 8] === 0xff) return drop('multicast-source');
  if (frame[icmp + 8] === 0xff) return drop('multicast-target');

  const wanted = type === ICMPV6_NEIGHBOR_SOLICITATION ? OPT_SOURCE_LLA : OPT_TARGET_LLA;
  const end = icmp + length;
  let linkAddress: MacAddress | undefined;
  let badLinkAddress = false;
  for (let o = icmp + ND_FIXED; o < end; ) {
    if (end - o < 2) return drop('bad-option');
    const size = (frame[o + 1] as number) * OPTION_UNIT;
    if (size === 0 || o + size > end) return drop('bad-option');
    if (frame[o] === wanted) {
      // Ethernet addresses fill exactly one unit. The first option counts, as in Linux; later ones are checked, not used.
      if (size !== OPTION_UNIT) badLinkAddress = true;
      else linkAddress ??= MacAddress.read(frame, o + 2);
    }
    o += size;
  }
  // Only once every option is known to fit, so the reason does not depend on their order.
  if (badLinkAddress) return drop('bad-link-address-option');

  const srcIp = ipv6(frame, ip + 8);
  const dstIp = ipv6(frame, ip + 24);
  const common = {
    srcMac: MacAddress.read(frame, 6),
    dstMac: MacAddress.read(frame, 0),
    ...(vlan === undefined ? {} : { vlan }),
    srcIp,
    dstIp,
    target: ipv6(frame, icmp + 8),
  };
  if (type === ICMPV6_NEIGHBOR_SOLICITATION) {
    if (srcIp.value === 0n) {
      // RFC 4861 7.1.1: a DAD probe goes to a solicited-node group and has no address to cache.
      if (!isSolicitedNodeAddress(dstIp)) return drop('dad-bad-destination');
      if (linkAddress) return drop('dad-with-link-address');
    }
    const packet: NeighborSolicitation = { kind: 'solicitation', ...common, ...(linkAddress ? { sourceLinkAddress: linkAddress } : {}) };
    return { ok: true, packet };
  }
  const flags = frame[icmp + 4] as number;
  const solicited = (flags & FLAG_SOLICITED) !== 0;
  if (solicited && frame[ip + 24] === 0xff) return drop('solicited-multicast');
  const packet: NeighborAdvertisement = {
    kind: 'advertisement',
    ...common,
    router: (flags & FLAG_ROUTER) !== 0,
    solicited,
    override: (flags & FLAG_OVERRIDE) !== 0,
    ...(linkAddress ? { targetLinkAddress: linkAddress } : {}),
  };
  return { ok: true, packet };
}

/** ff02::1:ffXX:XXXX, the group a Neighbor Solicitation for `ip` is sent to (RFC 4291 2.7.1). */
export function solicitedNodeAddress(ip: IpAddress): IpAddress {
  requireIpv6(ip);
  return IpAddress.fromValue('IPv6', SOLICITED_NODE_PREFIX | (ip.value & 0xffffffn));
}

export function isSolicitedNodeAddress(ip: IpAddress): boolean {
  return ip.family === 'IPv6' && ip.value >> 24n === SOLICITED_NODE_PREFIX >> 24n;
}

/** 33:33 and the low 32 bits: the Ethernet group of an IPv6 multicast address (RFC 2464 7). */
export function multicastMac(ip: IpAddress): MacAddress {
  requireIpv6(ip);
  const low = ip.value & 0xffffffffn;
  return MacAddress.fromBytes(Uint8Array.from([0x33, 0x33, ...[24n, 16n, 8n, 0n].map((s) => Number((low >> s) & 0xffn))]));
}

export function isMulticastIpv6(ip: IpAddress): boolean {
  return ip.family === 'IPv6' && ip.value >> 120n === 0xffn;
}

/**
 * The ICMPv6 checksum (RFC 4443 2.3) of `message` between the two addresses:
 * the value for the checksum field when that field is zero, or 0 when
 * `message` already carries a correct one.
 */
export function icmpv6Checksum(source: IpAddress, destination: IpAddress, message: Uint8Array): number {
  requireIpv6(source);
  requireIpv6(destination);
  const buf = new Uint8Array(32 + message.length);
  putIpv6(buf, 0, source);
  putIpv6(buf, 16, destination);
  buf.set(message, 32);
  return checksumOf(buf, 0, 16, 32, message.length);
}

export interface NeighborAdvertisementInput {
  /** The MAC of the interface it leaves by: the frame's source and the Target Link-Layer Address. */
  readonly localMac: MacAddress;
  /** The address advertised, also the IPv6 source. IPv6 unicast. */
  readonly target: IpAddress;
  readonly dstMac: MacAddress;
  /** IPv6. */
  readonly dstIp: IpAddress;
  /** Must be false when dstIp is multicast. */
  readonly solicited: boolean;
  readonly override: boolean;
  /** Tag the frame with this VLAN id. */
  readonly vlan?: number;
}

/**
 * "target is at localMac": a Neighbor Advertisement from the target itself,
 * with the Target Link-Layer Address option, Router flag clear. 86 bytes, or
 * 90 tagged (VLAN priority bits written as 0).
 */
export function encodeNeighborAdvertisement(input: NeighborAdvertisementInput): Uint8Array {
  const { localMac, target, dstMac, dstIp, solicited, override, vlan } = input;
  requireIpv6(target);
  requireIpv6(dstIp);
  if (isMulticastIpv6(target)) throw new RangeError(`cannot advertise the multicast address ${target.toString()}`);
  if (solicited && isMulticastIpv6(dstIp)) throw new RangeError(`a solicited advertisement cannot go to the multicast address ${dstIp.toString()}`);
  const flags = (solicited ? FLAG_SOLICITED : 0) | (override ? FLAG_OVERRIDE : 0);
  return frameOf(dstMac, localMac, vlan, target, dstIp, ICMPV6_NEIGHBOR_ADVERTISEMENT, flags, target, OPT_TARGET_LLA, localMac);
}

export interface SolicitedAdvertisementInput {
  readonly localMac: MacAddress;
  /** A decoded solicitation for an address we hold. */
  readonly solicitation: NeighborSolicitation;
}

/**
 * The answer to `solicitation` (RFC 4861 7.2.4), in its VLAN. From a real
 * source: unicast to it, at the MAC of its Source Link-Layer Address option or
 * else the frame's source, Solicited and Override set. A DAD probe (from ::)
 * has no address to answer: to all-nodes, Solicited clear, Override set.
 */
export function encodeSolicitedAdvertisement({ localMac, solicitation: ns }: SolicitedAdvertisementInput): Uint8Array {
  const vlan = ns.vlan === undefined ? {} : { vlan: ns.vlan };
  if (ns.srcIp.value === 0n) {
    return encodeNeighborAdvertisement({ localMac, target: ns.target, dstMac: ALL_NODES_MAC, dstIp: ALL_NODES, solicited: false, override: true, ...vlan });
  }
  const dstMac = ns.sourceLinkAddress ?? ns.srcMac;
  return encodeNeighborAdvertisement({ localMac, target: ns.target, dstMac, dstIp: ns.srcIp, solicited: true, override: true, ...vlan });
}

export interface UnsolicitedAdvertisementInput {
  readonly localMac: MacAddress;
  readonly target: IpAddress;
  readonly vlan?: number;
}

/** Takeover, refresh or re-assertion (RFC 4861 7.2.6): to all-nodes, Solicited clear, Override set. */
export function encodeUnsolicitedAdvertisement({ localMac, target, vlan }: UnsolicitedAdvertisementInput): Uint8Array {
  return encodeNeighborAdvertisement({ localMac, target, dstMac: ALL_NODES_MAC, dstIp: ALL_NODES, solicited: false, override: true, ...(vlan === undefined ? {} : { vlan }) });
}

export interface NeighborSolicitationInput {
  readonly localMac: MacAddress;
  /** IPv6, not multicast; :: for a DAD probe, which then carries no Source Link-Layer Address option. */
  readonly srcIp: IpAddress;
  readonly target: IpAddress;
  /** Default: the target's solicited-node group. Must be one when srcIp is ::. */
  readonly dstIp?: IpAddress;
  /** Default: the Ethernet group of dstIp; required when dstIp is unicast. */
  readonly dstMac?: MacAddress;
  readonly vlan?: number;
}

/** A Neighbor Solicitation; 86 bytes (78 for a DAD probe), 4 more tagged. */
export function encodeNeighborSolicitation(input: NeighborSolicitationInput): Uint8Array {
  const { localMac, srcIp, target, vlan } = input;
  requireIpv6(srcIp);
  requireIpv6(target);
  const dstIp = input.dstIp ?? solicitedNodeAddress(target);
  requireIpv6(dstIp);
  if (isMulticastIpv6(srcIp)) throw new RangeError(`cannot solicit from the multicast address ${srcIp.toString()}`);
  if (isMulticastIpv6(target)) throw new RangeError(`cannot solicit the multicast address ${target.toString()}`);
  const dad = srcIp.value === 0n;
  if (dad && !isSolicitedNodeAddress(dstIp)) throw new RangeError(`a DAD probe goes to a solicited-node group, not ${dstIp.toString()}`);
  let dstMac = input.dstMac;
  if (!dstMac) {
    if (!isMulticastIpv6(dstIp)) throw new RangeError(`a solicitation to the unicast address ${dstIp.toString()} needs its MAC`);
    dstMac = multicastMac(dstIp);
  }
  return frameOf(dstMac, localMac, vlan, srcIp, dstIp, ICMPV6_NEIGHBOR_SOLICITATION, 0, target, dad ? undefined : OPT_SOURCE_LLA, localMac);
}

function frameOf(
  dstMac: MacAddress,
  srcMac: MacAddress,
  vlan: number | undefined,
  srcIp: IpAddress,
  dstIp: IpAddress,
  type: number,
  flags: number,
  target: IpAddress,
  option: number | undefined,
  optionMac: MacAddress,
): Uint8Array {
  if (vlan !== undefined && !(Number.isInteger(vlan) && vlan >= 0 && vlan <= 0x0fff)) {
    throw new RangeError(`${vlan} is not a VLAN id (0-4095)`);
  }
  const tagged = vlan !== undefined;
  const ip = 14 + (tagged ? VLAN_TAG : 0);
  const icmp = ip + IPV6_HEADER;
  const length = ND_FIXED + (option === undefined ? 0 : OPTION_UNIT);
  const buf = new Uint8Array(icmp + length);
  dstMac.writeTo(buf, 0);
  srcMac.writeTo(buf, 6);
  if (tagged) {
    put16(buf, 12, ETHERTYPE_VLAN);
    put16(buf, 14, vlan);
  }
  put16(buf, ip - 2, ETHERTYPE_IPV6);
  buf[ip] = 0x60; // version 6, traffic class and flow label 0
  put16(buf, ip + 4, length);
  buf[ip + 6] = NEXT_HEADER_ICMPV6;
  buf[ip + 7] = NDP_HOP_LIMIT;
  putIpv6(buf, ip + 8, srcIp);
  putIpv6(buf, ip + 24, dstIp);
  buf[icmp] = type;
  buf[icmp + 4] = flags;
  putIpv6(buf, icmp + 8, target);
  if (option !== undefined) {
    buf[icmp + ND_FIXED] = option;
    buf[icmp + ND_FIXED + 1] = 1;
    optionMac.writeTo(buf, icmp + ND_FIXED + 2);
  }
  put16(buf, icmp + 2, checksumOf(buf, ip + 8, ip + 24, icmp, length));
  return buf;
}

/** One's complement of the one's complement sum of the pseudo-header (RFC 8200 8.1) and the message. */
function checksumOf(buf: Uint8Array, src: number, dst: number, message: number, length: number): number {
  let sum = length + NEXT_HEADER_ICMPV6; // the upper-layer length is below 2^16 here: its high word is 0
  for (let i = 0; i < 16; i += 2) sum += readU16(buf, src + i) + readU16(buf, dst + i);
  const even = length & ~1;
  for (let i = 0; i < even; i += 2) sum += readU16(buf, message + i);
  if (length & 1) sum += (buf[message + even] as number) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface BpfInstruction {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

const BPF_LDH_ABS = 0x28;
const BPF_LDB_ABS = 0x30;
const BPF_JEQ_K = 0x15;
const BPF_RET_K = 0x06;
/** Accept the whole frame (the length is a cap; NDP frames are far shorter). */
const BPF_ACCEPT = 0x40000;

/**
 * The classic BPF program a packet socket bound to EtherType 0x86DD attaches
 * with SO_ATTACH_FILTER, as `struct sock_filter` bytes (see encodeBpfProgram):
 * only frames that look like ICMPv6 Neighbor Solicitations or Advertisements,
 * untagged or behind one 802.1Q tag, reach user space; the rest of the IPv6
 * traffic never wakes the event loop. `endianness` is the host's
 * (os.endianness()).
 */
export function ndpFilterProgram(endianness: 'LE' | 'BE' = 'LE'): Buffer {
  const bytes = encodeBpfProgram(ndpFilterInstructions(), endianness);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The instructions of ndpFilterProgram. They look only at EtherType, next
 * header and ICMPv6 type; the decoder still checks everything. With VLAN
 * offload the tag is not in the frame, and the untagged path applies. A load
 * past the end of a short frame rejects it.
 */
export function ndpFilterInstructions(): readonly BpfInstruction[] {
  // Jump targets are written as labels and resolved to offsets from the next instruction at the end.
  type Label = 'next' | 'tagged' | 'accept' | 'reject';
  const code: { code: number; k: number; jt?: Label; jf?: Label }[] = [];
  const labels = new Map<Label, number>();
  const ndpAt = (ip: number): void => {
    code.push({ code: BPF_LDB_ABS, k: ip + 6 }, { code: BPF_JEQ_K, k: NEXT_HEADER_ICMPV6, jt: 'next', jf: 'reject' });
    code.push({ code: BPF_LDB_ABS, k: ip + IPV6_HEADER });
    code.push({ code: BPF_JEQ_K, k: ICMPV6_NEIGHBOR_SOLICITATION, jt: 'accept', jf: 'next' });
    code.push({ code: BPF_JEQ_K, k: ICMPV6_NEIGHBOR_ADVERTISEMENT, jt: 'accept', jf: 'reject' });
  };
  code.push({ code: BPF_LDH_ABS, k: 12 }, { code: BPF_JEQ_K, k: ETHERTYPE_IPV6, jt: 'next', jf: 'tagged' });
  ndpAt(14);
  labels.set('tagged', code.length);
  // A still holds the EtherType at 12.
  code.push({ code: BPF_JEQ_K, k: ETHERTYPE_VLAN, jt: 'next', jf: 'reject' });
  code.push({ code: BPF_LDH_ABS, k: 16 }, { code: BPF_JEQ_K, k: ETHERTYPE_IPV6, jt: 'next', jf: 'reject' });
  ndpAt(14 + VLAN_TAG);
  labels.set('accept', code.length);
  code.push({ code: BPF_RET_K, k: BPF_ACCEPT });
  labels.set('reject', code.length);
  code.push({ code: BPF_RET_K, k: 0 });
  return code.map((ins, pc) => {
    const rel = (l: Label | undefined): number => (l === undefined || l === 'next' ? 0 : (labels.get(l) as number) - pc - 1);
    return { code: ins.code, jt: rel(ins.jt), jf: rel(ins.jf), k: ins.k };
  });
}

/**
 * `struct sock_filter[]` as setsockopt(SO_ATTACH_FILTER) takes it: per
 * instruction u16 code, u8 jt, u8 jf, u32 k, 8 bytes, in the host's byte
 * order (pass os.endianness()).
 */
export function encodeBpfProgram(program: readonly BpfInstruction[], endianness: 'LE' | 'BE' = 'LE'): Uint8Array {
  const buf = new Uint8Array(program.length * 8);
  const view = new DataView(buf.buffer);
  const little = endianness === 'LE';
  program.forEach((ins, i) => {
    view.setUint16(i * 8, ins.code, little);
    view.setUint8(i * 8 + 2, ins.jt);
    view.setUint8(i * 8 + 3, ins.jf);
    view.setUint32(i * 8 + 4, ins.k, little);
  });
  return buf;
}

function requireIpv6(ip: IpAddress): void {
  if (ip.family !== 'IPv6') throw new NotIpv6Error(ip);
}

function drop(reason: NdpDropReason): NdpDecodeResult {
  return { ok: false, reason };
}



function ipv6(buf: Uint8Array, offset: number): IpAddress {
  let v = 0n;
  for (let i = 0; i < 16; i += 4) {
    const word = (((buf[offset + i] as number) << 24) | ((buf[offset + i + 1] as number) << 16) | ((buf[offset + i + 2] as number) << 8) | (buf[offset + i + 3] as number)) >>> 0;
    v = (v << 32n) | BigInt(word);
  }
  return IpAddress.fromValue('IPv6', v);
}

function put16(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = (value >> 8) & 0xff;
  buf[offset + 1] = value & 0xff;
}

function putIpv6(buf: Uint8Array, offset: number, ip: IpAddress): void {
  for (let i = 0; i < 16; i++) buf[offset + i] = Number((ip.value >> BigInt(8 * (15 - i))) & 0xffn);
}
