import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import {
  CLI, apply, arpingMacs, clientNeighbourMac, createBarelbNamespaces, deleteNamespace, eventually, kubectl, kubeProxiesCurrent, lab, macOf,
  serviceYaml, settledHolder, speakerKubeconfig, speakerReady, startBackend, startController, startIn, startSpeaker, type Proc,
} from '../../testkit/lab.js';
import { deleteMetallbCrds, installMetallbCrds } from '../../testkit/metallb.js';
import { describeTraffic, startTraffic, totals } from '../../testkit/traffic.js';

// The switch from MetalLB (layer 2) an operator runs, under traffic, as the README's "Migrating from MetalLB"
// says: Services as MetalLB left them (addresses in status, metallb.io annotations, one asking for an address,
// one naming a pool, two sharing one), MetalLB's speakers answering ARP for them (a stand-in that behaves as
// they do on the wire: l2-announcer.mjs), then the README's steps: convert MetalLB's objects, stop MetalLB,
// install barelb. Every address stays, one node answers for each, and the only failed requests are the
// ones in flight at the instant a client switches to barelb's node (reset, at most one per URL).
const NS = 'e2e-migration';
const ANNOUNCER = path.join(path.dirname(new URL(import.meta.url).pathname), 'l2-announcer.mjs');

// MetalLB's objects, in the cluster as MetalLB's users have them.
const METALLB_OBJECTS = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: lan, namespace: metallb-system}
spec:
  addresses: [198.51.100.200-198.51.100.230]
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: reserved, namespace: metallb-system}
spec:
  addresses: [198.51.100.240-198.51.100.250]
  autoAssign: false
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: l2, namespace: metallb-system}
spec:
  ipAddressPools: [lan, reserved]
`;

interface Left {
  name: string;
  port: number;
  ip: string;
  annotations: Record<string, string>;
  /** The node MetalLB's speaker announced it from. */
  node: string;
}
// What MetalLB assigned and announced. The two sharing Services differ in port, as MetalLB requires.
const LEFT: Left[] = [
  { name: 'web', port: 80, ip: '198.51.100.200', annotations: {}, node: 'node1' },
  { name: 'api', port: 80, ip: '198.51.100.210', annotations: { 'metallb.io/loadBalancerIPs': '198.51.100.210' }, node: 'node2' },
  { name: 'admin', port: 80, ip: '198.51.100.240', annotations: { 'metallb.io/address-pool': 'reserved' }, node: 'node3' },
  { name: 'shared-a', port: 80, ip: '198.51.100.220', annotations: { 'metallb.io/allow-shared-ip': 'team-a', 'metallb.io/loadBalancerIPs': '198.51.100.220' }, node: 'node1' },
  { name: 'shared-b', port: 81, ip: '198.51.100.220', annotations: { 'metallb.universe.tf/allow-shared-ip': 'team-a', 'metallb.universe.tf/loadBalancerIPs': '198.51.100.220' }, node: 'node1' },
];
const VIPS = [...new Set(LEFT.map((s) => s.ip))];
const urlOf = (s: Left): string => `http://${s.ip}${s.port === 80 ? '' : `:${s.port}`}/`;

async function statusIps(name: string): Promise<string[]> {
  const out = await kubectl(['get', 'service', '-n', NS, name, '-o', 'jsonpath={.status.loadBalancer.ingress[*].ip}']);
  return out.trim().split(/\s+/).filter((x) => x !== '');
}

t.before(async () => {
  await createBarelbNamespaces();
  await kubectl(['create', 'namespace', NS]);
  await installMetallbCrds(kubectl);
  await kubectl(['create', 'namespace', 'metallb-system']);
  await apply(METALLB_OBJECTS);
  for (const n of lab.nodes) startBackend(t, n, 8080, `backend-${n}`);
  await kubeProxiesCurrent(NS, 8080);
});
t.teardown(async () => {
  await deleteNamespace(NS);
  await deleteNamespace('metallb-system');
  await deleteMetallbCrds(kubectl);
});

