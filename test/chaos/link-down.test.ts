import t from 'tap';
import { apply, arpHolder, eventually, inNs, lab, macOf, metricOfLabel, serviceYaml, startController } from '../../testkit/lab.js';
import { describeTraffic, startTraffic, totals } from '../../testkit/traffic.js';
import { FAILOVER_BOUND_MS, arpSamples, createServices, holders, setupChaosLab, settledHolder, sleep, urlsOf } from './chaos-lab.js';

// A node's lab interface (eth0, its only link: to the LAN and to the API
// server) taken down under continuous traffic. Its VIPs move to the other
// nodes once its heartbeats have been missing for the failure timeout; when
// the link comes back, it does not take them back and never answers beside
// the new holder.
const NS = 'chaos-link';
const names = ['link-a', 'link-b', 'link-c', 'link-d', 'link-e'];

t.test('a node loses its link', async (t) => {
  await setupChaosLab(t, NS);
  startController(t);
  const ips = await createServices(NS, names);
  for (const ip of ips) await settledHolder(ip);
  const before = await holders(ips);
  // The node that holds the most VIPs goes down.
  const count = (n: string): number => before.filter((h) => h === n).length;
  const victim = [...lab.nodes].sort((a, b) => count(b) - count(a))[0] as string;
  const moving = ips.filter((_, i) => before[i] === victim);
  t.ok(moving.length > 0, `${victim} holds ${moving.join(', ')}`);
  // Its backend goes with it; Kubernetes would drop the endpoint too (here, at once, so only ARP is measured).
  const survivors = lab.nodes.filter((n) => n !== victim);
  for (const name of names) await apply(serviceYaml({ name, namespace: NS, port: 80, targetPort: 8080, endpointNodes: survivors }));
  const victimMac = await macOf(victim);

  const traffic = await startTraffic(t, urlsOf(ips));
  await sleep(2_000);
  t.equal(totals(await traffic.reset()).failures, 0, 'no failures before the link goes down');

  t.teardown(() => inNs(lab.nodeNs(victim), 'ip', ['link', 'set', 'eth0', 'up']).catch(() => undefined));
  const downAt = Date.now();
  await inNs(lab.nodeNs(victim), 'ip', ['link', 'set', 'eth0', 'down']);
  const moveMs = new Map<string, number>();
  await eventually(`the VIPs of ${victim} to move`, 30_000, async () => {
    for (const ip of moving) {
      if (moveMs.has(ip)) continue;
      const h = await arpHolder(ip);
      if (h && h !== victim) moveMs.set(ip, Date.now() - downAt);
    }
    return moveMs.size === moving.length ? true : undefined;
  }, 50);
  for (const ip of moving) t.comment(`${ip}: answered by another node ${moveMs.get(ip)} ms after the link went down (ARP polled)`);
  for (const ip of moving) t.not(await settledHolder(ip), victim, `${ip} answered by one other node`);
  t.equal(await metricOfLabel(victim, 'barelb_interfaces_closed_total', 'reason="down"'), 1, `${victim} saw its link go and closed eth0 once`);
  await sleep(2_000);
  const w = await traffic.reset();
  t.comment(`while ${victim} was cut off:\n${describeTraffic(w)}`);
  for (const [i, ip] of ips.entries()) {
    const s = w.targets[`http://${ip}/`];
    // VIPs on other nodes are not touched: only the machine's noise (see controller-burst) may show.
    const bound = before[i] === victim ? FAILOVER_BOUND_MS : 2_000;
    t.ok((s?.longestGapMs ?? Infinity) <= bound, `${ip} (held by ${before[i]}): longest gap ${s?.longestGapMs} ms <= ${bound} ms`);
    t.equal(s?.currentGapMs !== undefined && s.currentGapMs < 1_000, true, `${ip}: traffic flows again`);
  }

  await inNs(lab.nodeNs(victim), 'ip', ['link', 'set', 'eth0', 'up']);
  const upAt = Date.now();
  // Give the node time to hear its peers again (and reach the API server), then sample ARP for a while.
  await sleep(5_000);
  const samples = await arpSamples(ips, 4);
  t.same(samples.bad, [], `one MAC answers for each VIP after the link came back (${Math.round((Date.now() - upAt) / 1000)} s of samples)`);
  for (const ip of moving) t.notOk(samples.macs.get(ip)?.has(victimMac), `${ip}: ${victim} does not answer again`);
  const after = await holders(ips);
  for (const [i, ip] of ips.entries()) t.equal([...(samples.macs.get(ip) ?? [])][0], await macOf(after[i] as string), `${ip}: the holder's MAC`);
  const end = await traffic.stop();
  t.comment(`after the link came back:\n${describeTraffic(end)}`);
  t.equal(totals(end).failures, 0, 'no failed request after the link came back');
});
