import t, { type Test } from 'tap';
import {
  apply, configMapYaml, createServices, eventsFor, eventually, getService, ingressIps, kubectl, namespaces, startController, uniqueName,
  type RunningController,
} from '../harness.js';

// Every allocation rule of the controller, one Service at a time, on the real control plane.
const cfgNs = uniqueName('rules-cfg');
const nsA = uniqueName('rules-a');
const nsB = uniqueName('rules-b');

const CONFIG = `pools:
  - name: lan
    addresses: [198.51.100.200-198.51.100.205]
  - name: manual
    addresses: [198.51.100.230-198.51.100.235]
    autoAssign: false
  - name: team
    addresses: [198.51.100.240/31]
    autoAssign: false
    namespaces: [${nsB}]
  - name: gold
    addresses: [198.51.100.244-198.51.100.245]
    autoAssign: false
    serviceSelector:
      matchLabels: {tier: gold}
  - name: buggy
    addresses: [203.0.113.0-203.0.113.1, 203.0.113.254-203.0.113.255]
    autoAssign: false
    avoidBuggyIPs: true`;

let ctl: RunningController;

async function ipOf(ns: string, name: string): Promise<string[]> {
  return eventually(`${ns}/${name} to get an address`, 15_000, async () => {
    const ips = ingressIps(await getService(ns, name));
    return ips.length > 0 ? ips : undefined;
  });
}

async function warning(ns: string, name: string, reason: string, fragment: string): Promise<string> {
  return eventually(`a ${reason} event on ${ns}/${name} mentioning "${fragment}"`, 15_000, async () => {
    const e = (await eventsFor(ns, 'Service', name)).find((ev) => ev.type === 'Warning' && ev.reason === reason && ev.message.includes(fragment));
    return e?.message;
  });
}

async function stillPending(t: Test, ns: string, name: string): Promise<void> {
  // Give the controller time to (wrongly) act, then check it did not.
  await new Promise((r) => setTimeout(r, 500));
  t.same(ingressIps(await getService(ns, name)), [], `${ns}/${name} stays pending`);
}

t.before(async () => {
  await namespaces(t, cfgNs, nsA, nsB);
  await apply(configMapYaml(cfgNs, CONFIG));
  ctl = await startController(t, ['--namespace', cfgNs, '--lease-name', uniqueName('lease')]);
});

t.test('assigns the lowest free address of the first auto-assign pool and says so', async (t) => {
  await createServices([{ name: 'first', namespace: nsA }]);
  t.same(await ipOf(nsA, 'first'), ['198.51.100.200']);
  const svc = await getService(nsA, 'first');
  t.equal(svc.metadata?.annotations?.['barelb.io/allocated-from-pool'], 'lan', 'pool annotation written');
  const events = await eventsFor(nsA, 'Service', 'first');
  t.ok(events.some((e) => e.reason === 'IPAllocated' && e.message.includes('198.51.100.200') && e.message.includes('"lan"')), 'IPAllocated event');
  const table = await kubectl(['get', 'svc', '-n', nsA, 'first']);
  t.match(table, /first\s+LoadBalancer\s+\S+\s+198\.51\.100\.200\s/, 'kubectl get svc shows the EXTERNAL-IP');
});

t.test('barelb.io/address-pool picks a pool, autoAssign: false or not', async (t) => {
  await createServices([{ name: 'by-pool', namespace: nsA, annotations: { 'barelb.io/address-pool': 'manual' } }]);
  t.same(await ipOf(nsA, 'by-pool'), ['198.51.100.230']);
});

t.test('requested addresses: annotation and spec.loadBalancerIP', async (t) => {
  await createServices([
    { name: 'req-annot', namespace: nsA, annotations: { 'barelb.io/loadBalancerIPs': '198.51.100.233' } },
    { name: 'req-spec', namespace: nsA, loadBalancerIP: '198.51.100.234' },
  ]);
  t.same(await ipOf(nsA, 'req-annot'), ['198.51.100.233']);
  t.same(await ipOf(nsA, 'req-spec'), ['198.51.100.234']);
});

t.test('a request that cannot be met stays pending with a Warning that says why', async (t) => {
  await createServices([
    { name: 'taken', namespace: nsA, annotations: { 'barelb.io/loadBalancerIPs': '198.51.100.233' } },
    { name: 'outside', namespace: nsA, annotations: { 'barelb.io/loadBalancerIPs': '192.0.2.77' } },
    { name: 'nopool', namespace: nsA, annotations: { 'barelb.io/address-pool': 'nonesuch' } },
    { name: 'wrong-ns', namespace: nsA, annotations: { 'barelb.io/address-pool': 'team' } },
    { name: 'no-label', namespace: nsA, annotations: { 'barelb.io/address-pool': 'gold' } },
    { name: 'garbage', namespace: nsA, annotations: { 'barelb.io/loadBalancerIPs': 'not-an-ip,,300.1.1.1' } },
  ]);
  t.match(await warning(nsA, 'taken', 'AllocationFailed', '198.51.100.233'), /already used by .*req-annot/);
  t.match(await warning(nsA, 'outside', 'AllocationFailed', '192.0.2.77'), /not in any configured pool/);
  t.match(await warning(nsA, 'nopool', 'AllocationFailed', 'nonesuch'), /does not exist/);
  t.match(await warning(nsA, 'wrong-ns', 'AllocationFailed', 'team'), new RegExp(`namespace "${nsA}" is not in its namespaces`));
  t.match(await warning(nsA, 'no-label', 'AllocationFailed', 'gold'), /serviceSelector \(tier=gold\)/);
  t.match(await warning(nsA, 'garbage', 'InvalidRequest', 'not-an-ip'), /is not an IP address/);
  for (const n of ['taken', 'outside', 'nopool', 'wrong-ns', 'no-label', 'garbage']) await stillPending(t, nsA, n);
  t.same(await ipOf(nsA, 'req-annot'), ['198.51.100.233'], 'the holder kept its address');
  t.ok(((await ctl.metric('barelb_services_pending')) ?? 0) >= 6, 'pending Services are counted');
});

