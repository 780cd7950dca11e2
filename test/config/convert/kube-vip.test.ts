import t from 'tap';
import fc from 'fast-check';
import type { ConfigProblem } from '../../../src/config/config-error.js';
import { convertKubeVip } from '../../../src/config/convert/kube-vip.js';
import { parseConfig } from '../../../src/config/parse.js';
import { Allocator, type AddressRequest } from '../../../src/ipam/allocator.js';
import { IpAddress } from '../../../src/net/ip.js';
import { problemsOf, roundTrips, summary } from './support.js';

const p = (name: string, ranges: string[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name,
  ranges,
  autoAssign: true,
  avoidBuggyIPs: true,
  namespaces: [],
  ...extra,
});

t.test('pools, their order and the addresses kube-vip hands out', async (t) => {
  const rows: [name: string, data: Record<string, string>, pools: unknown[]][] = [
    ['no keys: no pools', {}, []],
    ['cidr-global: every address of the CIDR, .0 and .255 avoided', { 'cidr-global': '10.0.0.0/24' }, [p('cidr-global', ['10.0.0.0/24'])]],
    ['range-global: the range', { 'range-global': '10.0.0.10-10.0.0.20' }, [p('range-global', ['10.0.0.10-10.0.0.20'])]],
    [
      'a namespace key becomes a pool for that namespace only, ahead of the global one',
      { 'cidr-global': '10.0.0.0/24', 'cidr-team': '10.0.1.0/28' },
      [p('cidr-team', ['10.0.1.0/28'], { namespaces: ['team'] }), p('cidr-global', ['10.0.0.0/24'])],
    ],
    [
      'order: cidr-<ns>, cidr-global, range-<ns>, range-global',
      { 'range-global': '10.0.3.1-10.0.3.9', 'range-b': '10.0.2.1-10.0.2.9', 'cidr-global': '10.0.1.0/28', 'cidr-b': '10.0.0.16/28', 'cidr-a': '10.0.0.0/28' },
      [
        p('cidr-a', ['10.0.0.0/28'], { namespaces: ['a'] }),
        p('cidr-b', ['10.0.0.16/28'], { namespaces: ['b'] }),
        p('cidr-global', ['10.0.1.0/28']),
        p('range-b', ['10.0.2.1-10.0.2.9'], { namespaces: ['b'], autoAssign: false }),
        p('range-global', ['10.0.3.1-10.0.3.9'], { autoAssign: false }),
      ],
    ],
    [
      'range-<ns> is used by kube-vip when no cidr key applies',
      { 'range-global': '10.0.3.1-10.0.3.9', 'range-b': '10.0.2.1-10.0.2.9', 'cidr-a': '10.0.0.0/28' },
      [
        p('cidr-a', ['10.0.0.0/28'], { namespaces: ['a'] }),
        p('range-b', ['10.0.2.1-10.0.2.9'], { namespaces: ['b'] }),
        p('range-global', ['10.0.3.1-10.0.3.9']),
      ],
    ],
    [
      'range-<ns> next to cidr-<ns> of the same namespace is never reached',
      { 'cidr-a': '10.0.0.0/28', 'range-a': '10.0.2.1-10.0.2.9' },
      [p('cidr-a', ['10.0.0.0/28'], { namespaces: ['a'] }), p('range-a', ['10.0.2.1-10.0.2.9'], { namespaces: ['a'], autoAssign: false })],
    ],
    [
      'comma-separated lists, spaces tolerated, overlapping ranges merged',
      { 'range-global': '10.0.0.10-10.0.0.20, 10.0.0.15-10.0.0.30,10.0.0.31-10.0.0.40,10.0.5.1-10.0.5.1' },
      [p('range-global', ['10.0.0.10-10.0.0.40', '10.0.5.1'])],
    ],
    [
      'skip-end-ips-in-cidr drops the first and last address of each IPv4 prefix',
      { 'cidr-global': '10.0.0.0/28,10.0.1.0/31,10.0.2.7/32', 'skip-end-ips-in-cidr': 'true' },
      [p('cidr-global', ['10.0.0.1-10.0.0.14', '10.0.1.0/31', '10.0.2.7'])],
    ],
    [
      'skip-end-ips-in-cidr works on the merged prefixes, as kube-vip\'s IP set does',
      { 'cidr-global': '10.0.0.0/25,10.0.0.128/25', 'skip-end-ips-in-cidr': 'true' },
      [p('cidr-global', ['10.0.0.1-10.0.0.254'])],
    ],
    ['skip-end-ips-in-cidr only when exactly "true"', { 'cidr-global': '10.0.0.0/28', 'skip-end-ips-in-cidr': 'True' }, [p('cidr-global', ['10.0.0.0/28'])]],
    ['skip-end-ips-in-cidr leaves ranges alone', { 'range-global': '10.0.0.0-10.0.0.15', 'skip-end-ips-in-cidr': 'true' }, [p('range-global', ['10.0.0.0/28'])]],
    [
      'kube-vip reads a value holding "/" as CIDRs whatever the key, and skips their ends',
      { 'range-global': '10.0.0.0/29', 'skip-end-ips-in-cidr': 'true' },
      [p('range-global', ['10.0.0.1-10.0.0.6'])],
    ],
    ['a range under a cidr- key is a range', { 'cidr-global': '10.0.0.1-10.0.0.5' }, [p('cidr-global', ['10.0.0.1-10.0.0.5'])]],
    [
      'IPv6 and dual-stack: IPv6 prefixes are never trimmed',
      { 'cidr-global': '10.0.0.0/30,2001:db8::/126', 'skip-end-ips-in-cidr': 'true' },
      [p('cidr-global', ['10.0.0.1-10.0.0.2', '2001:db8::/126'])],
    ],
    ['IPv6 only: nothing to avoid', { 'range-global': '2001:db8::10-2001:db8::2f' }, [p('range-global', ['2001:db8::10-2001:db8::2f'], { avoidBuggyIPs: false })]],
    [
      'an overlap stays with the pool that comes first',
      { 'cidr-global': '10.0.0.0/24', 'range-team': '10.0.0.10-10.0.0.20,10.0.1.1-10.0.1.9', 'cidr-team': '10.0.0.0/28' },
      [
        p('cidr-team', ['10.0.0.0/28'], { namespaces: ['team'] }),
        p('cidr-global', ['10.0.0.16-10.0.0.255']),
        p('range-team', ['10.0.1.1-10.0.1.9'], { namespaces: ['team'], autoAssign: false }),
      ],
    ],
    ['host bits are masked, as netip does', { 'cidr-global': '10.0.0.5/30' }, [p('cidr-global', ['10.0.0.4/30'])]],
  ];
  for (const [name, data, pools] of rows) {
    const c = convertKubeVip(data);
    t.same(summary(c.config), pools, name);
    t.same(summary(parseConfig(c.yaml)), pools, `${name}: the YAML says the same`);
  }
});

