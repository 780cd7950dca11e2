import t from 'tap';
import fc from 'fast-check';
import { IpAddress, InvalidIpError, canonicalIp, maxValue } from '../../src/net/ip.js';

t.test('parse accepts addresses and prints the canonical form', async (t) => {
  const rows: [input: string, family: 'IPv4' | 'IPv6', value: bigint, canonical: string][] = [
    ['0.0.0.0', 'IPv4', 0n, '0.0.0.0'],
    ['255.255.255.255', 'IPv4', 0xffffffffn, '255.255.255.255'],
    ['198.51.100.7', 'IPv4', 0xc6336407n, '198.51.100.7'],
    ['10.0.0.1', 'IPv4', 0x0a000001n, '10.0.0.1'],
    ['  192.0.2.1\n', 'IPv4', 0xc0000201n, '192.0.2.1'],
    ['::', 'IPv6', 0n, '::'],
    ['::1', 'IPv6', 1n, '::1'],
    ['2001:DB8:0:0:0:0:0:1', 'IPv6', 0x20010db8000000000000000000000001n, '2001:db8::1'],
    ['2001:db8::0:1', 'IPv6', 0x20010db8000000000000000000000001n, '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', 'IPv6', 0x20010db8000000000000000000000001n, '2001:db8::1'],
    // RFC 5952 4.2.2: "::" never stands for a single 16-bit zero field
    ['1::2:3:4:5:6:7', 'IPv6', 0x0001000000020003000400050006_0007n, '1:0:2:3:4:5:6:7'],
    // RFC 5952 4.2.3: the longest run of zeros is compressed
    ['1:0:0:1:0:0:0:1', 'IPv6', 0x0001000000000001000000000000_0001n, '1:0:0:1::1'],
    // ... and of equal runs, the first
    ['2001:db8:0:0:1:0:0:1', 'IPv6', 0x20010db8000000000001000000000001n, '2001:db8::1:0:0:1'],
    ['fe80::', 'IPv6', 0xfe800000000000000000000000000000n, 'fe80::'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'IPv6', maxValue('IPv6'), 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    // IPv4-mapped IPv6 stays IPv6 (it is not folded into the IPv4 space)
    ['::ffff:1.2.3.4', 'IPv6', 0xffff01020304n, '::ffff:102:304'],
  ];
  for (const [input, family, value, canonical] of rows) {
    const ip = IpAddress.parse(input);
    t.equal(ip.family, family, `${JSON.stringify(input)} family`);
    t.equal(ip.value, value, `${JSON.stringify(input)} value`);
    t.equal(ip.toString(), canonical, `${JSON.stringify(input)} canonical`);
    t.equal(canonicalIp(input), canonical, `canonicalIp(${JSON.stringify(input)})`);
    t.ok(IpAddress.tryParse(input)?.equals(ip), `tryParse(${JSON.stringify(input)})`);
  }
});

t.test('parse rejects what is not a plain address', async (t) => {
  const rows = [
    '',
    '   ',
    '1.2', // legacy short forms ipaddr.js would accept
    '1.2.3',
    '16909060', // a 32-bit number
    '01.2.3.4', // leading zero (octal in some parsers)
    '1.2.3.04',
    '0x1.2.3.4',
    '1.2.3.256',
    '1.2.3.4.5',
    '-1.2.3.4',
    '1.2.3.4/32',
    '::1/128',
    'fe80::1%eth0', // zone ids do not name a load-balancer address
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    ':::',
    'gggg::1',
    'localhost',
  ];
  for (const input of rows) {
    t.throws(() => IpAddress.parse(input), InvalidIpError, `parse(${JSON.stringify(input)})`);
    t.equal(IpAddress.tryParse(input), undefined, `tryParse(${JSON.stringify(input)})`);
    t.equal(canonicalIp(input), undefined, `canonicalIp(${JSON.stringify(input)})`);
  }
  try {
    IpAddress.parse('1.2');
    t.fail('should have thrown');
  } catch (err) {
    t.ok(err instanceof InvalidIpError);
    const e = err as InvalidIpError;
    t.equal(e.code, 'BARELB_INVALID_IP');
    t.equal(e.text, '1.2');
    t.equal(e.name, 'InvalidIpError');
    t.match(e.message, '"1.2" is not an IPv4 or IPv6 address');
  }
});

t.test('fromValue, bits and maxValue', async (t) => {
  t.equal(IpAddress.bits('IPv4'), 32);
  t.equal(IpAddress.bits('IPv6'), 128);
  t.equal(maxValue('IPv4'), 0xffffffffn);
  t.equal(maxValue('IPv6'), (1n << 128n) - 1n);
  t.equal(IpAddress.fromValue('IPv4', 0xc0000201n).toString(), '192.0.2.1');
  t.equal(IpAddress.fromValue('IPv6', 1n).toString(), '::1');
  t.equal(IpAddress.fromValue('IPv4', 0n).toString(), '0.0.0.0');
  t.equal(IpAddress.fromValue('IPv4', maxValue('IPv4')).toString(), '255.255.255.255');
  t.throws(() => IpAddress.fromValue('IPv4', -1n), RangeError);
  t.throws(() => IpAddress.fromValue('IPv4', 1n << 32n), RangeError);
  t.throws(() => IpAddress.fromValue('IPv6', 1n << 128n), RangeError);
  t.doesNotThrow(() => IpAddress.fromValue('IPv6', 1n << 32n));
});

t.test('equals compares family and value', async (t) => {
  const v4 = IpAddress.fromValue('IPv4', 1n);
  t.ok(v4.equals(IpAddress.parse('0.0.0.1')));
  t.notOk(v4.equals(IpAddress.parse('::1')), 'same number, other family');
  t.notOk(v4.equals(IpAddress.parse('0.0.0.2')));
});

t.test('toString round-trips through parse (property)', async (t) => {
  const v4 = fc.bigInt({ min: 0n, max: maxValue('IPv4') }).map((v) => IpAddress.fromValue('IPv4', v));
  // bias toward zero runs so compression is exercised
  const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
  const v6 = fc
    .array(group, { minLength: 8, maxLength: 8 })
    .map((gs) => IpAddress.fromValue('IPv6', gs.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n)));
  fc.assert(
    fc.property(fc.oneof(v4, v6), (ip) => {
      const text = ip.toString();
      const back = IpAddress.parse(text);
      if (!back.equals(ip)) return false;
      if (back.toString() !== text) return false;
      if (ip.family === 'IPv6') {
        // canonical: lowercase, no leading zeros, at most one "::", never ":0:" compressed alone
        if (text !== text.toLowerCase()) return false;
        if ((text.match(/::/g) ?? []).length > 1) return false;
        if (/(^|:)0[0-9a-f]/.test(text)) return false;
        if (text !== rfc5952(ip.value)) return false;
      }
      return true;
    }),
    { numRuns: 1000 },
  );
  t.pass('1000 random addresses round-tripped');
});

/** Reference RFC 5952 formatter, written independently of ipaddr.js. */
function rfc5952(value: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

t.test('reference formatter agrees with the table', async (t) => {
  t.equal(rfc5952(0n), '::');
  t.equal(rfc5952(1n), '::1');
  t.equal(rfc5952(0x0001000000020003000400050006_0007n), '1:0:2:3:4:5:6:7');
  t.equal(rfc5952(0x20010db8000000000001000000000001n), '2001:db8::1:0:0:1');
});
