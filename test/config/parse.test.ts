import t from 'tap';
import fc from 'fast-check';
import { parseConfig } from '../../src/config/parse.js';
import { InvalidConfigError, formatProblem, type ConfigProblem } from '../../src/config/config-error.js';
import { DEFAULT_ANNOUNCE, type BarelbConfig } from '../../src/config/types.js';

/** A config with ranges printed, so `t.same` compares text rather than bigints. */
function summary(c: BarelbConfig): unknown {
  return {
    pools: c.pools.map((p) => ({ ...p, ranges: p.ranges.map((r) => `${r.family} ${r.toString()}`) })),
    announce: c.announce,
  };
}

function problemsOf(yamlText: string): readonly ConfigProblem[] {
  try {
    parseConfig(yamlText);
  } catch (err) {
    if (err instanceof InvalidConfigError) return err.problems;
    throw err;
  }
  throw new Error('parseConfig accepted the document');
}

t.test('valid configs', async (t) => {
  const pool = (name: string, ranges: string[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    name,
    ranges,
    autoAssign: true,
    avoidBuggyIPs: false,
    namespaces: [],
    serviceSelector: undefined,
    ...extra,
  });
  const rows: [name: string, yaml: string, want: { pools: unknown[]; announce?: unknown }][] = [
    ['empty document', '', { pools: [] }],
    ['whitespace only', '  \n\n   \n', { pools: [] }],
    ['comment only', '# nothing here\n', { pools: [] }],
    ['explicit null document', '---\n', { pools: [] }],
    ['empty pool list', 'pools: []\n', { pools: [] }],
    ['empty mapping', '{}\n', { pools: [] }],
    [
      'one IPv4 pool, defaults filled in',
      'pools:\n  - name: default\n    addresses: [198.51.100.64/28]\n',
      { pools: [pool('default', ['IPv4 198.51.100.64-198.51.100.79'])] },
    ],
    [
      'range forms: CIDR, first-last, single',
      'pools:\n  - name: mix\n    addresses:\n      - 10.0.0.0/30\n      - 10.0.1.10-10.0.1.20\n      - 10.0.2.7\n',
      { pools: [pool('mix', ['IPv4 10.0.0.0-10.0.0.3', 'IPv4 10.0.1.10-10.0.1.20', 'IPv4 10.0.2.7'])] },
    ],
    [
      'IPv6 pool',
      'pools:\n  - name: v6\n    addresses: ["2001:db8::/126", "2001:db8:1::10-2001:db8:1::1f"]\n',
      { pools: [pool('v6', ['IPv6 2001:db8::-2001:db8::3', 'IPv6 2001:db8:1::10-2001:db8:1::1f'])] },
    ],
    [
      'dual-stack pool and several pools keep their order',
      [
        'pools:',
        '  - name: dual',
        '    addresses: [192.0.2.0/30, "2001:db8::/127"]',
        '  - name: extra',
        '    addresses: [192.0.2.4/30]',
        '    autoAssign: false',
        '    avoidBuggyIPs: true',
        '',
      ].join('\n'),
      {
        pools: [
          pool('dual', ['IPv4 192.0.2.0-192.0.2.3', 'IPv6 2001:db8::-2001:db8::1']),
          pool('extra', ['IPv4 192.0.2.4-192.0.2.7'], { autoAssign: false, avoidBuggyIPs: true }),
        ],
      },
    ],
    [
      'namespaces (deduplicated) and serviceSelector',
      [
        'pools:',
        '  - name: team-a',
        '    addresses: [10.1.0.0/24]',
        '    namespaces: [team-a, team-a-staging, team-a]',
        '    serviceSelector:',
        '      matchLabels: {app: web, "example.com/tier": front, empty: ""}',
        '      matchExpressions:',
        '        - {key: env, operator: In, values: [prod, staging]}',
        '        - {key: env, operator: NotIn, values: [dev]}',
        '        - {key: gpu, operator: Exists}',
        '        - {key: canary, operator: DoesNotExist, values: []}',
        '',
      ].join('\n'),
      {
        pools: [
          pool('team-a', ['IPv4 10.1.0.0-10.1.0.255'], {
            namespaces: ['team-a', 'team-a-staging'],
            serviceSelector: {
              matchLabels: { app: 'web', 'example.com/tier': 'front', empty: '' },
              matchExpressions: [
                { key: 'env', operator: 'In', values: ['prod', 'staging'] },
                { key: 'env', operator: 'NotIn', values: ['dev'] },
                { key: 'gpu', operator: 'Exists', values: [] },
                { key: 'canary', operator: 'DoesNotExist', values: [] },
              ],
            },
          }),
        ],
      },
    ],
    [
      'null namespaces and serviceSelector mean none',
      'pools:\n  - name: p\n    addresses: [10.0.0.1]\n    namespaces:\n    serviceSelector:\n',
      { pools: [pool('p', ['IPv4 10.0.0.1'])] },
    ],
    [
      'empty serviceSelector is kept (matches everything)',
      'pools:\n  - name: p\n    addresses: [10.0.0.1]\n    serviceSelector: {}\n',
      { pools: [pool('p', ['IPv4 10.0.0.1'], { serviceSelector: { matchLabels: {}, matchExpressions: [] } })] },
    ],
    [
      'adjacent ranges and adjacent pools are fine',
      'pools:\n  - name: a\n    addresses: [10.0.0.0/31, 10.0.0.2/31]\n  - name: b\n    addresses: [10.0.0.4-10.0.0.4]\n',
      { pools: [pool('a', ['IPv4 10.0.0.0-10.0.0.1', 'IPv4 10.0.0.2-10.0.0.3']), pool('b', ['IPv4 10.0.0.4'])] },
    ],
    [
      'same numbers in two families do not overlap',
      'pools:\n  - name: a\n    addresses: [0.0.0.0/30]\n  - name: b\n    addresses: ["::/126"]\n',
      { pools: [pool('a', ['IPv4 0.0.0.0-0.0.0.3']), pool('b', ['IPv6 ::-::3'])] },
    ],
    [
      'longest pool name (63)',
      `pools:\n  - name: ${'a'.repeat(63)}\n    addresses: [10.0.0.1]\n`,
      { pools: [pool('a'.repeat(63), ['IPv4 10.0.0.1'])] },
    ],
    [
      'announce section',
      [
        'announce:',
        '  nodeSelector:',
        '    matchLabels: {node-role.kubernetes.io/lb: ""}',
        '  interfaces: [eth0, bond0.100, eth0]',
        '  garpRefreshSeconds: 30',
        '',
      ].join('\n'),
      {
        pools: [],
        announce: {
          nodeSelector: { matchLabels: { 'node-role.kubernetes.io/lb': '' }, matchExpressions: [] },
          interfaces: ['eth0', 'bond0.100'],
          garpRefreshSeconds: 30,
        },
      },
    ],
    ['announce: empty mapping gives defaults', 'announce: {}\n', { pools: [], announce: DEFAULT_ANNOUNCE }],
    [
      'announce: limits of garpRefreshSeconds',
      'announce: {garpRefreshSeconds: 86400}\n',
      { pools: [], announce: { nodeSelector: undefined, interfaces: [], garpRefreshSeconds: 86400 } },
    ],
  ];
  for (const [name, yaml, want] of rows) {
    let got: BarelbConfig;
    try {
      got = parseConfig(yaml);
    } catch (err) {
      t.fail(`${name}: ${(err as Error).message}`);
      continue;
    }
    t.same(summary(got), { pools: want.pools, announce: want.announce ?? DEFAULT_ANNOUNCE }, name);
    // exact, not just a subset: serviceSelector must be present and undefined, etc.
    t.strictSame(Object.keys(got).sort(), ['announce', 'pools'], `${name}: top-level keys`);
    for (const p of got.pools) {
      t.strictSame(
        Object.keys(p).sort(),
        ['autoAssign', 'avoidBuggyIPs', 'name', 'namespaces', 'ranges', 'serviceSelector'],
        `${name}: pool ${p.name} keys`,
      );
    }
  }
});

