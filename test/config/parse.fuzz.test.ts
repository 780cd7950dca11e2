import t from 'tap';
import fc from 'fast-check';
import yaml from 'js-yaml';
import { MAX_ADDRESS_ENTRIES, MAX_CONFIG_BYTES, parseConfig } from '../../src/config/parse.js';
import { InvalidConfigError, formatProblem } from '../../src/config/config-error.js';
import { SELECTOR_OPERATORS, type LabelSelector } from '../../src/config/label-selector.js';
import type { BarelbConfig } from '../../src/config/types.js';
import { maxValue } from '../../src/net/ip.js';

// Hostile input for the config parser, beyond the line mutations in parse.test.ts:
// structural mutations of the parsed tree, character-level damage and unicode,
// alias bombs, deep nesting, huge documents. Every input is timed on its own.
//
// The unit suite runs a few seconds of this. For a long run:
//   BARELB_FUZZ_RUNS=200000 npx tap --timeout=3600 test/config/parse.fuzz.test.ts
// (runs per property; the default is 300).
const RUNS = Number(process.env['BARELB_FUZZ_RUNS'] ?? 300);
/** Per input. Real inputs take well under 10 ms; the slack is for a loaded machine. */
const PER_INPUT_MS = 1500;
/** For the largest documents the ConfigMap limit allows (about 200 ms unloaded). */
const HUGE_INPUT_MS = 4000;

type Outcome = { ok: true; config: BarelbConfig; ms: number } | { ok: false; error: InvalidConfigError; ms: number };

