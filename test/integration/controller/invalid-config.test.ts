/**
 * Bad configs are rejected loudly (Warning Event on the ConfigMap naming the
 * problem, an error log line listing it, barelb_config_valid 0) while the last
 * good config stays in force: Services keep their addresses and new ones still
 * get addresses from it. Also: no ConfigMap at all, and a ConfigMap deleted
 * while Services hold addresses from it.
 *
 * Pools: 198.51.100.224/28 and 198.51.100.240/28, 203.0.113.240/28 (this file only).
 */
import t from 'tap';
import {
  addressesOf,
  apply,
  assigned,
  configMapYaml,
  createServices,
  eventsFor,
  eventually,
  kubeconfigPath,
  kubectl,
  namespaces,
  runCli,
  startController,
  uniqueName,
  type KubeEvent,
  type RunningController,
} from '../harness.js';

const CM = 'barelb-config';

function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) return NaN;
  return (p[0] as number) * 2 ** 24 + ((p[1] as number) << 16) + ((p[2] as number) << 8) + (p[3] as number);
}
function inCidr(ip: string, cidr: string): boolean {
  const [base, len] = cidr.split('/');
  const size = 2 ** (32 - Number(len));
  const start = ipToInt(base as string);
  return ipToInt(ip) >= start && ipToInt(ip) < start + size;
}

async function untilMetric(c: RunningController, name: string, want: number): Promise<void> {
  let last: number | undefined;
  await eventually(`${name} to be ${want} (last: ${String(last)})`, 30_000, async () => {
    last = await c.metric(name);
    return last === want ? true : undefined;
  });
}

async function untilEvent(namespace: string, kind: string, name: string, what: string, match: (e: KubeEvent) => boolean): Promise<KubeEvent> {
  return eventually(`${what} on ${kind} ${namespace}/${name}`, 30_000, async () => (await eventsFor(namespace, kind, name)).find(match));
}

interface Case {
  kind: string;
  /** The config.yaml text, or a whole ConfigMap manifest when `manifest` is set. */
  config: string;
  manifest?: boolean;
  path: string;
  pool: string | undefined;
  value: unknown;
  message: RegExp;
}

const GOOD_POOL = 'ic-good';
const GOOD_CIDR = '198.51.100.224/28';
const GOOD = `pools:\n- name: ${GOOD_POOL}\n  addresses: ["${GOOD_CIDR}"]`;

/** Each of these is one problem, in an otherwise sensible config that would move things if it were accepted. */
const CASES = (cfg: string): Case[] => [
  {
    kind: 'bad YAML',
    config: 'pools:\n- name: ic-yaml\n  addresses: [198.51.100.240/28\n',
    path: '',
    pool: undefined,
    value: undefined,
    message: /^not valid YAML: /,
  },
  {
    kind: 'unknown key',
    config: 'pools:\n- name: ic-unknown\n  addresses: ["198.51.100.240/28"]\n  autoassign: false',
    path: 'pools[0].autoassign',
    pool: 'ic-unknown',
    value: false,
    message: /^unknown key; did you mean "autoAssign"\?$/,
  },
  {
    kind: 'bad address',
    config: 'pools:\n- name: ic-badaddr\n  addresses: ["198.51.100.300"]',
    path: 'pools[0].addresses[0]',
    pool: 'ic-badaddr',
    value: '198.51.100.300',
    message: /"198\.51\.100\.300" is not an IP address/,
  },
  {
    kind: 'reversed range',
    config: 'pools:\n- name: ic-reversed\n  addresses: ["198.51.100.250-198.51.100.241"]',
    path: 'pools[0].addresses[0]',
    pool: 'ic-reversed',
    value: '198.51.100.250-198.51.100.241',
    message: /reversed: 198\.51\.100\.250 comes after 198\.51\.100\.241/,
  },
  {
    kind: 'CIDR with host bits',
    config: 'pools:\n- name: ic-hostbits\n  addresses: ["198.51.100.241/28"]',
    path: 'pools[0].addresses[0]',
    pool: 'ic-hostbits',
    value: '198.51.100.241/28',
    message: /host bits are set; did you mean 198\.51\.100\.240\/28\?/,
  },
  {
    kind: 'overlapping pools',
    config: 'pools:\n- name: ic-over-a\n  addresses: ["198.51.100.240/29"]\n- name: ic-over-b\n  addresses: ["198.51.100.244/30"]',
    path: 'pools[1].addresses[0]',
    pool: 'ic-over-b',
    value: '198.51.100.244/30',
    message: /198\.51\.100\.244\/30 overlaps 198\.51\.100\.240\/29 of pool "ic-over-a"/,
  },
  {
    kind: 'duplicate pool names',
    config: 'pools:\n- name: ic-dup\n  addresses: ["198.51.100.240/30"]\n- name: ic-dup\n  addresses: ["198.51.100.248/30"]',
    path: 'pools[1].name',
    pool: 'ic-dup',
    value: 'ic-dup',
    message: /^duplicate pool name, first used by pools\[0\]$/,
  },
  {
    kind: 'missing config.yaml key',
    manifest: true,
    config: `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${CM}, namespace: ${cfg}}\ndata:\n  config.yml: |\n    pools:\n    - name: ic-misnamed\n      addresses: ["198.51.100.240/28"]\n`,
    path: 'data.config.yaml',
    pool: undefined,
    value: undefined,
    message: /^is missing: put the YAML under the key "config\.yaml" \(found: config\.yml\)$/,
  },
  {
    kind: 'non-boolean autoAssign',
    config: 'pools:\n- name: ic-autoassign\n  addresses: ["198.51.100.240/28"]\n  autoAssign: "yes"',
    path: 'pools[0].autoAssign',
    pool: 'ic-autoassign',
    value: 'yes',
    message: /^"yes" must be true or false$/,
  },
];

