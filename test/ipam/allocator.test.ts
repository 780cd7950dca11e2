import t from 'tap';
import { pool } from '../fixtures.js';
import fc from 'fast-check';
import { Allocator, type AddressRequest, type AllocationResult, type IpFamilyPolicy } from '../../src/ipam/allocator.js';
import { isBuggyIPv4 } from '../../src/ipam/address-pool.js';
import {
  AllocationError,
  InvalidRequestError,
  IpAvoidedError,
  IpInUseError,
  IpNotInPoolError,
  NoAddressError,
  PoolNotAllowedError,
  UnknownPoolError,
} from '../../src/ipam/errors.js';
import { IpRange } from '../../src/net/ip-range.js';
import { IpAddress, type IpFamily } from '../../src/net/ip.js';
import { selectorMatches } from '../../src/config/label-selector.js';
import type { PoolSpec } from '../../src/config/types.js';

// ---------------------------------------------------------------------------
// helpers

const ip = (s: string): IpAddress => IpAddress.parse(s);

const spec = pool;

type ReqOpts = Partial<Omit<AddressRequest, 'requestedIps'>> & { requestedIps?: string[] };

/** `key` is namespace/name; the namespace comes from it unless given. */
function req(key: string, opts: ReqOpts = {}): AddressRequest {
  const { requestedIps, ...rest } = opts;
  return {
    key,
    namespace: key.split('/')[0] as string,
    labels: {},
    pool: undefined,
    requestedIps: (requestedIps ?? []).map(ip),
    families: ['IPv4'],
    familyPolicy: 'SingleStack',
    sharingKey: undefined,
    ports: ['TCP/80'],
    ...rest,
  };
}

/** The assertions the helpers below need; every subtest has them. */
type Asserts = Pick<typeof t, 'pass' | 'fail' | 'ok'>;

const texts = (ips: readonly IpAddress[]): string[] => ips.map((a) => a.toString());

/** The addresses of a successful result, or a test failure. */
function ok(t: Asserts, r: AllocationResult, what = 'allocation succeeds'): string[] {
  if (!r.ok) {
    t.fail(`${what}: ${r.error.message}`);
    return [];
  }
  t.pass(what);
  return texts(r.assignment.ips);
}

function err(t: Asserts, r: AllocationResult, what = 'allocation fails'): AllocationError | undefined {
  if (r.ok) {
    t.fail(`${what}: got ${texts(r.assignment.ips).join(', ')}`);
    return undefined;
  }
  t.ok(r.error instanceof AllocationError, `${what}: an AllocationError`);
  return r.error;
}


// ---------------------------------------------------------------------------
// scenarios

t.test('lowest free address of the first pool that fits, deterministically', async (t) => {
  const pools = [spec('a', ['10.0.0.0/30']), spec('b', ['10.0.1.0/30'])];
  const run = (): string[] => {
    const al = new Allocator(pools);
    const got: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = al.assign(req(`default/s${i}`));
      got.push(r.ok ? `${texts(r.assignment.ips).join()}@${r.assignment.pool}` : r.error.code);
    }
    return got;
  };
  const first = run();
  t.same(first, ['10.0.0.0@a', '10.0.0.1@a', '10.0.0.2@a', '10.0.0.3@a', '10.0.1.0@b', '10.0.1.1@b']);
  t.same(run(), first, 'a second allocator makes the same choices');

  const al = new Allocator(pools);
  for (let i = 0; i < 3; i++) al.assign(req(`default/s${i}`));
  t.same(texts(al.release('default/s1')?.ips ?? []), ['10.0.0.1'], 'release returns the assignment');
  t.equal(al.assignmentOf('default/s1'), undefined, 'released');
  t.same(ok(t, al.assign(req('default/s9'))), ['10.0.0.1'], 'a released address is the lowest free again');
  t.equal(al.release('default/nobody'), undefined, 'releasing nothing');
});

t.test('ranges are searched in configured order', async (t) => {
  const al = new Allocator([spec('a', ['10.0.0.9', '10.0.0.1-10.0.0.2'])]);
  t.same(ok(t, al.assign(req('default/s1'))), ['10.0.0.9']);
  t.same(ok(t, al.assign(req('default/s2'))), ['10.0.0.1']);
});

t.test('the barelb.io/address-pool annotation picks the pool', async (t) => {
  const al = new Allocator([spec('a', ['10.0.0.0/30']), spec('b', ['10.0.1.0/30'])]);
  const r = al.assign(req('default/s1', { pool: 'b' }));
  t.same(ok(t, r), ['10.0.1.0']);
  t.equal(r.ok && r.assignment.pool, 'b');
  t.equal(al.assignmentOf('default/s1')?.pool, 'b');

  const e = err(t, al.assign(req('default/s2', { pool: 'nope' })));
  t.ok(e instanceof UnknownPoolError);
  t.equal(e?.code, 'BARELB_UNKNOWN_POOL');
  t.equal(e?.message, 'pool "nope" does not exist (configured pools: a, b)');
  t.equal(al.assignmentOf('default/s2'), undefined, 'a failed request takes nothing');

  const empty = new Allocator();
  t.equal(err(t, empty.assign(req('default/s1', { pool: 'a' })))?.message, 'pool "a" does not exist (configured pools: none)');
});

t.test('a full pool, or no pools, fails with NoAddressError naming the reasons', async (t) => {
  const al = new Allocator([spec('a', ['10.0.0.0/31'])]);
  al.assign(req('default/s1'));
  al.assign(req('default/s2'));
  const e = err(t, al.assign(req('default/s3')));
  t.ok(e instanceof NoAddressError);
  t.equal(e?.code, 'BARELB_NO_ADDRESS');
  t.equal(e?.message, 'no pool can give this Service an address: pool "a" is full for IPv4 (2 of 2 in use)');
  t.same((e as NoAddressError).reasons, ['pool "a" is full for IPv4 (2 of 2 in use)']);
  t.equal(al.assignmentOf('default/s3'), undefined);

  const named = err(t, al.assign(req('default/s3', { pool: 'a' })));
  t.match(named?.message, 'pool "a" is full for IPv4 (2 of 2 in use)', 'full named pool');

  const none = err(t, new Allocator().assign(req('default/s1')));
  t.equal(none?.message, 'no pool can give this Service an address: no pools are configured');
});

t.test('autoAssign: false pools are used only when asked for by name or by address', async (t) => {
  const pools = [spec('manual', ['10.0.0.0/30'], { autoAssign: false })];
  const al = new Allocator(pools);
  const e = err(t, al.assign(req('default/auto')), 'not picked automatically');
  t.ok(e instanceof NoAddressError);
  t.equal(e?.message, 'no pool can give this Service an address: pool "manual": autoAssign is false (request it by name)');
  t.same(ok(t, al.assign(req('default/byname', { pool: 'manual' }))), ['10.0.0.0'], 'by name');
  t.same(ok(t, al.assign(req('default/byip', { requestedIps: ['10.0.0.2'] }))), ['10.0.0.2'], 'by address');
  t.equal(al.assignmentOf('default/byip')?.pool, 'manual');

  const mixed = new Allocator([spec('manual', ['10.0.0.0/30'], { autoAssign: false }), spec('auto', ['10.0.1.0/30'])]);
  t.same(ok(t, mixed.assign(req('default/s1'))), ['10.0.1.0'], 'the next pool is used instead');
});

