import { IpRange } from '../../net/ip-range.js';
import { IpAddress, type IpFamily } from '../../net/ip.js';

// Set arithmetic on address ranges, for foreign formats that allow what barelb
// does not: overlapping entries, overlapping pools, ends to skip.

const FAMILY_ORDER: Record<IpFamily, number> = { IPv4: 0, IPv6: 1 };

function byStart(a: IpRange, b: IpRange): number {
  if (a.family !== b.family) return FAMILY_ORDER[a.family] - FAMILY_ORDER[b.family];
  return a.first < b.first ? -1 : a.first > b.first ? 1 : 0;
}

/** The fewest ranges covering the same addresses: sorted (IPv4 first), disjoint, never adjacent. */
export function unionRanges(ranges: readonly IpRange[]): IpRange[] {
  const sorted = [...ranges].sort(byStart);
  const out: { family: IpFamily; first: bigint; last: bigint }[] = [];
  for (const r of sorted) {
    const prev = out[out.length - 1];
    if (prev && prev.family === r.family && r.first <= prev.last + 1n) {
      if (r.last > prev.last) prev.last = r.last;
    } else {
      out.push({ family: r.family, first: r.first, last: r.last });
    }
  }
  return out.map((r) => rangeOf(r.family, r.first, r.last));
}

/** The addresses of `from` that are not in `remove`, as a union. */
export function subtractRanges(from: readonly IpRange[], remove: readonly IpRange[]): IpRange[] {
  let pieces = unionRanges(from);
  for (const cut of unionRanges(remove)) {
    pieces = pieces.flatMap((p) => {
      if (!p.overlaps(cut)) return [p];
      const left = p.first < cut.first ? [rangeOf(p.family, p.first, cut.first - 1n)] : [];
      const right = p.last > cut.last ? [rangeOf(p.family, cut.last + 1n, p.last)] : [];
      return [...left, ...right];
    });
  }
  return pieces;
}

/** The addresses both lists hold, as a union. */
export function intersectRanges(a: readonly IpRange[], b: readonly IpRange[]): IpRange[] {
  const out: IpRange[] = [];
  for (const x of unionRanges(a)) {
    for (const y of unionRanges(b)) {
      if (!x.overlaps(y)) continue;
      out.push(rangeOf(x.family, x.first > y.first ? x.first : y.first, x.last < y.last ? x.last : y.last));
    }
  }
  return unionRanges(out);
}

/** A range as the fewest aligned prefixes (what an IP set calls its prefixes): [first address, prefix length]. */
export function prefixesOf(r: IpRange): [first: bigint, bits: number][] {
  const width = IpAddress.bits(r.family);
  const out: [bigint, number][] = [];
  let start = r.first;
  while (start <= r.last) {
    // The largest block aligned at `start` that still ends within the range.
    let size = 0;
    while (size < width && (start & ((1n << BigInt(size + 1)) - 1n)) === 0n && start + (1n << BigInt(size + 1)) - 1n <= r.last) size++;
    out.push([start, width - size]);
    start += 1n << BigInt(size);
  }
  return out;
}

/**
 * A range written the shortest way barelb reads it: one address, a CIDR when
 * it is exactly one prefix, else first-last. The range carries that text.
 */
export function rangeOf(family: IpFamily, first: bigint, last: bigint): IpRange {
  const a = IpAddress.fromValue(family, first).toString();
  if (first === last) return IpRange.parse(a);
  const prefixes = prefixesOf(new IpRange(family, first, last));
  if (prefixes.length === 1) return IpRange.parse(`${a}/${(prefixes[0] as [bigint, number])[1]}`);
  return IpRange.parse(`${a}-${IpAddress.fromValue(family, last).toString()}`);
}
