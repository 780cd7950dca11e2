import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { BarelbError } from '../errors.js';
import { MacAddress } from '../net/arp-frame.js';
import { ETH_HEADER, readEthernetHeader, readU16 } from '../net/ethernet.js';
import { IpAddress } from '../net/ip.js';

/**
 * The speakers' LAN heartbeat frames: Ethernet II broadcasts every speaker
 * sends on each interface, from which peers judge liveness and learn which
 * VIPs a node announces. Pure: bytes in, values out; the HMAC and hashes come
 * from node:crypto, nothing else is touched.
 *
 * Payload after the Ethernet header (one 802.1Q tag understood on decode), all
 * big-endian:
 *
 *   "BL" | version u8 | flags u8 (1 leaving, 2 API reachable, 4 rejoining, 8 unfit) | key fingerprint 8 | incarnation u64 | seq u32
 *   | claimsDigest 8 | claimsTotal u32 | chunkIndex u16 | chunkCount u16
 *   | name length u8 | name (UTF-8) | hears count u16 | u32 each
 *   | claims count u16 | per claim: family byte 4 or 6, then 4 or 16 address bytes
 *   | HMAC-SHA256(secret, "BL" .. last claim byte), first 16 bytes
 *
 * The MAC is the last 16 bytes of the frame. The smallest heartbeat frame is
 * 76 bytes (80 tagged), above the 60-byte Ethernet minimum, so no sender or
 * switch ever pads one: locating the MAC at the end is the same as locating
 * it after the parsed fields for every frame an encoder can make, and it lets
 * the decoder verify the MAC before it reads a single length field. Anything
 * between the last claim and the MAC is malformed.
 *
 * Replay protection (incarnation, seq) is the membership's job, not the
 * codec's; and the Ethernet header (source MAC, VLAN tag) is not
 * authenticated: a LAN device can resend a genuine frame from any address.
 */

export const HEARTBEAT_ETHERTYPE = 0x88b5; // IEEE local experimental
export const HEARTBEAT_VERSION = 1;
/** Frames never exceed this many bytes (Ethernet header + payload, no FCS): a 1500-byte MTU. */
export const HEARTBEAT_MAX_FRAME = 1514;

/**
 * The largest heartbeat frame for an interface of this MTU: smaller links (VXLAN or overlay-backed bridges
 * at 1450, a 1400 test link) get smaller frames, larger ones (jumbo frames) still 1514 bytes, since a
 * peer on the same segment may have kept the default.
 */
export function heartbeatFrameLimit(mtu: number): number {
  return Number.isInteger(mtu) && mtu > 0 ? ETH_HEADER + Math.min(mtu, HEARTBEAT_MAX_FRAME - ETH_HEADER) : HEARTBEAT_MAX_FRAME;
}

const MIN_FRAME_LENGTH = 60;
const MAGIC_0 = 0x42; // 'B'
const MAGIC_1 = 0x4c; // 'L'
const FINGERPRINT_BYTES = 8;
const DIGEST_BYTES = 8;
const MAC_BYTES = 16;
/** Magic through chunkCount. */
const FIXED_HEADER = 2 + 1 + 1 + FINGERPRINT_BYTES + 8 + 4 + DIGEST_BYTES + 4 + 2 + 2;
const FINGERPRINT_AT = 4;
/** The smallest payload: a one-byte name, no hears, no claims. */
const MIN_PAYLOAD = FIXED_HEADER + 1 + 1 + 2 + 2 + MAC_BYTES;
const MAX_NAME_BYTES = 253;
const MAX_U16 = 0xffff;
const MAX_U32 = 0xffffffff;
const FLAG_LEAVING = 1;
const FLAG_API_REACHABLE = 2;
const FLAG_REJOINING = 4;
const FLAG_UNFIT = 8;
const FLAGS_KNOWN = FLAG_LEAVING | FLAG_API_REACHABLE | FLAG_REJOINING | FLAG_UNFIT;
const FAMILY_V4 = 4;
const FAMILY_V6 = 6;
const CLAIM_V4_BYTES = 1 + 4;
const CLAIM_V6_BYTES = 1 + 16;
const KEY_ID_PREFIX = 'barelb heartbeat key\u0000';
const MIN_SECRET_BYTES = 16;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** C0, DEL and C1 controls. */
const CONTROL = /\p{Cc}/u;
const DIGEST_TEXT = /^[0-9a-f]{16}$/;
const EMPTY = new Uint8Array(0);

/** A key's secret and fingerprint, out of reach of util.inspect, JSON.stringify and callers. */
interface KeyMaterial {
  readonly secret: Uint8Array;
  readonly fingerprint: Uint8Array;
}
const material = new WeakMap<HeartbeatKey, KeyMaterial>();