t.test('requested addresses', async (t) => {
  const al = new Allocator([
    spec('a', ['10.0.0.0/29']),
    spec('b', ['10.0.1.0/29']),
    spec('c', ['10.0.2.0/24'], { avoidBuggyIPs: true }),
  ]);
  t.same(ok(t, al.assign(req('default/s1', { requestedIps: ['10.0.0.5'] }))), ['10.0.0.5']);
  t.same(ok(t, al.assign(req('default/s2'))), ['10.0.0.0'], 'auto assignment still starts at the bottom');
  t.same(ok(t, al.assign(req('default/s3', { requestedIps: ['10.0.1.3'], pool: 'b' }))), ['10.0.1.3'], 'matching pool annotation');

  const rows: [name: string, request: AddressRequest, cls: new (...a: never[]) => AllocationError, code: string, message: string][] = [
    [
      'outside every pool',
      req('default/x', { requestedIps: ['192.168.0.1'] }),
      IpNotInPoolError,
      'BARELB_IP_NOT_IN_POOL',
      'requested address 192.168.0.1 is not in any configured pool',
    ],
    [
      'in another pool than the annotation names',
      req('default/x', { requestedIps: ['10.0.1.4'], pool: 'a' }),
      IpNotInPoolError,
      'BARELB_IP_NOT_IN_POOL',
      'requested address 10.0.1.4 is not in pool "a" named by barelb.io/address-pool (it is in pool "b")',
    ],
    [
      'addresses from two pools',
      req('default/x', { requestedIps: ['10.0.0.6', '10.0.1.6'] }),
      IpNotInPoolError,
      'BARELB_IP_NOT_IN_POOL',
      'requested address 10.0.1.6 is not in pool "a" like the other requested addresses',
    ],
    [
      'held by a Service that does not share',
      req('default/x', { requestedIps: ['10.0.0.5'] }),
      IpInUseError,
      'BARELB_IP_IN_USE',
      'requested address 10.0.0.5 is already used by default/s1: it does not allow sharing',
    ],
    [
      'an address avoidBuggyIPs skips',
      req('default/x', { requestedIps: ['10.0.2.255'] }),
      IpAvoidedError,
      'BARELB_IP_AVOIDED',
      'requested address 10.0.2.255 ends in .0 or .255, which pool "c" avoids (avoidBuggyIPs: true)',
    ],
  ];
  for (const [name, request, cls, code, message] of rows) {
    const before = al.holdersOf(request.requestedIps[request.requestedIps.length - 1] as IpAddress);
    const e = err(t, al.assign(request), name);
    t.ok(e instanceof cls, `${name}: ${cls.name}`);
    t.equal(e?.code, code, `${name}: code`);
    t.equal(e?.message, message, `${name}: message`);
    t.equal(al.assignmentOf(request.key), undefined, `${name}: nothing taken`);
    t.same(al.holdersOf(request.requestedIps[request.requestedIps.length - 1] as IpAddress), before, `${name}: holders unchanged`);
  }
  t.same((err(t, al.assign(req('default/x', { requestedIps: ['10.0.0.5'] }))) as IpInUseError).holders, ['default/s1']);

  t.same(ok(t, al.assign(req('default/s1', { requestedIps: ['10.0.0.5'] }))), ['10.0.0.5'], 'a Service may re-request what it holds');
  t.same(
    ok(t, al.assign(req('default/dual', { requestedIps: ['10.0.0.6', '10.0.0.7'] }))),
    ['10.0.0.6', '10.0.0.7'],
    'several addresses of one pool',
  );
  t.equal(al.assignmentOf('default/dual')?.pool, 'a');
});

t.test('a Service whose request fails keeps what it had', async (t) => {
  const al = new Allocator([spec('a', ['10.0.0.0/30'])]);
  al.assign(req('default/s1'));
  al.assign(req('default/s2'));
  const e = err(t, al.assign(req('default/s2', { requestedIps: ['10.0.0.0'] })));
  t.ok(e instanceof IpInUseError);
  t.same(texts(al.assignmentOf('default/s2')?.ips ?? []), ['10.0.0.1'], 'old assignment kept');
  t.same(al.holdersOf(ip('10.0.0.0')), ['default/s1'], 'the other Service keeps its address');
  t.same(al.holdersOf(ip('10.0.0.1')), ['default/s2']);
});

t.test('sharing an address by sharing key and disjoint ports', async (t) => {
  const al = new Allocator([spec('a', ['10.0.0.0/29'])]);
  const web = req('default/web', { sharingKey: 'k', ports: ['TCP/80'] });
  t.same(ok(t, al.assign(web)), ['10.0.0.0']);
  t.same(ok(t, al.assign(req('default/tls', { sharingKey: 'k', ports: ['TCP/443'] }))), ['10.0.0.0'], 'same key, other port: shares');
  t.same(ok(t, al.assign(req('default/dns', { sharingKey: 'k', ports: ['UDP/80'] }))), ['10.0.0.0'], 'same number, other protocol');
  t.same(al.holdersOf(ip('10.0.0.0')).sort(), ['default/dns', 'default/tls', 'default/web']);
  t.same(al.holdersOf(ip('10.0.0.0'), 'default/web').sort(), ['default/dns', 'default/tls'], 'holdersOf except');
  t.same(al.usage(), [{ name: 'a', size: 8n, used: 1n }], 'a shared address counts once');

  t.same(ok(t, al.assign(req('default/web2', { sharingKey: 'k', ports: ['TCP/80'] }))), ['10.0.0.1'], 'same key, same port: a new address');
  t.same(ok(t, al.assign(req('default/other', { sharingKey: 'j', ports: ['TCP/8080'] }))), ['10.0.0.2'], 'other key: a new address');
  t.same(ok(t, al.assign(req('default/plain', { ports: ['TCP/8081'] }))), ['10.0.0.3'], 'no key: a new address');

  const rows: [name: string, request: AddressRequest, holders: string[], message: string][] = [
    [
      'no sharing key',
      req('default/x', { requestedIps: ['10.0.0.0'], ports: ['TCP/9'] }),
      ['default/web', 'default/tls', 'default/dns'],
      'requested address 10.0.0.0 is already used by default/web, default/tls, default/dns: set barelb.io/allow-shared-ip: "k" to share it',
    ],
    [
      'other sharing key',
      req('default/x', { requestedIps: ['10.0.0.0'], sharingKey: 'j', ports: ['TCP/9'] }),
      ['default/web', 'default/tls', 'default/dns'],
      'its sharing key is "k", not "j"',
    ],
    [
      'same key, overlapping ports',
      req('default/x', { requestedIps: ['10.0.0.0'], sharingKey: 'k', ports: ['TCP/9', 'TCP/443'] }),
      ['default/tls'],
      'requested address 10.0.0.0 is already used by default/tls: both use TCP/443',
    ],
    [
      'holder does not share',
      req('default/x', { requestedIps: ['10.0.0.3'], sharingKey: 'k', ports: ['TCP/9'] }),
      ['default/plain'],
      'requested address 10.0.0.3 is already used by default/plain: it does not allow sharing',
    ],
  ];
  for (const [name, request, holders, message] of rows) {
    const e = err(t, al.assign(request), name);
    t.ok(e instanceof IpInUseError, `${name}: IpInUseError`);
    t.same((e as IpInUseError).holders, holders, `${name}: holders`);
    t.match(e?.message, message, `${name}: message`);
    t.equal(al.assignmentOf('default/x'), undefined, `${name}: nothing taken`);
  }
  t.same(ok(t, al.assign(req('default/x', { requestedIps: ['10.0.0.0'], sharingKey: 'k', ports: ['TCP/9'] }))), ['10.0.0.0'], 'requested and shareable');

  // the address stays taken until its last user lets go
  for (const k of ['default/web', 'default/tls', 'default/dns']) al.release(k);
  t.same(al.holdersOf(ip('10.0.0.0')), ['default/x']);
  t.equal(al.usage()[0]?.used, 4n);
  al.release('default/x');
  t.same(al.holdersOf(ip('10.0.0.0')), []);
  t.equal(al.usage()[0]?.used, 3n);
  t.same(ok(t, al.assign(req('default/new'))), ['10.0.0.0'], 'free again once nobody uses it');
});

