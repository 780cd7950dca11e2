import t, { type Test } from 'tap';
import { eventually, announcerOf, macOf, startController, type Proc } from '../../testkit/lab.js';
import { describeTraffic, startTraffic, totals, type Traffic } from '../../testkit/traffic.js';
import {
  FAILOVER_BOUND_MS, arpSamples, budget, createServices, holders, neighbourMac, protocolOf, servedFromClient, setupChaosLab, settledHolder, sleep,
  urlsOf, type ChaosLab, type Family,
} from './chaos-lab.js';

// The holder of a VIP killed with kill -9, again and again, under continuous
// traffic to every VIP: the client learns the new holder's MAC within the
// failover bound, each round's longest traffic gap stays within it too, and
// once the election has settled exactly one MAC answers for each VIP. (Only the
// speaker dies: its node's kube-proxy still forwards what reaches it, so the
// traffic gap is usually far below the bound; the link-down scenario is the one
// where the old path goes away.) The same rounds run for an IPv4 VIP (ARP,
// gratuitous ARP moves the client) and an IPv6 VIP (NDP, unsolicited Neighbor
// Advertisements move it), each beside bystander VIPs of its family.
const NS = 'chaos-kill';
const FAMILIES: readonly { family: Family; names: string[]; rounds: number }[] = [
  { family: 'IPv4', names: ['kill-a', 'kill-b', 'kill-c'], rounds: budget.killRounds },
  { family: 'IPv6', names: ['kill6-a', 'kill6-b'], rounds: budget.killRounds6 },
];

/** `rounds` kills of the holder of `ips[0]`; returns when the last killed speaker is back. */
async function killRounds(t: Test, chaos: ChaosLab, traffic: Traffic, family: Family, ips: string[], rounds: number): Promise<void> {
  const proto = protocolOf(family);
  const gaps: number[] = [];
  const moves: number[] = [];
  const target = ips[0] as string;
  for (let round = 1; round <= rounds; round++) {
    const holder = await settledHolder(target);
    const oldMac = await macOf(holder);
    t.equal(await neighbourMac(target), oldMac, `round ${round}: the client reaches ${target} through ${holder}`);
    await traffic.reset();
    const killedAt = Date.now();
    await (chaos.speakers.get(holder) as Proc).kill('SIGKILL');
    // Failover as the client sees it: the new holder's gratuitous ARP (unsolicited NA) rewrites its neighbour entry.
    await eventually(`the client to learn a new MAC for ${target}`, 30_000, async () => ((await neighbourMac(target)) !== oldMac ? true : undefined), 50);
    const failoverMs = Date.now() - killedAt;
    // Then ARP (NDP) settles on one MAC.
    const next = await settledHolder(target, 30_000);
    const movedMs = Date.now() - killedAt;
    await sleep(1_000);
    const window = await traffic.reset();
    const { longestGapMs, failures, requests } = totals(window);
    gaps.push(longestGapMs);
    moves.push(failoverMs);
    t.comment(`round ${round}: killed ${holder}; client moved to ${next} after ${failoverMs} ms, ${proto} settled after ${movedMs} ms; ${requests} requests, ${failures} failed, longest gap ${longestGapMs} ms`);
    t.not(next, holder, `round ${round}: another node holds ${target}`);
    t.ok(failoverMs <= FAILOVER_BOUND_MS, `round ${round}: the client's neighbour entry moved after ${failoverMs} ms <= ${FAILOVER_BOUND_MS} ms`);
    t.ok(longestGapMs <= FAILOVER_BOUND_MS, `round ${round}: longest gap ${longestGapMs} ms <= ${FAILOVER_BOUND_MS} ms`);
    if (longestGapMs > FAILOVER_BOUND_MS) t.comment(describeTraffic(window));
    t.same((await arpSamples(ips, 1)).bad, [], `round ${round}: one MAC answers ${proto} for each ${family} VIP once settled`);
    await chaos.restartSpeaker(holder);
  }
  t.comment(`${family} gaps (ms): ${gaps.join(' ')}; max ${Math.max(...gaps)}`);
  t.comment(`${family}: client's neighbour entry moved after (ms): ${moves.join(' ')}; max ${Math.max(...moves)}`);
}

t.test('kill -9 of the holder, round after round, for each address family', async (t) => {
  const chaos = await setupChaosLab(t, NS, { ipv6: true });
  startController(t);
  const byFamily = new Map<Family, string[]>();
  for (const { family, names } of FAMILIES) byFamily.set(family, await createServices(NS, names, family));
  const ips = [...byFamily.values()].flat();
  for (const ip of ips) await settledHolder(ip);
  await servedFromClient(ips);
  // Traffic to every VIP of both families throughout: a killed holder may hold bystanders of either.
  const traffic = await startTraffic(t, urlsOf(ips));
  await sleep(1_000);
  t.equal(totals(await traffic.reset()).failures, 0, 'no failures before the first kill');

  for (const { family, rounds } of FAMILIES) {
    const familyIps = byFamily.get(family) as string[];
    await t.test(`${family}: kill -9 of the holder of ${familyIps[0]}, ${rounds} rounds`, (t) => killRounds(t, chaos, traffic, family, familyIps, rounds));
  }

  // Afterwards: every VIP announced, each by exactly one MAC, the one its speaker Lease names.
  await sleep(2_000);
  const after = await holders(ips);
  t.same(after.filter((h) => h === undefined), [], `every VIP has a holder: ${after.join(', ')}`);
  const { bad, macs } = await arpSamples(ips, 3);
  t.same(bad, [], 'every ARP (NDP) sample saw exactly one MAC');
  for (const ip of ips) {
    const h = await eventually(`the speaker Leases to name one announcer of ${ip}`, 10_000, () => announcerOf(ip));
    t.same([...(macs.get(ip) ?? [])], [await macOf(h)], `${ip}: only ${h}'s MAC answers, as its speaker Lease says`);
  }
  const final = await traffic.stop();
  t.equal(Object.values(final.targets).every((x) => x.currentGapMs < 1_000), true, 'traffic flows to every VIP at the end');
});
