import t from 'tap';
import { eventually, announcerOf, macOf, startController, type Proc } from '../../testkit/lab.js';
import { describeTraffic, startTraffic, totals } from '../../testkit/traffic.js';
import { FAILOVER_BOUND_MS, arpSamples, budget, createServices, holders, neighbourMac, setupChaosLab, settledHolder, sleep, urlsOf } from './chaos-lab.js';

// The holder of a VIP killed with kill -9, again and again, under continuous
// traffic to three VIPs: the client learns the new holder's MAC within the
// failover bound, each round's longest traffic gap stays within it too, and
// once the election has settled exactly one MAC answers for each VIP. (Only the
// speaker dies: its node's kube-proxy still forwards what reaches it, so the
// traffic gap is usually far below the bound; the link-down scenario is the one
// where the old path goes away.)
const NS = 'chaos-kill';

t.test(`kill -9 of the holder, ${budget.killRounds} rounds`, async (t) => {
  const chaos = await setupChaosLab(t, NS);
  startController(t);
  const ips = await createServices(NS, ['kill-a', 'kill-b', 'kill-c']);
  for (const ip of ips) await settledHolder(ip);
  const traffic = await startTraffic(t, urlsOf(ips));
  await sleep(1_000);
  t.equal(totals(await traffic.reset()).failures, 0, 'no failures before the first kill');

  const gaps: number[] = [];
  const moves: number[] = [];
  const target = ips[0] as string;
  for (let round = 1; round <= budget.killRounds; round++) {
    const holder = await settledHolder(target);
    const oldMac = await macOf(holder);
    t.equal(await neighbourMac(target), oldMac, `round ${round}: the client reaches ${target} through ${holder}`);
    await traffic.reset();
    const killedAt = Date.now();
    await (chaos.speakers.get(holder) as Proc).kill('SIGKILL');
    // Failover as the client sees it: gratuitous ARP from the new holder rewrites its neighbour entry.
    await eventually(`the client to learn a new MAC for ${target}`, 30_000, async () => ((await neighbourMac(target)) !== oldMac ? true : undefined), 50);
    const failoverMs = Date.now() - killedAt;
    // Then ARP settles on one MAC.
    const next = await settledHolder(target, 30_000);
    const movedMs = Date.now() - killedAt;
    await sleep(1_000);
    const window = await traffic.reset();
    const { longestGapMs, failures, requests } = totals(window);
    gaps.push(longestGapMs);
    moves.push(failoverMs);
    t.comment(`round ${round}: killed ${holder}; client moved to ${next} after ${failoverMs} ms, ARP settled after ${movedMs} ms; ${requests} requests, ${failures} failed, longest gap ${longestGapMs} ms`);
    t.not(next, holder, `round ${round}: another node holds ${target}`);
    t.ok(failoverMs <= FAILOVER_BOUND_MS, `round ${round}: the client's neighbour entry moved after ${failoverMs} ms <= ${FAILOVER_BOUND_MS} ms`);
    t.ok(longestGapMs <= FAILOVER_BOUND_MS, `round ${round}: longest gap ${longestGapMs} ms <= ${FAILOVER_BOUND_MS} ms`);
    if (longestGapMs > FAILOVER_BOUND_MS) t.comment(describeTraffic(window));
    t.same((await arpSamples(ips, 1)).bad, [], `round ${round}: one MAC answers for each VIP once settled`);
    await chaos.restartSpeaker(holder);
  }
  t.comment(`gaps (ms): ${gaps.join(' ')}; max ${Math.max(...gaps)}`);
  t.comment(`client's neighbour entry moved after (ms): ${moves.join(' ')}; max ${Math.max(...moves)}`);

  // Afterwards: every VIP announced, each by exactly one MAC, the one its speaker Lease names.
  await sleep(2_000);
  const after = await holders(ips);
  t.same(after.filter((h) => h === undefined), [], `every VIP has a holder: ${after.join(', ')}`);
  const { bad, macs } = await arpSamples(ips, 3);
  t.same(bad, [], 'every ARP sample saw exactly one MAC');
  for (const ip of ips) {
    const h = await eventually(`the speaker Leases to name one announcer of ${ip}`, 10_000, () => announcerOf(ip));
    t.same([...(macs.get(ip) ?? [])], [await macOf(h)], `${ip}: only ${h}'s MAC answers, as its speaker Lease says`);
  }
  const final = await traffic.stop();
  t.equal(Object.values(final.targets).every((x) => x.currentGapMs < 1_000), true, 'traffic flows to every VIP at the end');
});
