import t from 'tap';
import { eventually, kubectl, startController } from '../../testkit/lab.js';
import { describeTraffic, startTraffic, totals } from '../../testkit/traffic.js';
import { configMapYaml, createServices, holders, poolConfig, serviceIps, setupChaosLab, settledHolder, sleep, urlsOf } from './chaos-lab.js';

// The pool ConfigMap replaced with each kind of invalid content (the kinds of
// test/integration/controller/invalid-config.test.ts) under continuous traffic.
// Each would move the VIPs if it were taken; each is rejected with a Warning
// Event, and the controller and the speakers keep the last good config.
const NS = 'chaos-config';

interface Case {
  kind: string;
  /** config.yaml text, or the whole ConfigMap when `manifest`. */
  config: string;
  manifest?: boolean;
  /** Part of the Warning Event's message that names this problem. */
  names: string;
}

const CASES: Case[] = [
  { kind: 'bad YAML', config: 'pools:\n- name: lan\n  addresses: [198.51.100.230-198.51.100.250\n', names: 'not valid YAML' },
  { kind: 'unknown key', config: 'pools:\n- name: lan\n  addresses: [198.51.100.230-198.51.100.250]\n  autoassign: true\n', names: 'pools[0].autoassign' },
  { kind: 'bad address', config: 'pools:\n- name: lan\n  addresses: ["198.51.100.300"]\n', names: '198.51.100.300' },
  { kind: 'reversed range', config: 'pools:\n- name: lan\n  addresses: [198.51.100.250-198.51.100.230]\n', names: 'reversed' },
  { kind: 'CIDR with host bits', config: 'pools:\n- name: lan\n  addresses: [198.51.100.233/29]\n', names: 'host bits are set' },
  { kind: 'overlapping pools', config: 'pools:\n- name: lan\n  addresses: [198.51.100.200/29]\n- name: other\n  addresses: [198.51.100.204/30]\n', names: 'overlaps' },
  { kind: 'duplicate pool names', config: 'pools:\n- name: lan\n  addresses: [198.51.100.232/30]\n- name: lan\n  addresses: [198.51.100.240/30]\n', names: 'duplicate pool name' },
  {
    kind: 'missing config.yaml key',
    manifest: true,
    config: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: barelb-config, namespace: barelb-system}\ndata:\n  config.yml: |\n    pools:\n    - name: lan\n      addresses: [198.51.100.230-198.51.100.250]\n',
    names: 'put the YAML under the key "config.yaml"',
  },
  { kind: 'non-boolean autoAssign', config: 'pools:\n- name: lan\n  addresses: [198.51.100.230-198.51.100.250]\n  autoAssign: "yes"\n', names: 'must be true or false' },
];

interface Event {
  type: string;
  reason: string;
  message: string;
  source?: { component?: string };
}

async function configEvents(): Promise<Event[]> {
  const out = await kubectl(['get', 'events', '-n', 'barelb-system', '--field-selector', 'involvedObject.name=barelb-config', '-o', 'json']);
  return (JSON.parse(out) as { items: Event[] }).items;
}

t.test('each kind of invalid pool config, under traffic', async (t) => {
  await setupChaosLab(t, NS);
  startController(t);
  const ips = await createServices(NS, ['cfg-a', 'cfg-b', 'cfg-c']);
  for (const ip of ips) await settledHolder(ip);
  const before = { services: await serviceIps(NS), holders: await holders(ips) };
  const traffic = await startTraffic(t, urlsOf(ips));
  await sleep(1_000);
  t.equal(totals(await traffic.reset()).failures, 0, 'no failures before');

  for (const c of CASES) {
    await t.test(c.kind, async (t) => {
      await kubectl(['replace', '-f', '-'], c.manifest ? c.config : configMapYaml(c.config));
      const ev = await eventually(`a Warning Event naming "${c.names}"`, 30_000, async () =>
        (await configEvents()).find((e) => e.type === 'Warning' && e.reason === 'InvalidConfig' && e.message.includes(c.names)),
      );
      t.pass(`Warning InvalidConfig: ${ev.message}`);
      // Long enough for the speakers to have read it too.
      await sleep(2_000);
      t.same(await serviceIps(NS), before.services, 'no Service changed IP');
      t.same(await holders(ips), before.holders, 'no VIP changed holder');
    });
  }

  await kubectl(['replace', '-f', '-'], configMapYaml(poolConfig()));
  await eventually('the good config to be loaded again', 30_000, async () =>
    (await configEvents()).filter((e) => e.reason === 'ConfigLoaded').length > 0 ? true : undefined,
  );
  await sleep(2_000);
  const w = await traffic.stop();
  t.comment(`through ${CASES.length} invalid configs:\n${describeTraffic(w)}`);
  const tot = totals(w);
  t.equal(tot.failures, 0, `no failed request (${tot.requests} requests, longest gap ${tot.longestGapMs} ms)`);
  t.same(await serviceIps(NS), before.services, 'no Service changed IP in the end');
});
