import t from 'tap';
import { eventually, macOf, startController, type Proc } from '../../testkit/lab.js';
import { describeTraffic, startTraffic, totals } from '../../testkit/traffic.js';
import { arpSamples, budget, createServices, neighbourMac, setupChaosLab, settledHolder, sleep, urlsOf } from './chaos-lab.js';

// The holder's speaker stopped with SIGTERM (a rolling update, a drained node), round after round, under
// continuous traffic: its last heartbeats say it is leaving, a peer takes over at once while it still
// answers, and the client never waits on a failure timeout. Only a request in flight at the instant the
// client switches may fail, reset (README, "Planned moves").
const NS = 'chaos-sigterm';
/** From the goal (≤ 0.2 s), plus the client's 20 ms polling and the generator's granularity on a busy machine. */
const PLANNED_MOVE_BOUND_MS = 500;

t.test(`SIGTERM of the holder, ${budget.killRounds} rounds`, async (t) => {
  const chaos = await setupChaosLab(t, NS);
  startController(t);
  const ips = await createServices(NS, ['term-a', 'term-b']);
  for (const ip of ips) await settledHolder(ip);
  const traffic = await startTraffic(t, urlsOf(ips));
  await sleep(1_000);
  t.equal(totals(await traffic.reset()).failures, 0, 'no failures before the first SIGTERM');
  const target = ips[0] as string;
  const moves: number[] = [];
  for (let round = 1; round <= budget.killRounds; round++) {
    const holder = await settledHolder(target);
    const oldMac = await macOf(holder);
    await traffic.reset();
    const at = Date.now();
    const stopped = (chaos.speakers.get(holder) as Proc).kill('SIGTERM');
    await eventually(`the client to learn a new MAC for ${target}`, 30_000, async () => ((await neighbourMac(target)) !== oldMac ? true : undefined), 20);
    const ms = Date.now() - at;
    moves.push(ms);
    await stopped;
    await sleep(1_000);
    const w = await traffic.reset();
    const { failures, longestGapMs } = totals(w);
    t.comment(`round ${round}: ${holder} stopped; the client moved after ${ms} ms; ${failures} failed, longest gap ${longestGapMs} ms`);
    t.ok(ms <= PLANNED_MOVE_BOUND_MS, `round ${round}: neighbour entry moved after ${ms} ms <= ${PLANNED_MOVE_BOUND_MS} ms`);
    // A request in flight through the old node when the client switches is cut: its next packet reaches the
    // new node, which has no state for the connection and resets it (every open connection pays so for a move).
    // One such reset per VIP is the most a move may cost; anything else (a timeout) is a failure of the move.
    const resets = Object.values(w.targets).reduce((n, x) => n + (x.errors['ECONNRESET'] ?? 0), 0);
    t.equal(failures - resets, 0, `round ${round}: no request failed but by a reset at the switch`);
    t.ok(resets <= ips.length, `round ${round}: ${resets} request(s) cut at the switch, at most one per VIP`);
    if (failures) t.comment(describeTraffic(w));
    t.same((await arpSamples(ips, 1)).bad, [], `round ${round}: one MAC per VIP`);
    await chaos.restartSpeaker(holder);
  }
  t.comment(`neighbour entry moved after (ms): ${moves.join(' ')}`);
  await traffic.stop();
});
