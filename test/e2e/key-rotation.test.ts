import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { HeartbeatKey } from '../../src/election/heartbeat-frame.js';
import {
  deleteNamespace,
  ROOT, apply, eventually, heartbeatsDropped, ingressIp, kubectl, lab, serviceYaml, settledHolder, speakerLeases, startLab, vipUrl,
} from '../../testkit/lab.js';
import { describeTraffic, startTraffic, totals } from '../../testkit/traffic.js';

// Key rotation exactly as the README says it (issue 16, item 3), under traffic: the README's own command
// is read from README.md and run. No VIP may move, no request fail, no heartbeat be dropped as another
// cluster's. Before, each speaker signed with the new key as soon as it re-read the Secret (every 30 s,
// each on its own schedule), the others dropped its frames until they re-read it too, and VIPs moved.
const run = promisify(execFile);
const NS = 'e2e-key-rotation';
const POOL = 'pools:\n  - name: lan\n    addresses: [198.51.100.200-198.51.100.250]\n';
const SERVICES = ['rot-a', 'rot-b', 'rot-c', 'rot-d', 'rot-e', 'rot-f'];

function readmeRotationCommand(): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const line = readme.split('\n').find((l) => l.trim().startsWith('kubectl -n barelb-system patch secret barelb-heartbeat-key'));
  if (!line) throw new Error('README.md has no rotation command (kubectl -n barelb-system patch secret barelb-heartbeat-key ...)');
  return line.trim();
}

async function signingKeyId(): Promise<string> {
  const b64 = await kubectl(['get', 'secret', 'barelb-heartbeat-key', '-n', 'barelb-system', '-o', 'jsonpath={.data.key}']);
  return HeartbeatKey.fromSecret(Buffer.from(b64.trim(), 'base64')).id;
}

t.before(async () => {
  await startLab(t, { namespace: NS, pool: POOL });
});

t.teardown(async () => {
  await deleteNamespace(NS);
});

t.test('the README\'s rotation moves no VIP and fails no request', async (t) => {
  for (const name of SERVICES) await apply(serviceYaml({ name, namespace: NS, port: 80, targetPort: 8080, endpointNodes: lab.nodes }));
  const ips: string[] = [];
  for (const name of SERVICES) ips.push(await ingressIp(NS, name));
  const holders = new Map<string, string>();
  for (const ip of ips) holders.set(ip, await settledHolder(ip));
  const oldId = await signingKeyId();
  await eventually('every speaker Lease to list the key in use', 30_000, async () => {
    const leases = await speakerLeases();
    return lab.nodes.every((n) => leases.find((l) => l.node === n)?.keys?.[0] === oldId) ? true : undefined;
  });
  const traffic = await startTraffic(t, ips.map(vipUrl));
  await traffic.reset();
  const droppedBefore = await heartbeatsDropped('other-cluster');

  await run('bash', ['-c', readmeRotationCommand()], { env: { ...process.env, KUBECONFIG: lab.kubeconfig } });
  const newId = await signingKeyId();
  t.not(newId, oldId, 'the command put a new key in the Secret');
  // Every speaker re-reads it within 30 s, then switches once every Lease lists the new key.
  await eventually('every speaker to sign with the new key', 75_000, async () => {
    const leases = await speakerLeases();
    return lab.nodes.every((n) => leases.find((l) => l.node === n)?.keys?.[0] === newId) ? true : undefined;
  }, 1000);
  await new Promise((r) => setTimeout(r, 2000));
  const during = await traffic.reset();
  await traffic.stop();
  t.equal(await heartbeatsDropped('other-cluster'), droppedBefore, 'no heartbeat was dropped as another cluster\'s');
  t.equal(totals(during).failures, 0, `no request failed:\n${describeTraffic(during)}`);
  t.ok(totals(during).requests > 100, `${totals(during).requests} requests through the rotation`);
  for (const ip of ips) t.equal(await settledHolder(ip), holders.get(ip), `${ip} still on ${holders.get(ip)}`);
});