t.test('invalid configs: one row per kind of problem', async (t) => {
  const P = (body: string): string => `pools:\n  - name: p1\n    addresses: [10.0.0.0/24]\n${body}`;
  const rows: [name: string, yaml: string, path: string, pool: string | undefined, message: string | RegExp][] = [
    ['bad YAML', 'pools: [\n', '', undefined, /^not valid YAML: /],
    ['bad YAML (tab indentation)', 'pools:\n\t- name: a\n', '', undefined, /^not valid YAML: /],
    ['duplicate YAML key', 'pools: []\npools: []\n', '', undefined, /not valid YAML: duplicated mapping key/],
    ['top level is a list', '- a\n- b\n', '', undefined, 'must be a mapping, got a list'],
    ['top level is a scalar', 'hello\n', '', undefined, 'must be a mapping, got string "hello"'],
    ['unknown top-level key', 'pools: []\nspeakers: 3\n', 'speakers', undefined, 'unknown key (known: pools, announce)'],
    ['unknown top-level key with hint', 'Pools: []\n', 'Pools', undefined, 'unknown key; did you mean "pools"?'],
    ['pools not a list', 'pools: {name: a}\n', 'pools', undefined, 'must be a list, got a mapping'],
    ['pools null', 'pools:\n', 'pools', undefined, 'must be a list, got null'],
    ['pool not a mapping', 'pools: [10.0.0.0/24]\n', 'pools[0]', undefined, 'must be a mapping, got string "10.0.0.0/24"'],
    ['missing name', 'pools:\n  - addresses: [10.0.0.0/24]\n', 'pools[0].name', undefined, 'is required'],
    ['name with uppercase', 'pools:\n  - name: Pool-A\n    addresses: [10.0.0.0/24]\n', 'pools[0].name', undefined, '"Pool-A" must be a DNS label'],
    ['name with underscore', 'pools:\n  - name: my_pool\n    addresses: [10.0.0.0/24]\n', 'pools[0].name', undefined, 'must be a DNS label'],
    ['name ending in -', 'pools:\n  - name: pool-\n    addresses: [10.0.0.0/24]\n', 'pools[0].name', undefined, 'must be a DNS label'],
    ['name too long (64)', `pools:\n  - name: ${'a'.repeat(64)}\n    addresses: [10.0.0.0/24]\n`, 'pools[0].name', undefined, 'must be a DNS label'],
    ['name not a string', 'pools:\n  - name: 42\n    addresses: [10.0.0.0/24]\n', 'pools[0].name', undefined, '42 must be a DNS label'],
    [
      'duplicate pool names',
      'pools:\n  - name: a\n    addresses: [10.0.0.0/24]\n  - name: a\n    addresses: [10.0.1.0/24]\n',
      'pools[1].name',
      'a',
      'duplicate pool name, first used by pools[0]',
    ],
    ['missing addresses', 'pools:\n  - name: p1\n', 'pools[0].addresses', 'p1', 'is required'],
    ['empty addresses', 'pools:\n  - name: p1\n    addresses: []\n', 'pools[0].addresses', 'p1', 'is empty'],
    ['addresses not a list', 'pools:\n  - name: p1\n    addresses: 10.0.0.0/24\n', 'pools[0].addresses', 'p1', 'must be a list, got string'],
    ['address not a string', 'pools:\n  - name: p1\n    addresses: [12]\n', 'pools[0].addresses[0]', 'p1', '12 must be a string such as'],
    [
      'bad address',
      'pools:\n  - name: p1\n    addresses: [10.0.0.0/24, 10.0.300.1]\n',
      'pools[0].addresses[1]',
      'p1',
      '"10.0.300.1" is not an address range: "10.0.300.1" is not an IP address',
    ],
    [
      'reversed range',
      'pools:\n  - name: p1\n    addresses: [10.0.0.9-10.0.0.1]\n',
      'pools[0].addresses[0]',
      'p1',
      'reversed: 10.0.0.9 comes after 10.0.0.1',
    ],
    [
      'mixed-family range',
      'pools:\n  - name: p1\n    addresses: ["10.0.0.1-::1"]\n',
      'pools[0].addresses[0]',
      'p1',
      'different IP families',
    ],
    [
      'CIDR with host bits set',
      'pools:\n  - name: p1\n    addresses: [10.0.0.5/24]\n',
      'pools[0].addresses[0]',
      'p1',
      'host bits are set; did you mean 10.0.0.0/24?',
    ],
    [
      'overlapping ranges within a pool',
      'pools:\n  - name: p1\n    addresses: [10.0.0.0/24, 10.0.1.0/24, 10.0.1.128-10.0.2.5]\n',
      'pools[0].addresses[2]',
      'p1',
      'overlaps pools[0].addresses[1] (10.0.1.0-10.0.1.255)',
    ],
    [
      'overlapping pools',
      'pools:\n  - name: a\n    addresses: [10.0.0.0/24]\n  - name: b\n    addresses: [10.0.1.0/24, 10.0.0.200-10.0.0.210]\n',
      'pools[1].addresses[1]',
      'b',
      '10.0.0.200-10.0.0.210 overlaps 10.0.0.0/24 of pool "a": an address can belong to one pool only',
    ],
    ['non-boolean autoAssign', P('    autoAssign: "false"\n'), 'pools[0].autoAssign', 'p1', '"false" must be true or false'],
    ['yes is not a boolean', P('    autoAssign: yes\n'), 'pools[0].autoAssign', 'p1', '"yes" must be true or false'],
    ['non-boolean avoidBuggyIPs', P('    avoidBuggyIPs: 1\n'), 'pools[0].avoidBuggyIPs', 'p1', '1 must be true or false'],
    ['bad namespace', P('    namespaces: [default, Kube_System]\n'), 'pools[0].namespaces[1]', 'p1', '"Kube_System" is not a namespace name'],
    ['namespaces not a list', P('    namespaces: default\n'), 'pools[0].namespaces', 'p1', 'must be a list, got string "default"'],
    [
      'selector not a mapping',
      P('    serviceSelector: [app]\n'),
      'pools[0].serviceSelector',
      'p1',
      'must be a mapping, got a list',
    ],
    [
      'unknown selector key',
      P('    serviceSelector: {matchLabel: {app: web}}\n'),
      'pools[0].serviceSelector.matchLabel',
      'p1',
      'unknown key (known: matchLabels, matchExpressions)',
    ],
    [
      'bad label key',
      P('    serviceSelector: {matchLabels: {"-app": web}}\n'),
      'pools[0].serviceSelector.matchLabels',
      'p1',
      '"-app" is not a valid label key',
    ],
    [
      'unquoted boolean label value',
      P('    serviceSelector: {matchLabels: {enabled: true}}\n'),
      'pools[0].serviceSelector.matchLabels.enabled',
      'p1',
      'true is not a valid label value (quote numbers and booleans)',
    ],
    [
      'bad label value',
      P('    serviceSelector: {matchLabels: {app: "web server"}}\n'),
      'pools[0].serviceSelector.matchLabels.app',
      'p1',
      '"web server" is not a valid label value',
    ],
    [
      'label value too long (64)',
      P(`    serviceSelector: {matchLabels: {app: ${'v'.repeat(64)}}}\n`),
      'pools[0].serviceSelector.matchLabels.app',
      'p1',
      'is not a valid label value',
    ],
    [
      'bad expression value',
      P('    serviceSelector:\n      matchExpressions: [{key: env, operator: In, values: [prod, "-x"]}]\n'),
      'pools[0].serviceSelector.matchExpressions[0].values[1]',
      'p1',
      '"-x" is not a label value',
    ],
    [
      'bad selector operator',
      P('    serviceSelector:\n      matchExpressions: [{key: env, operator: Equals, values: [prod]}]\n'),
      'pools[0].serviceSelector.matchExpressions[0].operator',
      'p1',
      '"Equals" must be one of In, NotIn, Exists, DoesNotExist',
    ],
    [
      'lowercase operator',
      P('    serviceSelector:\n      matchExpressions: [{key: env, operator: in, values: [prod]}]\n'),
      'pools[0].serviceSelector.matchExpressions[0].operator',
      'p1',
      '"in" must be one of',
    ],
    [
      'In without values',
      P('    serviceSelector:\n      matchExpressions: [{key: env, operator: In}]\n'),
      'pools[0].serviceSelector.matchExpressions[0].values',
      'p1',
      'operator In needs at least one value',
    ],
    [
      'NotIn with empty values',
      P('    serviceSelector:\n      matchExpressions: [{key: env, operator: NotIn, values: []}]\n'),
      'pools[0].serviceSelector.matchExpressions[0].values',
      'p1',
      'operator NotIn needs at least one value',
    ],
    [
      'Exists with values',
      P('    serviceSelector:\n      matchExpressions: [{key: env, operator: Exists, values: [x]}]\n'),
      'pools[0].serviceSelector.matchExpressions[0].values',
      'p1',
      'operator Exists takes no values',
    ],
    [
      'bad expression key',
      P('    serviceSelector:\n      matchExpressions: [{operator: Exists}]\n'),
      'pools[0].serviceSelector.matchExpressions[0].key',
      'p1',
      'undefined is not a valid label key',
    ],
    [
      'unknown expression key',
      P('    serviceSelector:\n      matchExpressions: [{key: env, operator: Exists, value: x}]\n'),
      'pools[0].serviceSelector.matchExpressions[0].value',
      'p1',
      'unknown key (known: key, operator, values)',
    ],
    ['announce not a mapping', 'announce: true\n', 'announce', undefined, 'must be a mapping, got boolean true'],
    ['unknown announce key', 'announce: {interface: eth0}\n', 'announce.interface', undefined, 'unknown key (known: nodeSelector, interfaces, garpRefreshSeconds)'],
    ['bad interface name', 'announce: {interfaces: ["eth 0"]}\n', 'announce.interfaces[0]', undefined, '"eth 0" is not an interface name'],
    ['interface name too long', 'announce: {interfaces: [abcdefghijklmnop]}\n', 'announce.interfaces[0]', undefined, 'is not an interface name'],
    ['negative garpRefreshSeconds', 'announce: {garpRefreshSeconds: -1}\n', 'announce.garpRefreshSeconds', undefined, '-1 must be a whole number of seconds from 0 to 86400'],
    ['fractional garpRefreshSeconds', 'announce: {garpRefreshSeconds: 1.5}\n', 'announce.garpRefreshSeconds', undefined, '1.5 must be a whole number'],
    ['too large garpRefreshSeconds', 'announce: {garpRefreshSeconds: 86401}\n', 'announce.garpRefreshSeconds', undefined, 'must be a whole number'],
    ['string garpRefreshSeconds', 'announce: {garpRefreshSeconds: "30"}\n', 'announce.garpRefreshSeconds', undefined, '"30" must be a whole number'],
    [
      'bad nodeSelector operator',
      'announce:\n  nodeSelector:\n    matchExpressions: [{key: zone, operator: Matches}]\n',
      'announce.nodeSelector.matchExpressions[0].operator',
      undefined,
      '"Matches" must be one of',
    ],
  ];
  for (const [name, yaml, path, pool, message] of rows) {
    let problems: readonly ConfigProblem[];
    try {
      problems = problemsOf(yaml);
    } catch (err) {
      t.fail(`${name}: ${(err as Error).message}`);
      continue;
    }
    t.equal(problems.length, 1, `${name}: exactly one problem (${problems.map(formatProblem).join('; ')})`);
    const p = problems[0];
    t.equal(p?.path, path, `${name}: path`);
    t.equal(p?.pool, pool, `${name}: pool`);
    t.match(p?.message, message, `${name}: message`);
  }
});

