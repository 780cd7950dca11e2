import t from 'tap';
import { GARP_BURST_MS, REASSERT_INTERVAL_MS } from '../../src/speaker/neighbor-responder.js';
import { eventually, inNs, lab, macOf, metricOf, startController, type Proc } from '../../testkit/lab.js';
import { describeTraffic, startTraffic } from '../../testkit/traffic.js';
import { arpSamples, createServices, neighbourMac, setupChaosLab, settledHolder, sleep, urlsOf } from './chaos-lab.js';

// Another host on the LAN claims a VIP with gratuitous ARP for a MAC nobody
// has, over and over, under continuous traffic. The spoofer runs on a node
// that does not hold the VIP: frames sent from the client's own namespace
// never reach the client's own neighbour table, and that table is what the
// spoof poisons. The holder notices every claim (metric), logs it, and
// re-asserts, paced (at most one re-assertion per REASSERT_INTERVAL_MS), so
// once the claims stop the client is back on the holder within an interval.
const NS = 'chaos-spoof';
const FAKE_MAC = '02:de:ad:be:ef:01';
const SPOOF_ROUNDS = 40;
const SPOOF_EVERY_MS = 50;
const CONFLICT_LOG = 'another host claims an address this node announces; re-asserting';

t.test('ARP spoofing of a VIP', async (t) => {
  const chaos = await setupChaosLab(t, NS);
  startController(t);
  const [ip] = (await createServices(NS, ['spoof-a'])) as [string];
  const holder = await settledHolder(ip);
  const holderMac = await macOf(holder);
  const spoofer = lab.nodes.find((n) => n !== holder) as string;
  const traffic = await startTraffic(t, urlsOf([ip]));
  // Past the takeover's gratuitous ARP burst (GARP_BURST_MS), so every one counted below is a re-assertion.
  await sleep(Math.max(...GARP_BURST_MS) + 500);
  t.equal(await neighbourMac(ip), holderMac, `the client reaches ${ip} through ${holder}`);
  await traffic.reset();

  const before = { conflicts: await metricOf(holder, 'barelb_arp_conflicts_total'), garp: await metricOf(holder, 'barelb_gratuitous_arp_sent_total') };
  const logsBefore = (chaos.speakers.get(holder) as Proc).output().split('\n').filter((l) => l.includes(CONFLICT_LOG)).length;

  // Watch the client's neighbour entry while the spoofer runs.
  let poisoned = 0;
  let spoofing = true;
  const watcher = (async () => {
    while (spoofing) {
      if ((await neighbourMac(ip)) === FAKE_MAC) poisoned++;
      await sleep(20);
    }
  })();
  const out = await inNs(lab.nodeNs(spoofer), process.execPath, [
    new URL('./arp-spoofer.mjs', import.meta.url).pathname, ip, FAKE_MAC, String(SPOOF_ROUNDS), String(SPOOF_EVERY_MS),
  ], 30_000);
  spoofing = false;
  await watcher;
  const sent = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { frames: number; firstMs: number; lastMs: number };
  const spoofMs = sent.lastMs - sent.firstMs;
  t.comment(`${spoofer} claimed ${ip} for ${FAKE_MAC}: ${sent.frames} frames over ${spoofMs} ms; the client's entry was seen poisoned ${poisoned} times`);

  const backMs = await eventually(`the client's neighbour entry for ${ip} to return to ${holder}`, 10_000, async () =>
    (await neighbourMac(ip)) === holderMac ? Date.now() - sent.lastMs : undefined, 20);
  t.comment(`the client was back on ${holder} ${backMs} ms after the last spoofed frame`);
  t.ok(backMs <= REASSERT_INTERVAL_MS + 1_000, `back on the holder within ${REASSERT_INTERVAL_MS + 1_000} ms (${backMs} ms)`);

  const recovered = await eventually('traffic to flow again', 5_000, async () => {
    const s = (await traffic.stats()).targets[`http://${ip}/`];
    return s && s.currentGapMs < 300 ? s : undefined;
  });
  t.pass(`traffic flows again (current gap ${recovered.currentGapMs} ms)`);
  const w = await traffic.reset();
  t.comment(`during the spoofing:\n${describeTraffic(w)}`);

  const conflicts = (await metricOf(holder, 'barelb_arp_conflicts_total')) - before.conflicts;
  const garps = (await metricOf(holder, 'barelb_gratuitous_arp_sent_total')) - before.garp;
  const logs = (chaos.speakers.get(holder) as Proc).output().split('\n').filter((l) => l.includes(CONFLICT_LOG)).slice(logsBefore);
  t.comment(`holder ${holder}: ${conflicts} conflicts counted, ${garps} re-assertions, ${logs.length} warn lines`);
  t.ok(conflicts >= sent.frames, `every spoofed frame counted as a conflict (${conflicts} >= ${sent.frames})`);
  // Unpaced, every claim would be answered: 2 × SPOOF_ROUNDS re-assertions.
  const maxReassertions = Math.floor(spoofMs / REASSERT_INTERVAL_MS) + 2;
  t.ok(garps >= 1 && garps <= maxReassertions, `re-asserted ${garps} times, paced (1..${maxReassertions})`);
  t.ok(logs.length >= 1 && logs.length <= maxReassertions, `${logs.length} warn lines, paced`);
  const line = JSON.parse(logs[0] ?? '{}') as { ip?: string; claimedBy?: string; level?: number };
  t.same([line.ip, line.claimedBy, line.level], [ip, FAKE_MAC, 40], 'the warn line names the VIP and the claiming MAC');

  t.same((await arpSamples([ip], 3)).macs.get(ip), new Set([holderMac]), 'only the holder answers ARP for the VIP');
  await sleep(1_000);
  const after = await traffic.stop();
  t.equal(after.targets[`http://${ip}/`]?.failures, 0, 'no failed request after the spoofing stopped');
});
