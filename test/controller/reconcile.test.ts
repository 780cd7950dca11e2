import t from 'tap';
import { DEFAULT_LB_CLASS, REASON } from '../../src/names.js';
import { reconcileService, relearn, WarningMemory, type ServiceEvent } from '../../src/controller/reconcile.js';
import type { PoolSpec } from '../../src/config/types.js';
import { Allocator } from '../../src/ipam/allocator.js';
import { IpAddress } from '../../src/net/ip.js';
import { pool, view } from '../fixtures.js';
import { Cluster, type Spec } from './cluster.js';

const CLASS = DEFAULT_LB_CLASS;

t.test('a new Service gets the lowest address and an IPAllocated event', async (t) => {
  const alloc = new Allocator([pool('lan', ['198.51.100.10-198.51.100.12'])]);
  const o = reconcileService(alloc, 'default/a', view('a'), CLASS);
  t.same(o.status, ['198.51.100.10']);
  t.equal(o.pool, 'lan');
  t.ok(o.assigned);
  t.same(o.events.map((e) => e.reason), [REASON.assigned]);
});

t.test('nothing to write when the status already says it', async (t) => {
  const alloc = new Allocator([pool('lan', ['198.51.100.10-198.51.100.12'])]);
  reconcileService(alloc, 'default/a', view('a'), CLASS);
  const again = reconcileService(alloc, 'default/a', view('a', { ingressIps: ['198.51.100.10'], annotations: { 'barelb.io/allocated-from-pool': 'lan' } }), CLASS);
  t.equal(again.status, undefined);
  t.same(again.events, []);
  t.notOk(again.assigned);
});

t.test('Services of another class or type are left alone; leaving releases', async (t) => {
  const alloc = new Allocator([pool('lan', ['198.51.100.10-198.51.100.12'])]);
  const other = reconcileService(alloc, 'default/x', view('x', { loadBalancerClass: 'example.com/other' }), CLASS);
  t.same(other, { status: undefined, pool: undefined, events: [], failure: undefined, assigned: false, released: false });
  t.same(reconcileService(alloc, 'default/c', view('c', { type: 'ClusterIP' }), CLASS).status, undefined);
  reconcileService(alloc, 'default/a', view('a'), CLASS);
  const moved = reconcileService(alloc, 'default/a', view('a', { loadBalancerClass: 'example.com/other', ingressIps: ['198.51.100.10'] }), CLASS);
  t.same(moved.status, [], 'status cleared');
  t.equal(moved.pool, null, 'pool annotation removed');
  t.ok(moved.released);
  t.match(moved.events[0]?.message, /Released 198\.51\.100\.10: loadBalancerClass is now "example.com\/other"/);
  t.equal(alloc.assignmentOf('default/a'), undefined);
});

t.test('an explicitly matching class is handled', async (t) => {
  const alloc = new Allocator([pool('lan', ['198.51.100.10-198.51.100.12'])]);
  t.same(reconcileService(alloc, 'default/a', view('a', { loadBalancerClass: CLASS }), CLASS).status, ['198.51.100.10']);
});

t.test('a deleted Service frees its address for the next one', async (t) => {
  const alloc = new Allocator([pool('lan', ['198.51.100.10/32'])]);
  reconcileService(alloc, 'default/a', view('a'), CLASS);
  const pending = reconcileService(alloc, 'default/b', view('b'), CLASS);
  t.equal(pending.failure?.code, 'BARELB_NO_ADDRESS');
  t.same(pending.status, undefined, 'nothing to write for a pending Service without status');
  t.ok(reconcileService(alloc, 'default/a', undefined, CLASS).released);
  t.same(reconcileService(alloc, 'default/b', view('b'), CLASS).status, ['198.51.100.10']);
});