t.test('an unknown key in a pool gets a "did you mean" hint', async (t) => {
  const rows: [key: string, hint: string][] = [
    ['auto-assign', 'autoAssign'],
    ['auto_assign', 'autoAssign'],
    ['autoassign', 'autoAssign'],
    ['avoid-buggy-ips', 'avoidBuggyIPs'],
    ['Namespaces', 'namespaces'],
    ['service-selector', 'serviceSelector'],
  ];
  for (const [key, hint] of rows) {
    const problems = problemsOf(`pools:\n  - name: p1\n    addresses: [10.0.0.0/24]\n    ${key}: false\n`);
    t.equal(problems.length, 1, key);
    t.equal(problems[0]?.path, `pools[0].${key}`, `${key}: path`);
    t.equal(problems[0]?.message, `unknown key; did you mean "${hint}"?`, `${key}: message`);
    t.equal(problems[0]?.value, false, `${key}: value`);
  }
  const far = problemsOf('pools:\n  - name: p1\n    addresses: [10.0.0.0/24]\n    color: blue\n');
  t.equal(far[0]?.message, 'unknown key (known: name, addresses, autoAssign, avoidBuggyIPs, namespaces, serviceSelector)');
});

// ConfigProblem.pool is documented as "the pool the problem is in, when it is in one that has a name".
// An unknown key sits in pool "p1", so its problem should say so.
t.test('an unknown key in a named pool names the pool', async (t) => {
  const problems = problemsOf('pools:\n  - name: p1\n    addresses: [10.0.0.0/24]\n    auto-assign: false\n');
  t.equal(problems[0]?.path, 'pools[0].auto-assign');
  t.equal(problems[0]?.pool, 'p1', 'problem.pool is the name of the pool the key is in');
});