t.test('namespaces and serviceSelector let the right Services in', async (t) => {
  await createServices([
    { name: 'team-svc', namespace: nsB, annotations: { 'barelb.io/address-pool': 'team' } },
    { name: 'gold-svc', namespace: nsA, labels: { tier: 'gold' }, annotations: { 'barelb.io/address-pool': 'gold' } },
  ]);
  t.same(await ipOf(nsB, 'team-svc'), ['198.51.100.240']);
  t.same(await ipOf(nsA, 'gold-svc'), ['198.51.100.244']);
});

t.test('services with one sharing key and distinct ports share an address', async (t) => {
  const share = { 'barelb.io/allow-shared-ip': 'front', 'barelb.io/address-pool': 'manual' };
  await createServices([{ name: 'share-http', namespace: nsA, annotations: share, ports: [{ port: 80 }] }]);
  const [ip] = await ipOf(nsA, 'share-http');
  await createServices([
    { name: 'share-dns', namespace: nsA, annotations: share, ports: [{ port: 53, protocol: 'UDP' }] },
  ]);
  t.same(await ipOf(nsA, 'share-dns'), [ip], 'same key, other port: same address');
  await createServices([{ name: 'share-clash', namespace: nsA, annotations: share, ports: [{ port: 80 }] }]);
  const [other] = await ipOf(nsA, 'share-clash');
  t.not(other, ip, 'same key but the same port: another address');
  await createServices([
    { name: 'share-ask', namespace: nsA, annotations: { ...share, 'barelb.io/loadBalancerIPs': ip as string }, ports: [{ port: 53, protocol: 'UDP' }] },
    { name: 'share-nokey', namespace: nsA, annotations: { 'barelb.io/loadBalancerIPs': ip as string }, ports: [{ port: 8080 }] },
  ]);
  t.match(await warning(nsA, 'share-ask', 'AllocationFailed', ip as string), /both use UDP\/53/);
  t.match(await warning(nsA, 'share-nokey', 'AllocationFailed', ip as string), /allow-shared-ip/);
});

t.test('avoidBuggyIPs skips .0 and .255; a full pool leaves the next Service pending until an address frees', async (t) => {
  const pool = { 'barelb.io/address-pool': 'buggy' };
  await createServices([{ name: 'bug1', namespace: nsA, annotations: pool }]);
  t.same(await ipOf(nsA, 'bug1'), ['203.0.113.1']);
  await createServices([{ name: 'bug2', namespace: nsA, annotations: pool }]);
  t.same(await ipOf(nsA, 'bug2'), ['203.0.113.254']);
  await createServices([{ name: 'bug3', namespace: nsA, annotations: pool }]);
  t.match(await warning(nsA, 'bug3', 'AllocationFailed', 'buggy'), /is full .*2 of 2 in use/);
  await kubectl(['delete', 'service', '-n', nsA, 'bug1']);
  t.same(await ipOf(nsA, 'bug3'), ['203.0.113.1'], 'the freed address goes to the waiting Service');
});

t.test('changing the type away from LoadBalancer frees the address and clears the status', async (t) => {
  await createServices([{ name: 'to-clusterip', namespace: nsA, annotations: { 'barelb.io/address-pool': 'manual' } }]);
  const [ip] = await ipOf(nsA, 'to-clusterip');
  await kubectl(['patch', 'service', '-n', nsA, 'to-clusterip', '--type', 'merge', '-p', '{"spec":{"type":"ClusterIP"}}']);
  await eventually('status cleared', 15_000, async () => (ingressIps(await getService(nsA, 'to-clusterip')).length === 0 ? true : undefined));
  const events = await eventsFor(nsA, 'Service', 'to-clusterip');
  t.ok(events.some((e) => e.reason === 'IPReleased' && e.message.includes(ip as string)), 'IPReleased event');
  await createServices([{ name: 'after-free', namespace: nsA, annotations: { 'barelb.io/loadBalancerIPs': ip as string } }]);
  t.same(await ipOf(nsA, 'after-free'), [ip], 'the address can be given out again');
});

t.test('a config that no longer covers held addresses leaves them in place, with a Warning', async (t) => {
  const before = await ipOf(nsB, 'team-svc');
  await apply(configMapYaml(cfgNs, CONFIG.replace(/ {2}- name: team\n( {4}.*\n)+?(?= {2}- name: gold)/, '')));
  t.match(await warning(nsB, 'team-svc', 'IPOutsidePools', before[0] as string), /keeps it until it is deleted/);
  t.same(ingressIps(await getService(nsB, 'team-svc')), before, 'address unchanged');
  await eventually('outside-pools metric', 10_000, async () => ((await ctl.metric('barelb_services_outside_pools')) === 1 ? true : undefined));
  t.pass('barelb_services_outside_pools counts it');
});