/** A heartbeat key: the secret and its public 8-byte fingerprint, which doubles as the cluster identity. */
export class HeartbeatKey {
  /** The fingerprint as 16 lowercase hex chars: first 8 bytes of SHA-256("barelb heartbeat key\0" || secret). */
  readonly id: string;

  private constructor(secret: Uint8Array) {
    const copy = Uint8Array.from(secret);
    const fingerprint = createHash('sha256').update(KEY_ID_PREFIX).update(copy).digest().subarray(0, FINGERPRINT_BYTES);
    material.set(this, { secret: copy, fingerprint });
    this.id = hex(fingerprint);
  }

  /** At least 16 bytes; they are copied. */
  static fromSecret(secret: Uint8Array): HeartbeatKey {
    if (!(secret instanceof Uint8Array) || secret.length < MIN_SECRET_BYTES) {
      throw new InvalidHeartbeatKeyError(secret instanceof Uint8Array ? secret.length : undefined);
    }
    return new HeartbeatKey(secret);
  }

  toString(): string {
    return `HeartbeatKey(${this.id})`;
  }
}

export class InvalidHeartbeatKeyError extends BarelbError {
  readonly code = 'BARELB_INVALID_HEARTBEAT_KEY';
  constructor(readonly length: number | undefined) {
    super(
      length === undefined
        ? 'a heartbeat key secret must be bytes'
        : `a heartbeat key secret must be at least ${MIN_SECRET_BYTES} bytes, got ${length}`,
    );
  }
}

export class HeartbeatEncodeError extends BarelbError {
  readonly code = 'BARELB_HEARTBEAT_ENCODE';
  constructor(message: string) {
    super(`cannot encode heartbeat: ${message}`);
  }
}

export interface HeartbeatFlags {
  readonly leaving: boolean;
  readonly apiReachable: boolean;
  readonly rejoining: boolean;
  /** Alive but unable to serve any address now (e.g. its nodeport rules could not be installed): left out of every choice. */
  readonly unfit?: boolean;
}

export interface Heartbeat {
  /** node name, UTF-8, 1..253 bytes, no control characters */
  readonly node: string;
  /** integer 0..2^53-1 (a start time in ms) */
  readonly incarnation: number;
  /** u32 */
  readonly seq: number;
  readonly flags: HeartbeatFlags;
  /** 16 lowercase hex chars: digest of the node's whole sorted claim list (claimsDigest()) */
  readonly claimsDigest: string;
  /** u32: how many IPs the whole list has */
  readonly claimsTotal: number;
  /** u16, 0-based */
  readonly chunkIndex: number;
  /** u16, >= 1 */
  readonly chunkCount: number;
  /** canonical IP strings (v4 or v6) in this chunk */
  readonly claims: readonly string[];
  /** u32 nodeId()s of the peers this node hears on this interface */
  readonly hears: readonly number[];
}

/** Why a frame was dropped; stable, usable as a metric label. */
export const HEARTBEAT_DROP_REASONS = [
  'short',
  'not-heartbeat',
  'version',
  'other-cluster',
  'unauthenticated',
  'malformed',
  'own-mac-multicast',
] as const;
export type HeartbeatDropReason = (typeof HEARTBEAT_DROP_REASONS)[number];

export type DecodedHeartbeat =
  | { readonly ok: true; readonly heartbeat: Heartbeat; readonly srcMac: MacAddress; readonly keyId: string }
  | { readonly ok: false; readonly reason: HeartbeatDropReason };

/** u32 FNV-1a of the UTF-8 node name: how heartbeats name peers compactly. */
export function nodeId(node: string): number {
  let h = 0x811c9dc5;
  for (const byte of utf8.encode(node)) h = Math.imul(h ^ byte, 0x01000193);
  return h >>> 0;
}

/**
 * 16 hex chars: first 8 bytes of SHA-256 over the canonical IPs sorted (code
 * unit order) and joined by "\n". Same set => same digest regardless of input
 * order, spelling or duplicates. Throws InvalidIpError on a non-address.
 */
export function claimsDigest(ips: readonly string[]): string {
  return hex(createHash('sha256').update(canonicalSorted(ips).join('\n')).digest().subarray(0, DIGEST_BYTES));
}

/**
 * Splits a node's claims (any order; canonicalized, sorted, deduplicated first) into chunks that each fit one frame
 * of at most `maxFrame` bytes next to a header for `node` and `hearsCount` peers. Always at least one chunk (possibly empty). The chunks,
 * concatenated, are the sorted list claimsDigest() hashes. Throws HeartbeatEncodeError when the name is invalid or
 * the header leaves no room for a claim, InvalidIpError on a non-address.
 */
