import t from 'tap';
import fc from 'fast-check';
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { ServiceView } from '../../src/k8s/service-view.js';
import { IpAddress } from '../../src/net/ip.js';
import { leaseNameFor } from '../../src/speaker/eligibility.js';
import { statusJson } from '../../src/status/status-json.js';
import { announcerOf, buildStatusReport, DEFAULT_SCOPE, ipOfLeaseName, type StatusReport } from '../../src/status/status-report.js';
import type { EventView, LeaseView, StatusSnapshot } from '../../src/status/status-snapshot.js';
import { view } from '../fixtures.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const LAN = 'pools:\n  - name: lan\n    addresses: [198.51.100.200-198.51.100.250]\n';

function configMap(yaml: string, uid = 'cm-uid'): V1ConfigMap {
  return { metadata: { name: 'barelb-config', namespace: 'barelb-system', uid }, data: { 'config.yaml': yaml } };
}

function lease(ip: string, holder: string | undefined, renewedAgoS: number, extra: Partial<LeaseView> = {}): LeaseView {
  return { name: leaseNameFor(ip), holder, acquireMs: NOW - 60_000, renewMs: NOW - renewedAgoS * 1000, durationSeconds: 4, ...extra };
}

function event(svc: ServiceView, reason: string, message: string, agoS: number, extra: Partial<EventView> = {}): EventView {
  return { kind: 'Service', namespace: svc.namespace, name: svc.name, uid: svc.uid, type: 'Warning', reason, message, lastMs: NOW - agoS * 1000, ...extra };
}

function report(s: Partial<StatusSnapshot>): StatusReport {
  return buildStatusReport({ configMap: configMap(LAN), services: [], leases: [], events: [], nowMs: NOW, ...s });
}

const kinds = (r: StatusReport) => r.problems.map((p) => p.kind);

const served = view('web', { ingressIps: ['198.51.100.200'] });
const pending = view('asks-outside', { annotations: { 'barelb.io/loadBalancerIPs': '192.0.2.9' } });

t.test('a pending Service carries the reason of its latest relevant Warning Event', async (t) => {
  const rows: [string, EventView[], { reason: string | undefined; message: RegExp }][] = [
    ['no event at all', [], { reason: undefined, message: /^no event yet/ }],
    ['one AllocationFailed', [event(pending, 'AllocationFailed', 'not in any pool', 30)], { reason: 'AllocationFailed', message: /not in any pool/ }],
    [
      'the latest of several wins',
      [event(pending, 'AllocationFailed', 'old', 300), event(pending, 'InvalidRequest', 'new', 5)],
      { reason: 'InvalidRequest', message: /^new$/ },
    ],
    [
      'Normal Events, other reasons and an older Service of the same name do not count',
      [
        event(pending, 'AllocationFailed', 'this one', 100),
        event(pending, 'AnnouncingIP', 'normal', 1, { type: 'Normal' }),
        event(pending, 'IPOutsidePools', 'other reason', 1),
        event(pending, 'AllocationFailed', 'previous incarnation', 1, { uid: 'older-uid' }),
        event(view('other'), 'AllocationFailed', 'another Service', 1),
      ],
      { reason: 'AllocationFailed', message: /^this one$/ },
    ],
    ['IPConflict counts', [event(pending, 'IPConflict', 'status shows x', 2)], { reason: 'IPConflict', message: /status shows/ }],
  ];
  for (const [name, events, want] of rows) {
    const r = report({ services: [served, pending], events, leases: [lease('198.51.100.200', 'node1', 1)] });
    t.same(kinds(r), ['pending'], name);
    t.match(r.problems[0], { object: 'default/asks-outside', reason: want.reason, message: want.message }, name);
    t.same(r.services.find((s) => s.name === 'asks-outside')?.addresses, [], `${name}: listed with no address`);
  }
});

