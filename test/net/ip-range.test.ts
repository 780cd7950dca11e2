import t from 'tap';
import fc from 'fast-check';
import { IpRange, InvalidRangeError } from '../../src/net/ip-range.js';
import { IpAddress, maxValue } from '../../src/net/ip.js';

const ip = (s: string): IpAddress => IpAddress.parse(s);

t.test('parse: CIDR, first-last and single addresses', async (t) => {
  const rows: [input: string, family: 'IPv4' | 'IPv6', first: string, last: string, size: bigint, text: string][] = [
    ['198.51.100.64/28', 'IPv4', '198.51.100.64', '198.51.100.79', 16n, '198.51.100.64-198.51.100.79'],
    ['10.0.0.0/8', 'IPv4', '10.0.0.0', '10.255.255.255', 1n << 24n, '10.0.0.0-10.255.255.255'],
    ['0.0.0.0/0', 'IPv4', '0.0.0.0', '255.255.255.255', 1n << 32n, '0.0.0.0-255.255.255.255'],
    ['192.0.2.7/32', 'IPv4', '192.0.2.7', '192.0.2.7', 1n, '192.0.2.7'],
    ['192.0.2.6/31', 'IPv4', '192.0.2.6', '192.0.2.7', 2n, '192.0.2.6-192.0.2.7'],
    [' 192.0.2.0/24 ', 'IPv4', '192.0.2.0', '192.0.2.255', 256n, '192.0.2.0-192.0.2.255'],
    ['198.51.100.200-198.51.100.250', 'IPv4', '198.51.100.200', '198.51.100.250', 51n, '198.51.100.200-198.51.100.250'],
    ['198.51.100.200 - 198.51.100.250', 'IPv4', '198.51.100.200', '198.51.100.250', 51n, '198.51.100.200-198.51.100.250'],
    ['10.0.0.255-10.0.1.0', 'IPv4', '10.0.0.255', '10.0.1.0', 2n, '10.0.0.255-10.0.1.0'],
    ['10.0.0.5-10.0.0.5', 'IPv4', '10.0.0.5', '10.0.0.5', 1n, '10.0.0.5'],
    ['10.0.0.5', 'IPv4', '10.0.0.5', '10.0.0.5', 1n, '10.0.0.5'],
    ['2001:db8::/64', 'IPv6', '2001:db8::', '2001:db8::ffff:ffff:ffff:ffff', 1n << 64n, '2001:db8::-2001:db8::ffff:ffff:ffff:ffff'],
    ['2001:db8::/126', 'IPv6', '2001:db8::', '2001:db8::3', 4n, '2001:db8::-2001:db8::3'],
    ['::/0', 'IPv6', '::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 1n << 128n, '::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['2001:db8::1/128', 'IPv6', '2001:db8::1', '2001:db8::1', 1n, '2001:db8::1'],
    ['2001:DB8::10-2001:db8::1f', 'IPv6', '2001:db8::10', '2001:db8::1f', 16n, '2001:db8::10-2001:db8::1f'],
    ['2001:db8::1', 'IPv6', '2001:db8::1', '2001:db8::1', 1n, '2001:db8::1'],
  ];
  for (const [input, family, first, last, size, text] of rows) {
    const r = IpRange.parse(input);
    t.equal(r.family, family, `${input} family`);
    t.equal(r.first, ip(first).value, `${input} first`);
    t.equal(r.last, ip(last).value, `${input} last`);
    t.equal(r.size, size, `${input} size`);
    t.equal(r.toString(), text, `${input} toString`);
    // the printed form parses back to the same range
    const back = IpRange.parse(r.toString());
    t.same([back.family, back.first, back.last], [r.family, r.first, r.last], `${input} round-trips`);
  }
});

t.test('parse: rejects malformed ranges with a reason', async (t) => {
  const rows: [input: string, reason: string | RegExp][] = [
    ['', '"" is not an IP address'],
    ['nope', '"nope" is not an IP address'],
    ['1.2', '"1.2" is not an IP address'],
    ['01.2.3.4', 'is not an IP address'],
    ['10.0.0.5-10.0.0.1', 'reversed: 10.0.0.5 comes after 10.0.0.1'],
    ['2001:db8::9-2001:db8::1', 'reversed: 2001:db8::9 comes after 2001:db8::1'],
    ['10.0.0.2-10.0.0.1', 'reversed: 10.0.0.2 comes after 10.0.0.1'], // off by one
    ['10.0.0.1-2001:db8::1', 'different IP families'],
    ['10.0.0.1-10.0.0.2-10.0.0.3', 'expected "first-last"'],
    ['10.0.0.1-', '"" is not an IP address'],
    ['-10.0.0.1', '"" is not an IP address'],
    ['10.0.0.1/33', 'prefix length 33 exceeds 32'],
    ['2001:db8::/129', 'prefix length 129 exceeds 128'],
    ['10.0.0.1/24', 'host bits are set; did you mean 10.0.0.0/24?'],
    ['198.51.100.65/28', 'host bits are set; did you mean 198.51.100.64/28?'],
    ['2001:db8::1/64', 'host bits are set; did you mean 2001:db8::/64?'],
    ['10.0.0.0/', 'expected "address/prefix-length"'],
    ['10.0.0.0/abc', 'expected "address/prefix-length"'],
    ['10.0.0.0/-1', 'expected "address/prefix-length"'],
    ['10.0.0.0/1000', 'expected "address/prefix-length"'],
    ['10.0.0.0/24/8', 'expected "address/prefix-length"'],
    ['/24', '"" is not an IP address'],
    ['10.0.0.0-10.0.0.9/24', '"10.0.0.0-10.0.0.9" is not an IP address'],
  ];
  for (const [input, reason] of rows) {
    try {
      IpRange.parse(input);
      t.fail(`${JSON.stringify(input)} should not parse`);
    } catch (err) {
      t.ok(err instanceof InvalidRangeError, `${JSON.stringify(input)} throws InvalidRangeError`);
      const e = err as InvalidRangeError;
      t.equal(e.code, 'BARELB_INVALID_RANGE');
      t.equal(e.text, input);
      t.match(e.message, `"${input}" is not an address range: `, `${JSON.stringify(input)} message names the input`);
      t.match(e.reason, reason, `${JSON.stringify(input)} reason`);
    }
  }
});

t.test('of builds a range from two addresses', async (t) => {
  const r = IpRange.of(ip('10.0.0.1'), ip('10.0.0.3'));
  t.equal(r.size, 3n);
  t.equal(r.toString(), '10.0.0.1-10.0.0.3');
  t.throws(() => IpRange.of(ip('10.0.0.3'), ip('10.0.0.1')), RangeError);
  t.throws(() => IpRange.of(ip('10.0.0.1'), ip('::1')), RangeError);
});

t.test('contains', async (t) => {
  const r = IpRange.parse('10.0.0.8/29');
  const rows: [string, boolean][] = [
    ['10.0.0.7', false],
    ['10.0.0.8', true],
    ['10.0.0.12', true],
    ['10.0.0.15', true],
    ['10.0.0.16', false],
    ['::a0:8', false], // same low bits, other family
    ['::ffff:10.0.0.8', false],
  ];
  for (const [addr, want] of rows) t.equal(r.contains(ip(addr)), want, `10.0.0.8/29 contains ${addr}`);
  const v6 = IpRange.parse('2001:db8::10-2001:db8::1f');
  t.ok(v6.contains(ip('2001:db8::10')));
  t.ok(v6.contains(ip('2001:db8::1f')));
  t.notOk(v6.contains(ip('2001:db8::20')));
  t.notOk(v6.contains(ip('0.0.0.16')));
});

t.test('overlaps', async (t) => {
  const rows: [a: string, b: string, want: boolean][] = [
    ['10.0.0.0/30', '10.0.0.4/30', false], // adjacent
    ['10.0.0.0/30', '10.0.0.3-10.0.0.9', true], // share one end
    ['10.0.0.0/24', '10.0.0.77', true], // contains
    ['10.0.0.0/24', '10.0.1.0/24', false],
    ['10.0.0.0/8', '10.200.0.0/16', true],
    ['10.0.0.5', '10.0.0.5', true],
    ['0.0.0.0/0', '::/0', false], // other family
    ['0.0.0.1', '::1', false],
    ['2001:db8::/64', '2001:db8::ffff:0:0:0/80', true],
    ['2001:db8::/64', '2001:db8:0:1::/64', false],
  ];
  for (const [a, b, want] of rows) {
    const ra = IpRange.parse(a);
    const rb = IpRange.parse(b);
    t.equal(ra.overlaps(rb), want, `${a} overlaps ${b}`);
    t.equal(rb.overlaps(ra), want, `${b} overlaps ${a}`);
  }
});

t.test('overlaps and contains agree with brute force (property)', async (t) => {
  const end = fc.bigInt({ min: 0n, max: 40n });
  const range = fc.tuple(end, end).map(([a, b]) => new IpRange('IPv4', a < b ? a : b, a < b ? b : a));
  fc.assert(
    fc.property(range, range, (a, b) => {
      let shared = false;
      for (let v = 0n; v <= 40n; v++) {
        const x = IpAddress.fromValue('IPv4', v);
        if (a.contains(x) !== (v >= a.first && v <= a.last)) return false;
        if (a.contains(x) && b.contains(x)) shared = true;
      }
      return a.overlaps(b) === shared && a.size === a.last - a.first + 1n;
    }),
    { numRuns: 500 },
  );
  t.pass('500 random pairs agreed');
});

t.test('every CIDR parses to an aligned block of 2^(bits-prefix) (property)', async (t) => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: maxValue('IPv4') }), fc.integer({ min: 0, max: 32 }), (v, prefix) => {
      const hostMask = maxValue('IPv4') >> BigInt(prefix);
      const network = v & ~hostMask;
      const text = `${IpAddress.fromValue('IPv4', network).toString()}/${prefix}`;
      const r = IpRange.parse(text);
      if (r.first !== network || r.size !== 1n << BigInt(32 - prefix)) return false;
      // any host bit set is refused
      if (v !== network) {
        try {
          IpRange.parse(`${IpAddress.fromValue('IPv4', v).toString()}/${prefix}`);
          return false;
        } catch (err) {
          return err instanceof InvalidRangeError;
        }
      }
      return true;
    }),
    { numRuns: 500 },
  );
  t.pass('500 random CIDRs checked');
});
