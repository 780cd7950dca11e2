import type { PoolSpec } from '../config/types.js';
import { IpAddress, canonicalIp } from '../net/ip.js';

/*
 * Which addresses a speaker may answer for at all, whatever Service status says. Whoever can write
 * services/status (or another LoadBalancer implementation left running) must not be able to make barelb
 * take over a node's or the gateway's address: only addresses inside the configured pools are announced,
 * and never one that belongs to a node or is a route's gateway.
 */

export type AddressRefusal = 'outside-pools' | 'node-address' | 'gateway';

export interface AddressGuardFacts {
  readonly pools: readonly PoolSpec[];
  /** Every node's addresses (Node status) and this host's own interface addresses, canonical. */
  readonly hostAddresses: ReadonlySet<string>;
  /** Gateways of this host's routes, canonical. */
  readonly gateways: ReadonlySet<string>;
}

/** Why `ip` must not be announced, or undefined when it may be. */
export function refusalOf(ip: string, facts: AddressGuardFacts): AddressRefusal | undefined {
  const canonical = canonicalIp(ip);
  const addr = canonical === undefined ? undefined : IpAddress.tryParse(canonical);
  if (!addr || !facts.pools.some((p) => p.ranges.some((r) => r.contains(addr)))) return 'outside-pools';
  if (facts.hostAddresses.has(addr.toString())) return 'node-address';
  if (facts.gateways.has(addr.toString())) return 'gateway';
  return undefined;
}

export function describeRefusal(r: AddressRefusal): string {
  switch (r) {
    case 'outside-pools':
      return 'is inside no configured pool';
    case 'node-address':
      return "is a node's own address";
    case 'gateway':
      return "is a gateway of this node's routes";
  }
}

/**
 * Gateways from /proc/net/route (IPv4) and /proc/net/ipv6_route text. Lines that do not parse are skipped:
 * the kernel writes these files, and a format we do not know must not stop announcing.
 */
export function parseRouteGateways(ipv4Routes: string, ipv6Routes: string): Set<string> {
  const out = new Set<string>();
  for (const line of ipv4Routes.split('\n').slice(1)) {
    const gw = line.trim().split(/\s+/)[2];
    if (!gw || !/^[0-9A-Fa-f]{8}$/.test(gw) || /^0+$/.test(gw)) continue;
    // Little-endian hex, as the kernel prints it on x86 and arm.
    const n = parseInt(gw, 16);
    out.add([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join('.'));
  }
  for (const line of ipv6Routes.split('\n')) {
    const gw = line.trim().split(/\s+/)[4];
    if (!gw || !/^[0-9a-fA-F]{32}$/.test(gw) || /^0+$/.test(gw)) continue;
    const ip = canonicalIp(gw.match(/.{4}/g)?.join(':') ?? '');
    if (ip) out.add(ip);
  }
  return out;
}
