import t, { type Test } from 'tap';
import type { V1Service } from '@kubernetes/client-node';
import {
  apply, configMapYaml, eventsFor, eventually, getService, ingressIps, kubectl, namespaces, startController, uniqueName,
  type KubeEvent, type RunningController,
} from '../harness.js';

// Hostile Service specs against the real control plane: each gets a clear Warning
// Event naming the field and the value, and nothing else breaks.
//
// BARELB_HOSTILE_SAME_IP (default 1000): how many Services ask for one address.
// BARELB_HOSTILE_PORTS (default: every free NodePort): ports on the one big Service.
// A v1.20 LoadBalancer Service needs a NodePort per port and one protocol only
// (MixedProtocolLBService is off), so the API accepts at most as many ports as
// there are free NodePorts (2,768 in the default 30000-32767 range), and the
// many Services of the last test need one NodePort each: the big one is deleted first.
const SAME_IP = Number(process.env['BARELB_HOSTILE_SAME_IP'] ?? 1000);
const NODE_PORTS = 32767 - 30000 + 1;

const cfgNs = uniqueName('hostile-cfg');
const ns = uniqueName('hostile');
const crowd = uniqueName('hostile-crowd');
const CONFIG = `pools:
  - name: lan
    addresses: [198.51.100.0/25]
  - name: spare
    addresses: [203.0.113.0/28]
    autoAssign: false`;
const WANTED = '198.51.100.100';

let ctl: RunningController;

interface Spec {
  name: string;
  namespace?: string;
  annotations?: Record<string, string>;
  loadBalancerIP?: string;
  ports?: number;
}

function service(s: Spec): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: s.name, namespace: s.namespace ?? ns, annotations: s.annotations ?? {} },
    spec: {
      type: 'LoadBalancer',
      ports: Array.from({ length: s.ports ?? 1 }, (_, i) => ({ name: `p${i}`, port: 1000 + i, protocol: 'TCP' })),
      ...(s.loadBalancerIP === undefined ? {} : { loadBalancerIP: s.loadBalancerIP }),
    },
  };
}

async function create(specs: Spec[]): Promise<void> {
  // Batches keep each request well under the API server's request size limit.
  for (let i = 0; i < specs.length; i += 200) {
    await kubectl(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: specs.slice(i, i + 200).map(service) }));
  }
}

async function ipOf(namespace: string, name: string, ms = 15_000): Promise<string[]> {
  return eventually(`${namespace}/${name} to get an address`, ms, async () => {
    const ips = ingressIps(await getService(namespace, name));
    return ips.length > 0 ? ips : undefined;
  });
}

async function warning(name: string, reason: string, fragments: string[]): Promise<KubeEvent> {
  return eventually(`a ${reason} Warning on ${ns}/${name} mentioning ${fragments.map((f) => JSON.stringify(f.slice(0, 60))).join(', ')}`, 20_000, async () =>
    (await eventsFor(ns, 'Service', name)).find((e) => e.type === 'Warning' && e.reason === reason && fragments.every((f) => e.message.includes(f))),
  );
}

interface EventItem extends KubeEvent {
  involvedObject: { name: string };
}

async function namespaceEvents(namespace: string): Promise<EventItem[]> {
  return (JSON.parse(await kubectl(['get', 'events', '-n', namespace, '-o', 'json'])) as { items: EventItem[] }).items;
}

/** The controller is alive, serving, and has logged no crash or failed reconcile. */
async function healthy(tt: Test): Promise<void> {
  tt.equal(ctl.child.exitCode, null, 'controller still running');
  const base = ctl.metricsUrl.replace(/\/metrics$/, '');
  tt.ok((await fetch(`${base}/healthz`)).ok, '/healthz answers');
  const metrics = await (await fetch(ctl.metricsUrl)).text();
  tt.match(metrics, /^barelb_services_pending \d+/m, '/metrics answers');
  const bad = ctl.logLines().filter((l) => ['reconcile failed', 'event queue full; dropping an event'].includes(String(l['msg'])) || Number(l['level']) >= 60);
  tt.same(bad.map((l) => l['msg']), [], 'no failed reconcile, dropped event or fatal in the log');
}

