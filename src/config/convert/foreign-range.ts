import { IpRange } from '../../net/ip-range.js';
import { IpAddress, maxValue } from '../../net/ip.js';

/**
 * One address entry as the Go programs barelb migrates from read it: a CIDR
 * whose host bits are set stands for its network (net.ParseCIDR,
 * netip.Prefix.Masked), a first-last range may have spaces around the "-".
 * `warn` hears about the masking. Throws InvalidRangeError like IpRange.parse.
 */
export function parseForeignRange(entry: string, warn: (message: string) => void): IpRange {
  const text = entry.trim();
  if (text.includes('/')) {
    const [addr, len] = text.split('/');
    const ip = IpAddress.tryParse(addr ?? '');
    if (ip && len !== undefined && /^\d{1,3}$/.test(len) && Number(len) <= IpAddress.bits(ip.family)) {
      const host = maxValue(ip.family) >> BigInt(len);
      if ((ip.value & host) !== 0n) {
        const network = `${IpAddress.fromValue(ip.family, ip.value & ~host).toString()}/${len}`;
        warn(`"${text}" has host bits set; it stands for the network ${network}, and barelb reads it so`);
        return IpRange.parse(network);
      }
    }
    return IpRange.parse(text);
  }
  const dash = text.indexOf('-');
  return IpRange.parse(dash < 0 ? text : `${text.slice(0, dash).trim()}-${text.slice(dash + 1).trim()}`);
}

/** A value as it reads in a message. */
export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
  if (v === null || typeof v !== 'object') return String(v);
  return Array.isArray(v) ? 'a list' : 'a mapping';
}
