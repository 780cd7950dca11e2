import t from 'tap';
import fc from 'fast-check';
import { IpRange } from '../../../src/net/ip-range.js';
import { intersectRanges, prefixesOf, rangeOf, subtractRanges, unionRanges } from '../../../src/config/convert/range-math.js';

// Set arithmetic checked against plain sets of numbers in a small IPv4 corner.
const BASE = 0x0a000000; // 10.0.0.0
const small = fc.tuple(fc.integer({ min: 0, max: 600 }), fc.integer({ min: 0, max: 600 })).map(([a, b]) => new IpRange('IPv4', BigInt(BASE + Math.min(a, b)), BigInt(BASE + Math.max(a, b))));
const list = fc.array(small, { maxLength: 5 });

function members(ranges: readonly IpRange[]): number[] {
  const s = new Set<number>();
  for (const r of ranges) for (let v = Number(r.first); v <= Number(r.last); v++) s.add(v);
  return [...s].sort((a, b) => a - b);
}

/** Sorted, disjoint, not adjacent. */
function canonical(ranges: readonly IpRange[]): boolean {
  return ranges.every((r, i) => i === 0 || (ranges[i - 1] as IpRange).last + 1n < r.first);
}

t.test('union, subtraction and intersection agree with sets', async (t) => {
  fc.assert(
    fc.property(list, list, (a, b) => {
      const u = unionRanges(a);
      const d = subtractRanges(a, b);
      const i = intersectRanges(a, b);
      const sb = new Set(members(b));
      return (
        canonical(u) && canonical(d) && canonical(i) &&
        JSON.stringify(members(u)) === JSON.stringify(members(a)) &&
        JSON.stringify(members(d)) === JSON.stringify(members(a).filter((v) => !sb.has(v))) &&
        JSON.stringify(members(i)) === JSON.stringify(members(a).filter((v) => sb.has(v)))
      );
    }),
    { numRuns: 300 },
  );
  t.pass('300 random pairs of lists');
});

t.test('prefixesOf: aligned blocks that tile the range, as few as possible', async (t) => {
  fc.assert(
    fc.property(small, (r) => {
      const blocks = prefixesOf(r);
      let next = r.first;
      for (const [first, bits] of blocks) {
        const size = 1n << BigInt(32 - bits);
        if (first !== next || first % size !== 0n) return false;
        // Not mergeable with the next block: otherwise it would not be the fewest.
        next = first + size;
      }
      const merged = blocks.some(([f, bits], i) => {
        const n = blocks[i + 1];
        return n !== undefined && n[1] === bits && f % (2n << BigInt(32 - bits)) === 0n;
      });
      return next === r.last + 1n && !merged;
    }),
    { numRuns: 300 },
  );
  t.same(prefixesOf(IpRange.parse('0.0.0.0/0')), [[0n, 0]], 'the whole space is one prefix');
  t.same(prefixesOf(IpRange.parse('10.0.0.1-10.0.0.6')).map(([f, b]) => `${f - BigInt(BASE)}/${b}`), ['1/32', '2/31', '4/31', '6/32']);
});

t.test('rangeOf writes a range the shortest way and parses back', async (t) => {
  const rows: [first: string, last: string, text: string][] = [
    ['10.0.0.5', '10.0.0.5', '10.0.0.5'],
    ['10.0.0.0', '10.0.0.255', '10.0.0.0/24'],
    ['10.0.0.1', '10.0.0.254', '10.0.0.1-10.0.0.254'],
    ['2001:db8::', '2001:db8::ff', '2001:db8::/120'],
  ];
  for (const [a, b, text] of rows) {
    const [x, y] = [IpRange.parse(a), IpRange.parse(b)];
    const r = rangeOf(x.family, x.first, y.last);
    t.equal(r.text, text);
    t.equal(IpRange.parse(text).first, r.first);
    t.equal(IpRange.parse(text).last, r.last);
  }
});