t.test('adopt re-asserts what a Service holds: its ports and sharing key as it states them now', async (t) => {
  const X = '10.0.0.0';
  const rows: [name: string, before: ReqOpts, after: ReqOpts, newcomer: ReqOpts, want: string][] = [
    ['new port: taken', { sharingKey: 'k' }, { sharingKey: 'k', ports: ['TCP/8080'] }, { sharingKey: 'k', ports: ['TCP/8080'] }, '10.0.0.1'],
    ['new protocol: taken', { sharingKey: 'k' }, { sharingKey: 'k', ports: ['UDP/80'] }, { sharingKey: 'k', ports: ['UDP/80'] }, '10.0.0.1'],
    ['old port: free', { sharingKey: 'k' }, { sharingKey: 'k', ports: ['TCP/8080'] }, { sharingKey: 'k', ports: ['TCP/80'] }, X],
    ['old key: no longer joins', { sharingKey: 'k' }, { sharingKey: 'j' }, { sharingKey: 'k', ports: ['TCP/443'] }, '10.0.0.1'],
    ['new key: joins', { sharingKey: 'k' }, { sharingKey: 'j' }, { sharingKey: 'j', ports: ['TCP/443'] }, X],
    ['key dropped', { sharingKey: 'k' }, {}, { sharingKey: 'k', ports: ['TCP/443'] }, '10.0.0.1'],
    ['key added', {}, { sharingKey: 'k' }, { sharingKey: 'k', ports: ['TCP/443'] }, X],
  ];
  for (const [name, before, after, newcomer, want] of rows) {
    const al = new Allocator([spec('a', ['10.0.0.0/29'])]);
    t.same(ok(t, al.assign(req('default/a', before)), name), [X]);
    t.same(ok(t, al.adopt(req('default/a', after), [ip(X)]), `${name}: re-asserted`), [X]);
    t.same(al.usage(), [{ name: 'a', size: 8n, used: 1n }], `${name}: still one address in use`);
    t.same(ok(t, al.assign(req('default/d', newcomer)), name), [want], `${name}: newcomer`);
  }

  // a clash changes nothing: the others keep the address and the old record stands
  const al = new Allocator([spec('a', ['10.0.0.0/29'])]);
  al.assign(req('default/a', { sharingKey: 'k', ports: ['TCP/80'] }));
  al.assign(req('default/b', { sharingKey: 'k', ports: ['TCP/443'] }));
  const clashes: [name: string, after: ReqOpts, why: string][] = [
    ['ports overlap', { sharingKey: 'k', ports: ['TCP/443'] }, 'both use TCP/443'],
    ['other key', { sharingKey: 'j' }, 'its sharing key is "k", not "j"'],
    ['no key', {}, 'set barelb.io/allow-shared-ip: "k" to share it'],
  ];
  for (const [name, after, why] of clashes) {
    const e = err(t, al.adopt(req('default/a', after), [ip(X)]), name);
    t.ok(e instanceof IpInUseError, `${name}: IpInUseError`);
    t.match(e?.message, why, `${name}: says why`);
    t.same(al.holdersOf(ip(X)), ['default/a', 'default/b'], `${name}: holders unchanged`);
  }
  t.same(ok(t, al.assign(req('default/c', { sharingKey: 'k', ports: ['TCP/80'] }))), ['10.0.0.1'], "a's record still says TCP/80");
  // re-asserting every pass must not reorder the holders an IpInUseError lists, or each pass would be a new Warning
  ok(t, al.adopt(req('default/a', { sharingKey: 'k', ports: ['TCP/80'] }), [ip(X)]));
  t.same(al.holdersOf(ip(X)), ['default/a', 'default/b'], 'holders in the order they came');
});

t.test('sharing prefers the lowest address already shared under the key', async (t) => {
  const al = new Allocator([spec('a', ['10.0.0.0/29']), spec('b', ['10.0.1.0/29'])]);
  al.assign(req('default/plain'));
  al.assign(req('default/s1', { sharingKey: 'k', ports: ['TCP/80'], requestedIps: ['10.0.0.5'] }));
  al.assign(req('default/s2', { sharingKey: 'k', ports: ['TCP/80'], requestedIps: ['10.0.0.3'] }));
  t.same(ok(t, al.assign(req('default/s3', { sharingKey: 'k', ports: ['TCP/443'] }))), ['10.0.0.3'], 'lowest shared, not lowest free');
  t.same(ok(t, al.assign(req('default/s4', { sharingKey: 'k', ports: ['TCP/443'] }))), ['10.0.0.5'], 'next shared without a port clash');
  t.same(ok(t, al.assign(req('default/s5', { sharingKey: 'k', ports: ['TCP/443'], pool: 'b' }))), ['10.0.1.0'], 'only shares inside the chosen pool');
});

// An address avoidBuggyIPs skips can still be held, through adopt. Asking for it by
// address is refused (IpAvoidedError), so automatic assignment must not hand it out
// to a second Service through its sharing key either.
t.test('sharing never hands out an address the pool avoids', async (t) => {
  const al = new Allocator([spec('a', ['10.0.0.0/24'], { avoidBuggyIPs: true })]);
  t.same(ok(t, al.adopt(req('default/s1', { sharingKey: 'k', ports: ['TCP/80'] }), [ip('10.0.0.0')])), ['10.0.0.0']);
  const asked = err(t, al.assign(req('default/s2', { sharingKey: 'k', ports: ['TCP/443'], requestedIps: ['10.0.0.0'] })));
  t.ok(asked instanceof IpAvoidedError, 'requesting it by address is refused');
  t.same(ok(t, al.assign(req('default/s3', { sharingKey: 'k', ports: ['TCP/443'] }))), ['10.0.0.1'], 'automatic assignment skips it too');
});

// Pinned as implemented (doubtful, reported): an avoided address held through adopt is
// not counted in usage().used, since size leaves avoided addresses out as well.
t.test('usage leaves out held addresses the pool avoids', async (t) => {
  const al = new Allocator([spec('a', ['10.0.0.0/24'], { avoidBuggyIPs: true })]);
  al.adopt(req('default/s1'), [ip('10.0.0.255')]);
  al.assign(req('default/s2'));
  t.same(al.holdersOf(ip('10.0.0.255')), ['default/s1']);
  t.same(al.usage(), [{ name: 'a', size: 254n, used: 1n }]);
  al.release('default/s1');
  t.same(al.usage(), [{ name: 'a', size: 254n, used: 1n }]);
  t.same(ok(t, al.assign(req('default/s3'))), ['10.0.0.2'], 'released, still avoided');
});

t.test('avoidBuggyIPs skips x.x.x.0 and x.x.x.255', async (t) => {
  const avoid = new Allocator([spec('a', ['10.0.0.254-10.0.1.1'], { avoidBuggyIPs: true })]);
  const got = [0, 1, 2].map((i) => {
    const r = avoid.assign(req(`default/s${i}`));
    return r.ok ? texts(r.assignment.ips).join() : r.error.code;
  });
  t.same(got, ['10.0.0.254', '10.0.1.1', 'BARELB_NO_ADDRESS']);
  t.same(avoid.usage(), [{ name: 'a', size: 2n, used: 2n }]);

  const plain = new Allocator([spec('a', ['10.0.0.254-10.0.1.1'])]);
  const all = [0, 1, 2, 3].map((i) => ok(t, plain.assign(req(`default/s${i}`))).join());
  t.same(all, ['10.0.0.254', '10.0.0.255', '10.0.1.0', '10.0.1.1'], 'without the flag every address is used');

  const v6 = new Allocator([spec('a', ['2001:db8::ff-2001:db8::100'], { avoidBuggyIPs: true })]);
  t.same(ok(t, v6.assign(req('default/s1', { families: ['IPv6'] }))), ['2001:db8::ff'], 'IPv6 is not affected');
});