t.test('every problem is reported at once', async (t) => {
  const yaml = [
    'pools:',
    '  - name: dup',
    '    addresses: [10.2.0.0/24]',
    '  - name: dup', // 1 duplicate name
    '    addresses: [10.2.0.128/25]', // 2 overlaps the first "dup"
    '  - name: Bad_Name', // 3 name
    '    addresses: [10.0.0.0/24]',
    '  - name: good',
    '    addresses: [10.1.0.0/24, 10.1.0.1/24, nope]', // 4 host bits, 5 bad address
    '    autoAssign: maybe', // 6
    '    namespaces: [ok, NOT_OK]', // 7
    'announce:',
    '  garpRefreshSeconds: -5', // 8
    'extra: 1', // 9
    '',
  ].join('\n');
  let err: unknown;
  try {
    parseConfig(yaml);
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof InvalidConfigError, 'throws InvalidConfigError');
  const e = err as InvalidConfigError;
  t.equal(e.code, 'BARELB_INVALID_CONFIG');
  const got = e.problems.map((p) => [p.path, p.pool]);
  t.same(
    got.sort(),
    [
      ['extra', undefined],
      ['pools[1].name', 'dup'],
      ['pools[1].addresses[0]', 'dup'],
      ['pools[2].name', undefined],
      ['pools[3].addresses[1]', 'good'],
      ['pools[3].addresses[2]', 'good'],
      ['pools[3].autoAssign', 'good'],
      ['pools[3].namespaces[1]', 'good'],
      ['announce.garpRefreshSeconds', undefined],
    ].sort(),
  );
  // the summary message lists every problem, with the pool when known
  t.match(e.message, /^invalid config: /);
  for (const p of e.problems) t.ok(e.message.includes(formatProblem(p)), `message includes ${p.path}`);
  t.match(e.message, 'pools[3].autoAssign (pool "good"): "maybe" must be true or false');
  t.match(e.message, 'extra: unknown key');
});

