/**
 * Two replicas sharing one Lease. Killing the leader in the middle of a burst
 * of Service creations leaves every Service with exactly one address, none
 * shared, all from the pool, once the standby has taken over; a leader stopped
 * with SIGTERM gives the Lease back so the standby takes over well before the
 * lease would expire; a leader whose Lease is taken and who wins it back does
 * not write its Warnings a second time.
 *
 * Pool: 203.0.113.0-203.0.113.239 (this file only).
 */
import t, { type Test } from 'tap';
import type { V1Service } from '@kubernetes/client-node';
import {
  apply,
  configMapYaml,
  createServices,
  eventsFor,
  eventually,
  ingressIps,
  kubectl,
  namespaces,
  startController,
  uniqueName,
  type RunningController,
  type ServiceSpec,
} from '../harness.js';

const POOL = 'failover-pool';
const FIRST = '203.0.113.0';
const LAST = '203.0.113.239';
const LEASE_DURATION_MS = 4_000;
const TIMERS = ['--lease-duration', '4s', '--renew-deadline', '3s', '--retry-period', '500ms'];

function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) return NaN;
  return (p[0] as number) * 2 ** 24 + ((p[1] as number) << 16) + ((p[2] as number) << 8) + (p[3] as number);
}
const inPool = (ip: string): boolean => ipToInt(ip) >= ipToInt(FIRST) && ipToInt(ip) <= ipToInt(LAST);

async function allIps(namespace: string): Promise<Map<string, string[]>> {
  const list = JSON.parse(await kubectl(['get', 'services', '-n', namespace, '-o', 'json'])) as { items: V1Service[] };
  return new Map(list.items.map((s) => [s.metadata?.name ?? '', ingressIps(s)]));
}

async function leaderValue(c: RunningController): Promise<number | undefined> {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return undefined;
  return c.metric('barelb_controller_leader').catch(() => undefined);
}

/** The replica whose barelb_controller_leader is 1, once exactly one is, and it has synced. */
async function findLeader(replicas: RunningController[]): Promise<{ leader: RunningController; standby: RunningController }> {
  return eventually('exactly one leader that has synced', 30_000, async () => {
    const values = await Promise.all(replicas.map(leaderValue));
    const leaders = replicas.filter((_, i) => values[i] === 1);
    if (leaders.length !== 1) return undefined;
    const leader = leaders[0] as RunningController;
    if (!leader.logLines().some((l) => l['msg'] === 'controller synced; assigning')) return undefined;
    return { leader, standby: replicas.find((r) => r !== leader) as RunningController };
  });
}

async function setup(t: Test, prefix: string): Promise<{ cfg: string; ns: string; lease: string; args: (id: string) => string[] }> {
  const cfg = uniqueName(`${prefix}-cfg`);
  const ns = uniqueName(`${prefix}-svc`);
  await namespaces(t, cfg, ns);
  await apply(configMapYaml(cfg, `pools:\n- name: ${POOL}\n  addresses: ["${FIRST}-${LAST}"]`));
  const lease = uniqueName(`${prefix}-lease`);
  return { cfg, ns, lease, args: (id) => ['--namespace', cfg, '--lease-name', lease, '--identity', id, ...TIMERS] };
}

