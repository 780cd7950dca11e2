import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import {
  ROOT, apply, configMapYaml, createServices, eventually, getService, ingressIps, kubectl, namespaces, startController, uniqueName,
} from '../harness.js';

// The API server goes away and comes back (etcd keeps the data): the
// controller says so, keeps running, and picks up what changed meanwhile.
const run = promisify(execFile);
const controlPlane = (cmd: string) => run('bash', [path.join(ROOT, 'scripts/control-plane.sh'), cmd]);

const cfgNs = uniqueName('outage-cfg');
const ns = uniqueName('outage');

t.test('survives an API server outage and catches up afterwards', async (t) => {
  const t0 = Date.now();
  await namespaces(t, cfgNs, ns);
  await apply(configMapYaml(cfgNs, 'pools:\n  - name: lan\n    addresses: [198.51.100.160-198.51.100.169]'));
  // Without leader election the same informers must ride out the outage (with it, a new term would relist anyway).
  const ctl = await startController(t, ['--namespace', cfgNs, '--no-leader-elect']);
  await createServices([{ name: 'before', namespace: ns }]);
  const assigned = (name: string) =>
    eventually(`${name} assigned`, 30_000, async () => {
      const ips = ingressIps(await getService(ns, name));
      return ips.length ? ips : undefined;
    });
  t.same(await assigned('before'), ['198.51.100.160']);

  t.teardown(() => controlPlane('start-apiserver').catch(() => undefined));
  await controlPlane('stop-apiserver');
  await new Promise((r) => setTimeout(r, 8000));
  t.equal(ctl.child.exitCode, null, 'still running while the API server is gone');
  const lines = ctl.logLines();
  t.ok(lines.some((l) => typeof l['err'] === 'string' && /ECONNREFUSED/.test(l['err'] as string)), 'says it cannot reach the API server');
  await controlPlane('start-apiserver');
  t.comment(`API server back ${Date.now() - t0} ms after the test began`);

  await createServices([{ name: 'after', namespace: ns }]);
  await kubectl(['delete', 'service', '-n', ns, 'before']);
  await createServices([{ name: 'later', namespace: ns }]);
  t.comment(`changes made ${Date.now() - t0} ms after the test began`);
  const after = await assigned('after');
  const later = await assigned('later');
  t.ok(['198.51.100.160', '198.51.100.161'].includes(after[0] as string), `after got ${after[0]}`);
  t.not(after[0], later[0], 'no address given twice');
  t.ok(((await ctl.metric('barelb_api_errors_total{operation="watch_services"}')) ?? 0) > 0, 'failed watches are counted');
  t.equal(ctl.child.exitCode, null, 'never exited');
  t.comment(`caught up ${Date.now() - t0} ms after the test began`);
});