// Cross-pool checks must point at the pool's place in the YAML list, even when an
// earlier pool was itself invalid (and so left out of the parsed list).
t.test('cross-pool problems use the YAML index after an invalid pool', async (t) => {
  const dup = problemsOf(
    [
      'pools:',
      '  - name: Broken', // invalid: not a DNS label
      '    addresses: [10.9.0.0/24]',
      '  - name: a',
      '    addresses: [10.0.0.0/24]',
      '  - name: a',
      '    addresses: [10.1.0.0/24]',
      '',
    ].join('\n'),
  );
  t.same(
    dup.map((p) => [p.path, p.pool, p.message]),
    [
      ['pools[0].name', undefined, '"Broken" must be a DNS label (lowercase letters, digits and "-", at most 63)'],
      ['pools[2].name', 'a', 'duplicate pool name, first used by pools[1]'],
    ],
    'duplicate name',
  );
  const overlap = problemsOf(
    [
      'pools:',
      '  - name: x',
      '    addresses: []', // invalid: empty
      '  - name: a',
      '    addresses: [10.0.0.0/24]',
      '  - name: b',
      '    addresses: [10.0.0.7]',
      '',
    ].join('\n'),
  );
  t.same(
    overlap.map((p) => [p.path, p.pool]),
    [
      ['pools[0].addresses', 'x'],
      ['pools[2].addresses[0]', 'b'],
    ],
    'overlapping pools',
  );
});