t.test('namespaces restrict which Services may use a pool', async (t) => {
  const al = new Allocator([spec('team', ['10.0.0.0/30'], { namespaces: ['team-a'] }), spec('shared', ['10.0.1.0/30'])]);
  t.same(ok(t, al.assign(req('team-a/s1'))), ['10.0.0.0']);
  t.same(ok(t, al.assign(req('team-b/s1'))), ['10.0.1.0'], 'skips the pool it may not use');
  const e = err(t, al.assign(req('team-b/s2', { pool: 'team' })));
  t.ok(e instanceof PoolNotAllowedError);
  t.equal(e?.code, 'BARELB_POOL_NOT_ALLOWED');
  t.equal(e?.message, 'pool "team" is not allowed for this Service: namespace "team-b" is not in its namespaces (team-a)');
  t.equal((e as PoolNotAllowedError).pool, 'team');
  const byIp = err(t, al.assign(req('team-b/s2', { requestedIps: ['10.0.0.3'] })));
  t.ok(byIp instanceof PoolNotAllowedError, 'a requested address of a forbidden pool is refused too');
  t.match(byIp?.message, 'namespace "team-b" is not in its namespaces (team-a)');

  const only = new Allocator([spec('team', ['10.0.0.0/30'], { namespaces: ['team-a', 'team-c'] })]);
  t.equal(
    err(t, only.assign(req('team-b/s1')))?.message,
    'no pool can give this Service an address: pool "team": namespace "team-b" is not in its namespaces (team-a, team-c)',
  );
});

t.test('serviceSelector restricts which Services may use a pool', async (t) => {
  const selector = { matchLabels: { exposure: 'public' }, matchExpressions: [] };
  const al = new Allocator([spec('public', ['10.0.0.0/30'], { serviceSelector: selector }), spec('rest', ['10.0.1.0/30'])]);
  t.same(ok(t, al.assign(req('default/s1', { labels: { exposure: 'public' } }))), ['10.0.0.0']);
  t.same(ok(t, al.assign(req('default/s2', { labels: { exposure: 'internal' } }))), ['10.0.1.0']);
  const e = err(t, al.assign(req('default/s3', { pool: 'public' })));
  t.ok(e instanceof PoolNotAllowedError);
  t.equal(
    e?.message,
    "pool \"public\" is not allowed for this Service: the Service's labels do not match its serviceSelector (exposure=public)",
  );
});

t.test('dual-stack follows familyPolicy and families', async (t) => {
  const pools = [
    spec('v4only', ['10.0.0.0/30']),
    spec('dual', ['10.0.1.0/30', '2001:db8:1::/126']),
    spec('v6only', ['2001:db8:2::/126']),
  ];
  const rows: [name: string, policy: IpFamilyPolicy, families: IpFamily[], want: string[] | string, pool?: string][] = [
    ['SingleStack IPv4', 'SingleStack', ['IPv4'], ['10.0.0.0'], 'v4only'],
    ['SingleStack IPv6: first pool with IPv6', 'SingleStack', ['IPv6'], ['2001:db8:1::'], 'dual'],
    ['SingleStack takes only the primary family', 'SingleStack', ['IPv6', 'IPv4'], ['2001:db8:1::'], 'dual'],
    ['RequireDualStack, IPv4 first', 'RequireDualStack', ['IPv4', 'IPv6'], ['10.0.1.0', '2001:db8:1::'], 'dual'],
    ['RequireDualStack, IPv6 first', 'RequireDualStack', ['IPv6', 'IPv4'], ['2001:db8:1::', '10.0.1.0'], 'dual'],
    ['PreferDualStack finds the dual pool', 'PreferDualStack', ['IPv4', 'IPv6'], ['10.0.1.0', '2001:db8:1::'], 'dual'],
    ['PreferDualStack with one family', 'PreferDualStack', ['IPv4'], ['10.0.0.0'], 'v4only'],
  ];
  for (const [name, familyPolicy, families, want, pool] of rows) {
    const al = new Allocator(pools);
    const r = al.assign(req('default/s', { familyPolicy, families }));
    t.same(ok(t, r, name), want, name);
    t.equal(r.ok && r.assignment.pool, pool, `${name}: pool`);
  }

  const v4 = new Allocator([spec('v4only', ['10.0.0.0/30'])]);
  t.same(ok(t, v4.assign(req('default/p', { familyPolicy: 'PreferDualStack', families: ['IPv4', 'IPv6'] }))), ['10.0.0.0'], 'PreferDualStack falls back to the primary family');
  const e = err(t, v4.assign(req('default/r', { familyPolicy: 'RequireDualStack', families: ['IPv4', 'IPv6'] })));
  t.ok(e instanceof NoAddressError);
  t.equal(e?.message, 'no pool can give this Service an address: pool "v4only" has no IPv6 addresses');
  t.equal(err(t, v4.assign(req('default/s6', { families: ['IPv6'] })))?.message, 'no pool can give this Service an address: pool "v4only" has no IPv6 addresses');
  t.equal(
    err(t, v4.assign(req('default/p6', { familyPolicy: 'PreferDualStack', families: ['IPv6', 'IPv4'] })))?.message,
    'no pool can give this Service an address: pool "v4only" has no IPv6 addresses',
    'PreferDualStack still needs its primary family',
  );

  // a dual-stack pool whose IPv6 part is full
  const full = new Allocator([spec('dual', ['10.0.1.0/30', '2001:db8:1::/127'])]);
  full.assign(req('default/a', { families: ['IPv6'] }));
  full.assign(req('default/b', { families: ['IPv6'] }));
  t.match(
    err(t, full.assign(req('default/r', { familyPolicy: 'RequireDualStack', families: ['IPv4', 'IPv6'] })))?.message,
    'pool "dual" is full for IPv4 and IPv6 (2 of 6 in use)',
  );
  t.same(
    ok(t, full.assign(req('default/p', { familyPolicy: 'PreferDualStack', families: ['IPv4', 'IPv6'] }))),
    ['10.0.1.0'],
    'PreferDualStack takes what there is',
  );
});

t.test('setPools keeps held addresses and reports the uncovered ones', async (t) => {
  const a = spec('a', ['10.0.0.0/30']);
  const b = spec('b', ['10.0.1.0/30']);
  const al = new Allocator([a, b]);
  al.assign(req('default/s1'));
  al.assign(req('default/s2', { pool: 'b' }));
  al.assign(req('default/s3', { requestedIps: ['10.0.0.2'], sharingKey: 'k', ports: ['TCP/1'] }));
  al.assign(req('default/s4', { requestedIps: ['10.0.0.2'], sharingKey: 'k', ports: ['TCP/2'] }));

  t.same(al.setPools([b]), ['default/s1', 'default/s3', 'default/s4'], 'Services whose addresses no pool covers, sorted');
  t.same(texts(al.assignmentOf('default/s1')?.ips ?? []), ['10.0.0.0'], 'still held');
  t.equal(al.assignmentOf('default/s1')?.pool, undefined, 'but in no pool');
  t.equal(al.assignmentOf('default/s2')?.pool, 'b');
  t.same(al.usage(), [{ name: 'b', size: 4n, used: 1n }]);
  t.same(al.holdersOf(ip('10.0.0.0')), ['default/s1']);
  const clash = err(t, al.adopt(req('default/s9'), [ip('10.0.0.0')]), 'an uncovered address is still protected');
  t.ok(clash instanceof IpInUseError);

  // the addresses come back under a new pool of another name
  const c = spec('c', ['10.0.0.0/29']);
  t.same(al.setPools([c, b]), [], 'nothing uncovered');
  t.equal(al.assignmentOf('default/s1')?.pool, 'c');
  t.equal(al.assignmentOf('default/s3')?.pool, 'c');
  t.same(al.usage(), [
    { name: 'c', size: 8n, used: 2n },
    { name: 'b', size: 4n, used: 1n },
  ]);
  t.same(ok(t, al.assign(req('default/s5'))), ['10.0.0.1'], 'held addresses are not handed out again');

  // an uncovered address is freed only by release
  al.setPools([b]);
  al.release('default/s1');
  t.same(al.holdersOf(ip('10.0.0.0')), []);
  al.setPools([c, b]);
  t.same(al.usage()[0], { name: 'c', size: 8n, used: 2n }, 'released while uncovered: not counted when covered again');
  t.same(ok(t, al.assign(req('default/s6'))), ['10.0.0.0']);
});