t.test('from MetalLB to barelb under traffic: every address kept, one node answering each, no request lost but at the switch', async (t) => {
  // MetalLB's cluster: Services with the addresses it wrote, its speakers answering for them.
  for (const s of LEFT) {
    await apply(serviceYaml({ name: s.name, namespace: NS, port: s.port, targetPort: 8080, endpointNodes: lab.nodes, annotations: s.annotations }));
    await kubectl(['patch', 'service', s.name, '-n', NS, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: s.ip }] } } })]);
  }
  const announcers: Proc[] = [];
  for (const node of lab.nodes) {
    const vips = [...new Set(LEFT.filter((s) => s.node === node).map((s) => s.ip))];
    if (vips.length === 0) continue;
    const p = startIn(t, lab.nodeNs(node), process.execPath, [ANNOUNCER, ...vips], `metallb-speaker-${node}`);
    await eventually(`MetalLB's stand-in on ${node} to announce`, 10_000, async () => (p.output().includes('announcing') ? true : undefined));
    announcers.push(p);
  }
  const traffic = await startTraffic(t, LEFT.map(urlOf));
  await eventually('every Service to answer through MetalLB', 30_000, async () => {
    const s = await traffic.reset();
    return Object.values(s.targets).every((x) => x.requests > 0 && x.failures === 0) ? true : undefined;
  }, 1_000);
  for (const ip of VIPS) {
    const node = (LEFT.find((s) => s.ip === ip) as Left).node;
    t.same(await arpingMacs(ip), [await macOf(node)], `before: ${ip} answered by MetalLB's speaker on ${node} alone`);
  }
  await new Promise((r) => setTimeout(r, 2_000));
  const before = await traffic.reset();
  t.equal(totals(before).failures, 0, `before: no failure in ${totals(before).requests} requests through MetalLB`);

  // README step 1: convert MetalLB's objects to barelb's ConfigMap, as the README pipes them, and apply it.
  const objects = await kubectl(['get', 'ipaddresspools,l2advertisements', '-A', '-o', 'yaml']);
  const converting = promisify(execFile)(process.execPath, [CLI, 'config', 'convert', '--from', 'metallb']);
  converting.child.stdin?.end(objects);
  const converted = await converting;
  t.match(converted.stdout, /name: barelb-config/, 'config convert printed barelb-system/barelb-config');
  t.equal(converted.stderr, '', 'with no warning: barelb expresses these objects as they are');
  await apply(converted.stdout);

  // Step 2: stop MetalLB. Clients keep their neighbour entries; each node's kube-proxy still forwards.
  const startedAt = Date.now();
  for (const p of announcers) await p.kill('SIGTERM');

  // Step 3: install barelb.
  startController(t);
  const saConfig = await speakerKubeconfig();
  for (const n of lab.nodes) startSpeaker(t, n, [], saConfig);
  for (const n of lab.nodes) await speakerReady(n);
  const holders = new Map<string, string>();
  for (const ip of VIPS) holders.set(ip, await settledHolder(ip));
  for (const ip of VIPS) {
    const mac = await macOf(holders.get(ip) as string);
    await eventually(`the client to use barelb's holder for ${ip}`, 10_000, async () => ((await clientNeighbourMac(ip)) === mac ? true : undefined), 100);
  }
  t.comment(`barelb announcing every address ${Date.now() - startedAt} ms after MetalLB stopped: ${[...holders].map(([ip, n]) => `${ip} on ${n}`).join(', ')}`);
  await new Promise((r) => setTimeout(r, 2_000));
  const during = await traffic.reset();
  t.comment(describeTraffic(during));

  // Nothing the users see changed.
  for (const s of LEFT) t.same(await statusIps(s.name), [s.ip], `${s.name} keeps ${s.ip}`);
  for (const ip of VIPS) t.same(await arpingMacs(ip), [await macOf(holders.get(ip) as string)], `${ip} answered by ${holders.get(ip)} alone`);
  const perUrl = Object.entries(during.targets).map(([url, x]) => ({ url, failures: x.failures, resets: x.errors['ECONNRESET'] ?? 0 }));
  t.same(perUrl.filter((u) => u.failures !== u.resets), [], 'no request failed but by a reset');
  t.same(perUrl.filter((u) => u.resets > 1), [], 'at most one request per URL reset (the one in flight when its client switched)');
  t.ok(totals(during).requests > 0, `${totals(during).requests} requests during the switch`);
  await new Promise((r) => setTimeout(r, 2_000));
  const after = await traffic.reset();
  t.equal(totals(after).failures, 0, `after: no failure in ${totals(after).requests} requests through barelb`);

  // barelb took the Services on: it says which annotations it read, and gives the next Service another address.
  const events = await kubectl(['get', 'events', '-n', NS, '--field-selector', 'reason=ForeignAnnotation', '-o', 'jsonpath={.items[*].involvedObject.name}']);
  t.same(events.trim().split(/\s+/).sort(), ['admin', 'api', 'shared-a', 'shared-b'], 'a ForeignAnnotation Event on each Service with MetalLB annotations');
  await apply(serviceYaml({ name: 'new', namespace: NS, port: 80, targetPort: 8080, endpointNodes: lab.nodes }));
  const fresh = await eventually('the new Service to get an address', 30_000, async () => (await statusIps('new'))[0]);
  t.notOk(VIPS.includes(fresh), `a new Service gets ${fresh}, none of MetalLB's`);
  await traffic.stop();
});
