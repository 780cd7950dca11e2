import type { NetworkInterfaceInfo } from 'node:os';
import { IpAddress } from '../net/ip.js';

/** Where an IP is announced: the interface whose subnet of the IP's family holds it. */
export interface InterfaceChoice {
  readonly name: string;
  readonly mac: string;
}

/** fe80::/10: an interface's link-local address says nothing about which LAN it is on. */
const LINK_LOCAL_V6 = { prefix: 0xfe80n << 112n, mask: 0xffc0n << 112n };

/**
 * Picks the interface to answer ARP (IPv4) or NDP (IPv6) for `ip` on: among `allowed` (all when empty),
 * the one with an address of the IP's family whose subnet contains the IP; the longest prefix wins.
 * Link-local IPv6 addresses never count, so an interface with only those never announces. Undefined when
 * none fits (then this node cannot announce the IP: no L2 segment carries it).
 */
export function chooseInterface(
  ip: string,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>,
  allowed: readonly string[],
): InterfaceChoice | undefined {
  const target = IpAddress.tryParse(ip);
  if (!target) return undefined;
  const bits = BigInt(IpAddress.bits(target.family));
  let best: { name: string; mac: string; prefix: number } | undefined;
  for (const [name, addrs] of Object.entries(interfaces)) {
    if (allowed.length > 0 && !allowed.includes(name)) continue;
    for (const a of addrs ?? []) {
      if (a.family !== target.family || a.internal || !a.cidr) continue;
      const own = IpAddress.tryParse(a.address);
      if (!own || (own.family === 'IPv6' && (own.value & LINK_LOCAL_V6.mask) === LINK_LOCAL_V6.prefix)) continue;
      const prefix = Number(a.cidr.split('/')[1]);
      const hostBits = (1n << (bits - BigInt(prefix))) - 1n;
      if ((own.value & ~hostBits) === (target.value & ~hostBits) && (!best || prefix > best.prefix)) best = { name, mac: a.mac, prefix };
    }
  }
  return best && { name: best.name, mac: best.mac };
}

/**
 * The subnets an interface's addresses are on, as `network/prefix` (canonical), link-local IPv6 left out:
 * the LAN segments a speaker shares with whoever speaks on the same subnets.
 */
export function interfaceSegments(addrs: readonly NetworkInterfaceInfo[]): string[] {
  const out = new Set<string>();
  for (const a of addrs) {
    if (a.internal || !a.cidr) continue;
    const own = IpAddress.tryParse(a.address);
    if (!own || (own.family === 'IPv6' && (own.value & LINK_LOCAL_V6.mask) === LINK_LOCAL_V6.prefix)) continue;
    const prefix = Number(a.cidr.split('/')[1]);
    const hostBits = (1n << BigInt(IpAddress.bits(own.family) - prefix)) - 1n;
    out.add(`${IpAddress.fromValue(own.family, own.value & ~hostBits).toString()}/${prefix}`);
  }
  return [...out].sort();
}
