import t from 'tap';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { DEFAULT_ANNOUNCE } from '../../src/config/types.js';
import { speakerLeaseAnnotations, type UnheardInterface } from '../../src/election/speaker-lease.js';
import { IpRange } from '../../src/net/ip-range.js';
import { configInForceObject } from '../../src/k8s/config-in-force.js';
import type { ServiceView } from '../../src/k8s/service-view.js';
import { statusJson } from '../../src/status/status-json.js';
import { buildStatusReport, DEFAULT_SCOPE, type StatusReport } from '../../src/status/status-report.js';
import type { EventView, LeaseView, StatusSnapshot } from '../../src/status/status-snapshot.js';
import { view } from '../fixtures.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const LAN = 'pools:\n  - name: lan\n    addresses: [198.51.100.200-198.51.100.250]\n';

function configMap(yaml: string, uid = 'cm-uid'): V1ConfigMap {
  return { metadata: { name: 'barelb-config', namespace: 'barelb-system', uid }, data: { 'config.yaml': yaml } };
}

/** `node`'s speaker Lease as the speaker writes it: renewed `renewedAgoS` ago, valid 30 s. */
function speaker(node: string, announces: string[], o: { hears?: string[]; unheard?: UnheardInterface[]; renewedAgoS?: number; extra?: Partial<LeaseView> } = {}): LeaseView {
  return {
    name: `barelb-speaker-${node}`,
    annotations: speakerLeaseAnnotations({ announces, hears: o.hears ?? [], ...(o.unheard ? { unheard: o.unheard } : {}) }, 1),
    holder: node,
    renewMs: NOW - (o.renewedAgoS ?? 1) * 1000,
    durationSeconds: 30,
    ...o.extra,
  };
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
    const r = report({ services: [served, pending], events, leases: [speaker('node1', ['198.51.100.200'])] });
    t.same(kinds(r), ['pending'], name);
    t.match(r.problems[0], { object: 'default/asks-outside', reason: want.reason, message: want.message }, name);
    t.same(r.services.find((s) => s.name === 'asks-outside')?.addresses, [], `${name}: listed with no address`);
  }
});

t.test('config problems: unparseable, missing, and a rejection the controller has not got past', async (t) => {
  const bad = report({ configMap: configMap('pools:\n  - name: lan\n    addresses: [nope]\n'), services: [view('web', { ingressIps: ['198.51.100.200'], annotations: { 'barelb.io/allocated-from-pool': 'lan' } })], leases: [speaker('node1', ['198.51.100.200'])] });
  t.equal(bad.config, 'invalid');
  t.same(kinds(bad), ['invalid-config']);
  t.match(bad.problems[0]?.message, /pools\[0\]\.addresses\[0\].*nope|nope.*pools\[0\]/, "the parser's message, naming the field");
  t.same(bad.pools, [], 'no pools: the ones in force are not known');
  t.equal(bad.services[0]?.addresses[0]?.pool, 'lan', "the pool falls back to the controller's annotation");

  // The controller recorded the version it accepted: the report names it and shows its pools.
  const record = configInForceObject('barelb-system', {
    config: { pools: [{ name: 'lan', ranges: [IpRange.parse('198.51.100.200-198.51.100.250')], autoAssign: true, avoidBuggyIPs: false, namespaces: [], serviceSelector: undefined }], announce: DEFAULT_ANNOUNCE },
    source: 'barelb-system/barelb-config',
    sourceVersion: '41',
    format: 'barelb',
    acceptedAt: new Date(NOW - 125_000),
  });
  const badCm = { ...configMap('pools:\n  - name: lan\n    addresses: [nope]\n'), metadata: { name: 'barelb-config', namespace: 'barelb-system', uid: 'cm-uid', resourceVersion: '57' } };
  const recorded = report({ configMap: badCm, configInForce: record, services: [view('web', { ingressIps: ['198.51.100.200'] })], leases: [speaker('node1', ['198.51.100.200'])] });
  t.match(recorded.problems[0]?.message, /the controller runs on the version it accepted 2m5s ago \(barelb-system\/barelb-config version 41, recorded in barelb-system\/barelb-config-in-force; its pools are shown\)/);
  t.same(recorded.pools.map((p) => p.name), ['lan'], 'the pools in force are shown');
  t.equal(recorded.services[0]?.addresses[0]?.pool, 'lan', 'and addresses are placed in them');
  t.match(recorded.inForce, { source: 'barelb-system/barelb-config', sourceVersion: '41', acceptedMs: NOW - 125_000, current: false });
  const current = report({ configMap: { ...configMap(LAN), metadata: { name: 'barelb-config', namespace: 'barelb-system', uid: 'cm-uid', resourceVersion: '41' } }, configInForce: record });
  t.equal(current.inForce?.current, true, 'the ConfigMap as it is now is the version in force');
  t.equal(report({ configInForce: { ...record, data: { 'config.yaml': 'pools: [' } } }).inForce, undefined, 'an unreadable record is not trusted');

  const missing = report({ configMap: undefined, services: [served], leases: [speaker('node1', ['198.51.100.200'])] });
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
    const r = report({ services: [served], leases: [speaker('node1', ['198.51.100.200'])], events });
    t.same(kinds(r), want, name);
    if (want.length) t.match(r.problems[0], { reason: 'InvalidConfig', message: /InvalidConfig message.*current content parses/ }, name);
  }
});