t.test('formatProblem', async (t) => {
  t.equal(formatProblem({ path: '', pool: undefined, value: 1, message: 'm' }), '<top level>: m');
  t.equal(formatProblem({ path: 'pools[0].name', pool: undefined, value: 1, message: 'm' }), 'pools[0].name: m');
  t.equal(formatProblem({ path: 'pools[0].x', pool: 'a', value: 1, message: 'm' }), 'pools[0].x (pool "a"): m');
});

// A YAML alias can make a node contain itself; js-yaml builds the cyclic value,
// and the problem message must still be produced without throwing.
t.test('self-referencing YAML values are reported, not crashed on', async (t) => {
  const rows: [string, string][] = [
    ['name', 'pools:\n  - name: &x [*x]\n    addresses: [10.0.0.0/24]\n'],
    ['address item', 'pools:\n  - name: p\n    addresses: [&x [*x]]\n'],
    ['autoAssign', 'pools:\n  - name: p\n    addresses: [10.0.0.0/24]\n    autoAssign: &x [*x]\n'],
    ['namespace item', 'pools:\n  - name: p\n    addresses: [10.0.0.0/24]\n    namespaces: [&x {a: *x}]\n'],
    ['garpRefreshSeconds', 'announce:\n  garpRefreshSeconds: &x [*x]\n'],
  ];
  for (const [where, yaml] of rows) {
    let err: unknown;
    try {
      parseConfig(yaml);
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof InvalidConfigError, `cyclic ${where}: InvalidConfigError, got ${String(err)}`);
  }
});