t.test('addresses shown in status are adopted, even outside every pool', async (t) => {
  const alloc = new Allocator([pool('lan', ['198.51.100.10-198.51.100.12'])]);
  const kept = reconcileService(alloc, 'default/a', view('a', { ingressIps: ['198.51.100.11'], annotations: { 'barelb.io/allocated-from-pool': 'lan' } }), CLASS);
  t.equal(kept.status, undefined, 'nothing rewritten');
  t.same(alloc.assignmentOf('default/a')?.ips.map(String), ['198.51.100.11']);
  const outside = reconcileService(alloc, 'default/o', view('o', { ingressIps: ['203.0.113.9'] }), CLASS);
  t.same(outside.events.map((e) => e.reason), [REASON.outsidePools]);
  t.equal(outside.status, undefined, 'the address stays; pool annotation already absent');
  t.same(reconcileService(alloc, 'default/n', view('n'), CLASS).status, ['198.51.100.10'], 'new Services skip adopted addresses');
});

t.test('a Service MetalLB left (its status, its annotations) is adopted as it is, with one Normal Event naming barelb\'s annotations', async (t) => {
  const alloc = new Allocator([pool('lan', ['198.51.100.10-198.51.100.12']), pool('dmz', ['198.51.100.20-198.51.100.22'])]);
  const left = view('m', { ingressIps: ['198.51.100.21'], annotations: { 'metallb.io/address-pool': 'dmz', 'metallb.io/allow-shared-ip': 'k' } });
  const first = reconcileService(alloc, 'default/m', left, CLASS);
  t.same(alloc.assignmentOf('default/m')?.ips.map(String), ['198.51.100.21'], 'the address MetalLB gave stays');
  t.notOk(first.assigned, 'nothing assigned anew');
  const foreign = first.events.filter((e) => e.reason === REASON.foreignAnnotation);
  t.equal(foreign.length, 1, 'one ForeignAnnotation Event');
  t.equal(foreign[0]?.type, 'Normal');
  t.match(foreign[0]?.message, /metallb\.io\/address-pool as barelb\.io\/address-pool, metallb\.io\/allow-shared-ip as barelb\.io\/allow-shared-ip; set barelb\.io\/address-pool, barelb\.io\/allow-shared-ip instead/);
  const again = reconcileService(alloc, 'default/m', { ...left, annotations: { ...left.annotations, 'barelb.io/allocated-from-pool': 'dmz' } }, CLASS);
  t.same(again.events, [], 'said once: not on the next pass');
  const asked = reconcileService(alloc, 'default/k', view('k', { annotations: { 'kube-vip.io/loadbalancerIPs': '198.51.100.12' } }), CLASS);
  t.same(asked.status, ['198.51.100.12'], "kube-vip's requested address is honoured");
  t.same(asked.events.map((e) => e.reason).sort(), [REASON.foreignAnnotation, REASON.assigned].sort());
});

t.test('a controller starting on what MetalLB left says once, at relearn, which annotations it reads', async (t) => {
  const alloc = new Allocator([pool('lan', ['198.51.100.10-198.51.100.12'])]);
  const views = [
    view('m', { ingressIps: ['198.51.100.10'], annotations: { 'metallb.io/loadBalancerIPs': '198.51.100.10' } }),
    view('plain', { ingressIps: ['198.51.100.11'] }),
    view('own', { ingressIps: ['198.51.100.12'], annotations: { 'barelb.io/loadBalancerIPs': '198.51.100.12', 'metallb.io/loadBalancerIPs': '198.51.100.12' } }),
  ];
  const { learned, foreign } = relearn(alloc, views, CLASS);
  t.equal(learned, 3, 'every address re-learned');
  t.same(foreign.map((f) => f.view.name), ['m'], "only the Service read through MetalLB's annotation (barelb's own wins on the other)");
  t.match(foreign[0]?.event, { type: 'Normal', reason: REASON.foreignAnnotation, message: /metallb\.io\/loadBalancerIPs as barelb\.io\/loadBalancerIPs/ });
  const next = reconcileService(alloc, 'default/m', views[0] as (typeof views)[number], CLASS);
  t.same(next.events, [], 'the pass after relearn says nothing more');
});

