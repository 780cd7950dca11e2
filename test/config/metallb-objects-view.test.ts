import t from 'tap';
import { formatProblem } from '../../src/config/config-error.js';
import { loadConfig } from '../../src/config/config-loader.js';
import { configMapView } from '../../src/config/config-view.js';
import { formatWarning } from '../../src/config/convert/conversion.js';
import { metallbObjectsView, type MetallbObject, type MetallbUnavailable } from '../../src/config/metallb-objects-view.js';

// --config-format metallb-crds, the pure half: MetalLB's objects (as the API serves them) in, barelb's config
// and where to report on it out.
const NS = 'metallb-system';
let uid = 0;
const pool = (name: string, spec: Record<string, unknown>, labels?: Record<string, string>, rv = '1'): MetallbObject => ({
  apiVersion: 'metallb.io/v1beta1',
  kind: 'IPAddressPool',
  metadata: { name, namespace: NS, uid: `uid-pool-${name}-${uid++}`, resourceVersion: rv, ...(labels ? { labels } : {}) },
  spec,
});
const ad = (name: string, spec: Record<string, unknown> = {}): MetallbObject => ({
  apiVersion: 'metallb.io/v1beta1',
  kind: 'L2Advertisement',
  metadata: { name, namespace: NS, uid: `uid-ad-${name}-${uid++}`, resourceVersion: '1' },
  spec,
});

interface Row {
  readonly what: string;
  readonly objects: MetallbObject[];
  readonly unavailable?: MetallbUnavailable;
  /** The pools in barelb's order, or 'invalid'. */
  readonly pools: string[] | 'invalid';
  /** Each Event: `Kind/name: item; item`, problems when invalid, else warnings. */
  readonly events: string[];
  readonly absent?: RegExp;
}

const rows: Row[] = [
  { what: 'no objects: a valid, empty config (like no ConfigMap)', objects: [], pools: [], events: [], absent: /^no IPAddressPool or L2Advertisement in metallb-system: no pools/ },
  {
    what: 'two pools and an advertisement: priority order, no warnings',
    objects: [pool('public', { addresses: ['203.0.113.0/28'], autoAssign: false, serviceAllocation: { priority: 20 } }), pool('lan', { addresses: ['198.51.100.0/28'], serviceAllocation: { priority: 10, namespaces: ['apps'] } }), ad('l2')],
    pools: ['lan', 'public'],
    events: [],
  },
  {
    what: 'pools without priority keep name order (the informer\'s order does not matter)',
    objects: [pool('b', { addresses: ['198.51.100.16/28'] }), pool('a', { addresses: ['198.51.100.0/28'] }), ad('l2')],
    pools: ['a', 'b'],
    events: [],
  },
  {
    what: 'a warning about one pool goes on that IPAddressPool',
    objects: [pool('a', { addresses: ['198.51.100.0/28'] }), pool('Prod_Pool', { addresses: ['198.51.100.16/28'] }), ad('l2')],
    pools: ['prod-pool', 'a'],
    events: ['IPAddressPool/Prod_Pool: IPAddressPool metallb-system/Prod_Pool: pool "Prod_Pool" is named "prod-pool"'],
  },
  {
    what: 'a pool no advertisement selects: the warning is on it (named by its barelb name)',
    objects: [pool('a', { addresses: ['198.51.100.0/28'] }), pool('b', { addresses: ['198.51.100.16/28'] }), ad('only-a', { ipAddressPools: ['a'] })],
    pools: ['a', 'b'],
    events: ['IPAddressPool/b: IPAddressPool b: no L2Advertisement selects it'],
  },
  {
    what: 'advertisements that disagree: the warning is on each of them',
    objects: [pool('a', { addresses: ['198.51.100.0/28'] }), ad('x', { nodeSelectors: [{ matchLabels: { a: '1' } }] }), ad('y', { nodeSelectors: [{ matchLabels: { b: '1' } }] })],
    pools: ['a'],
    events: ['L2Advertisement/x: L2Advertisement: spec.nodeSelectors: the advertisements select different nodes', 'L2Advertisement/y: L2Advertisement: spec.nodeSelectors: the advertisements select different nodes'],
  },
  {
    what: 'no advertisement at all: the warning names no object, so it goes on the first pool by name',
    objects: [pool('z', { addresses: ['198.51.100.16/28'] }), pool('m', { addresses: ['198.51.100.0/28'] })],
    pools: ['m', 'z'],
    events: ['IPAddressPool/m: L2Advertisement: none in the input'],
  },
  {
    what: 'an invalid pool: invalid config, the problem on that IPAddressPool',
    objects: [pool('good', { addresses: ['198.51.100.0/28'] }), pool('bad', { addresses: ['not-an-address'] }), ad('l2')],
    pools: 'invalid',
    events: ['IPAddressPool/bad: IPAddressPool metallb-system/bad: spec.addresses[0] (pool "bad"): '],
  },
  {
    what: 'overlapping pools (found after conversion): on the pool the problem names',
    objects: [pool('a', { addresses: ['198.51.100.0/28'] }), pool('b', { addresses: ['198.51.100.8/29'] }), ad('l2')],
    pools: 'invalid',
    events: ['IPAddressPool/b: pools[1].addresses[0] (pool "b"): '],
  },
  {
    what: 'the CRD is not installed: invalid, never empty; no object to put an Event on',
    objects: [],
    unavailable: { kind: 'IPAddressPool', status: 404 },
    pools: 'invalid',
    events: [],
    absent: /^the API server has no metallb\.io\/v1beta1 IPAddressPool: is MetalLB's CRD \(ipaddresspools\.metallb\.io\) installed\?.*barelb config convert --from metallb/,
  },
  {
    what: 'forbidden: invalid, and says which permission and where',
    objects: [pool('a', { addresses: ['198.51.100.0/28'] })],
    unavailable: { kind: 'L2Advertisement', status: 403 },
    pools: 'invalid',
    events: [],
    absent: /^barelb may not list metallb\.io\/v1beta1 l2advertisements in metallb-system \(HTTP 403\): grant get, list and watch.*examples\/metallb-crds\/rbac\.yaml/,
  },
];

