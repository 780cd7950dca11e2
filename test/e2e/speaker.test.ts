import t from 'tap';
import {
  createBarelbNamespaces,
  deleteNamespace,
  apply, applyBarelbConfig, arpHolder, eventually, fetchFromClient, inNs, ingressIp, kubectl, kubeProxiesCurrent, lab, announcerOf, macOf, metricOf, heartbeatsDropped, metricOfLabel, serviceYaml,
  clientNeighbourMac, recreateNodeLink, settledHolder, speakerKubeconfig, speakerReady, startBackend, startController, startSpeaker,
  timeUntilServedElsewhere, type Proc,
} from '../../testkit/lab.js';

// The speaker in the lab: three nodes with the real kube-proxy, a client, the
// real controller assigning addresses. Default timers throughout.
const NS = 'e2e-speaker';
const POOL = 'pools:\n  - name: lan\n    addresses: [198.51.100.200-198.51.100.250]\n';
const speakers = new Map<string, Proc>();
// Speakers restarted inside a subtest must outlive it: their teardown belongs to the file.
const file = t;
let saConfig: string;

t.before(async () => {
  await createBarelbNamespaces();
  await kubectl(['create', 'namespace', NS]);
  await applyBarelbConfig(POOL);
  startController(t);
  // The speakers run with exactly the permissions manifests/speaker-rbac.yaml grants.
  saConfig = await speakerKubeconfig();
  for (const n of lab.nodes) startBackend(t, n, 8080, `backend-${n}`);
  // The suite before this one may have stopped the API server: kube-proxy must be current first.
  await kubeProxiesCurrent(NS, 8080);
  for (const n of lab.nodes) speakers.set(n, startSpeaker(t, n, [], saConfig));
  // All speakers in the race before the first address exists, so the ranking decides who announces.
  for (const n of lab.nodes) await speakerReady(n);
});

t.teardown(async () => {
  await deleteNamespace(NS);
});

const services = ['svc-a', 'svc-b', 'svc-c', 'svc-d', 'svc-e'];

t.test('each VIP answers ARP from exactly one MAC and reaches a backend; VIPs spread over nodes', async (t) => {
  for (const name of services) await apply(serviceYaml({ name, namespace: NS, port: 80, targetPort: 8080, endpointNodes: lab.nodes }));
  const holders = new Set<string>();
  for (const name of services) {
    const ip = await ingressIp(NS, name);
    const holder = await settledHolder(ip);
    holders.add(holder);
    t.equal(await eventually(`the speaker Leases to name the holder of ${ip}`, 10_000, () => announcerOf(ip)), holder, `${holder}'s speaker Lease lists ${ip}`);
    const answer = await eventually(`a response through ${ip}`, 10_000, () => fetchFromClient(`http://${ip}/`));
    t.match(answer.name, /^backend-node\d$/, `${name} ${ip} (held by ${holder}) answered by ${answer.name}`);
  }
  t.ok(holders.size >= 2, `announced from ${holders.size} nodes: ${[...holders].join(', ')}`);
});

t.test('two Services sharing one IP are announced from one node', async (t) => {
  const share = { 'barelb.io/allow-shared-ip': 'shared', 'barelb.io/loadBalancerIPs': '198.51.100.240' };
  await apply(serviceYaml({ name: 'share-80', namespace: NS, port: 80, targetPort: 8080, endpointNodes: lab.nodes, annotations: share }));
  await apply(serviceYaml({ name: 'share-81', namespace: NS, port: 81, targetPort: 8080, endpointNodes: lab.nodes, annotations: share }));
  t.equal(await ingressIp(NS, 'share-80'), '198.51.100.240');
  t.equal(await ingressIp(NS, 'share-81'), '198.51.100.240');
  const holder = await settledHolder('198.51.100.240');
  t.ok(lab.nodes.includes(holder), `held by ${holder}`);
  t.ok(await eventually('port 80', 10_000, () => fetchFromClient('http://198.51.100.240:80/')), 'port 80 answers');
  t.ok(await eventually('port 81', 10_000, () => fetchFromClient('http://198.51.100.240:81/')), 'port 81 answers');
  const leases = (await kubectl(['get', 'leases', '-n', 'barelb-system', '-o', 'name'])).split('\n').filter((l) => l.trim() !== '');
  t.same(leases.filter((l) => !l.includes('barelb-speaker-') && !l.endsWith('/barelb-controller')), [], 'no Lease per IP: one per speaker, and the controller\'s');
});

t.test('kill -9 of the holder: another node serves within 2 s and gratuitous ARP updates the client', async (t) => {
  const ip = await ingressIp(NS, 'svc-a');
  const holder = await settledHolder(ip);
  const oldMac = await macOf(holder);
  await eventually('a first response', 10_000, () => fetchFromClient(`http://${ip}/`));
  t.equal(await clientNeighbourMac(ip), oldMac, 'the client has the holder in its neighbour table');
  const ms = await timeUntilServedElsewhere(ip, oldMac, () => (speakers.get(holder) as Proc).kill('SIGKILL'));
  t.comment(`failover after kill -9: ${ms} ms`);
  // Detection is the failure timeout (400 ms); the rest is the client's polling and curl (bench: the precise figure).
  t.ok(ms <= 2000, `traffic resumed from another node in ${ms} ms (bound 2000)`);
  const next = await settledHolder(ip);
  t.not(next, holder, `now held by ${next}`);
  t.equal(await clientNeighbourMac(ip), await macOf(next), 'the client learned the new MAC from gratuitous ARP');
  speakers.set(holder, startSpeaker(file, holder, [], saConfig));
  await speakerReady(holder);
});