const REJECTED = 'invalid config rejected; the last good config stays in force';

t.test('every kind of invalid config is rejected and the last good config stays in force', async (t) => {
  const cfg = uniqueName('ic-cfg');
  const ns = uniqueName('ic-svc');
  await namespaces(t, cfg, ns);
  await apply(configMapYaml(cfg, GOOD));
  const c = await startController(t, ['--namespace', cfg, '--lease-name', uniqueName('ic-lease'), '--retry-period', '500ms']);
  await createServices([{ name: 'existing', namespace: ns }]);
  const existing = await assigned(ns, 'existing');
  t.ok(inCidr(existing.ips[0] as string, GOOD_CIDR), `existing Service got ${existing.ips.join()} from ${GOOD_CIDR}`);
  t.equal(existing.pool, GOOD_POOL);
  t.equal(await c.metric('barelb_config_valid'), 1, 'a good config: barelb_config_valid 1');
  t.equal(await c.metric('barelb_config_rejected_total'), 0, 'nothing rejected yet');
  await untilEvent(cfg, 'ConfigMap', CM, 'a ConfigLoaded event', (e) => e.reason === 'ConfigLoaded' && e.type === 'Normal');

  const assignedDuring: string[] = [];
  for (const [i, k] of CASES(cfg).entries()) {
    await t.test(k.kind, async (t) => {
      const rejectedBefore = (await c.metric('barelb_config_rejected_total')) ?? NaN;
      const logsBefore = c.logLines().filter((l) => l['msg'] === REJECTED).length;
      await kubectl(['replace', '-f', '-'], k.manifest ? k.config : configMapYaml(cfg, k.config));

      await untilMetric(c, 'barelb_config_rejected_total', rejectedBefore + 1);
      t.pass(`barelb_config_rejected_total went from ${rejectedBefore} to ${rejectedBefore + 1}`);
      t.equal(await c.metric('barelb_config_valid'), 0, 'barelb_config_valid 0');

      // The log line lists the problem with its path, pool and value.
      const line = await eventually('the rejection log line', 10_000, async () => c.logLines().filter((l) => l['msg'] === REJECTED)[logsBefore]);
      t.equal(line['level'], 50, 'logged at error level');
      t.equal(line['configMap'], `${cfg}/${CM}`, 'names the ConfigMap');
      const problems = line['problems'] as Record<string, unknown>[];
      t.equal(problems.length, 1, `one problem: ${JSON.stringify(problems)}`);
      const p = problems[0] ?? {};
      t.equal(p['path'], k.path, 'problem path');
      t.equal(p['pool'], k.pool, 'problem pool');
      t.same(p['value'], k.value, 'problem value');
      t.match(p['message'], k.message, 'problem message');

      // The Warning Event on the ConfigMap says the same.
      const where = k.pool !== undefined ? `${k.path} (pool "${k.pool}")` : k.path || '<top level>';
      const ev = await untilEvent(cfg, 'ConfigMap', CM, `an InvalidConfig event naming ${where}`, (e) => e.reason === 'InvalidConfig' && e.message.includes(`${where}: `));
      t.equal(ev.type, 'Warning', 'a Warning event');
      t.match(ev.message, /^rejected \(the last good config stays in force\): /);
      t.match(ev.message.slice(ev.message.indexOf(`${where}: `) + where.length + 2), k.message, `event message: ${ev.message}`);
      if (typeof k.value === 'string') t.ok(ev.message.includes(k.value), `event message names the value ${k.value}`);

      // Nothing moves, and the last good config still assigns.
      t.same(await addressesOf(ns, 'existing'), existing, 'the existing Service kept its address');
      const name = `during-${i}`;
      await createServices([{ name, namespace: ns }]);
      const got = await assigned(ns, name);
      t.ok(inCidr(got.ips[0] as string, GOOD_CIDR), `a new Service got ${got.ips.join()} from the last good pool`);
      t.equal(got.pool, GOOD_POOL, 'annotated with the last good pool');
      t.notOk(assignedDuring.includes(got.ips[0] as string) || existing.ips.includes(got.ips[0] as string), 'an address nobody else holds');
      assignedDuring.push(got.ips[0] as string);
      t.equal(await c.metric('barelb_config_valid'), 0, 'still invalid');
    });
  }

  t.equal(await c.metric('barelb_config_rejected_total'), CASES(cfg).length, `${CASES(cfg).length} rejections counted`);

  // A fixed config (with an extra pool) is taken at once.
  const EXTRA = '198.51.100.240/28';
  await kubectl(['replace', '-f', '-'], configMapYaml(cfg, `${GOOD}\n- name: ic-extra\n  addresses: ["${EXTRA}"]`));
  await untilMetric(c, 'barelb_config_valid', 1);
  t.pass('a fixed config: barelb_config_valid 1 again');
  await untilEvent(cfg, 'ConfigMap', CM, 'a ConfigLoaded event for the fixed config', (e) => e.reason === 'ConfigLoaded' && e.message === '2 pool(s): ic-good, ic-extra');
  t.ok(c.logLines().some((l) => l['msg'] === 'config loaded' && JSON.stringify(l['pools']).includes('ic-extra')), 'logged the new pools');
  t.equal(await c.metric('barelb_config_rejected_total'), CASES(cfg).length, 'no more rejections');
  await createServices([{ name: 'extra', namespace: ns, annotations: { 'barelb.io/address-pool': 'ic-extra' } }]);
  const extra = await assigned(ns, 'extra');
  t.ok(inCidr(extra.ips[0] as string, EXTRA), `the new pool is in force: ${extra.ips.join()}`);
  t.equal(extra.pool, 'ic-extra');
  t.same(await addressesOf(ns, 'existing'), existing, 'the existing Service still has its address');
  for (const [i, ip] of assignedDuring.entries()) t.same((await addressesOf(ns, `during-${i}`)).ips, [ip], `during-${i} kept ${ip}`);
});

