import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { rankCandidates } from '../../src/speaker/rendezvous.js';
import {
  createBarelbNamespaces,
  deleteNamespace,
  apply, applyBarelbConfig, eventually, fetchFromClient, ingressIp, kubectl, kubeProxiesCurrent, lab, serviceYaml, settledHolder, speakerReady, startBackend, startController, startSpeaker,
} from '../../testkit/lab.js';

// A pool on a second subnet of the same LAN (issue 16, item 1): every node but the first has an
// address in 203.0.113.0/24 on eth0, so the first cannot announce the pool's addresses. It still
// speaks on eth0 for a VIP of the lab LAN's pool, so its peers count it a contender for all of them
// and cannot know that it cannot take these. Before silence handed over, every VIP of the second
// pool it ranked first for stayed dark.
const run = promisify(execFile);
const NS = 'e2e-second-subnet';
const SUBNET = '203.0.113';
const VIPS = Array.from({ length: 12 }, (_, i) => `${SUBNET}.${10 + i}`);
const LAN_VIP = '198.51.100.230';
const POOL = `pools:\n  - name: lan\n    addresses: [${LAN_VIP}/32]\n  - name: second\n    addresses: [${VIPS[0]}-${VIPS.at(-1)}]\n`;
const [without, ...withAddress] = lab.nodes as [string, ...string[]];
/** Addresses this file added, removed in teardown whatever happens. */
const added: { ns: string; cidr: string }[] = [];

async function addAddress(ns: string, cidr: string): Promise<void> {
  await run('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', 'eth0']);
  added.push({ ns, cidr });
}

t.before(async () => {
  await createBarelbNamespaces();
  await kubectl(['create', 'namespace', NS]);
  for (const [i, n] of withAddress.entries()) await addAddress(lab.nodeNs(n), `${SUBNET}.${2 + i}/24`);
  await addAddress(lab.clientNs, `${SUBNET}.100/24`);
  await applyBarelbConfig(POOL);
  startController(t);
  for (const n of lab.nodes) startBackend(t, n, 8080, `backend-${n}`);
  await kubeProxiesCurrent(NS, 8080);
  for (const n of lab.nodes) startSpeaker(t, n);
  for (const n of lab.nodes) await speakerReady(n);
});

t.teardown(async () => {
  await deleteNamespace(NS);
  for (const { ns, cidr } of added.reverse()) await run('ip', ['-n', ns, 'addr', 'del', cidr, 'dev', 'eth0']).catch(() => undefined);
});

t.test(`every VIP of a pool that ${without} has no address for is answered, none by ${without}`, async (t) => {
  const firstFor = VIPS.filter((ip) => rankCandidates(ip, lab.nodes)[0] === without);
  t.ok(firstFor.length > 0, `${without} ranks first for ${firstFor.length} of the ${VIPS.length} VIPs`);
  // A VIP every node can announce: each speaks on eth0, the first among them.
  await apply(serviceYaml({ name: 'lan', namespace: NS, port: 80, targetPort: 8080, endpointNodes: lab.nodes, annotations: { 'barelb.io/loadBalancerIPs': LAN_VIP } }));
  t.equal(await ingressIp(NS, 'lan'), LAN_VIP, `lan got ${LAN_VIP}`);
  await settledHolder(LAN_VIP);
  for (const [i, ip] of VIPS.entries()) {
    await apply(serviceYaml({ name: `svc-${i}`, namespace: NS, port: 80, targetPort: 8080, endpointNodes: lab.nodes, annotations: { 'barelb.io/loadBalancerIPs': ip } }));
  }
  for (const [i, ip] of VIPS.entries()) {
    t.equal(await ingressIp(NS, `svc-${i}`), ip, `svc-${i} got ${ip}`);
    const holder = await settledHolder(ip);
    t.not(holder, without, `${ip} answered by ${holder}`);
  }
  const ip = firstFor[0] as string;
  const answer = await eventually(`a response through ${ip}`, 10_000, () => fetchFromClient(`http://${ip}/`));
  t.match(answer.name, /^backend-node\d$/, `${ip}, which ${without} ranks first for, serves traffic`);
});