t.test('setPools never changes which addresses a Service has', async (t) => {
  const al = new Allocator([spec('a', ['10.0.0.0/30'])]);
  al.assign(req('default/s1'));
  al.setPools([spec('a', ['10.0.0.0/30'], { namespaces: ['elsewhere'], avoidBuggyIPs: true, autoAssign: false })]);
  t.same(texts(al.assignmentOf('default/s1')?.ips ?? []), ['10.0.0.0'], 'kept though the pool now avoids and refuses it');
  t.equal(al.assignmentOf('default/s1')?.pool, 'a');
  t.same(al.usage(), [{ name: 'a', size: 3n, used: 0n }]);
});

t.test('from: the pool an address was given from survives pool edits, so a Service naming that pool is still satisfied', async (t) => {
  const lan = spec('lan', ['10.0.0.0/30']);
  const rows: [name: string, edited: PoolSpec[], pool: string | undefined][] = [
    ['shrunk', [spec('lan', ['10.0.0.2/31'])], undefined],
    ['removed', [], undefined],
    ['moved into another pool', [spec('lan', ['10.0.0.2/31']), spec('b', ['10.0.0.0/31'])], 'b'],
    ['renamed', [spec('b', ['10.0.0.0/30'])], 'b'],
  ];
  for (const [name, edited, pool] of rows) {
    const al = new Allocator([lan, spec('other', ['10.0.1.0/30'])]);
    const r = al.assign(req('default/s', { pool: 'lan' }));
    t.same(ok(t, r, name), ['10.0.0.0']);
    al.setPools([...edited, spec('other', ['10.0.1.0/30'])]);
    const a = al.assignmentOf('default/s');
    t.match(a, { pool, from: 'lan' }, `${name}: pool follows the config, from does not`);
    if (!a) continue;
    t.ok(al.satisfies(req('default/s', { pool: 'lan' }), a), `${name}: still answers pool: lan`);
    t.ok(al.satisfies(req('default/s'), a), `${name}: and no pool`);
    t.notOk(al.satisfies(req('default/s', { pool: 'other' }), a), `${name}: not another pool`);
    t.same(ok(t, al.adopt(req('default/s', { pool: 'lan' }), a.ips, a.from), `${name}: re-asserted`), ['10.0.0.0']);
    t.equal(al.assignmentOf('default/s')?.from, 'lan', `${name}: from kept`);
  }

  const al = new Allocator([lan]);
  al.adopt(req('default/a'), [ip('10.0.0.1')]);
  t.equal(al.assignmentOf('default/a')?.from, 'lan', 'adopt: the pool holding it now by default');
  al.adopt(req('default/b'), [ip('10.0.0.2')], 'gone');
  t.equal(al.assignmentOf('default/b')?.from, 'gone', 'adopt: what the cluster says');
  al.adopt(req('default/c'), [ip('192.168.0.1')]);
  t.equal(al.assignmentOf('default/c')?.from, undefined, 'adopt: outside every pool, said by nobody');
});

t.test('adopt takes what the cluster says, ignoring pool rules', async (t) => {
  const al = new Allocator([
    spec('manual', ['10.0.0.0/29'], { autoAssign: false, namespaces: ['other'], avoidBuggyIPs: true }),
    spec('auto', ['10.0.1.0/29']),
  ]);
  const r1 = al.adopt(req('default/s1'), [ip('10.0.0.3')]);
  t.same(ok(t, r1, 'a pool the Service could not have asked for'), ['10.0.0.3']);
  t.equal(r1.ok && r1.assignment.pool, 'manual');
  t.same(ok(t, al.adopt(req('default/s2'), [ip('192.168.7.7')]), 'an address in no pool'), ['192.168.7.7']);
  t.equal(al.assignmentOf('default/s2')?.pool, undefined);
  t.same(ok(t, al.adopt(req('default/s3'), [ip('10.0.0.0')]), 'an address avoidBuggyIPs skips'), ['10.0.0.0']);
  t.same(ok(t, al.adopt(req('default/s4'), [ip('10.0.1.1'), ip('2001:db8::1')])), ['10.0.1.1', '2001:db8::1']);
  t.equal(al.assignmentOf('default/s4')?.pool, undefined, 'addresses in more than one pool (or none): no single pool');

  const e = err(t, al.adopt(req('default/s5'), [ip('10.0.1.1')]), 'held by a Service that does not share');
  t.ok(e instanceof IpInUseError);
  t.equal(e?.message, 'requested address 10.0.1.1 is already used by default/s4: it does not allow sharing');
  t.equal(al.assignmentOf('default/s5'), undefined);

  // adopt replaces the Service's previous addresses
  t.same(ok(t, al.adopt(req('default/s1'), [ip('10.0.1.5')])), ['10.0.1.5']);
  t.same(al.holdersOf(ip('10.0.0.3')), [], 'the old address is released');
  t.same(ok(t, al.assign(req('default/x', { pool: 'manual', namespace: 'other' }))), ['10.0.0.1'], 'and free again');

  // a failed adopt leaves the Service's addresses alone
  err(t, al.adopt(req('default/s1'), [ip('10.0.1.1')]));
  t.same(texts(al.assignmentOf('default/s1')?.ips ?? []), ['10.0.1.5']);

  // sharing applies to adopt as well
  al.assign(req('default/k1', { sharingKey: 'k', ports: ['TCP/80'], requestedIps: ['10.0.1.6'] }));
  t.same(ok(t, al.adopt(req('default/k2', { sharingKey: 'k', ports: ['TCP/443'] }), [ip('10.0.1.6')])), ['10.0.1.6']);
  t.ok(err(t, al.adopt(req('default/k3', { sharingKey: 'k', ports: ['TCP/80'] }), [ip('10.0.1.6')])) instanceof IpInUseError);
});

t.test('usage counts distinct held addresses in each pool', async (t) => {
  const al = new Allocator([spec('a', ['10.0.0.0/29', '2001:db8::/126']), spec('b', ['10.0.1.0/24'], { avoidBuggyIPs: true })]);
  t.same(al.usage(), [
    { name: 'a', size: 12n, used: 0n },
    { name: 'b', size: 254n, used: 0n },
  ]);
  al.assign(req('default/s1', { familyPolicy: 'RequireDualStack', families: ['IPv4', 'IPv6'] }));
  al.assign(req('default/s2', { pool: 'b' }));
  al.adopt(req('default/s3'), [ip('192.168.0.1')]);
  t.same(al.usage(), [
    { name: 'a', size: 12n, used: 2n },
    { name: 'b', size: 254n, used: 1n },
  ]);
  al.release('default/s1');
  t.same(al.usage()[0], { name: 'a', size: 12n, used: 0n });
});

t.test('prefer keeps a Service on its old addresses where still valid', async (t) => {
  const al = new Allocator([spec('a', ['10.0.0.0/29']), spec('b', ['10.0.1.0/29'])]);
  al.assign(req('default/s0'));
  const first = ok(t, al.assign(req('default/s1')));
  t.same(first, ['10.0.0.1']);
  al.release('default/s0');
  const old = al.assignmentOf('default/s1')?.ips ?? [];
  t.same(ok(t, al.assign(req('default/s1', { ports: ['TCP/81'] }), old)), ['10.0.0.1'], 'kept, though a lower address is free');
  t.same(ok(t, al.assign(req('default/s1', { pool: 'b' }), old)), ['10.0.1.0'], 'moved when the old address is in another pool');
  t.same(al.holdersOf(ip('10.0.0.1')), [], 'the old address is released');

  // a preferred address is used only if the request could have it
  const p = new Allocator([spec('a', ['10.0.0.0/24'], { avoidBuggyIPs: true }), spec('b', ['10.0.1.0/24'])]);
  p.assign(req('default/holder', { requestedIps: ['10.0.0.7'] }));
  p.adopt(req('default/edge'), [ip('10.0.0.255')]);
  const rows: [name: string, prefer: string[], want: string[]][] = [
    ['held by a Service that does not share', ['10.0.0.7'], ['10.0.0.1']],
    ['avoided by the pool', ['10.0.0.0'], ['10.0.0.1']],
    ['in another pool', ['10.0.1.9'], ['10.0.0.1']],
    ['of another family', ['2001:db8::1'], ['10.0.0.1']],
    ['usable', ['10.0.0.9'], ['10.0.0.9']],
    ['first usable of several', ['10.0.0.7', '10.0.0.12', '10.0.0.11'], ['10.0.0.12']],
  ];
  for (const [name, prefer, want] of rows) {
    t.same(ok(t, p.assign(req('default/s', { pool: 'a' }), prefer.map(ip)), name), want, name);
    p.release('default/s');
  }
  t.same(p.holdersOf(ip('10.0.0.7')), ['default/holder'], 'the holder keeps its address');
});