export function claimChunks(ips: readonly string[], node: string, hearsCount: number, maxFrame = HEARTBEAT_MAX_FRAME): string[][] {
  const nameBytes = checkNode(node);
  if (!Number.isInteger(hearsCount) || hearsCount < 0 || hearsCount > MAX_U16) {
    throw new HeartbeatEncodeError(`hears count ${hearsCount} is not 0..${MAX_U16}`);
  }
  const sorted = canonicalSorted(ips);
  const room = Math.min(maxFrame, HEARTBEAT_MAX_FRAME) - ETH_HEADER - (MIN_PAYLOAD - 1) - nameBytes.length - 4 * hearsCount;
  if (room < CLAIM_V6_BYTES) {
    throw new HeartbeatEncodeError(`a header for ${JSON.stringify(node)} and ${hearsCount} peers leaves no room for claims in a ${maxFrame}-byte frame`);
  }
  const chunks: string[][] = [[]];
  let used = 0;
  for (const ip of sorted) {
    const size = ip.includes(':') ? CLAIM_V6_BYTES : CLAIM_V4_BYTES;
    if (used + size > room) {
      chunks.push([]);
      used = 0;
    }
    (chunks[chunks.length - 1] as string[]).push(ip);
    used += size;
  }
  return chunks;
}

/**
 * A whole Ethernet frame: dst ff:ff:ff:ff:ff:ff, src = srcMac, type 0x88B5, payload, HMAC; padded to 60 bytes
 * (heartbeats are always longer). Throws HeartbeatEncodeError (code BARELB_HEARTBEAT_ENCODE) when the fields are
 * out of range or it would exceed `maxFrame` (at most HEARTBEAT_MAX_FRAME). Claims may be any spelling of an address; they travel as bytes
 * and decode canonical.
 */
export function encodeHeartbeat(hb: Heartbeat, srcMac: MacAddress, key: HeartbeatKey, maxFrame = HEARTBEAT_MAX_FRAME): Uint8Array {
  const name = checkNode(hb.node);
  if (!Number.isSafeInteger(hb.incarnation) || hb.incarnation < 0) {
    throw new HeartbeatEncodeError(`incarnation ${hb.incarnation} is not an integer 0..2^53-1`);
  }
  checkRange('seq', hb.seq, 0, MAX_U32);
  checkRange('claimsTotal', hb.claimsTotal, 0, MAX_U32);
  checkRange('chunkCount', hb.chunkCount, 1, MAX_U16);
  checkRange('chunkIndex', hb.chunkIndex, 0, hb.chunkCount - 1);
  if (!DIGEST_TEXT.test(hb.claimsDigest)) {
    throw new HeartbeatEncodeError(`claimsDigest ${JSON.stringify(hb.claimsDigest)} is not 16 lowercase hex chars`);
  }
  if (hb.claims.length > hb.claimsTotal) {
    throw new HeartbeatEncodeError(`${hb.claims.length} claims in a chunk of a list of ${hb.claimsTotal}`);
  }
  if (hb.hears.length > MAX_U16) throw new HeartbeatEncodeError(`${hb.hears.length} hears is more than ${MAX_U16}`);
  for (const id of hb.hears) checkRange('a hears entry', id, 0, MAX_U32);
  const claims = hb.claims.map((text) => {
    const ip = IpAddress.tryParse(text);
    if (ip === undefined) throw new HeartbeatEncodeError(`claim ${JSON.stringify(text)} is not an IP address`);
    return ip;
  });
  const claimBytes = claims.reduce((n, ip) => n + (ip.family === 'IPv4' ? CLAIM_V4_BYTES : CLAIM_V6_BYTES), 0);
  const length = ETH_HEADER + MIN_PAYLOAD - 1 + name.length + 4 * hb.hears.length + claimBytes;
  const limit = Math.min(maxFrame, HEARTBEAT_MAX_FRAME);
  if (length > limit) {
    throw new HeartbeatEncodeError(`${length} bytes is more than ${limit}; split the claims with claimChunks()`);
  }

  const buf = new Uint8Array(Math.max(length, MIN_FRAME_LENGTH));
  MacAddress.BROADCAST.writeTo(buf, 0);
  srcMac.writeTo(buf, 6);
  put16(buf, 12, HEARTBEAT_ETHERTYPE);
  let o = ETH_HEADER;
  buf[o++] = MAGIC_0;
  buf[o++] = MAGIC_1;
  buf[o++] = HEARTBEAT_VERSION;
  buf[o++] =
    (hb.flags.leaving ? FLAG_LEAVING : 0) | (hb.flags.apiReachable ? FLAG_API_REACHABLE : 0) | (hb.flags.rejoining ? FLAG_REJOINING : 0) | (hb.flags.unfit ? FLAG_UNFIT : 0);
  const km = materialOf(key);
  buf.set(km.fingerprint, o);
  o += FINGERPRINT_BYTES;
  put32(buf, o, Math.floor(hb.incarnation / 2 ** 32));
  put32(buf, o + 4, hb.incarnation % 2 ** 32);
  put32(buf, o + 8, hb.seq);
  o += 12;
  for (let i = 0; i < DIGEST_BYTES; i++) buf[o++] = parseInt(hb.claimsDigest.slice(2 * i, 2 * i + 2), 16);
  put32(buf, o, hb.claimsTotal);
  put16(buf, o + 4, hb.chunkIndex);
  put16(buf, o + 6, hb.chunkCount);
  o += 8;
  buf[o++] = name.length;
  buf.set(name, o);
  o += name.length;
  put16(buf, o, hb.hears.length);
  o += 2;
  for (const id of hb.hears) {
    put32(buf, o, id);
    o += 4;
  }
  put16(buf, o, claims.length);
  o += 2;
  for (const ip of claims) {
    const v4 = ip.family === 'IPv4';
    buf[o++] = v4 ? FAMILY_V4 : FAMILY_V6;
    for (let i = (v4 ? 4 : 16) - 1; i >= 0; i--) buf[o++] = Number((ip.value >> BigInt(8 * i)) & 0xffn);
  }
  buf.set(hmac(km, buf.subarray(ETH_HEADER, o)), o);
  return buf;
}

