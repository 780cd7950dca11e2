import t from 'tap';
import {
  apply, applyBarelbConfig, clientNeighbourMac, createBarelbNamespaces, deleteNamespace, eventually, fetchFromClient, inNs, ingressIps, kubectl, kubeProxiesCurrent,
  lab, macOf, metricOfLabel, serviceYaml, settledHolder, speakerKubeconfig, speakerReady, startBackend, startController, startSpeaker,
  timeUntilServedElsewhere, vipUrl, type Proc,
} from '../../testkit/lab.js';

// IPv6 VIPs end to end in the dual-stack lab: the controller assigns from an IPv6 pool, the speakers answer
// NDP, the real kube-proxy carries the traffic over ip6tables. Default timers throughout.
const NS = 'e2e-ipv6';
const [V6_FIRST, V6_LAST] = lab.vipRange6.split('-') as [string, string];
// One pool with both families: a dual-stack Service takes one address of each from the same pool.
const POOLS = `pools:\n  - name: lan\n    addresses: [198.51.100.200-198.51.100.250, ${V6_FIRST}-${V6_LAST}]\n`;
const speakers = new Map<string, Proc>();
const file = t;
let saConfig: string;

const v6Of = (ips: string[]) => ips.find((ip) => ip.includes(':')) as string;

t.before(async () => {
  await createBarelbNamespaces();
  await kubectl(['create', 'namespace', NS]);
  await applyBarelbConfig(POOLS);
  startController(t);
  saConfig = await speakerKubeconfig();
  for (const n of lab.nodes) {
    startBackend(t, n, 8080, `backend-${n}`);
    startBackend(t, n, 8080, `backend-${n}`, lab.nodeIp6(n));
  }
  await kubeProxiesCurrent(NS, 8080);
  for (const n of lab.nodes) speakers.set(n, startSpeaker(t, n, [], saConfig));
  for (const n of lab.nodes) await speakerReady(n);
});
t.teardown(async () => {
  await deleteNamespace(NS);
});