/** Parses, timing it; anything thrown but InvalidConfigError propagates and fails the property with the real error. */
function run(text: string): Outcome {
  const started = performance.now();
  try {
    const config = parseConfig(text);
    return { ok: true, config, ms: performance.now() - started };
  } catch (err) {
    if (!(err instanceof InvalidConfigError)) throw err;
    return { ok: false, error: err, ms: performance.now() - started };
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Why a rejection is unhelpful, or undefined when it is fine. */
function badRejection(e: InvalidConfigError): string | undefined {
  if (e.code !== 'BARELB_INVALID_CONFIG') return `code ${e.code}`;
  if (e.problems.length === 0) return 'no problems listed';
  for (const p of e.problems) {
    if (typeof p.message !== 'string' || p.message.trim() === '') return `empty message at ${p.path}`;
    if (typeof p.path !== 'string') return 'path is not a string';
    if (!formatProblem(p).startsWith(p.path || '<top level>')) return `formatted problem does not lead with its path: ${formatProblem(p)}`;
    // A problem at the top level is about the document itself, and says what: YAML errors give line:column.
    if (p.path === '' && !/^(not valid YAML: (.*\((\d+:\d+|line \d+)\)|.*one document|the YAML reader failed .*: remove YAML tags)|is \d+ bytes|must be a mapping)/.test(p.message)) return `unplaced top-level problem: ${p.message}`;
  }
  if (!e.message.startsWith('invalid config: ')) return 'message';
  return undefined;
}

function validSelector(s: LabelSelector | undefined): boolean {
  if (s === undefined) return true;
  return (
    Object.values(s.matchLabels).every((v) => typeof v === 'string') &&
    s.matchExpressions.every(
      (e) =>
        SELECTOR_OPERATORS.includes(e.operator) &&
        new Set(e.values).size === e.values.length &&
        ((e.operator === 'In' || e.operator === 'NotIn') === e.values.length > 0),
    )
  );
}

/** Why an accepted config breaks an invariant, or undefined when it is sound. */
function badConfig(c: BarelbConfig): string | undefined {
  const names = c.pools.map((p) => p.name);
  if (new Set(names).size !== names.length) return 'duplicate pool names';
  const all = c.pools.flatMap((p) => p.ranges);
  if (all.length > MAX_ADDRESS_ENTRIES) return 'too many ranges';
  // Sorted sweep: no two ranges of one family share an address, within a pool or across pools.
  const sorted = [...all].sort((a, b) => (a.family !== b.family ? (a.family < b.family ? -1 : 1) : a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1];
    const b = sorted[i];
    if (a && b && a.family === b.family && b.first <= a.last) return `overlap ${a.toString()} / ${b.toString()}`;
  }
  for (const p of c.pools) {
    if (!DNS_LABEL.test(p.name)) return `pool name ${p.name}`;
    if (p.ranges.length === 0) return `pool ${p.name} has no ranges`;
    if (!p.ranges.every((r) => r.first >= 0n && r.first <= r.last && r.last <= maxValue(r.family))) return `pool ${p.name} has a bad range`;
    if (typeof p.autoAssign !== 'boolean' || typeof p.avoidBuggyIPs !== 'boolean') return 'flags';
    if (!p.namespaces.every((n) => DNS_LABEL.test(n)) || new Set(p.namespaces).size !== p.namespaces.length) return 'namespaces';
    if (!validSelector(p.serviceSelector)) return 'serviceSelector';
  }
  const a = c.announce;
  if (!Number.isInteger(a.garpRefreshSeconds) || a.garpRefreshSeconds < 0 || a.garpRefreshSeconds > 86_400) return 'garpRefreshSeconds';
  if (new Set(a.interfaces).size !== a.interfaces.length || !a.interfaces.every((i) => /^[^\s/]{1,15}$/.test(i))) return 'interfaces';
  if (!validSelector(a.nodeSelector)) return 'nodeSelector';
  return undefined;
}

/** Back to YAML, from the parsed form only: parsing it again must give the same config. */
function render(c: BarelbConfig): string {
  const sel = (s: LabelSelector | undefined): unknown => (s === undefined ? null : { matchLabels: s.matchLabels, matchExpressions: s.matchExpressions });
  return yaml.dump({
    pools: c.pools.map((p) => ({
      name: p.name,
      addresses: p.ranges.map((r) => r.toString()),
      autoAssign: p.autoAssign,
      avoidBuggyIPs: p.avoidBuggyIPs,
      namespaces: p.namespaces,
      serviceSelector: sel(p.serviceSelector),
    })),
    announce: { nodeSelector: sel(c.announce.nodeSelector), interfaces: c.announce.interfaces, garpRefreshSeconds: c.announce.garpRefreshSeconds },
  });
}

function summary(c: BarelbConfig): string {
  return JSON.stringify(c, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** The whole property: bounded time, then a sound config (that survives a round trip) or a helpful rejection. */
function check(text: string, limitMs = PER_INPUT_MS): true {
  const out = run(text);
  if (out.ms > limitMs) throw new Error(`took ${out.ms.toFixed(0)} ms (bound ${limitMs})`);
  if (!out.ok) {
    const bad = badRejection(out.error);
    if (bad) throw new Error(`unhelpful rejection (${bad}): ${out.error.message.slice(0, 500)}`);
    return true;
  }
  const bad = badConfig(out.config);
  if (bad) throw new Error(`accepted an unsound config (${bad})`);
  const again = run(render(out.config));
  if (!again.ok) throw new Error(`the rendered config was rejected: ${again.error.message.slice(0, 500)}`);
  if (summary(again.config).replace(/"text":"[^"]*",?/g, '') !== summary(out.config).replace(/"text":"[^"]*",?/g, '')) {
    throw new Error('rendering and parsing again changed the config');
  }
  return true;
}

// ---------------------------------------------------------------------------
// seeds and the mutations of their parsed tree

const SEED_TREES: unknown[] = [
  {
    pools: [
      {
        name: 'default',
        addresses: ['198.51.100.64/28', '198.51.100.200-198.51.100.250'],
        autoAssign: true,
        avoidBuggyIPs: false,
      },
      {
        name: 'v6',
        addresses: ['2001:db8::/120', '192.0.2.9'],
        namespaces: ['team-a', 'team-b'],
        serviceSelector: { matchLabels: { app: 'web', 'example.com/tier': 'front' }, matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }] },
      },
    ],
    announce: {
      nodeSelector: { matchExpressions: [{ key: 'node-role.kubernetes.io/lb', operator: 'Exists' }] },
      interfaces: ['eth0', 'bond0.100'],
      garpRefreshSeconds: 30,
    },
  },
  { pools: [{ name: 'a', addresses: ['10.0.0.0/30', '10.0.0.4/30'] }, { name: 'b', addresses: ['10.0.0.8-10.0.0.9'], autoAssign: false }] },
];

/** Scalars and containers of every YAML type, including the nasty ones. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null, true, false, 0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, Infinity, -Infinity, NaN, 86_401, 2 ** 53,
    '', ' ', '\u0000', '\uFEFF', '\uD800', 'é', 'ǅ', 'ａｂｃ', '🚀', '\u202Eevil', 'DEFAULT', 'default ', ' 10.0.0.1',
    '10.0.0.1\n', '0.0.0.0/0', '::/0', '10.0.0.0/33', '10.0.0.9-10.0.0.1', '010.0.0.1', 'fe80::1%eth0', '1.2.3.4/32/1',
    '999.1.1.1', '10.0.0.1,10.0.0.2', 'In', 'Exists', 'true', '~', '!!binary AAAA',
  ),
  fc.string({ maxLength: 20, unit: 'grapheme' }),
  fc.string({ maxLength: 10, unit: 'binary' }),
  fc.double(),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map((b) => Number(b)),
  fc.nat({ max: 5_000 }).map((n) => 'x'.repeat(n * 20)),
  fc.array(fc.constantFrom('10.0.0.1', 'a', 1, null), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.constantFrom(1, 'a', null, []), { maxKeys: 3 }),
  fc.nat({ max: 90 }).map((d) => nest(d)),
);

function nest(depth: number): unknown {
  let v: unknown = 'deep';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

type Step = readonly [kind: 'set' | 'delete' | 'rename' | 'duplicate' | 'wrap', pick: number, value: unknown, key: string];

const step: fc.Arbitrary<Step> = fc.tuple(
  fc.constantFrom('set', 'set', 'delete', 'rename', 'duplicate', 'wrap'),
  fc.nat(),
  hostileValue,
  fc.oneof(fc.constantFrom('name', 'Name', 'addresses', 'address', 'auto_assign', 'autoassign', 'pools', 'matchlabels', '__proto__', 'constructor', 'toString', '<<'), fc.string({ maxLength: 12 })),
);

/** Every container in a tree, with the keys (or indexes) inside it. */
function containers(v: unknown, out: (Record<string, unknown> | unknown[])[] = []): (Record<string, unknown> | unknown[])[] {
  if (Array.isArray(v)) {
    out.push(v);
    for (const x of v) containers(x, out);
  } else if (typeof v === 'object' && v !== null) {
    out.push(v as Record<string, unknown>);
    for (const x of Object.values(v)) containers(x, out);
  }
  return out;
}

/** Applies steps to a deep copy; returns the mutated tree. */
function mutate(seed: unknown, steps: readonly Step[]): unknown {
  const root = { doc: structuredClone(seed) as unknown };
  for (const [kind, pick, value, key] of steps) {
    const all = containers(root).slice(1).concat([root.doc as Record<string, unknown>]).filter((c) => typeof c === 'object' && c !== null);
    const c = all[pick % Math.max(1, all.length)];
    if (!c) continue;
    const keys = Array.isArray(c) ? c.map((_, i) => i) : Object.keys(c);
    const k = keys[pick % Math.max(1, keys.length)];
    const rec = c as Record<string | number, unknown>;
    switch (kind) {
      case 'set':
        if (k !== undefined) rec[k] = value;
        break;
      case 'delete':
        if (Array.isArray(c) && typeof k === 'number') c.splice(k, 1);
        else if (k !== undefined) delete rec[k];
        break;
      case 'rename':
        if (k !== undefined && !Array.isArray(c)) {
          const v = rec[k];
          delete rec[k];
          Object.defineProperty(rec, key, { value: v, enumerable: true, writable: true, configurable: true });
        }
        break;
      case 'duplicate':
        if (Array.isArray(c) && k !== undefined) c.push(structuredClone(c[k as number]));
        else if (k !== undefined) Object.defineProperty(rec, `${String(k)}${key}`, { value: structuredClone(rec[k]), enumerable: true, writable: true, configurable: true });
        break;
      case 'wrap':
        if (k !== undefined) rec[k] = pick % 2 ? [rec[k]] : { [key]: rec[k] };
        break;
    }
  }
  return root.doc;
}

/** YAML text for a tree; JSON is YAML too, so some trees go as JSON. */
function toText(tree: unknown, asJson: boolean): string {
  if (asJson) return JSON.stringify(tree) ?? 'null';
  return yaml.dump(tree, { skipInvalid: true, noRefs: true });
}

t.test('seeds are accepted and survive a render/parse round trip', async (t) => {
  for (const tree of SEED_TREES) {
    t.equal(check(yaml.dump(tree)), true);
    t.ok(run(yaml.dump(tree)).ok);
  }
});

t.test('structural mutations of the parsed tree: swapped types, deleted, renamed, duplicated and wrapped keys (property)', async (t) => {
  let accepted = 0;
  let rejected = 0;
  fc.assert(
    fc.property(fc.constantFrom(...SEED_TREES), fc.array(step, { minLength: 1, maxLength: 6 }), fc.boolean(), (seed, steps, asJson) => {
      const text = toText(mutate(seed, steps), asJson);
      if (run(text).ok) accepted++;
      else rejected++;
      return check(text);
    }),
    { numRuns: RUNS * 4, includeErrorInReport: true },
  );
  t.ok(accepted > 0 && rejected > 0, `both outcomes reached (${accepted} accepted, ${rejected} rejected)`);
});

// ---------------------------------------------------------------------------
// character-level damage to valid text

const SEED_TEXTS = SEED_TREES.flatMap((tree) => [yaml.dump(tree), yaml.dump(tree, { flowLevel: 1 }), JSON.stringify(tree)]);

type Damage = readonly [kind: 'flip' | 'truncate' | 'extend' | 'insert' | 'delete', at: number, text: string];

const junk = fc.oneof(
  fc.constantFrom(
    '\u0000', '\t', '\r', '\r\n', '\u2028', '\u0085', '\uFEFF', '\uD83D', '\uDE80', '🚀', 'ß', 'İ', '\u0301', '\u202E', '\uFFFF',
    ':', '- ', '[', ']', '{', '}', '&a ', '*a', '!!', '!!map ', '!!seq ', '!!int ', '!!float ', '!<tag:yaml.org,2002:str> ', '%TAG ! x\n',
    '? ', '|', '>-', '"', "'", '\\', '#', '---\n', '...\n', '\n  ', '    ', '@', '`', '<<: ', '0o17', '0x1F', '.inf', '.nan', '1e9999',
  ),
  fc.string({ maxLength: 8, unit: 'binary' }),
);

const damage: fc.Arbitrary<Damage> = fc.tuple(fc.constantFrom('flip', 'truncate', 'extend', 'insert', 'delete'), fc.nat(), junk);

function applyDamage(text: string, ds: readonly Damage[]): string {
  let s = text;
  for (const [kind, at, j] of ds) {
    const i = at % (s.length + 1);
    switch (kind) {
      case 'flip':
        s = s.slice(0, i) + String.fromCharCode((s.charCodeAt(i) || 0) ^ (1 << (at % 16))) + s.slice(i + 1);
        break;
      case 'truncate':
        s = s.slice(0, i);
        break;
      case 'extend':
        s += j.repeat(1 + (at % 50));
        break;
      case 'insert':
        s = s.slice(0, i) + j + s.slice(i);
        break;
      case 'delete':
        s = s.slice(0, i) + s.slice(i + 1 + (at % 7));
        break;
    }
  }
  return s;
}

t.test('character-level damage: flips, truncation, extension, unicode and YAML syntax inserted (property)', async (t) => {
  let rejected = 0;
  fc.assert(
    fc.property(fc.constantFrom(...SEED_TEXTS), fc.array(damage, { minLength: 1, maxLength: 5 }), (seed, ds) => {
      const text = applyDamage(seed, ds);
      if (!run(text).ok) rejected++;
      return check(text);
    }),
    { numRuns: RUNS * 4, includeErrorInReport: true },
  );
  t.ok(rejected > 0, `some damaged documents were rejected (${rejected})`);
});

t.test('random YAML-ish documents from a grammar of hostile pieces (property)', async (t) => {
  const piece = fc.oneof(junk, fc.constantFrom('pools:', 'announce:', 'name: a', 'addresses:', '10.0.0.1', '\n', '\n  ', ' ', '- name: p\n    addresses: [10.0.0.1]\n'));
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 40 }), (ps) => check(ps.join(''))),
    { numRuns: RUNS * 2, includeErrorInReport: true },
  );
  t.pass(`${RUNS * 2} documents`);
});