/**
 * Never throws, whatever the bytes. `keys`: every key that may verify (current and previous, for rotation). A frame
 * whose fingerprint matches none is 'other-cluster'; a matching fingerprint with a bad MAC is 'unauthenticated'.
 * A single 802.1Q tag is understood (as in arp-frame.ts).
 *
 * Checks in order: 'short' (no room for an Ethernet header, or for the smallest heartbeat after it),
 * 'not-heartbeat' (ethertype, magic), 'version', 'own-mac-multicast' (the source MAC has the group bit set, which no
 * host's own address has), 'other-cluster', 'unauthenticated' (the last 16 bytes), then 'malformed' for any
 * structural fault in the authenticated bytes. Nothing parsed is returned unless its MAC verified.
 */
export function decodeHeartbeat(frame: Uint8Array, keys: readonly HeartbeatKey[]): DecodedHeartbeat {
  const eth = readEthernetHeader(frame);
  if (!eth) return drop('short');
  const p = eth.offset;
  if (eth.ethertype !== HEARTBEAT_ETHERTYPE) return drop('not-heartbeat');
  if (frame.length - p < MIN_PAYLOAD) return drop('short');
  if (frame[p] !== MAGIC_0 || frame[p + 1] !== MAGIC_1) return drop('not-heartbeat');
  if (frame[p + 2] !== HEARTBEAT_VERSION) return drop('version');
  if (((frame[6] as number) & 1) === 1) return drop('own-mac-multicast');

  const fingerprint = frame.subarray(p + FINGERPRINT_AT, p + FINGERPRINT_AT + FINGERPRINT_BYTES);
  const candidates = keys.filter((k) => Buffer.compare(fingerprint, material.get(k)?.fingerprint ?? EMPTY) === 0);
  if (candidates.length === 0) return drop('other-cluster');
  const macAt = frame.length - MAC_BYTES;
  const signed = frame.subarray(p, macAt);
  const got = frame.subarray(macAt);
  const key = candidates.find((k) => timingSafeEqual(hmac(materialOf(k), signed), got));
  if (key === undefined) return drop('unauthenticated');

  const heartbeat = parseBody(frame, p, macAt);
  if (heartbeat === undefined) return drop('malformed');
  return { ok: true, heartbeat, srcMac: MacAddress.fromBytes(frame.subarray(6, 12)), keyId: key.id };
}

