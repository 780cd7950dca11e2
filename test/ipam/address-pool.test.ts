import t from 'tap';
import { pool } from '../fixtures.js';
import fc from 'fast-check';
import { AddressPool, isBuggyIPv4 } from '../../src/ipam/address-pool.js';
import { IpRange } from '../../src/net/ip-range.js';
import { IpAddress } from '../../src/net/ip.js';
import type { PoolSpec } from '../../src/config/types.js';
import type { LabelSelector } from '../../src/config/label-selector.js';

const ip = (s: string): IpAddress => IpAddress.parse(s);

const spec = pool;

t.test('isBuggyIPv4', async (t) => {
  const rows: [string, boolean][] = [
    ['10.0.0.0', true],
    ['10.0.0.255', true],
    ['10.0.1.0', true],
    ['10.0.0.1', false],
    ['10.0.0.254', false],
    ['0.0.0.0', true],
    ['255.255.255.255', true],
    ['::', false], // IPv6 is never avoided
    ['2001:db8::ff', false],
    ['2001:db8::100', false],
  ];
  for (const [addr, want] of rows) t.equal(isBuggyIPv4(ip(addr)), want, addr);
});

t.test('size with and without avoidBuggyIPs', async (t) => {
  const rows: [ranges: string[], plain: bigint, avoiding: bigint][] = [
    [['10.0.0.0/24'], 256n, 254n],
    [['10.0.0.0/23'], 512n, 508n],
    [['10.0.0.1-10.0.0.254'], 254n, 254n],
    [['10.0.0.250-10.0.1.5'], 12n, 10n], // .255 and .0 in the middle
    [['10.0.0.255'], 1n, 0n],
    [['10.0.0.0/31'], 2n, 1n],
    [['10.0.0.128/25', '10.0.1.0/25'], 256n, 254n], // .255 of the first, .0 of the second
    [['10.0.0.0/16'], 65536n, 65536n - 512n],
    [['2001:db8::/120'], 256n, 256n], // IPv6 untouched
    [['10.0.0.0/30', '2001:db8::/126'], 8n, 7n],
  ];
  for (const [ranges, plain, avoiding] of rows) {
    t.equal(new AddressPool(spec('p', ranges)).size, plain, `${ranges.join(',')} size`);
    t.equal(new AddressPool(spec('p', ranges, { avoidBuggyIPs: true })).size, avoiding, `${ranges.join(',')} size avoiding`);
    t.equal(new AddressPool(spec('p', ranges, { avoidBuggyIPs: true })).used, 0n, `${ranges.join(',')} avoided are not "used"`);
  }
});

t.test('lowestFree follows range order, then address order', async (t) => {
  // ranges in configured order: the higher range comes first
  const p = new AddressPool(spec('p', ['10.0.5.10-10.0.5.11', '10.0.1.0/31', '2001:db8::/127']));
  const seq: (string | undefined)[] = [];
  for (let i = 0; i < 5; i++) {
    const next = p.lowestFree('IPv4');
    seq.push(next?.toString());
    if (next) p.take(next);
  }
  t.same(seq, ['10.0.5.10', '10.0.5.11', '10.0.1.0', '10.0.1.1', undefined]);
  t.equal(p.used, 4n);
  t.equal(p.lowestFree('IPv6')?.toString(), '2001:db8::', 'families are independent');

  p.give(ip('10.0.5.11'));
  t.equal(p.lowestFree('IPv4')?.toString(), '10.0.5.11', 'a freed address is found again');
  p.give(ip('10.0.1.0'));
  t.equal(p.lowestFree('IPv4')?.toString(), '10.0.5.11', 'the first range still comes first');
  t.equal(p.used, 2n);

  // take/give are idempotent for the count
  p.take(ip('10.0.5.10'));
  t.equal(p.used, 2n, 'taking a taken address does not count twice');
  p.give(ip('10.0.1.0'));
  t.equal(p.used, 2n, 'giving a free address does not count');

  const v4only = new AddressPool(spec('q', ['10.0.0.0/30']));
  t.equal(v4only.lowestFree('IPv6'), undefined, 'no range of the family');
  t.same([...v4only.families()], ['IPv4']);
  t.same([...p.families()].sort(), ['IPv4', 'IPv6']);
});

