import t from 'tap';
import { heartbeatsDropped, inNs, lab, startController } from '../../testkit/lab.js';
import { describeTraffic, startTraffic, totals } from '../../testkit/traffic.js';
import { arpSamples, createServices, holders, setupChaosLab, settledHolder, sleep, urlsOf } from './chaos-lab.js';

// A device on the LAN that does not know the heartbeat key forges heartbeats (a phantom node claiming every
// VIP; every real node "leaving") and replays genuine ones it captured, under continuous traffic: nothing
// moves, no request fails, and every frame is dropped and counted.
const NS = 'chaos-forged';

t.test('forged and replayed heartbeats', async (t) => {
  await setupChaosLab(t, NS);
  startController(t);
  const ips = await createServices(NS, ['forged-a', 'forged-b', 'forged-c']);
  for (const ip of ips) await settledHolder(ip);
  const before = await holders(ips);
  const traffic = await startTraffic(t, urlsOf(ips));
  await sleep(1_000);
  t.equal(totals(await traffic.reset()).failures, 0, 'no failures before the attack');
  const was = { forged: await heartbeatsDropped('other-cluster'), replay: await heartbeatsDropped('replay') };
  const script = new URL('../e2e/forge-heartbeats.mjs', import.meta.url).pathname;
  for (let round = 0; round < 3; round++) {
    const out = await inNs(lab.clientNs, process.execPath, [script, '1000', ...ips], 30_000);
    t.comment(`round ${round + 1}: ${out.trim().split('\n').pop()}`);
  }
  await sleep(2_000);
  const w = await traffic.stop();
  const { failures, requests, longestGapMs } = totals(w);
  t.comment(describeTraffic(w));
  t.equal(failures, 0, `no request failed during the attack (${requests} requests, longest gap ${longestGapMs} ms)`);
  t.same(await holders(ips), before, 'no VIP moved');
  t.same((await arpSamples(ips, 2)).bad, [], 'one MAC per VIP');
  t.ok((await heartbeatsDropped('other-cluster')) > was.forged, 'forged frames dropped and counted');
  t.ok((await heartbeatsDropped('replay')) > was.replay, 'replayed frames dropped and counted');
});