/** The authenticated payload from `start` (the magic) to `end` (the MAC), or undefined when malformed. */
function parseBody(buf: Uint8Array, start: number, end: number): Heartbeat | undefined {
  const flagBits = buf[start + 3] as number;
  if ((flagBits & ~FLAGS_KNOWN) !== 0) return undefined;
  let o = start + FINGERPRINT_AT + FINGERPRINT_BYTES;
  const incarnationHigh = u32(buf, o);
  if (incarnationHigh > 0x1fffff) return undefined; // above 2^53-1
  const incarnation = incarnationHigh * 2 ** 32 + u32(buf, o + 4);
  const seq = u32(buf, o + 8);
  o += 12;
  const digest = hex(buf.subarray(o, o + DIGEST_BYTES));
  o += DIGEST_BYTES;
  const claimsTotal = u32(buf, o);
  const chunkIndex = readU16(buf, o + 4);
  const chunkCount = readU16(buf, o + 6);
  o += 8;
  if (chunkCount === 0 || chunkIndex >= chunkCount) return undefined;

  // MIN_PAYLOAD guarantees the name length byte; every later read is bounds-checked against `end`.
  const nameLength = buf[o++] as number;
  if (nameLength === 0 || nameLength > MAX_NAME_BYTES || o + nameLength + 2 > end) return undefined;
  let node: string;
  try {
    node = utf8Strict.decode(buf.subarray(o, o + nameLength));
  } catch {
    return undefined;
  }
  if (CONTROL.test(node)) return undefined;
  o += nameLength;

  const hearsCount = readU16(buf, o);
  o += 2;
  if (o + 4 * hearsCount + 2 > end) return undefined;
  const hears: number[] = [];
  for (let i = 0; i < hearsCount; i++, o += 4) hears.push(u32(buf, o));

  const claimsCount = readU16(buf, o);
  o += 2;
  if (claimsCount > claimsTotal) return undefined;
  const claims: string[] = [];
  for (let i = 0; i < claimsCount; i++) {
    const family = buf[o];
    const size = family === FAMILY_V4 ? 4 : family === FAMILY_V6 ? 16 : -1;
    if (size < 0 || o + 1 + size > end) return undefined;
    let v = 0n;
    for (let j = 1; j <= size; j++) v = (v << 8n) | BigInt(buf[o + j] as number);
    claims.push(IpAddress.fromValue(size === 4 ? 'IPv4' : 'IPv6', v).toString());
    o += 1 + size;
  }
  if (o !== end) return undefined;

  return {
    node,
    incarnation,
    seq,
    flags: {
      leaving: (flagBits & FLAG_LEAVING) !== 0,
      apiReachable: (flagBits & FLAG_API_REACHABLE) !== 0,
      rejoining: (flagBits & FLAG_REJOINING) !== 0,
      unfit: (flagBits & FLAG_UNFIT) !== 0,
    },
    claimsDigest: digest,
    claimsTotal,
    chunkIndex,
    chunkCount,
    claims,
    hears,
  };
}

function materialOf(key: HeartbeatKey): KeyMaterial {
  const km = material.get(key);
  if (km === undefined) throw new TypeError('not a HeartbeatKey: make one with HeartbeatKey.fromSecret()');
  return km;
}

/** HMAC-SHA256 of `data`, truncated to 16 bytes. */
function hmac(km: KeyMaterial, data: Uint8Array): Buffer {
  return createHmac('sha256', km.secret).update(data).digest().subarray(0, MAC_BYTES);
}

/** The UTF-8 bytes of a valid node name, or a HeartbeatEncodeError. */
function checkNode(node: string): Uint8Array {
  const bytes = utf8.encode(node);
  if (bytes.length < 1 || bytes.length > MAX_NAME_BYTES) {
    throw new HeartbeatEncodeError(`node name is ${bytes.length} UTF-8 bytes, not 1..${MAX_NAME_BYTES}`);
  }
  // A lone surrogate would encode as U+FFFD and decode as another name.
  if (CONTROL.test(node) || utf8Strict.decode(bytes) !== node) {
    throw new HeartbeatEncodeError(`node name ${JSON.stringify(node)} has control characters or lone surrogates`);
  }
  return bytes;
}

function checkRange(what: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new HeartbeatEncodeError(`${what} ${value} is not an integer ${min}..${max}`);
  }
}

function canonicalSorted(ips: readonly string[]): string[] {
  const unique = new Set(ips.map((ip) => IpAddress.parse(ip).toString()));
  return [...unique].sort((a, b) => (a < b ? -1 : 1)); // code-unit order; no two are equal
}

function drop(reason: HeartbeatDropReason): DecodedHeartbeat {
  return { ok: false, reason };
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}


function u32(buf: Uint8Array, offset: number): number {
  return (readU16(buf, offset) * 0x10000 + readU16(buf, offset + 2));
}

function put16(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = (value >>> 8) & 0xff;
  buf[offset + 1] = value & 0xff;
}

function put32(buf: Uint8Array, offset: number, value: number): void {
  put16(buf, offset, Math.floor(value / 0x10000));
  put16(buf, offset + 2, value % 0x10000);
}
