import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import {
  createBarelbNamespaces,
  deleteNamespace,
  ROOT, apply, applyBarelbConfig, arpHolder, metricOf, eventually, type Proc, fetchFromClient, inNs, ingressIp, kubectl, lab, announcerOf, serviceYaml, startBackend, startController, startSpeaker,
} from '../../testkit/lab.js';

// The speakers in `--forward nodeport` mode in front of the real kube-proxy,
// and what happens to traffic while the API server is gone.
const run = promisify(execFile);
const controlPlane = (cmd: string) => run('bash', [path.join(ROOT, 'scripts/control-plane.sh'), cmd]);
const NS = 'e2e-nodeport';
const speakers = new Map<string, Proc>();
// Speakers restarted inside a subtest must outlive it: their teardown belongs to the file.
const file = t;

t.before(async () => {
  await createBarelbNamespaces();
  await kubectl(['create', 'namespace', NS]);
  await applyBarelbConfig(`pools:\n  - name: lan\n    addresses: [198.51.100.210-198.51.100.230, ${lab.vipRange6}]\n`);
  startController(t);
  for (const n of lab.nodes) {
    startBackend(t, n, 8080, `backend-${n}`);
    startBackend(t, n, 8080, `backend-${n}`, lab.nodeIp6(n));
    speakers.set(n, startSpeaker(t, n, ['--forward', 'nodeport', '--log-level', 'debug']));
  }
});
t.teardown(async () => {
  await deleteNamespace(NS);
});

async function nftCounter(node: string, vip: string): Promise<number> {
  const out = await inNs(lab.nodeNs(node), 'nft', ['list', 'table', 'inet', 'barelb']).catch(() => '');
  const line = out.split('\n').find((l) => l.includes(`${vip.includes(':') ? 'ip6' : 'ip'} daddr ${vip} `));
  return Number(/counter packets (\d+)/.exec(line ?? '')?.[1] ?? 0);
}

/** The rewrite for `vip` on `node` (a holder installs it before it answers ARP; reading it can lag the log). */
async function rewriteInstalled(node: string, vip: string): Promise<void> {
  await eventually(`the rewrite for ${vip} on ${node}`, 10_000, async () =>
    (await inNs(lab.nodeNs(node), 'nft', ['list', 'table', 'inet', 'barelb']).catch(() => '')).includes(`${vip.includes(':') ? 'ip6' : 'ip'} daddr ${vip} `) ? true : undefined,
  );
}

t.test('nodeport mode: VIP traffic goes through the node\'s NodePort, client source kept where kube-proxy keeps it', async (t) => {
  const node = lab.nodes[1] as string;
  await apply(serviceYaml({ name: 'np-local', namespace: NS, port: 80, targetPort: 8080, endpointNodes: [node], externalTrafficPolicy: 'Local' }));
  const ip = await ingressIp(NS, 'np-local');
  await eventually(`${node} to hold ${ip}`, 20_000, async () => ((await announcerOf(ip)) === node ? true : undefined));
  await rewriteInstalled(node, ip);
  const answer = await eventually('a response through the VIP', 15_000, () => fetchFromClient(`http://${ip}/`));
  t.equal(answer.node, node, 'served by the backend on the announcing node');
  t.equal(answer.client, lab.clientIp, 'the backend sees the client address (Local)');
  t.ok((await nftCounter(node, ip)) > 0, 'the request went through barelb\'s rewrite to the NodePort');
  const nodePort = Number(await kubectl(['get', 'svc', '-n', NS, 'np-local', '-o', 'jsonpath={.spec.ports[0].nodePort}']));
  t.ok(await fetchFromClient(`http://${lab.nodeIp(node)}:${nodePort}/`), 'the NodePort itself still answers directly');

  await apply(serviceYaml({ name: 'np-cluster', namespace: NS, port: 80, targetPort: 8080, endpointNodes: lab.nodes }));
  const ip2 = await ingressIp(NS, 'np-cluster');
  const holder = await eventually(`a holder for ${ip2}`, 20_000, () => announcerOf(ip2));
  await rewriteInstalled(holder, ip2);
  for (let i = 0; i < 6; i++) t.ok(await eventually('a response', 10_000, () => fetchFromClient(`http://${ip2}/`)), `Cluster request ${i + 1} answered`);
  t.ok((await nftCounter(holder, ip2)) > 0, 'Cluster traffic also through the rewrite');
});