// ---------------------------------------------------------------------------
// anchors and aliases

/**
 * A billion-laughs document: each level is a list of `width` aliases of the
 * previous level, so the logical size is width^levels. `at` says where the
 * last level goes. js-yaml shares aliased nodes rather than copying them, and
 * the parser walks each container once, so none of this may take long.
 */
function laughs(levels: number, width: number, leaf: string, at: (top: string) => string): string {
  const defs = [`l0: &l0 [${Array(width).fill(leaf).join(', ')}]`];
  for (let i = 1; i <= levels; i++) defs.push(`l${i}: &l${i} [${Array(width).fill(`*l${i - 1}`).join(', ')}]`);
  // The definitions live under a key the parser rejects, so the doc is invalid for that reason at least.
  return `x-defs:\n${defs.map((d) => `  ${d}`).join('\n')}\n${at(`*l${levels}`)}\n`;
}

const BOMB_SITES: [string, (top: string) => string][] = [
  ['as the pool list', (a) => `pools: ${a}`],
  ['as a pool', (a) => `pools: [${a}]`],
  ['as addresses', (a) => `pools:\n  - name: p\n    addresses: ${a}`],
  ['as a pool name', (a) => `pools:\n  - name: ${a}\n    addresses: [10.0.0.1]`],
  ['as namespaces', (a) => `pools:\n  - name: p\n    addresses: [10.0.0.1]\n    namespaces: ${a}`],
  ['as matchLabels', (a) => `pools:\n  - name: p\n    addresses: [10.0.0.1]\n    serviceSelector: {matchLabels: ${a}}`],
  ['as match expression values', (a) => `announce:\n  nodeSelector:\n    matchExpressions: [{key: k, operator: In, values: ${a}}]`],
  ['as interfaces', (a) => `announce:\n  interfaces: ${a}`],
  ['as garpRefreshSeconds', (a) => `announce:\n  garpRefreshSeconds: ${a}`],
  ['as a mapping key', (a) => `? ${a}\n: 1`],
  ['as a merge source', (a) => `announce:\n  <<: ${a}`],
];