t.test('a controller restarted on an invalid config runs on the version the last one recorded, and status says which', async (t) => {
  const cfg = uniqueName('ic-rec-cfg');
  const ns = uniqueName('ic-rec-svc');
  await namespaces(t, cfg, ns);
  await apply(configMapYaml(cfg, 'pools:\n- name: ic-rec\n  addresses: ["203.0.113.232/29"]'));
  const first = await startController(t, ['--namespace', cfg, '--no-leader-elect']);
  await createServices([{ name: 'held', namespace: ns }]);
  const held = await assigned(ns, 'held');
  const recordedVersion = await eventually('the config in force to be recorded', 10_000, async () =>
    (await kubectl(['get', 'configmap', '-n', cfg, 'barelb-config-in-force', '-o', 'jsonpath={.metadata.annotations.barelb\\.io/config-source-version}']).catch(() => '')) || undefined,
  );
  t.equal(recordedVersion, await kubectl(['get', 'configmap', '-n', cfg, CM, '-o', 'jsonpath={.metadata.resourceVersion}']), 'the record names the version it came from');
  await first.kill('SIGTERM');

  await apply(configMapYaml(cfg, 'pools:\n- name: ic-rec\n  addresses: ["203.0.113.232/29"]\n  autoassign: true'));
  const c = await startController(t, ['--namespace', cfg, '--no-leader-elect']);
  const ev = await untilEvent(cfg, 'ConfigMap', CM, 'an InvalidConfig event', (e) => e.reason === 'InvalidConfig' && e.message.includes('recorded in'));
  t.match(ev.message, new RegExp(`the last good config stays in force \\(recorded in ${cfg}/barelb-config-in-force: version ${recordedVersion} of ${cfg}/${CM}`), ev.message);
  t.ok(c.logLines().some((l) => l['msg'] === 'config loaded from the last recorded good version'), 'the fallback is logged');
  await createServices([{ name: 'new', namespace: ns }]);
  const fresh = await assigned(ns, 'new');
  t.ok(inCidr(fresh.ips[0] as string, '203.0.113.232/29'), `a new Service is served from the recorded pool (${fresh.ips.join()})`);
  t.same(await addressesOf(ns, 'held'), held, 'the held address never moved');

  const status = await runCli(['status', '--kubeconfig', kubeconfigPath(), '--namespace', cfg, '-o', 'json']);
  const json = JSON.parse(status.stdout) as { config: { state: string; inForce: { source: string; sourceVersion: string; current: boolean } }; pools: { name: string; used: string }[]; problems: { kind: string; message: string }[] };
  t.match(json.config, { state: 'invalid', inForce: { source: `${cfg}/${CM}`, sourceVersion: recordedVersion, current: false } }, 'status names the version in force, and that the ConfigMap is not it');
  t.match(json.pools, [{ name: 'ic-rec', used: '2' }], 'and shows its pools, in use');
  t.match(json.problems.find((p) => p.kind === 'invalid-config')?.message, /autoassign.*the controller runs on the version it accepted/, 'the problem says what is wrong and what runs instead');
});