t.test('lowestFree skips avoided addresses', async (t) => {
  const p = new AddressPool(spec('p', ['10.0.0.254-10.0.1.1'], { avoidBuggyIPs: true }));
  const seq: (string | undefined)[] = [];
  for (let i = 0; i < 3; i++) {
    const next = p.lowestFree('IPv4');
    seq.push(next?.toString());
    if (next) p.take(next);
  }
  t.same(seq, ['10.0.0.254', '10.0.1.1', undefined]);
  t.ok(p.avoids(ip('10.0.0.255')));
  t.ok(p.avoids(ip('10.0.1.0')));
  t.notOk(p.avoids(ip('10.0.1.1')));
  t.ok(p.isTaken(ip('10.0.1.0')), 'avoided addresses read as taken');
  // giving back an avoided address does not make it free
  p.give(ip('10.0.1.0'));
  t.equal(p.used, 2n);
  p.give(ip('10.0.0.254'));
  t.equal(p.lowestFree('IPv4')?.toString(), '10.0.0.254');
  t.equal(p.used, 1n);

  const plain = new AddressPool(spec('p', ['10.0.0.254-10.0.1.1']));
  t.notOk(plain.avoids(ip('10.0.1.0')), 'only with avoidBuggyIPs');
  t.equal(plain.lowestFree('IPv4')?.toString(), '10.0.0.254');
});

t.test('contains', async (t) => {
  const p = new AddressPool(spec('p', ['10.0.0.0/30', '10.0.0.8/30', '2001:db8::1']));
  const rows: [string, boolean][] = [
    ['10.0.0.0', true],
    ['10.0.0.3', true],
    ['10.0.0.4', false], // the gap
    ['10.0.0.8', true],
    ['10.0.0.12', false],
    ['2001:db8::1', true],
    ['2001:db8::2', false],
  ];
  for (const [addr, want] of rows) t.equal(p.contains(ip(addr)), want, addr);
  t.equal(p.name, 'p');
});

t.test('refusal', async (t) => {
  const selector: LabelSelector = {
    matchLabels: { app: 'web' },
    matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'staging'] }],
  };
  const rows: [name: string, extra: Partial<PoolSpec>, ns: string, labels: Record<string, string>, want: string | undefined][] = [
    ['no restrictions', {}, 'anything', {}, undefined],
    ['namespace listed', { namespaces: ['team-a', 'team-b'] }, 'team-b', {}, undefined],
    [
      'namespace not listed',
      { namespaces: ['team-a', 'team-b'] },
      'team-c',
      {},
      'namespace "team-c" is not in its namespaces (team-a, team-b)',
    ],
    ['selector matches', { serviceSelector: selector }, 'x', { app: 'web', env: 'prod' }, undefined],
    [
      'selector does not match',
      { serviceSelector: selector },
      'x',
      { app: 'web', env: 'dev' },
      "the Service's labels do not match its serviceSelector (app=web,env in (prod,staging))",
    ],
    [
      'namespace checked before selector',
      { namespaces: ['a'], serviceSelector: selector },
      'b',
      {},
      'namespace "b" is not in its namespaces (a)',
    ],
    [
      'empty selector matches everything',
      { serviceSelector: { matchLabels: {}, matchExpressions: [] } },
      'x',
      {},
      undefined,
    ],
  ];
  for (const [name, extra, ns, labels, want] of rows) {
    t.equal(new AddressPool(spec('p', ['10.0.0.0/30'], extra)).refusal(ns, labels), want, name);
  }
});

t.test('used and lowestFree match a model under random take/give (property)', async (t) => {
  const ranges = ['10.0.0.250-10.0.1.3', '10.0.3.0/30', '2001:db8::/126'];
  const all: IpAddress[] = [];
  for (const r of ranges.map((x) => IpRange.parse(x))) {
    for (let v = r.first; v <= r.last; v++) all.push(IpAddress.fromValue(r.family, v));
  }
  fc.assert(
    fc.property(fc.boolean(), fc.array(fc.tuple(fc.boolean(), fc.nat(all.length - 1)), { maxLength: 60 }), (avoid, ops) => {
      const p = new AddressPool(spec('p', ranges, { avoidBuggyIPs: avoid }));
      const held = new Set<string>();
      for (const [take, i] of ops) {
        const a = all[i] as IpAddress;
        if (avoid && isBuggyIPv4(a)) continue;
        if (take) {
          p.take(a);
          held.add(a.toString());
        } else {
          p.give(a);
          held.delete(a.toString());
        }
        if (p.used !== BigInt(held.size)) return false;
      }
      for (const family of ['IPv4', 'IPv6'] as const) {
        const want = all.find((a) => a.family === family && !held.has(a.toString()) && !(avoid && isBuggyIPv4(a)));
        if (p.lowestFree(family)?.toString() !== want?.toString()) return false;
      }
      const usable = all.filter((a) => !(avoid && isBuggyIPv4(a))).length;
      return p.size === BigInt(usable);
    }),
    { numRuns: 300 },
  );
  t.pass('300 random sequences agreed with the model');
});