t.test('SIGKILL of the leader in the middle of a burst: every Service ends with one distinct address', async (t) => {
  const { ns, args } = await setup(t, 'fo-kill');
  const replicas = await Promise.all([startController(t, args('fo-kill-a')), startController(t, args('fo-kill-b'))]);
  const { leader, standby } = await findLeader(replicas);
  t.comment(`leader: ${String(leader.logLines().find((l) => l['msg'] === 'became leader')?.['identity'])}`);
  t.ok(leader.logLines().some((l) => l['msg'] === 'became leader'), 'the leader logged "became leader"');
  t.notOk(standby.logLines().some((l) => l['msg'] === 'became leader'), 'the standby did not');

  // While both run, the standby never acts.
  for (let i = 0; i < 5; i++) {
    t.same(await Promise.all([leaderValue(leader), leaderValue(standby)]), [1, 0], `sample ${i}: one leader, one standby`);
    await new Promise((r) => setTimeout(r, 200));
  }

  const batch = (from: number, n: number): ServiceSpec[] =>
    Array.from({ length: n }, (_, i) => ({ name: `burst-${from + i}`, namespace: ns }));
  const names = Array.from({ length: 200 }, (_, i) => `burst-${i}`);

  // First half of the burst, four batches at once; kill the leader as soon as it is busy assigning them.
  const firstHalf = Promise.all([batch(0, 25), batch(25, 25), batch(50, 25), batch(75, 25)].map(createServices));
  await eventually('the leader to have assigned some of the burst', 60_000, async () => {
    const ips = await allIps(ns);
    return [...ips.values()].filter((v) => v.length > 0).length >= 10 ? true : undefined;
  });
  await leader.kill('SIGKILL');
  const killedAt = Date.now();
  const atKill = await allIps(ns);
  const assignedAtKill = [...atKill.values()].filter((v) => v.length > 0).length;
  t.comment(`leader killed with ${assignedAtKill} of ${atKill.size} Services created so far assigned`);
  t.ok(assignedAtKill < 200, 'the kill interrupted the burst');

  // Second half while nobody leads.
  const secondHalf = Promise.all([batch(100, 25), batch(125, 25), batch(150, 25), batch(175, 25)].map(createServices));
  await Promise.all([firstHalf, secondHalf]);

  const final = await eventually('every Service of the burst to have an address', 90_000, async () => {
    const ips = await allIps(ns);
    return names.every((n) => (ips.get(n)?.length ?? 0) > 0) ? ips : undefined;
  });
  t.comment(`all 200 assigned ${Date.now() - killedAt} ms after the kill`);
  t.equal(await leaderValue(standby), 1, 'the survivor is the leader');
  t.ok(standby.logLines().some((l) => l['msg'] === 'became leader'), 'the survivor logged "became leader"');

  // Let the survivor finish a pass over everything, then check nothing changes any more.
  await eventually('the survivor to have reconciled every Service', 60_000, async () => {
    const n = await standby.metric('barelb_reconcile_duration_seconds_count');
    return n !== undefined && n >= 200 ? true : undefined;
  });
  await new Promise((r) => setTimeout(r, 1_000));
  const settled = await allIps(ns);
  t.equal(settled.size, 200, '200 Services');
  const wrongCount = [...settled].filter(([, ips]) => ips.length !== 1).map(([n, ips]) => `${n}: ${ips.join(',')}`);
  t.same(wrongCount, [], 'every Service has exactly one address');
  const outside = [...settled].filter(([, ips]) => !ips.every(inPool)).map(([n, ips]) => `${n}: ${ips.join(',')}`);
  t.same(outside, [], `every address is inside ${FIRST}-${LAST}`);
  const owners = new Map<string, string[]>();
  for (const [n, ips] of settled) for (const ip of ips) owners.set(ip, [...(owners.get(ip) ?? []), n]);
  const shared = [...owners].filter(([, o]) => o.length > 1).map(([ip, o]) => `${ip}: ${o.join(', ')}`);
  t.same(shared, [], 'no address is held by two Services');
  const lostByKill = [...atKill].filter(([n, ips]) => ips.length > 0 && (settled.get(n) ?? []).join() !== ips.join()).map(([n]) => n);
  t.same(lostByKill, [], `the ${assignedAtKill} addresses the killed leader had written were kept by the survivor`);
  const moved = names.filter((n) => (final.get(n) ?? []).join() !== (settled.get(n) ?? []).join());
  t.same(moved, [], 'no address moved after every Service had one');
  t.equal(await standby.metric('barelb_services_pending'), 0, 'nothing pending on the survivor');
  t.equal(await standby.metric(`barelb_pool_addresses_in_use{pool="${POOL}"}`), 200, 'the survivor counts 200 addresses in use');
});

