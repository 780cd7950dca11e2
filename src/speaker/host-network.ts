import { readFileSync } from 'node:fs';
import os from 'node:os';
import { canonicalIp } from '../net/ip.js';
import { parseRouteGateways } from './address-guard.js';

/** How often the host's addresses and routes are read again. */
const READ_EVERY_MS = 1000;

/**
 * This host's interface addresses (which interface carries which subnet) and route gateways, read at
 * most once a second. refresh() says what changed since the last read.
 */
export class HostNetwork {
  interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = {};
  gateways: ReadonlySet<string> = new Set();
  private readAtMs = -Infinity;
  private json = '';

  refresh(now: number): { readonly interfaces: boolean; readonly gateways: boolean } {
    if (now - this.readAtMs <= READ_EVERY_MS) return { interfaces: false, gateways: false };
    this.readAtMs = now;
    const fresh = os.networkInterfaces();
    const json = JSON.stringify(fresh);
    const interfaces = json !== this.json;
    if (interfaces) {
      this.interfaces = fresh;
      this.json = json;
    }
    const gateways = readGateways();
    const gatewaysChanged = [...gateways].join() !== [...this.gateways].join();
    if (gatewaysChanged) this.gateways = gateways;
    return { interfaces, gateways: gatewaysChanged };
  }

  /** The next refresh() reads at once (an interface was closed: choose interfaces from a fresh read). */
  invalidate(): void {
    this.readAtMs = -Infinity;
  }

  /** Every address on this host's interfaces, canonical. */
  addresses(): string[] {
    return Object.values(this.interfaces).flatMap((addrs) => (addrs ?? []).map((a) => canonicalIp(a.address) ?? a.address));
  }
}

/** This host's route gateways; none when the route tables cannot be read. */
function readGateways(): Set<string> {
  const read = (path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  };
  return parseRouteGateways(read('/proc/net/route'), read('/proc/net/ipv6_route'));
}
