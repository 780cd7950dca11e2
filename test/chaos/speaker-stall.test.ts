import t from 'tap';
import { arpHolder, eventually, macOf, metricOf, startController, type Proc } from '../../testkit/lab.js';
import { describeTraffic, startTraffic, totals } from '../../testkit/traffic.js';
import { FAILOVER_BOUND_MS, arpSamples, createServices, holders, neighbourMac, setupChaosLab, settledHolder, sleep, urlsOf } from './chaos-lab.js';

// The holder's speaker stopped (SIGSTOP: a long GC pause or a starved process looks the same to its peers)
// for longer than the failure timeout, under continuous traffic: its peers take its VIPs over; when it
// wakes, it stops answering before it answers anything, does not take them back, and the client never
// ends up with two answers. Then a stall shorter than the failure timeout: nothing moves.
const NS = 'chaos-stall';

t.test('a stalled holder', async (t) => {
  const chaos = await setupChaosLab(t, NS);
  startController(t);
  const ips = await createServices(NS, ['stall-a', 'stall-b', 'stall-c']);
  for (const ip of ips) await settledHolder(ip);
  const target = ips[0] as string;
  const victim = await settledHolder(target);
  const before = await holders(ips);
  const moving = ips.filter((_, i) => before[i] === victim);
  const victimMac = await macOf(victim);
  const proc = chaos.speakers.get(victim) as Proc;
  const pid = proc.child.pid as number;
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone
    }
  });
  const traffic = await startTraffic(t, urlsOf(ips));
  await sleep(1_000);
  t.equal(totals(await traffic.reset()).failures, 0, 'no failures before the stall');

  // A short stall (well under the 400 ms failure timeout): nothing moves.
  process.kill(pid, 'SIGSTOP');
  await sleep(150);
  process.kill(pid, 'SIGCONT');
  await sleep(2_000);
  t.same(await holders(ips), before, 'a 150 ms stall moved nothing');
  t.equal(await metricOf(victim, 'barelb_stalls_total'), 0, 'and was not taken for a stall');

  const stalledAt = Date.now();
  process.kill(pid, 'SIGSTOP');
  await eventually(`the client to learn a new MAC for ${target}`, 30_000, async () => ((await neighbourMac(target)) !== victimMac ? true : undefined), 50);
  const failoverMs = Date.now() - stalledAt;
  t.comment(`the client moved off the stalled node after ${failoverMs} ms`);
  t.ok(failoverMs <= FAILOVER_BOUND_MS, `failover ${failoverMs} ms <= ${FAILOVER_BOUND_MS} ms`);
  await sleep(3_000);
  process.kill(pid, 'SIGCONT');
  await eventually('the woken speaker to count its stall', 30_000, async () => ((await metricOf(victim, 'barelb_stalls_total')) >= 1 ? true : undefined));
  await sleep(3_000);
  const { bad, macs } = await arpSamples(ips, 4);
  t.same(bad, [], 'one MAC answers for each VIP after the wake-up');
  for (const ip of moving) {
    t.notOk(macs.get(ip)?.has(victimMac), `${ip}: the woken node does not take it back`);
    t.not(await arpHolder(ip), victim);
  }
  const w = await traffic.stop();
  t.comment(describeTraffic(w));
  const { longestGapMs } = totals(w);
  t.ok(longestGapMs <= FAILOVER_BOUND_MS, `longest traffic gap ${longestGapMs} ms <= ${FAILOVER_BOUND_MS} ms`);
});