t.test('SIGTERM of the holder: the IP moves in under 1 s', async (t) => {
  const ip = await ingressIp(NS, 'svc-b');
  const holder = await settledHolder(ip);
  const oldMac = await macOf(holder);
  await eventually('a first response', 10_000, () => fetchFromClient(`http://${ip}/`));
  const ms = await timeUntilServedElsewhere(ip, oldMac, () => (speakers.get(holder) as Proc).kill('SIGTERM'));
  t.comment(`planned move after SIGTERM: ${ms} ms`);
  t.ok(ms < 1000, `traffic resumed from another node in ${ms} ms (bound 1000)`);
  t.not(await settledHolder(ip), holder);
  speakers.set(holder, startSpeaker(file, holder, [], saConfig));
  await speakerReady(holder);
});

t.test('externalTrafficPolicy Local: only a node with a ready endpoint announces, and the announcement follows the endpoint', async (t) => {
  const [first, second] = [lab.nodes[2] as string, lab.nodes[0] as string];
  await apply(serviceYaml({ name: 'local', namespace: NS, port: 80, targetPort: 8080, endpointNodes: [first], externalTrafficPolicy: 'Local' }));
  const ip = await ingressIp(NS, 'local');
  t.equal(await settledHolder(ip), first, `held by ${first}, the node with the endpoint`);
  const answer = await eventually('a response', 10_000, () => fetchFromClient(`http://${ip}/`));
  t.equal(answer.node, first, 'served by the local backend');
  t.equal(answer.client, lab.clientIp, 'the backend sees the client address (Local keeps it)');
  await apply(serviceYaml({ name: 'local', namespace: NS, port: 80, targetPort: 8080, endpointNodes: [second], externalTrafficPolicy: 'Local' }));
  const moved = await eventually(`the announcement to move to ${second}`, 15_000, async () => {
    const h = await settledHolder(ip);
    return h === second ? h : undefined;
  });
  t.equal(moved, second, `moved to ${second} with the endpoint`);
  const after = await eventually('a response from the new node', 10_000, async () => {
    const a = await fetchFromClient(`http://${ip}/`);
    return a?.node === second ? a : undefined;
  });
  t.equal(after.node, second);
});

t.test('the speakers needed no permission beyond manifests/speaker-rbac.yaml', async (t) => {
  for (const [node, p] of speakers) t.notMatch(p.output(), /HTTP 403|forbidden/i, `no forbidden request from ${node}`);
  const events = await kubectl(['get', 'events', '-n', NS, '--field-selector', 'reason=AnnouncingIP', '-o', 'name']);
  t.ok(events.trim().length > 0, 'AnnouncingIP Events were written');
});

