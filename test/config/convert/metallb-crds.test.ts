import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import t from 'tap';
import { InvalidConfigError } from '../../../src/config/config-error.js';
import { InvalidManifestError, readManifestObjects } from '../../../src/config/convert/config-map-manifest.js';
import { convertMetallbObjects, metallbObjects } from '../../../src/config/convert/metallb-crds.js';
import { parseConfig } from '../../../src/config/parse.js';

const example = readFileSync(new URL('../../../examples/migration/metallb-crds.yaml', import.meta.url), 'utf8');
const convert = (text: string) => convertMetallbObjects(metallbObjects(readManifestObjects(text)) ?? []);
const pool = (name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}) => ({ apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name, namespace: 'metallb-system', labels }, spec });
const ad = (name: string, spec: Record<string, unknown> = {}) => ({ apiVersion: 'metallb.io/v1beta1', kind: 'L2Advertisement', metadata: { name, namespace: 'metallb-system' }, spec });
const docs = (...objects: unknown[]): string => objects.map((o) => yaml.dump(o)).join('---\n');
const problemsOf = (text: string): string[] => {
  try {
    convert(text);
    return [];
  } catch (err) {
    if (!(err instanceof InvalidConfigError)) throw err;
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
};

t.test('the example: pools in MetalLB\'s priority order, with their fields; one announce section; no warnings', async (t) => {
  const c = convert(example);
  t.same(c.warnings, []);
  t.same(c.config.pools.map((p) => p.name), ['team-a', 'lan'], 'priority 5 before priority 10');
  const teamA = c.config.pools[0];
  t.same([teamA?.autoAssign, teamA?.avoidBuggyIPs, teamA?.namespaces, teamA?.serviceSelector?.matchLabels], [false, true, ['team-a'], { exposed: 'yes' }]);
  t.same(c.config.announce.nodeSelector?.matchLabels, { 'node-role.kubernetes.io/lb': '' });
  t.same(c.config.announce.interfaces, ['eth0']);
  t.same(parseConfig(c.yaml), c.config, "the YAML printed is barelb's parser's input for the same config");
});

t.test('as kubectl prints them: a List gives the same', async (t) => {
  const list = yaml.dump({ apiVersion: 'v1', kind: 'List', items: yaml.loadAll(example) });
  t.same(convert(list).config, convert(example).config);
});

t.test('what barelb cannot express becomes a warning that says what changes', async (t) => {
  const rows: [string, string, RegExp][] = [
    ['no advertisement', docs(pool('a', { addresses: ['198.51.100.0/28'] })), /L2Advertisement: none in the input: MetalLB announces none of these pools, barelb announces every one/],
    ['a pool no advertisement selects', docs(pool('a', { addresses: ['198.51.100.0/28'] }), pool('b', { addresses: ['198.51.100.16/28'] }), ad('x', { ipAddressPools: ['a'] })), /IPAddressPool b: no L2Advertisement selects it/],
    ['namespace selectors', docs(pool('a', { addresses: ['198.51.100.0/28'], serviceAllocation: { namespaceSelectors: [{ matchLabels: { team: 'a' } }] } }), ad('x')), /namespaceSelectors: .*the pool now serves every namespace/],
    ['two service selectors', docs(pool('a', { addresses: ['198.51.100.0/28'], serviceAllocation: { serviceSelectors: [{ matchLabels: { a: '1' } }, { matchLabels: { b: '1' } }] } }), ad('x')), /only the first is kept/],
    ['advertisements on different nodes', docs(pool('a', { addresses: ['198.51.100.0/28'] }), ad('x', { nodeSelectors: [{ matchLabels: { a: '1' } }] }), ad('y', { nodeSelectors: [{ matchLabels: { b: '1' } }] })), /select different nodes.*every node may announce now/],
    ['some advertisements with interfaces, some without', docs(pool('a', { addresses: ['198.51.100.0/28'] }), ad('x', { interfaces: ['eth1'] }), ad('y')), /some advertisements name interfaces and some do not/],
    ['a name barelb must change', docs(pool('Prod_Pool', { addresses: ['198.51.100.0/28'] }), ad('x')), /pool "Prod_Pool" is named "prod-pool" in barelb/],
    ['host bits in a CIDR', docs(pool('a', { addresses: ['198.51.100.5/28'] }), ad('x')), /has host bits set; it stands for the network 198\.51\.100\.0\/28/],
    ['other MetalLB kinds', docs(pool('a', { addresses: ['198.51.100.0/28'] }), ad('x'), { apiVersion: 'metallb.io/v1beta1', kind: 'ServiceL2Status', metadata: { name: 's' } }), /ServiceL2Status s: ignored/],
  ];
  for (const [name, text, want] of rows) {
    const c = convert(text);
    t.match(c.warnings.map((w) => `${w.path}: ${w.message}`).join('\n'), want, name);
  }
  const selected = convert(docs(pool('a', { addresses: ['198.51.100.0/28'] }, { zone: 'lan' }), ad('x', { ipAddressPoolSelectors: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['lan'] }] }] })));
  t.same(selected.warnings, [], 'a pool selected by labels is announced: nothing to warn');
});

t.test('BGP objects are refused by name; bad addresses and overlaps are problems naming where', async (t) => {
  t.match(problemsOf(docs(pool('a', { addresses: ['198.51.100.0/28'] }), { apiVersion: 'metallb.io/v1beta2', kind: 'BGPPeer', metadata: { name: 'router', namespace: 'metallb-system' }, spec: {} })).join('\n'), /BGPPeer metallb-system\/router: BGP is not supported/);
  t.match(problemsOf(docs(pool('a', { addresses: ['198.51.100.300/28'] }), ad('x'))).join('\n'), /IPAddressPool metallb-system\/a: spec\.addresses\[0\]/);
  t.match(problemsOf(docs(pool('a', {}), ad('x'))).join('\n'), /spec\.addresses: is required/);
  t.match(problemsOf(docs(pool('a', { addresses: ['198.51.100.0/28'] }), pool('b', { addresses: ['198.51.100.8/29'] }), ad('x'))).join('\n'), /overlap/);
});

t.test('a ConfigMap manifest holds no MetalLB objects: it is left to the ConfigMap reader', async (t) => {
  t.equal(metallbObjects(readManifestObjects(readFileSync(new URL('../../../examples/migration/metallb-config.yaml', import.meta.url), 'utf8'))), undefined);
  t.throws(() => readManifestObjects('a: [b'), InvalidManifestError, 'not YAML: a clear error');
});