t.test('satisfies', async (t) => {
  const al = new Allocator([spec('a', ['10.0.0.0/29', '2001:db8::/126']), spec('b', ['10.0.1.0/29'])]);
  const dualReq = req('default/d', { familyPolicy: 'RequireDualStack', families: ['IPv4', 'IPv6'] });
  const r = al.assign(dualReq);
  const dual = r.ok ? r.assignment : undefined;
  t.ok(dual);
  if (!dual) return;
  const rows: [name: string, request: AddressRequest, want: boolean][] = [
    ['same request', dualReq, true],
    ['PreferDualStack is met by both', req('default/d', { familyPolicy: 'PreferDualStack', families: ['IPv4', 'IPv6'] }), true],
    ['SingleStack wants one address', req('default/d'), false],
    ['other pool named', { ...dualReq, pool: 'b' }, false],
    ['same pool named', { ...dualReq, pool: 'a' }, true],
    ['requested addresses match', { ...dualReq, requestedIps: [ip('2001:db8::'), ip('10.0.0.0')] }, true],
    ['requested addresses differ', { ...dualReq, requestedIps: [ip('10.0.0.1')] }, false],
  ];
  for (const [name, request, want] of rows) t.equal(al.satisfies(request, dual), want, name);

  const single = al.assign(req('default/s'));
  if (single.ok) {
    t.ok(al.satisfies(req('default/s'), single.assignment), 'single stack');
    t.notOk(al.satisfies(req('default/s', { families: ['IPv6'] }), single.assignment), 'wrong family');
    t.ok(
      al.satisfies(req('default/s', { familyPolicy: 'PreferDualStack', families: ['IPv4', 'IPv6'] }), single.assignment),
      'PreferDualStack is met by the primary family alone',
    );
    t.notOk(
      al.satisfies(req('default/s', { familyPolicy: 'RequireDualStack', families: ['IPv4', 'IPv6'] }), single.assignment),
      'RequireDualStack is not',
    );
  } else t.fail(single.error.message);

  // sharing conflicts make an assignment unsatisfying
  al.assign(req('default/k1', { sharingKey: 'k', ports: ['TCP/80'], requestedIps: ['10.0.1.5'] }));
  const k2 = al.assign(req('default/k2', { sharingKey: 'k', ports: ['TCP/443'], requestedIps: ['10.0.1.5'] }));
  if (k2.ok) {
    t.ok(al.satisfies(req('default/k2', { sharingKey: 'k', ports: ['TCP/443'] }), k2.assignment));
    t.notOk(al.satisfies(req('default/k2', { sharingKey: 'k', ports: ['TCP/80'] }), k2.assignment), 'port clash');
    t.notOk(al.satisfies(req('default/k2', { ports: ['TCP/443'] }), k2.assignment), 'sharing key dropped');
  } else t.fail(k2.error.message);
});

t.test('every AllocationError has a stable code', async (t) => {
  const e = new InvalidRequestError('barelb.io/loadBalancerIPs', 'x', 'not an address');
  t.equal(e.code, 'BARELB_INVALID_REQUEST');
  t.equal(e.message, 'barelb.io/loadBalancerIPs "x": not an address');
  t.ok(e instanceof AllocationError);
  const codes = [
    new UnknownPoolError('p', []).code,
    new PoolNotAllowedError('p', 'r').code,
    new IpNotInPoolError('1.2.3.4', 'w').code,
    new IpInUseError('1.2.3.4', ['a/b'], '').code,
    new IpAvoidedError('1.2.3.0', 'p').code,
    new NoAddressError([]).code,
    e.code,
  ];
  t.equal(new Set(codes).size, codes.length, 'codes are distinct');
  t.equal(new IpInUseError('1.2.3.4', ['a/b'], '').message, 'requested address 1.2.3.4 is already used by a/b', 'no reason, no colon');
});

// ---------------------------------------------------------------------------
// properties over random operation sequences

/** Every address an operation can mention: 3 blocks of 8 IPv4 crossing .255/.0, 3 of 4 IPv6, 2 outside. */
const BLOCKS_V4 = [0, 1, 2].map((i) => IpRange.parse(`10.0.${2 * i}.252-10.0.${2 * i + 1}.3`));
const BLOCKS_V6 = [0, 1, 2].map((i) => IpRange.parse(`2001:db8:${i}::-2001:db8:${i}::3`));
const UNIVERSE: IpAddress[] = [
  ...[...BLOCKS_V4, ...BLOCKS_V6].flatMap((r) => {
    const out: IpAddress[] = [];
    for (let v = r.first; v <= r.last; v++) out.push(IpAddress.fromValue(r.family, v));
    return out;
  }),
  ip('192.168.9.9'),
  ip('2001:db8:ff::1'),
];
const SERVICES = 6;
const svcKey = (i: number): string => `${i % 2 ? 'ns1' : 'ns2'}/s${i}`;

interface PoolGen {
  block: number;
  name: string;
  v4: [number, number];
  v6: [number, number] | null;
  autoAssign: boolean;
  avoidBuggyIPs: boolean;
  namespaces: string[];
  selector: boolean;
}

const poolGen = (block: number): fc.Arbitrary<PoolGen> =>
  fc.record({
    block: fc.constant(block),
    name: fc.constantFrom('p0', 'p1', 'p2'),
    v4: fc.tuple(fc.nat(7), fc.nat(7)).map(([a, b]) => (a <= b ? [a, b] : [b, a]) as [number, number]),
    v6: fc.option(fc.tuple(fc.nat(3), fc.nat(3)).map(([a, b]) => (a <= b ? [a, b] : [b, a]) as [number, number])),
    autoAssign: fc.constantFrom(true, true, true, false),
    avoidBuggyIPs: fc.boolean(),
    namespaces: fc.constantFrom([], [], ['ns1']),
    selector: fc.boolean(),
  });

/** 1-3 pools on distinct blocks, distinct names, random order. */
const poolsGen: fc.Arbitrary<PoolGen[]> = fc
  .shuffledSubarray([0, 1, 2], { minLength: 1 })
  .chain((blocks) => fc.tuple(...blocks.map(poolGen)))
  .map((ps) => {
    const seen = new Set<string>();
    return ps.filter((p) => !seen.has(p.name) && seen.add(p.name));
  });

function toSpecs(ps: readonly PoolGen[]): PoolSpec[] {
  return ps.map((p) => {
    const b4 = BLOCKS_V4[p.block] as IpRange;
    const b6 = BLOCKS_V6[p.block] as IpRange;
    const ranges = [new IpRange('IPv4', b4.first + BigInt(p.v4[0]), b4.first + BigInt(p.v4[1]))];
    if (p.v6) ranges.push(new IpRange('IPv6', b6.first + BigInt(p.v6[0]), b6.first + BigInt(p.v6[1])));
    return {
      name: p.name,
      ranges,
      autoAssign: p.autoAssign,
      avoidBuggyIPs: p.avoidBuggyIPs,
      namespaces: p.namespaces,
      serviceSelector: p.selector ? { matchLabels: { tier: 'a' }, matchExpressions: [] } : undefined,
    };
  });
}

