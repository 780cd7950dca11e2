import t from 'tap';
import { DEFAULT_LB_CLASS } from '../../src/controller/annotations.js';
import { reconcileService, REASON } from '../../src/controller/reconcile.js';
import { Allocator } from '../../src/ipam/allocator.js';
import { pool, view } from '../fixtures.js';

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