t.test('warnings say what barelb does differently and what to do', async (t) => {
  const rows: [name: string, data: Record<string, string>, want: [path: string, message: RegExp][]][] = [
    ['a plain global pool: none', { 'cidr-global': '10.0.0.0/24' }, []],
    ['no address keys', { 'skip-end-ips-in-cidr': 'false' }, [['data', /no cidr-\* or range-\* key/]]],
    [
      'allow-share of a namespace',
      { 'cidr-global': '10.0.0.0/24', 'allow-share-team': 'true' },
      [['allow-share-team', /namespace team share.*barelb\.io\/allow-shared-ip.*kubectl annotate service -n team <name> barelb\.io\/allow-shared-ip=team/]],
    ],
    ['allow-share-global, Go booleans', { 'cidr-global': '10.0.0.0/24', 'allow-share-global': 'T' }, [['allow-share-global', /namespaces without their own key share/]]],
    ['allow-share false: nothing to do', { 'cidr-global': '10.0.0.0/24', 'allow-share-global': 'false' }, []],
    ['allow-share not a boolean', { 'cidr-global': '10.0.0.0/24', 'allow-share-global': 'yes' }, [['allow-share-global', /"yes" is not true or false; kube-vip treats it as false/]]],
    ['interface', { 'cidr-global': '10.0.0.0/24', 'interface-global': 'eth1' }, [['interface-global', /announce.interfaces: \[eth1\]/]]],
    ['search-order desc', { 'cidr-global': '10.0.0.0/24', 'search-order': 'desc' }, [['search-order', /highest free address first; barelb always takes the lowest/]]],
    ['search-order asc: as barelb', { 'cidr-global': '10.0.0.0/24', 'search-order': 'asc' }, []],
    ['skip-end-ips-in-cidr odd value', { 'cidr-global': '10.0.0.0/24', 'skip-end-ips-in-cidr': 'yes' }, [['skip-end-ips-in-cidr', /treats it as false/]]],
    ['an unknown key', { 'cidr-global': '10.0.0.0/24', 'cidr_team': '10.0.1.0/24' }, [['cidr_team', /ignored: not a key kube-vip-cloud-provider reads/]]],
    ['a scope that is no namespace', { 'cidr-global': '10.0.0.0/24', 'cidr-Team': '10.0.1.0/24' }, [['cidr-Team', /"Team" is not a namespace name, so kube-vip never uses this key either/]]],
    ['an empty value', { 'cidr-global': '10.0.0.0/24', 'cidr-team': ' ' }, [['cidr-team', /ignored: empty/]]],
    ['host bits', { 'cidr-global': '10.0.0.5/24' }, [['cidr-global', /"10.0.0.5\/24" has host bits set.*10.0.0.0\/24/]]],
    [
      'a range key kube-vip never reaches',
      { 'cidr-global': '10.0.0.0/24', 'range-global': '10.0.1.1-10.0.1.9' },
      [['range-global', /never assigns from it, because cidr-global exists.*autoAssign: false/]],
    ],
    [
      'namespace pools next to a global one: barelb falls through',
      { 'cidr-global': '10.0.0.0/24', 'cidr-team': '10.0.1.0/24', 'range-dev': '10.0.2.1-10.0.2.9' },
      [
        ['range-dev', /never assigns from it, because cidr-global/],
        ['cidr-team', /namespace team addresses from its namespace's key only.*goes on to "cidr-global"/],
      ],
    ],
    [
      'overlaps',
      { 'cidr-global': '10.0.0.0/24', 'range-global': '10.0.0.5-10.0.0.5', 'cidr-team': '10.0.0.0/28' },
      [
        ['cidr-global', /10\.0\.0\.0\/28 is also in cidr-team.*stays in pool "cidr-team"/],
        ['range-global', /10\.0\.0\.5 is also in cidr-team/],
        ['range-global', /dropped: every address of it is in an earlier key/],
        ['cidr-team', /goes on to "cidr-global"/],
      ],
    ],
    [
      'a key too long for a pool name',
      { [`cidr-${'n'.repeat(63)}`]: '10.0.0.0/24' },
      [[`cidr-${'n'.repeat(63)}`, /becomes pool "cidr-n{49}-[0-9a-f]{8}"/]],
    ],
  ];
  for (const [name, data, want] of rows) {
    const got = convertKubeVip(data).warnings;
    t.equal(got.length, want.length, `${name}: ${want.length} warning(s), got ${got.map((w) => `${w.path}: ${w.message}`).join(' | ')}`);
    for (const [path, message] of want) t.ok(got.some((w) => w.path === path && message.test(w.message)), `${name}: ${path} ${message}`);
  }
});

t.test('problems name the key and the fix, all of them at once', async (t) => {
  const rows: [name: string, data: Record<string, string>, want: Partial<Record<keyof ConfigProblem, unknown>>[]][] = [
    ['DHCP', { 'cidr-team': '0.0.0.0/32' }, [{ path: 'cidr-team', message: /DHCP, which barelb does not do: list the addresses for Services in namespace team, or remove the key/ }]],
    ['a range among CIDRs', { 'cidr-global': '10.0.0.0/24,10.0.1.1-10.0.1.9' }, [{ path: 'cidr-global', value: '10.0.1.1-10.0.1.9', message: /not a CIDR.*range-global/ }]],
    ['not an address', { 'range-global': '10.0.0.1-10.0.0.x' }, [{ path: 'range-global', value: '10.0.0.1-10.0.0.x', message: /"10.0.0.x" is not an IP address/ }]],
    ['a reversed range', { 'range-global': '10.0.0.9-10.0.0.1' }, [{ path: 'range-global', message: /reversed/ }]],
    ['mixed families', { 'range-global': '10.0.0.1-2001:db8::1' }, [{ path: 'range-global', message: /different IP families/ }]],
    [
      'two keys, two problems',
      { 'cidr-a': '10.0.0.0/33', 'range-b': 'nope' },
      [{ path: 'cidr-a', message: /prefix length 33/ }, { path: 'range-b', message: /"nope" is not an IP address/ }],
    ],
  ];
  for (const [name, data, want] of rows) {
    const got = problemsOf(() => convertKubeVip(data));
    t.equal(got.length, want.length, `${name}: ${want.length} problem(s)`);
    want.forEach((w, i) => t.match(got[i], w, `${name}: problem ${i}`));
  }
});

// ---------------------------------------------------------------------------
// properties

const SCOPES = ['global', 'a', 'b'] as const;
const NAMESPACES = ['a', 'b', 'c'] as const;

/** One entry of a value, inside 10.0.<block>.0/24; blocks differ, so entries never overlap. */
const entry = (block: number, cidr: boolean): fc.Arbitrary<string> =>
  cidr
    ? fc.integer({ min: 24, max: 32 }).chain((bits) =>
        fc.integer({ min: 0, max: 2 ** (bits - 24) - 1 }).map((i) => `10.0.${block}.${i * 2 ** (32 - bits)}/${bits}`),
      )
    : fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map(([x, y]) => `10.0.${block}.${Math.min(x, y)}-10.0.${block}.${Math.max(x, y)}`);

/** A kubevip data map whose keys never overlap. */
const kubevipData = fc
  .tuple(
    fc.uniqueArray(fc.tuple(fc.constantFrom(...SCOPES), fc.constantFrom('cidr', 'range')), { minLength: 1, maxLength: 5, selector: ([s, k]) => `${k}-${s}` }),
    fc.boolean(),
  )
  .chain(([keys, skip]) =>
    fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: keys.length * 3, maxLength: keys.length * 3 }).chain((blocks) =>
      fc
        .tuple(
          ...keys.map(([scope, kind], i) =>
            fc.integer({ min: 1, max: 3 }).chain((n) => fc.tuple(...blocks.slice(i * 3, i * 3 + n).map((b) => entry(b, kind === 'cidr'))).map((es) => [`${kind}-${scope}`, es.join(',')] as const)),
          ),
        )
        .map((pairs) => ({ ...Object.fromEntries(pairs), ...(skip ? { 'skip-end-ips-in-cidr': 'true' } : {}) }) as Record<string, string>),
    ),
  );

