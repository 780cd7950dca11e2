import t from 'tap';
import {
  deleteNamespace,
  apply, ingressIp, lab, serviceYaml, settledHolder, speakerKubeconfig, speakerReady, startLab, startSpeaker,
} from '../../testkit/lab.js';

// A fresh install over Services that already have addresses (issue 17, item 3): the speakers start
// seconds apart, as a DaemonSet's pods do. Each waits (--settle-time) to hear the others before it takes a
// free address, so the addresses are divided by rank. Before, the first speaker ready took all of them.
const NS = 'e2e-fresh-install';
const POOL = 'pools:\n  - name: lan\n    addresses: [198.51.100.200-198.51.100.250]\n';
const SERVICES = Array.from({ length: 12 }, (_, i) => `existing-${i}`);
const APART_MS = 5000;

t.before(async () => {
  await startLab(t, { namespace: NS, pool: POOL, speakers: false });
});

t.teardown(async () => {
  await deleteNamespace(NS);
});

t.test(`speakers started ${APART_MS / 1000} s apart divide the addresses that already exist`, async (t) => {
  for (const name of SERVICES) await apply(serviceYaml({ name, namespace: NS, port: 80, targetPort: 8080, endpointNodes: lab.nodes }));
  const ips: string[] = [];
  for (const name of SERVICES) ips.push(await ingressIp(NS, name));
  const saConfig = await speakerKubeconfig();
  for (const n of lab.nodes) {
    startSpeaker(t, n, [], saConfig);
    await speakerReady(n);
    await new Promise((r) => setTimeout(r, APART_MS));
  }
  const perNode = new Map<string, number>(lab.nodes.map((n) => [n, 0]));
  for (const ip of ips) {
    const holder = await settledHolder(ip);
    perNode.set(holder, (perNode.get(holder) ?? 0) + 1);
  }
  const spread = [...perNode].map(([n, c]) => `${n}: ${c}`).join(', ');
  for (const [n, c] of perNode) t.ok(c > 0, `${n} holds ${c} of ${ips.length} (${spread})`);
});
