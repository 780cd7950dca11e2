import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { ROOT, eventually, kubectl, lab, macOf, startController } from '../../testkit/lab.js';
import { describeTraffic, startTraffic, totals } from '../../testkit/traffic.js';
import { arpSamples, budget, createServices, holders, serviceIps, setupChaosLab, settledHolder, sleep, urlsOf } from './chaos-lab.js';

// The API server stopped and etcd frozen (SIGSTOP: the same process with the
// same data comes back on SIGCONT) for the outage, under continuous traffic:
// membership is the LAN's, so the holders keep announcing what they hold, no
// request fails, and nothing moves, during the outage or when it ends.
const run = promisify(execFile);
const NS = 'chaos-outage';
const controlPlane = (cmd: string): Promise<unknown> => run('bash', [path.join(ROOT, 'scripts/control-plane.sh'), cmd], { timeout: 120_000 });
const etcdPid = (): number => Number(readFileSync(path.join(lab.cpDir, 'etcd.pid'), 'utf8').trim());

t.test(`API server and etcd down for ${budget.outageSeconds} s`, async (t) => {
  await setupChaosLab(t, NS);
  startController(t);
  const names = ['out-a', 'out-b', 'out-c', 'out-d'];
  const ips = await createServices(NS, names);
  for (const ip of ips) await settledHolder(ip);
  const before = { services: await serviceIps(NS), holders: await holders(ips) };
  const macsBefore = await Promise.all(before.holders.map((h) => macOf(h as string)));
  const traffic = await startTraffic(t, urlsOf(ips));
  await sleep(1_000);
  t.equal(totals(await traffic.reset()).failures, 0, 'no failures before the outage');

  t.teardown(async () => {
    try {
      process.kill(etcdPid(), 'SIGCONT');
    } catch {
      // already running or gone
    }
    await controlPlane('start-apiserver').catch(() => undefined);
  });
  const downAt = Date.now();
  await controlPlane('stop-apiserver');
  process.kill(etcdPid(), 'SIGSTOP');
  await sleep(budget.outageSeconds * 1_000 - (Date.now() - downAt));
  const during = await traffic.reset();
  process.kill(etcdPid(), 'SIGCONT');
  await controlPlane('start-apiserver');
  const upAfterMs = Date.now() - downAt;
  t.comment(`control plane down for ${upAfterMs} ms (API server ready again)`);
  t.comment(`during the outage:\n${describeTraffic(during)}`);
  const d = totals(during);
  t.equal(d.failures, 0, `no failed request during the outage (${d.requests} requests, longest gap ${d.longestGapMs} ms)`);
  t.ok(d.requests > budget.outageSeconds * 10, `traffic flowed throughout: ${d.requests} requests`);

  // Recovery: the speakers reconnect; nothing is reassigned and nothing moves.
  await eventually('every VIP to be answered by one node', 60_000, async () => ((await holders(ips)).every((h) => h) ? true : undefined));
  await sleep(10_000);
  const recovery = await traffic.reset();
  t.comment(`10 s after recovery:\n${describeTraffic(recovery)}`);
  // While everything reconnects, kube-proxy on every node re-lists and rewrites its rules and the whole control
  // plane catches up: on this shared machine that has stalled all VIPs at once for ~1 s (held by one node, which
  // never changed). The speakers' part is checked below; here: no outage, at most one request in a hundred lost.
  const r = totals(recovery);
  t.ok(r.failures <= r.requests / 100 && r.longestGapMs < 2_000, `while the control plane came back: ${r.failures} of ${r.requests} failed, longest gap ${r.longestGapMs} ms`);
  t.same(await serviceIps(NS), before.services, 'every Service kept its IP');
  const after = await holders(ips);
  for (const [i, ip] of ips.entries()) t.equal(after[i], before.holders[i], `${ip}: still held by ${before.holders[i]}`);
  const { bad, macs } = await arpSamples(ips, 3);
  t.same(bad, [], 'one MAC answers for each VIP');
  for (const [i, ip] of ips.entries()) {
    const want = await macOf(after[i] as string);
    t.same([...(macs.get(ip) ?? [])], [want], `${ip}: the holder's MAC${want === macsBefore[i] ? ', as before the outage' : ''}`);
  }
  const controllerEvents = await kubectl(['get', 'events', '-n', NS, '--field-selector', 'reason=IPAllocated', '-o', 'name']);
  t.equal(controllerEvents.trim().split('\n').filter(Boolean).length, names.length, 'no Service was assigned again after the outage');
  await traffic.stop();
});
