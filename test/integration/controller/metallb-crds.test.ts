/**
 * `--config-format metallb-crds`: the controller and the speaker run on MetalLB's IPAddressPool and
 * L2Advertisement objects as a migrating MetalLB (0.13+) user has them, against the real control plane
 * with minimal copies of MetalLB's two CRDs: addresses come from the right pools, an edit of a pool takes
 * effect, an invalid edit keeps the last good config (Event on the object + metric), the speaker loads the
 * same config, missing CRDs are reported (not a crash, not an empty config) and picked up once installed,
 * and the RBAC overlay is exactly what the controller needs.
 *
 * Pools: 203.0.113.64/29, 203.0.113.80/29, 203.0.113.96/29, 203.0.113.112/29 (this file only).
 *
 * Needs an API server that can store custom resources: scripts/build-kubernetes.sh replaces the reflect2
 * 1.0.1 Kubernetes 1.20 vendors (its kube-apiserver, built with Go >= 1.18, faults on the first custom
 * resource written) with Debian's 1.0.2.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startTracked } from '../../../testkit/lab.js';
import { deleteMetallbCrds, installMetallbCrds } from '../../../testkit/metallb.js';
import { serviceAccountKubeconfig } from '../../../testkit/support.js';
import {
  CLI, ROOT, apply, assigned, createServices, eventsFor, eventually, getService, ingressIps, kubeconfigPath, kubectl, namespaces, startController, uniqueName, type KubeEvent, type RunningController,
} from '../harness.js';

let crdsInstalled = false;
async function installCrds(): Promise<void> {
  if (crdsInstalled) return;
  crdsInstalled = true;
  await installMetallbCrds(kubectl);
}
t.teardown(async () => {
  await deleteMetallbCrds(kubectl).catch(() => undefined);
});

function pool(namespace: string, name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({ apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name, namespace }, spec });
}
function advertisement(namespace: string, name: string, spec: Record<string, unknown> = {}): string {
  return JSON.stringify({ apiVersion: 'metallb.io/v1beta1', kind: 'L2Advertisement', metadata: { name, namespace }, spec });
}


async function untilMetric(c: RunningController, name: string, want: number, ms = 30_000): Promise<void> {
  let last: number | undefined;
  await eventually(`${name} to be ${want} (last: ${String(last)})`, ms, async () => {
    last = await c.metric(name);
    return last === want ? true : undefined;
  });
}

async function eventOn(namespace: string, kind: string, name: string, reason: string, match: RegExp = /./): Promise<KubeEvent> {
  return eventually(`a ${reason} event on ${kind} ${namespace}/${name}`, 30_000, async () =>
    (await eventsFor(namespace, kind, name)).find((e) => e.reason === reason && match.test(e.message)),
  );
}

t.test('CRDs not installed: said clearly, the config counts as invalid, and is read once they are', async (t) => {
  const cfgNs = uniqueName('mc-early');
  const apps = uniqueName('mc-early-apps');
  const own = uniqueName('mc-early-own');
  await namespaces(t, cfgNs, apps, own);
  const ctl = await startController(t, ['--namespace', own, '--config-namespace', cfgNs, '--config-format', 'metallb-crds', '--lease-name', uniqueName('lease')]);
  await eventually('the log to say the CRD is missing', 30_000, async () =>
    ctl.logLines().some((l) => l['level'] === 50 && /the API server has no metallb\.io\/v1beta1 IPAddressPool: is MetalLB's CRD \(ipaddresspools\.metallb\.io\) installed\?/.test(String(l['msg']))) ? true : undefined,
  );
  await untilMetric(ctl, 'barelb_config_valid', 0);
  t.ok(ctl.logLines().some((l) => l['msg'] === 'waiting for a valid config; until then nothing is assigned and no Service is changed'), 'a fresh controller waits, changing nothing');
  t.equal(ctl.child.exitCode, null, 'and keeps running');

  await installCrds();
  await apply(pool(cfgNs, 'early', { addresses: ['203.0.113.112/29'] }));
  await apply(advertisement(cfgNs, 'l2'));
  await untilMetric(ctl, 'barelb_config_valid', 1, 60_000);
  t.ok(ctl.logLines().some((l) => /can be read now/.test(String(l['msg']))), 'says it reads them now');
  await createServices([{ name: 'first', namespace: apps }]);
  t.same(await assigned(apps, 'first'), { ips: ['203.0.113.112'], pool: 'early' }, 'without a restart');
});

t.test('the controller on MetalLB\'s objects: pools, edits, an invalid edit; the speaker reads the same', async (t) => {
  await installCrds();
  const cfgNs = uniqueName('mc-metallb');
  const team = uniqueName('mc-team');
  const apps = uniqueName('mc-apps');
  const own = uniqueName('mc-own');
  await namespaces(t, cfgNs, team, apps, own);
  // As a MetalLB user has them: a team pool preferred (priority 5) for one namespace, a LAN pool for the rest.
  // "team.pool" is a fine object name but no DNS label: barelb calls it team-pool, and says so.
  await apply(pool(cfgNs, 'team.pool', { addresses: ['203.0.113.80/29'], serviceAllocation: { priority: 5, namespaces: [team] } }));
  await apply(pool(cfgNs, 'lan', { addresses: ['203.0.113.64-203.0.113.71'], serviceAllocation: { priority: 10 } }));
  await apply(advertisement(cfgNs, 'l2', { ipAddressPools: ['lan', 'team.pool'] }));
  const flags = ['--namespace', own, '--config-namespace', cfgNs, '--config-format', 'metallb-crds'];
  const ctl = await startController(t, [...flags, '--lease-name', uniqueName('lease')]);

  await createServices([{ name: 'api', namespace: team }, { name: 'web', namespace: apps }]);
  t.same(await assigned(team, 'api'), { ips: ['203.0.113.80'], pool: 'team-pool' }, 'the team namespace: the priority-5 pool');
  t.same(await assigned(apps, 'web'), { ips: ['203.0.113.64'], pool: 'lan' }, 'another namespace: the LAN pool');
  await untilMetric(ctl, 'barelb_config_valid', 1);
  const loaded = await eventOn(cfgNs, 'IPAddressPool', 'lan', 'ConfigLoaded');
  t.equal(loaded.message, '2 pool(s): team-pool, lan', 'ConfigLoaded on the IPAddressPool, pools in priority order');
  const warned = await eventOn(cfgNs, 'IPAddressPool', 'team.pool', 'ConversionWarnings');
  t.match(warned.message, /^metallb-crds config read with 1 change\(s\) of meaning: IPAddressPool [^ ]+\/team\.pool: pool "team\.pool" is named "team-pool"/, 'the rename, on the pool it concerns');
  t.same(await eventsFor(cfgNs, 'IPAddressPool', 'lan').then((es) => es.filter((e) => e.reason === 'ConversionWarnings')), [], 'not on the other pool');
  t.equal((await kubectl(['get', 'leases,secrets', '-n', cfgNs, '-o', 'name'])).trim(), '', `nothing of barelb's is written into ${cfgNs}`);

  // An edit of a pool object takes effect: new addresses come from its new range.
  await apply(pool(cfgNs, 'lan', { addresses: ['203.0.113.96/29'], serviceAllocation: { priority: 10 } }));
  await eventually('the edited pool to be loaded', 30_000, async () =>
    ctl.logLines().some((l) => l['msg'] === 'config loaded' && JSON.stringify(l['pools']).includes('203.0.113.96')) ? true : undefined,
  );
  await createServices([{ name: 'after-edit', namespace: apps }]);
  t.same(await assigned(apps, 'after-edit'), { ips: ['203.0.113.96'], pool: 'lan' }, 'a new Service gets an address of the edited pool');
  t.same(ingressIps(await getService(apps, 'web')), ['203.0.113.64'], 'an existing Service keeps its address');

  // An invalid edit: rejected, the last good config stays; the Event is on the object at fault.
  await apply(pool(cfgNs, 'lan', { addresses: ['203.0.113.300/29'], serviceAllocation: { priority: 10 } }));
  const invalid = await eventOn(cfgNs, 'IPAddressPool', 'lan', 'InvalidConfig');
  t.equal(invalid.type, 'Warning');
  t.match(invalid.message, /^rejected \(the last good config stays in force\): IPAddressPool [^ ]+\/lan: spec\.addresses\[0\] \(pool "lan"\)/, 'names the object and the field');
  await untilMetric(ctl, 'barelb_config_valid', 0);
  t.ok(((await ctl.metric('barelb_config_rejected_total')) ?? 0) >= 1, 'counted as rejected');
  await createServices([{ name: 'while-invalid', namespace: apps }]);
  t.same(await assigned(apps, 'while-invalid'), { ips: ['203.0.113.97'], pool: 'lan' }, 'a new Service still gets an address from the last good config');

  // Fixed again; a speaker started with the same flags loads the same config.
  await apply(pool(cfgNs, 'lan', { addresses: ['203.0.113.96/29'], serviceAllocation: { priority: 10 } }));
  await untilMetric(ctl, 'barelb_config_valid', 1);
  const speaker = startTracked(t, process.execPath, [CLI, 'speaker', '--node', 'n1', '--kubeconfig', kubeconfigPath(), ...flags, '--lease-namespace', own, '--metrics-addr', ''], 'speaker');
  const line = await eventually('the speaker to load the config', 60_000, async () =>
    speaker.output().split('\n').map((l) => { try { return JSON.parse(l) as Record<string, unknown>; } catch { return {}; } }).find((l) => l['msg'] === 'config loaded'),
  );
  t.same(line['pools'], ['team-pool', 'lan'], 'the speaker has the same pools, in the same order');
  t.match(speaker.output(), /"configFormat":"metallb-crds"/, 'says which format it reads');
  t.notMatch(speaker.output(), /invalid config rejected/, 'nothing rejected');
  t.match(speaker.output(), /metallb-crds config converted with warnings/, 'and logs the conversion warnings');
});

t.test('RBAC: manifests/ grants no metallb.io access; examples/metallb-crds/rbac.yaml grants what both need', async (t) => {
  await installCrds();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'barelb-metallb-rbac-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const manifests = path.join(ROOT, 'manifests');
  const rbac = path.join(ROOT, 'examples/metallb-crds/rbac.yaml');
  const hadMetallbNs = (await kubectl(['get', 'namespace', 'metallb-system', '--ignore-not-found', '-o', 'name'])).trim() !== '';
  if (!hadMetallbNs) await kubectl(['create', 'namespace', 'metallb-system']);
  await kubectl(['apply', '-k', manifests]);
  t.teardown(async () => {
    await kubectl(['delete', '-f', rbac, '--ignore-not-found']).catch(() => undefined);
    await kubectl(['delete', '-k', manifests, '--wait=true', '--timeout=120s', '--ignore-not-found']).catch(() => undefined);
    if (!hadMetallbNs) await kubectl(['delete', 'namespace', 'metallb-system', '--wait=true', '--timeout=120s', '--ignore-not-found']).catch(() => undefined);
  });
  const apps = uniqueName('mc-rbac-apps');
  await namespaces(t, apps);
  const out = await kubectl(['apply', '--dry-run=server', '-k', path.join(ROOT, 'examples/metallb-crds')]);
  t.match(out, /role\.rbac\.authorization\.k8s\.io\/barelb-read-metallb-config/, 'the overlay is accepted by the API server');
  t.notMatch(out, /configmap\/barelb-config /, 'without the example ConfigMap');

  const canI = (sa: string, verb: string): Promise<string> =>
    new Promise((resolve) => execFile('kubectl', ['--kubeconfig', kubeconfigPath(), 'auth', 'can-i', verb, 'ipaddresspools.metallb.io', '-n', 'metallb-system', '--as', `system:serviceaccount:barelb-system:${sa}`], (_e, stdout) => resolve(stdout.trim())));
  for (const sa of ['barelb-controller', 'barelb-speaker']) t.equal(await canI(sa, 'list'), 'no', `manifests/ alone: ${sa} may not list MetalLB's pools`);
  await kubectl(['apply', '-f', rbac]);
  for (const sa of ['barelb-controller', 'barelb-speaker']) {
    for (const verb of ['get', 'list', 'watch']) t.equal(await canI(sa, verb), 'yes', `with rbac.yaml: ${sa} may ${verb}`);
    t.equal(await canI(sa, 'update'), 'no', `${sa} may not change them`);
  }

  await apply(pool('metallb-system', 'rbac', { addresses: ['203.0.113.112/29'] }));
  await apply(advertisement('metallb-system', 'rbac'));
  t.teardown(async () => {
    await kubectl(['delete', 'ipaddresspools.metallb.io,l2advertisements.metallb.io', '-n', 'metallb-system', 'rbac', '--ignore-not-found']).catch(() => undefined);
  });
  const kubeconfig = await serviceAccountKubeconfig(kubectl, dir, 'barelb-system', 'barelb-controller');
  const ctl = await startController(t, ['--kubeconfig', kubeconfig, '--config-format', 'metallb-crds', '--config-namespace', 'metallb-system', '--lease-name', uniqueName('lease')]);
  await createServices([{ name: 'rbac', namespace: apps }]);
  t.same(await assigned(apps, 'rbac'), { ips: ['203.0.113.112'], pool: 'rbac' }, 'assigned with the manifests\' RBAC plus rbac.yaml');
  await eventOn('metallb-system', 'IPAddressPool', 'rbac', 'ConfigLoaded');
  t.pass('and its Events on the pool are allowed');
  t.notMatch(ctl.logs(), /HTTP 403[^\n]*metallb\.io/, 'no request for MetalLB\'s objects was forbidden');
});
