/**
 * A restarted controller re-learns every assignment from the cluster: no
 * Service's address moves, no address is handed out twice, and Services created
 * while no controller ran get addresses once one is back. Killed hard
 * (SIGKILL) and stopped cleanly (SIGTERM).
 *
 * Pool: 198.51.100.0-198.51.100.223 (this file only).
 */
import t, { type Test } from 'tap';
import type { V1Service } from '@kubernetes/client-node';
import {
  apply,
  configMapYaml,
  createServices,
  eventually,
  ingressIps,
  kubectl,
  namespaces,
  startController,
  uniqueName,
  type RunningController,
  type ServiceSpec,
} from '../harness.js';

const POOL = 'restart-pool';
const FIRST = '198.51.100.0';
const LAST = '198.51.100.223';
const BULK = 200;

function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) return NaN;
  return ((p[0] as number) * 2 ** 24) + ((p[1] as number) << 16) + ((p[2] as number) << 8) + (p[3] as number);
}
const inPool = (ip: string): boolean => ipToInt(ip) >= ipToInt(FIRST) && ipToInt(ip) <= ipToInt(LAST);

interface Held {
  ips: string[];
  pool: string | undefined;
}

async function holdings(namespace: string): Promise<Map<string, Held>> {
  const list = JSON.parse(await kubectl(['get', 'services', '-n', namespace, '-o', 'json'])) as { items: V1Service[] };
  return new Map(
    list.items.map((s) => [s.metadata?.name ?? '', { ips: ingressIps(s), pool: s.metadata?.annotations?.['barelb.io/allocated-from-pool'] }]),
  );
}

/** Waits until every named Service in the namespace shows an address; returns all holdings. */
async function untilAssigned(namespace: string, names: readonly string[], ms: number): Promise<Map<string, Held>> {
  let missing = names.length;
  return eventually(`all of ${names.length} Services to get an address (${missing} still without)`, ms, async () => {
    const h = await holdings(namespace);
    missing = names.filter((n) => (h.get(n)?.ips.length ?? 0) === 0).length;
    return missing === 0 ? h : undefined;
  });
}

/** Waits until the controller has reconciled at least every Service in the cluster once since it started. */
async function untilEveryServiceReconciled(c: RunningController): Promise<void> {
  const total = (await kubectl(['get', 'services', '--all-namespaces', '--no-headers'])).trim().split('\n').length;
  await eventually(`${total} reconciles`, 60_000, async () => {
    const n = await c.metric('barelb_reconcile_duration_seconds_count');
    return n !== undefined && n >= total ? true : undefined;
  });
}

function specs(namespace: string, prefix: string, n: number): ServiceSpec[] {
  return Array.from({ length: n }, (_, i) => ({ name: `${prefix}-${i}`, namespace }));
}

/** Asserts the invariants over everything in the namespace: one address each, all distinct, all in the pool. */
function checkAll(t: Test, h: Map<string, Held>, expected: number): void {
  t.equal(h.size, expected, `${expected} Services`);
  const owner = new Map<string, string>();
  const dupes: string[] = [];
  const bad: string[] = [];
  for (const [name, { ips, pool }] of h) {
    if (ips.length !== 1 || !inPool(ips[0] as string) || pool !== POOL) bad.push(`${name}: ${ips.join(',')} (${pool})`);
    for (const ip of ips) {
      const other = owner.get(ip);
      if (other) dupes.push(`${ip}: ${other} and ${name}`);
      owner.set(ip, name);
    }
  }
  t.same(bad, [], 'every Service has exactly one address, inside the pool, annotated with the pool');
  t.same(dupes, [], 'no address is held by two Services');
}



function changed(before: Map<string, Held>, after: Map<string, Held>): string[] {
  const out: string[] = [];
  for (const [name, was] of before) {
    const now = after.get(name);
    if (!now || now.ips.join(',') !== was.ips.join(',') || now.pool !== was.pool) {
      out.push(`${name}: ${was.ips.join(',')} -> ${now?.ips.join(',') ?? 'gone'}`);
    }
  }
  return out;
}