t.before(async () => {
  await namespaces(t, cfgNs, ns, crowd);
  await apply(configMapYaml(cfgNs, CONFIG));
  ctl = await startController(t, ['--namespace', cfgNs, '--lease-name', uniqueName('lease')]);
});

t.test('a Service with as many ports as the API accepts gets an address', async (t) => {
  const all = JSON.parse(await kubectl(['get', 'services', '-A', '-o', 'json'])) as { items: V1Service[] };
  const used = all.items.flatMap((s) => s.spec?.ports ?? []).filter((p) => p.nodePort).length;
  const ports = Number(process.env['BARELB_HOSTILE_PORTS'] ?? NODE_PORTS - used);
  t.ok(ports > 1000, `${ports} ports (${used} NodePorts already in use)`);
  const started = Date.now();
  await create([{ name: 'many-ports', ports }]);
  t.same(await ipOf(ns, 'many-ports', 30_000), ['198.51.100.0'], `assigned in ${Date.now() - started} ms (create included)`);
  const tooMany = await kubectl(['create', '-f', '-'], JSON.stringify(service({ name: 'one-port-too-many', ports: 1 }))).then(
    () => 'created',
    (err: unknown) => String(err),
  );
  if (process.env['BARELB_HOSTILE_PORTS'] === undefined) t.match(tooMany, /range is full/, 'the API refuses one more NodePort: that was the most');
  await kubectl(['delete', 'service', '-n', ns, 'many-ports', 'one-port-too-many', '--ignore-not-found', '--wait=true']);
  await healthy(t);
});

t.test('invalid requested addresses get an InvalidRequest Warning naming the field and the value', async (t) => {
  const values: [what: string, value: string, bad: string | RegExp][] = [
    ['garbage text', 'give me an IP', '"give me an IP" is not an IP address'],
    ['IPv6 garbage', '2001:db8::zz', '"2001:db8::zz" is not an IP address'],
    ['too many colons', '2001:db8:::1', '"2001:db8:::1" is not an IP address'],
    ['an octet over 255', '999.1.1.1', '"999.1.1.1" is not an IP address'],
    ['an IPv6 zone', 'fe80::1%eth0', '"fe80::1%eth0" is not an IP address'],
    ['leading zeros', '198.051.100.010', '"198.051.100.010" is not an IP address'],
    ['a CIDR', '198.51.100.10/32', '"198.51.100.10/32" is not an IP address'],
    ['a whitespace list', '198.51.100.10 198.51.100.11', '"198.51.100.10 198.51.100.11" is not an IP address'],
    ['a comma list of one family', '198.51.100.10,198.51.100.11', 'at most one address per IP family'],
    ['three addresses', '198.51.100.10, 2001:db8::1, 198.51.100.11', 'at most one IPv4 and one IPv6 address'],
    ['non-ASCII digits', '١٩٨.51.100.1', 'is not an IP address'],
    ['control characters', '198.51.100.1\u0007\u001b[31m', 'is not an IP address'],
  ];
  const specs: Spec[] = [];
  values.forEach(([, value], i) => {
    specs.push({ name: `annot-${i}`, annotations: { 'barelb.io/loadBalancerIPs': value } });
    specs.push({ name: `spec-${i}`, loadBalancerIP: value });
  });
  await create(specs);
  for (const [i, [what, value, bad]] of values.entries()) {
    for (const [name, field] of [[`annot-${i}`, 'annotation barelb.io/loadBalancerIPs'], [`spec-${i}`, 'spec.loadBalancerIP']] as const) {
      const e = await warning(name, 'InvalidRequest', [field, JSON.stringify(value)]);
      t.match(e.message, bad, `${what} in ${field}: says why`);
      t.match(e.message, /no address assigned$/, `${what} in ${field}: says what happened`);
    }
  }
  const now = await Promise.all(specs.map(async (s) => ingressIps(await getService(ns, s.name))));
  t.same(now.flat(), [], 'none got an address');
  await healthy(t);
});

