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

t.test('a peer restarted with its clock behind is heard again once its old process is silent', async (t) => {
  const m = new Membership('me', CONFIG);
  t.equal(m.onHeartbeat('eth0', hb('p', 7, { incarnation: 5_000_000 }), 0), 'accepted', 'the first process');
  // Restarted a moment later, its clock an hour behind (no RTC before NTP): a lower incarnation.
  const behind = 5_000_000 - 3_600_000;
  t.equal(m.onHeartbeat('eth0', hb('p', 1, { incarnation: behind }), 100), 'replay', 'not while the old one may still be live');
  t.equal(m.onHeartbeat('eth0', hb('p', 2, { incarnation: behind }), 399), 'replay', 'nor just before its failure timeout');
  t.equal(m.onHeartbeat('eth0', hb('p', 3, { incarnation: behind }), 400), 'accepted', 'heard again one failure timeout after the old one fell silent');
  t.same(m.hearing('eth0', 400), ['p']);
  t.equal(m.onHeartbeat('eth0', hb('p', 8, { incarnation: 5_000_000 }), 410), 'replay', 'the old process stays refused while the new one is live');
  t.equal(m.onHeartbeat('eth0', hb('p', 7, { incarnation: 5_000_000 }), 2000), 'replay', 'and its captured frames stay refused once everyone is silent');
  t.equal(m.onHeartbeat('eth0', hb('p', 3, { incarnation: behind }), 2000), 'replay', 'as do the new one\'s');
});

t.test('a peer that said it is leaving is replaced at once by its next process, whatever its clock', async (t) => {
  const m = new Membership('me', CONFIG);
  m.onHeartbeat('eth0', hb('p', 7, { incarnation: 5_000 }), 0);
  m.onHeartbeat('eth0', hb('p', 8, { incarnation: 5_000, flags: { leaving: true, apiReachable: true, rejoining: false } }), 10);
  t.equal(m.onHeartbeat('eth0', hb('p', 1, { incarnation: 4_000 }), 20), 'accepted');
  t.same(m.hearing('eth0', 20), ['p']);
});

t.test('one forged frame with the highest incarnation shuts a node out for one failure timeout at most', async (t) => {
  const m = new Membership('me', CONFIG);
  let seq = 0;
  for (let now = 0; now <= 200; now += 100) m.onHeartbeat('eth0', hb('p', ++seq, { incarnation: 1_000 }), now);
  // Any key holder can sign this: incarnation 2^53-1, sent once.
  t.equal(m.onHeartbeat('eth0', hb('p', 1, { incarnation: Number.MAX_SAFE_INTEGER }), 250), 'accepted', 'a newer incarnation replaces a live one (a fast restart)');
  const verdicts: string[] = [];
  let first: number | undefined;
  for (let now = 300; now <= 1000; now += 100) {
    const v = m.onHeartbeat('eth0', hb('p', ++seq, { incarnation: 1_000 }), now);
    verdicts.push(v);
    if (v === 'accepted' && first === undefined) first = now;
  }
  t.equal(first, 700, `the real process is heard again 450 ms after the forged frame (${verdicts.join(' ')})`);
  t.same(m.hearing('eth0', 1000), ['p']);
  t.equal(m.onHeartbeat('eth0', hb('p', 2, { incarnation: 1_000 }), 1000), 'replay', 'its own old frames are still refused');
  t.equal(m.onHeartbeat('eth0', hb('p', 1, { incarnation: Number.MAX_SAFE_INTEGER }), 1500), 'replay', 'and so is the forged frame sent again');
});

t.test('claims: chunks of one set chunked differently on two interfaces (MTU, hears) are assembled per interface', async (t) => {
  const m = new Membership('me', CONFIG);
  const ips = Array.from({ length: 700 }, (_, i) => `10.${i >> 8}.${i & 255}.1`);
  const big = claimChunks(ips, 'p', 0);
  const small = claimChunks(ips, 'p', 0, 1014);
  t.not(big.length, small.length, `${big.length} chunks on eth0, ${small.length} on eth1`);
  let seq = 0;
  // The sender's first round after a change: every chunk on every interface, the interfaces' frames interleaved.
  for (let i = 0; i < Math.max(big.length, small.length); i++) {
    const b = big[i];
    const s = small[i];
    if (b) m.onHeartbeat('eth0', hb('p', ++seq, { claimsAll: ips, claims: b, chunkIndex: i, chunkCount: big.length }), seq);
    if (s) m.onHeartbeat('eth1', hb('p', ++seq, { claimsAll: ips, claims: s, chunkIndex: i, chunkCount: small.length }), seq);
  }
  t.equal(m.livePeers('eth0', seq)[0]?.claims.size, 700, 'the whole set');
  t.equal(m.livePeers('eth1', seq)[0]?.claimsKnown, true, 'known to be whole');
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

t.test('hearsMe: a peer just heard counts as hearing us for the grace, then its heartbeats say', async (t) => {
  const m = new Membership('me', { ...CONFIG, hearsMeGraceMs: 250 });
  const hearsMe = (now: number): boolean | undefined => m.livePeers('eth0', now)[0]?.hearsMe;
  m.onHeartbeat('eth0', hb('p', 1), 1000);
  t.equal(hearsMe(1000), true, 'first heard: its heartbeat was sent before it could hear ours');
  m.onHeartbeat('eth0', hb('p', 2), 1100);
  t.equal(hearsMe(1249), true, 'within the grace');
  const v = m.version;
  m.onHeartbeat('eth0', hb('p', 3), 1300);
  t.equal(hearsMe(1300), false, 'after it, a peer that does not list us does not hear us (one-way loss)');
  t.ok(m.version > v, 'and the version moves, so the speaker decides again');
  m.onHeartbeat('eth0', hb('p', 4, { hears: [nodeId('me')] }), 1400);
  t.equal(hearsMe(1400), true, 'listed: hears us');
  m.tick(2000);
  m.onHeartbeat('eth0', hb('p', 5), 2100);
  t.equal(hearsMe(2100), true, 'silent past the failure timeout, then heard again: a new grace');
  const none = new Membership('me', CONFIG);
  none.onHeartbeat('eth0', hb('p', 1), 1000);
  t.equal(none.livePeers('eth0', 1000)[0]?.hearsMe, false, 'no grace configured: its heartbeats alone say');
});
