import t, { type Test } from 'tap';
import { GARP_BURST_MS, REASSERT_INTERVAL_MS } from '../../src/speaker/neighbor-responder.js';
import { eventually, inNs, lab, macOf, metricOf, startController, type Proc } from '../../testkit/lab.js';
import { describeTraffic, startTraffic } from '../../testkit/traffic.js';
import {
  arpSamples, createServices, neighbourMac, protocolOf, servedFromClient, setupChaosLab, settledHolder, sleep, urlOf, type ChaosLab, type Family,
} from './chaos-lab.js';

// Another host on the LAN claims a VIP for a MAC nobody has, over and over,
// under continuous traffic: gratuitous ARP for an IPv4 VIP, forged unsolicited
// Neighbor Advertisements (Override set) for an IPv6 one. The spoofer runs on
// a node that does not hold the VIP: frames sent from the client's own
// namespace never reach the client's own neighbour table, and that table is
// what the spoof poisons. The holder notices every claim (metric), logs it,
// and re-asserts, paced (at most one re-assertion per REASSERT_INTERVAL_MS),
// so once the claims stop the client is back on the holder within an interval.
const NS = 'chaos-spoof';
const FAKE_MAC = '02:de:ad:be:ef:01';
const SPOOF_ROUNDS = 40;
const SPOOF_EVERY_MS = 50;
const CONFLICT_LOG = 'another host claims an address this node announces; re-asserting';

interface Spoofing {
  readonly family: Family;
  readonly service: string;
  /** Sends the claims (see spoof-loop.mjs). */
  readonly spoofer: string;
  /** The holder's count of claims it saw, and of its own announcements (a re-assertion is one). */
  readonly conflicts: string;
  readonly announcements: string;
}
const SPOOFINGS: readonly Spoofing[] = [
  { family: 'IPv4', service: 'spoof-a', spoofer: 'arp-spoofer.mjs', conflicts: 'barelb_arp_conflicts_total', announcements: 'barelb_gratuitous_arp_sent_total' },
  { family: 'IPv6', service: 'spoof6-a', spoofer: 'ndp-spoofer.mjs', conflicts: 'barelb_ndp_conflicts_total', announcements: 'barelb_unsolicited_na_sent_total' },
];

/** `announcedAt`: when the VIP was known to be answered (its takeover burst started before). */
async function spoofScenario(t: Test, chaos: ChaosLab, ip: string, announcedAt: number, s: Spoofing): Promise<void> {
  const holder = await settledHolder(ip);
  const holderMac = await macOf(holder);
  const spoofer = lab.nodes.find((n) => n !== holder) as string;
  const url = urlOf(ip);
  const traffic = await startTraffic(t, [url]);
  // Past the takeover's announcement burst (GARP_BURST_MS), so every one counted below is a re-assertion; and
  // a second of traffic at least.
  await sleep(Math.max(1_000, announcedAt + Math.max(...GARP_BURST_MS) + 500 - Date.now()));
  t.equal(await neighbourMac(ip), holderMac, `the client reaches ${ip} through ${holder}`);
  await traffic.reset();

  const before = { conflicts: await metricOf(holder, s.conflicts), announcements: await metricOf(holder, s.announcements) };
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
    new URL(`./${s.spoofer}`, import.meta.url).pathname, ip, FAKE_MAC, String(SPOOF_ROUNDS), String(SPOOF_EVERY_MS),
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
    const st = (await traffic.stats()).targets[url];
    return st && st.currentGapMs < 300 ? st : undefined;
  });
  t.pass(`traffic flows again (current gap ${recovered.currentGapMs} ms)`);
  const w = await traffic.reset();
  t.comment(`during the spoofing:\n${describeTraffic(w)}`);

  const conflicts = (await metricOf(holder, s.conflicts)) - before.conflicts;
  const reasserted = (await metricOf(holder, s.announcements)) - before.announcements;
  const logs = (chaos.speakers.get(holder) as Proc).output().split('\n').filter((l) => l.includes(CONFLICT_LOG)).slice(logsBefore);
  t.comment(`holder ${holder}: ${conflicts} conflicts counted, ${reasserted} re-assertions, ${logs.length} warn lines`);
  t.ok(conflicts >= sent.frames, `every spoofed frame counted as a conflict (${conflicts} >= ${sent.frames})`);
  // Unpaced, every claim would be answered: sent.frames re-assertions.
  const maxReassertions = Math.floor(spoofMs / REASSERT_INTERVAL_MS) + 2;
  t.ok(reasserted >= 1 && reasserted <= maxReassertions, `re-asserted ${reasserted} times, paced (1..${maxReassertions})`);
  t.ok(logs.length >= 1 && logs.length <= maxReassertions, `${logs.length} warn lines, paced`);
  const line = JSON.parse(logs[0] ?? '{}') as { ip?: string; claimedBy?: string; level?: number };
  t.same([line.ip, line.claimedBy, line.level], [ip, FAKE_MAC, 40], 'the warn line names the VIP and the claiming MAC');

  t.same((await arpSamples([ip], 3)).macs.get(ip), new Set([holderMac]), `only the holder answers ${protocolOf(s.family)} for the VIP`);
  await sleep(1_000);
  const after = await traffic.stop();
  t.equal(after.targets[url]?.failures, 0, 'no failed request after the spoofing stopped');
}

t.test('spoofing of a VIP', async (t) => {
  const chaos = await setupChaosLab(t, NS, { ipv6: true });
  startController(t);
  const ips: string[] = [];
  for (const s of SPOOFINGS) ips.push(...(await createServices(NS, [s.service], s.family)));
  await servedFromClient(ips);
  const announcedAt = Date.now();
  for (const [i, s] of SPOOFINGS.entries()) {
    const ip = ips[i] as string;
    await t.test(`${protocolOf(s.family)} spoofing of an ${s.family} VIP (${ip})`, (t) => spoofScenario(t, chaos, ip, announcedAt, s));
  }
});