t.test('a controller started on an invalid config with no recorded one waits for a good one and changes nothing', async (t) => {
  const cfg = uniqueName('ic-wait-cfg');
  const ns = uniqueName('ic-wait-svc');
  await namespaces(t, cfg, ns);
  const config = 'pools:\n- name: ic-wait\n  addresses: ["203.0.113.224/29"]';
  await apply(configMapYaml(cfg, config));
  const first = await startController(t, ['--namespace', cfg, '--no-leader-elect']);
  await createServices([{ name: 'held', namespace: ns }]);
  const held = await assigned(ns, 'held');
  await first.kill('SIGTERM');
  // As on a cluster whose controller predates the record, or where it was deleted.
  await kubectl(['delete', 'configmap', '-n', cfg, 'barelb-config-in-force', '--ignore-not-found']);

  await apply(configMapYaml(cfg, 'pools:\n- name: ic-wait\n  addresses: ["203.0.113.224/29"]\n  autoassign: true'));
  const c = await startController(t, ['--namespace', cfg, '--no-leader-elect']);
  await eventually('the wait to be logged', 30_000, async () => (c.logLines().some((l) => String(l['msg']).startsWith('waiting for a valid config')) ? true : undefined));
  const ev = await untilEvent(cfg, 'ConfigMap', CM, 'an InvalidConfig event', (e) => e.reason === 'InvalidConfig' && e.message.includes('no good config yet'));
  t.match(ev.message, /pools\[0\]\.autoassign/, `the event names the problem: ${ev.message}`);
  await createServices([{ name: 'new', namespace: ns }]);
  await new Promise((r) => setTimeout(r, 1_500));
  t.same(await addressesOf(ns, 'held'), held, 'the held address and its pool annotation are untouched');
  t.same((await addressesOf(ns, 'new')).ips, [], 'nothing is assigned without a good config');

  await apply(configMapYaml(cfg, config));
  const fresh = await assigned(ns, 'new');
  t.not(fresh.ips[0], held.ips[0], `the new Service gets another address (${fresh.ips.join()})`);
  t.same(await addressesOf(ns, 'held'), held, 'the held address never moved');
});