/** Valid documents, as lines, for the mutation property. */
const SEEDS = [
  [
    'pools:',
    '  - name: default',
    '    addresses:',
    '      - 198.51.100.64/28',
    '      - 198.51.100.200-198.51.100.250',
    '    autoAssign: true',
    '    avoidBuggyIPs: false',
    '  - name: v6',
    '    addresses: ["2001:db8::/120", 192.0.2.9]',
    '    namespaces: [team-a, team-b]',
    '    serviceSelector:',
    '      matchLabels: {app: web}',
    '      matchExpressions:',
    '        - {key: env, operator: In, values: [prod]}',
    'announce:',
    '  interfaces: [eth0]',
    '  garpRefreshSeconds: 30',
  ],
  ['pools:', '- name: a', '  addresses: [10.0.0.0/30, 10.0.0.4/30]', '- name: b', '  addresses: [10.0.0.8-10.0.0.9]'],
];

const FRAGMENTS = [
  '10.0.0.0/29',
  '10.0.0.3',
  '10.0.0.1-10.0.0.200',
  '198.51.100.64/26',
  '198.51.100.70',
  '2001:db8::/64',
  '2001:db8::5-2001:db8::1',
  '::1',
  'a',
  'default',
  'v6',
  'true',
  'no',
  '-',
  ':',
  '[',
  ']',
  '{',
  '}',
  ',',
  '"',
  "'",
  '&x',
  '*x',
  '&x [*x]',
  '!!str',
  '!!binary',
  '<<: *x',
  '#',
  '?',
  '|',
  '>',
  '%YAML 1.2',
  '---',
  '...',
  '\t',
  '    ',
  'pools:',
  'name:',
  'addresses:',
  'operator: Exists',
  'values: []',
  'autoAssign:',
  'null',
  '~',
  '1e400',
  '0x10',
  '\u0000',
];

type Mutation =
  | { kind: 'deleteLine'; at: number }
  | { kind: 'dupLine'; at: number }
  | { kind: 'swapLines'; a: number; b: number }
  | { kind: 'insert'; at: number; col: number; text: string }
  | { kind: 'replaceLine'; at: number; text: string }
  | { kind: 'truncate'; at: number; col: number }
  | { kind: 'replaceValue'; at: number; text: string };

/** YAML nodes to put where a scalar was: other types, anchors and aliases (including self-references). */
const VALUES = [
  '&x [*x]',
  '&x {a: *x}',
  '[&x a, *x]',
  '*x',
  '[]',
  '{}',
  '[1, [2]]',
  '{a: b}',
  '42',
  '-1',
  '1.5',
  '"text"',
  'null',
  '~',
  'true',
  'FALSE',
  '!!str 12',
  '""',
  '"10.0.0.0/24"',
];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('deleteLine' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('dupLine' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swapLines' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    col: fc.nat(),
    text: fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 6 })),
  }),
  fc.record({
    kind: fc.constant('replaceLine' as const),
    at: fc.nat(),
    text: fc.oneof(
      fc.constantFrom(...FRAGMENTS),
      fc.constantFrom(...FRAGMENTS).map((f) => `    addresses: [${f}]`),
      fc.constantFrom(...FRAGMENTS).map((f) => `  - name: ${f}`),
      fc.constantFrom(...FRAGMENTS).map((f) => `      - ${f}`),
    ),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(), col: fc.nat() }),
  fc.record({ kind: fc.constant('replaceValue' as const), at: fc.nat(), text: fc.constantFrom(...VALUES) }),
);