const familiesGen: fc.Arbitrary<[IpFamilyPolicy, IpFamily[]]> = fc.constantFrom(
  ['SingleStack', ['IPv4']],
  ['SingleStack', ['IPv4']],
  ['SingleStack', ['IPv6']],
  ['PreferDualStack', ['IPv4', 'IPv6']],
  ['PreferDualStack', ['IPv6', 'IPv4']],
  ['PreferDualStack', ['IPv4']],
  ['RequireDualStack', ['IPv4', 'IPv6']],
  ['RequireDualStack', ['IPv6', 'IPv4']],
);

const requestGen = (svc: number): fc.Arbitrary<AddressRequest> =>
  fc
    .record({
      labels: fc.constantFrom<Record<string, string>>({}, { tier: 'a' }, { tier: 'b' }),
      pool: fc.constantFrom(undefined, undefined, undefined, 'p0', 'p1', 'p2', 'nope'),
      requested: fc.oneof(
        { arbitrary: fc.constant([] as number[]), weight: 4 },
        { arbitrary: fc.uniqueArray(fc.nat(UNIVERSE.length - 1), { minLength: 1, maxLength: 2 }), weight: 1 },
      ),
      fam: familiesGen,
      sharingKey: fc.constantFrom(undefined, 'k1', 'k1', 'k2'),
      ports: fc.subarray(['TCP/80', 'TCP/443', 'UDP/53'], { minLength: 1 }),
    })
    .map((r) => ({
      key: svcKey(svc),
      namespace: svcKey(svc).split('/')[0] as string,
      labels: r.labels,
      pool: r.pool,
      requestedIps: r.requested.map((i) => UNIVERSE[i] as IpAddress),
      families: r.fam[1],
      familyPolicy: r.fam[0],
      sharingKey: r.sharingKey,
      ports: r.ports,
    }));

type Op =
  | { op: 'assign'; req: AddressRequest; prefer: 'none' | 'old' | IpAddress[] }
  | { op: 'release'; key: string }
  | { op: 'adopt'; req: AddressRequest; ips: IpAddress[] }
  | { op: 'setPools'; pools: PoolGen[] };

const opGen: fc.Arbitrary<Op> = fc.nat(SERVICES - 1).chain((svc) =>
  fc.oneof(
    {
      arbitrary: fc.record({
        op: fc.constant('assign' as const),
        req: requestGen(svc),
        prefer: fc.oneof(
          { arbitrary: fc.constant<'none'>('none'), weight: 3 },
          { arbitrary: fc.constant<'old'>('old'), weight: 2 },
          { arbitrary: fc.uniqueArray(fc.nat(UNIVERSE.length - 1), { maxLength: 3 }).map((is) => is.map((i) => UNIVERSE[i] as IpAddress)), weight: 1 },
        ),
      }),
      weight: 6,
    },
    { arbitrary: fc.record({ op: fc.constant('release' as const), key: fc.constant(svcKey(svc)) }), weight: 2 },
    {
      arbitrary: fc.record({
        op: fc.constant('adopt' as const),
        req: requestGen(svc),
        // x.x.x.0 and x.x.x.255 often: adopt is the one way a Service can hold an address avoidBuggyIPs skips
        ips: fc.oneof(
          fc.uniqueArray(fc.nat(UNIVERSE.length - 1), { minLength: 1, maxLength: 2 }).map((is) => is.map((i) => UNIVERSE[i] as IpAddress)),
          fc.constantFrom(...UNIVERSE.filter(isBuggyIPv4)).map((x) => [x]),
        ),
      }),
      weight: 2,
    },
    { arbitrary: fc.record({ op: fc.constant('setPools' as const), pools: poolsGen }), weight: 1 },
  ),
);

/** What each Service asked with when it last got addresses (its sharing key and ports). */
type Holders = Map<string, AddressRequest>;

function snapshot(al: Allocator): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < SERVICES; i++) {
    const a = al.assignmentOf(svcKey(i));
    if (a) m.set(svcKey(i), texts(a.ips).join(','));
  }
  return m;
}

/** Whether `p` may give `r` an address automatically or by request. */
function mayUse(p: PoolSpec, r: AddressRequest, byAddress: boolean): boolean {
  if (r.pool !== undefined && r.pool !== p.name) return false;
  if (!byAddress && r.pool === undefined && !p.autoAssign) return false;
  if (p.namespaces.length > 0 && !p.namespaces.includes(r.namespace)) return false;
  if (p.serviceSelector && !selectorMatches(p.serviceSelector, r.labels)) return false;
  return true;
}

const inPool = (p: PoolSpec, a: IpAddress): boolean => p.ranges.some((r) => r.contains(a));
const avoided = (p: PoolSpec, a: IpAddress): boolean => p.avoidBuggyIPs && isBuggyIPv4(a);

/** Checks every invariant; returns a description of the first broken one. */
function checkState(al: Allocator, specs: readonly PoolSpec[], asked: Holders): string | undefined {
  // holdersOf agrees with the assignments
  const byIp = new Map<string, string[]>();
  for (let i = 0; i < SERVICES; i++) {
    const a = al.assignmentOf(svcKey(i));
    for (const x of a?.ips ?? []) byIp.set(x.toString(), [...(byIp.get(x.toString()) ?? []), svcKey(i)]);
  }
  for (const x of UNIVERSE) {
    const holders = al.holdersOf(x).sort();
    const expected = (byIp.get(x.toString()) ?? []).sort();
    if (holders.join() !== expected.join()) return `holdersOf(${x}) = [${holders}] but assignments say [${expected}]`;
    // no address held by two Services unless same sharing key and disjoint ports
    for (let i = 0; i < holders.length; i++) {
      for (let j = i + 1; j < holders.length; j++) {
        const a = asked.get(holders[i] as string);
        const b = asked.get(holders[j] as string);
        if (!a || !b) return `no request recorded for a holder of ${x}`;
        if (a.sharingKey === undefined || a.sharingKey !== b.sharingKey) {
          return `${x} held by ${a.key} (key ${a.sharingKey}) and ${b.key} (key ${b.sharingKey})`;
        }
        const clash = a.ports.filter((p) => b.ports.includes(p));
        if (clash.length > 0) return `${x} held by ${a.key} and ${b.key}, both on ${clash}`;
      }
    }
  }
  // usage: used = distinct held addresses in the pool (avoided ones excepted, see the scenario test)
  const usage = al.usage();
  if (usage.map((u) => u.name).join() !== specs.map((s) => s.name).join()) return 'usage lists other pools';
  for (const s of specs) {
    const u = usage.find((x) => x.name === s.name);
    const held = UNIVERSE.filter((x) => inPool(s, x) && !avoided(s, x) && al.holdersOf(x).length > 0).length;
    const size = UNIVERSE.filter((x) => inPool(s, x) && !avoided(s, x)).length;
    if (u?.used !== BigInt(held)) return `pool ${s.name}: used ${u?.used} but ${held} held`;
    if (u.size !== BigInt(size)) return `pool ${s.name}: size ${u.size} but ${size}`;
  }
  // assignment.pool is the one pool holding all its addresses, else undefined
  for (let i = 0; i < SERVICES; i++) {
    const a = al.assignmentOf(svcKey(i));
    if (!a) continue;
    const names = new Set(a.ips.map((x) => specs.find((s) => inPool(s, x))?.name));
    const want = names.size === 1 ? [...names][0] : undefined;
    if (a.pool !== want) return `${svcKey(i)}: pool ${a.pool}, expected ${want}`;
  }
  return undefined;
}

/** The single-stack, no-sharing, no-request choice made by hand: lowest free of the first pool that fits. */
function expectedAuto(al: Allocator, specs: readonly PoolSpec[], r: AddressRequest): string | undefined {
  const family = r.families[0] as IpFamily;
  for (const s of specs) {
    if (!mayUse(s, r, false)) continue;
    for (const range of s.ranges) {
      if (range.family !== family) continue;
      for (let v = range.first; v <= range.last; v++) {
        const x = IpAddress.fromValue(family, v);
        if (!avoided(s, x) && al.holdersOf(x).length === 0) return x.toString();
      }
    }
    if (r.pool !== undefined) return undefined;
  }
  return undefined;
}

