import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import {
  ROOT, createServices, eventually, getService, ingressIps, kubeconfigPath, kubectl, namespaces, startController, uniqueName,
} from './harness.js';
import { serviceAccountKubeconfig } from '../../testkit/support.js';

// The install manifests against the real API server: they validate, and the
// controller does its whole job with exactly the RBAC they grant.
const manifests = path.join(ROOT, 'manifests');
const ns = uniqueName('manifests');

t.test('kubectl apply --dry-run=server -k manifests/ passes', async (t) => {
  // A server-side dry run cannot create the namespace it then puts objects in.
  await kubectl(['apply', '-f', path.join(manifests, 'namespace.yaml')]);
  const out = await kubectl(['apply', '--dry-run=server', '-k', manifests]);
  for (const kind of [
    'namespace/barelb-system', 'serviceaccount/barelb-controller', 'clusterrole.rbac.authorization.k8s.io/barelb-controller', 'deployment.apps/barelb-controller',
    'serviceaccount/barelb-speaker', 'clusterrole.rbac.authorization.k8s.io/barelb-speaker', 'role.rbac.authorization.k8s.io/barelb-speaker', 'daemonset.apps/barelb-speaker',
    'configmap/barelb-config',
  ]) {
    t.match(out, kind, `${kind} accepted`);
  }
});

t.test('the controller works with the manifests RBAC, and a missing permission shows', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'barelb-rbac-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await kubectl(['apply', '-k', manifests]);
  t.teardown(async () => {
    await kubectl(['delete', '-k', manifests, '--wait=true', '--timeout=120s', '--ignore-not-found']).catch(() => undefined);
  });
  await namespaces(t, ns);
  const kubeconfig = await serviceAccountKubeconfig(kubectl, dir, 'barelb-system', 'barelb-controller');
  t.not(kubeconfig, kubeconfigPath());

  const ctl = await startController(t, ['--kubeconfig', kubeconfig, '--lease-name', uniqueName('lease')]);
  await createServices([{ name: 'rbac', namespace: ns }]);
  const ips = await eventually('an address with least privilege', 20_000, async () => {
    const got = ingressIps(await getService(ns, 'rbac'));
    return got.length ? got : undefined;
  });
  t.same(ips, ['198.51.100.200'], 'assigned from the example pool');
  await eventually('the IPAllocated event', 10_000, async () => {
    const ev = await kubectl(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=rbac,reason=IPAllocated', '-o', 'name']);
    return ev.trim() ? true : undefined;
  });
  t.notMatch(ctl.logs(), /HTTP 403/, 'no request was forbidden');
  await ctl.kill('SIGTERM');

  // Same role without services/status: the write is forbidden, and the log says so.
  const role = (await kubectl(['get', 'clusterrole', 'barelb-controller', '-o', 'json'])).replace(/"services\/status"/, '"services/finalizers"');
  await kubectl(['apply', '-f', '-'], role);
  const denied = await startController(t, ['--kubeconfig', kubeconfig, '--lease-name', uniqueName('lease')]);
  await createServices([{ name: 'rbac-denied', namespace: ns }]);
  await eventually('a forbidden status write in the log', 20_000, async () => (/HTTP 403.*services\/status|status write failed.*403|403.*status/s.test(denied.logs()) ? true : undefined));
  t.same(ingressIps(await getService(ns, 'rbac-denied')), [], 'no address without the permission');
  t.pass('a missing permission is caught and reported');
});
