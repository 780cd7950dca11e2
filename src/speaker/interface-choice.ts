import type { NetworkInterfaceInfo } from 'node:os';
import { IpRange } from '../ipam/ip-range.js';
import { IpAddress } from '../net/ip.js';

/** Where an IP is announced: the interface whose IPv4 subnet holds it. */
export interface InterfaceChoice {
  readonly name: string;
  readonly mac: string;
}

/**
 * Picks the interface to answer ARP for `ip` on: among `allowed` (all when
 * empty), the one with an IPv4 address whose subnet contains the IP; the
 * longest prefix wins. Undefined when none does (then this node cannot
 * announce the IP: no L2 segment carries it) or for IPv6, which is not
 * announced until NDP is supported.
 */
export function chooseInterface(
  ip: string,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>,
  allowed: readonly string[],
): InterfaceChoice | undefined {
  const target = IpAddress.tryParse(ip);
  if (!target || target.family !== 'IPv4') return undefined;
  let best: { name: string; mac: string; prefix: number } | undefined;
  for (const [name, addrs] of Object.entries(interfaces)) {
    if (allowed.length > 0 && !allowed.includes(name)) continue;
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4' || a.internal || !a.cidr) continue;
      const prefix = Number(a.cidr.split('/')[1]);
      const network = IpAddress.parse(a.address).value & ~((1n << BigInt(32 - prefix)) - 1n);
      const subnet = IpRange.of(IpAddress.fromValue('IPv4', network), IpAddress.fromValue('IPv4', network | ((1n << BigInt(32 - prefix)) - 1n)));
      if (subnet.contains(target) && (!best || prefix > best.prefix)) best = { name, mac: a.mac, prefix };
    }
  }
  return best && { name: best.name, mac: best.mac };
}