t.test('no ConfigMap at all: valid but empty, nothing is assigned', async (t) => {
  const cfg = uniqueName('ic-none-cfg');
  const ns = uniqueName('ic-none-svc');
  await namespaces(t, cfg, ns);
  // A ConfigMap under another name in the namespace must not be picked up.
  await apply(configMapYaml(cfg, GOOD));
  const c = await startController(t, ['--namespace', cfg, '--config-map', 'does-not-exist', '--lease-name', uniqueName('ic-lease'), '--retry-period', '500ms']);
  await eventually('the controller to sync', 30_000, async () => (c.logLines().some((l) => l['msg'] === 'controller synced; assigning') ? true : undefined));
  t.ok(c.logLines().some((l) => l['msg'] === 'no ConfigMap: no pools'), 'logs that there is no ConfigMap');
  await createServices([{ name: 'orphan', namespace: ns }]);
  const ev = await untilEvent(ns, 'Service', 'orphan', 'a Warning event', (e) => e.type === 'Warning');
  t.equal(ev.reason, 'AllocationFailed', `AllocationFailed: ${ev.message}`);
  t.match(ev.message, /no pool/i, 'says there is no pool');
  await untilMetric(c, 'barelb_services_pending', 1);
  t.pass('barelb_services_pending 1');
  t.equal(await c.metric('barelb_config_valid'), 1, 'no ConfigMap is a valid (empty) config');
  await new Promise((r) => setTimeout(r, 1_000));
  t.same((await addressesOf(ns, 'orphan')).ips, [], 'the Service has no address');
  t.notOk(c.logLines().some((l) => l['msg'] === 'assigned'), 'nothing was assigned');
});

t.test('deleting the ConfigMap leaves held addresses in place', async (t) => {
  const cfg = uniqueName('ic-del-cfg');
  const ns = uniqueName('ic-del-svc');
  await namespaces(t, cfg, ns);
  const DEL_CIDR = '203.0.113.240/28';
  const config = `pools:\n- name: ic-del\n  addresses: ["${DEL_CIDR}"]`;
  await apply(configMapYaml(cfg, config));
  const c = await startController(t, ['--namespace', cfg, '--lease-name', uniqueName('ic-lease'), '--retry-period', '500ms']);
  await createServices([{ name: 'a', namespace: ns }, { name: 'b', namespace: ns }]);
  const held = new Map<string, string[]>();
  for (const n of ['a', 'b']) {
    const r = await assigned(ns, n);
    t.ok(inCidr(r.ips[0] as string, DEL_CIDR), `${n} got ${r.ips.join()} from ic-del`);
    held.set(n, r.ips);
  }

  await kubectl(['delete', 'configmap', '-n', cfg, CM]);
  for (const n of ['a', 'b']) {
    const ev = await untilEvent(ns, 'Service', n, 'an IPOutsidePools event', (e) => e.reason === 'IPOutsidePools');
    t.equal(ev.type, 'Warning', `${n}: Warning IPOutsidePools`);
    t.ok(ev.message.includes((held.get(n) as string[])[0] as string), `${n}: the event names the address: ${ev.message}`);
  }
  await untilMetric(c, 'barelb_services_outside_pools', 2);
  t.pass('barelb_services_outside_pools 2');
  t.equal(await c.metric('barelb_config_valid'), 1, 'a deleted ConfigMap is not an invalid config');
  t.ok(c.logLines().some((l) => l['msg'] === 'no ConfigMap: no pools'), 'logs that the ConfigMap is gone');
  // A new Service cannot get an address now; the held ones stay.
  await createServices([{ name: 'late', namespace: ns }]);
  const failed = await untilEvent(ns, 'Service', 'late', 'an AllocationFailed event', (e) => e.reason === 'AllocationFailed');
  t.equal(failed.type, 'Warning');
  for (const n of ['a', 'b']) t.same((await addressesOf(ns, n)).ips, held.get(n), `${n} kept its address with no ConfigMap`);
  t.same((await addressesOf(ns, 'late')).ips, [], 'the new Service got nothing');

  // Putting the ConfigMap back: the pool covers them again and the waiting Service gets an address.
  await apply(configMapYaml(cfg, config));
  const late = await assigned(ns, 'late');
  t.ok(inCidr(late.ips[0] as string, DEL_CIDR), `late got ${late.ips.join()}`);
  t.notOk([...held.values()].flat().includes(late.ips[0] as string), 'not an address already held');
  await untilMetric(c, 'barelb_services_outside_pools', 0);
  t.pass('barelb_services_outside_pools back to 0');
  for (const n of ['a', 'b']) {
    const r = await eventually(`${n} to be annotated with its pool again`, 30_000, async () => {
      const x = await addressesOf(ns, n);
      return x.pool === 'ic-del' ? x : undefined;
    });
    t.same(r.ips, held.get(n), `${n} still has its address`);
  }
});

