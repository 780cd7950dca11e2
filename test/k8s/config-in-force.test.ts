import t from 'tap';
import fc from 'fast-check';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { loadConfig } from '../../src/config/config-loader.js';
import {
  CONFIG_IN_FORCE_NAME,
  configInForceObject,
  describeRecord,
  parseConfigInForce,
  readConfigInForce,
  sameRecord,
  writeConfigInForce,
  type ConfigInForce,
} from '../../src/k8s/config-in-force.js';

const SOURCES = [
  'pools:\n  - name: lan\n    addresses: [198.51.100.200-198.51.100.250, 2001:db8::/120]\n',
  [
    'pools:',
    '  - name: a',
    '    addresses: [198.51.100.0/28]',
    '    autoAssign: false',
    '    avoidBuggyIPs: true',
    '    namespaces: [shop, web]',
    '    serviceSelector:',
    '      matchLabels: {tier: front}',
    '      matchExpressions: [{key: env, operator: In, values: [prod]}]',
    '  - name: b',
    '    addresses: [203.0.113.10-203.0.113.20]',
    'announce:',
    '  nodeSelector: {matchLabels: {lb: "yes"}}',
    '  interfaces: [eth1]',
    '  garpRefreshSeconds: 30',
    '',
  ].join('\n'),
  'pools: []\n',
];

function recordOf(yamlText: string, over: Partial<ConfigInForce> = {}): ConfigInForce {
  const loaded = loadConfig({ data: { 'config.yaml': yamlText } }, 'barelb');
  if (!loaded.ok) throw loaded.error;
  return { config: loaded.config, source: 'barelb-system/barelb-config', sourceVersion: '17', format: 'barelb', acceptedAt: new Date('2026-11-30T12:00:00Z'), ...over };
}

t.test('a record reads back as the same config, whatever it holds', async (t) => {
  for (const text of SOURCES) {
    const record = recordOf(text);
    const cm = configInForceObject('barelb-system', record);
    t.equal(cm.metadata?.name, CONFIG_IN_FORCE_NAME);
    const back = parseConfigInForce(cm);
    t.same(back, record, `round trip: ${text.split('\n')[1] ?? text}`);
    t.ok(back && sameRecord(back, record), 'and says the same');
  }
  const foreign = recordOf(SOURCES[0] as string, { format: 'metallb', source: 'metallb-system/config', sourceVersion: undefined });
  t.same(parseConfigInForce(configInForceObject('barelb-system', foreign)), foreign, 'a converted foreign config is recorded in barelb\'s format; no version is no version');
});

t.test('a record that is not whole is not trusted', async (t) => {
  const good = configInForceObject('barelb-system', recordOf(SOURCES[0] as string));
  const ann = good.metadata?.annotations ?? {};
  const without = (key: string): V1ConfigMap => ({ ...good, metadata: { ...good.metadata, annotations: Object.fromEntries(Object.entries(ann).filter(([k]) => k !== key)) } });
  const rows: [string, V1ConfigMap | undefined][] = [
    ['absent', undefined],
    ['no accepted-at', without('barelb.io/accepted-at')],
    ['no source', without('barelb.io/config-source')],
    ['an unknown format', { ...good, metadata: { ...good.metadata, annotations: { ...ann, 'barelb.io/config-format': 'cilium' } } }],
    ['a bad time', { ...good, metadata: { ...good.metadata, annotations: { ...ann, 'barelb.io/accepted-at': 'yesterday' } } }],
    ['invalid config text', { ...good, data: { 'config.yaml': 'pools:\n  - name: x\n    addresses: [nope]\n' } }],
    ['no config text', { ...good, data: {} }],
  ];
  for (const [what, cm] of rows) t.equal(parseConfigInForce(cm), undefined, what);
});

