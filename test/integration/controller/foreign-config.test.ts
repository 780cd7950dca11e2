/**
 * The controller run straight on the pool ConfigMaps users migrate from:
 * `--config-format metallb` on a MetalLB (pre-0.13) ConfigMap, and
 * `--config-format kube-vip` on a kube-vip-cloud-provider `kubevip`
 * ConfigMap, each against the real control plane. An invalid foreign config
 * fails like an invalid barelb config: Event, metric, last good config kept.
 *
 * Pools: 198.51.100.16/29, 203.0.113.16/29 (MetalLB); 198.51.100.128/29,
 * 198.51.100.144/30 (kube-vip); this file only.
 */
import t from 'tap';
import yaml from 'js-yaml';
import {
  apply, assigned, createServices, eventsFor, eventually, getService, ingressIps, kubectl, namespaces, startController, uniqueName, type RunningController,
} from '../harness.js';


function configMap(namespace: string, name: string, data: Record<string, string>): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data });
}


async function untilMetric(c: RunningController, name: string, want: number): Promise<void> {
  let last: number | undefined;
  await eventually(`${name} to be ${want} (last: ${String(last)})`, 30_000, async () => {
    last = await c.metric(name);
    return last === want ? true : undefined;
  });
}

/** The controller's log line about conversion warnings, once it is there. */
async function conversionWarnings(c: RunningController): Promise<string[]> {
  return eventually('a log line with the conversion warnings', 30_000, async () => {
    const line = c.logLines().find((l) => typeof l['msg'] === 'string' && l['msg'].includes('config converted with warnings'));
    return line ? (line['warnings'] as string[]) : undefined;
  });
}

t.test('--config-format metallb assigns from a MetalLB ConfigMap, read where it is (--config-namespace)', async (t) => {
  const cfgNs = uniqueName('fc-metallb');
  const apps = uniqueName('fc-apps');
  const own = uniqueName('fc-barelb');
  await namespaces(t, cfgNs, apps, own);
  const metallb = yaml.dump({
    'address-pools': [
      { name: 'Office_LAN', protocol: 'layer2', addresses: ['198.51.100.16 - 198.51.100.23'] },
      { name: 'public', protocol: 'layer2', 'auto-assign': false, 'avoid-buggy-ips': true, addresses: ['203.0.113.16/29'] },
    ],
  });
  await apply(configMap(cfgNs, 'config', { config: metallb }));
  const lease = uniqueName('lease');
  const ctl = await startController(t, ['--namespace', own, '--config-namespace', cfgNs, '--config-map', 'config', '--config-format', 'metallb', '--lease-name', lease]);

  await createServices([{ name: 'web', namespace: apps }]);
  t.same(await assigned(apps, 'web'), { ips: ['198.51.100.16'], pool: 'office-lan' }, 'the lowest address of the first auto-assign pool');
  await createServices([{ name: 'api', namespace: apps, annotations: { 'barelb.io/address-pool': 'public' } }]);
  t.same(await assigned(apps, 'api'), { ips: ['203.0.113.16'], pool: 'public' }, 'an auto-assign: false pool, asked for by name');
  await untilMetric(ctl, 'barelb_config_valid', 1);
  t.match(await conversionWarnings(ctl), [/address-pools\[0\]\.name: pool "Office_LAN" is named "office-lan"/], 'the rename is logged');
  const converted = await eventually('a ConversionWarnings event on the ConfigMap', 30_000, async () =>
    (await eventsFor(cfgNs, 'ConfigMap', 'config')).find((e) => e.type === 'Warning' && e.reason === 'ConversionWarnings'),
  );
  t.match(converted.message, /^metallb config read with 1 change\(s\) of meaning: address-pools\[0\]\.name: pool "Office_LAN" is named "office-lan"/, 'and put in an Event');
  // barelb's own objects stay in --namespace: nothing of barelb is written into MetalLB's namespace.
  t.match(await kubectl(['get', 'lease', '-n', own, lease, '-o', 'name']), /lease/, `the leader Lease is in ${own}`);
  t.match(await kubectl(['get', 'secret', '-n', own, 'barelb-heartbeat-key', '-o', 'name']), /barelb-heartbeat-key/, `the heartbeat key Secret is in ${own}`);
  t.equal((await kubectl(['get', 'leases,secrets', '-n', cfgNs, '-o', 'name'])).split('\n').filter((l) => /lease|barelb/.test(l)).join(','), '', `no Lease or barelb Secret in ${cfgNs}`);

  // A bgp pool is invalid: rejected like any invalid config, the last good one stays.
  const bgp = yaml.dump({ 'address-pools': [{ name: 'edge', protocol: 'bgp', addresses: ['198.51.100.16/29'] }] });
  await apply(configMap(cfgNs, 'config', { config: bgp }));
  const event = await eventually('an InvalidConfig event on the ConfigMap', 30_000, async () =>
    (await eventsFor(cfgNs, 'ConfigMap', 'config')).find((e) => e.type === 'Warning' && e.reason === 'InvalidConfig'),
  );
  t.match(event.message, /address-pools\[0\]\.protocol \(pool "edge"\): bgp is not supported/);
  await untilMetric(ctl, 'barelb_config_valid', 0);
  await createServices([{ name: 'later', namespace: apps }]);
  t.same(await assigned(apps, 'later'), { ips: ['198.51.100.17'], pool: 'office-lan' }, 'a new Service still gets an address from the last good config');
  t.same(ingressIps(await getService(apps, 'web')), ['198.51.100.16'], 'existing Services keep theirs');
});

t.test('--config-format kube-vip honours a namespace pool', async (t) => {
  const cfgNs = uniqueName('fc-kubevip');
  const team = uniqueName('fc-team');
  const other = uniqueName('fc-other');
  await namespaces(t, cfgNs, team, other);
  await apply(
    configMap(cfgNs, 'kubevip', {
      'cidr-global': '198.51.100.128/29',
      [`cidr-${team}`]: '198.51.100.144/30',
      [`allow-share-${team}`]: 'true',
      'skip-end-ips-in-cidr': 'true',
    }),
  );
  const ctl = await startController(t, ['--namespace', cfgNs, '--config-map', 'kubevip', '--config-format', 'kube-vip', '--lease-name', uniqueName('lease')]);

  await createServices([{ name: 'a', namespace: team }]);
  t.same(await assigned(team, 'a'), { ips: ['198.51.100.145'], pool: `cidr-${team}` }, 'the namespace pool, without the ends of its CIDR');
  await createServices([{ name: 'b', namespace: other }]);
  t.same(await assigned(other, 'b'), { ips: ['198.51.100.129'], pool: 'cidr-global' }, 'another namespace: the global pool');
  await createServices([{ name: 'c', namespace: team }]);
  t.same(await assigned(team, 'c'), { ips: ['198.51.100.146'], pool: `cidr-${team}` }, 'the namespace pool again, while it has room');
  // kube-vip would leave this one pending; barelb moves on to the global pool, as the warning says.
  await createServices([{ name: 'd', namespace: team }]);
  t.same(await assigned(team, 'd'), { ips: ['198.51.100.130'], pool: 'cidr-global' }, 'the namespace pool is full: the global one');

  const warnings = await conversionWarnings(ctl);
  t.ok(warnings.some((w) => w.startsWith(`allow-share-${team}:`) && w.includes('barelb.io/allow-shared-ip')), 'the allow-share warning is logged');
  t.ok(warnings.some((w) => w.startsWith(`cidr-${team}:`) && w.includes('goes on to "cidr-global"')), 'the fall-through warning is logged');
});