function runOps(initial: PoolGen[], ops: readonly Op[]): { al: Allocator; specs: PoolSpec[]; error?: string } {
  let specs = toSpecs(initial);
  const al = new Allocator(specs);
  const asked: Holders = new Map();
  for (const [n, o] of ops.entries()) {
    const before = snapshot(al);
    const step = `step ${n} (${o.op}${'req' in o ? ` ${o.req.key}` : 'key' in o ? ` ${o.key}` : ''})`;
    let changed: string | undefined; // the only key whose assignment may change
    if (o.op === 'assign') {
      const r = o.req;
      const simple = r.requestedIps.length === 0 && r.sharingKey === undefined && r.familyPolicy === 'SingleStack' && o.prefer === 'none';
      const want = simple ? expectedAuto(al, specs, r) : undefined;
      const prefer = o.prefer === 'none' ? [] : o.prefer === 'old' ? (al.assignmentOf(r.key)?.ips ?? []) : o.prefer;
      const res = al.assign(r, prefer);
      if (res.ok) {
        asked.set(r.key, r);
        changed = r.key;
        const ips = res.assignment.ips;
        if (simple && texts(ips).join() !== want) return { al, specs, error: `${step}: got ${texts(ips)}, lowest free is ${want}` };
        // every address comes from one pool the request may use
        const pool = specs.find((s) => s.name === res.assignment.pool);
        if (!pool) return { al, specs, error: `${step}: assignment names no configured pool (${res.assignment.pool})` };
        const byAddress = r.requestedIps.length > 0;
        if (!mayUse(pool, r, byAddress)) return { al, specs, error: `${step}: pool ${pool.name} is not allowed for the request` };
        for (const x of ips) {
          if (!inPool(pool, x)) return { al, specs, error: `${step}: ${x} is not in pool ${pool.name}` };
          if (avoided(pool, x)) return { al, specs, error: `${step}: ${x} is avoided by pool ${pool.name}` };
        }
        if (byAddress) {
          if (texts(ips).join() !== texts(r.requestedIps).join()) return { al, specs, error: `${step}: not the requested addresses` };
        } else {
          const fams = ips.map((x) => x.family).join();
          const primary = r.families[0] as IpFamily;
          const okFams =
            r.familyPolicy === 'SingleStack'
              ? [primary]
              : r.familyPolicy === 'RequireDualStack'
                ? [r.families.join()]
                : [r.families.join(), primary];
          if (!okFams.includes(fams)) return { al, specs, error: `${step}: families ${fams} for ${r.familyPolicy} ${r.families}` };
        }
        if (!al.satisfies(r, res.assignment)) return { al, specs, error: `${step}: the new assignment does not satisfy its own request` };
      } else {
        if (!(res.error instanceof AllocationError)) return { al, specs, error: `${step}: not an AllocationError` };
        if (simple && want !== undefined) return { al, specs, error: `${step}: failed (${res.error.message}) though ${want} is free` };
      }
    } else if (o.op === 'adopt') {
      const res = al.adopt(o.req, o.ips);
      // adopt fails exactly when another Service holds one of the addresses and may not share it
      const conflict = o.ips.some((x) =>
        al.holdersOf(x, o.req.key).some((h) => {
          const other = asked.get(h);
          return (
            !other ||
            other.sharingKey === undefined ||
            other.sharingKey !== o.req.sharingKey ||
            other.ports.some((p) => o.req.ports.includes(p))
          );
        }),
      );
      if (res.ok) {
        if (conflict) return { al, specs, error: `${step}: adopt took an address another Service may not share` };
        asked.set(o.req.key, o.req);
        changed = o.req.key;
        if (texts(res.assignment.ips).join() !== texts(o.ips).join()) return { al, specs, error: `${step}: adopted other addresses` };
      } else {
        if (!(res.error instanceof IpInUseError)) return { al, specs, error: `${step}: adopt failed with ${res.error.code}` };
        if (!conflict) return { al, specs, error: `${step}: adopt refused without a conflict: ${res.error.message}` };
      }
    } else if (o.op === 'release') {
      al.release(o.key);
      if (al.assignmentOf(o.key)) return { al, specs, error: `${step}: still assigned` };
      asked.delete(o.key);
      changed = o.key;
    } else {
      specs = toSpecs(o.pools);
      const uncovered = al.setPools(specs);
      const want = [...snapshot(al).entries()]
        .filter(([k]) => (al.assignmentOf(k)?.ips ?? []).some((x) => !specs.some((s) => inPool(s, x))))
        .map(([k]) => k)
        .sort();
      if (uncovered.join() !== want.join()) return { al, specs, error: `${step}: setPools returned [${uncovered}], expected [${want}]` };
    }
    // only the Service operated on changes
    const after = snapshot(al);
    for (const k of new Set([...before.keys(), ...after.keys()])) {
      if (k !== changed && before.get(k) !== after.get(k)) {
        return { al, specs, error: `${step}: ${k} changed from ${before.get(k)} to ${after.get(k)}` };
      }
    }
    const broken = checkState(al, specs, asked);
    if (broken) return { al, specs, error: `${step}: ${broken}` };
  }
  return { al, specs };
}

t.test('random operation sequences keep every invariant (property)', async (t) => {
  fc.assert(
    fc.property(poolsGen, fc.array(opGen, { minLength: 1, maxLength: 30 }), (pools, ops) => {
      const { error } = runOps(pools, ops);
      if (error) throw new Error(error);
    }),
    {
      numRuns: 300,
      includeErrorInReport: true,
      // Histories random search finds only now and then, always tried first.
      examples: [
        [
          // an adopted x.x.x.255 must not be handed out again by sharing (see 'sharing never hands out ...')
          [{ block: 0, name: 'p0', v4: [0, 7], v6: null, autoAssign: true, avoidBuggyIPs: true, namespaces: [], selector: false }],
          [
            { op: 'adopt', req: req(svcKey(1), { sharingKey: 'k1', ports: ['TCP/80'] }), ips: [ip('10.0.0.255')] },
            { op: 'assign', req: req(svcKey(2), { sharingKey: 'k1', ports: ['TCP/443'] }), prefer: 'none' },
          ],
        ],
      ],
    },
  );
  t.pass('300 random sequences kept the invariants');
});

t.test('after releasing everything, the same requests get the same addresses (property)', async (t) => {
  fc.assert(
    fc.property(poolsGen, fc.array(opGen, { maxLength: 25 }), (pools, ops) => {
      // invariants are the previous property's business; this one only needs the final state
      const { al, specs } = runOps(pools, ops);
      const replay = ops.flatMap((o) => (o.op === 'assign' ? [o.req] : []));
      const play = (a: Allocator): string[] =>
        replay.map((r) => {
          const res = a.assign(r);
          return res.ok ? `${r.key}=${texts(res.assignment.ips)}@${res.assignment.pool}` : `${r.key}:${res.error.code}`;
        });
      const releaseAll = (a: Allocator): void => {
        for (let i = 0; i < SERVICES; i++) a.release(svcKey(i));
      };
      releaseAll(al);
      for (const u of al.usage()) if (u.used !== 0n) throw new Error(`pool ${u.name} still has ${u.used} in use`);
      const used = play(al);
      const fresh = play(new Allocator(specs));
      if (used.join(' ') !== fresh.join(' ')) throw new Error(`used allocator: ${used.join(' ')}\nfresh allocator: ${fresh.join(' ')}`);
      releaseAll(al);
      const again = play(al);
      if (again.join(' ') !== used.join(' ')) throw new Error(`second replay: ${again.join(' ')}\nfirst: ${used.join(' ')}`);
    }),
    { numRuns: 200, includeErrorInReport: true },
  );
  t.pass('200 random histories replayed identically');
});
