import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { speakerLeaseName } from '../../src/election/speaker-lease.js';
import { SPEAKER_LEASE_NAMESPACE } from '../../src/names.js';
import type { StatusJson } from '../../src/status/status-json.js';
import { serviceAccountKubeconfig } from '../../testkit/support.js';
import {
  createBarelbNamespaces,
  deleteNamespace,
  apply, applyBarelbConfig, CLI, eventually, ingressIp, kubectl, lab, announcerOf, ROOT, serviceYaml, speakerKubeconfig, startController, startSpeaker,
} from '../../testkit/lab.js';

// `barelb status` against the lab with the real controller and three speakers:
// one Service that gets an address and is announced, one that stays pending.
const NS = 'e2e-status';
const POOL = 'pools:\n  - name: lan\n    addresses: [198.51.100.200-198.51.100.250]\n';
const OUTSIDE = '192.0.2.9';

// What `barelb status` needs, and nothing more (the README gives the same rules).
const STATUS_RBAC = `
apiVersion: v1
kind: ServiceAccount
metadata: {name: e2e-status-reader, namespace: barelb-system}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: e2e-status-nobody, namespace: barelb-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: e2e-status-reader}
rules:
  - {apiGroups: [""], resources: [services, events], verbs: [list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: e2e-status-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: e2e-status-reader}
subjects: [{kind: ServiceAccount, name: e2e-status-reader, namespace: barelb-system}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: e2e-status-reader, namespace: barelb-system}
rules:
  - {apiGroups: [""], resources: [configmaps], verbs: [list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: e2e-status-reader, namespace: barelb-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: e2e-status-reader}
subjects: [{kind: ServiceAccount, name: e2e-status-reader, namespace: barelb-system}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: e2e-status-reader, namespace: barelb-speakers}
rules:
  - {apiGroups: [coordination.k8s.io], resources: [leases], verbs: [list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: e2e-status-reader, namespace: barelb-speakers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: e2e-status-reader}
subjects: [{kind: ServiceAccount, name: e2e-status-reader, namespace: barelb-system}]
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'close')) as [number];
  return { code, stdout, stderr };
}

const status = (args: string[], kubeconfig = lab.kubeconfig): Promise<Run> => run(process.execPath, [CLI, 'status', '--kubeconfig', kubeconfig, ...args]);

async function statusJson(kubeconfig?: string): Promise<StatusJson> {
  const r = await status(['-o', 'json'], kubeconfig);
  if (r.code !== 0) throw new Error(`barelb status -o json exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as StatusJson;
}

/** Table rows (cells split on runs of two or more spaces) of the section whose header starts with `header`. */
function section(table: string, header: string): string[][] {
  const block = table.split('\n\n').find((b) => b.startsWith(header)) ?? '';
  return block.split('\n').map((l) => l.split(/ {2,}/));
}

let ip: string;
let holder: string;

t.before(async () => {
  await createBarelbNamespaces();
  await kubectl(['create', 'namespace', NS]);
  await applyBarelbConfig(POOL);
  startController(t);
  const saConfig = await speakerKubeconfig();
  for (const n of lab.nodes) startSpeaker(t, n, [], saConfig);
  await apply(serviceYaml({ name: 'web', namespace: NS, port: 80, targetPort: 8080, endpointNodes: lab.nodes }));
  await apply(serviceYaml({ name: 'outside', namespace: NS, port: 80, targetPort: 8080, endpointNodes: lab.nodes, annotations: { 'barelb.io/loadBalancerIPs': OUTSIDE } }));
  ip = await ingressIp(NS, 'web');
  // Read with kubectl from the speaker Leases, not through status.
  holder = await eventually(`one node's speaker Lease to list ${ip}`, 20_000, () => announcerOf(ip));
  // The controller writes its Events after the status; wait until status has read both.
  await eventually('status to show the pending reason and the announcer', 20_000, async () => {
    const s = await statusJson();
    const web = s.services.find((x) => x.name === 'web');
    return s.problems.some((p) => p.kind === 'pending' && p.reason) && web?.addresses[0]?.announcedBy ? true : undefined;
  });
});

t.teardown(async () => {
  await deleteNamespace(NS);
  await kubectl(['delete', 'clusterrole,clusterrolebinding', 'e2e-status-reader', '--ignore-not-found']).catch(() => undefined);
});

t.test('the table: pool numbers, the Service with its IP, pool and announcing node, the pending one under problems', async (t) => {
  const r = await status([]);
  t.equal(r.code, 0, 'exit 0 with problems present (no --fail-on-problems)');
  t.comment(`\n${r.stdout}`);
  t.same(section(r.stdout, 'POOL')[1], ['lan', '51', '1', '50', '198.51.100.200-198.51.100.250'], 'lan: 51 addresses, 1 used, 50 free');
  const services = section(r.stdout, 'SERVICE');
  t.same(services[0], ['SERVICE', 'IP', 'POOL', 'ANNOUNCED BY']);
  const web = services.find((row) => row[0] === `${NS}/web`);
  t.same(web, [`${NS}/web`, ip, 'lan', holder], `${ip} from lan, announced by ${holder}`);
  t.same(services.find((row) => row[0] === `${NS}/outside`), [`${NS}/outside`, '<pending>', '-', '-']);
  const pending = section(r.stdout, 'PROBLEM').filter((row) => row[0] === 'pending');
  t.equal(pending.length, 1, 'one pending Service');
  t.match(pending[0], ['pending', `${NS}/outside`, new RegExp(`^AllocationFailed: .*${OUTSIDE.replace(/\./g, '\\.')}.*not in any configured pool`)]);
  t.notMatch(r.stdout, /not-announced|multiple-announcers|not-heard|orphaned-announcement|ip-conflict|invalid-config/, 'no other problem: one announcer, and the three speakers hear each other');
});

