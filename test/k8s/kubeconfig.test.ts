import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeconfigError, loadKubeConfig } from '../../src/k8s/kubeconfig.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'blb-kubeconfig-'));
const file = (name: string, server: string, context = name): string => {
  const p = path.join(dir, `${name}.yaml`);
  writeFileSync(
    p,
    `apiVersion: v1\nkind: Config\nclusters: [{name: ${name}, cluster: {server: '${server}'}}]\nusers: [{name: ${name}, user: {token: x}}]\n` +
      `contexts: [{name: ${name}, context: {cluster: ${name}, user: ${name}}}]\ncurrent-context: ${context}\n`,
  );
  return p;
};
const a = file('a', 'https://127.0.0.1:1');
const b = file('b', 'https://127.0.0.1:2');
const noContext = file('c', 'https://127.0.0.1:3', 'missing');
// HOME without ~/.kube/config, so the fallbacks are what each case says.
const saved = { HOME: process.env['HOME'], KUBECONFIG: process.env['KUBECONFIG'], KUBERNETES_SERVICE_HOST: process.env['KUBERNETES_SERVICE_HOST'] };
function withEnv(env: Record<string, string>): void {
  for (const k of Object.keys(saved)) delete process.env[k];
  Object.assign(process.env, { HOME: mkdtempSync(path.join(os.tmpdir(), 'blb-home-')) }, env);
}
t.teardown(() => {
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
});

t.test('the flag wins over $KUBECONFIG', async (t) => {
  withEnv({ KUBECONFIG: a });
  t.equal(loadKubeConfig(b).getCurrentCluster()?.server, 'https://127.0.0.1:2');
});

t.test('$KUBECONFIG may list several files (one path before: a:b failed to load)', async (t) => {
  withEnv({ KUBECONFIG: `${a}:${b}` });
  t.same(loadKubeConfig(undefined).getClusters().map((c) => c.server).sort(), ['https://127.0.0.1:1', 'https://127.0.0.1:2'], 'both files merged');
});

t.test('errors name what was tried and how to fix it', async (t) => {
  withEnv({});
  t.throws(() => loadKubeConfig(undefined), new KubeconfigError('no cluster to talk to: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config, or run in a Pod'));
  t.throws(() => loadKubeConfig(path.join(dir, 'nope.yaml')), { code: 'BARELB_KUBECONFIG', message: /^cannot load the kubeconfig from --kubeconfig .*nope\.yaml: / });
  t.throws(() => loadKubeConfig(noContext), { code: 'BARELB_KUBECONFIG', message: /names no current cluster: set current-context/ });
});
