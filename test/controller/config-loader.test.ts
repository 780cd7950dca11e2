import t from 'tap';
import { loadConfig } from '../../src/controller/config-loader.js';

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