t.test('-o json: the same facts, the announcer from its speaker Lease', async (t) => {
  const s = await statusJson();
  t.comment(`\n${JSON.stringify(s, null, 2)}`);
  t.match(s.config, {
    configMap: 'barelb-system/barelb-config',
    state: 'valid',
    inForce: { record: 'barelb-system/barelb-config-in-force', source: 'barelb-system/barelb-config', current: true },
  }, 'the version the controller runs on is the ConfigMap as it is');
  t.same(s.pools, [{ name: 'lan', addresses: ['198.51.100.200-198.51.100.250'], size: '51', used: '1', free: '50' }]);
  const announces = await kubectl(['get', 'lease', '-n', SPEAKER_LEASE_NAMESPACE, speakerLeaseName(holder), '-o', 'jsonpath={.metadata.annotations.barelb\\.io/announces}']);
  t.ok(announces.trim().split(' ').includes(ip), `${speakerLeaseName(holder)} lists ${ip} in barelb.io/announces ("${announces.trim()}")`);
  const web = s.services.find((x) => x.namespace === NS && x.name === 'web');
  t.same(web, { namespace: NS, name: 'web', pending: false, addresses: [{ ip, pool: 'lan', announcedBy: holder }] }, 'no since: when a node started to announce is not published');
  t.match(s.services.find((x) => x.name === 'outside'), { namespace: NS, pending: true, addresses: [] });
  t.same(
    s.problems.map((p) => [p.kind, p.object, p.reason]),
    [['pending', `${NS}/outside`, 'AllocationFailed']],
    'exactly one problem: the pending Service, with the Event reason',
  );
});

t.test('--fail-on-problems exits 1 while a Service is pending; bad flags exit 2', async (t) => {
  const r = await status(['--fail-on-problems']);
  t.equal(r.code, 1);
  t.match(r.stdout, /^pending\s+e2e-status\/outside/m, 'and still prints the report');
  const bad = await status(['-o', 'yaml']);
  t.equal(bad.code, 2, 'a bad flag exits 2');
  t.match(bad.stderr, /--output "yaml": expected table or json/);
});

t.test('kubectl barelb status: found by kubectl on PATH, reading $KUBECONFIG', async (t) => {
  const env = { PATH: `${path.join(ROOT, 'bin')}:${process.env['PATH'] ?? ''}`, KUBECONFIG: lab.kubeconfig };
  const plugins = await run('kubectl', ['plugin', 'list'], env);
  t.match(plugins.stdout, /bin\/kubectl-barelb/, 'kubectl lists the plugin');
  const r = await run('kubectl', ['barelb', 'status'], env);
  t.equal(r.code, 0, r.stderr);
  const web = section(r.stdout, 'SERVICE').find((row) => row[0] === `${NS}/web`);
  t.match(web, [`${NS}/web`, ip, 'lan', holder], 'the same row as barelb status');
  t.same(section(r.stdout, 'POOL')[1]?.slice(0, 4), ['lan', '51', '1', '50']);
  const json = await run('kubectl', ['barelb', 'status', '-o', 'json', '--kubeconfig', lab.kubeconfig], { ...env, KUBECONFIG: '/nonexistent' });
  t.equal(json.code, 0, `--kubeconfig wins over $KUBECONFIG: ${json.stderr}`);
  t.equal((JSON.parse(json.stdout) as StatusJson).problems[0]?.object, `${NS}/outside`);
  const help = await run('kubectl', ['barelb', 'status', '--help'], env);
  t.match(help.stdout, /need list on services and events in all\s+namespaces, on configmaps in --config-namespace \(else --namespace\), and on leases in\s+--lease-namespace/, 'the help names the RBAC it needs');
});

t.test('list on services, events, configmaps and leases is all it needs; without it, it says what is missing', async (t) => {
  await kubectl(['apply', '-f', '-'], STATUS_RBAC);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'barelb-e2e-status-'));
  const reader = await serviceAccountKubeconfig(kubectl, dir, 'barelb-system', 'e2e-status-reader');
  const s = await statusJson(reader);
  t.equal(s.services.find((x) => x.name === 'web')?.addresses[0]?.announcedBy, holder, 'the read-only account sees the announcer');
  t.equal(s.problems[0]?.reason, 'AllocationFailed', 'and the Events');
  const nobody = await serviceAccountKubeconfig(kubectl, dir, 'barelb-system', 'e2e-status-nobody');
  const denied = await status([], nobody);
  t.equal(denied.code, 2);
  t.match(denied.stderr, /^barelb: cannot list .*HTTP 403.*needs list on services and events in all namespaces/);
  t.notMatch(denied.stderr, /\n\s+at /, 'no stack trace');
});