t.test('garbage in the pool and sharing annotations gets a clear Warning', async (t) => {
  const huge = 'k'.repeat(200_000);
  const rows: [name: string, annotations: Record<string, string>, reason: string, fragments: string[]][] = [
    ['pool-unknown', { 'barelb.io/address-pool': 'nonesuch' }, 'AllocationFailed', ['pool "nonesuch" does not exist', 'configured pools: lan, spare']],
    ['pool-spaces', { 'barelb.io/address-pool': 'my pool' }, 'InvalidRequest', ['annotation barelb.io/address-pool "my pool"', 'is not a pool name']],
    ['pool-path', { 'barelb.io/address-pool': '../lan' }, 'InvalidRequest', ['annotation barelb.io/address-pool "../lan"', 'is not a pool name']],
    ['pool-upper', { 'barelb.io/address-pool': 'LAN' }, 'InvalidRequest', ['"LAN"', 'is not a pool name']],
    ['pool-empty', { 'barelb.io/address-pool': '' }, 'InvalidRequest', ['annotation barelb.io/address-pool ""', 'is not a pool name']],
    ['pool-nul', { 'barelb.io/address-pool': 'lan\u0000' }, 'InvalidRequest', ['"lan\\u0000"', 'is not a pool name']],
    ['pool-long', { 'barelb.io/address-pool': 'p'.repeat(64) }, 'InvalidRequest', ['is not a pool name']],
    ['share-huge', { 'barelb.io/allow-shared-ip': huge }, 'InvalidRequest', ['annotation barelb.io/allow-shared-ip', 'must be letters, digits']],
    ['share-binary', { 'barelb.io/allow-shared-ip': '\u0000\u0001\u00ff\ufffd\u{1f4a3}' }, 'InvalidRequest', ['annotation barelb.io/allow-shared-ip "\\u0000\\u0001', 'must be letters, digits']],
    ['share-spaces', { 'barelb.io/allow-shared-ip': 'a key' }, 'InvalidRequest', ['"a key"', 'must be letters, digits']],
    ['ips-huge', { 'barelb.io/loadBalancerIPs': `${'1.'.repeat(100_000)}1` }, 'InvalidRequest', ['annotation barelb.io/loadBalancerIPs', 'is not an IP address']],
  ];
  await create(rows.map(([name, annotations]) => ({ name, annotations })));
  for (const [name, , reason, fragments] of rows) {
    const e = await warning(name, reason, fragments);
    t.ok(e.message.length <= 1024, `${name}: the message fits an Event (${e.message.length} chars)`);
    t.match(e.message, /(no address assigned|does not exist.*)$/, `${name}: the message is whole, the reason at its end is not cut off`);
  }
  const now = await Promise.all(rows.map(async ([name]) => ingressIps(await getService(ns, name))));
  t.same(now.flat(), [], 'none got an address');
  await healthy(t);
});