t.test('nodeport mode over IPv6: the rewrite goes to the node\'s IPv6 InternalIP, the client\'s IPv6 source kept (Local)', async (t) => {
  const node = lab.nodes[2] as string;
  await apply(serviceYaml({ name: 'np-local6', namespace: NS, port: 80, targetPort: 8080, endpointNodes: [node], externalTrafficPolicy: 'Local', ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' }));
  const ip = await ingressIp(NS, 'np-local6');
  t.match(ip, /:/, `an IPv6 VIP: ${ip}`);
  await eventually(`${node} to hold ${ip}`, 20_000, async () => ((await announcerOf(ip)) === node ? true : undefined));
  await rewriteInstalled(node, ip);
  const table = await inNs(lab.nodeNs(node), 'nft', ['list', 'table', 'inet', 'barelb']);
  t.match(table, new RegExp(`ip6 daddr set ${lab.nodeIp6(node)} `), "rewritten to the node's IPv6 InternalIP");
  const answer = await eventually('a response through the IPv6 VIP', 15_000, () => fetchFromClient(`http://[${ip}]/`));
  t.equal(answer.node, node, 'served by the backend on the announcing node');
  t.equal(answer.client, lab.clientIp6, "the backend sees the client's IPv6 address (Local)");
  t.ok((await nftCounter(node, ip)) > 0, "the request went through barelb's IPv6 rewrite to the NodePort");
});

t.test('a new holder installs the rewrite before it answers ARP', async (t) => {
  const ip = await ingressIp(NS, 'np-cluster');
  const holder = await eventually(`one node to answer ARP for ${ip}`, 20_000, () => arpHolder(ip));
  await (speakers.get(holder) as Proc).kill('SIGKILL');
  const next = await eventually(`another node to answer ARP for ${ip}`, 20_000, async () => {
    const h = await arpHolder(ip);
    return h && h !== holder ? h : undefined;
  });
  const lines = (speakers.get(next) as Proc).output().split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l) as { msg?: string; ip?: string; vips?: string[] }];
    } catch {
      return [];
    }
  });
  const announced = lines.findIndex((l) => l.msg === 'announcing' && l.ip === ip);
  const installed = lines.findIndex((l) => l.msg?.startsWith('nodeport rewrites in place') && l.vips?.includes(ip));
  t.ok(announced > 0, `${next} logged that it announces ${ip}`);
  t.ok(installed >= 0 && installed < announced, `its rewrite for ${ip} was in place first (log lines ${installed} < ${announced})`);
  await rewriteInstalled(next, ip);
  t.ok(await eventually('a response through the new holder', 10_000, () => fetchFromClient(`http://${ip}/`)), 'served by the new holder');
  speakers.set(holder, startSpeaker(file, holder, ['--forward', 'nodeport', '--log-level', 'debug']));
});

t.test('API server stopped for 30 s: the VIPs keep serving throughout', async (t) => {
  const ips = [await ingressIp(NS, 'np-local'), await ingressIp(NS, 'np-cluster')];
  const holdersBefore = [];
  for (const ip of ips) holdersBefore.push(await eventually(`one node to answer ARP for ${ip}`, 20_000, () => arpHolder(ip)));
  t.teardown(() => controlPlane('start-apiserver').catch(() => undefined));
  await controlPlane('stop-apiserver');
  const until = Date.now() + 30_000;
  let ok = 0;
  let failed = 0;
  let longestGapMs = 0;
  let lastOk = Date.now();
  while (Date.now() < until) {
    for (const ip of ips) {
      if (await fetchFromClient(`http://${ip}/`, 1)) {
        ok++;
        longestGapMs = Math.max(longestGapMs, Date.now() - lastOk);
        lastOk = Date.now();
      } else {
        failed++;
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  t.comment(`during the outage: ${ok} requests answered, ${failed} failed, longest gap ${longestGapMs} ms`);
  t.equal(failed, 0, 'no request failed while the API server was down');
  t.ok(ok > 50, `${ok} requests answered`);
  await controlPlane('start-apiserver');
  for (const [i, ip] of ips.entries()) {
    const h = await eventually(`one node to answer ARP for ${ip}`, 30_000, () => arpHolder(ip));
    t.equal(h, holdersBefore[i], `${ip} is still announced by ${h}`);
  }
  t.ok(await fetchFromClient(`http://${ips[0]}/`, 2), 'still serving after the API server returned');
});

t.test('the nftables table deleted or edited outside barelb (a firewall reload, a hand edit) is installed again', async (t) => {
  const ip = await ingressIp(NS, 'np-cluster');
  const holder = await eventually(`a holder for ${ip}`, 20_000, () => announcerOf(ip));
  await rewriteInstalled(holder, ip);
  const repairs = (): Promise<number> => metricOf(holder, 'barelb_nodeport_table_repairs_total');
  const before = await repairs();
  await inNs(lab.nodeNs(holder), 'nft', ['delete', 'table', 'inet', 'barelb']);
  await rewriteInstalled(holder, ip);
  t.pass(`deleted: ${holder} installed its table again`);
  await inNs(lab.nodeNs(holder), 'nft', ['flush', 'chain', 'inet', 'barelb', 'pre']);
  await rewriteInstalled(holder, ip);
  t.pass('its rules flushed: installed again');
  t.ok((await repairs()) - before >= 2, 'each repair counted (barelb_nodeport_table_repairs_total)');
  const before2 = await nftCounter(holder, ip);
  t.ok(await eventually('a response', 10_000, () => fetchFromClient(`http://${ip}/`)), 'the VIP serves');
  t.ok((await nftCounter(holder, ip)) > before2, 'through the repaired rewrite');
});

t.test('the nftables table goes away with the speaker', async (t) => {
  const node = lab.nodes[1] as string;
  t.match(await inNs(lab.nodeNs(node), 'nft', ['list', 'tables']), /table inet barelb/, 'the table exists while the speaker runs');
  await (speakers.get(node) as Proc).kill('SIGTERM');
  t.notMatch(await inNs(lab.nodeNs(node), 'nft', ['list', 'tables']), /barelb/, 'removed on exit');
});