t.test('a RequireDualStack Service: one address per family, each answered by one node, both carry HTTP', async (t) => {
  await apply(serviceYaml({ name: 'dual', namespace: NS, port: 80, targetPort: 8080, endpointNodes: lab.nodes, ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' }));
  const ips = await ingressIps(NS, 'dual', 2);
  t.same(ips.map((ip) => ip.includes(':')), [false, true], `an IPv4 and an IPv6 address, in the Service's family order: ${ips.join(', ')}`);
  for (const ip of ips) {
    const holder = await settledHolder(ip);
    t.ok(lab.nodes.includes(holder), `${ip} answered by ${holder} alone`);
    const answer = await eventually(`a response through ${ip}`, 10_000, () => fetchFromClient(vipUrl(ip)));
    t.match(answer.name, /^backend-node\d$/, `${ip} served by ${answer.name}`);
  }
  const v6 = v6Of(ips);
  const holder = await settledHolder(v6);
  t.ok((await metricOfLabel(holder, 'barelb_addresses_announced', 'family="IPv6"')) >= 1, `${holder} counts the address as IPv6`);
  t.ok((await metricOfLabel(holder, 'barelb_ndp_solicitations_answered_total', 'kind="solicited"')) >= 1, `${holder} counted the solicitations it answered`);
});

t.test('an IPv6-only Service works alone', async (t) => {
  await apply(serviceYaml({ name: 'only6', namespace: NS, port: 80, targetPort: 8080, endpointNodes: lab.nodes, ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' }));
  const [ip] = await ingressIps(NS, 'only6', 1);
  t.match(ip, /:/, `an IPv6 address: ${ip}`);
  const holder = await settledHolder(ip as string);
  t.ok(await eventually(`a response through ${ip}`, 10_000, () => fetchFromClient(vipUrl(ip as string))), `served through ${holder}`);
});

t.test('kill -9 of an IPv6 holder: another node serves within 2 s, the unsolicited advertisement updates the client', async (t) => {
  const [ip] = await ingressIps(NS, 'only6', 1);
  const vip = ip as string;
  const holder = await settledHolder(vip);
  const oldMac = await macOf(holder);
  await eventually('a first response', 10_000, () => fetchFromClient(vipUrl(vip)));
  t.equal(await clientNeighbourMac(vip), oldMac, 'the client has the holder in its neighbour table');
  const ms = await timeUntilServedElsewhere(vip, oldMac, () => (speakers.get(holder) as Proc).kill('SIGKILL'));
  t.comment(`IPv6 failover after kill -9: ${ms} ms`);
  t.ok(ms <= 2000, `traffic resumed from another node in ${ms} ms (bound 2000, as for IPv4)`);
  const next = await settledHolder(vip);
  t.not(next, holder, `now held by ${next}`);
  t.equal(await clientNeighbourMac(vip), await macOf(next), 'the client learned the new MAC from the unsolicited advertisement');
  speakers.set(holder, startSpeaker(file, holder, [], saConfig));
  await speakerReady(holder);
});

t.test('SIGTERM of an IPv6 holder: the address moves in under 1 s', async (t) => {
  const vip = v6Of(await ingressIps(NS, 'dual', 2));
  const holder = await settledHolder(vip);
  const oldMac = await macOf(holder);
  await eventually('a first response', 10_000, () => fetchFromClient(vipUrl(vip)));
  const ms = await timeUntilServedElsewhere(vip, oldMac, () => (speakers.get(holder) as Proc).kill('SIGTERM'));
  t.comment(`IPv6 planned move after SIGTERM: ${ms} ms`);
  t.ok(ms <= 1000, `moved in ${ms} ms (bound 1000)`);
  speakers.set(holder, startSpeaker(file, holder, [], saConfig));
  await speakerReady(holder);
});

t.test("an IPv6 holder loses carrier (its switch port goes down): another node takes over; back, it takes nothing back", async (t) => {
  const [ip] = await ingressIps(NS, 'only6', 1);
  const vip = ip as string;
  const holder = await settledHolder(vip);
  const oldMac = await macOf(holder);
  // The cable pulled: the node's eth0 stays up with its addresses, without carrier.
  const port = `n${holder.replace(/^node/, '')}`;
  const setPort = (state: 'up' | 'down') => inNs(lab.switchNs, 'ip', ['link', 'set', port, state]).then(() => undefined);
  t.teardown(() => setPort('up').catch(() => undefined));
  const ms = await timeUntilServedElsewhere(vip, oldMac, () => setPort('down'));
  t.comment(`IPv6 failover after carrier loss: ${ms} ms`);
  t.ok(ms <= 2000, `served by another node in ${ms} ms (bound 2000)`);
  const next = await settledHolder(vip);
  await setPort('up');
  await new Promise((r) => setTimeout(r, 2000));
  t.equal(await settledHolder(vip), next, `still ${next} after ${holder}'s link came back (no preemption)`);
});

t.test('externalTrafficPolicy Local, per family: only the node with the endpoints answers either address, and keeps the client address', async (t) => {
  const node = lab.nodes[2] as string;
  await apply(serviceYaml({ name: 'local', namespace: NS, port: 80, targetPort: 8080, endpointNodes: [node], externalTrafficPolicy: 'Local', ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'RequireDualStack' }));
  const ips = await ingressIps(NS, 'local', 2);
  t.same(ips.map((ip) => ip.includes(':')), [true, false], `IPv6 first, as the Service asks: ${ips.join(', ')}`);
  for (const ip of ips) {
    t.equal(await settledHolder(ip), node, `${ip} held by ${node}, the node with the endpoint`);
    const answer = await eventually(`a response through ${ip}`, 10_000, () => fetchFromClient(vipUrl(ip)));
    t.equal(answer.node, node, 'served by the local backend');
    t.equal(answer.client, ip.includes(':') ? lab.clientIp6 : lab.clientIp, 'the backend sees the client address (Local keeps it)');
  }
});