t.test('SIGTERM of the leader hands the Lease over well before it would expire', async (t) => {
  const { ns, args } = await setup(t, 'fo-term');
  const replicas = await Promise.all([startController(t, args('fo-term-a')), startController(t, args('fo-term-b'))]);
  const { leader, standby } = await findLeader(replicas);
  await createServices([{ name: 'before', namespace: ns }]);
  const before = await eventually('the first Service to get an address', 30_000, async () => {
    const ips = (await allIps(ns)).get('before') ?? [];
    return ips.length > 0 ? ips : undefined;
  });
  // Let the standby watch the Lease being renewed for a while, so only a release (not expiry) can free it quickly.
  await new Promise((r) => setTimeout(r, 1_500));
  t.equal(await leaderValue(standby), 0, 'the standby is not leading');

  const stoppedAt = Date.now();
  await leader.kill('SIGTERM');
  const exitedAfter = Date.now() - stoppedAt;
  t.equal(leader.child.exitCode, 0, 'the old leader exits 0');
  t.ok(leader.logLines().some((l) => l['msg'] === 'released leadership'), 'the old leader logged that it released the Lease');
  await eventually('the standby to lead', 2 * LEASE_DURATION_MS, async () => ((await leaderValue(standby)) === 1 ? true : undefined));
  const handover = Date.now() - stoppedAt;
  t.comment(`old leader exited after ${exitedAfter} ms; standby leading ${handover} ms after SIGTERM`);
  t.ok(handover < LEASE_DURATION_MS, `handover took ${handover} ms, less than the ${LEASE_DURATION_MS} ms lease duration`);
  t.ok(standby.logLines().some((l) => l['msg'] === 'became leader'), 'the standby logged "became leader"');

  // The new leader does the work, and keeps what the old one assigned.
  await createServices([{ name: 'after', namespace: ns }]);
  const after = await eventually('a Service created after the handover to get an address', 30_000, async () => {
    const ips = await allIps(ns);
    return (ips.get('after')?.length ?? 0) > 0 ? ips : undefined;
  });
  t.same(after.get('before'), before, 'the first Service kept its address');
  t.equal(after.get('after')?.length, 1, 'the new Service has one address');
  t.ok(inPool(after.get('after')?.[0] ?? ''), 'inside the pool');
  t.not(after.get('after')?.[0], before[0], 'a different address from the first Service');
  t.ok(
    standby.logLines().some((l) => l['msg'] === 'assigned' && l['service'] === `${ns}/after`),
    'the new leader assigned it',
  );
});

t.test('a leader that loses its Lease and wins it back does not repeat its Warnings', async (t) => {
  const { cfg, ns, lease, args } = await setup(t, 'fo-voice');
  const ctl = await startController(t, args('fo-voice-a'));
  await findLeader([ctl]);
  const wanted = '203.0.113.7';
  const waiters = ['waiter-0', 'waiter-1', 'waiter-2'];
  const ask = { 'barelb.io/loadBalancerIPs': wanted };
  await createServices([{ name: 'holder', namespace: ns, annotations: ask }]);
  await eventually('holder to get the address', 30_000, async () => ((await allIps(ns)).get('holder')?.[0] === wanted ? true : undefined));
  await createServices(waiters.map((name) => ({ name, namespace: ns, annotations: ask })));
  const refused = async (name: string): Promise<number> =>
    (await eventsFor(ns, 'Service', name)).filter((e) => e.type === 'Warning' && e.message.includes(`already used by ${ns}/holder`)).length;
  await eventually('a Warning on every waiter', 30_000, async () => ((await Promise.all(waiters.map(refused))).every((n) => n === 1) ? true : undefined));

  // Another holder renews the Lease behind the leader's back: its next renewal conflicts and its term ends.
  const reconciledBefore = (await ctl.metric('barelb_reconcile_duration_seconds_count')) ?? 0;
  const renewTime = new Date().toISOString().replace(/Z$/, '000Z');
  await kubectl(['patch', 'lease', lease, '-n', cfg, '--type', 'merge', '-p', JSON.stringify({ spec: { holderIdentity: 'intruder', renewTime, leaseDurationSeconds: 4 } })]);
  await eventually('the leader to notice the Lease taken', 10_000, async () => (ctl.logLines().some((l) => l['msg'] === 'lost leadership; standing by') ? true : undefined));
  await eventually('a second term once the intruder lapses', 30_000, async () =>
    ctl.logLines().filter((l) => l['msg'] === 'controller synced; assigning').length === 2 ? true : undefined);
  await eventually('the second term to have re-decided every Service', 30_000, async () => {
    const n = await ctl.metric('barelb_reconcile_duration_seconds_count');
    return n !== undefined && n >= reconciledBefore + waiters.length + 1 ? true : undefined;
  });
  await new Promise((r) => setTimeout(r, 1_000));

  t.same(await Promise.all(waiters.map(refused)), waiters.map(() => 1), 'one Warning Event per waiter after the second term, as before it');
  t.same((await allIps(ns)).get('holder'), [wanted], 'holder kept its address');
  t.same(await Promise.all(waiters.map(async (w) => (await allIps(ns)).get(w))), waiters.map(() => []), 'no waiter got it');
});
