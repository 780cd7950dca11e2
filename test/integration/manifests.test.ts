import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import {
  ROOT, createServices, eventually, getService, ingressIps, kubeconfigPath, kubectl, namespaces, startController, uniqueName,
} from './harness.js';
import yaml from 'js-yaml';
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
    'configmap/barelb-config', 'namespace/barelb-speakers', 'role.rbac.authorization.k8s.io/barelb-speaker-leases',
  ]) {
    t.match(out, kind, `${kind} accepted`);
  }
  t.match(await kubectl(['apply', '--dry-run=server', '-k', path.join(ROOT, 'examples/nodeport')]), 'daemonset.apps/barelb-speaker', 'the nodeport variant too');
});

t.test('capabilities: NET_RAW for the speaker; NET_ADMIN only in the nodeport variant, which turns the mode on', async (t) => {
  const speakerOf = async (dir: string): Promise<{ args: string[]; add: string[] }> => {
    const docs = (await kubectl(['kustomize', dir])).split(/^---$/m).map((d) => yaml.load(d) as { kind?: string; spec?: { template?: { spec?: { containers?: { args?: string[]; securityContext?: { capabilities?: { add?: string[] } } }[] } } } });
    const c = docs.find((d) => d?.kind === 'DaemonSet')?.spec?.template?.spec?.containers?.[0];
    return { args: c?.args ?? [], add: c?.securityContext?.capabilities?.add ?? [] };
  };
  t.same(await speakerOf(manifests), { args: ['speaker'], add: ['NET_RAW'] }, 'manifests/: ARP and heartbeats need NET_RAW alone');
  // The kustomization sets no namespace (it would move the speakers' Lease Role), so each object names its own.
  const placed = (await kubectl(['kustomize', manifests])).split(/^---$/m).map((d) => yaml.load(d) as { kind: string; metadata: { name: string; namespace?: string } });
  const cluster = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);
  t.same(placed.filter((d) => !cluster.has(d.kind) && !d.metadata.namespace).map((d) => `${d.kind}/${d.metadata.name}`), [], 'every namespaced object names its namespace');
  t.same([...new Set(placed.filter((d) => d.metadata.namespace).map((d) => `${d.kind}:${d.metadata.namespace}`))].filter((k) => k.endsWith(':barelb-speakers')).sort(), ['Role:barelb-speakers', 'RoleBinding:barelb-speakers'], 'only the speakers\' Lease RBAC lives in barelb-speakers');
  t.same(await speakerOf(path.join(ROOT, 'examples/nodeport')), { args: ['speaker', '--forward=nodeport'], add: ['NET_RAW', 'NET_ADMIN'] }, 'examples/nodeport: nftables needs NET_ADMIN');
});

t.test('the controller works with the manifests RBAC, and a missing permission shows', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'barelb-rbac-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await kubectl(['apply', '-k', manifests]);
  t.teardown(async () => {
    await kubectl(['delete', '-k', manifests, '--wait=true', '--timeout=120s', '--ignore-not-found']).catch(() => undefined);
  });
  await namespaces(t, ns);

  // The speaker's credentials reach its own Leases, not the controller's.
  const speaker = await serviceAccountKubeconfig(kubectl, dir, 'barelb-system', 'barelb-speaker');
  const canI = async (args: string[]): Promise<string> =>
    new Promise((resolve) => execFile('kubectl', ['--kubeconfig', speaker, 'auth', 'can-i', ...args], (_err, stdout) => resolve(stdout.trim())));
  const rows: [what: string, args: string[], want: string][] = [
    ["update the controller's Lease", ['update', 'leases/barelb-controller', '-n', 'barelb-system'], 'no'],
    ["delete the controller's Lease", ['delete', 'leases/barelb-controller', '-n', 'barelb-system'], 'no'],
    ['create a Lease beside it', ['create', 'leases', '-n', 'barelb-system'], 'no'],
    ['update a speaker Lease', ['update', 'leases/barelb-speaker-node1', '-n', 'barelb-speakers'], 'yes'],
    ['create a speaker Lease', ['create', 'leases', '-n', 'barelb-speakers'], 'yes'],
    ['read the heartbeat key', ['get', 'secrets/barelb-heartbeat-key', '-n', 'barelb-system'], 'yes'],
    ['read another Secret', ['get', 'secrets/other', '-n', 'barelb-system'], 'no'],
    ['write Service status', ['update', 'services/status', '-n', 'default'], 'no'],
  ];
  for (const [what, args, want] of rows) t.equal(await canI(args), want, `the speaker ${want === 'yes' ? 'may' : 'may not'} ${what}`);

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
  const record = await eventually('the config in force recorded', 10_000, async () =>
    (await kubectl(['get', 'configmap', '-n', 'barelb-system', 'barelb-config-in-force', '-o', 'jsonpath={.metadata.annotations.barelb\\.io/config-source}']).catch(() => '')) || undefined,
  );
  t.equal(record, 'barelb-system/barelb-config', 'the config in force is recorded with the RBAC of the manifests');
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