t.test('config problems: unparseable, missing, and a rejection the controller has not got past', async (t) => {
  const bad = report({ configMap: configMap('pools:\n  - name: lan\n    addresses: [nope]\n'), services: [view('web', { ingressIps: ['198.51.100.200'], annotations: { 'barelb.io/allocated-from-pool': 'lan' } })], leases: [lease('198.51.100.200', 'node1', 1)] });
  t.equal(bad.config, 'invalid');
  t.same(kinds(bad), ['invalid-config']);
  t.match(bad.problems[0]?.message, /pools\[0\]\.addresses\[0\].*nope|nope.*pools\[0\]/, "the parser's message, naming the field");
  t.same(bad.pools, [], 'no pools: the ones in force are not known');
  t.equal(bad.services[0]?.addresses[0]?.pool, 'lan', "the pool falls back to the controller's annotation");

  const missing = report({ configMap: undefined, services: [served], leases: [lease('198.51.100.200', 'node1', 1)] });
  t.equal(missing.config, 'missing');
  t.same(kinds(missing), ['missing-config'], 'no outside-pools noise when there is no config at all');

  const cmEvent = (reason: string, agoS: number, uid = 'cm-uid'): EventView => ({
    kind: 'ConfigMap', namespace: 'barelb-system', name: 'barelb-config', uid, type: reason === 'InvalidConfig' ? 'Warning' : 'Normal', reason, message: `${reason} message`, lastMs: NOW - agoS * 1000,
  });
  const rows: [string, EventView[], string[]][] = [
    ['latest is InvalidConfig', [cmEvent('ConfigLoaded', 100), cmEvent('InvalidConfig', 10)], ['invalid-config']],
    ['a ConfigLoaded after it', [cmEvent('InvalidConfig', 100), cmEvent('ConfigLoaded', 10)], []],
    ['InvalidConfig about a deleted ConfigMap of the same name', [cmEvent('InvalidConfig', 10, 'old-uid')], []],
  ];
  for (const [name, events, want] of rows) {
    const r = report({ services: [served], leases: [lease('198.51.100.200', 'node1', 1)], events });
    t.same(kinds(r), want, name);
    if (want.length) t.match(r.problems[0], { reason: 'InvalidConfig', message: /InvalidConfig message.*current content parses/ }, name);
  }
});

t.test('--config-format: a MetalLB ConfigMap is read as the controller reads it', async (t) => {
  const metallb: V1ConfigMap = { metadata: { name: 'config', namespace: 'metallb-system', uid: 'm' }, data: { config: 'address-pools:\n- name: Public_IPs\n  protocol: layer2\n  addresses: [198.51.100.192/26]\n' } };
  const snap: StatusSnapshot = { configMap: metallb, services: [served], leases: [lease('198.51.100.200', 'node1', 0)], events: [], nowMs: NOW };
  const scope = { ...DEFAULT_SCOPE, namespace: 'metallb-system', configMap: 'config' };
  const asMetallb = buildStatusReport(snap, { ...scope, configFormat: 'metallb' });
  t.equal(asMetallb.config, 'valid');
  t.match(asMetallb.pools, [{ name: 'public-ips', size: 64n, used: 1n, free: 63n }]);
  t.same(asMetallb.problems, []);
  const asBarelb = buildStatusReport(snap, scope);
  t.match(asBarelb.problems, [{ kind: 'invalid-config', object: 'metallb-system/config', message: /data\.config\.yaml.*is missing/ }], 'read as barelb format, it names the missing key');
});