t.test('--config-format: a MetalLB ConfigMap is read as the controller reads it', async (t) => {
  const metallb: V1ConfigMap = { metadata: { name: 'config', namespace: 'metallb-system', uid: 'm' }, data: { config: 'address-pools:\n- name: Public_IPs\n  protocol: layer2\n  addresses: [198.51.100.192/26]\n' } };
  const snap: StatusSnapshot = { configMap: metallb, services: [served], leases: [speaker('node1', ['198.51.100.200'])], events: [], nowMs: NOW };
  const scope = { ...DEFAULT_SCOPE, namespace: 'metallb-system', configMap: 'config' };
  const asMetallb = buildStatusReport(snap, { ...scope, configFormat: 'metallb' });
  t.equal(asMetallb.config, 'valid');
  t.match(asMetallb.pools, [{ name: 'public-ips', size: 64n, used: 1n, free: 63n }]);
  t.same(asMetallb.problems, []);
  const asBarelb = buildStatusReport(snap, scope);
  t.match(asBarelb.problems, [{ kind: 'invalid-config', object: 'metallb-system/config', message: /data\.config\.yaml.*is missing/ }], 'read as barelb format, it names the missing key');
});

t.test('announcing: the nodes whose live speaker Lease lists the IP', async (t) => {
  const ip = '198.51.100.200';
  const rows: [string, LeaseView[], string[], RegExp | undefined, string[]?][] = [
    ['a live Lease lists it', [speaker('node2', [ip], { hears: ['node1'] }), speaker('node1', [], { hears: ['node2'] })], ['node2'], undefined],
    ['renewed exactly its duration ago', [speaker('node2', [ip], { renewedAgoS: 30 })], ['node2'], undefined],
    ['among several addresses', [speaker('node2', ['198.51.100.20', ip, '198.51.100.2'])], ['node2'], undefined, ['orphaned-announcement', 'orphaned-announcement']],
    ['holderIdentity empty: the node is the name', [speaker('node2', [ip], { extra: { holder: undefined } })], ['node2'], undefined],
    [
      'expired',
      [speaker('node2', [ip], { renewedAgoS: 31 })],
      [],
      /^no live speaker Lease lists it: there is no live speaker Lease \(barelb-speaker-<node>\) in barelb-speakers; are the speakers running\?; the expired Lease of node2 \(renewed 31s ago, valid 30s\) still lists it/,
    ],
    ['never renewed', [speaker('node2', [ip], { extra: { renewMs: undefined } })], [], /no live speaker Lease.*the expired Lease of node2 \(renewed never, valid 30s\)/],
    ['no Lease at all', [], [], /^no live speaker Lease lists it: there is no live speaker Lease/],
    [
      'live speakers, none lists it',
      [speaker('node3', []), speaker('node1', [])],
      [],
      /^no live speaker Lease lists it \(live: node1, node3\): is any of these nodes eligible \(announce\.nodeSelector, .*exclude-from-external-load-balancers, .*externalTrafficPolicy: Local\) and on a subnet holding it\?$/,
    ],
    [
      'a Lease that is not a speaker\'s does not count',
      [{ name: 'barelb-controller', annotations: { 'barelb.io/announces': ip }, holder: 'node2', renewMs: NOW, durationSeconds: 15 }],
      [],
      /there is no live speaker Lease/,
    ],
    [
      'a malformed address in the annotation is skipped',
      [speaker('node2', [], { extra: { annotations: { 'barelb.io/announces': `198.51.100.200x ${ip}/32` } } })],
      [],
      /\(live: node2\)/,
    ],
    ['two live Leases list it', [speaker('node2', [ip], { hears: ['node1'] }), speaker('node1', [ip], { hears: ['node2'], renewedAgoS: 25 })], ['node1', 'node2'], undefined],
  ];
  for (const [name, leases, nodes, why, also = []] of rows) {
    const r = report({ services: [served], leases });
    t.same(r.services[0]?.addresses[0]?.announcedBy, nodes, name);
    const p = r.problems.find((x) => x.kind === 'not-announced');
    if (why) t.match(p, { object: 'default/web', ip, reason: undefined, message: why }, name);
    else t.equal(p, undefined, name);
    t.same(kinds(r), [...(why ? ['not-announced'] : nodes.length > 1 ? ['multiple-announcers'] : []), ...also], `${name}: no other problem`);
  }
  const two = report({ services: [served], leases: [speaker('node2', [ip], { hears: ['node1'] }), speaker('node1', [ip], { hears: ['node2'], renewedAgoS: 25 })] });
  t.match(two.problems, [
    { kind: 'multiple-announcers', object: 'default/web', ip, message: /^the live speaker Leases of node1 \(renewed 25s ago\), node2 \(renewed 1s ago\) all list 198\.51\.100\.200: each of these nodes answers ARP/ },
  ]);
  const v6 = report({ configMap: configMap('pools:\n  - name: v6\n    addresses: [2001:db8::/64]\n'), services: [view('v6', { ipFamilies: ['IPv6'], ingressIps: ['2001:DB8::5'] })] });
  t.match(v6.problems, [{ kind: 'not-announced', ip: '2001:db8::5', message: /no live speaker Lease/ }], 'an IPv6 address unannounced is named canonical, like an IPv4 one');
  const v6Held = report({
    configMap: configMap('pools:\n  - name: v6\n    addresses: [2001:db8::/64]\n'),
    services: [view('v6', { ipFamilies: ['IPv6'], ingressIps: ['2001:DB8::5'] })],
    leases: [speaker('node1', ['2001:db8::5'])],
  });
  t.same(kinds(v6Held), [], 'an IPv6 address listed by a live speaker Lease is announced');
});