/** kube-vip's choice for a namespace: the first of these keys that exists, and no other. */
function kubeVipKey(data: Record<string, string>, ns: string): string | undefined {
  return [`cidr-${ns}`, 'cidr-global', `range-${ns}`, 'range-global'].find((k) => data[k] !== undefined);
}

const v4 = (s: string): number => Number(IpAddress.parse(s).value);

/**
 * A model of what kube-vip-cloud-provider hands out of a key, address by
 * address: the union of its entries; for CIDRs cut into the largest aligned
 * blocks, and with skip-end-ips-in-cidr their ends dropped below /31; never
 * x.x.x.0 or x.x.x.255. Ascending.
 */
function kubeVipHosts(value: string, skipEnds: boolean): number[] {
  const set = new Set<number>();
  for (const e of value.split(',')) {
    if (e.includes('/')) {
      const [a, bits] = e.split('/') as [string, string];
      const size = 2 ** (32 - Number(bits));
      for (let i = 0; i < size; i++) set.add(v4(a) + i);
    } else {
      const [a, b] = e.split('-') as [string, string];
      for (let i = v4(a); i <= v4(b); i++) set.add(i);
    }
  }
  let out = [...set].sort((x, y) => x - y);
  if (value.includes('/') && skipEnds) {
    const kept: number[] = [];
    let i = 0;
    while (i < out.length) {
      const start = out[i] as number;
      let size = 1;
      while (size < 2 ** 32 && start % (size * 2) === 0 && set.has(start + size * 2 - 1) && out[i + size * 2 - 1] === start + size * 2 - 1) size *= 2;
      for (let j = 0; j < size; j++) if (size < 4 || (j !== 0 && j !== size - 1)) kept.push(start + j);
      i += size;
    }
    out = kept;
  }
  return out.filter((v) => v % 256 !== 0 && v % 256 !== 255);
}