t.test('alias bombs (billion laughs) anywhere in the document: rejected fast with a named problem', async (t) => {
  for (const [where, at] of BOMB_SITES) {
    for (const leaf of ['"10.0.0.1"', 'lol', '{a: b}']) {
      const text = laughs(9, 9, leaf, at); // 9^10 ≈ 3.5 billion leaves if expanded
      const out = run(text);
      t.ok(out.ms < PER_INPUT_MS, `${where}, leaf ${leaf}: ${out.ms.toFixed(1)} ms`);
      t.notOk(out.ok, `${where}, leaf ${leaf}: rejected`);
      if (!out.ok) {
        t.equal(badRejection(out.error), undefined, `${where}, leaf ${leaf}: every problem named`);
        t.ok(out.error.message.length < 100_000, `${where}: the message does not expand the aliases (${out.error.message.length} chars)`);
      }
    }
  }
});

t.test('alias bombs of random shape at random sites (property)', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 14 }),
      fc.integer({ min: 2, max: 16 }),
      fc.constantFrom('10.0.0.1', 'a', '1', '{}', '[]', '{name: p, addresses: [10.0.0.1]}'),
      fc.constantFrom(...BOMB_SITES),
      (levels, width, leaf, [, at]) => check(laughs(levels, width, leaf, at)),
    ),
    { numRuns: Math.max(50, RUNS / 2), includeErrorInReport: true },
  );
  t.pass('no bomb went off');
});