t.test(`${SAME_IP} Services asking for one address: one gets it, every other is told who holds it`, async (t) => {
  const names = Array.from({ length: SAME_IP }, (_, i) => `same-${i}`);
  const started = Date.now();
  await create(names.map((name) => ({ name, namespace: crowd, annotations: { 'barelb.io/loadBalancerIPs': WANTED } })));
  t.comment(`created ${SAME_IP} Services in ${Date.now() - started} ms`);

  const holder = await eventually('exactly one holder and a Warning on every other Service', 180_000, async () => {
    const list = JSON.parse(await kubectl(['get', 'services', '-n', crowd, '-o', 'json'])) as { items: V1Service[] };
    const holders = list.items.filter((s) => ingressIps(s).length > 0);
    if (holders.length > 1) throw new Error(`${holders.length} Services hold addresses`);
    const h = holders[0]?.metadata?.name;
    if (!h) return undefined;
    const warned = new Set(
      (await namespaceEvents(crowd))
        .filter((e) => e.type === 'Warning' && e.reason === 'AllocationFailed' && e.message.includes(`requested address ${WANTED} is already used by ${crowd}/${h}`))
        .map((e) => e.involvedObject.name),
    );
    return warned.size === SAME_IP - 1 && !warned.has(h) ? h : undefined;
  }, 1000);
  t.comment(`all decided ${Date.now() - started} ms after the first create`);
  t.same(ingressIps(await getService(crowd, holder)), [WANTED], `${holder} holds ${WANTED}`);

  const events = await namespaceEvents(crowd);
  const warnings = events.filter((e) => e.type === 'Warning');
  t.equal(warnings.length, SAME_IP - 1, 'one Warning Event per refused Service, no duplicates');
  if (warnings.length !== SAME_IP - 1) {
    const byName = new Map<string, string[]>();
    for (const e of warnings) byName.set(e.involvedObject.name, [...(byName.get(e.involvedObject.name) ?? []), `${e.reason}: ${e.message}`]);
    const twice = [...byName].filter(([, m]) => m.length > 1);
    t.comment(`${twice.length} Services with more than one Warning, e.g. ${JSON.stringify(twice.slice(0, 3))}`);
    t.comment(`controller election log: ${JSON.stringify(ctl.logLines().filter((l) => String(l['msg']).includes('leader')).map((l) => l['msg']))}`);
  }
  t.ok(warnings.every((e) => (e.count ?? 1) <= 3), 'and no Warning repeated in a loop');

  // A normal Service still gets an address promptly.
  const normalStart = Date.now();
  await create([{ name: 'normal', namespace: crowd }]);
  const [normalIp] = await ipOf(crowd, 'normal', 10_000);
  t.ok(normalIp && normalIp !== WANTED, `a normal Service got ${normalIp} in ${Date.now() - normalStart} ms`);
  t.ok(Date.now() - normalStart < 10_000, 'promptly');

  // Freeing an unrelated address retries the waiting Services; they reach the same verdict and must not write an Event each.
  const countsBefore = (await namespaceEvents(crowd)).reduce((n, e) => n + (e.count ?? 1), 0);
  await kubectl(['delete', 'service', '-n', crowd, 'normal', '--wait=true']);
  await new Promise((r) => setTimeout(r, 5000));
  const countsAfter = (await namespaceEvents(crowd)).filter((e) => e.involvedObject.name !== 'normal').reduce((n, e) => n + (e.count ?? 1), 0);
  const normalEvents = (await namespaceEvents(crowd)).filter((e) => e.involvedObject.name === 'normal').reduce((n, e) => n + (e.count ?? 1), 0);
  t.ok(countsAfter - (countsBefore - normalEvents) <= 10, `an unrelated release wrote ${countsAfter - (countsBefore - normalEvents)} Event updates for ${SAME_IP - 1} waiting Services`);

  // The holder leaves: exactly one other Service takes the address, and the rest are told the new holder.
  await kubectl(['delete', 'service', '-n', crowd, holder, '--wait=true']);
  const next = await eventually('a new holder', 60_000, async () => {
    const list = JSON.parse(await kubectl(['get', 'services', '-n', crowd, '-o', 'json'])) as { items: V1Service[] };
    const holders = list.items.filter((s) => ingressIps(s).length > 0);
    if (holders.length > 1) throw new Error(`${holders.length} Services hold addresses`);
    return holders[0]?.metadata?.name;
  });
  t.not(next, holder, `${next} took ${WANTED}`);
  await eventually('every waiting Service told the new holder', 120_000, async () => {
    const told = new Set(
      (await namespaceEvents(crowd))
        .filter((e) => e.type === 'Warning' && e.message.includes(`is already used by ${crowd}/${next}`))
        .map((e) => e.involvedObject.name),
    );
    return told.size === SAME_IP - 2 ? true : undefined;
  }, 1000);
  t.pass(`all ${SAME_IP - 2} waiting Services name ${next}`);
  await healthy(t);
});