t.test('not-announced says what is known: outside the pools, a refusal Event', async (t) => {
  const ip = '198.51.100.200';
  const live = [speaker('node1', []), speaker('node2', [], { hears: ['node1'] })];
  const refused = (svc: ServiceView, about: string, agoS: number, extra: Partial<EventView> = {}): EventView =>
    event(svc, 'AddressRefused', `node node1 does not announce ${about}: it is a node's own address`, agoS, extra);
  const rows: [string, ServiceView, EventView[], LeaseView[], { reason: string | undefined; message: RegExp }][] = [
    [
      'outside the pools',
      view('out', { ingressIps: ['192.0.2.1'] }),
      [],
      live,
      { reason: undefined, message: /^no live speaker Lease lists it: the speakers refuse to announce addresses outside the configured pools$/ },
    ],
    [
      'outside the pools, with no speaker at all: no speaker comes first',
      view('out', { ingressIps: ['192.0.2.1'] }),
      [],
      [],
      { reason: undefined, message: /are the speakers running\?$/ },
    ],
    [
      'a refusal Event about it',
      served,
      [refused(served, ip, 200), refused(served, ip, 12)],
      live,
      { reason: 'AddressRefused', message: /^no live speaker Lease lists it; the latest refusal \(12s ago\): node node1 does not announce 198\.51\.100\.200: it is a node's own address$/ },
    ],
    ['a refusal of a longer address starting the same', served, [refused(served, '198.51.100.2001', 5)], live, { reason: undefined, message: /is any of these nodes eligible/ }],
    ['a refusal of a longer address ending the same', served, [refused(served, '1198.51.100.200', 5)], live, { reason: undefined, message: /is any of these nodes eligible/ }],
    ['a refusal naming it after a longer one', served, [refused(served, '198.51.100.2000 and 198.51.100.200', 5)], live, { reason: 'AddressRefused', message: /latest refusal \(5s ago\)/ }],
    ['a refusal about an older Service of the same name', served, [refused(served, ip, 5, { uid: 'older' })], live, { reason: undefined, message: /is any of these nodes eligible/ }],
    [
      'an expired Lease still listing it is named too',
      served,
      [],
      [...live, speaker('node3', [ip], { renewedAgoS: 200 })],
      { reason: undefined, message: /eligible.*\?; the expired Lease of node3 \(renewed 3m20s ago, valid 30s\) still lists it: is that speaker running\?$/ },
    ],
  ];
  for (const [name, svc, events, leases, want] of rows) {
    const r = report({ services: [svc], events, leases });
    t.match(
      r.problems.filter((p) => p.kind === 'not-announced'),
      [{ object: svc.key, ip: svc.ingressIps[0], ...want }],
      name,
    );
  }
});

t.test('orphaned announcements: a live speaker Lease lists an IP no handled Service shows', async (t) => {
  const r = report({
    services: [served, view('plain', { type: 'ClusterIP', ingressIps: ['198.51.100.230'] })],
    leases: [
      speaker('node1', ['198.51.100.200', '198.51.100.210'], { hears: ['node3'] }),
      speaker('node3', ['198.51.100.230'], { hears: ['node1'] }),
      speaker('node4', ['198.51.100.211'], { renewedAgoS: 60 }), // expired: nobody answers for it
      { name: 'barelb-ip-198-51-100-212', annotations: {}, holder: 'node1', renewMs: NOW, durationSeconds: 4 }, // a per-IP Lease of the old election: ignored
    ],
  });
  t.same(
    r.problems.map((p) => [p.kind, p.object, p.ip]),
    [
      ['orphaned-announcement', 'barelb-speakers/barelb-speaker-node1', '198.51.100.210'],
      ['orphaned-announcement', 'barelb-speakers/barelb-speaker-node3', '198.51.100.230'],
    ],
    'a Service barelb does not handle does not count as showing its IP',
  );
  t.match(r.problems[0]?.message, /^node node1 announces 198\.51\.100\.210 \(its speaker Lease lists it\), which no Service barelb handles shows$/);
  const twice = report({ leases: [speaker('node1', ['198.51.100.210'], { hears: ['node2'] }), speaker('node2', ['198.51.100.210'], { hears: ['node1'] })] });
  t.same(
    twice.problems.map((p) => [p.kind, p.object]),
    [
      ['multiple-announcers', 'barelb-speakers/barelb-speaker-node1, barelb-speakers/barelb-speaker-node2'],
      ['orphaned-announcement', 'barelb-speakers/barelb-speaker-node1'],
      ['orphaned-announcement', 'barelb-speakers/barelb-speaker-node2'],
    ],
    'announced twice and shown by no Service: the object is the Leases',
  );
});

t.test('not-heard: a node announcing while no other live speaker hears it', async (t) => {
  const ip = '198.51.100.200';
  const rows: [string, LeaseView[], string[]][] = [
    ['a lone speaker is heard by no one, and that is fine', [speaker('node1', [ip])], []],
    ['heard by its one peer', [speaker('node1', [ip]), speaker('node2', [], { hears: ['node1'] })], []],
    ['heard by one of two peers', [speaker('node1', [ip]), speaker('node2', [], { hears: ['node3'] }), speaker('node3', [], { hears: ['node1', 'node2'] })], []],
    ['its peer hears nobody', [speaker('node1', [ip], { hears: ['node2'] }), speaker('node2', [])], ['barelb-speakers/barelb-speaker-node1']],
    ['its peers hear only each other', [speaker('node1', [ip]), speaker('node2', [], { hears: ['node3'] }), speaker('node3', [], { hears: ['node2'] })], ['barelb-speakers/barelb-speaker-node1']],
    [
      'only an expired Lease hears it',
      [speaker('node1', [ip]), speaker('node2', [], { hears: ['node1'], renewedAgoS: 60 }), speaker('node3', [])],
      ['barelb-speakers/barelb-speaker-node1'],
    ],
    ['only an expired peer, so no peer at all', [speaker('node1', [ip]), speaker('node2', [], { renewedAgoS: 60 })], []],
    ['an unheard node that announces nothing', [speaker('node1', [ip]), speaker('node2', [], { hears: ['node1'] }), speaker('node3', [], { hears: ['node1'] })], []],
    ['it hearing itself does not count', [speaker('node1', [ip], { hears: ['node1'] }), speaker('node2', [])], ['barelb-speakers/barelb-speaker-node1']],
  ];
  for (const [name, leases, unheard] of rows) {
    const r = report({ services: [served], leases });
    t.same(r.problems.filter((p) => p.kind === 'not-heard').map((p) => p.object), unheard, name);
    t.same(r.services[0]?.addresses[0]?.announcedBy, ['node1'], `${name}: still counted as announcing`);
  }
  const r = report({ services: [served], leases: [speaker('node1', [ip, '198.51.100.201'], { renewedAgoS: 3 }), speaker('node2', []), speaker('node3', [])] });
  t.match(r.problems.find((p) => p.kind === 'not-heard'), {
    ip: undefined,
    message: /^node node1 announces 198\.51\.100\.200, 198\.51\.100\.201, but no other live speaker \(node2, node3\) lists it in barelb\.io\/hears: it may be cut off from the LAN.*renewed 3s ago\)$/,
  });

  const split = report({ services: [served], leases: [speaker('node1', [ip]), speaker('node2', [ip])] });
  t.same(
    split.problems.map((p) => [p.kind, p.object]),
    [
      ['multiple-announcers', 'default/web'],
      ['not-heard', 'barelb-speakers/barelb-speaker-node1'],
      ['not-heard', 'barelb-speakers/barelb-speaker-node2'],
    ],
    'a split LAN: both halves answer, and neither hears the other',
  );
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
    const r = report({ services, leases: [speaker('node1', [ip])] });
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
    leases: [speaker('node1', ['198.51.100.201', '198.51.100.203', '198.51.100.204'])],
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

t.test('problems come in a fixed order: config, pending, conflicts, outside, not announced, announced twice, not heard, orphans', async (t) => {
  const r = report({
    configMap: configMap(LAN),
    services: [pending, view('out', { ingressIps: ['192.0.2.1'] }), view('x', { ingressIps: ['198.51.100.205'] }), view('y', { ingressIps: ['198.51.100.205'] })],
    leases: [speaker('node1', ['198.51.100.205', '198.51.100.249']), speaker('node2', ['198.51.100.205'], { hears: ['node1'] })],
    events: [{ kind: 'ConfigMap', namespace: 'barelb-system', name: 'barelb-config', uid: 'cm-uid', type: 'Warning', reason: 'InvalidConfig', message: 'm', lastMs: NOW }],
  });
  t.same(kinds(r), ['invalid-config', 'pending', 'ip-conflict', 'outside-pools', 'not-announced', 'multiple-announcers', 'not-heard', 'orphaned-announcement']);
});

t.test('heartbeats-unheard: a node whose Lease says it hears no heartbeats, named with the interface and what it made of it', async (t) => {
  const leases = [
    speaker('node1', ['198.51.100.200'], { unheard: [{ ifname: 'eth0', mode: 'deaf' }] }),
    speaker('node2', [], { unheard: [{ ifname: 'eth0', mode: 'deaf' }] }),
    speaker('node3', [], { unheard: [{ ifname: 'eth1', mode: 'cut-off' }] }),
  ];
  const r = report({ services: [served], leases });
  const unheard = r.problems.filter((p) => p.kind === 'heartbeats-unheard');
  t.same(unheard.map((p) => p.object), ['barelb-speakers/barelb-speaker-node1', 'barelb-speakers/barelb-speaker-node2', 'barelb-speakers/barelb-speaker-node3']);
  t.match(unheard[0]?.message, /node node1 hears no heartbeats on eth0, and no other speaker hears any: heartbeats are blocked/);
  t.match(unheard[2]?.message, /node node3 hears no heartbeats on eth1 while the other speakers hear each other: its link to them is cut/);
  t.same(r.problems.filter((p) => p.kind === 'not-heard'), [], 'not also reported not-heard: the reason is known');
});