t.test('a status clash: the one that holds keeps it, the other gets another address with a warning', async (t) => {
  const alloc = new Allocator([pool('lan', ['198.51.100.10-198.51.100.12'])]);
  reconcileService(alloc, 'default/a', view('a', { ingressIps: ['198.51.100.10'] }), CLASS);
  const b = reconcileService(alloc, 'default/b', view('b', { ingressIps: ['198.51.100.10'] }), CLASS);
  t.same(b.status, ['198.51.100.11']);
  t.ok(b.events.some((e) => e.reason === REASON.conflict && e.message.includes('default/a')));
  t.same(alloc.assignmentOf('default/a')?.ips.map(String), ['198.51.100.10']);
});

t.test('an invalid request: a Service with an address keeps it; one without stays pending', async (t) => {
  const alloc = new Allocator([pool('lan', ['198.51.100.10-198.51.100.12'])]);
  reconcileService(alloc, 'default/a', view('a'), CLASS);
  const bad = { 'barelb.io/loadBalancerIPs': 'nonsense' };
  const kept = reconcileService(alloc, 'default/a', view('a', { annotations: { ...bad, 'barelb.io/allocated-from-pool': 'lan' }, ingressIps: ['198.51.100.10'] }), CLASS);
  t.equal(kept.status, undefined);
  t.match(kept.events[0], { type: 'Warning', reason: REASON.invalid, message: /keeping 198\.51\.100\.10/ });
  const fresh = reconcileService(alloc, 'default/b', view('b', { annotations: bad }), CLASS);
  t.equal(fresh.failure?.code, 'BARELB_INVALID_REQUEST');
  t.match(fresh.events[0]?.message, /"nonsense" is not an IP address; no address assigned/);
  t.equal(alloc.assignmentOf('default/b'), undefined);
});

t.test('a changed request moves the Service; an unmeetable change keeps the old address', async (t) => {
  const alloc = new Allocator([pool('lan', ['198.51.100.10-198.51.100.12']), pool('other', ['203.0.113.1-203.0.113.2'], { autoAssign: false })]);
  reconcileService(alloc, 'default/a', view('a'), CLASS);
  reconcileService(alloc, 'default/b', view('b'), CLASS);
  const moved = reconcileService(alloc, 'default/a', view('a', { ingressIps: ['198.51.100.10'], annotations: { 'barelb.io/address-pool': 'other' } }), CLASS);
  t.same(moved.status, ['203.0.113.1']);
  const stuck = reconcileService(alloc, 'default/a', view('a', { ingressIps: ['203.0.113.1'], annotations: { 'barelb.io/loadBalancerIPs': '198.51.100.11', 'barelb.io/allocated-from-pool': 'other' } }), CLASS);
  t.equal(stuck.status, undefined, 'nothing written');
  t.match(stuck.events[0]?.message, /cannot change address: .*already used by default\/b: it does not allow sharing; keeping 203\.0\.113\.1/);
  t.same(alloc.assignmentOf('default/a')?.ips.map(String), ['203.0.113.1']);
});