t.test('malformed and foreign ARP frames change nothing and are counted; probes for the VIP are answered', async (t) => {
  const ip = await ingressIp(NS, 'svc-c');
  const holder = await settledHolder(ip);
  const before = {
    dropped: await metricOf(holder, 'barelb_arp_frames_dropped_total'),
    ignored: await metricOf(holder, 'barelb_arp_frames_ignored_total'),
    conflicts: await metricOf(holder, 'barelb_arp_conflicts_total'),
  };
  const sent = await inNs(lab.clientNs, process.execPath, [new URL('./send-arp-junk.mjs', import.meta.url).pathname, ip], 15_000).catch(
    (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
  );
  const counts = JSON.parse(sent.trim().split('\n').pop() ?? '{}') as { malformed?: number; foreign?: number; spoof?: number; probes?: number; probeAnswers?: number };
  t.ok((counts.malformed ?? 0) > 0, `sent ${counts.malformed} malformed frames`);
  await eventually('the frames to be counted', 10_000, async () => {
    const dropped = await metricOf(holder, 'barelb_arp_frames_dropped_total');
    const conflicts = await metricOf(holder, 'barelb_arp_conflicts_total');
    return dropped - before.dropped >= (counts.malformed ?? 0) && conflicts > before.conflicts ? true : undefined;
  });
  t.ok((await metricOf(holder, 'barelb_arp_frames_ignored_total')) - before.ignored >= (counts.foreign ?? 0), 'foreign requests ignored and counted');
  t.ok((counts.probes ?? 0) > 0 && counts.probeAnswers === counts.probes, `${counts.probeAnswers} of ${counts.probes} probes for the VIP answered`);
  t.equal(await settledHolder(ip), holder, 'still the same holder, still one MAC');
  t.ok(await fetchFromClient(`http://${ip}/`, 2), 'still serving');
});

t.test('forged and replayed heartbeats from a LAN device move nothing, and are counted', async (t) => {
  const ips = [await ingressIp(NS, 'svc-c'), await ingressIp(NS, 'svc-d'), await ingressIp(NS, 'svc-e')];
  const before = [];
  for (const ip of ips) before.push(await settledHolder(ip));
  const was = { otherCluster: await heartbeatsDropped('other-cluster'), replay: await heartbeatsDropped('replay') };
  const script = new URL('./forge-heartbeats.mjs', import.meta.url).pathname;
  const out = await inNs(lab.clientNs, process.execPath, [script, '1500', ...ips], 30_000);
  const sent = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { captured: number; forged: number; replayed: number; genuineNodes: number; ownKeyDecodesGenuine: boolean };
  t.equal(sent.genuineNodes, 3, 'the forger heard all three speakers');
  t.ok(sent.forged >= 80 && sent.replayed >= 2 * 30, `sent ${sent.forged} forged and ${sent.replayed} replayed frames`);
  t.equal(sent.ownKeyDecodesGenuine, false, 'the forger\'s key is not the cluster\'s');
  await eventually('the frames to be counted', 10_000, async () => {
    const now = { otherCluster: await heartbeatsDropped('other-cluster'), replay: await heartbeatsDropped('replay') };
    // Every speaker hears each forged frame; each replayed frame is a replay for the two nodes that did not send it.
    return now.otherCluster - was.otherCluster >= sent.forged * 3 && now.replay - was.replay >= sent.replayed * 2 ? true : undefined;
  });
  t.pass('forged frames dropped as other-cluster, replays as replay, on every node');
  await new Promise((r) => setTimeout(r, 1500));
  for (const [i, ip] of ips.entries()) t.equal(await settledHolder(ip), before[i], `${ip} still answered by ${before[i]} alone`);
});

t.test('an interface removed and recreated under the holder is opened again: heard by its peers, answering ARP', async (t) => {
  const ip = await ingressIp(NS, 'svc-d');
  const holder = await settledHolder(ip);
  const others = lab.nodes.filter((n) => n !== holder);
  const closed = async (): Promise<number> => metricOfLabel(holder, 'barelb_interfaces_closed_total', 'interface="eth0"');
  const before = await closed();
  await recreateNodeLink(holder);
  await eventually(`${holder} to close its old eth0`, 10_000, async () => ((await closed()) > before ? true : undefined));
  await eventually(`${holder} and its peers to hear each other on the new eth0`, 20_000, async () => {
    for (const n of lab.nodes) if ((await metricOfLabel(n, 'barelb_peers_live', 'interface="eth0"')) !== 2) return undefined;
    return true;
  });
  // The others leave: the holder must now answer for everything, on the socket it opened on the new interface.
  for (const n of others) await (speakers.get(n) as Proc).kill('SIGTERM');
  t.equal(await eventually(`${holder} to answer ARP for ${ip}`, 15_000, async () => ((await arpHolder(ip)) === holder ? holder : undefined)), holder);
  t.ok(await eventually(`${ip} to serve requests`, 10_000, () => fetchFromClient(`http://${ip}/`)), `${ip} served through ${holder}`);
  for (const n of others) speakers.set(n, startSpeaker(file, n, [], saConfig));
  for (const n of others) await speakerReady(n);
});

t.test('the holder cut off from the API server alone keeps serving, and says so', async (t) => {
  const ip = await ingressIp(NS, 'svc-c');
  const holder = await settledHolder(ip);
  const ns = lab.nodeNs(holder);
  // Only this node loses the API server: its packets to it are dropped in its own namespace.
  const api = lab.apiServer;
  await inNs(ns, 'nft', ['add', 'table', 'ip', 'cutoff']);
  await inNs(ns, 'nft', ['add', 'chain', 'ip', 'cutoff', 'out', '{ type filter hook output priority 0; policy accept; }']);
  await inNs(ns, 'nft', ['add', 'rule', 'ip', 'cutoff', 'out', 'ip', 'daddr', api.host, 'tcp', 'dport', api.port, 'drop']);
  t.teardown(() => inNs(ns, 'nft', ['delete', 'table', 'ip', 'cutoff']).catch(() => undefined));
  await eventually(`${holder} to notice it cannot reach the API server`, 120_000, async () =>
    (await metricOfLabel(holder, 'barelb_api_reachable', '')) === 0 ? true : undefined, 1000);
  let failed = 0;
  for (let i = 0; i < 40; i++) {
    if (!(await fetchFromClient(`http://${ip}/`, 1))) failed++;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(failed, 0, 'no request failed while the holder was cut off');
  t.equal(await settledHolder(ip), holder, `${ip} still answered by ${holder} alone`);
  await inNs(ns, 'nft', ['delete', 'table', 'ip', 'cutoff']);
  await eventually(`${holder} to reach the API server again`, 120_000, async () =>
    (await metricOfLabel(holder, 'barelb_api_reachable', '')) === 1 ? true : undefined, 1000);
  t.equal(await settledHolder(ip), holder, 'nothing moved when it came back');
});
