import t from 'tap';
import { metallbObjectsView, type MetallbObject } from '../../src/config/metallb-objects-view.js';
import { buildStatusReport, DEFAULT_SCOPE } from '../../src/status/status-report.js';
import { view } from '../fixtures.js';

// `barelb status --config-format metallb-crds`: the report reads MetalLB's objects in place of the ConfigMap.
const NOW = Date.parse('2026-01-01T12:00:00Z');
const NS = 'metallb-system';
const scope = { ...DEFAULT_SCOPE, namespace: NS, configFormat: 'metallb-crds' as const };
const pool = (name: string, addresses: string[]): MetallbObject => ({
  apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name, namespace: NS, uid: `u-${name}`, resourceVersion: '1' }, spec: { addresses },
});
const ad: MetallbObject = { apiVersion: 'metallb.io/v1beta1', kind: 'L2Advertisement', metadata: { name: 'l2', namespace: NS, uid: 'u-l2', resourceVersion: '1' }, spec: {} };
const report = (objects: MetallbObject[], unavailable?: { kind: 'IPAddressPool'; status: 404 }) =>
  buildStatusReport({ configMap: undefined, configObjects: metallbObjectsView(NS, objects, unavailable), services: [view('web', { ingressIps: ['198.51.100.1'] })], leases: [], events: [], nowMs: NOW }, scope);

t.test('the objects\' pools, and where they were read', async (t) => {
  const r = report([pool('lan', ['198.51.100.0/29']), ad]);
  t.equal(r.config, 'valid');
  t.same(r.pools.map((p) => [p.name, p.used, p.free]), [['lan', 1n, 7n]]);
  t.match(r.configMap, /MetalLB IPAddressPools and L2Advertisements in metallb-system/);
  t.notOk(r.problems.some((p) => p.kind === 'missing-config' || p.kind === 'invalid-config'), 'no config problem');
});

t.test('no objects, or the CRD not installed: missing, and says why', async (t) => {
  const none = report([]);
  t.equal(none.config, 'missing');
  t.match(none.problems.find((p) => p.kind === 'missing-config')?.message, /no IPAddressPool or L2Advertisement in metallb-system/);
  const crd = report([], { kind: 'IPAddressPool', status: 404 });
  t.equal(crd.config, 'missing');
  t.match(crd.problems.find((p) => p.kind === 'missing-config')?.message, /is MetalLB's CRD \(ipaddresspools\.metallb\.io\) installed\?/);
});

t.test('invalid objects: invalid-config with the problem', async (t) => {
  const r = report([pool('bad', ['nope']), ad]);
  t.equal(r.config, 'invalid');
  t.match(r.problems.find((p) => p.kind === 'invalid-config')?.message, /IPAddressPool metallb-system\/bad: spec\.addresses\[0\]/);
});