function applyMutations(seed: readonly string[], ms: readonly Mutation[]): string {
  const lines = [...seed];
  for (const m of ms) {
    if (lines.length === 0) lines.push('');
    const n = lines.length;
    switch (m.kind) {
      case 'deleteLine':
        lines.splice(m.at % n, 1);
        break;
      case 'dupLine':
        lines.splice(m.at % n, 0, lines[m.at % n] as string);
        break;
      case 'swapLines': {
        const a = lines[m.a % n] as string;
        lines[m.a % n] = lines[m.b % n] as string;
        lines[m.b % n] = a;
        break;
      }
      case 'insert': {
        const line = lines[m.at % n] as string;
        const col = m.col % (line.length + 1);
        lines[m.at % n] = line.slice(0, col) + m.text + line.slice(col);
        break;
      }
      case 'replaceLine':
        lines[m.at % n] = m.text;
        break;
      case 'truncate': {
        const line = lines[m.at % n] as string;
        lines[m.at % n] = line.slice(0, m.col % (line.length + 1));
        break;
      }
      case 'replaceValue': {
        // the m.at-th line (cyclically) that has "key: value" or "- value"
        const candidates = lines.map((l, i) => [l, i] as const).filter(([l]) => /(: |- )\S/.test(l));
        const hit = candidates[m.at % Math.max(1, candidates.length)];
        if (!hit) break;
        const [line, i] = hit;
        const cut = Math.max(line.lastIndexOf(': '), line.lastIndexOf('- '));
        lines[i] = `${line.slice(0, cut + 2)}${m.text}`;
        break;
      }
    }
  }
  return lines.join('\n');
}

/** The property: a config or an InvalidConfigError, and a returned config is sound. */
function checkOutcome(text: string): boolean {
  let config: BarelbConfig;
  try {
    config = parseConfig(text);
  } catch (err) {
    if (!(err instanceof InvalidConfigError)) throw err; // report the real error as the counterexample
    return err.problems.length > 0 && err.problems.every((p) => typeof p.path === 'string' && p.message.length > 0);
  }
  const all = config.pools.flatMap((p) => p.ranges);
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) if ((all[i] as (typeof all)[number]).overlaps(all[j] as (typeof all)[number])) return false;
  }
  const names = config.pools.map((p) => p.name);
  if (new Set(names).size !== names.length) return false;
  return config.pools.every(
    (p) =>
      p.ranges.length > 0 &&
      p.ranges.every((r) => r.first <= r.last) &&
      typeof p.autoAssign === 'boolean' &&
      typeof p.avoidBuggyIPs === 'boolean' &&
      Array.isArray(p.namespaces),
  );
}

t.test('seeds are valid', async (t) => {
  for (const seed of SEEDS) t.doesNotThrow(() => parseConfig(seed.join('\n')));
});

t.test('random strings: a config or InvalidConfigError, nothing else (property)', async (t) => {
  const started = Date.now();
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.array(fc.constantFrom(...FRAGMENTS, '\n', ' ')).map((a) => a.join(''))),
      checkOutcome,
    ),
    { numRuns: 600, includeErrorInReport: true },
  );
  t.ok(Date.now() - started < 5000, 'finished quickly');
});

t.test('mutated valid documents: a config or InvalidConfigError, ranges never overlap (property)', async (t) => {
  const started = Date.now();
  fc.assert(
    fc.property(fc.constantFrom(...SEEDS), fc.array(mutation, { minLength: 1, maxLength: 5 }), (seed, ms) =>
      checkOutcome(applyMutations(seed, ms)),
    ),
    { numRuns: 800, includeErrorInReport: true },
  );
  t.ok(Date.now() - started < 5000, 'finished quickly');
});

t.test('a YAML tag the reader itself trips on is a clear rejection, not a crash', async (t) => {
  // Found by the grammar fuzzer: js-yaml throws a TypeError (not a YAMLException) here.
  const err = t.throws(() => parseConfig('!!float \n  0o17')) as InvalidConfigError;
  t.type(err, InvalidConfigError);
  t.match(err.problems[0]?.message, /^not valid YAML: the YAML reader failed \(TypeError: .*\): remove YAML tags such as "!!float"; this config needs none$/);
});

t.test('invisible characters in a YAML error are shown escaped', async (t) => {
  const err = t.throws(() => parseConfig('*a\u2028 ')) as InvalidConfigError;
  t.match(err.problems[0]?.message, /^not valid YAML: unidentified alias "a\\u2028" \(1:\d+\)$/);
});
