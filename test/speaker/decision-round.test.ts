import t from 'tap';
import { DEFAULT_ANNOUNCE } from '../../src/config/types.js';
import type { LivePeer } from '../../src/election/membership.js';
import { decideRound, type RoundInput, type RoundInterface, type RoundIp } from '../../src/speaker/decision-round.js';
import type { IpUser } from '../../src/speaker/eligibility.js';

const cluster: IpUser = { key: 'default/web', externalTrafficPolicy: 'Cluster', readyNodes: new Set() };
const nodes = ['node1', 'node2', 'node3'].map((name) => ({ name, labels: {}, internalIps: [`198.51.100.1${name.at(-1)}`] }));
/** Ranks: node1 > node2 > node3 for every address. */
const rank: Record<string, bigint> = { node1: 3n, node2: 2n, node3: 1n };

function ip(extra: Partial<RoundIp> = {}): RoundIp {
  return { ip: '198.51.100.200', family: 'IPv4', users: [cluster], ifname: 'eth0', announced: false, freeSinceMs: undefined, weightOf: (n) => rank[n] ?? 0n, ...extra };
}
function peer(node: string, extra: Partial<LivePeer> = {}): LivePeer {
  return { node, claims: new Set(), claimsKnown: true, hearsMe: true, apiReachable: true, rejoining: false, ...extra };
}
function eth0(extra: Partial<RoundInterface> = {}): Map<string, RoundInterface> {
  return new Map([['eth0', { up: true, listeningSince: 0, peers: [peer('node2'), peer('node3')], ...extra }]]);
}
function input(extra: Partial<RoundInput> = {}): RoundInput {
  return {
    self: 'node1', now: 10_000, listenForMs: 500, handoverAfterMs: (k) => k * 900, apiHandoverAfterMs: (k) => k * 2900, ips: [ip()], nodes, announce: DEFAULT_ANNOUNCE, nodeport: false,
    interfaces: eth0(), refused: new Set(), unfit: false, rejoining: false, forwarded: new Set(), ...extra,
  };
}

t.test('one action per tracked address', async (t) => {
  const rows: [string, Partial<RoundInput>, unknown][] = [
    ['best-ranked, listened long enough, nobody holds it: takes it', {}, { kind: 'announce', ip: '198.51.100.200', ifname: 'eth0', why: 'takes' }],
    ['no Service holds it any more: forgotten', { ips: [ip({ users: [] })] }, { kind: 'forget', ip: '198.51.100.200' }],
    ['no interface carries it: withdraws', { ips: [ip({ ifname: undefined })] }, { kind: 'withdraw', ip: '198.51.100.200' }],
    ['interface not up: withdraws', { interfaces: eth0({ up: false }) }, { kind: 'withdraw', ip: '198.51.100.200' }],
    ['refused by the address guard', { refused: new Set(['198.51.100.200']) }, { kind: 'withdraw', ip: '198.51.100.200' }],
    ['unfit: withdraws even what it holds', { unfit: true, ips: [ip({ announced: true })] }, { kind: 'withdraw', ip: '198.51.100.200' }],
    ['still listening: takes nothing', { interfaces: eth0({ listeningSince: 9_800 }) }, { kind: 'withdraw', ip: '198.51.100.200' }],
    ['just started, other speakers not heard yet: takes nothing free', { settling: true }, { kind: 'withdraw', ip: '198.51.100.200' }],
    ['just started, but holds it: keeps it', { settling: true, ips: [ip({ announced: true })] }, { kind: 'announce', ip: '198.51.100.200', ifname: 'eth0', why: 'keeps' }],
    ['a peer holds it: no preemption', { interfaces: eth0({ peers: [peer('node2', { claims: new Set(['198.51.100.200']) })] }) }, { kind: 'withdraw', ip: '198.51.100.200' }],
    ['holds it: keeps it', { ips: [ip({ announced: true })] }, { kind: 'announce', ip: '198.51.100.200', ifname: 'eth0', why: 'keeps' }],
    ['not best-ranked', { self: 'node3', interfaces: eth0({ peers: [peer('node1'), peer('node2')] }) }, { kind: 'withdraw', ip: '198.51.100.200' }],
    ['nodeport: waits for its rewrite', { nodeport: true }, { kind: 'await-forward', ip: '198.51.100.200' }],
    ['nodeport: rewrite in place, takes it', { nodeport: true, forwarded: new Set(['198.51.100.200']) }, { kind: 'announce', ip: '198.51.100.200', ifname: 'eth0', why: 'takes' }],
    ['nodeport: no InternalIP of the family here', { nodeport: true, nodes: [{ name: 'node1', labels: {} }] }, { kind: 'withdraw', ip: '198.51.100.200' }],
    ['rejoining: yields what another holds', { rejoining: true, ips: [ip({ announced: true })], interfaces: eth0({ peers: [peer('node2', { claims: new Set(['198.51.100.200']) })] }) }, { kind: 'withdraw', ip: '198.51.100.200' }],
  ];
  for (const [name, extra, want] of rows) t.same(decideRound(input(extra)).actions, [want], name);
});

t.test('says when the earliest listening period ends, so the speaker decides again then', async (t) => {
  t.equal(decideRound(input()).decideAgainAtMs, Infinity, 'nobody listening');
  t.equal(decideRound(input({ interfaces: eth0({ listeningSince: 9_800 }) })).decideAgainAtMs, 10_300, 'eth0 listens until 9800 + 500');
  t.equal(decideRound(input({ interfaces: eth0({ listeningSince: undefined }) })).decideAgainAtMs, 10_500, 'not open yet: from now');
});

