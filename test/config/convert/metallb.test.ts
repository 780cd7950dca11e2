import t from 'tap';
import fc from 'fast-check';
import yaml from 'js-yaml';
import type { ConfigProblem } from '../../../src/config/config-error.js';
import { convertMetallb } from '../../../src/config/convert/metallb.js';
import { parseConfig } from '../../../src/config/parse.js';
import { problemsOf, roundTrips, summary } from './support.js';

const p = (name: string, ranges: string[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name,
  ranges,
  autoAssign: true,
  avoidBuggyIPs: false,
  namespaces: [],
  ...extra,
});

t.test('layer2 pools carry over with MetalLB\'s defaults', async (t) => {
  const rows: [name: string, config: string, pools: unknown[]][] = [
    ['empty config', '', []],
    ['no pools', 'address-pools: []\n', []],
    [
      'the MetalLB documentation\'s layer2 example',
      'address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n  - 192.168.1.240-192.168.1.250\n',
      [p('default', ['192.168.1.240-192.168.1.250'])],
    ],
    [
      'CIDRs, ranges with spaces, several pools in order',
      'address-pools:\n- name: b\n  protocol: layer2\n  addresses: [10.0.1.0/24, "10.0.2.1 - 10.0.2.9"]\n- name: a\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n',
      [p('b', ['10.0.1.0/24', '10.0.2.1-10.0.2.9']), p('a', ['10.0.0.0/24'])],
    ],
    [
      'auto-assign and avoid-buggy-ips',
      'address-pools:\n- name: x\n  protocol: layer2\n  auto-assign: false\n  avoid-buggy-ips: true\n  addresses: [10.0.0.0/24]\n',
      [p('x', ['10.0.0.0/24'], { autoAssign: false, avoidBuggyIPs: true })],
    ],
    [
      'YAML 1.1 booleans, as MetalLB\'s YAML library reads them',
      'address-pools:\n- name: x\n  protocol: layer2\n  auto-assign: no\n  avoid-buggy-ips: "on"\n  addresses: [10.0.0.0/24]\n',
      [p('x', ['10.0.0.0/24'], { autoAssign: false, avoidBuggyIPs: true })],
    ],
    ['IPv6', 'address-pools:\n- name: v6\n  protocol: layer2\n  addresses: ["2001:db8::/120"]\n', [p('v6', ['2001:db8::/120'])]],
    ['host bits masked, as Go\'s net.ParseCIDR does', 'address-pools:\n- name: x\n  protocol: layer2\n  addresses: [10.0.0.7/24]\n', [p('x', ['10.0.0.0/24'])]],
    ['a name that is no DNS label', 'address-pools:\n- name: Public_IPs\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n', [p('public-ips', ['10.0.0.0/24'])]],
    [
      'BGP settings without bgp pools',
      'peers:\n- peer-address: 10.0.0.1\n  peer-asn: 64501\n  my-asn: 64500\nbgp-communities:\n  no-advertise: 65535:65282\nbfd-profiles: []\naddress-pools:\n- name: x\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n',
      [p('x', ['10.0.0.0/24'])],
    ],
  ];
  for (const [name, text, pools] of rows) {
    const c = convertMetallb(text);
    t.same(summary(c.config), pools, name);
    t.same(summary(parseConfig(c.yaml)), pools, `${name}: the YAML says the same`);
  }
});

t.test('warnings', async (t) => {
  const rows: [name: string, config: string, want: [path: string, message: RegExp][]][] = [
    ['none for a plain pool', 'address-pools:\n- name: x\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n', []],
    [
      'a renamed pool',
      'address-pools:\n- name: Public_IPs\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n',
      [['address-pools[0].name', /"Public_IPs" is named "public-ips".*barelb\.io\/address-pool: public-ips/]],
    ],
    ['host bits', 'address-pools:\n- name: x\n  protocol: layer2\n  addresses: [10.0.0.7/24]\n', [['address-pools[0].addresses[0]', /host bits set.*10\.0\.0\.0\/24/]]],
    [
      'BGP settings',
      'peers:\n- peer-address: 10.0.0.1\n  peer-asn: 64501\n  my-asn: 64500\nbgp-communities:\n  no-advertise: 65535:65282\nbfd-profiles: []\n',
      [
        ['peers', /ignored: BGP peers are BGP settings and barelb announces with ARP \(layer 2\) only/],
        ['bgp-communities', /ignored: BGP communities/],
      ],
    ],
  ];
  for (const [name, text, want] of rows) {
    const got = convertMetallb(text).warnings;
    t.equal(got.length, want.length, `${name}: ${want.length} warning(s), got ${got.map((w) => `${w.path}: ${w.message}`).join(' | ')}`);
    for (const [path, message] of want) t.ok(got.some((w) => w.path === path && message.test(w.message)), `${name}: ${path} ${message}`);
  }
});