t.test('restarts keep every assignment and fill in Services created while down', async (t) => {
  const cfg = uniqueName('restart-cfg');
  const ns = uniqueName('restart-svc');
  await namespaces(t, cfg, ns);
  await apply(configMapYaml(cfg, `pools:\n- name: ${POOL}\n  addresses: ["${FIRST}-${LAST}"]`));
  const lease = uniqueName('restart-lease');
  const args = (identity: string): string[] => [
    '--namespace', cfg, '--lease-name', lease, '--identity', identity,
    '--lease-duration', '4s', '--renew-deadline', '3s', '--retry-period', '500ms',
  ];

  // 1. A first controller assigns 200 Services.
  const first = await startController(t, args('restart-a'));
  const bulk = specs(ns, 'bulk', BULK);
  const t0 = Date.now();
  await createServices(bulk);
  const before = await untilAssigned(ns, bulk.map((s) => s.name), 90_000);
  t.comment(`200 Services assigned in ${Date.now() - t0} ms`);
  checkAll(t, before, BULK);
  await untilEveryServiceReconciled(first);

  // 2. SIGKILL: no chance to clean up or give the Lease back.
  await first.kill('SIGKILL');
  t.equal(first.child.signalCode, 'SIGKILL', 'first controller was killed');
  const whileDown = specs(ns, 'down', 5);
  await createServices(whileDown);
  await new Promise((r) => setTimeout(r, 1_000));
  const down = await holdings(ns);
  t.same(
    whileDown.map((s) => down.get(s.name)?.ips ?? ['missing']),
    whileDown.map(() => []),
    'nothing assigns while no controller runs',
  );

  // 3. The same replica comes back (same identity: it may take its own Lease at once).
  const second = await startController(t, args('restart-a'));
  const afterKill = await untilAssigned(ns, [...bulk, ...whileDown].map((s) => s.name), 60_000);
  await untilEveryServiceReconciled(second);
  const settled = await holdings(ns);
  t.same(changed(before, settled), [], 'none of the 200 addresses changed after SIGKILL and restart');
  t.same(changed(afterKill, settled), [], 'nothing moved after the new Services were assigned either');
  checkAll(t, settled, BULK + whileDown.length);
  const relearned = second.logLines().find((l) => l['msg'] === 're-learned existing assignments');
  t.ok(relearned, 'the new controller logs what it re-learned');
  t.ok((relearned?.['learned'] as number) >= BULK, `re-learned at least ${BULK} (got ${String(relearned?.['learned'])})`);
  t.equal(relearned?.['conflicts'], 0, 'no conflicts re-learned');
  const reassigned = second
    .logLines()
    .filter((l) => l['msg'] === 'assigned')
    .map((l) => String(l['service']))
    .filter((k) => k.startsWith(`${ns}/`));
  t.same(reassigned.sort(), whileDown.map((s) => `${ns}/${s.name}`).sort(), 'the new controller assigned only the Services created while down');
  t.equal(await second.metric('barelb_services_pending'), 0, 'nothing pending');
  t.equal(await second.metric(`barelb_pool_addresses_in_use{pool="${POOL}"}`), BULK + whileDown.length, 'pool usage counts every Service');

  // 4. Graceful stop: exits 0 and gives the Lease back, so another replica takes over at once.
  const stopAt = Date.now();
  await second.kill('SIGTERM');
  t.equal(second.child.exitCode, 0, 'SIGTERM: exit code 0');
  t.ok(Date.now() - stopAt < 10_000, 'SIGTERM: stops promptly');
  t.ok(second.logLines().some((l) => l['msg'] === 'released leadership'), 'SIGTERM: released the Lease');
  const afterTerm = specs(ns, 'term', 3);
  await createServices(afterTerm);

  const third = await startController(t, args('restart-b'));
  const tookOver = Date.now();
  await untilAssigned(ns, [...bulk, ...whileDown, ...afterTerm].map((s) => s.name), 60_000);
  t.comment(`a different replica assigned the new Services ${Date.now() - tookOver} ms after it started`);
  await untilEveryServiceReconciled(third);
  const final = await holdings(ns);
  t.same(changed(settled, final), [], 'none of the 205 addresses changed after SIGTERM and restart');
  checkAll(t, final, BULK + whileDown.length + afterTerm.length);
  t.ok(third.logLines().some((l) => l['msg'] === 'became leader'), 'the other replica became leader');
  const termAssigned = third
    .logLines()
    .filter((l) => l['msg'] === 'assigned')
    .map((l) => String(l['service']))
    .filter((k) => k.startsWith(`${ns}/`));
  t.same(termAssigned.sort(), afterTerm.map((s) => `${ns}/${s.name}`).sort(), 'the third controller assigned only the Services created while stopped');
  await third.kill('SIGTERM');
  t.equal(third.child.exitCode, 0);
});
