import { canonicalIp } from '../net/ip.js';

/**
 * Rendezvous (highest-random-weight) hashing of IPs over nodes: every speaker
 * computes the same order from the same inputs, IPs spread evenly, and removing
 * a node only moves the IPs it ranked first for (the others keep their order).
 *
 * The weight is FNV-1a 64 of UTF-8 `${node}\0${ip}` followed by the MurmurHash3
 * 64-bit finalizer (FNV alone mixes the last bytes poorly into the high bits,
 * which decide the order). Plain integer arithmetic: the same on every
 * platform and process, forever; changing it moves IPs on upgrade.
 */

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;
const utf8 = new TextEncoder();

/** The 64-bit weight of `node` for `ip`, exported for tests and debugging. */
export function weight(ip: string, node: string): bigint {
  let h = FNV_OFFSET;
  for (const byte of utf8.encode(`${node}\u0000${canonicalIp(ip) ?? ip}`)) {
    h = ((h ^ BigInt(byte)) * FNV_PRIME) & MASK64;
  }
  return fmix64(h);
}

function fmix64(k: bigint): bigint {
  k ^= k >> 33n;
  k = (k * 0xff51afd7ed558ccdn) & MASK64;
  k ^= k >> 33n;
  k = (k * 0xc4ceb9fe1a85ec53n) & MASK64;
  k ^= k >> 33n;
  return k;
}

/**
 * `nodes` (duplicates ignored) best first for `ip`: weight descending, ties by
 * node name (code-unit order, not locale). The IP is canonicalized first, so
 * '2001:db8::1' and '2001:DB8:0::1' rank alike.
 */
export function rankCandidates(ip: string, nodes: readonly string[]): string[] {
  const weighted = [...new Set(nodes)].map((node) => ({ node, w: weight(ip, node) }));
  weighted.sort((a, b) => (a.w !== b.w ? (a.w > b.w ? -1 : 1) : a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  return weighted.map((x) => x.node);
}

/** 0 for the first choice, ...; -1 when `node` is not among `nodes`. */
export function rankOf(ip: string, node: string, nodes: readonly string[]): number {
  return rankCandidates(ip, nodes).indexOf(node);
}