t.test('dual-stack: primary family first in status', async (t) => {
  const alloc = new Allocator([pool('both', ['198.51.100.10/31', '2001:db8::10/127'])]);
  const o = reconcileService(alloc, 'default/d', view('d', { ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'RequireDualStack' }), CLASS);
  t.same(o.status, ['2001:db8::10', '198.51.100.10']);
  const single = reconcileService(alloc, 'default/s', view('s', { ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' }), CLASS);
  t.same(single.status, ['2001:db8::11']);
});

t.test('WarningMemory: a retry with the same verdict writes no Event; a new verdict, a new object or the quiet period passing does', async (t) => {
  const m = new WarningMemory(1000);
  const taken: ServiceEvent = { type: 'Warning', reason: REASON.failed, message: 'requested address 198.51.100.7 is already used by default/a' };
  const otherHolder: ServiceEvent = { ...taken, message: 'requested address 198.51.100.7 is already used by default/b' };
  const assigned: ServiceEvent = { type: 'Normal', reason: REASON.assigned, message: 'Assigned 198.51.100.7' };
  t.same(m.filter('ns/s', 'u1', [taken], 0), [taken], 'first time: recorded');
  t.same(m.filter('ns/s', 'u1', [taken], 999), [], 'same verdict within the quiet period: nothing');
  t.same(m.filter('ns/other', 'u9', [taken], 999), [taken], 'per Service');
  t.same(m.filter('ns/s', 'u1', [otherHolder], 999), [otherHolder], 'a new holder is news');
  t.same(m.filter('ns/s', 'u1', [otherHolder], 1998), [], 'quiet again');
  t.same(m.filter('ns/s', 'u1', [otherHolder], 1999), [otherHolder], 'repeated once the quiet period has passed');
  t.same(m.filter('ns/s', 'u2', [otherHolder], 2000), [otherHolder], 'a Service made anew under the same name is told');
  t.same(m.filter('ns/s', 'u2', [assigned], 2001), [assigned], 'Normal events always pass, and end the verdict');
  t.same(m.filter('ns/s', 'u2', [otherHolder], 2002), [otherHolder], 'so the same Warning later is recorded again');
  m.forget('ns/s');
  t.same(m.filter('ns/s', 'u2', [otherHolder], 2003), [otherHolder], 'forget: recorded again');
  t.same(m.filter('ns/s', 'u2', [otherHolder, assigned], 2004), [assigned], 'a repeated Warning is dropped, the Normal event beside it kept');
});

t.test('a thousand Services wanting one address: one gets it, the rest name the holder once each, retries stay quiet', async (t) => {
  const alloc = new Allocator([pool('lan', ['198.51.100.0/24'])]);
  const memory = new WarningMemory();
  const want = { annotations: { 'barelb.io/loadBalancerIPs': '198.51.100.7' } };
  const written: ServiceEvent[] = [];
  const round = (now: number): void => {
    for (let i = 0; i < 1000; i++) {
      const key = `default/s${i}`;
      const current = alloc.assignmentOf(key);
      const o = reconcileService(alloc, key, view(`s${i}`, { ...want, ingressIps: current ? current.ips.map(String) : [] }), CLASS);
      written.push(...memory.filter(key, `uid-s${i}`, o.events, now));
    }
  };
  round(0);
  t.equal(alloc.assignmentOf('default/s0')?.ips.map(String)[0], '198.51.100.7', 'the first one holds it');
  t.equal(written.filter((e) => e.type === 'Warning').length, 999, 'one Warning per refused Service');
  t.ok(written.filter((e) => e.type === 'Warning').every((e) => e.message.includes('already used by default/s0: ')), 'each names the holder');
  written.length = 0;
  round(1000);
  round(2000);
  t.same(written, [], 'retries with the same verdict write nothing');
});

// ---------------------------------------------------------------------------
// issue 12: a kept assignment follows the Service's spec as it is now

const LAN = (): PoolSpec[] => [pool('lan', ['198.51.100.10-198.51.100.12'])];

t.test('a kept address is re-asserted with the Service’s current ports and sharing key, so a newcomer cannot double-book it', async (t) => {
  const rows: [name: string, before: Spec, after: Spec, newcomer: Spec, want: string][] = [
    ['port changed: the newcomer on the new port gets another address', { sharingKey: 'k' }, { sharingKey: 'k', ports: ['TCP/8080'] }, { sharingKey: 'k', ports: ['TCP/8080'] }, '198.51.100.11'],
    ['protocol changed', { sharingKey: 'k' }, { sharingKey: 'k', ports: ['UDP/80'] }, { sharingKey: 'k', ports: ['UDP/80'] }, '198.51.100.11'],
    ['port changed: the old port is free for the newcomer', { sharingKey: 'k' }, { sharingKey: 'k', ports: ['TCP/8080'] }, { sharingKey: 'k', ports: ['TCP/80'] }, '198.51.100.10'],
    ['sharing key changed', { sharingKey: 'k' }, { sharingKey: 'j' }, { sharingKey: 'k', ports: ['TCP/443'] }, '198.51.100.11'],
    ['sharing key removed', { sharingKey: 'k' }, {}, { sharingKey: 'k', ports: ['TCP/443'] }, '198.51.100.11'],
    ['sharing key added', {}, { sharingKey: 'k' }, { sharingKey: 'k', ports: ['TCP/443'] }, '198.51.100.10'],
    ['port changed along with an invalid annotation', { sharingKey: 'k' }, { sharingKey: 'k', ports: ['TCP/8080'], requestedIps: 'nonsense' }, { sharingKey: 'k', ports: ['TCP/8080'] }, '198.51.100.11'],
  ];
  for (const [name, before, after, newcomer, want] of rows) {
    const c = new Cluster(LAN());
    c.put('a', before);
    t.same(c.ips('a'), ['198.51.100.10'], `${name}: a gets .10`);
    const changed = c.put('a', after);
    t.equal(changed.status, undefined, `${name}: a keeps .10, nothing written`);
    t.same(c.put('d', newcomer).status, [want], `${name}: d`);
    t.same(c.ips('a'), ['198.51.100.10'], `${name}: a still on .10`);
  }
});

t.test('a change that clashes with another holder of the address: the others keep it, the Service that changed lets go', async (t) => {
  const sharer: Spec = { sharingKey: 'k', ports: ['TCP/443'] };
  const rows: [name: string, pools: PoolSpec[], before: Spec, after: Spec, want: string[], failure: string | undefined][] = [
    ['ports now overlap', LAN(), { sharingKey: 'k' }, { sharingKey: 'k', ports: ['TCP/443'] }, ['198.51.100.11'], undefined],
    ['protocol now overlaps', LAN(), { sharingKey: 'k', ports: ['UDP/443'] }, { sharingKey: 'k', ports: ['TCP/443'] }, ['198.51.100.11'], undefined],
    ['sharing key changed', LAN(), { sharingKey: 'k' }, { sharingKey: 'j' }, ['198.51.100.11'], undefined],
    ['sharing key removed', LAN(), { sharingKey: 'k' }, {}, ['198.51.100.11'], undefined],
    ['no other address: left pending', [pool('lan', ['198.51.100.10/32'])], { sharingKey: 'k' }, { sharingKey: 'k', ports: ['TCP/443'] }, [], 'BARELB_NO_ADDRESS'],
    ['the address was requested: left pending', LAN(), { sharingKey: 'k', requestedIps: '198.51.100.10' }, { sharingKey: 'k', ports: ['TCP/443'], requestedIps: '198.51.100.10' }, [], 'BARELB_IP_IN_USE'],
    ['and the request is invalid: left pending', LAN(), { sharingKey: 'k' }, { sharingKey: 'k', ports: ['TCP/443'], requestedIps: 'nonsense' }, [], 'BARELB_INVALID_REQUEST'],
    ['sharing key malformed (counts as none): left pending', LAN(), { sharingKey: 'k' }, { sharingKey: 'not a key' }, [], 'BARELB_INVALID_REQUEST'],
  ];
  for (const [name, pools, before, after, want, failure] of rows) {
    const c = new Cluster(pools);
    c.put('a', before);
    c.put('b', sharer);
    t.same([c.ips('a'), c.ips('b')], [['198.51.100.10'], ['198.51.100.10']], `${name}: a and b share .10`);
    const o = c.put('a', after);
    t.same(c.ips('a'), want, `${name}: a`);
    t.equal(o.failure?.code, failure, `${name}: failure`);
    t.match(o.events[0], { type: 'Warning', reason: REASON.conflict, message: /^198\.51\.100\.10 can no longer be kept: .*default\/b/ }, `${name}: IPConflict names b`);
    t.same(c.alloc.holdersOf(IpAddress.parse('198.51.100.10')), ['default/b'], `${name}: b alone holds .10`);
    t.equal(c.reconcileAll().get('default/b')?.status, undefined, `${name}: b keeps .10`);
    t.same(c.ips('b'), ['198.51.100.10'], `${name}: b still on .10`);
  }
});

t.test('a pool edit that no longer covers an address never moves it, whether or not the Service names the pool', async (t) => {
  const rows: [name: string, spec: Spec, edited: PoolSpec[]][] = [
    ['names the pool; pool shrunk', { pool: 'lan' }, [pool('lan', ['198.51.100.11-198.51.100.12'])]],
    ['names no pool; pool shrunk', {}, [pool('lan', ['198.51.100.11-198.51.100.12'])]],
    ['names the pool; pool removed', { pool: 'lan' }, [pool('other', ['203.0.113.1/32'])]],
    ['names the pool; the address now in another pool', { pool: 'lan' }, [pool('lan', ['198.51.100.11-198.51.100.12']), pool('b', ['198.51.100.10/32'])]],
    ['requests the address; pool shrunk', { requestedIps: '198.51.100.10' }, [pool('lan', ['198.51.100.11-198.51.100.12'])]],
  ];
  for (const [name, spec, edited] of rows) {
    const c = new Cluster(LAN());
    c.put('s', spec);
    t.same(c.ips('s'), ['198.51.100.10'], `${name}: s gets .10`);
    const uncovered = c.alloc.setPools(edited);
    const o = c.reconcileAll().get('default/s');
    t.equal(o?.status, undefined, `${name}: nothing written`);
    t.same(o?.events, [], `${name}: no Event from reconcile (the controller's IPOutsidePools Warning stands)`);
    t.same(c.ips('s'), ['198.51.100.10'], `${name}: s keeps .10`);
    t.equal(c.views.get('default/s')?.annotations['barelb.io/allocated-from-pool'], 'lan', `${name}: allocated-from-pool still says lan`);
    if (!edited.some((p) => p.ranges.some((r) => r.contains(IpAddress.parse('198.51.100.10'))))) t.same(uncovered, ['default/s'], `${name}: setPools reports it`);
    const again = c.restart().get('default/s');
    t.equal(again?.status, undefined, `${name}: a new leader re-learns it and writes nothing`);
    t.same(c.ips('s'), ['198.51.100.10'], `${name}: still .10 after a restart`);
  }
});

t.test('after a pool edit uncovers its address, a Service that asks for another pool moves; the old address is not handed out again', async (t) => {
  const c = new Cluster([pool('lan', ['198.51.100.10-198.51.100.12']), pool('other', ['203.0.113.1-203.0.113.2'])]);
  c.put('s', { pool: 'lan' });
  c.setPools([pool('lan', ['198.51.100.11-198.51.100.12']), pool('other', ['203.0.113.1-203.0.113.2'])]);
  t.same(c.ips('s'), ['198.51.100.10'], 'kept');
  t.same(c.put('s', { pool: 'other' }).status, ['203.0.113.1'], 'a request change still moves it');
  t.equal(c.views.get('default/s')?.annotations['barelb.io/allocated-from-pool'], 'other');
  t.same(c.put('s', { pool: 'lan' }).status, ['198.51.100.11'], 'and back into the shrunk pool, not onto the old address');
});

t.test('a Service whose status shows an address from another pool than it names is moved, with or without a restart', async (t) => {
  const pools = [pool('lan', ['198.51.100.10-198.51.100.12']), pool('other', ['203.0.113.1-203.0.113.2'])];
  const c = new Cluster(pools);
  c.put('s', { pool: 'other' });
  t.same(c.ips('s'), ['203.0.113.1']);
  const view = c.views.get('default/s');
  // the annotation changed while no controller ran
  if (view) c.views.set('default/s', { ...view, annotations: { ...view.annotations, 'barelb.io/address-pool': 'lan' } });
  t.same(c.restart().get('default/s')?.status, ['198.51.100.10'], 'allocated-from-pool says other: a request change, so it moves');
});