t.test('silence hands over: a free address the better-ranked nodes leave untaken goes to the next one', async (t) => {
  // node3 ranks third: node1 and node2 are live above it, and neither announces the address.
  const third = (extra: Partial<RoundIp>, now = 10_000) =>
    decideRound(input({ self: 'node3', now, ips: [ip(extra)], interfaces: eth0({ peers: [peer('node1'), peer('node2')] }) }));
  const seen = third({});
  t.same(seen.actions, [{ kind: 'withdraw', ip: '198.51.100.200' }], 'first seen free: waits for the better-ranked');
  t.same([...seen.free], ['198.51.100.200'], 'reports it free, so the speaker starts its clock');
  t.equal(seen.decideAgainAtMs, 10_000 + 2 * 900, 'and decides again when two better-ranked nodes have had their turns');
  t.same(third({ freeSinceMs: 10_000 }, 11_799).actions, [{ kind: 'withdraw', ip: '198.51.100.200' }], '1 ms short: still waits');
  t.same(third({ freeSinceMs: 10_000 }, 11_800).actions, [{ kind: 'announce', ip: '198.51.100.200', ifname: 'eth0', why: 'takes' }], 'then takes it');
  const second = decideRound(input({ self: 'node2', now: 10_900, ips: [ip({ freeSinceMs: 10_000 })], interfaces: eth0({ peers: [peer('node1'), peer('node3')] }) }));
  t.same(second.actions, [{ kind: 'announce', ip: '198.51.100.200', ifname: 'eth0', why: 'takes' }], 'the second-ranked takes it after one turn');
  const held = decideRound(input({ self: 'node3', now: 20_000, ips: [ip({ freeSinceMs: 10_000 })], interfaces: eth0({ peers: [peer('node1', { claims: new Set(['198.51.100.200']) }), peer('node2')] }) }));
  t.same(held.actions, [{ kind: 'withdraw', ip: '198.51.100.200' }], 'once the best-ranked announces it, nobody else takes it');
  t.same([...held.free], [], 'and it is no longer free');
  const settling = decideRound(input({ self: 'node3', settling: true, ips: [ip()], interfaces: eth0({ peers: [peer('node1'), peer('node2')] }) }));
  t.same([...settling.free], [], 'just started, waiting for the other speakers: no handover clock runs (they cannot take it either)');
  const unknown = decideRound(input({ self: 'node3', now: 20_000, ips: [ip({ freeSinceMs: 10_000 })], interfaces: eth0({ peers: [peer('node1', { claimsKnown: false }), peer('node2')] }) }));
  t.same(unknown.actions, [{ kind: 'withdraw', ip: '198.51.100.200' }], 'nor while a peer\'s claim set is still arriving');
});

t.test('only the peers eligible for the address contend', async (t) => {
  const local: IpUser = { key: 'default/local', externalTrafficPolicy: 'Local', readyNodes: new Set(['node3']) };
  const round = decideRound(input({ self: 'node3', ips: [ip({ users: [local] })], interfaces: eth0({ peers: [peer('node1'), peer('node2')] }) }));
  t.same(round.actions, [{ kind: 'announce', ip: '198.51.100.200', ifname: 'eth0', why: 'takes' }], 'node3 alone has an endpoint: it takes the address');
});

t.test('heartbeats unheard: deaf, the Leases decide; cut off, take nothing and yield', async (t) => {
  const leasePeers = [peer('node2'), peer('node3')];
  const deaf = decideRound(input({ interfaces: eth0({ peers: leasePeers, fallback: 'deaf' }) }));
  t.same(deaf.actions, [{ kind: 'announce', ip: '198.51.100.200', ifname: 'eth0', why: 'takes' }], 'deaf, best-ranked by the Leases: takes it');
  const deafSecond = decideRound(input({ self: 'node2', ips: [ip({ freeSinceMs: 10_000 })], now: 10_900, interfaces: eth0({ peers: [peer('node1'), peer('node3')], fallback: 'deaf' }) }));
  t.same(deafSecond.actions, [{ kind: 'withdraw', ip: '198.51.100.200' }], 'deaf, second-ranked: a LAN turn is not enough, the Leases are slower');
  t.equal(deafSecond.decideAgainAtMs, 10_000 + 2900, 'it waits the API\'s turn');
  const cutFree = decideRound(input({ interfaces: eth0({ peers: leasePeers, fallback: 'cut-off' }) }));
  t.same(cutFree.actions, [{ kind: 'withdraw', ip: '198.51.100.200' }], 'cut off: takes nothing, even what it ranks first for');
  t.equal(cutFree.decideAgainAtMs, Infinity, 'and does not spin on it');
  const cutHeld = decideRound(input({ ips: [ip({ announced: true })], interfaces: eth0({ peers: [peer('node3', { claims: new Set(['198.51.100.200']) })], fallback: 'cut-off' }) }));
  t.same(cutHeld.actions, [{ kind: 'withdraw', ip: '198.51.100.200' }], 'cut off: yields what another\'s Lease says it announces, whatever the rank');
  const cutKeep = decideRound(input({ ips: [ip({ announced: true })], interfaces: eth0({ peers: leasePeers, fallback: 'cut-off' }) }));
  t.same(cutKeep.actions, [{ kind: 'announce', ip: '198.51.100.200', ifname: 'eth0', why: 'keeps' }], 'cut off: keeps what nobody else announces');
});

