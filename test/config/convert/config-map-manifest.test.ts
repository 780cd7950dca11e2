import t from 'tap';
import yaml from 'js-yaml';
import { InvalidManifestError, readConfigMapManifest, renderConfigMapManifest } from '../../../src/config/convert/config-map-manifest.js';

const CM = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kubevip\n  namespace: kube-system\ndata:\n  cidr-global: 10.0.0.0/24\n';

t.test('finds the one ConfigMap in what kubectl prints', async (t) => {
  const rows: [name: string, text: string][] = [
    ['a ConfigMap', CM],
    ['a List', `apiVersion: v1\nkind: List\nitems:\n- ${CM.trim().split('\n').join('\n  ')}\n`],
    ['several documents', `apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\n${CM}---\n`],
    ['JSON', JSON.stringify(yaml.load(CM))],
  ];
  for (const [name, text] of rows) {
    t.same(readConfigMapManifest(text), { namespace: 'kube-system', name: 'kubevip', data: { 'cidr-global': '10.0.0.0/24' } }, name);
  }
  t.same(readConfigMapManifest('kind: ConfigMap\n').data, {}, 'no data: an empty map');
});

t.test('anything else is an error that says what was found', async (t) => {
  const rows: [name: string, text: string, message: RegExp][] = [
    ['nothing', '', /expected a ConfigMap manifest.*found nothing/],
    ['another kind', 'kind: Service\n', /found Service/],
    ['two ConfigMaps', `${CM}---\n${CM.replace('kubevip', 'other')}`, /expected one ConfigMap, found 2: kube-system\/kubevip, kube-system\/other/],
    ['not YAML', 'kind: [\n', /not valid YAML/],
    ['a value that is no string', 'kind: ConfigMap\nmetadata: {name: c}\ndata:\n  skip-end-ips-in-cidr: true\n', /data.skip-end-ips-in-cidr must be a string \(quote it: "true"\)/],
  ];
  for (const [name, text, message] of rows) {
    t.throws(() => readConfigMapManifest(text), { constructor: InvalidManifestError, message }, name);
  }
});

t.test('renders barelb\'s ConfigMap with config.yaml as a block', async (t) => {
  const text = renderConfigMapManifest({ namespace: 'ns', name: 'n', configYaml: 'pools:\n  - name: a\n', comment: ['made by a test'] });
  t.match(text, /^# made by a test\napiVersion: v1\nkind: ConfigMap\n/);
  t.match(text, /config\.yaml: \|\n {4}pools:\n/);
  t.same(readConfigMapManifest(text), { namespace: 'ns', name: 'n', data: { 'config.yaml': 'pools:\n  - name: a\n' } }, 'reads back');
});