t.test('self-referencing and shared nodes through merge keys and nested aliases', async (t) => {
  const rows = [
    'pools: &p [{name: a, addresses: [10.0.0.1]}, *p]',
    'a: &a {pools: *a}',
    'pools:\n  - &p {name: a, addresses: &r [10.0.0.1]}\n  - {name: b, addresses: *r}',
    'pools:\n  - &p {name: a, addresses: [10.0.0.1]}\n  - *p',
    'base: &b {name: a, addresses: [10.0.0.1]}\npools: [{<<: *b}]',
    `pools: [{<<: [${Array(101).fill('{}').join(', ')}]}]`,
    'announce: &x {nodeSelector: {matchExpressions: [{key: k, operator: In, values: *x}]}}',
  ];
  for (const text of rows) {
    const out = run(text);
    t.ok(out.ms < PER_INPUT_MS, `${JSON.stringify(text)}: ${out.ms.toFixed(1)} ms`);
    t.notOk(out.ok, `${JSON.stringify(text)}: rejected`);
    if (!out.ok) t.equal(badRejection(out.error), undefined, 'problems are named');
  }
});

// ---------------------------------------------------------------------------
// size: depth, length, count

t.test('deep nesting is rejected with the YAML position, in flow and block style', async (t) => {
  const rows: [string, string][] = [
    ['flow lists', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
    ['flow mappings', `${'{a: '.repeat(50_000)}1${'}'.repeat(50_000)}`],
    ['under pools', `pools: ${'['.repeat(5_000)}${']'.repeat(5_000)}`],
    ['block mappings', Array.from({ length: 2_000 }, (_, i) => `${' '.repeat(i)}a:`).join('\n')],
    ['block lists', Array.from({ length: 2_000 }, (_, i) => `${' '.repeat(i * 2)}-`).join('\n')],
  ];
  for (const [what, text] of rows) {
    const out = run(text);
    t.ok(out.ms < PER_INPUT_MS, `${what}: ${out.ms.toFixed(1)} ms`);
    if (out.ok) {
      t.fail(`${what}: accepted`);
      continue;
    }
    t.equal(badRejection(out.error), undefined, `${what}: problems are named`);
    t.match(out.error.message, /nesting exceeded maxDepth \(\d+\) \(\d+:\d+\)|is \d+ bytes/, `${what}: says why and where`);
  }
  t.equal(check(`pools:\n  - name: p\n    addresses: [10.0.0.1]\n    x: ${JSON.stringify(nest(80))}`), true, 'nesting under the limit is an unknown key, not a crash');
});

t.test('the biggest documents a ConfigMap can hold are handled in bounded time', async (t) => {
  const addr = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const onePool = (n: number): string => `pools:\n  - name: p\n    addresses:\n${Array.from({ length: n }, (_, i) => `      - ${addr(i)}`).join('\n')}\n`;
  const manyPools = (n: number): string => `pools:\n${Array.from({ length: n }, (_, i) => `  - {name: p${i}, addresses: [${addr(i)}]}`).join('\n')}\n`;

  const rows: [what: string, text: string, accepted: boolean | RegExp][] = [
    [`${MAX_ADDRESS_ENTRIES} single addresses in one pool`, onePool(MAX_ADDRESS_ENTRIES), true],
    [`${MAX_ADDRESS_ENTRIES} pools of one address`, manyPools(MAX_ADDRESS_ENTRIES), true],
    [`${MAX_ADDRESS_ENTRIES + 1} addresses`, onePool(MAX_ADDRESS_ENTRIES + 1), /pools\[0\]\.addresses \(pool "p"\): brings the config to 4097 address entries, more than 4096: merge/],
    [`${MAX_ADDRESS_ENTRIES + 1} pools`, manyPools(MAX_ADDRESS_ENTRIES + 1), /pools\[4096\]\.addresses \(pool "p4096"\): brings the config to 4097/],
    ['60,000 addresses (the most 1 MiB holds)', onePool(60_000).slice(0, MAX_CONFIG_BYTES - 100), /pools\[0\]\.addresses .*more than 4096/],
    ['over 1 MiB', onePool(70_000), /<top level>: is \d+ bytes, more than a ConfigMap holds \(1048576\)/],
    ['1 MiB minus a bit of a pool name', `pools:\n  - name: ${'a'.repeat(MAX_CONFIG_BYTES - 100)}\n    addresses: [10.0.0.1]\n`, /pools\[0\]\.name: "a{77}\.\.\." must be a DNS label/],
    ['1 MiB of one address string', `pools:\n  - name: p\n    addresses: ["${'1'.repeat(MAX_CONFIG_BYTES - 100)}"]\n`, /pools\[0\]\.addresses\[0\] \(pool "p"\): /],
    ['1 MiB of a number', `announce:\n  garpRefreshSeconds: ${'9'.repeat(MAX_CONFIG_BYTES - 100)}\n`, /announce\.garpRefreshSeconds: .* must be a whole number/],
    ['1 MiB of interfaces', `announce:\n  interfaces:\n${Array.from({ length: 80_000 }, (_, i) => `    - e${i}`).join('\n')}`.slice(0, MAX_CONFIG_BYTES - 10), true],
    ['50,000 problems', `pools:\n${'  - x\n'.repeat(50_000)}`, /pools\[49999\]: must be a mapping/],
    ['1 MiB of multi-byte characters', `pools:\n  - name: ${'é'.repeat(MAX_CONFIG_BYTES / 2)}\n`, /is \d+ bytes/],
  ];
  for (const [what, text, want] of rows) {
    const out = run(text);
    t.ok(out.ms < HUGE_INPUT_MS, `${what}: ${out.ms.toFixed(0)} ms`);
    if (want === true) {
      t.ok(out.ok, `${what}: accepted`);
      if (out.ok) t.equal(badConfig(out.config), undefined, `${what}: sound`);
    } else if (out.ok) {
      t.fail(`${what}: accepted`);
    } else {
      t.equal(badRejection(out.error), undefined, `${what}: problems are named`);
      t.match(out.error.message, want, `${what}: says why`);
    }
  }
});

t.test('a rejected config is rejected the same way every time (no state leaks between calls)', async (t) => {
  fc.assert(
    fc.property(fc.constantFrom(...SEED_TEXTS), fc.array(damage, { minLength: 1, maxLength: 3 }), (seed, ds) => {
      const text = applyDamage(seed, ds);
      const a = run(text);
      const b = run(text);
      if (a.ok !== b.ok) return false;
      if (!a.ok && !b.ok) return a.error.message === b.error.message;
      return a.ok && b.ok && summary(a.config) === summary(b.config);
    }),
    { numRuns: RUNS, includeErrorInReport: true },
  );
  t.pass('deterministic');
});