t.test('announcing: a live Lease names the node; expired, released or absent is not announced', async (t) => {
  const rows: [string, LeaseView[], string | undefined, RegExp | undefined][] = [
    ['live Lease', [lease('198.51.100.200', 'node2', 1)], 'node2', undefined],
    ['renewed exactly at its duration', [lease('198.51.100.200', 'node2', 4)], 'node2', undefined],
    ['expired Lease', [lease('198.51.100.200', 'node2', 10)], undefined, /held by node2 expired \(last renewed 10s ago/],
    ['released Lease', [lease('198.51.100.200', undefined, 0, { renewMs: undefined })], undefined, /was released/],
    ['no Lease', [], undefined, /no node has taken its Lease barelb-ip-198-51-100-200/],
    ['a Lease for another IP', [lease('198.51.100.201', 'node2', 1)], undefined, /no node has taken/],
  ];
  for (const [name, leases, node, why] of rows) {
    const r = report({ services: [served], leases });
    const a = r.services[0]?.addresses[0];
    t.equal(a?.announcer?.node, node, name);
    if (node) t.equal(a?.announcer?.sinceMs, NOW - 60_000, `${name}: since its acquireTime`);
    const p = r.problems.find((x) => x.kind === 'not-announced');
    if (why) t.match(p, { object: 'default/web', ip: '198.51.100.200', message: why }, name);
    else t.equal(p, undefined, name);
  }
  const v6 = report({ configMap: configMap('pools:\n  - name: v6\n    addresses: [2001:db8::/64]\n'), services: [view('v6', { ipFamilies: ['IPv6'], ingressIps: ['2001:DB8::5'] })] });
  t.match(v6.problems, [{ kind: 'not-announced', ip: '2001:db8::5', message: /IPv6.*NDP/ }], 'IPv6 says why, with the IP canonical');
});

t.test('orphaned Leases: a live holder for an IP no Service shows', async (t) => {
  const r = report({
    services: [served, view('plain', { type: 'ClusterIP', ingressIps: ['198.51.100.230'] })],
    leases: [
      lease('198.51.100.200', 'node1', 1),
      lease('198.51.100.210', 'node3', 1),
      lease('198.51.100.230', 'node2', 1),
      lease('198.51.100.211', 'node3', 30), // expired: a leftover, harmless
      lease('198.51.100.212', undefined, 0), // released when its Service went away
      { name: 'barelb-controller', holder: 'ctl-0', acquireMs: NOW, renewMs: NOW, durationSeconds: 15 }, // not a per-IP Lease
    ],
  });
  t.same(
    r.problems.map((p) => [p.kind, p.object, p.ip]),
    [
      ['orphaned-lease', 'barelb-system/barelb-ip-198-51-100-210', '198.51.100.210'],
      ['orphaned-lease', 'barelb-system/barelb-ip-198-51-100-230', '198.51.100.230'],
    ],
    'a Service barelb does not handle does not count as showing its IP',
  );
  t.match(r.problems[0]?.message, /node node3 holds the Lease for 198\.51\.100\.210, which no Service shows/);
});

t.test('shared IPs: allowed with one key and distinct ports, a conflict otherwise', async (t) => {
  const ip = '198.51.100.240';
  const svc = (name: string, key: string | undefined, port: number): ServiceView =>
    view(name, { ingressIps: [ip], ports: [{ protocol: 'TCP', port }], annotations: key ? { 'barelb.io/allow-shared-ip': key } : {} });
  const rows: [string, ServiceView[], RegExp | undefined][] = [
    ['same key, ports differ', [svc('a', 'k', 80), svc('b', 'k', 81)], undefined],
    ['different keys', [svc('a', 'k', 80), svc('b', 'j', 81)], /default\/a, default\/b, which do not share one barelb\.io\/allow-shared-ip key/],
    ['one without a key', [svc('a', 'k', 80), svc('b', undefined, 81)], /do not share/],
    ['same key, same port', [svc('a', 'k', 80), svc('b', 'k', 81), svc('c', 'k', 80)], /default\/a and default\/c both use TCP\/80/],
  ];
  for (const [name, services, conflict] of rows) {
    const r = report({ services, leases: [lease(ip, 'node1', 1)] });
    const p = r.problems.filter((x) => x.kind === 'ip-conflict');
    if (conflict) t.match(p, [{ ip, message: conflict }], name);
    else t.same(p, [], name);
    t.equal(r.pools[0]?.used, 1n, `${name}: one address used however many Services show it`);
  }
});

t.test('pool arithmetic: size without avoided addresses, used by distinct shown IPs, bigint-safe', async (t) => {
  const yaml = [
    'pools:',
    '  - name: buggy',
    '    avoidBuggyIPs: true',
    '    addresses: [198.51.100.0/24, 203.0.113.250-203.0.113.255]',
    '  - name: v6',
    '    addresses: [2001:db8::/64]',
    '  - name: big',
    '    addresses: [2001:db8:1::/48]',
    '  - name: unused',
    '    addresses: [192.0.2.10-192.0.2.19]',
  ].join('\n');
  const r = report({
    configMap: configMap(yaml),
    services: [
      view('a', { ingressIps: ['198.51.100.1'] }),
      view('b', { ingressIps: ['198.51.100.1'], annotations: { 'barelb.io/allow-shared-ip': 'x' } }),
      view('c', { ingressIps: ['203.0.113.250', '2001:db8::1'], ipFamilies: ['IPv4', 'IPv6'] }),
      view('d', { ingressIps: ['2001:db8::2'], ipFamilies: ['IPv6'] }),
      view('elsewhere', { ingressIps: ['192.0.2.200'] }),
    ],
  });
  const pools = Object.fromEntries(r.pools.map((p) => [p.name, [p.size, p.used, p.free]]));
  t.same(pools, {
    buggy: [254n + 5n, 2n, 257n],
    v6: [2n ** 64n, 2n, 2n ** 64n - 2n],
    big: [2n ** 80n, 0n, 2n ** 80n],
    unused: [10n, 0n, 10n],
  });
  t.match(r.problems.filter((p) => p.kind === 'outside-pools'), [{ object: 'default/elsewhere', ip: '192.0.2.200', message: /is in no configured pool/ }]);
  t.equal(r.services.find((s) => s.name === 'elsewhere')?.addresses[0]?.pool, undefined);
  t.same(r.services.find((s) => s.name === 'c')?.addresses.map((a) => a.pool), ['buggy', 'v6'], 'each address in its own pool');
  const json = statusJson(r);
  t.same(json.pools.find((p) => p.name === 'big'), { name: 'big', addresses: ['2001:db8:1::/48'], size: '1208925819614629174706176', used: '0', free: '1208925819614629174706176' });
});

t.test('Services barelb does not handle are left out; handled ones are sorted', async (t) => {
  const r = report({
    services: [
      view('zz', { ingressIps: ['198.51.100.201'] }),
      view('other-class', { loadBalancerClass: 'example.com/other', ingressIps: ['198.51.100.202'] }),
      view('cluster-ip', { type: 'ClusterIP' }),
      view('aa', { namespace: 'b', ingressIps: ['198.51.100.203'] }),
      view('aa', { ingressIps: ['198.51.100.204'] }),
    ],
    leases: ['198.51.100.201', '198.51.100.203', '198.51.100.204'].map((ip) => lease(ip, 'node1', 0)),
  });
  t.same(r.services.map((s) => `${s.namespace}/${s.name}`), ['b/aa', 'default/aa', 'default/zz']);
  t.same(r.problems, []);
  t.equal(r.pools[0]?.used, 3n, 'only handled Services use pool addresses');
  const other = buildStatusReport(
    { configMap: configMap(LAN), services: [view('other-class', { loadBalancerClass: 'example.com/other' })], leases: [], events: [], nowMs: NOW },
    { ...DEFAULT_SCOPE, lbClass: 'example.com/other' },
  );
  t.same(other.services.map((s) => s.name), ['other-class'], '--lb-class picks the other class');
});

t.test('problems come in a fixed order: config, pending, conflicts, outside, not announced, orphans', async (t) => {
  const r = report({
    configMap: configMap(LAN),
    services: [pending, view('out', { ingressIps: ['192.0.2.1'] }), view('x', { ingressIps: ['198.51.100.205'] }), view('y', { ingressIps: ['198.51.100.205'] })],
    leases: [lease('192.0.2.1', 'node1', 0), lease('198.51.100.249', 'node1', 0)],
    events: [{ kind: 'ConfigMap', namespace: 'barelb-system', name: 'barelb-config', uid: 'cm-uid', type: 'Warning', reason: 'InvalidConfig', message: 'm', lastMs: NOW }],
  });
  t.same(kinds(r), ['invalid-config', 'pending', 'ip-conflict', 'outside-pools', 'not-announced', 'orphaned-lease']);
});

t.test('announcerOf: live only within the Lease duration after the last renewal', async (t) => {
  const base: LeaseView = { name: 'x', holder: 'n', acquireMs: 0, renewMs: 10_000, durationSeconds: 4 };
  t.equal(announcerOf(base, 14_000)?.node, 'n');
  t.equal(announcerOf(base, 14_001), undefined);
  t.equal(announcerOf({ ...base, renewMs: undefined }, 3_000)?.node, 'n', 'acquireTime when never renewed');
  t.equal(announcerOf({ ...base, renewMs: undefined, acquireMs: undefined }, 0), undefined, 'no times at all: not live');
});

t.test('ipOfLeaseName inverts leaseNameFor for every address', async (t) => {
  const v4 = fc.integer({ min: 0, max: 2 ** 32 - 1 }).map((n) => IpAddress.fromValue('IPv4', BigInt(n)).toString());
  const v6 = fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }).map((n) => IpAddress.fromValue('IPv6', n).toString());
  const sparse6 = fc.array(fc.constantFrom(0, 1, 0xffff), { minLength: 8, maxLength: 8 }).map((groups) => IpAddress.parse(groups.map((g) => g.toString(16)).join(':')).toString());
  fc.assert(fc.property(fc.oneof(v4, v6, sparse6), (ip) => ipOfLeaseName(leaseNameFor(ip)) === ip));
  t.equal(ipOfLeaseName('barelb-controller'), undefined);
  t.equal(ipOfLeaseName('barelb-ip-not-an-ip'), undefined);
  t.equal(ipOfLeaseName(leaseNameFor('::')), '::');
});