t.test('sameRecord: only what it says counts, not when it was said', async (t) => {
  const a = recordOf(SOURCES[1] as string);
  t.ok(sameRecord(a, { ...a, acceptedAt: new Date(0) }));
  t.notOk(sameRecord(undefined, a));
  t.notOk(sameRecord(a, { ...a, sourceVersion: '18' }));
  t.notOk(sameRecord(a, { ...a, source: 'x/y' }));
  t.notOk(sameRecord(a, { ...a, format: 'kube-vip' }));
  t.notOk(sameRecord(a, recordOf(SOURCES[0] as string)));
  // Property: a record equals itself read back, for any version and time.
  fc.assert(
    fc.property(fc.option(fc.stringMatching(/^[0-9]{1,12}$/), { nil: undefined }), fc.date({ min: new Date(0), max: new Date('2100-01-01'), noInvalidDate: true }), (v, at) => {
      const r = recordOf(SOURCES[0] as string, { sourceVersion: v, acceptedAt: at });
      const back = parseConfigInForce(configInForceObject('ns', r));
      return back !== undefined && sameRecord(back, r) && back.acceptedAt.getTime() === at.getTime();
    }),
  );
});

const notFound = Object.assign(new Error('not found'), { code: 404 });
const conflict = Object.assign(new Error('exists'), { code: 409 });

t.test('write: replace, create when missing, and a create race is not an error', async (t) => {
  const record = recordOf(SOURCES[0] as string);
  const calls: string[] = [];
  const api = (replace: () => Promise<V1ConfigMap>, create: () => Promise<V1ConfigMap>) => ({
    replaceNamespacedConfigMap: (p: { name: string; namespace: string; body: V1ConfigMap }) => (calls.push(`replace ${p.namespace}/${p.name}`), replace()),
    createNamespacedConfigMap: (p: { namespace: string; body: V1ConfigMap }) => (calls.push(`create ${p.namespace}/${p.body.metadata?.name}`), create()),
  });
  const ok = (): Promise<V1ConfigMap> => Promise.resolve({});
  await writeConfigInForce(api(ok, ok) as never, 'barelb-system', record);
  t.same(calls.splice(0), ['replace barelb-system/barelb-config-in-force'], 'an existing record is replaced');
  await writeConfigInForce(api(() => Promise.reject(notFound), ok) as never, 'barelb-system', record);
  t.same(calls.splice(0), ['replace barelb-system/barelb-config-in-force', 'create barelb-system/barelb-config-in-force'], 'a missing one is created');
  await writeConfigInForce(api(() => Promise.reject(notFound), () => Promise.reject(conflict)) as never, 'barelb-system', record);
  t.pass('someone else created it meanwhile: fine');
  await t.rejects(writeConfigInForce(api(() => Promise.reject(Object.assign(new Error('forbidden'), { code: 403 })), ok) as never, 'barelb-system', record), /forbidden/, 'other errors reach the caller (it retries)');
});

t.test('read: absent is undefined, errors reach the caller', async (t) => {
  const record = recordOf(SOURCES[1] as string);
  const read = (r: () => Promise<V1ConfigMap>) => ({ readNamespacedConfigMap: () => r() });
  t.same(await readConfigInForce(read(() => Promise.resolve(configInForceObject('barelb-system', record))) as never, 'barelb-system'), record);
  t.equal(await readConfigInForce(read(() => Promise.reject(notFound)) as never, 'barelb-system'), undefined);
  await t.rejects(readConfigInForce(read(() => Promise.reject(new Error('boom'))) as never, 'barelb-system'), /boom/);
});

t.test('describeRecord says which version, of what, accepted when; an unknown version as ?', async (t) => {
  const r = recordOf(SOURCES[0] as string);
  t.equal(describeRecord(r), 'version 17 of barelb-system/barelb-config, accepted 2026-11-30T12:00:00.000Z');
  t.equal(describeRecord({ ...r, sourceVersion: undefined }), 'version ? of barelb-system/barelb-config, accepted 2026-11-30T12:00:00.000Z');
});
