import t from 'tap';
import { loadConfig } from '../../src/config/config-loader.js';

t.test('no ConfigMap: an empty, valid config', async (t) => {
  const r = loadConfig(undefined);
  t.ok(r.ok);
  if (r.ok) t.same(r.config.pools, []);
});

t.test('a ConfigMap without config.yaml is an error that names the keys found', async (t) => {
  const r = loadConfig({ data: { 'config.yml': 'pools: []' } });
  t.notOk(r.ok);
  if (!r.ok) t.match(r.error.problems[0], { path: 'data.config.yaml', message: /is missing.*found: config.yml/ });
});

t.test('parses config.yaml, and reports its problems', async (t) => {
  const good = loadConfig({ data: { 'config.yaml': 'pools:\n- name: a\n  addresses: [198.51.100.0/30]\n' } });
  t.ok(good.ok);
  const bad = loadConfig({ data: { 'config.yaml': 'pools:\n- name: a\n  addresses: [nope]\n' } });
  t.notOk(bad.ok);
  if (!bad.ok) t.match(bad.error.problems[0], { path: 'pools[0].addresses[0]', pool: 'a', value: 'nope' });
});

t.test('--config-format metallb reads data.config through the converter', async (t) => {
  const good = loadConfig({ data: { config: 'address-pools:\n- name: Lan\n  protocol: layer2\n  addresses: [198.51.100.0/30]\n' } }, 'metallb');
  t.ok(good.ok);
  if (good.ok) {
    t.same(good.config.pools.map((p) => [p.name, p.ranges.map(String), p.autoAssign]), [['lan', ['198.51.100.0-198.51.100.3'], true]]);
    t.match(good.warnings, [{ path: 'address-pools[0].name', message: /named "lan"/ }], 'the rename is a warning');
  }
  const bgp = loadConfig({ data: { config: 'address-pools:\n- name: edge\n  protocol: bgp\n  addresses: [198.51.100.0/30]\n' } }, 'metallb');
  t.notOk(bgp.ok, 'a bgp pool is invalid config, like any invalid barelb config');
  if (!bgp.ok) t.match(bgp.error.problems[0], { path: 'address-pools[0].protocol', pool: 'edge', message: /bgp is not supported/ });
  const missing = loadConfig({ data: { 'config.yaml': 'pools: []' } }, 'metallb');
  t.notOk(missing.ok);
  if (!missing.ok) t.match(missing.error.problems[0], { path: 'data.config', message: /is missing.*found: config.yaml/ });
});

t.test('--config-format kube-vip reads the whole data map', async (t) => {
  const r = loadConfig({ data: { 'cidr-global': '198.51.100.0/29', 'range-team': '198.51.100.10-198.51.100.12' } }, 'kube-vip');
  t.ok(r.ok);
  if (r.ok) {
    t.same(r.config.pools.map((p) => [p.name, p.namespaces]), [['cidr-global', []], ['range-team', ['team']]]);
    t.same(r.warnings.map((w) => w.path), ['range-team'], 'range-team is never reached by kube-vip: a warning');
  }
  const bad = loadConfig({ data: { 'cidr-global': '0.0.0.0/32' } }, 'kube-vip');
  t.notOk(bad.ok);
  if (!bad.ok) t.match(bad.error.problems[0], { path: 'cidr-global', message: /DHCP/ });
  const empty = loadConfig({}, 'kube-vip');
  t.ok(empty.ok, 'a ConfigMap without data is valid: no pools');
});

t.test('the source changes exactly when the data does, so a reload happens only then', async (t) => {
  const a = loadConfig({ data: { 'cidr-global': '198.51.100.0/29', 'range-b': '198.51.100.10-198.51.100.12' } }, 'kube-vip');
  const sameReordered = loadConfig({ data: { 'range-b': '198.51.100.10-198.51.100.12', 'cidr-global': '198.51.100.0/29' } }, 'kube-vip');
  const changed = loadConfig({ data: { 'cidr-global': '198.51.100.0/28' } }, 'kube-vip');
  t.equal(a.source, sameReordered.source);
  t.not(a.source, changed.source);
  const invalid = loadConfig({ data: { config: 'address-pools: [' } }, 'metallb');
  const valid = loadConfig({ data: { config: 'address-pools: []' } }, 'metallb');
  t.not(invalid.source, valid.source);
});

t.test('barelb format is unchanged by the others and has no warnings', async (t) => {
  const r = loadConfig({ data: { 'config.yaml': 'pools:\n- name: a\n  addresses: [198.51.100.0/30]\n', config: 'address-pools: [' } }, 'barelb');
  t.ok(r.ok);
  if (r.ok) t.same(r.warnings, []);
});