t.test('problems name the pool, the key and the fix, all of them at once', async (t) => {
  const rows: [name: string, config: string, want: Partial<Record<keyof ConfigProblem, unknown>>[]][] = [
    [
      'a bgp pool',
      'address-pools:\n- name: edge\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n',
      [{ path: 'address-pools[0].protocol', pool: 'edge', value: 'bgp', message: /bgp is not supported: barelb announces addresses with ARP \(layer 2\) only\. Set protocol: layer2/ }],
    ],
    ['no protocol', 'address-pools:\n- name: x\n  addresses: [10.0.0.0/24]\n', [{ path: 'address-pools[0].protocol', pool: 'x', message: /is required.*set protocol: layer2/ }]],
    ['another protocol', 'address-pools:\n- name: x\n  protocol: arp\n  addresses: [10.0.0.0/24]\n', [{ path: 'address-pools[0].protocol', message: /"arp" is not a MetalLB protocol/ }]],
    ['no name', 'address-pools:\n- protocol: layer2\n  addresses: [10.0.0.0/24]\n', [{ path: 'address-pools[0].name', pool: undefined, message: /is required/ }]],
    ['a name with nothing usable', 'address-pools:\n- name: "__"\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n', [{ path: 'address-pools[0].name', message: /cannot be turned into a barelb pool name/ }]],
    ['no addresses', 'address-pools:\n- name: x\n  protocol: layer2\n', [{ path: 'address-pools[0].addresses', pool: 'x', message: /is required/ }]],
    ['a bad address', 'address-pools:\n- name: x\n  protocol: layer2\n  addresses: [10.0.0.300/24]\n', [{ path: 'address-pools[0].addresses[0]', pool: 'x', value: '10.0.0.300/24' }]],
    ['a reversed range', 'address-pools:\n- name: x\n  protocol: layer2\n  addresses: [10.0.0.9-10.0.0.1]\n', [{ path: 'address-pools[0].addresses[0]', message: /reversed/ }]],
    ['an address that is no string', 'address-pools:\n- name: x\n  protocol: layer2\n  addresses: [42]\n', [{ path: 'address-pools[0].addresses[0]', message: /must be a string/ }]],
    [
      'overlap inside a pool',
      'address-pools:\n- name: x\n  protocol: layer2\n  addresses: [10.0.0.0/24, 10.0.0.5-10.0.0.6]\n',
      [{ path: 'address-pools[0].addresses[1]', message: /overlaps address-pools\[0\]\.addresses\[0\]/ }],
    ],
    [
      'overlap between pools',
      'address-pools:\n- name: x\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n- name: y\n  protocol: layer2\n  addresses: [10.0.0.128/25]\n',
      [{ path: 'address-pools[1].addresses[0]', pool: 'y', message: /overlaps 10\.0\.0\.0\/24 of pool "x"/ }],
    ],
    [
      'duplicate names, also after renaming',
      'address-pools:\n- name: Web\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n- name: web\n  protocol: layer2\n  addresses: [10.0.1.0/24]\n',
      [{ path: 'address-pools[1].name', pool: 'web', message: /duplicate pool name, first used by address-pools\[0\] \(MetalLB rejects this too\)/ }],
    ],
    [
      'bgp-advertisements on a layer2 pool',
      'address-pools:\n- name: x\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - aggregation-length: 32\n',
      [{ path: 'address-pools[0].bgp-advertisements', message: /a layer2 pool cannot have bgp-advertisements.*remove it/ }],
    ],
    ['an unknown pool key, with a hint', 'address-pools:\n- name: x\n  protocol: layer2\n  autoAssign: false\n  addresses: [10.0.0.0/24]\n', [{ path: 'address-pools[0].autoAssign', message: /did you mean "auto-assign"/ }]],
    ['an unknown top-level key', 'address_pools: []\n', [{ path: 'address_pools', message: /unknown key.*did you mean "address-pools"/ }]],
    ['not a boolean', 'address-pools:\n- name: x\n  protocol: layer2\n  auto-assign: maybe\n  addresses: [10.0.0.0/24]\n', [{ path: 'address-pools[0].auto-assign', message: /"maybe" must be true or false/ }]],
    ['not YAML', 'address-pools: [\n', [{ path: 'config', message: /not valid YAML/ }]],
    ['not a mapping', '- a\n', [{ path: 'config', message: /must be a mapping, got a list/ }]],
    ['pools not a list', 'address-pools: {}\n', [{ path: 'address-pools', message: /must be a list/ }]],
    [
      'two bad pools, two problems',
      'address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n- name: b\n  protocol: layer2\n  addresses: [nope]\n',
      [{ path: 'address-pools[0].protocol', pool: 'a' }, { path: 'address-pools[1].addresses[0]', pool: 'b' }],
    ],
  ];
  for (const [name, text, want] of rows) {
    const got = problemsOf(() => convertMetallb(text));
    t.equal(got.length, want.length, `${name}: ${want.length} problem(s), got ${got.map((g) => `${g.path}: ${g.message}`).join(' | ')}`);
    want.forEach((w, i) => t.match(got[i], w, `${name}: problem ${i}`));
  }
});