function request(ns: string, n: number): AddressRequest {
  return { key: `${ns}/s${n}`, namespace: ns, labels: {}, pool: undefined, requestedIps: [], families: ['IPv4'], familyPolicy: 'SingleStack', sharingKey: undefined, ports: ['TCP/80'] };
}

t.test('property: the YAML parses back to the same pools', async (t) => {
  fc.assert(
    fc.property(kubevipData, (data) => roundTrips(convertKubeVip(data))),
    { numRuns: 300 },
  );
  t.pass('300 random kubevip ConfigMaps round-trip');
});

t.test('property: barelb hands a namespace the addresses kube-vip would, in the same order', async (t) => {
  fc.assert(
    fc.property(kubevipData, (data) => {
      const { config } = convertKubeVip(data);
      for (const ns of NAMESPACES) {
        const key = kubeVipKey(data, ns);
        if (key === undefined) continue;
        const want = kubeVipHosts(data[key] as string, data['skip-end-ips-in-cidr'] === 'true').slice(0, 40);
        const al = new Allocator(config.pools);
        const got: number[] = [];
        for (let i = 0; i < want.length; i++) {
          const r = al.assign(request(ns, i));
          if (!r.ok) throw new Error(`${ns}: ${r.error.message}`);
          if (r.assignment.pool !== key) throw new Error(`${ns}: took from ${r.assignment.pool}, kube-vip uses ${key}`);
          got.push(Number((r.assignment.ips[0] as IpAddress).value));
        }
        if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${ns} from ${key}: got ${got.join(',')}, kube-vip ${want.join(',')}`);
      }
      return true;
    }),
    { numRuns: 200 },
  );
  t.pass('200 random kubevip ConfigMaps agree with the model of kube-vip');
});

t.test('property: overlapping keys lose no address and never fail', async (t) => {
  // Values hold CIDRs or ranges (kube-vip takes nothing else), all in two blocks, so keys overlap often.
  const anyValue = fc.boolean().chain((cidr) => fc.array(fc.oneof(entry(1, cidr), entry(2, cidr)), { minLength: 1, maxLength: 3 }).map((es) => es.join(',')));
  fc.assert(
    fc.property(fc.dictionary(fc.constantFrom('cidr-global', 'range-global', 'cidr-a', 'range-a', 'cidr-b', 'range-b'), anyValue, { minKeys: 1 }), (data) => {
      const c = convertKubeVip(data);
      if (!roundTrips(c)) return false;
      const covered = new Set(c.config.pools.flatMap((p) => p.ranges.flatMap((r) => Array.from({ length: Number(r.size) }, (_, i) => Number(r.first) + i))));
      const all = Object.values(data).flatMap((v) => kubeVipHosts(v, false));
      return all.every((a) => covered.has(a));
    }),
    { numRuns: 200 },
  );
  t.pass('every address kube-vip could hand out is in some pool');
});