for (const row of rows) {
  t.test(row.what, async (t) => {
    const view = metallbObjectsView(NS, row.objects, row.unavailable);
    const l = view.loaded;
    t.same(l.ok ? l.config.pools.map((p) => p.name) : 'invalid', row.pools, 'the pools');
    const events = l.ok ? view.attribute(l.warnings).map((e) => `${e.target.kind}/${e.target.name}: ${e.items.map(formatWarning).join('; ')}`) : view.attribute(l.error.problems).map((e) => `${e.target.kind}/${e.target.name}: ${e.items.map(formatProblem).join('; ')}`);
    t.equal(events.length, row.events.length, `events: ${JSON.stringify(events)}`);
    row.events.forEach((want, i) => t.ok(events[i]?.startsWith(want), `event ${i}: ${events[i]} starts with ${want}`));
    if (row.absent) t.match(view.absent, row.absent, 'says why there is no config');
    else t.equal(view.absent, undefined, 'there is a config');
    for (const e of view.attribute([{ path: 'anything' }])) t.equal(e.target.apiVersion, 'metallb.io/v1beta1', 'Events name the MetalLB object by its apiVersion');
  });
}

t.test('ConfigLoaded goes on every IPAddressPool; the version names each object', async (t) => {
  const view = metallbObjectsView(NS, [ad('l2'), pool('b', { addresses: ['198.51.100.16/28'] }, undefined, '7'), pool('a', { addresses: ['198.51.100.0/28'] }, undefined, '5')]);
  t.same(view.targets.map((x) => `${x.kind}/${x.name}`), ['IPAddressPool/a', 'IPAddressPool/b']);
  t.equal(view.version, 'IPAddressPool/a@5,IPAddressPool/b@7,L2Advertisement/l2@1');
  t.same(view.logFields, { metallbObjects: NS });
  t.match(view.name, /in metallb-system/);
});

t.test('the source changes exactly when what the conversion reads does', async (t) => {
  const a = pool('a', { addresses: ['198.51.100.0/28'] }, { zone: 'x' });
  const base = metallbObjectsView(NS, [a, ad('l2')]).loaded.source;
  const rows: [string, MetallbObject[], boolean][] = [
    ['another order', [ad('l2'), a], false],
    ['a new resourceVersion only (a status write)', [{ ...a, metadata: { ...a.metadata, resourceVersion: '99' } }, ad('l2')], false],
    ['another spec', [pool('a', { addresses: ['198.51.100.0/29'] }, { zone: 'x' }), ad('l2')], true],
    ['other labels (advertisements select pools by label)', [pool('a', { addresses: ['198.51.100.0/28'] }, { zone: 'y' }), ad('l2')], true],
    ['an object more', [a, ad('l2'), ad('l2b')], true],
  ];
  for (const [what, objects, changes] of rows) t.equal(metallbObjectsView(NS, objects).loaded.source !== base, changes, what);
  t.not(metallbObjectsView(NS, [], { kind: 'IPAddressPool', status: 404 }).loaded.source, metallbObjectsView(NS, []).loaded.source, 'missing CRDs and no objects differ');
});

t.test('a ConfigMap view reports on the ConfigMap, as before', async (t) => {
  const cm = { metadata: { name: 'config', namespace: 'ns', uid: 'u1', resourceVersion: '3' }, data: { config: 'address-pools: [{name: a, protocol: bgp, addresses: [198.51.100.0/28]}]\n' } };
  const view = configMapView(cm, 'metallb', 'ns', 'config');
  t.notOk(view.loaded.ok);
  if (!view.loaded.ok) t.same(view.attribute(view.loaded.error.problems).map((e) => [e.target, e.items.length]), [[{ kind: 'ConfigMap', namespace: 'ns', name: 'config', uid: 'u1' }, 1]]);
  t.same([view.name, view.version, view.absent, view.logFields], ['ns/config', '3', undefined, { configMap: 'ns/config' }]);
  const none = configMapView(undefined, 'barelb', 'ns', 'config');
  t.same([none.loaded.ok, none.absent, none.targets, none.attribute([{ path: 'x' }])], [true, 'no ConfigMap: no pools', [], []]);
});

t.test('loadConfig never reads a ConfigMap as metallb-crds', async (t) => {
  const r = loadConfig({ data: { config: 'address-pools: []' } }, 'metallb-crds');
  t.notOk(r.ok);
  if (!r.ok) t.match(r.error.problems[0]?.message, /reads MetalLB's IPAddressPool and L2Advertisement objects, not a ConfigMap/);
});