// ---------------------------------------------------------------------------
// property: any valid layer2 MetalLB config converts, keeps every pool and
// address with MetalLB's defaults, and its YAML parses back to the same pools

/** An entry in 10.<block>.0.0/16 as a CIDR (maybe with host bits) or a range (maybe with spaces). */
const entry = (block: number): fc.Arbitrary<{ text: string; first: number; last: number }> => {
  const base = (10 << 24) + (block << 16);
  const cidr = fc.integer({ min: 16, max: 32 }).chain((bits) =>
    fc.tuple(fc.integer({ min: 0, max: 2 ** (bits - 16) - 1 }), fc.integer({ min: 0, max: 2 ** (32 - bits) - 1 })).map(([i, host]) => {
      const first = base + i * 2 ** (32 - bits);
      return { text: `${dotted(first + host)}/${bits}`, first, last: first + 2 ** (32 - bits) - 1 };
    }),
  );
  const range = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.constantFrom('-', ' - ', '- ')).map(([x, y, dash]) => {
    const [first, last] = [base + Math.min(x, y), base + Math.max(x, y)];
    return { text: `${dotted(first)}${dash}${dotted(last)}`, first, last };
  });
  return fc.oneof(cidr, range);
};

function dotted(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

const boolish = fc.constantFrom(undefined, true, false, 'yes', 'no', 'on', 'off');
const truth = (v: unknown, dflt: boolean): boolean => (v === undefined ? dflt : v === true || v === 'yes' || v === 'on');

const metallbConfig = fc
  .uniqueArray(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.-]{0,20}$/), { minLength: 0, maxLength: 6, selector: (n) => n.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') })
  .chain((names) =>
    fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: names.length * 3, maxLength: names.length * 3 }).chain((blocks) =>
      fc.tuple(
        ...names.map((name, i) =>
          fc.record({
            name: fc.constant(name),
            entries: fc.integer({ min: 1, max: 3 }).chain((n) => fc.tuple(...blocks.slice(i * 3, i * 3 + n).map(entry))),
            autoAssign: boolish,
            avoidBuggyIPs: boolish,
          }),
        ),
      ),
    ),
  );

t.test('property: valid layer2 configs convert whole and round-trip', async (t) => {
  fc.assert(
    fc.property(metallbConfig, (pools) => {
      const doc = {
        'address-pools': pools.map((pl) => ({
          name: pl.name,
          protocol: 'layer2',
          addresses: pl.entries.map((e) => e.text),
          ...(pl.autoAssign === undefined ? {} : { 'auto-assign': pl.autoAssign }),
          ...(pl.avoidBuggyIPs === undefined ? {} : { 'avoid-buggy-ips': pl.avoidBuggyIPs }),
        })),
      };
      const c = convertMetallb(yaml.dump(doc));
      if (c.config.pools.length !== pools.length) return false;
      for (const [i, pl] of pools.entries()) {
        const got = c.config.pools[i];
        if (!got || got.autoAssign !== truth(pl.autoAssign, true) || got.avoidBuggyIPs !== truth(pl.avoidBuggyIPs, false)) return false;
        if (got.namespaces.length !== 0 || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(got.name)) return false;
        const want = pl.entries.map((e) => `${e.first}-${e.last}`);
        if (JSON.stringify(got.ranges.map((r) => `${r.first}-${r.last}`)) !== JSON.stringify(want)) return false;
      }
      return roundTrips(c);
    }),
    { numRuns: 300 },
  );
  t.pass('300 random MetalLB configs');
});
