import t from 'tap';
import { claimChunks, claimsDigest, nodeId, type Heartbeat } from '../../src/election/heartbeat-frame.js';
import { InvalidMembershipConfigError, Membership } from '../../src/election/membership.js';

const CONFIG = { failureTimeoutMs: 400, pauseThresholdMs: 300 };

function hb(node: string, seq: number, o: Partial<Heartbeat> & { claimsAll?: string[] } = {}): Heartbeat {
  const claims = o.claimsAll ?? [];
  return {
    node,
    incarnation: o.incarnation ?? 1,
    seq,
    flags: o.flags ?? { leaving: false, apiReachable: true, rejoining: false },
    claimsDigest: claimsDigest(claims),
    claimsTotal: new Set(claims).size,
    chunkIndex: o.chunkIndex ?? 0,
    chunkCount: o.chunkCount ?? 1,
    claims: o.claims ?? claims,
    hears: o.hears ?? [],
  };
}

t.test('config is checked', async (t) => {
  t.throws(() => new Membership('me', { failureTimeoutMs: 0, pauseThresholdMs: 1 }), InvalidMembershipConfigError);
  t.throws(() => new Membership('me', { failureTimeoutMs: 1, pauseThresholdMs: -1 }), { code: 'BARELB_INVALID_MEMBERSHIP_CONFIG' });
});

t.test('a peer is live on the interface it is heard on, until the failure timeout', async (t) => {
  const m = new Membership('me', CONFIG);
  t.equal(m.onHeartbeat('eth0', hb('p', 1), 0), 'accepted');
  t.same(m.hearing('eth0', 0), ['p']);
  t.same(m.hearing('eth1', 0), [], 'not live on an interface it was never heard on');
  t.same(m.hearing('eth0', 399), ['p']);
  m.tick(100);
  m.tick(200);
  m.tick(300);
  t.notOk(m.tick(399), 'nothing expired yet');
  t.ok(m.tick(400), 'expired at the failure timeout');
  t.same(m.hearing('eth0', 400), []);
  t.same(m.liveNodes(400), []);
});

t.test('replays: an old sequence or incarnation is refused; each interface keeps its own count', async (t) => {
  const m = new Membership('me', CONFIG);
  t.equal(m.onHeartbeat('eth0', hb('p', 5), 0), 'accepted');
  t.equal(m.onHeartbeat('eth0', hb('p', 5), 1), 'replay', 'the same frame twice');
  t.equal(m.onHeartbeat('eth0', hb('p', 4), 1), 'replay', 'an older one');
  t.equal(m.onHeartbeat('eth1', hb('p', 4), 1), 'accepted', 'frames of two interfaces may arrive in either order');
  t.equal(m.onHeartbeat('eth0', hb('p', 6), 2), 'accepted');
  t.equal(m.onHeartbeat('eth0', hb('p', 1, { incarnation: 2 }), 3), 'accepted', 'a restarted process counts from 1 again');
  t.equal(m.onHeartbeat('eth0', hb('p', 100, { incarnation: 1 }), 4), 'replay', 'the old process, however high its sequence');
  t.equal(m.onHeartbeat('eth0', hb('me', 1), 4), 'self');
  // A peer that died stays known: its old frames replayed later still fail.
  for (let now = 100; now <= 1000; now += 100) m.tick(now);
  t.same(m.hearing('eth0', 1000), []);
  t.equal(m.onHeartbeat('eth0', hb('p', 1, { incarnation: 2 }), 1000), 'replay', 'a dead peer\'s captured frame');
});

t.test('claims: a set counts once every chunk arrived and it adds up', async (t) => {
  const m = new Membership('me', CONFIG);
  const ips = Array.from({ length: 700 }, (_, i) => `10.${i >> 8}.${i & 255}.1`);
  const chunks = claimChunks(ips, 'p', 0);
  t.ok(chunks.length > 1, `${chunks.length} chunks`);
  let seq = 0;
  const v0 = m.version;
  chunks.slice(0, -1).forEach((c, i) => m.onHeartbeat('eth0', hb('p', ++seq, { claimsAll: ips, claims: c, chunkIndex: i, chunkCount: chunks.length }), seq));
  t.equal(m.livePeers('eth0', seq)[0]?.claims.size, 0, 'not before the last chunk');
  t.equal(m.livePeers('eth0', seq)[0]?.claimsKnown, false, 'known to be incomplete');
  const last = chunks.length - 1;
  m.onHeartbeat('eth0', hb('p', ++seq, { claimsAll: ips, claims: chunks[last], chunkIndex: last, chunkCount: chunks.length }), seq);
  t.equal(m.livePeers('eth0', seq)[0]?.claims.size, 700, 'the whole set');
  t.equal(m.livePeers('eth0', seq)[0]?.claimsKnown, true, 'and known to be whole');
  t.ok(m.version > v0, 'the version moved');
  // A chunk set that does not add up to its digest is not believed.
  const lie = { ...hb('p', ++seq, { claimsAll: ['10.9.9.9'] }), claims: ['10.9.9.8'] };
  m.onHeartbeat('eth0', lie, seq);
  t.equal(m.livePeers('eth0', seq)[0]?.claims.size, 700, 'the last good set stays');
  t.equal(m.livePeers('eth0', seq)[0]?.claimsKnown, false, 'but it is not what the peer says it announces now');
  // An empty set replaces it at once.
  m.onHeartbeat('eth0', hb('p', ++seq), seq);
  t.equal(m.livePeers('eth0', seq)[0]?.claims.size, 0);
});

t.test('leaving peers are not live; hearsMe follows their hears list', async (t) => {
  const m = new Membership('me', CONFIG);
  m.onHeartbeat('eth0', hb('p', 1, { hears: [nodeId('me')] }), 0);
  t.same(m.livePeers('eth0', 0).map((p) => [p.node, p.hearsMe]), [['p', true]]);
  m.onHeartbeat('eth0', hb('p', 2, { hears: [] }), 10);
  t.same(m.livePeers('eth0', 10).map((p) => p.hearsMe), [false]);
  const v = m.version;
  m.onHeartbeat('eth0', hb('p', 3, { flags: { leaving: true, apiReachable: false, rejoining: false } }), 20);
  t.same(m.livePeers('eth0', 20), [], 'leaving');
  t.ok(m.version > v, 'leaving is a change');
});

t.test('our own pause does not count against peers', async (t) => {
  const m = new Membership('me', CONFIG);
  m.onHeartbeat('eth0', hb('p', 1), 0);
  m.tick(0);
  // Stopped for 2 s: nobody could be heard meanwhile.
  t.notOk(m.tick(2000), 'nobody expires on waking');
  t.same(m.hearing('eth0', 2000), ['p']);
  for (let now = 2100; now < 2400; now += 100) t.notOk(m.tick(now));
  t.ok(m.tick(2400), 'then the failure timeout runs from the wake-up');
  // A gap under the pause threshold is not a pause.
  const n = new Membership('me', CONFIG);
  n.onHeartbeat('eth0', hb('p', 1), 0);
  n.tick(150);
  t.notOk(n.tick(399));
  t.ok(n.tick(420), 'expires on time when we were not paused');
});
